import type { EventStore } from '../application/eventStore';
import { AccountProjection } from './accountProjection';
import {
  AlertRules,
  AlertsProcessManager,
  defaultAlertRules,
} from './alertsProcessManager';
import { AlertsProjection } from './alertsProjection';
import { MarketProjection } from './marketProjection';
import { PerformanceProjection } from './performanceProjection';
import { PositionsProjection } from './positionsProjection';
import type { Projection } from './projection';
import { RoundTripsProjection } from './roundTripsProjection';
import { SystemProjection } from './systemProjection';
import { TradesProjection } from './tradesProjection';

/** Options of `createProjections`. */
export interface ProjectionSetOptions {
  /** Account the account read models describe. Default `main`. */
  accountId?: string;
  /** Thresholds of the alerts process manager; see `defaultAlertRules`. */
  alertRules?: Partial<AlertRules>;
}

/**
 * A fresh instance of every projection Mirai serves reads from, plus the
 * alerts process manager (which appends to `store`).
 */
export const createProjections = (
  store: EventStore,
  options: ProjectionSetOptions = {},
): Projection[] => {
  const accountId = options.accountId;
  return [
    new MarketProjection(),
    new PositionsProjection(accountId),
    new AccountProjection(accountId),
    new TradesProjection(accountId),
    new PerformanceProjection(accountId),
    new RoundTripsProjection(accountId),
    new SystemProjection(),
    new AlertsProjection(),
    new AlertsProcessManager(store, {
      ...defaultAlertRules(),
      ...(accountId ? { accountId } : {}),
      ...options.alertRules,
    }),
  ];
};
