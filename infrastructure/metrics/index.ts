/** The Prometheus metrics Mirai exposes at `/api/metrics`. */
export * from './metrics';
