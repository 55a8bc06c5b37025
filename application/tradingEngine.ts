import { randomUUID } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import {
  AccountCommand,
  AccountEvent,
  AccountState,
  accountStream,
  OpenOrder,
  decide,
  evolve,
  foldAccount,
  initialAccountState,
} from '../domain/account';
import {
  Candle,
  CANDLE_CLOSED,
  candleFromEventData,
  CandleClosedData,
  candleToEventData,
  marketStream,
} from '../domain/market/candle';
import { SUPPORTED_SYMBOLS } from '../domain/market/symbols';
import { MiraiError } from '../domain/errors';
import { Decimal } from '../domain/money';
import type { EventStore, ExpectedRevision, RecordedEvent } from './eventStore';
import {
  appendChained,
  canonicalJson,
  sha256Hex,
  Causation,
  chainEvents,
  GENESIS_HASH,
} from './hashChain';
import type { Logger } from './logger';
import { Engine, OrderActivity, orderActivityOf } from './engine';
import { MarketPrices } from './marketPrices';
import {
  candleFills,
  DEFAULT_PAPER_EXCHANGE,
  marketFill,
  PaperExchangeConfig,
} from './paperExchange';

export const SYSTEM_STREAM = 'system';

/** Settings of the engine; every field has a default. */
export interface TradingEngineConfig {
  /** Account the engine trades for. Default `main`. */
  accountId: string;
  /** Deposit recorded when the account stream is new. Default 10,000 USDT. */
  initialBalance: Decimal;
  exchange: PaperExchangeConfig;
  /** Leverage of a new position when an order names none. Default 1. */
  defaultLeverage: number;
  /** See `MarketPrices`. Default 2 hours. */
  maxPriceAgeMs: number;
  /** Makes order ids; random 12 hex digits by default. */
  newOrderId: () => string;
  /**
   * Most idempotency keys remembered; the key whose order was placed
   * longest ago is forgotten first. Default {@link MAX_IDEMPOTENCY_KEYS}.
   */
  maxIdempotencyKeys: number;
}

/** Most idempotency keys remembered; the oldest are forgotten first. */
export const MAX_IDEMPOTENCY_KEYS = 100_000;

export const defaultEngineConfig = (): TradingEngineConfig => ({
  accountId: 'main',
  initialBalance: new Decimal(10000),
  exchange: DEFAULT_PAPER_EXCHANGE,
  defaultLeverage: 1,
  maxPriceAgeMs: 2 * 3_600_000,
  // randomUUID draws from a cached entropy pool; randomBytes goes to the
  // kernel on every call, which shows at thousands of orders a second.
  newOrderId: () => randomUUID().replace(/-/g, '').slice(0, 12),
  maxIdempotencyKeys: MAX_IDEMPOTENCY_KEYS,
});

/**
 * The settings a user gives the engine, amounts and rates as decimal
 * text: what a command line passes, and what crosses to an engine thread.
 */
export interface EngineSettings {
  /** Deposit of a new account, USDT. */
  initialBalance: string;
  /** Fraction a MARKET order's price moves against it (0.0005 = 0.05 %). */
  slippageRate: string;
  /** Fee of an order that takes liquidity, as a fraction of its value. */
  takerFeeRate: string;
  /** Fee of a resting order that fills, as a fraction of its value. */
  makerFeeRate: string;
  /** Leverage of a new position when an order names none. */
  defaultLeverage: number;
  /** Age past which a symbol's last price is too old to trade on, ms. */
  maxPriceAgeMs: number;
}

/** The engine's configuration from user settings; the rest default. */
export const engineConfigFrom = (
  settings: EngineSettings,
): TradingEngineConfig => ({
  ...defaultEngineConfig(),
  initialBalance: new Decimal(settings.initialBalance),
  exchange: {
    slippageRate: new Decimal(settings.slippageRate),
    takerFeeRate: new Decimal(settings.takerFeeRate),
    makerFeeRate: new Decimal(settings.makerFeeRate),
  },
  defaultLeverage: settings.defaultLeverage,
  maxPriceAgeMs: settings.maxPriceAgeMs,
});

/** An order as a client sends it (numbers not yet validated). */
export interface OrderRequest {
  symbol: string;
  side: string;
  type: string;
  quantity: unknown;
  price?: unknown;
  stopLoss?: unknown;
  takeProfit?: unknown;
  leverage?: unknown;
  strategy?: string;
  /** The acting user, recorded in event metadata. */
  user: string;
  /**
   * The client's key for this order: the same user sending the same key
   * again gets the first answer back instead of a second order.
   */
  idempotencyKey?: string;
}

export interface OrderOutcome {
  orderId: string;
  status: 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'REJECTED';
  symbol: string;
  side: string;
  executedPrice: Decimal | null;
  executedQuantity: Decimal;
  at: string;
  rejection: { code: string; reason: string } | null;
  /** Global position of the last event the order wrote. */
  globalPosition: bigint;
  /** True when this is the answer to an earlier request with its key. */
  replayed: boolean;
}

/** An order placed under an idempotency key: what its answer was. */
interface KeyedOrder {
  requestHash: string;
  answer: Promise<OrderOutcome>;
}

const keyedOrderId = (user: string, key: string) => `${user}\n${key}`;

/** What identifies an order request, whoever sends it and however often. */
const requestHashOf = (request: OrderRequest): string =>
  sha256Hex(
    canonicalJson({
      symbol: request.symbol,
      side: request.side,
      type: request.type,
      quantity: request.quantity,
      price: request.price ?? null,
      stopLoss: request.stopLoss ?? null,
      takeProfit: request.takeProfit ?? null,
      leverage: request.leverage ?? null,
      strategy: request.strategy ?? null,
    }),
  );

/** One appended batch, for metrics and live streams. */
export interface EngineUpdate {
  streamId: string;
  events: { type: string; data: Record<string, unknown> }[];
}

interface StreamCursor {
  revision: bigint;
  hash: string;
}

const expectedFrom = (cursor: StreamCursor): ExpectedRevision =>
  cursor.revision < 0n ? 'no_stream' : cursor.revision;

/**
 * The trading kernel: it owns the account, turns orders and candles into
 * events through the decider and the paper exchange, and appends them.
 *
 * Decisions are made synchronously on the in-memory state and appended
 * at once, so commands pipeline into the store's group commit instead of
 * waiting on each other's fsync; the stream revision is the fencing token.
 * If an append fails, the state is reloaded from the store before the next
 * command.
 */
export class TradingEngine implements Engine {
  private state: AccountState = initialAccountState();
  private account: StreamCursor = { revision: -1n, hash: GENESIS_HASH };
  private readonly markets = new Map<string, StreamCursor>();
  private paused = false;
  /** The engine's last write to the system stream, settled or not. */
  private systemWrites: Promise<unknown> = Promise.resolve();
  private lastNow = { ms: Number.NaN, iso: '' };
  private readonly keyedOrders = new Map<string, KeyedOrder>();
  private reloading: Promise<void> | null = null;
  private stale = false;
  readonly prices: MarketPrices;
  readonly updates = new Subject<EngineUpdate>();
  /** Each order event of `updates`, one at a time. */
  readonly activity = new Observable<OrderActivity>((subscriber) =>
    this.updates.subscribe(({ events }) => {
      for (const activity of orderActivityOf(events)) subscriber.next(activity);
    }),
  );
  private readonly stream: string;

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
    readonly config: TradingEngineConfig = defaultEngineConfig(),
  ) {
    this.prices = new MarketPrices(config.maxPriceAgeMs);
    this.stream = accountStream(config.accountId);
  }

  /** Loads the account and latest prices, opening the account if new. */
  async start(): Promise<void> {
    await this.load();
    if (this.state.accountId === null) {
      await this.execute(
        {
          type: 'OpenAccount',
          accountId: this.config.accountId,
          initialBalance: this.config.initialBalance,
          at: this.nowIso(),
        },
        { correlationId: 'open-account', user: 'system' },
      );
    }
    this.logger.info('engine started', {
      account: this.config.accountId,
      revision: this.account.revision,
      openPositions: this.state.positions.size,
      openOrders: this.state.openOrders.size,
    });
  }

  private async load(): Promise<void> {
    const recorded = await this.store.readStream(this.stream);
    this.state = initialAccountState();
    for (const event of recorded) this.apply(event as unknown as AccountEvent);
    this.account = this.cursorAfter(recorded);
    this.rememberKeyedOrders(recorded);

    for (const symbol of SUPPORTED_SYMBOLS) {
      const [last] = await this.store.readStream(marketStream(symbol), {
        direction: 'backwards',
        maxCount: 1,
      });
      this.markets.set(symbol, this.cursorAfter(last ? [last] : []));
      if (last)
        this.prices.update(
          candleFromEventData(last.data as unknown as CandleClosedData),
        );
    }

    // The system stream also holds alerts: look back for the last pause
    // or resume, not just the last event.
    this.paused = await this.lastPauseState();
    this.stale = false;
  }

  /**
   * Rebuilds the answers of orders placed under an idempotency key from
   * the appends that placed them (their events carry the key), so a
   * client retrying across a restart still gets its first answer.
   */
  private rememberKeyedOrders(recorded: RecordedEvent[]): void {
    this.keyedOrders.clear();
    const appends = new Map<
      string,
      { orderId: unknown; requestHash: string; events: RecordedEvent[] }
    >();
    for (const event of recorded) {
      const { idempotencyKey, requestHash, user, correlationId } =
        event.metadata;
      if (typeof idempotencyKey !== 'string') continue;
      const id = keyedOrderId(String(user), idempotencyKey);
      const known = appends.get(id);
      if (known && known.orderId === correlationId) {
        known.events.push(event);
        continue;
      }
      // A key used again after it was forgotten: its latest order is the
      // one to remember, and it counts as the newest key.
      appends.delete(id);
      appends.set(id, {
        orderId: correlationId,
        requestHash: String(requestHash),
        events: [event],
      });
    }
    for (const [id, { requestHash, events }] of [...appends].slice(
      -this.config.maxIdempotencyKeys,
    )) {
      const first = events[0] as unknown as AccountEvent;
      const data = first.data as {
        orderId: string;
        symbol: string;
        side: string;
        at: string;
      };
      const answer = this.outcome(
        data.orderId,
        { symbol: data.symbol, side: data.side },
        events as unknown as AccountEvent[],
        data.at,
        events[events.length - 1].globalPosition,
      );
      this.keyedOrders.set(id, {
        requestHash,
        answer: Promise.resolve(answer),
      });
    }
  }

  private async lastPauseState(): Promise<boolean> {
    const page = 1_000;
    let from: bigint | undefined;
    for (;;) {
      const events = await this.store.readStream(SYSTEM_STREAM, {
        direction: 'backwards',
        from,
        maxCount: page,
      });
      const control = events.find(
        (e) => e.type === 'TradingPaused' || e.type === 'TradingResumed',
      );
      if (control) return control.type === 'TradingPaused';
      const oldest = events[events.length - 1];
      if (events.length < page || !oldest || oldest.revision === 0n) {
        return false;
      }
      from = oldest.revision - 1n;
    }
  }

  private cursorAfter(recorded: RecordedEvent[]): StreamCursor {
    const last = recorded[recorded.length - 1];
    if (!last) return { revision: -1n, hash: GENESIS_HASH };
    return {
      revision: last.revision,
      hash: String(last.metadata.hash ?? GENESIS_HASH),
    };
  }

  private apply(event: AccountEvent): void {
    this.state = evolve(this.state, event);
  }

  /** Market time as ISO-8601, or wall time before the first candle. */
  nowIso(): string {
    const ms = this.prices.nowMs() ?? Date.now();
    // Every order asks at least twice, often within the same millisecond.
    if (ms !== this.lastNow.ms) {
      this.lastNow = { ms, iso: new Date(ms).toISOString() };
    }
    return this.lastNow.iso;
  }

  private async ready(): Promise<void> {
    if (!this.stale) return;
    this.reloading ??= this.load().finally(() => {
      this.reloading = null;
    });
    await this.reloading;
  }

  /**
   * Appends account events with the revision this engine last saw. The
   * state already includes them when this returns; the promise settles
   * when they are durable. `after` is the state with the events applied,
   * for a caller that has folded them already.
   */
  private appendAccount(
    events: AccountEvent[],
    causation: Causation,
    after?: AccountState,
  ) {
    const first = this.account.revision + 1n;
    const chained = chainEvents(
      this.stream,
      first,
      this.account.hash,
      events,
      causation,
      this.nowIso(),
    );
    const expected = expectedFrom(this.account);
    if (after) this.state = after;
    else for (const event of events) this.apply(event);
    this.account = {
      revision: first + BigInt(events.length) - 1n,
      hash: chained.lastHash,
    };
    return this.store.append(this.stream, chained.events, expected).then(
      (result) => {
        this.updates.next({ streamId: this.stream, events });
        return result;
      },
      (error: unknown) => {
        this.stale = true;
        this.logger.error('account append failed; reloading state', { error });
        throw error;
      },
    );
  }

  private async execute(command: AccountCommand, causation: Causation) {
    await this.ready();
    const events = decide(command, this.state);
    return this.appendAccount(events, causation);
  }

  /**
   * Places an order; a MARKET order fills at once at the last price. An
   * order with an idempotency key its user has used before is not placed
   * again: the first answer comes back (`replayed`), or CONFLICT if the
   * key came with a different order. Keys are kept in the events' metadata
   * and survive a restart.
   */
  placeOrder(request: OrderRequest): Promise<OrderOutcome> {
    const key = request.idempotencyKey;
    if (key === undefined) return this.placeNewOrder(request);

    // Checked and claimed before any await: a retry sent while the first
    // request is still being placed waits for the first's answer.
    const id = keyedOrderId(request.user, key);
    const requestHash = requestHashOf(request);
    const known = this.keyedOrders.get(id);
    if (known) {
      if (known.requestHash !== requestHash) {
        return Promise.reject(
          new MiraiError(
            'CONFLICT',
            `Idempotency key '${key}' was used for a different order`,
            { idempotency_key: key },
          ),
        );
      }
      return known.answer.then((answer) => ({ ...answer, replayed: true }));
    }
    const answer = this.placeNewOrder(request, { key, requestHash });
    if (this.keyedOrders.size >= this.config.maxIdempotencyKeys) {
      this.keyedOrders.delete(this.keyedOrders.keys().next().value!);
    }
    this.keyedOrders.set(id, { requestHash, answer });
    // Nothing was stored for an order that failed outright: a retry may
    // place it.
    answer.catch(() => this.keyedOrders.delete(id));
    return answer;
  }

  private async placeNewOrder(
    request: OrderRequest,
    keyed?: { key: string; requestHash: string },
  ): Promise<OrderOutcome> {
    await this.ready();
    const orderId = this.config.newOrderId();
    const at = this.nowIso();
    const placed = decide(
      {
        type: 'PlaceOrder',
        orderId,
        symbol: request.symbol,
        side: request.side,
        orderType: request.type,
        quantity: request.quantity,
        price: request.price,
        stopLoss: request.stopLoss,
        takeProfit: request.takeProfit,
        leverage: request.leverage,
        strategy: request.strategy,
        market: {
          lastPrice: this.prices.lastPrice(request.symbol),
          fresh: this.prices.isFresh(request.symbol),
          tradingPaused: this.paused,
        },
        takerFeeRate: this.config.exchange.takerFeeRate,
        slippageRate: this.config.exchange.slippageRate,
        defaultLeverage: this.config.defaultLeverage,
        at,
      },
      this.state,
    );

    // Decide the immediate fill on the state as it will be once the
    // order is placed, and append order and fill as one atomic batch.
    let events = placed;
    let after: AccountState | undefined;
    const first = placed[0];
    if (first.type === 'OrderPlaced' && first.data.orderType === 'MARKET') {
      const withOrder = evolve(this.state, first);
      const order = withOrder.openOrders.get(orderId)!;
      const lastPrice = this.prices.lastPrice(order.symbol)!;
      const fill = marketFill(order, lastPrice, this.config.exchange, at);
      const filled = decide(fill, withOrder);
      events = [first, ...filled];
      after = foldAccount(filled, withOrder);
    }
    const result = await this.appendAccount(
      events,
      {
        correlationId: orderId,
        user: request.user,
        ...(keyed && {
          idempotencyKey: keyed.key,
          requestHash: keyed.requestHash,
        }),
      },
      after,
    );
    return this.outcome(orderId, request, events, at, result.lastPosition);
  }

  private outcome(
    orderId: string,
    request: { symbol: string; side: string },
    events: AccountEvent[],
    at: string,
    globalPosition: bigint,
  ): OrderOutcome {
    // Every field written out, not spread from a shared base: V8 adds
    // properties after a spread on a slow path.
    const first = events[0];
    if (first.type === 'OrderRejected') {
      return {
        orderId,
        status: 'REJECTED',
        symbol: request.symbol,
        side: request.side,
        executedPrice: null,
        executedQuantity: new Decimal(0),
        at,
        rejection: { code: first.data.code, reason: first.data.reason },
        globalPosition,
        replayed: false,
      };
    }
    let status: OrderOutcome['status'] = 'NEW';
    let executedPrice: Decimal | null = null;
    let executedQuantity = new Decimal(0);
    for (const event of events) {
      if (event.type !== 'OrderFilled' || event.data.orderId !== orderId) {
        continue;
      }
      status = event.data.orderStatus;
      executedPrice = new Decimal(event.data.price);
      executedQuantity = executedQuantity.add(event.data.quantity);
    }
    return {
      orderId,
      status,
      symbol: request.symbol,
      side: request.side,
      executedPrice,
      executedQuantity,
      at,
      rejection: null,
      globalPosition,
      replayed: false,
    };
  }

  /** Cancels a resting order. Throws ORDER_NOT_FOUND if it is not open. */
  async cancelOrder(orderId: string, user: string): Promise<bigint> {
    const result = await this.execute(
      { type: 'CancelOrder', orderId, reason: 'user', at: this.nowIso() },
      { correlationId: orderId, user },
    );
    return result.lastPosition;
  }

  /**
   * Records a closed candle in `market-<SYMBOL>` and fills the resting
   * orders it reaches. A candle no newer than the symbol's last one is
   * skipped, so a feed restarted over the same data adds nothing twice.
   */
  async ingestCandle(candle: Candle): Promise<boolean> {
    await this.ready();
    const known = this.prices.candle(candle.symbol);
    if (known && candle.openTime <= known.openTime) return false;

    const stream = marketStream(candle.symbol);
    const cursor = this.markets.get(candle.symbol) ?? {
      revision: -1n,
      hash: GENESIS_HASH,
    };
    const chained = chainEvents(
      stream,
      cursor.revision + 1n,
      cursor.hash,
      [{ type: CANDLE_CLOSED, data: candleToEventData(candle) }],
      { correlationId: `${candle.symbol}-${candle.openTime}`, user: 'feed' },
      new Date(candle.closeTime).toISOString(),
    );
    this.markets.set(candle.symbol, {
      revision: cursor.revision + 1n,
      hash: chained.lastHash,
    });
    const appended = this.store.append(
      stream,
      chained.events,
      expectedFrom(cursor),
    );
    appended.then(
      () => this.updates.next({ streamId: stream, events: chained.events }),
      () => {
        this.stale = true;
      },
    );

    // The candle only matches orders placed before it opened: prices of
    // the candle that was current when an order arrived are not used.
    const fills = candleFills(
      this.state.openOrders.values(),
      candle,
      this.config.exchange,
    );
    this.prices.update(candle);
    const events: AccountEvent[] = [];
    let state = this.state;
    for (const fill of fills) {
      if (!state.openOrders.has(fill.orderId)) continue; // cancelled by an OCO sibling
      const decided = decide(fill, state);
      for (const event of decided) state = evolve(state, event);
      events.push(...decided);
    }
    const pending: Promise<unknown>[] = [appended];
    if (events.length > 0) {
      pending.push(
        this.appendAccount(events, {
          correlationId: `${candle.symbol}-${candle.openTime}`,
          user: 'exchange',
        }),
      );
    }
    await Promise.all(pending);
    return true;
  }

  /**
   * Stops or resumes order placement (MARKET_CLOSED while paused); resting
   * orders and exits keep working. Returns the event's global position.
   */
  async setPaused(paused: boolean, user: string): Promise<bigint> {
    // One system append at a time from this engine: its own pauses and
    // resumes never race each other for the stream's next revision.
    const write = this.systemWrites.then(async () => {
      const at = this.nowIso();
      const result = await appendChained(
        this.store,
        SYSTEM_STREAM,
        [
          {
            type: paused ? 'TradingPaused' : 'TradingResumed',
            data: { by: user, at },
          },
        ],
        { correlationId: randomUUID(), user },
        at,
      );
      this.paused = paused;
      return result.lastPosition;
    });
    this.systemWrites = write.catch(() => undefined);
    return write;
  }

  isPaused(): boolean {
    return this.paused;
  }

  accountState(): AccountState {
    return this.state;
  }

  get accountId(): string {
    return this.config.accountId;
  }

  async openOrders(): Promise<OpenOrder[]> {
    return [...this.state.openOrders.values()];
  }

  /**
   * Nothing of its own to stop: closing its store lets the appends still
   * pending land.
   */
  async stop(): Promise<void> {}

  /** On the caller's thread, it runs while the caller does. */
  isRunning(): boolean {
    return true;
  }

  async lastCandles(): Promise<Candle[]> {
    return this.prices.symbols().map((symbol) => this.prices.candle(symbol)!);
  }
}
