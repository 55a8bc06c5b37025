/** The Prometheus metrics Mirai exposes at `/api/metrics`. */
export * from './metrics';
export * from './timedEventStore';
