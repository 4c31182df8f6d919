/** The brokers this service speaks to. */
export type Broker = "KIS" | "KIWOOM";

/** Our word for a broker's environment: "paper" is KIS 모의투자 and Kiwoom's mock host. */
export type BrokerEnvironment = "real" | "paper";

export const BROKERS = ["KIS", "KIWOOM"] as const satisfies readonly Broker[];
export const BROKER_ENVIRONMENTS = [
  "real",
  "paper",
] as const satisfies readonly BrokerEnvironment[];

/** One app key pair. Real and paper keys are different keys at both brokers. */
export interface BrokerCredentials {
  environment: BrokerEnvironment;
  appKey: string;
  appSecret: string;
}

/** A token as the broker gave it, with its expiry converted to UTC. */
export interface IssuedToken {
  accessToken: string;
  /** "Bearer" whatever case the broker sent (Kiwoom sends "bearer"): callers build `Authorization: <type> <token>`. */
  tokenType: string;
  /** Seconds the token lives from `issuedAt`, derived from `expiresAt` when the broker sends one. */
  expiresIn: number;
  /** UTC. Taken from the broker's own expiry field, which wins over `expires_in`. */
  expiresAt: Date;
  /** When this process received the answer (from the injected clock). */
  issuedAt: Date;
}

/** A websocket approval key (KIS): sent once in the websocket's connect message. */
export interface ApprovalKey {
  approvalKey: string;
  /** UTC; KIS states none, the key is valid 24 hours from issue. */
  expiresAt: Date;
}

/** What the token service needs from a broker. */
export interface BrokerClient {
  readonly broker: Broker;
  /** Never issue twice for one app key faster than this. */
  readonly minIssueIntervalMs: number;
  /** An issue within this long of the last one hands back the same token (KIS: 6 h); 0 when every issue is new. */
  readonly sameTokenWithinMs: number;
  /**
   * The widest refresh window that still gets a new token: KIS's tokens live
   * 24 h and re-issue the same one for 6 h, so 17 h (an hour of margin for
   * clock skew). Infinity when any window does.
   */
  readonly maxRefreshWindowMs: number;
  /** Issue an access token; throws a BrokerError on any failure. */
  issueToken(credentials: BrokerCredentials): Promise<IssuedToken>;
  /**
   * Revoke a token. Resolves also when the broker says the token is already
   * invalid, expired or unknown: either way it no longer works.
   */
  revokeToken(credentials: BrokerCredentials, accessToken: string): Promise<void>;
  /** Issue a websocket approval key; absent when the broker's websocket uses the access token (Kiwoom). */
  issueApprovalKey?(credentials: BrokerCredentials): Promise<ApprovalKey>;
}
