import type { Decimal } from '../domain/money';

/** ISO-8601 UTC with whole seconds, as the API document shows times. */
export const apiTime = (time: string | number | Date): string =>
  new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A decimal as a JSON number, the way the API document shows amounts.
 * Amounts are exact decimals inside Mirai; only here, at the edge, do they
 * become binary floats for clients.
 */
export const apiNumber = (value: Decimal | string): number =>
  Number(value.toString());
