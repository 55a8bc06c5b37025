/** Extra structured fields of one log line. */
export type LogFields = Record<string, unknown>;

/** A levelled, structured logger. No logging happens inside `domain/`. */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

type Level = 'info' | 'warn' | 'error';

// JSON.stringify throws on bigints and prints Errors as `{}`; log lines
// carry both (revisions, positions, caught failures), so spell them out.
const replacer = (_key: string, value: unknown): unknown => {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    return { name: value.name, message: value.message };
  }
  return value;
};

/**
 * A logger that writes one JSON object per line:
 * `{"time":"…","level":"warn","component":"fileFeed","msg":"…",…fields}`.
 *
 * @param component - tag that says which part of the system logged.
 * @param write - where a finished line goes; defaults to stdout.
 */
export const createLogger = (
  component: string,
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
): Logger => {
  const log = (level: Level, msg: string, fields: LogFields = {}): void => {
    const entry = {
      time: new Date().toISOString(),
      level,
      component,
      msg,
      ...fields,
    };
    write(JSON.stringify(entry, replacer));
  };
  return {
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
};

/** A logger that drops everything: for tests and quiet tools. */
export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
