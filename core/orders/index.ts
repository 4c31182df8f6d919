export { type DayOrdersPage, exchangeQuery, readDayOrderPages } from "./day-orders";
export {
  IdempotencyKeyReusedError,
  isOrderError,
  OrderAmbiguousError,
  OrderInFlightError,
  OrderNotPlacedError,
  OrderOutcomeUnknownError,
  OrderReconcilingError,
  orderLocation,
} from "./errors";
export { createOrderFlow, type OrderFlow, type OrderResource } from "./flow";
export { type IntentState, intentCounts } from "./intents";
export { idempotencyKey } from "./keys";
export { bindNoticeOrder, type NoticeBinding } from "./notices";
export { DEFAULT_ORDER_SETTINGS, type OrderSettings, parseOrderSettings } from "./settings";
