import { expect } from 'chai';
import { candleFills, takerPrice } from '../../application/paperExchange';
import type { OpenOrder } from '../../domain/account';
import type { Candle } from '../../domain/market/candle';
import { Decimal } from '../../domain/money';
import { hourCandle, T0 } from '../support/candles';

const candle = hourCandle;
const config = {
  slippageRate: new Decimal('0.001'),
  takerFeeRate: new Decimal('0.001'),
  makerFeeRate: new Decimal('0.0005'),
};

const resting = (fields: Partial<OpenOrder>): OpenOrder => ({
  orderId: 'o1',
  symbol: 'BTCUSDT',
  side: 'BUY',
  orderType: 'LIMIT',
  role: 'entry',
  quantity: new Decimal('0.1'),
  filledQuantity: new Decimal(0),
  price: null,
  triggerPrice: null,
  stopLoss: null,
  takeProfit: null,
  leverage: 1,
  strategy: 'manual',
  parentOrderId: null,
  reservedMargin: new Decimal(0),
  placedAt: new Date(T0).toISOString(),
  ...fields,
});

const fillPrices = (orders: OpenOrder[], c: Candle) =>
  candleFills(orders, c, config).map((f) => [f.orderId, f.price.toString()]);

describe('paper exchange', () => {
  it('moves MARKET prices against the taker and rounds to the tick against it', () => {
    // 50,000.01 * 1.001 = 50,050.01001 -> up to 50,050.02 for a buy
    expect(
      takerPrice(
        'BTCUSDT',
        'BUY',
        new Decimal('50000.01'),
        config.slippageRate,
      ).toString(),
    ).to.equal('50050.02');
    // 50,000.01 * 0.999 = 49,950.00999 -> down to 49,950.00 for a sell
    expect(
      takerPrice(
        'BTCUSDT',
        'SELL',
        new Decimal('50000.01'),
        config.slippageRate,
      ).toString(),
    ).to.equal('49950');
  });

  it('fills a LIMIT buy at its price when the low reaches it, as a maker', () => {
    const order = resting({ price: new Decimal(49000) });
    const [fill] = candleFills(
      [order],
      candle(0, 50000, 50500, 48900, 49500),
      config,
    );
    expect(fill.price.toString()).to.equal('49000');
    expect(fill.liquidity).to.equal('maker');
    expect(fill.fee.toString()).to.equal('2.45'); // 4,900 * 0.0005
  });

  it('does not fill a LIMIT buy the low does not reach', () => {
    const order = resting({ price: new Decimal(49000) });
    expect(
      fillPrices([order], candle(0, 50000, 50500, 49000.01, 49500)),
    ).to.deep.equal([]);
  });

  it('fills at the open when the market gapped through the limit', () => {
    const buy = resting({ price: new Decimal(49000) });
    expect(
      fillPrices([buy], candle(0, 48000, 48500, 47000, 48200)),
    ).to.deep.equal([['o1', '48000']]);
    const sell = resting({ side: 'SELL', price: new Decimal(51000) });
    expect(
      fillPrices([sell], candle(0, 52000, 52500, 51500, 52200)),
    ).to.deep.equal([['o1', '52000']]);
  });

  it('never fills on the candle that was current when the order came', () => {
    const order = resting({
      price: new Decimal(49000),
      placedAt: new Date(T0 + 30 * 60_000).toISOString(),
    });
    expect(
      fillPrices([order], candle(0, 50000, 50500, 48000, 49500)),
    ).to.deep.equal([]);
    expect(
      fillPrices([order], candle(1, 50000, 50500, 48000, 49500)),
    ).to.deep.equal([['o1', '49000']]);
  });

  it('triggers a long stop below and a short stop above, with slippage', () => {
    const longStop = resting({
      orderId: 'sl-long',
      side: 'SELL',
      orderType: 'STOP_MARKET',
      role: 'stop_loss',
      triggerPrice: new Decimal(48000),
    });
    const shortStop = resting({
      orderId: 'sl-short',
      side: 'BUY',
      orderType: 'STOP_MARKET',
      role: 'stop_loss',
      triggerPrice: new Decimal(52000),
    });
    // Falls to 47,500: only the long's stop; 48,000 * 0.999 = 47,952
    expect(
      fillPrices([longStop, shortStop], candle(0, 50000, 50100, 47500, 47800)),
    ).to.deep.equal([['sl-long', '47952']]);
    // Rises to 52,500: only the short's stop; 52,000 * 1.001 = 52,052
    expect(
      fillPrices([longStop, shortStop], candle(0, 50000, 52500, 49900, 52400)),
    ).to.deep.equal([['sl-short', '52052']]);
  });

  it('puts the stop-loss first when one candle reaches both exits', () => {
    const takeProfit = resting({
      orderId: 'tp',
      side: 'SELL',
      orderType: 'TAKE_PROFIT',
      role: 'take_profit',
      triggerPrice: new Decimal(53000),
      parentOrderId: 'entry',
    });
    const stopLoss = resting({
      orderId: 'sl',
      side: 'SELL',
      orderType: 'STOP_MARKET',
      role: 'stop_loss',
      triggerPrice: new Decimal(48000),
      parentOrderId: 'entry',
    });
    const fills = candleFills(
      [takeProfit, stopLoss],
      candle(0, 50000, 54000, 47000, 50000),
      config,
    );
    expect(fills.map((f) => f.orderId)).to.deep.equal(['sl', 'tp']);
  });
});
