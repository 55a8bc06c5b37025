/** The stream that holds trading control events and alerts. */
export const SYSTEM_STREAM = 'system';

export const ALERT_RAISED = 'AlertRaised';

/** Kinds of alert the alerts process manager raises. */
export type AlertType = 'price_movement' | 'drawdown' | 'order_rejections';

/**
 * `AlertRaised`, in the `system` stream. `id` is derived from the global
 * position of the event that triggered it, so raising it again after a
 * crash is recognised as the same alert.
 */
export interface AlertRaisedData {
  id: string;
  type: AlertType;
  severity: 'warning' | 'critical';
  message: string;
  symbol: string | null;
  /** Market time of the triggering event, ISO-8601. */
  at: string;
  /** Global position of the triggering event, decimal text. */
  sourcePosition: string;
}

/**
 * `StrategyStatusChanged`, in the `system` stream: sets a strategy's
 * status (`active`, `standby`, `paused`) as `/api/trading/status` shows it.
 */
export const STRATEGY_STATUS_CHANGED = 'StrategyStatusChanged';
export interface StrategyStatusChangedData {
  strategy: string;
  status: string;
}
