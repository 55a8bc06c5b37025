/** The event store port: the interface every adapter implements. */
export * from './eventStore';
