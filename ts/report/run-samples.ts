/**
 * A run's samples as the report, the archive and the dashboard keep them:
 * the engine's samples, each with the in-cache ceiling of the live step
 * kernel known when it was taken. The ceiling changes with the step kernel
 * (the engine measures it again for each) and is unknown until measured,
 * so it is read at every sample, not once.
 */
import type { RunSample } from '../archive/types.js';
import type { EngineSample } from '../engine/events.js';

/** What the log reads of the engine (Engine has it all). */
export interface SampledEngine {
  on(event: 'sample', listener: (sample: EngineSample) => void): unknown;
  off(event: 'sample', listener: (sample: EngineSample) => void): unknown;
  samples(): readonly EngineSample[];
  inCacheMlups(): number | null;
}

export function runSample(sample: EngineSample, inCacheMlups: number | null): RunSample {
  const { atMs, step, mlups, intervalMs, heldMs, energyDrift } = sample;
  return { atMs, step, mlups, intervalMs, heldMs, energyDrift, inCacheMlups };
}

/** A stretch of the run with one known in-cache ceiling, in seconds since the start. */
export interface CeilingSegment {
  fromSeconds: number;
  toSeconds: number;
  mlups: number;
}

/** The stretches of consecutive samples that share a known ceiling: each one step kernel's, as far as it was measured. */
export function ceilingSegments(samples: readonly RunSample[]): CeilingSegment[] {
  const segments: CeilingSegment[] = [];
  let previous: number | null = null;
  for (const sample of samples) {
    const mlups = sample.inCacheMlups;
    if (mlups !== null && mlups === previous) segments.at(-1)!.toSeconds = sample.atMs / 1e3;
    else if (mlups !== null) segments.push({ fromSeconds: (sample.atMs - sample.intervalMs) / 1e3, toSeconds: sample.atMs / 1e3, mlups });
    previous = mlups;
  }
  return segments;
}

export class RunSampleLog {
  private readonly kept: RunSample[];
  private readonly onSample = (sample: EngineSample) => this.kept.push(runSample(sample, this.engine.inCacheMlups()));

  /** Follows the engine from now on; samples it took before have no ceiling (none is known of them). */
  constructor(private readonly engine: SampledEngine) {
    this.kept = engine.samples().map((sample) => runSample(sample, null));
    engine.on('sample', this.onSample);
  }

  /** Every sample so far, the newest last. */
  samples(): readonly RunSample[] {
    return this.kept;
  }

  /** Stops following the engine; the samples stay. */
  detach(): void {
    this.engine.off('sample', this.onSample);
  }
}
