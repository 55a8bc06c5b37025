import { expect } from 'chai';
import { readFileSync, rmSync, writeFileSync } from 'fs';
import path from 'path';
import { gzipSync } from 'zlib';
import { MiraiError } from '../../../domain/errors';
import type { Candle } from '../../../domain/market/candle';
import {
  inferCandleFileInfo,
  loadCandleFile,
} from '../../../infrastructure/marketData';
import { tempDir } from '../../support/tempDirs';

const MARKET = path.resolve(__dirname, '../../../../shared/data/market');
const BTC_1H = path.join(MARKET, 'BTC_USDT-1h.json');

const ohlcv = (c: Candle): string[] =>
  [c.open, c.high, c.low, c.close, c.volume].map(String);

describe('candleFileParser', () => {
  let dir: string;
  const write = (name: string, text: string | Buffer): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  before(() => {
    dir = tempDir('candles');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('file names', () => {
    it('reads symbol and interval from freqtrade and Binance names', () => {
      expect(inferCandleFileInfo('/x/BTC_USDT-1h.json')).to.deep.equal({
        format: 'freqtrade-json',
        gzip: false,
        symbol: 'BTCUSDT',
        interval: '1h',
      });
      expect(inferCandleFileInfo('ETH_USDT-5m.json.gz')).to.include({
        gzip: true,
        symbol: 'ETHUSDT',
        interval: '5m',
      });
      expect(inferCandleFileInfo('BTCUSDT-1h-2021-01.csv')).to.deep.equal({
        format: 'binance-csv',
        gzip: false,
        symbol: 'BTCUSDT',
        interval: '1h',
      });
      expect(inferCandleFileInfo('ADAUSDT-1m-2024-03-05.csv')).to.include({
        symbol: 'ADAUSDT',
        interval: '1m',
      });
    });

    it('rejects an unknown extension, and a name it cannot read', async () => {
      expect(() => inferCandleFileInfo('prices.txt')).to.throw(MiraiError);
      const file = write('prices.json', '[[1,1,1,1,1,1]]');
      const error = await loadCandleFile(file).catch((e) => e);
      expect(error).to.be.instanceOf(MiraiError);
      expect(error.code).to.equal('INVALID_REQUEST');
    });

    it('takes symbol and interval from the options', async () => {
      const file = write('prices.json', '[[60000,1,2,0.5,1.5,10]]');
      const { candles } = await loadCandleFile(file, {
        symbol: 'ETHUSDT',
        interval: '1m',
      });
      expect(candles[0]).to.include({
        symbol: 'ETHUSDT',
        interval: '1m',
        openTime: 60_000,
        closeTime: 120_000,
      });
    });

    it('reports a missing file as INVALID_REQUEST', async () => {
      const missing = path.join(dir, 'absent', 'BTC_USDT-1h.json');
      const error = await loadCandleFile(missing).catch((e) => e);
      expect(error).to.be.instanceOf(MiraiError);
      expect(error.details).to.include({ cause: 'ENOENT' });
    });
  });

  describe('freqtrade JSON, real Binance data', () => {
    it('reads all 5,482 BTC 1h rows with exact decimals', async () => {
      const { candles, issues } = await loadCandleFile(BTC_1H);

      expect(issues).to.deep.equal([]);
      expect(candles).to.have.length(5482);
      expect(candles[0]).to.include({
        symbol: 'BTCUSDT',
        interval: '1h',
        openTime: 1606780800000,
        closeTime: 1606780800000 + 3_600_000,
      });
      const newYear = candles.find((c) => c.openTime === 1609459200000)!;
      expect(ohlcv(newYear)).to.deep.equal([
        '28923.63',
        '29031.34',
        '28690.17',
        '28995.13',
        '2311.811445',
      ]);
      expect(candles[candles.length - 1].openTime).to.equal(1626552000000);
    });

    it('reads the gzipped file to the same candles', async () => {
      const gz = write('BTC_USDT-1h.json.gz', gzipSync(readFileSync(BTC_1H)));
      const plain = await loadCandleFile(BTC_1H);
      const zipped = await loadCandleFile(gz);

      expect(zipped.issues).to.deep.equal([]);
      expect(zipped.candles).to.have.length(5482);
      expect(zipped.candles.map(ohlcv)).to.deep.equal(plain.candles.map(ohlcv));
    });

    it('keeps the rows before a cut-off gzip stream', async () => {
      const whole = gzipSync(readFileSync(BTC_1H));
      const gz = write('ETH_USDT-1h.json.gz', whole.subarray(0, 60_000));
      const { candles, issues } = await loadCandleFile(gz);

      expect(candles.length).to.be.within(1, 5481);
      expect(issues).to.have.length(1);
      expect(issues[0].reason).to.match(/^gzip:/);
    });
  });

  describe('freqtrade JSON, exact text', () => {
    it('keeps digits a double cannot hold', async () => {
      const file = write(
        'ADA_USDT-1h.json',
        '[[0,0.12345678901234567891,0.2,0.1,0.2,1e-8]]',
      );
      const { candles } = await loadCandleFile(file);
      expect(candles[0].open.toString()).to.equal('0.12345678901234567891');
      expect(candles[0].volume.eq('0.00000001')).to.equal(true);
    });

    it('keeps the rows before a truncated array and reports it', async () => {
      const file = write(
        'BTC_USDT-1m.json',
        '[[0,1,1,1,1,1],[60000,1,1,1,1,1],[120000,1,1',
      );
      const { candles, issues } = await loadCandleFile(file);
      expect(candles.map((c) => c.openTime)).to.deep.equal([0, 60_000]);
      expect(issues).to.have.length(1);
      expect(issues[0].reason).to.match(/truncated/);
    });
  });

  describe('bad rows', () => {
    const rows = [
      '[1609459200000,100,110,90,105,5]', // good
      '[1609459260000,100,110,90,105]', // 5 fields
      '[1609459320000,100,"abc",90,105,5]', // not a number
      '[1609459380000,100,80,90,85,5]', // high < low
      '[1609459440000,120,110,90,105,5]', // open above high
      '[1609459500000,100,110,90,85,5]', // close below low
      '[1609459200000,100,110,90,105,5]', // back in time
      '[1609459560000,100,110,90,105,-1]', // negative volume
      '[1609459620000,100,110,90,105,7]', // good
    ];

    it('reports file, line and reason, and keeps the good rows', async () => {
      const file = write(
        'BTC_USDT-1m.json',
        '[\n' + rows.join(',\n') + '\n]\n',
      );
      const { candles, issues } = await loadCandleFile(file);

      expect(candles.map((c) => c.openTime)).to.deep.equal([
        1609459200000, 1609459620000,
      ]);
      // Row k sits on line k + 1, after the opening bracket's line.
      expect(issues.map((i) => [i.line, i.row])).to.deep.equal([
        [3, 2],
        [4, 3],
        [5, 4],
        [6, 5],
        [7, 6],
        [8, 7],
        [9, 8],
      ]);
      expect(issues.every((i) => i.file === file)).to.equal(true);
      const reasons = issues.map((i) => i.reason);
      expect(reasons[0]).to.match(/expected 6 fields, got 5/);
      expect(reasons[1]).to.match(/high is not a number/);
      expect(reasons[2]).to.match(/high 80 is below low 90/);
      expect(reasons[3]).to.match(/open 120 is outside/);
      expect(reasons[4]).to.match(/close 85 is outside/);
      expect(reasons[5]).to.match(/not after the previous/);
      expect(reasons[6]).to.match(/volume -1 is negative/);
    });

    it('gives the row index as line in a one-line file', async () => {
      const file = write('BTC_USDT-1m.json', '[' + rows.join(',') + ']');
      const { candles, issues } = await loadCandleFile(file);
      expect(candles).to.have.length(2);
      expect(issues.map((i) => i.line)).to.deep.equal([2, 3, 4, 5, 6, 7, 8]);
    });
  });

  describe('Binance kline CSV', () => {
    const klines = [
      '1609459200000,28923.63,29031.34,28690.17,28995.13,2311.811445,' +
        '1609462799999,66768830.34,58389,1215.359,35103.9,0',
      '1609462800000,28995.13,29470.00,28960.35,29409.99,3311.647,' +
        '1609466399999,97127925.07,72246,1827.2,53607.1,0',
    ];
    const header =
      'open_time,open,high,low,close,volume,close_time,quote_volume,count,' +
      'taker_buy_volume,taker_buy_quote_volume,ignore';

    it('reads a file without a header row', async () => {
      const file = write('BTCUSDT-1h-2021-01.csv', klines.join('\n') + '\n');
      const { candles, issues } = await loadCandleFile(file);

      expect(issues).to.deep.equal([]);
      expect(candles.map(ohlcv)).to.deep.equal([
        ['28923.63', '29031.34', '28690.17', '28995.13', '2311.811445'],
        ['28995.13', '29470', '28960.35', '29409.99', '3311.647'],
      ]);
      expect(candles[1]).to.include({
        symbol: 'BTCUSDT',
        interval: '1h',
        openTime: 1609462800000,
        closeTime: 1609466400000,
      });
    });

    it('skips a header row and reads CRLF lines', async () => {
      const file = write(
        'BTCUSDT-1h-2021-02.csv',
        [header, ...klines].join('\r\n') + '\r\n',
      );
      const { candles, issues } = await loadCandleFile(file);
      expect(issues).to.deep.equal([]);
      expect(candles.map((c) => c.openTime)).to.deep.equal([
        1609459200000, 1609462800000,
      ]);
    });

    it('turns microsecond open times into milliseconds', async () => {
      const micro = klines.map((line) =>
        line.replace(/^(\d+),/, (_m, ms) => `${ms}000,`),
      );
      const file = write('BTCUSDT-1h-2025-01.csv', micro.join('\n'));
      const { candles } = await loadCandleFile(file);
      expect(candles.map((c) => c.openTime)).to.deep.equal([
        1609459200000, 1609462800000,
      ]);
    });

    it('reports bad lines by their line number', async () => {
      const file = write(
        'BTCUSDT-1h-2021-03.csv',
        [header, klines[0], '1609462800000,1,2,3', klines[1]].join('\n'),
      );
      const { candles, issues } = await loadCandleFile(file);
      expect(candles).to.have.length(2);
      expect(issues).to.deep.equal([
        { file, line: 3, reason: 'expected 12 fields, got 4' },
      ]);
    });

    it('reads a gzipped CSV', async () => {
      const file = write(
        'BTCUSDT-1h-2021-04.csv.gz',
        gzipSync(klines.join('\n')),
      );
      const { candles } = await loadCandleFile(file);
      expect(candles).to.have.length(2);
    });
  });
});
