/**
 * Read models: projections that fold `$all` into SQLite tables with their
 * checkpoints, the runtime that keeps them live, a one-pass rebuild, the
 * alerts process manager and the queries the API serves from.
 */
export * from './alertEvents';
export * from './alertsProcessManager';
export * from './createProjections';
export * from './projection';
export * from './projectionRuntime';
export * from './projectionWorker';
export * from './readModelRuntime';
export * from './queries';
export * from './readModelDb';
export * from './replay';
export * from './riskLevel';
export type { TradeQuery, TradeRow } from './tradesProjection';
export type { PerformancePoint } from './performanceProjection';
export type { AlertView } from './alertsProjection';
export { HOUR_MS } from './performanceProjection';
