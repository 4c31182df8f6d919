import { BrokerUnavailableError } from "./errors";
import type { BrokerResponse } from "./http";
import { asRecord, numberField, stringField } from "./http";
import { parseKoreaTime } from "./korea-time";
import type { Broker, IssuedToken } from "./types";

/** Where one broker puts the token and its expiry in a successful issue answer. */
export interface TokenAnswerShape {
  broker: Broker;
  /** The broker's display name, for the error when the answer cannot be read. */
  name: string;
  /** "access_token" (KIS), "token" (Kiwoom). */
  tokenField: string;
  /** The broker's own expiry in Korea time: "access_token_token_expired" (KIS), "expires_dt" (Kiwoom). */
  expiryField: string;
  /** token_type when the answer has none. */
  defaultTokenType: string;
}

/**
 * Reads a successful issue answer into an IssuedToken. The broker's stated
 * expiry wins over `expires_in` (KIS clients have seen `expires_in` off by
 * about 4000 s; Kiwoom sends none), which is only a fallback. An answer
 * without a token or a readable expiry is the broker being unavailable.
 */
export function readIssuedToken(
  shape: TokenAnswerShape,
  response: BrokerResponse,
  issuedAt: Date,
): IssuedToken {
  const body = asRecord(response.body);
  const accessToken = body ? stringField(body, shape.tokenField) : undefined;
  if (!body || !accessToken)
    throw unparseable(shape, `the ${shape.tokenField} field`, response.status);
  const stated = stringField(body, shape.expiryField);
  const expiresInField = numberField(body, "expires_in");
  const expiresAt =
    (stated !== undefined ? parseKoreaTime(stated) : undefined) ??
    (expiresInField !== undefined
      ? new Date(issuedAt.getTime() + expiresInField * 1000)
      : undefined);
  if (!expiresAt) throw unparseable(shape, `a readable ${shape.expiryField}`, response.status);
  return {
    accessToken,
    tokenType: bearerType(stringField(body, "token_type") ?? shape.defaultTokenType),
    expiresIn: Math.round((expiresAt.getTime() - issuedAt.getTime()) / 1000),
    expiresAt,
    issuedAt,
  };
}

function unparseable(
  shape: TokenAnswerShape,
  what: string,
  status: number,
): BrokerUnavailableError {
  return new BrokerUnavailableError(`${shape.name} answered HTTP ${status} without ${what}.`, {
    broker: shape.broker,
    httpStatus: status,
    reason: "unparseable",
  });
}

/** "bearer" (Kiwoom), "BEARER" → "Bearer": callers put it straight into `Authorization: <type> <token>`. */
export function bearerType(tokenType: string): string {
  return /^bearer$/i.test(tokenType) ? "Bearer" : tokenType;
}
