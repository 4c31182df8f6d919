export { ClientMessageError, type ClientSubscription, parseClientMessage } from "./client-messages";
export { appendEvent, eventsSince, type StreamEvent } from "./events";
export { createHub, type Hub, type HubDependencies } from "./hub";
export { claimLease, leaseHolder, releaseLeases } from "./lease";
export { recordHubStats } from "./metrics";
export { type HubServer, serveHub } from "./server";
export {
  BrokerSession,
  type BrokerSessionOptions,
  RegistrationRefusedError,
  type SessionState,
} from "./session";
export { DEFAULT_STREAM_SETTINGS, parseStreamSettings, type StreamSettings } from "./settings";
export { emptyHubStats, type HubStats, statsSince } from "./stats";
