export type {
  BrokerAdapter,
  BrokerCallRules,
  InterpretOptions,
  TransactionIdVerdict,
} from "./adapter";
export {
  brokerName,
  findBrokerAdapter,
  hostName,
  RETURNED_ANSWER_HEADERS,
  registerBrokerAdapter,
} from "./adapters";
export {
  type BrokerAnswerClass,
  type BrokerCodeKind,
  BrokerCredentialsError,
  BrokerError,
  type BrokerErrorDetails,
  BrokerIpMismatchError,
  BrokerRateLimitedError,
  BrokerRejectedError,
  BrokerTokenRejectedError,
  BrokerUnavailableError,
  type CredentialsProblem,
  isBrokerError,
  isTokenRejection,
  type UnavailableReason,
} from "./errors";
export { type BrokerResponse, brokerUnreachable, parseJson } from "./http";
export { bearerType } from "./issued-token";
/** The classifiers: any answer of that broker (status + parsed body) → its code and what it means. */
export { classifyKisAnswer } from "./kis";
export { kisTransactionId } from "./kis-calls";
export { classifyKiwoomAnswer } from "./kiwoom";
export { readKiwoomCode } from "./kiwoom-codes";
export { formatKoreaTime, parseKoreaTime } from "./korea-time";
export type {
  BrokerQuery,
  DayOrder,
  DayOrdersCursor,
  DayOrdersFilter,
  OrderDesk,
  OrderSide,
  OrderTerms,
} from "./orders";
export {
  BROKER_ADAPTERS,
  type BrokerRegistry,
  type BrokerRegistryDependencies,
  createBrokerRegistry,
} from "./registry";
export {
  type BrokerEndpointSettings,
  type BrokerSettings,
  DEFAULT_BROKER_TIMEOUT_MS,
  parseBrokerSettings,
} from "./settings";
export {
  type BrokerSend,
  type JsonPost,
  postJsonOverHttp,
  type RawAnswer,
  sendOverHttp,
} from "./transport";
export {
  type ApprovalKey,
  BROKER_ENVIRONMENTS,
  BROKERS,
  type Broker,
  type BrokerClient,
  type BrokerCredentials,
  type BrokerEnvironment,
  type IssuedToken,
} from "./types";
