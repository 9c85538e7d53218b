/**
 * The live display of `ouroboros run`, fed by the engine's events. On a
 * terminal it redraws a short status block in place and prints notable
 * events (attempts ending, swaps, rollbacks, the circuit breaker) above it;
 * elsewhere it writes one line per event, so a log file reads as a history.
 */
import type { AttemptRecord, AttemptStatus, LedgerEntry } from '../archive/types.js';
import type { EconomyTransition } from '../engine/economy.js';
import type { AttemptPhase, AttemptStatusReport, EngineEvents, EngineSample } from '../engine/events.js';
import { GATES, type GateName } from '../gauntlet/types.js';
import { printable } from '../report/escape.js';
import { formatDrift, formatMlups, shortHash } from '../report/format.js';
import { ATTEMPT_STATUSES } from '../report/run-summary.js';

/** What the display needs of the engine: its typed events. */
export interface EngineEventSource {
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): unknown;
  off<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): unknown;
}

export interface ProgressOutput {
  write(text: string): void;
  /** A terminal: redraw in place. Otherwise one line per event. */
  isTTY: boolean;
  /** Terminal width; lines are cut to it so the redraw can count them. */
  columns?: number;
}

/** Redraws closer together than this only flicker. */
const REDRAW_INTERVAL_MS = 100;

export class RunProgress {
  readonly #output: ProgressOutput;
  #first: EngineSample | null = null;
  #last: EngineSample | null = null;
  #maxDrift = 0;
  readonly #statusById = new Map<number, AttemptStatus>();
  readonly #gateById = new Map<number, GateName>();
  readonly #inFlight = new Map<number, AttemptPhase>();
  #notice = '';
  /** The economy's last transition: the search is backed off or searching, and why. */
  #economy: EconomyTransition | null = null;
  #drawnLines = 0;
  #lastDrawMs = 0;
  #detach: (() => void) | null = null;

  constructor(output: ProgressOutput) {
    this.#output = output;
  }

  /** Listens to `engine` until detach(). */
  attach(engine: EngineEventSource): void {
    const listeners: { [E in keyof EngineEvents]?: (...args: EngineEvents[E]) => void } = {
      sample: (sample) => this.sample(sample),
      'attempt-phase': (report) => this.phase(report),
      'attempt-finished': (record) => this.finished(record),
      applied: (entry) => this.ledger(entry),
      'rolled-back': (entry) => this.ledger(entry),
      'circuit-open': (info) => this.event(`circuit open: ${info.failures} ${info.kind} failures in a row, backing off ${(info.backoffMs / 1e3).toFixed(1)} s`),
      'circuit-closed': (info) => this.event(`circuit closed: ${info.kind}`),
      paused: (reason) => this.event(`paused: ${printable(reason)}`),
      resumed: () => this.event('resumed'),
      'warm-start': (report) =>
        this.event(
          `warm start ${report.slot}: ${report.outcome}${report.attemptId === null ? '' : ` (attempt #${report.attemptId})`}${report.reason === '' ? '' : `: ${printable(report.reason)}`}`,
        ),
      'budget-exhausted': (report) => this.event(`budget spent: ${printable(report.reason)}`),
      economy: (transition) => this.economy(transition),
      error: (error) => this.event(`engine error: ${printable(error.message)}`),
    };
    const entries = Object.entries(listeners) as [keyof EngineEvents, (...args: unknown[]) => void][];
    for (const [event, listener] of entries) engine.on(event, listener);
    this.#detach = () => {
      for (const [event, listener] of entries) engine.off(event, listener);
    };
  }

  detach(): void {
    this.#detach?.();
    this.#detach = null;
    this.#clear();
  }

  sample(sample: EngineSample): void {
    this.#first ??= sample;
    this.#last = sample;
    this.#maxDrift = Math.max(this.#maxDrift, sample.energyDrift);
    if (this.#output.isTTY) this.#redraw(false);
    else this.#line(this.#sampleLine(sample));
  }

  phase(report: AttemptStatusReport): void {
    if (report.id > 0 && !this.#inFlight.has(report.id)) this.#forgetProvisional();
    if (report.phase === 'done') this.#inFlight.delete(report.id);
    else this.#inFlight.set(report.id, report.phase);
    if (this.#output.isTTY) this.#redraw(false);
    else this.#line(`${attemptLabel(report.id)} ${report.slot}: ${report.phase} (${printable(report.generator)}, parent ${report.parentId ?? '-'})`);
  }

  /**
   * An attempt is known by a provisional negative id until the archive gives
   * it one; its first event under the real id retires the oldest provisional one.
   */
  #forgetProvisional(): void {
    const provisional = [...this.#inFlight.keys()].filter((id) => id < 0);
    if (provisional.length > 0) this.#inFlight.delete(Math.max(...provisional));
  }

  finished(record: AttemptRecord): void {
    this.#inFlight.delete(record.id);
    this.#statusById.set(record.id, record.status);
    if (record.failedGate !== null) this.#gateById.set(record.id, record.failedGate);
    this.event(finishedLine(record));
  }

  ledger(entry: LedgerEntry): void {
    if (entry.action === 'rollback' && entry.attemptId !== null) this.#statusById.set(entry.attemptId, 'rolled-back');
    const attempt = entry.attemptId === null ? '' : ` (attempt #${entry.attemptId})`;
    const reason = entry.reason === '' ? '' : `: ${printable(entry.reason)}`;
    this.event(
      `ledger #${entry.sequence} ${entry.action} ${entry.slot}${attempt} at step ${entry.atStep}, ` +
        `module ${shortHash(entry.previousModuleSha256)} -> ${shortHash(entry.moduleSha256)}${reason}`,
    );
  }

  economy(transition: EconomyTransition): void {
    this.#economy = transition;
    const verb = transition.state === 'backed-off' ? 'backed off' : 'searching';
    this.event(`economy ${verb}: ${printable(transition.reason)} (search cost so far ${transition.costSeconds.toFixed(1)} s of the live job)`);
  }

  /** A notable event: a permanent line above the status block. */
  event(text: string): void {
    if (!this.#output.isTTY) {
      this.#line(text);
      return;
    }
    this.#notice = text;
    this.#clear();
    this.#output.write(`${this.#fit(text)}\n`);
    this.#redraw(true);
  }

  /** The status block's lines, as drawn on a terminal. */
  statusLines(): string[] {
    const last = this.#last;
    const lines: string[] = [];
    if (last && this.#first) {
      lines.push(`step ${last.step}  |  ${this.#throughput(last)}  |  ` + `energy drift ${formatDrift(last.energyDrift)} (max ${formatDrift(this.#maxDrift)})`);
      lines.push(
        `live  ${Object.entries(last.liveModules)
          .map(([slot, name]) => `${slot}: ${printable(name)}`)
          .join('   ')}`,
      );
    } else {
      lines.push('waiting for the first sample');
    }
    lines.push(this.#attemptsLine());
    const gates = this.#gatesLine();
    if (gates !== '') lines.push(gates);
    if (this.#notice !== '') lines.push(`last: ${this.#notice}`);
    return lines;
  }

  /** Now against the start; an interval spent mostly held says so instead of a misleading rate. */
  #throughput(last: EngineSample): string {
    const first = this.#first!;
    if (isMostlyHeld(last)) return `held (benchmark), ${formatMlups(first.mlups)} MLUPS at start`;
    const ratio = first.mlups > 0 ? ` (${(last.mlups / first.mlups).toFixed(2)}x)` : '';
    return `${formatMlups(last.mlups)} MLUPS now, ${formatMlups(first.mlups)} at start${ratio}`;
  }

  #attemptsLine(): string {
    const counts = new Map<AttemptStatus, number>();
    for (const status of this.#statusById.values()) counts.set(status, (counts.get(status) ?? 0) + 1);
    const byOutcome = ATTEMPT_STATUSES.filter((status) => counts.has(status)).map((status) => `${status} ${counts.get(status)}`);
    const flying = [...this.#inFlight].map(([id, phase]) => (id > 0 ? `#${id} ${phase}` : `new ${phase}`));
    const pacing = this.#economy?.state === 'backed-off' ? '  |  search backed off' : '';
    return (
      `attempts ${this.#statusById.size}${byOutcome.length > 0 ? `: ${byOutcome.join(', ')}` : ''}` +
      (flying.length > 0 ? `  |  in flight: ${flying.join(', ')}` : '') +
      pacing
    );
  }

  #gatesLine(): string {
    const counts = new Map<GateName, number>();
    for (const [id, gate] of this.#gateById) {
      if (this.#statusById.get(id) === 'rejected') counts.set(gate, (counts.get(gate) ?? 0) + 1);
    }
    const parts = GATES.filter((gate) => counts.has(gate)).map((gate) => `${gate} ${counts.get(gate)}`);
    return parts.length > 0 ? `rejected by gate: ${parts.join(', ')}` : '';
  }

  #sampleLine(sample: EngineSample): string {
    const live = Object.entries(sample.liveModules)
      .map(([slot, name]) => `${slot}=${printable(name)}`)
      .join(' ');
    return (
      `sample t=${(sample.atMs / 1e3).toFixed(1)}s step ${sample.step} ${formatMlups(sample.mlups)} MLUPS ` +
      (sample.heldMs > 0 ? `(held ${(sample.heldMs / 1e3).toFixed(1)}s) ` : '') +
      `drift ${formatDrift(sample.energyDrift)} live ${live}`
    );
  }

  #line(text: string): void {
    this.#output.write(`${text}\n`);
  }

  #fit(text: string): string {
    const columns = this.#output.columns;
    return columns !== undefined && columns > 1 && text.length >= columns ? `${text.slice(0, columns - 2)}…` : text;
  }

  #clear(): void {
    if (this.#drawnLines === 0) return;
    this.#output.write(`\x1b[${this.#drawnLines}F\x1b[J`);
    this.#drawnLines = 0;
  }

  #redraw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.#lastDrawMs < REDRAW_INTERVAL_MS) return;
    this.#lastDrawMs = now;
    const lines = this.statusLines().map((line) => this.#fit(line));
    this.#clear();
    this.#output.write(`${lines.join('\n')}\n`);
    this.#drawnLines = lines.length;
  }
}

/** Held for at least half of the sample's interval. */
function isMostlyHeld(sample: EngineSample): boolean {
  return sample.heldMs > 0 && sample.heldMs >= sample.intervalMs / 2;
}

/** Negative ids are provisional: the attempt has no archive record yet. */
function attemptLabel(id: number): string {
  return id > 0 ? `attempt #${id}` : 'attempt (new)';
}

function finishedLine(record: AttemptRecord): string {
  const how = `${printable(record.generator)} ${printable(record.operator)}, parent ${record.parentId ?? '-'}`;
  const gate = record.failedGate === null ? '' : ` at ${record.failedGate}`;
  const speed = record.speedup === null ? '' : `, speedup ${record.speedup.toFixed(2)}x`;
  const reason = record.reason === '' ? '' : `: ${printable(record.reason)}`;
  return `attempt #${record.id} ${record.slot} ${record.status}${gate} (${how}${speed})${reason}`;
}
