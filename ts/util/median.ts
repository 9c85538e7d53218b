/**
 * The median of `values`: the middle value, or the mean of the middle two for
 * an even count. With no values it is `empty` (NaN when not given), which each
 * caller chooses: a report may want null, a figure 0.
 */
export function median(values: readonly number[]): number;
export function median<Empty>(values: readonly number[], empty: Empty): number | Empty;
export function median(values: readonly number[], empty: unknown = Number.NaN): unknown {
  if (values.length === 0) return empty;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
