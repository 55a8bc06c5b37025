/** The account aggregate: its events, commands, state and decider. */
export * from './commands';
export * from './decide';
export * from './events';
export * from './evolve';
export * from './state';
