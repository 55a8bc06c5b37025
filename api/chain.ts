import type { RequestHandler } from 'express';

/**
 * Runs several middleware as one: each calls the next directly, without a
 * pass through express's router per step. For middleware every request
 * goes through, where the router's matching is pure overhead. An error,
 * passed on or thrown, skips the rest and goes to express's error
 * handlers, as it would between separate `app.use` layers.
 */
export const chain = (...handlers: RequestHandler[]): RequestHandler => {
  return (req, res, next) => {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) return next(error);
      const handler = handlers[index++];
      if (!handler) return next();
      try {
        handler(req, res, step);
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  };
};
