/** Authentication and role checks for HTTP routes and WebSocket upgrades. */
export * from './authMiddleware';
export * from './authRouter';
