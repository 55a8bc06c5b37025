import { createReadStream } from 'fs';
import { basename } from 'path';
import { createInterface } from 'readline';
import { Readable, pipeline } from 'stream';
import { createGunzip } from 'zlib';
import Decimal from 'decimal.js';
import { MiraiError } from '../../domain/errors';
import { Candle, INTERVAL_MS } from '../../domain/market/candle';

/**
 * How a candle file lays out its rows.
 * - `freqtrade-json`: one JSON array of `[open_time_ms, o, h, l, c, v]`.
 * - `binance-csv`: Binance's 12-column kline CSV, header row optional.
 */
export type CandleFileFormat = 'freqtrade-json' | 'binance-csv';

/** A row that was skipped, and why. Never fatal. */
export interface CandleFileIssue {
  file: string;
  /**
   * 1-based. CSV: the physical line. JSON: the physical line where the
   * row starts when the file breaks lines between rows; in a single-line
   * file (what freqtrade writes) it is the row's 1-based index instead.
   * 0 when the issue is about the whole file (a damaged gzip stream).
   */
  line: number;
  /** JSON only: the 1-based index of the row in the array. */
  row?: number;
  reason: string;
}

/** What a file's name and extension say about it. */
export interface CandleFileInfo {
  format: CandleFileFormat;
  gzip: boolean;
  /** Absent when the name follows neither naming scheme. */
  symbol?: string;
  /** Absent when the name follows neither naming scheme. */
  interval?: string;
}

/** Options of {@link readCandleFile}. */
export interface CandleFileOptions {
  /** Overrides the symbol inferred from the file name. */
  symbol?: string;
  /** Overrides the interval inferred from the file name (`1m`…`1d`). */
  interval?: string;
  /** Overrides the format inferred from the extension. */
  format?: CandleFileFormat;
  /** Overrides gzip detection (a name ending in `.gz`). */
  gzip?: boolean;
  /** Called once per skipped row. Default: issues are dropped. */
  onIssue?: (issue: CandleFileIssue) => void;
}

// freqtrade: BTC_USDT-1h.json; Binance: BTCUSDT-1h-2021-01(-05).csv.
const FREQTRADE_NAME = /^([A-Z0-9]+)_([A-Z0-9]+)-(\w+)\.json(\.gz)?$/i;
const BINANCE_NAME = /^([A-Z0-9]+)-(\w+)-\d{4}-\d{2}(-\d{2})?\.csv(\.gz)?$/i;

/**
 * Infers format, compression, symbol and interval from a file name:
 * `BTC_USDT-1h.json(.gz)` and `BTCUSDT-1h-2021-01.csv` both give
 * BTCUSDT, 1h. Throws `INVALID_REQUEST` for an unknown extension.
 */
export const inferCandleFileInfo = (file: string): CandleFileInfo => {
  const name = basename(file);
  const gzip = /\.gz$/i.test(name);
  const bare = name.replace(/\.gz$/i, '');
  let format: CandleFileFormat;
  if (/\.json$/i.test(bare)) format = 'freqtrade-json';
  else if (/\.csv$/i.test(bare)) format = 'binance-csv';
  else {
    throw new MiraiError(
      'INVALID_REQUEST',
      `cannot tell the format of candle file ${name}: expected .json or .csv`,
      { file },
    );
  }

  const freqtrade = FREQTRADE_NAME.exec(name);
  if (freqtrade) {
    const symbol = (freqtrade[1] + freqtrade[2]).toUpperCase();
    return { format, gzip, symbol, interval: freqtrade[3] };
  }
  const binance = BINANCE_NAME.exec(name);
  if (binance) {
    const symbol = binance[1].toUpperCase();
    return { format, gzip, symbol, interval: binance[2] };
  }
  return { format, gzip };
};

/**
 * Streams the candles of one file, in file order, skipping bad rows: a
 * wrong field count, a non-numeric field, high < low, open or close
 * outside [low, high], a price ≤ 0, a negative volume, or an open time
 * not after the previous good row's. Each skipped row goes to `onIssue`.
 *
 * Open times in microseconds (newer Binance files) are recognised by
 * their size and turned into milliseconds. `closeTime` is
 * `openTime + interval`. Prices and volumes keep the exact digits written
 * in the file.
 *
 * Throws `INVALID_REQUEST` when symbol or interval can be neither inferred
 * nor taken from the options, or when the file cannot be read. A file
 * that ends early (truncated JSON or gzip) yields the rows before the
 * break and reports the break as an issue.
 */
export async function* readCandleFile(
  file: string,
  options: CandleFileOptions = {},
): AsyncGenerator<Candle> {
  const info = inferCandleFileInfo(file);
  const symbol = options.symbol ?? info.symbol;
  const interval = options.interval ?? info.interval;
  if (!symbol || !interval) {
    throw new MiraiError(
      'INVALID_REQUEST',
      `cannot infer symbol and interval from ${basename(file)}; pass them`,
      { file },
    );
  }
  const intervalMs = INTERVAL_MS[interval];
  if (intervalMs === undefined) {
    throw new MiraiError('INVALID_REQUEST', `unknown interval ${interval}`, {
      file,
      interval,
    });
  }

  const format = options.format ?? info.format;
  const onIssue = options.onIssue ?? (() => undefined);
  const input = openText(file, options.gzip ?? info.gzip);
  const rows =
    format === 'freqtrade-json'
      ? jsonRows(input, file, onIssue)
      : csvRows(input);
  const expectedFields = format === 'freqtrade-json' ? 6 : 12;

  let previousOpenTime = -Infinity;
  try {
    for await (const row of rows) {
      const result = toCandle(row.fields, expectedFields, symbol, interval);
      let reason = typeof result === 'string' ? result : undefined;
      if (typeof result !== 'string' && result.openTime <= previousOpenTime) {
        reason =
          `open time ${result.openTime} is not after the previous ` +
          `row's ${previousOpenTime}`;
      }
      if (reason !== undefined) {
        const where = row.row === undefined ? {} : { row: row.row };
        onIssue({ file, line: row.line, ...where, reason });
        continue;
      }
      const candle = result as Omit<Candle, 'closeTime'>;
      previousOpenTime = candle.openTime;
      yield { ...candle, closeTime: candle.openTime + intervalMs };
    }
  } catch (error) {
    // zlib errors (Z_BUF_ERROR, Z_DATA_ERROR) mean a damaged or cut-off
    // archive: keep what came before, like a truncated JSON file.
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_')) {
      onIssue({ file, line: 0, reason: `gzip: ${(error as Error).message}` });
      return;
    }
    if (error instanceof MiraiError) throw error;
    throw new MiraiError(
      'INVALID_REQUEST',
      `cannot read candle file ${file}: ${(error as Error).message}`,
      { file, cause: code },
    );
  } finally {
    input.destroy();
  }
}

/**
 * Reads a whole file into memory: for tests and small files. Replays
 * should iterate {@link readCandleFile} instead.
 */
export const loadCandleFile = async (
  file: string,
  options: Omit<CandleFileOptions, 'onIssue'> = {},
): Promise<{ candles: Candle[]; issues: CandleFileIssue[] }> => {
  const candles: Candle[] = [];
  const issues: CandleFileIssue[] = [];
  const iterator = readCandleFile(file, {
    ...options,
    onIssue: (issue) => issues.push(issue),
  });
  for await (const candle of iterator) candles.push(candle);
  return { candles, issues };
};

/** One row as text fields, before any check. */
interface RawRow {
  fields: string[];
  line: number;
  row?: number;
}

const openText = (file: string, gzip: boolean): Readable => {
  const raw = createReadStream(file);
  // pipeline() passes a missing file's error on to the gunzip stream;
  // with .pipe() the reader would wait forever.
  const text = gzip ? pipeline(raw, createGunzip(), () => undefined) : raw;
  return text.setEncoding('utf8');
};

async function* csvRows(input: Readable): AsyncGenerator<RawRow> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let seenData = false;
  for await (const text of lines) {
    line += 1;
    const trimmed = (line === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
    if (trimmed === '') continue;
    const fields = trimmed.split(',').map(unquote);
    // Binance added a header row in 2022; older files have none.
    if (!seenData && !NUMBER.test(fields[0])) {
      seenData = true;
      continue;
    }
    seenData = true;
    yield { fields, line };
  }
}

/**
 * Scans a JSON array of arrays chunk by chunk, keeping each number's text
 * exactly as written. Reading the text, rather than JSON.parse and then
 * String(n), keeps digits a double cannot hold (String(n) is the shortest
 * text that round-trips the double, which is exact only up to ~17
 * significant digits) and never holds the whole file in memory.
 */
async function* jsonRows(
  input: Readable,
  file: string,
  onIssue: (issue: CandleFileIssue) => void,
): AsyncGenerator<RawRow> {
  type State = 'before' | 'between' | 'row' | 'after' | 'failed';
  let state = 'before' as State;
  let physicalLine = 1;
  let rowIndex = 0;
  let rowLine = 0;
  let fields: string[] = [];
  let field = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  const fail = (reason: string): void => {
    state = 'failed';
    onIssue({ file, line: physicalLine, reason });
  };

  for await (const chunk of input as AsyncIterable<string>) {
    const ready: RawRow[] = [];
    for (let i = 0; i < chunk.length && state !== 'failed'; i += 1) {
      const ch = chunk[i];
      if (ch === '\n') physicalLine += 1;

      if (state === 'row') {
        if (inString) {
          if (escaped) escaped = false;
          else if (ch === '\\') escaped = true;
          else if (ch === '"') inString = false;
          field += ch;
        } else if (ch === '"') {
          inString = true;
          field += ch;
        } else if (ch === '[' || ch === '{') {
          depth += 1;
          field += ch;
        } else if ((ch === ']' || ch === '}') && depth > 0) {
          depth -= 1;
          field += ch;
        } else if (ch === ']') {
          // `[]` holds no field, not one empty one.
          if (fields.length > 0 || field.trim() !== '') fields.push(field);
          ready.push({ fields, line: rowLine, row: rowIndex });
          state = 'between';
        } else if (ch === ',' && depth === 0) {
          fields.push(field);
          field = '';
        } else {
          field += ch;
        }
      } else if (isSpace(ch)) {
        continue;
      } else if (state === 'before') {
        if (ch === '[') state = 'between';
        else fail('not a JSON array of candle rows');
      } else if (state === 'between') {
        if (ch === '[') {
          rowIndex += 1;
          // Row index in a one-line file, physical line otherwise.
          rowLine = physicalLine > 1 ? physicalLine : rowIndex;
          fields = [];
          field = '';
          depth = 0;
          state = 'row';
        } else if (ch === ']') state = 'after';
        else if (ch !== ',') {
          fail(`row ${rowIndex + 1} is not an array`);
        }
      } else if (state === 'after') {
        fail('unexpected text after the closing bracket');
      }
    }
    yield* ready;
    if (state === 'failed') return;
  }

  if (state === 'before') fail('empty file: no JSON array');
  else if (state === 'between' || state === 'row') {
    fail(`file ends inside the array after row ${rowIndex}: truncated?`);
  }
}

const isSpace = (ch: string): boolean =>
  ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t';

const unquote = (text: string): string => {
  const trimmed = text.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1).trim()
    : trimmed;
};

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const FIELD_NAMES = ['open time', 'open', 'high', 'low', 'close', 'volume'];
// Below 1e14 an open time is milliseconds (until year 5138); above, it
// is microseconds (after 1973), as Binance writes since 2025.
const MICROSECONDS_FROM = 1e14;

/** Checks one row; returns the candle (without close time) or a reason. */
const toCandle = (
  raw: string[],
  expectedFields: number,
  symbol: string,
  interval: string,
): Omit<Candle, 'closeTime'> | string => {
  if (raw.length !== expectedFields) {
    return `expected ${expectedFields} fields, got ${raw.length}`;
  }
  const fields = raw.slice(0, 6).map(unquote);
  for (let i = 0; i < fields.length; i += 1) {
    if (!NUMBER.test(fields[i])) {
      const shown =
        fields[i].length > 40 ? fields[i].slice(0, 40) + '…' : fields[i];
      return `${FIELD_NAMES[i]} is not a number: ${JSON.stringify(shown)}`;
    }
  }
  const [time, open, high, low, close, volume] = fields.map(
    (text) => new Decimal(text),
  );

  if (!time.isInteger() || time.isNegative()) {
    return `open time ${fields[0]} is not a whole number of ms or µs`;
  }
  const openTime = time.gte(MICROSECONDS_FROM)
    ? time.divToInt(1000).toNumber()
    : time.toNumber();
  if (!Number.isSafeInteger(openTime)) {
    return `open time ${fields[0]} is out of range`;
  }
  if (volume.isNegative()) return `volume ${fields[5]} is negative`;
  if (low.lte(0)) {
    return `low ${fields[3]} is not a positive price`;
  }
  if (high.lt(low)) return `high ${fields[2]} is below low ${fields[3]}`;
  if (open.lt(low) || open.gt(high)) {
    return `open ${fields[1]} is outside [low, high]`;
  }
  if (close.lt(low) || close.gt(high)) {
    return `close ${fields[4]} is outside [low, high]`;
  }
  return { symbol, interval, openTime, open, high, low, close, volume };
};
