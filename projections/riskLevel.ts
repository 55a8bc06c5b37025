import type { Decimal } from '../domain/money';

export type RiskLevel = 'low' | 'medium' | 'high';

/**
 * Risk from the share of equity held as margin: below 0.3 `low`, from 0.3
 * to below 0.6 `medium`, 0.6 and above `high`. No equity (zero or
 * negative) with margin in use is `high`; nothing in use is `low`.
 */
export const riskLevel = (marginUsed: Decimal, equity: Decimal): RiskLevel => {
  if (marginUsed.lte(0)) return 'low';
  if (equity.lte(0)) return 'high';
  const share = marginUsed.div(equity);
  if (share.lt(0.3)) return 'low';
  if (share.lt(0.6)) return 'medium';
  return 'high';
};
