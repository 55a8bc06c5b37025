/** Median of a non-empty list of numbers. */
export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Rounds for printing: figures are noisy past three significant digits. */
export const round = (value: number): number => Number(value.toPrecision(4));
