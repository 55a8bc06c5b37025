import { expect } from 'chai';
import { createMetrics } from '../../../infrastructure/metrics';

describe('Mirai metrics', () => {
  const gaugeText = async (metrics: ReturnType<typeof createMetrics>) =>
    (await metrics.registry.getSingleMetricAsString('trading_pnl_total'))
      .split('\n')
      .filter((line) => !line.startsWith('#'));

  it('sums realized PnL per symbol as decimals, without float noise', async () => {
    const metrics = createMetrics({ collectDefault: false });
    // As floats: 0.1 + 0.2 = 0.30000000000000004.
    metrics.recordRealizedPnl('BTCUSDT', '0.1');
    metrics.recordRealizedPnl('BTCUSDT', '0.2');
    metrics.recordRealizedPnl('ETHUSDT', '-0.13109806');
    metrics.recordRealizedPnl('ETHUSDT', '-0.13109807');
    expect(await gaugeText(metrics)).to.deep.equal([
      'trading_pnl_total{symbol="BTCUSDT"} 0.3',
      'trading_pnl_total{symbol="ETHUSDT"} -0.26219613',
    ]);
  });

  it('counts a symbol Mirai does not trade as unsupported, adding no series', async () => {
    const metrics = createMetrics({ collectDefault: false });
    for (const symbol of ['FOO\u0000', 'BAR', 'x'.repeat(32)]) {
      metrics.recordOrder({ symbol, side: 'BUY', status: 'REJECTED' });
    }
    const text = await metrics.registry.getSingleMetricAsString(
      'trading_orders_total',
    );
    expect(
      text.split('\n').filter((line) => !line.startsWith('#')),
    ).to.deep.equal([
      'trading_orders_total{symbol="unsupported",side="buy",status="rejected"} 3',
    ]);
  });

  it('counts order events with lowercase side and status', async () => {
    const metrics = createMetrics({ collectDefault: false });
    metrics.recordOrder({ symbol: 'BTCUSDT', side: 'BUY', status: 'FILLED' });
    const text = await metrics.registry.getSingleMetricAsString(
      'trading_orders_total',
    );
    expect(text).to.contain(
      'trading_orders_total{symbol="BTCUSDT",side="buy",status="filled"} 1',
    );
  });
});
