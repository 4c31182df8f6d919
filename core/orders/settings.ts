import { readNumberSetting } from "../config/settings";

/** How orders' intents are kept and reconciled. */
export interface OrderSettings {
  /** How long after the send reconciliation keeps looking before `not_placed`. Default 5000. */
  reconcileWindowMs: number;
  /** Day-order queries that must find nothing before `not_placed` (spread over the window). Default 2. */
  reconcileChecks: number;
  /** How long a key is kept after its intent was created: 24 h, past the end of the Korean trading day. */
  keepMs: number;
  /** An intent in flight longer than this lost its process: it becomes `unknown`. Default 60000. */
  staleMs: number;
}

export const DEFAULT_ORDER_SETTINGS: OrderSettings = {
  reconcileWindowMs: 5_000,
  reconcileChecks: 2,
  keepMs: 24 * 60 * 60 * 1000,
  staleMs: 60_000,
};

/** ORDER_RECONCILE_WINDOW_MS and ORDER_RECONCILE_CHECKS (core/config/settings.ts); throws a SettingError naming a bad one. */
export function parseOrderSettings(env: Record<string, string | undefined>): OrderSettings {
  return {
    ...DEFAULT_ORDER_SETTINGS,
    reconcileWindowMs: readNumberSetting(env, "ORDER_RECONCILE_WINDOW_MS"),
    reconcileChecks: readNumberSetting(env, "ORDER_RECONCILE_CHECKS"),
  };
}
