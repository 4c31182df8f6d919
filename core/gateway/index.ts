export type { AccountCallStatus, GatewayStatusReport } from "./audit";
export { CallPaceExceededError, DayOrdersUnreadableError } from "./errors";
export {
  type BrokerCall,
  type BrokerCallAnswer,
  type BrokerGateway,
  type BrokerGatewayDependencies,
  createBrokerGateway,
} from "./gateway";
export { BROKER_QUERY_PARAM } from "./request";
