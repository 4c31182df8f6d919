export type { BrokerAdapter } from "./adapter";
export {
  BrokerCredentialsError,
  BrokerError,
  type BrokerErrorDetails,
  BrokerRateLimitedError,
  BrokerRejectedError,
  BrokerTokenRejectedError,
  BrokerUnavailableError,
  type CredentialsProblem,
  isBrokerError,
  isTokenRejection,
  type UnavailableReason,
} from "./errors";
export { type BrokerResponse, brokerUnreachable } from "./http";
export { formatKoreaTime, parseKoreaTime } from "./korea-time";
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
  BROKER_ENVIRONMENTS,
  BROKERS,
  type Broker,
  type BrokerClient,
  type BrokerCredentials,
  type BrokerEnvironment,
  type IssuedToken,
} from "./types";
