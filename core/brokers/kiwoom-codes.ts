import { asRecord, numberField } from "./http";

/** "인증에 실패했습니다[8005:Token이 유효하지 않습니다]" → "8005": the code sits anywhere in the message, after a prefix. */
const BRACKETED_CODE = /\[\s*(\d{3,5})\s*:/;

/**
 * Kiwoom's specific code of an answer: `[NNNN:` anywhere in return_msg,
 * else return_code (only a coarse group such as 2, 3 or 5, or sometimes the
 * code itself); undefined when the answer has neither. Its own module, so
 * that the REST adapter (kiwoom.ts) and the websocket (kiwoom-stream.ts)
 * share it without importing each other.
 */
export function readKiwoomCode(body: unknown): string | undefined {
  const record = asRecord(body);
  if (!record) return undefined;
  const message = typeof record.return_msg === "string" ? record.return_msg : undefined;
  const bracketed = message !== undefined ? BRACKETED_CODE.exec(message)?.[1] : undefined;
  if (bracketed) return bracketed;
  const returnCode = numberField(record, "return_code");
  return returnCode !== undefined ? String(returnCode) : undefined;
}
