import type { RecordedEvent } from '../application/eventStore';
import { Decimal, ZERO } from '../domain/money';
import { accountEventOf, DEFAULT_ACCOUNT_ID } from './accountStreams';
import type { Projection, ReadModelDb } from './projection';

/** The account's money, as the read model stores it. */
export interface AccountRow {
  accountId: string;
  currency: string;
  /** Sum of deposits. */
  deposits: Decimal;
  /** Deposits plus gross realized PnL minus every fee paid. */
  wallet: Decimal;
  /** Sum of the fills' realized PnL (after fees). */
  realizedPnl: Decimal;
  /** Every fee paid. */
  fees: Decimal;
  fills: number;
  /** Margin reserved by resting orders. */
  reservedMargin: Decimal;
  openOrders: number;
}

interface RestingOrder {
  reserved: Decimal;
  quantity: Decimal;
  filled: Decimal;
}

interface Totals {
  currency: string;
  deposits: Decimal;
  wallet: Decimal;
  realizedPnl: Decimal;
  fees: Decimal;
  fills: number;
}

const emptyTotals = (): Totals => ({
  currency: 'USDT',
  deposits: ZERO,
  wallet: ZERO,
  realizedPnl: ZERO,
  fees: ZERO,
  fills: 0,
});

/**
 * Wallet, realized PnL, fees and the margin resting orders reserve, for
 * one account. Margin release on partial fills follows the decider: the
 * unfilled share of the reservation stays reserved.
 */
export class AccountProjection implements Projection {
  readonly name = 'account';
  private totals = emptyTotals();
  private totalsDirty = false;
  private orders = new Map<string, RestingOrder>();
  private readonly dirtyOrders = new Set<string>();

  constructor(private readonly accountId = DEFAULT_ACCOUNT_ID) {}

  setup(db: ReadModelDb): void {
    db.exec(`CREATE TABLE IF NOT EXISTS account_totals (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      currency TEXT NOT NULL,
      deposits TEXT NOT NULL,
      wallet TEXT NOT NULL,
      realized_pnl TEXT NOT NULL,
      fees TEXT NOT NULL,
      fills INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS account_open_orders (
      order_id TEXT PRIMARY KEY,
      reserved TEXT NOT NULL,
      quantity TEXT NOT NULL,
      filled TEXT NOT NULL
    )`);
  }

  reset(db: ReadModelDb): void {
    db.exec('DELETE FROM account_totals; DELETE FROM account_open_orders');
  }

  load(db: ReadModelDb): void {
    this.totals = readTotals(db) ?? emptyTotals();
    this.totalsDirty = false;
    this.orders = new Map();
    this.dirtyOrders.clear();
    const rows = db.prepare('SELECT * FROM account_open_orders').all() as {
      order_id: string;
      reserved: string;
      quantity: string;
      filled: string;
    }[];
    for (const row of rows) {
      this.orders.set(row.order_id, {
        reserved: new Decimal(row.reserved),
        quantity: new Decimal(row.quantity),
        filled: new Decimal(row.filled),
      });
    }
  }

  fold(event: RecordedEvent): boolean {
    const account = accountEventOf(event, this.accountId);
    if (!account) return false;
    const t = this.totals;
    switch (account.type) {
      case 'AccountOpened':
        t.currency = account.data.currency;
        break;
      case 'FundsDeposited':
        t.deposits = t.deposits.add(account.data.amount);
        t.wallet = t.wallet.add(account.data.amount);
        break;
      case 'OrderPlaced': {
        const { orderId, quantity, reservedMargin } = account.data;
        this.orders.set(orderId, {
          reserved: new Decimal(reservedMargin),
          quantity: new Decimal(quantity),
          filled: ZERO,
        });
        this.dirtyOrders.add(orderId);
        return true;
      }
      case 'OrderFilled': {
        const fill = account.data;
        t.wallet = t.wallet.add(fill.cashDelta);
        t.realizedPnl = t.realizedPnl.add(fill.realizedPnl);
        t.fees = t.fees.add(fill.fee);
        t.fills += 1;
        this.fillOrder(fill.orderId, fill.quantity, fill.orderStatus);
        break;
      }
      case 'OrderCancelled':
        this.orders.delete(account.data.orderId);
        this.dirtyOrders.add(account.data.orderId);
        return true;
      case 'OrderRejected':
        return false;
    }
    this.totalsDirty = true;
    return true;
  }

  private fillOrder(orderId: string, quantity: string, status: string) {
    const order = this.orders.get(orderId);
    if (!order) return;
    this.dirtyOrders.add(orderId);
    if (status === 'FILLED') {
      this.orders.delete(orderId);
      return;
    }
    const filled = order.filled.add(quantity);
    order.reserved = order.reserved
      .mul(order.quantity.sub(filled))
      .div(order.quantity.sub(order.filled));
    order.filled = filled;
  }

  flush(db: ReadModelDb): void {
    if (this.totalsDirty) {
      const t = this.totals;
      db.prepare(
        `INSERT OR REPLACE INTO account_totals
         (id, currency, deposits, wallet, realized_pnl, fees, fills)
         VALUES (1, ?, ?, ?, ?, ?, ?)`,
      ).run(
        t.currency,
        t.deposits.toFixed(),
        t.wallet.toFixed(),
        t.realizedPnl.toFixed(),
        t.fees.toFixed(),
        t.fills,
      );
      this.totalsDirty = false;
    }
    if (this.dirtyOrders.size === 0) return;
    const upsert = db.prepare(
      `INSERT OR REPLACE INTO account_open_orders
       (order_id, reserved, quantity, filled) VALUES (?, ?, ?, ?)`,
    );
    const remove = db.prepare(
      'DELETE FROM account_open_orders WHERE order_id = ?',
    );
    for (const orderId of this.dirtyOrders) {
      const order = this.orders.get(orderId);
      if (!order) remove.run(orderId);
      else {
        upsert.run(
          orderId,
          order.reserved.toFixed(),
          order.quantity.toFixed(),
          order.filled.toFixed(),
        );
      }
    }
    this.dirtyOrders.clear();
  }
}

const readTotals = (db: ReadModelDb): Totals | null => {
  const row = db.prepare('SELECT * FROM account_totals').get() as
    | {
        currency: string;
        deposits: string;
        wallet: string;
        realized_pnl: string;
        fees: string;
        fills: number;
      }
    | undefined;
  if (!row) return null;
  return {
    currency: row.currency,
    deposits: new Decimal(row.deposits),
    wallet: new Decimal(row.wallet),
    realizedPnl: new Decimal(row.realized_pnl),
    fees: new Decimal(row.fees),
    fills: row.fills,
  };
};

/** Reads the account read model (zeros before the account opens). */
export const readAccount = (
  db: ReadModelDb,
  accountId = DEFAULT_ACCOUNT_ID,
): AccountRow => {
  const totals = readTotals(db) ?? emptyTotals();
  const reserved = db
    .prepare('SELECT reserved FROM account_open_orders')
    .all() as { reserved: string }[];
  return {
    accountId,
    ...totals,
    reservedMargin: reserved.reduce((sum, r) => sum.add(r.reserved), ZERO),
    openOrders: reserved.length,
  };
};
