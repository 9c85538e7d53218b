/** The watchdog's full differential check, made due by an injected clock rather than by waiting. */
import type { Lattice, WatchdogEvent } from '@ouroboros-engine/core';
import type { DifferentialOptions, WatchdogOptions } from '../../dist/ts/lattice/watchdog.js';

/** The cadence the clock is moved past at once: the full check is due from the run's first check on. */
const FULL_CHECK_EVERY_MS = 60_000;

/**
 * Runs `lat` for `steps` steps under `sampled`'s watchdog with the full check
 * due a cadence after the run's start on an injected clock, which moves on at
 * once: the first snapshot's sampled check plans a full one of the next
 * snapshot. Resolves with the watchdog's first event and the run's error.
 */
export async function firstEventWithFullCheck(
  lat: Lattice,
  steps: number,
  sampled: WatchdogOptions & { differential: DifferentialOptions },
): Promise<{ event: WatchdogEvent; error: string | null }> {
  const clock = { ms: 0 };
  const firstEvent = new Promise<WatchdogEvent>((resolve) => lat.once('watchdog', resolve));
  const run = lat.run({
    steps,
    watchdog: { ...sampled, differential: { ...sampled.differential, fullCheckEveryMs: FULL_CHECK_EVERY_MS, now: () => clock.ms } },
  });
  clock.ms = FULL_CHECK_EVERY_MS;
  const event = await firstEvent;
  return { event, error: (await run).error };
}
