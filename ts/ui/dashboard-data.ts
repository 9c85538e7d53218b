/**
 * What the dashboard shows, independent of HTTP: a snapshot of the run, an
 * attempt's detail, and a stream of updates. A live run's data follows the
 * engine's events (events.ts) and reads the archive; a finished run's comes
 * from the archive alone (its attempts, its ledger and the samples of its
 * latest run), and has no controls.
 */
import type { Archive } from '../archive/archive.js';
import type { ApprovalRecord, AttemptRecord, LedgerEntry, LedgerVerification, RunSample } from '../archive/types.js';
import type { ApprovalRequest } from '../engine/attempt-runner.js';
import type { Engine } from '../engine/engine.js';
import { driftTolerance } from '../engine/main-lattice.js';
import type { AttemptStatusReport, EngineSample, GateProgressReport } from '../engine/events.js';
import type { GateProgress } from '../gauntlet/pipeline.js';
import type { GateName, Slot } from '../gauntlet/types.js';
import { SLOTS } from '../lattice/lattice.js';
import { driftToleranceAt } from '../lattice/watchdog.js';
import type { ApprovalDesk } from './approval-desk.js';
import { RunSampleLog } from '../report/run-samples.js';
import { changesLiveKernel } from '../report/run-summary.js';
import { type DiffLine, lineDiff } from './line-diff.js';

/** Samples a snapshot carries: the newest; at the default 1 s interval, the last half hour. */
const MAX_SNAPSHOT_SAMPLES = 2_000;
const MAX_ALERTS = 200;

export interface RecordSummary {
  id: number;
  parentId: number | null;
  slot: Slot;
  status: AttemptRecord['status'];
  generator: string;
  operator: string;
  failedGate: string | null;
  reason: string;
  speedup: number | null;
  benchRatio: number | null;
}

export interface Alert {
  at: string;
  kind: 'watchdog-rollback' | 'rollback' | 'breaker-open' | 'drift' | 'below-incumbent' | 'error';
  message: string;
}

export interface LiveKernel {
  slot: Slot;
  attemptId: number;
  name: string;
  genome: Record<string, unknown> | null;
  source: string;
}

/** An attempt in flight: its phase, and in the gauntlet the gates it has met so far. */
export interface InFlightAttempt extends AttemptStatusReport {
  gates: GateProgress[];
  /** Where it is, in words: its phase, or the gates under way ("remote: gauntlet" when the fleet evaluates it and reports only the verdict). */
  where: string;
}

/** Which run of a finished archive the charts show. */
export interface ArchivedRun {
  id: number;
  runs: number;
  startedAt: string;
  finishedAt: string;
  samplesTaken: number;
}

export interface DashboardSnapshot {
  mode: 'live' | 'archive';
  archive: string;
  settings: Record<string, string>;
  rooflineMlups: number | null;
  baselineMlups: number | null;
  driftTolerance: number | null;
  /** Each with the in-cache ceiling known when it was taken (null: not measured). */
  samples: readonly RunSample[];
  /** A finished archive's run whose samples are shown; null live, or when the archive kept no samples. */
  run: ArchivedRun | null;
  engine: { running: boolean; paused: boolean; simulationPaused: boolean; approvalMode: boolean } | null;
  live: LiveKernel[];
  inFlight: InFlightAttempt[];
  records: RecordSummary[];
  ledger: LedgerEntry[];
  verification: LedgerVerification;
  alerts: Alert[];
  waiting: ApprovalRequest[];
}

export interface AttemptDetail {
  record: AttemptRecord;
  parent: { id: number; status: string } | null;
  /** The source against the parent's, or null (no parent, or too long to diff). */
  diff: DiffLine[] | null;
  approval: ApprovalRecord | null;
  waiting: ApprovalRequest | null;
  ledger: LedgerEntry[];
  phase: InFlightAttempt | null;
}

/** One update of the stream: a sample goes to the chart as it is; any other says the snapshot changed. */
export type DashboardUpdate = { type: 'sample'; sample: RunSample } | { type: 'changed'; what: string } | { type: 'alert'; alert: Alert };

export interface DashboardControls {
  pauseEngine(): void;
  resumeEngine(): void;
  pauseSimulation(): void;
  resumeSimulation(): void;
  rollback(slot: Slot): Promise<string>;
  stop(): Promise<void>;
  setApprovalMode(on: boolean): void;
  decide(attemptId: number, decision: 'approve' | 'reject', decidedBy: string): boolean;
}

export interface DashboardData {
  snapshot(): DashboardSnapshot;
  attempt(id: number): AttemptDetail | null;
  subscribe(listener: (update: DashboardUpdate) => void): () => void;
  controls: DashboardControls | null;
}

function summarize(record: AttemptRecord): RecordSummary {
  const { id, parentId, slot, status, generator, operator, failedGate, reason, speedup, benchRatio } = record;
  return { id, parentId, slot, status, generator, operator, failedGate, reason, speedup, benchRatio };
}

function liveKernels(archive: Archive, live: Partial<Record<Slot, { attemptId: number; name: string }>>): LiveKernel[] {
  return SLOTS.filter((slot) => live[slot] !== undefined).map((slot) => {
    const { attemptId, name } = live[slot]!;
    const record = archive.get(attemptId);
    return { slot, attemptId, name, genome: record?.genome ?? null, source: record?.source ?? '' };
  });
}

/** Where an attempt in flight is, in words: see InFlightAttempt.where. */
export function whereInFlight(report: AttemptStatusReport, gates: readonly GateProgress[], remoteEvaluation: boolean): string {
  if (report.phase !== 'gauntlet') return report.phase;
  if (gates.length === 0) return remoteEvaluation ? 'remote: gauntlet' : 'gauntlet';
  const running = gates.filter((gate) => gate.state === 'started').map((gate) => gate.gate);
  const passed = gates.filter((gate) => gate.state === 'finished' && gate.passed).length;
  if (running.length > 0) return `gauntlet: ${running.join(' + ')} (${passed} passed)`;
  const last = gates.at(-1) as Extract<GateProgress, { state: 'finished' }>;
  return `gauntlet: ${last.gate} ${last.passed ? 'passed' : `failed: ${last.reason}`}`;
}

function detail(archive: Archive, id: number, phase: InFlightAttempt | null, waiting: ApprovalRequest | null): AttemptDetail | null {
  const record = archive.get(id);
  if (record === null) return null;
  const parent = record.parentId === null ? null : archive.get(record.parentId);
  return {
    record,
    parent: parent === null ? null : { id: parent.id, status: parent.status },
    diff: parent === null ? null : lineDiff(parent.source, record.source),
    approval: archive.approvals.get(id),
    waiting,
    ledger: archive.ledger.entries().filter((entry) => entry.attemptId === id),
    phase,
  };
}

/** The last change of each slot's live kernel names what was live when the run ended; a slot no run used has none. */
function liveAtEnd(archive: Archive): Partial<Record<Slot, { attemptId: number; name: string }>> {
  const live: Partial<Record<Slot, { attemptId: number; name: string }>> = {};
  const entries = archive.ledger.entries().filter(changesLiveKernel);
  for (const slot of SLOTS) {
    const root = archive.root(slot);
    const attemptId = entries.filter((entry) => entry.slot === slot).at(-1)?.attemptId ?? root?.id;
    if (attemptId === undefined) continue;
    live[slot] = { attemptId, name: attemptId === root?.id ? 'reference' : `attempt ${attemptId}` };
  }
  return live;
}

/** A finished run, read from its archive: the charts show the latest run that kept its samples. */
export function archiveDashboard(archive: Archive): DashboardData {
  const runs = archive.runs.list();
  const latest = runs.at(-1) ?? null;
  const samples = latest === null ? [] : archive.runs.samples(latest.id);
  return {
    snapshot: () => ({
      mode: 'archive',
      archive: archive.file,
      settings: {},
      rooflineMlups: latest?.rooflineMlups ?? null,
      baselineMlups: latest?.baselineMlups ?? null,
      driftTolerance: latest?.driftTolerance ?? null,
      samples,
      run:
        latest === null
          ? null
          : { id: latest.id, runs: runs.length, startedAt: latest.startedAt, finishedAt: latest.finishedAt, samplesTaken: latest.samplesTaken },
      engine: null,
      live: liveKernels(archive, liveAtEnd(archive)),
      inFlight: [],
      records: archive.list().map(summarize),
      ledger: archive.ledger.entries(),
      verification: archive.ledger.verify(),
      alerts: [],
      waiting: [],
    }),
    attempt: (id) => detail(archive, id, null, null),
    subscribe: () => () => undefined,
    controls: null,
  };
}

export interface LiveDashboardOptions {
  engine: Engine;
  archive: Archive;
  desk: ApprovalDesk;
  settings: Record<string, string>;
  rooflineMlups: number;
  /** The fleet evaluates the candidates: its workers report the verdict, not each gate. */
  remoteEvaluation: boolean;
  /** Performs a control-socket request (engineControl): rollback and stop go the way `ouroboros rollback` and `stop` do. */
  rollback(slot: Slot): Promise<string>;
  stop(): Promise<void>;
}

/** A run in progress: follows the engine's events and keeps the alerts they raise. */
export class LiveDashboard implements DashboardData {
  private readonly listeners = new Set<(update: DashboardUpdate) => void>();
  private readonly inFlight = new Map<number, AttemptStatusReport>();
  /** The gates each archived attempt in the gauntlet has met, by gate, in the order they began. */
  private readonly gates = new Map<number, Map<GateName, GateProgress>>();
  private readonly log: RunSampleLog;
  private readonly alerts: Alert[] = [];
  private drifting = false;
  private belowIncumbent = false;
  readonly controls: DashboardControls;

  constructor(private readonly options: LiveDashboardOptions) {
    const { engine, desk } = options;
    // Before this dashboard's own sample listener, so that the log has annotated a sample when the dashboard sends it.
    this.log = new RunSampleLog(engine);
    this.controls = {
      pauseEngine: () => engine.pause('paused from the dashboard'),
      resumeEngine: () => engine.resume(),
      pauseSimulation: () => {
        engine.lattice.pause();
        this.changed('simulation');
      },
      resumeSimulation: () => {
        engine.lattice.resume();
        this.changed('simulation');
      },
      rollback: (slot) => options.rollback(slot),
      stop: () => options.stop(),
      setApprovalMode: (on) => desk.setEnabled(on),
      decide: (attemptId, decision, decidedBy) => desk.decide(attemptId, decision, decidedBy),
    };
    this.follow();
  }

  private follow(): void {
    const { engine, desk } = this.options;
    engine.on('sample', (sample) => this.onSample(sample));
    engine.on('attempt-phase', (report) => this.onPhase(report));
    engine.on('gate-progress', (report) => this.onGate(report));
    engine.on('attempt-finished', () => this.changed('records'));
    engine.on('applied', () => this.changed('ledger'));
    engine.on('rolled-back', (entry) => {
      const watchdog = /watchdog|watch window/i.test(entry.reason);
      this.alert(watchdog ? 'watchdog-rollback' : 'rollback', `#${entry.sequence} ${entry.slot} rolled back at step ${entry.atStep}: ${entry.reason}`);
      this.changed('ledger');
    });
    engine.on('circuit-open', ({ kind, failures, backoffMs }) =>
      this.alert('breaker-open', `circuit breaker open after ${failures} ${kind} failures: attempts wait ${(backoffMs / 1000).toFixed(0)} s`),
    );
    engine.on('paused', () => this.changed('engine'));
    engine.on('resumed', () => this.changed('engine'));
    engine.on('stopped', () => this.changed('engine'));
    desk.on('waiting', () => this.changed('approvals'));
    desk.on('decided', () => this.changed('approvals'));
    desk.on('mode', () => this.changed('approvals'));
  }

  private onSample(sample: EngineSample): void {
    this.emit({ type: 'sample', sample: this.log.samples().at(-1)! });
    const { config } = this.options.engine;
    const tolerance = driftToleranceAt(driftTolerance(config), config.lattice.precision, sample.step);
    const drifting = Math.abs(sample.energyDrift) > tolerance;
    if (drifting && !this.drifting)
      this.alert('drift', `energy drift ${sample.energyDrift.toExponential(2)} is above the tolerance ${tolerance.toExponential(1)} at step ${sample.step}`);
    this.drifting = drifting;
    if (sample.heldMs > 0) return;
    // The live kernel's own watch-window figure is what it promised; a free-running sample well below it is worth a look.
    const incumbent = this.options.archive.get(this.options.engine.summary().liveModules.step.attemptId);
    const promised = incumbent?.liveMlups ?? null;
    const floor = promised === null ? null : promised * (1 - this.options.engine.config.maxDegradation);
    const below = floor !== null && sample.mlups < floor;
    if (below && !this.belowIncumbent) {
      this.alert(
        'below-incumbent',
        `live ${sample.mlups.toFixed(1)} MLUPS is below the incumbent's ${promised!.toFixed(1)} (attempt ${incumbent!.id}) by more than maxDegradation`,
      );
    }
    this.belowIncumbent = below;
  }

  private onPhase(report: AttemptStatusReport): void {
    if (report.id > 0) {
      // The provisional entry of the same attempt (same start, negative id) is replaced by the archived one.
      for (const [id, known] of this.inFlight) if (id < 0 && known.startedAt === report.startedAt && known.slot === report.slot) this.inFlight.delete(id);
    }
    if (report.phase === 'done') {
      this.inFlight.delete(report.id);
      this.gates.delete(report.id);
    } else this.inFlight.set(report.id, report);
    this.changed('in-flight');
  }

  private onGate(report: GateProgressReport): void {
    // The patch gate opens every gauntlet run: an attempt judged again against a newer incumbent starts afresh.
    if (report.gate === 'patch' && report.state === 'started') this.gates.delete(report.id);
    const gates = this.gates.get(report.id) ?? new Map<GateName, GateProgress>();
    gates.set(report.gate, report);
    this.gates.set(report.id, gates);
    this.changed('in-flight');
  }

  private inFlightAttempt(report: AttemptStatusReport): InFlightAttempt {
    const gates = [...(this.gates.get(report.id)?.values() ?? [])];
    return { ...report, gates, where: whereInFlight(report, gates, this.options.remoteEvaluation) };
  }

  private alert(kind: Alert['kind'], message: string): void {
    const alert = { at: new Date().toISOString(), kind, message };
    this.alerts.push(alert);
    if (this.alerts.length > MAX_ALERTS) this.alerts.shift();
    this.emit({ type: 'alert', alert });
  }

  private changed(what: string): void {
    this.emit({ type: 'changed', what });
  }

  private emit(update: DashboardUpdate): void {
    for (const listener of this.listeners) listener(update);
  }

  subscribe(listener: (update: DashboardUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): DashboardSnapshot {
    const { engine, archive, desk } = this.options;
    const summary = engine.summary();
    return {
      mode: 'live',
      archive: archive.file,
      settings: this.options.settings,
      rooflineMlups: this.options.rooflineMlups,
      baselineMlups: summary.baselineMlups > 0 ? summary.baselineMlups : null,
      driftTolerance: driftTolerance(engine.config),
      samples: this.log.samples().slice(-MAX_SNAPSHOT_SAMPLES),
      run: null,
      engine: { running: engine.running, paused: engine.paused, simulationPaused: engine.lattice.paused, approvalMode: desk.enabled },
      live: liveKernels(archive, summary.liveModules),
      inFlight: [...this.inFlight.values()].map((report) => this.inFlightAttempt(report)),
      records: archive.list().map(summarize),
      ledger: archive.ledger.entries(),
      verification: archive.ledger.verify(),
      alerts: [...this.alerts],
      waiting: desk.waiting(),
    };
  }

  attempt(id: number): AttemptDetail | null {
    const waiting = this.options.desk.waiting().find((request) => request.attemptId === id) ?? null;
    const report = this.inFlight.get(id);
    return detail(this.options.archive, id, report === undefined ? null : this.inFlightAttempt(report), waiting);
  }
}
