/**
 * Samples of the live simulation: the step count and wall-clock MLUPS every
 * sample interval (from step-count differences, so everything that slows
 * the simulation counts), the energy drift every energy interval (the
 * running watchdog's last, or summed here from a copy of both levels off the
 * event loop when no watchdog runs: too costly for every sample on a large
 * lattice), the module live in each slot, and how much of the interval the lattice was
 * held at a step boundary (a held interval says nothing about the kernel's
 * speed, only about what the search costs).
 */
import type { Slot } from '../gauntlet/types.js';
import { type Lattice, SLOTS } from '../lattice/lattice.js';
import type { EngineSample } from './events.js';

/** Samples kept in memory for summary() and the report (over 27 hours at one a second). */
const MAX_SAMPLES = 100_000;

export interface SamplerOptions {
  sampleIntervalMs: number;
  energyIntervalMs: number;
  now: () => number;
  /** Milliseconds the lattice has been held at a step boundary so far (HeldClock.totalMs). */
  heldMs: () => number;
  onSample: (sample: EngineSample) => void;
  onError: (error: Error) => void;
}

export class LiveSampler {
  readonly samples: EngineSample[] = [];
  maxEnergyDrift = 0;
  private timer: NodeJS.Timeout | null = null;
  private last: { atMs: number; step: number; heldMs: number } | null = null;
  private lastEnergyMs = -Infinity;
  private energyDrift = 0;
  private energyInFlight: Promise<void> | null = null;
  private readonly startedMs: number;

  constructor(
    private readonly lat: Lattice,
    private readonly options: SamplerOptions,
  ) {
    this.startedMs = options.now();
  }

  start(): void {
    this.last = { atMs: this.options.now(), step: this.lat.stepCount, heldMs: this.options.heldMs() };
    this.timer = setInterval(() => {
      try {
        this.options.onSample(this.take());
      } catch (error) {
        this.options.onError(error as Error);
      }
    }, this.options.sampleIntervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves once the energy sum in flight, if any, has been counted in maxEnergyDrift. */
  async settled(): Promise<void> {
    await this.energyInFlight;
  }

  /**
   * The drift the running watchdog found at its last snapshot, when it has
   * checked one: it sums the energy of every snapshot anyway (every
   * `watchdog.everySteps` steps), and summing it again here, from a copy of
   * both levels (256 MiB at 4096^2 f64), cost the run about 2% of its
   * throughput. Without a watchdog the sampler sums it itself.
   */
  private takeEnergy(): void {
    const checked = this.lat.checkedEnergyDrift;
    if (checked === null) {
      this.measureEnergy();
      return;
    }
    this.energyDrift = checked.energyDrift;
    this.maxEnergyDrift = Math.max(this.maxEnergyDrift, checked.energyDrift);
  }

  /**
   * Has the runner copy both levels at its next step boundary, on its own
   * thread, and sums their energy on a libuv thread (about 100 ms at 4096^2,
   * seconds on a loaded machine); the event loop waits for neither. Samples
   * taken meanwhile carry the last drift known.
   */
  private measureEnergy(): void {
    const initial = this.lat.initialEnergy;
    this.energyInFlight = this.lat
      .energyAsync()
      .then((energy) => {
        this.energyDrift = initial !== 0 ? Math.abs(energy - initial) / Math.abs(initial) : Math.abs(energy);
        this.maxEnergyDrift = Math.max(this.maxEnergyDrift, this.energyDrift);
      })
      .catch((error: unknown) => this.options.onError(error as Error))
      .finally(() => {
        this.energyInFlight = null;
      });
  }

  liveModules(): Record<Slot, string> {
    const slots = this.lat.slots();
    return Object.fromEntries(SLOTS.map((slot) => [slot, slots[slot].live.name])) as Record<Slot, string>;
  }

  /** One sample now; MLUPS over the time since the previous one. */
  take(): EngineSample {
    const atMs = this.options.now();
    const step = this.lat.stepCount;
    const totalHeldMs = this.options.heldMs();
    const previous = this.last ?? { atMs: this.startedMs, step, heldMs: totalHeldMs };
    const elapsedMs = atMs - previous.atMs;
    // A watchdog restore moves the step counter back; that interval says nothing about speed.
    const mlups = elapsedMs > 0 && step >= previous.step ? ((step - previous.step) * this.lat.cells) / (elapsedMs * 1e3) : 0;
    this.last = { atMs, step, heldMs: totalHeldMs };
    if (atMs - this.lastEnergyMs >= this.options.energyIntervalMs && this.energyInFlight === null) {
      this.lastEnergyMs = atMs;
      this.takeEnergy();
    }
    const heldMs = Math.min(Math.max(totalHeldMs - previous.heldMs, 0), Math.max(elapsedMs, 0));
    const sample = {
      atMs: atMs - this.startedMs,
      step,
      mlups,
      intervalMs: Math.max(elapsedMs, 0),
      heldMs,
      energyDrift: this.energyDrift,
      liveModules: this.liveModules(),
    };
    this.samples.push(sample);
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
    return sample;
  }
}
