/** Use cases: the trading engine, the paper exchange and the store port. */
export * from './eventStore';
export * from './hashChain';
export * from './logger';
export * from './marketPrices';
export * from './paperExchange';
export * from './tradingEngine';
