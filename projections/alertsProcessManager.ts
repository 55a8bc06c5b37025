import type { EventStore, RecordedEvent } from '../application/eventStore';
import { appendChained } from '../application/hashChain';
import { CANDLE_CLOSED, CandleClosedData } from '../domain/market/candle';
import { Decimal } from '../domain/money';
import { accountEventOf, DEFAULT_ACCOUNT_ID } from './accountStreams';
import { ALERT_RAISED, AlertRaisedData, SYSTEM_STREAM } from './alertEvents';
import type { Projection, ReadModelDb } from './projection';

const HOUR_MS = 3_600_000;

/** Thresholds of the alerts process manager; every field has a default. */
export interface AlertRules {
  /** Price change between a close and the close one hour earlier, %. Default 5. */
  priceMovePct: number;
  /** Fall of the wallet below its peak, %. Default 10. */
  drawdownPct: number;
  /** Rejections within `rejectionWindowMs` that raise an alert. Default 5. */
  rejectionBurst: number;
  /** Default 60,000 ms (one minute of market time). */
  rejectionWindowMs: number;
  /** Account whose wallet and rejections are watched. Default `main`. */
  accountId: string;
}

export const defaultAlertRules = (): AlertRules => ({
  priceMovePct: 5,
  drawdownPct: 10,
  rejectionBurst: 5,
  rejectionWindowMs: 60_000,
  accountId: DEFAULT_ACCOUNT_ID,
});

/** What the manager remembers between batches (and across restarts). */
interface WatchState {
  /** Per symbol: [close time ms, close] of the last hour, oldest first. */
  closes: Record<string, [number, string][]>;
  /** Per symbol: close time of the candle that last raised a price alert. */
  lastPriceAlert: Record<string, number>;
  wallet: string;
  peak: string;
  inDrawdown: boolean;
  /** Market times (ms) of recent rejections. */
  rejections: number[];
}

const initialState = (): WatchState => ({
  closes: {},
  lastPriceAlert: {},
  wallet: '0',
  peak: '0',
  inDrawdown: false,
  rejections: [],
});

const pct = (value: Decimal) => value.abs().toDecimalPlaces(2).toString();

/**
 * Process manager that watches `$all` and appends `AlertRaised` to the
 * `system` stream:
 * - `price_movement`: a candle's close is ≥ `priceMovePct` away from the
 *   close of the same symbol's candle that closed exactly one hour
 *   earlier; at most one such alert per symbol per hour; `critical` from
 *   twice the threshold.
 * - `drawdown`: the wallet (realized, after fees) falls `drawdownPct` or
 *   more below its peak; raised once, re-armed when it recovers.
 * - `order_rejections`: `rejectionBurst` rejected orders within
 *   `rejectionWindowMs` of market time; the count restarts after it.
 *
 * It runs as a projection whose read model is its own memory: alerts are
 * appended before the checkpoint commits, and an alert id already in the
 * stream (appended just before a crash) is not appended again.
 */
export class AlertsProcessManager implements Projection {
  readonly name = 'alertsManager';
  private state = initialState();
  private decided: AlertRaisedData[] = [];
  private raisedIds: Set<string> | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly rules: AlertRules = defaultAlertRules(),
  ) {}

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS alerts_manager_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      state TEXT NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM alerts_manager_state');
  }

  load(db: ReadModelDb): void {
    const row = db.prepare('SELECT state FROM alerts_manager_state').get() as
      { state: string } | undefined;
    this.state = row ? (JSON.parse(row.state) as WatchState) : initialState();
    this.decided = [];
    this.raisedIds = null;
  }

  fold(event: RecordedEvent): boolean {
    if (event.type === CANDLE_CLOSED) {
      this.watchPrice(event);
      return true;
    }
    const account = accountEventOf(event, this.rules.accountId);
    if (!account) return false;
    switch (account.type) {
      case 'FundsDeposited':
        this.watchWallet(account.data.amount, event, account.data.at);
        return true;
      case 'OrderFilled':
        this.watchWallet(account.data.cashDelta, event, account.data.at);
        return true;
      case 'OrderRejected':
        this.watchRejection(event, account.data.at);
        return true;
      default:
        return false;
    }
  }

  private raise(
    source: RecordedEvent,
    alert: Omit<AlertRaisedData, 'id' | 'sourcePosition'>,
  ) {
    this.decided.push({
      id: `alert_${source.globalPosition}`,
      sourcePosition: source.globalPosition.toString(),
      ...alert,
    });
  }

  private watchPrice(event: RecordedEvent) {
    const candle = event.data as unknown as CandleClosedData;
    const closes = (this.state.closes[candle.symbol] ??= []);
    const hourAgo = candle.closeTime - HOUR_MS;
    while (closes.length > 0 && closes[0][0] < hourAgo) closes.shift();
    const earlier =
      closes.length > 0 && closes[0][0] === hourAgo ? closes[0][1] : undefined;
    closes.push([candle.closeTime, candle.close]);
    if (earlier === undefined) return;

    // Most candles move far less than the threshold: a float look rules
    // them out cheaply; the decision itself is made in decimals.
    const rough = Math.abs(Number(candle.close) / Number(earlier) - 1) * 100;
    if (!(rough >= this.rules.priceMovePct * 0.99)) return;
    if (new Decimal(earlier).isZero()) return;
    const change = new Decimal(candle.close).sub(earlier).div(earlier).mul(100);
    const last = this.state.lastPriceAlert[candle.symbol];
    if (change.abs().lt(this.rules.priceMovePct)) return;
    if (last !== undefined && candle.closeTime - last < HOUR_MS) return;
    this.state.lastPriceAlert[candle.symbol] = candle.closeTime;
    const critical = change.abs().gte(this.rules.priceMovePct * 2);
    this.raise(event, {
      type: 'price_movement',
      severity: critical ? 'critical' : 'warning',
      message:
        `${candle.symbol} price ${change.isNeg() ? 'dropped' : 'rose'} ` +
        `${pct(change)}% in 1 hour`,
      symbol: candle.symbol,
      at: new Date(candle.closeTime).toISOString(),
    });
  }

  private watchWallet(delta: string, event: RecordedEvent, at: string) {
    const wallet = new Decimal(this.state.wallet).add(delta);
    const peak = Decimal.max(this.state.peak, wallet);
    this.state.wallet = wallet.toFixed();
    this.state.peak = peak.toFixed();
    if (peak.lte(0)) return;
    const drawdown = peak.sub(wallet).div(peak).mul(100);
    if (drawdown.lt(this.rules.drawdownPct)) {
      this.state.inDrawdown = false;
      return;
    }
    if (this.state.inDrawdown) return;
    this.state.inDrawdown = true;
    this.raise(event, {
      type: 'drawdown',
      severity: 'critical',
      message:
        `Drawdown of ${pct(drawdown)}% from the peak of ` +
        `${peak.toFixed()} exceeds the ${this.rules.drawdownPct}% limit`,
      symbol: null,
      at,
    });
  }

  private watchRejection(event: RecordedEvent, at: string) {
    const now = Date.parse(at);
    const recent = this.state.rejections.filter(
      (time) => time > now - this.rules.rejectionWindowMs,
    );
    recent.push(now);
    if (recent.length < this.rules.rejectionBurst) {
      this.state.rejections = recent;
      return;
    }
    this.state.rejections = [];
    this.raise(event, {
      type: 'order_rejections',
      severity: 'warning',
      message:
        `${recent.length} orders rejected within ` +
        `${this.rules.rejectionWindowMs / 1000} s`,
      symbol: null,
      at,
    });
  }

  async beforeCommit(): Promise<void> {
    if (this.decided.length === 0) return;
    this.raisedIds ??= await this.readRaisedIds();
    const fresh = this.decided.filter((a) => !this.raisedIds!.has(a.id));
    this.decided = [];
    if (fresh.length === 0) return;
    // One append per alert, each with its own correlation id and time;
    // an alert counts as raised once its own append is durable.
    for (const alert of fresh) {
      await appendChained(
        this.store,
        SYSTEM_STREAM,
        [{ type: ALERT_RAISED, data: { ...alert } }],
        { correlationId: alert.id, user: 'alerts' },
        alert.at,
      );
      this.raisedIds.add(alert.id);
    }
  }

  private async readRaisedIds(): Promise<Set<string>> {
    const events = await this.store.readStream(SYSTEM_STREAM);
    return new Set(
      events
        .filter((e) => e.type === ALERT_RAISED)
        .map((e) => String(e.data.id)),
    );
  }

  flush(db: ReadModelDb): void {
    db.prepare(
      'INSERT OR REPLACE INTO alerts_manager_state (id, state) VALUES (1, ?)',
    ).run(JSON.stringify(this.state));
  }
}
