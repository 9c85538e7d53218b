/**
 * How the summary's figures are written, shared by the terminal table and the
 * HTML report so that both show the same digits.
 */

export function formatMlups(mlups: number | null): string {
  return mlups === null ? 'n/a' : mlups.toFixed(1);
}

export function formatSpeedup(speedup: number | null): string {
  return speedup === null ? 'n/a' : `${speedup.toFixed(2)}x`;
}

export function formatFraction(fraction: number | null): string {
  return fraction === null ? 'n/a' : `${(100 * fraction).toFixed(1)}%`;
}

export function formatDrift(drift: number | null): string {
  return drift === null ? 'n/a' : drift.toExponential(2);
}

export function formatCount(count: number | null): string {
  return count === null ? 'n/a' : String(count);
}

export function formatSeconds(seconds: number): string {
  return seconds >= 100 ? `${seconds.toFixed(0)} s` : `${seconds.toFixed(1)} s`;
}

/** The first 12 hex digits of a sha256: enough to tell modules apart at a glance. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}
