import { expect } from 'chai';
import { Decimal, slippageFactor } from '../../domain/money';

describe('money', () => {
  it('slips a taker buy up and a taker sell down, exactly in decimal', () => {
    const rate = new Decimal('0.0005');
    expect(slippageFactor('BUY', rate).toString()).to.equal('1.0005');
    expect(slippageFactor('SELL', rate).toString()).to.equal('0.9995');
    // 58,450 × 1.0005, not 58,450 × 1.0005000000000000782 (a float).
    expect(
      new Decimal('58450').mul(slippageFactor('BUY', rate)).toString(),
    ).to.equal('58479.225');
  });

  it('works a factor out once per rate, and never mixes two rates', () => {
    const rate = new Decimal('0.001');
    expect(slippageFactor('BUY', rate)).to.equal(slippageFactor('BUY', rate));
    const other = new Decimal('0.002');
    expect(slippageFactor('BUY', other).toString()).to.equal('1.002');
    expect(slippageFactor('SELL', new Decimal(0)).toString()).to.equal('1');
  });
});
