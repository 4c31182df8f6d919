import type { BrokerCallRules, TransactionIdVerdict } from "./adapter";
import type { BrokerEnvironment } from "./types";

/**
 * Real tr_ids whose paper (모의투자) id is not the T/J/C→V rule's
 * (BROKERS.md, "Paper tr_ids: the exceptions"): the US sell order is
 * VTTT1001U on paper, not VTTT1006U.
 */
const PAPER_EXCEPTIONS: Readonly<Record<string, string>> = {
  TTTT1006U: "VTTT1001U",
  JTTT1006U: "VTTT1001U",
};

/**
 * Real tr_ids with no paper version at all (BROKERS.md): the rule would
 * invent a V-id that KIS answers with a confusing error. Inquiries and
 * credit orders (TTTC8408R, TTTC0084R, TTTC0051U, TTTC0052U), reservation
 * orders (CTSC0008U), US daytime orders (TTTS6036U, TTTS3018R) and night
 * futures (STTN1101U). Bonds and pensions have none either; their ids are
 * added here as they are confirmed.
 */
const NO_PAPER_VERSION: ReadonlySet<string> = new Set([
  "TTTC8408R",
  "TTTC0084R",
  "TTTC0051U",
  "TTTC0052U",
  "CTSC0008U",
  "TTTS6036U",
  "TTTS3018R",
  "STTN1101U",
]);

/**
 * The tr_id to send on a KIS host. KIS's ids are upper case (a lower-case
 * `tttc0012u` is read as `TTTC0012U`). On paper a real trading id (first
 * letter T, J or C) becomes its V twin, save the exceptions above; quote ids
 * (FHK…) are the same on both hosts. A V-id on a real account is refused:
 * the real host answers it with a 200 "없는 서비스 코드".
 */
export function kisTransactionId(
  given: string,
  environment: BrokerEnvironment,
): TransactionIdVerdict {
  const id = given.toUpperCase();
  if (environment === "real") {
    if (id.startsWith("V")) {
      return {
        refused: `${id} is a paper (모의투자) tr_id and this account is KIS real: send the real id (the service maps it to paper for paper accounts)`,
        code: "validation_failed",
      };
    }
    return { id };
  }
  if (NO_PAPER_VERSION.has(id)) {
    return {
      refused: `${id} has no paper (모의투자) version at KIS and this account is KIS paper: call it on a real account`,
      code: "not_available_on_paper",
    };
  }
  const exception = PAPER_EXCEPTIONS[id];
  if (exception) return { id: exception };
  return { id: /^[TJC]/.test(id) ? `V${id.slice(1)}` : id };
}

/** How the gateway forwards a caller's KIS call (BROKERS.md, "KIS REST calls"). */
export const KIS_CALLS: BrokerCallRules = {
  pathPrefix: "/uapi/",
  forwardedHeaders: {
    tr_id:
      "Required on KIS calls: the transaction id (FHKST01010100, TTTC0012U…), read in upper case. For a paper account a real trading id (T, J, C…) is sent as its V twin (TTTT1006U/JTTT1006U as VTTT1001U); an id with no paper version (TTTC8408R, TTTC0051U…) is a 400 not_available_on_paper; quote ids pass unchanged. A paper V id on a real account is a 400.",
    tr_cont: "KIS paging: N for the next page.",
    custtype: "KIS customer type, P (default) or B.",
    hashkey: "KIS hashkey of an order body (optional).",
    gt_uid: "KIS global transaction id (optional).",
  },
  // The same names come back: tr_id, and tr_cont for paging (F/M more, D/E last).
  returnedHeaders: ["tr_id", "tr_cont", "custtype", "hashkey", "gt_uid"],
  transactionHeader: "tr_id",
  transactionIdFor: kisTransactionId,
  callHeaders: (forwarded, { appKey, appSecret }) => ({
    // An individual customer unless the caller says otherwise (B: corporate).
    custtype: "P",
    ...forwarded,
    appkey: appKey,
    appsecret: appSecret,
  }),
};
