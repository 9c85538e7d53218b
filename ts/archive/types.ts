/**
 * The records the archive keeps: one per improvement attempt, whatever its
 * fate, and the append-only ledger of changes applied to the live engine.
 */
import type { BenchmarkSummary, GateName, GateVerdict, Slot } from '../gauntlet/types.js';

/**
 * pending: proposed, not yet judged. rejected: a gauntlet gate refused it.
 * failed: the generator, the canary or the swap failed. passed: accepted by
 * the gauntlet but not applied (not faster, not significant, or the run
 * ended first). applied: live now or was until superseded. rolled-back:
 * applied, then undone by the watch window. superseded: applied, later
 * replaced by a better one. interrupted: the run ended (a stop, or a killed
 * process) before it was judged; it says nothing about the kernel.
 */
export type AttemptStatus = 'pending' | 'rejected' | 'failed' | 'passed' | 'applied' | 'rolled-back' | 'superseded' | 'interrupted';

export interface AttemptRecord {
  id: number;
  /** The attempt it descends from; null only for the reference kernel's root record. */
  parentId: number | null;
  slot: Slot;
  generator: string;
  operator: string;
  genome: Record<string, unknown> | null;
  prompt: string | null;
  /** The LLM's reply as it came (null for other generators): what to read when a reply was malformed. */
  rawReply: string | null;
  source: string;
  sourceSha256: string;
  /** sha256 of the built .so, once the compile gate built it. */
  moduleSha256: string | null;
  modulePath: string | null;
  gates: GateVerdict[];
  failedGate: GateName | null;
  /** Why it ended as it did, one sentence (empty for applied). */
  reason: string;
  benchmark: BenchmarkSummary | null;
  /** Median time of the candidate over the incumbent on the target lattice (below 1 = faster). */
  benchRatio: number | null;
  /** Live MLUPS measured in the watch window (applied and rolled-back attempts). */
  liveMlups: number | null;
  /**
   * Speedup over the reference kernel, the score parent selection
   * normalises: the gauntlet's estimate, replaced for an applied attempt by
   * what it measured live (its watch window over the incumbent's).
   */
  speedup: number | null;
  status: AttemptStatus;
  costUsd: number;
  createdAt: string;
  finishedAt: string | null;
}

export type NewAttempt = Pick<AttemptRecord, 'parentId' | 'slot' | 'generator' | 'operator' | 'genome' | 'prompt' | 'source'> &
  Partial<Pick<AttemptRecord, 'status' | 'costUsd' | 'rawReply'>>;

export type AttemptUpdate = Partial<Omit<AttemptRecord, 'id' | 'parentId' | 'slot' | 'source' | 'sourceSha256' | 'createdAt' | 'rawReply'>>;

/**
 * apply, warm-start: a module became live; rollback: the one before it is
 * live again; restart: a run began with another module live than the one
 * the ledger last put in the slot (a new process starts on the reference
 * kernel). These change what is live. trial: a module stepped the live
 * lattice in an A/B trial and was not kept (the steps it computed are in
 * the reason); approve and reject: a person's decision in approval mode.
 * These change nothing live.
 */
export type LedgerAction = 'apply' | 'rollback' | 'warm-start' | 'restart' | 'trial' | 'approve' | 'reject';

/** The actions after which another module is live in the entry's slot. */
export const LIVE_CHANGING_ACTIONS: readonly LedgerAction[] = ['apply', 'rollback', 'warm-start', 'restart'];

export type ApprovalDecision = 'approve' | 'reject';

/** A person's decision on a candidate's swap (approval mode), as the archive keeps it. */
export interface ApprovalRecord {
  attemptId: number;
  decision: ApprovalDecision;
  /** Who decided, as the dashboard names them (the user and where from). */
  decidedBy: string;
  decidedAt: string;
  /** The ledger entry that records the same decision. */
  ledgerSequence: number;
}

export interface NewApproval {
  attemptId: number;
  slot: Slot;
  decision: ApprovalDecision;
  decidedBy: string;
  /** The candidate's module and the incumbent's, for the ledger entry. */
  moduleSha256: string;
  incumbentModuleSha256: string;
  atStep: number;
}

/** One sample of a run's live simulation, as the archive keeps it (EngineSample's figures, and the in-cache ceiling then). */
export interface RunSample {
  /** Milliseconds since the run's sampling began, at the end of the interval. */
  atMs: number;
  step: number;
  /** Wall-clock MLUPS over the interval since the previous sample: everything that slowed the lattice counts. */
  mlups: number;
  /** The interval's length in milliseconds. */
  intervalMs: number;
  /** Milliseconds of that interval the lattice was held at a step boundary (benchmarks). */
  heldMs: number;
  energyDrift: number;
  /** The live step kernel's in-cache ceiling known when the sample was taken; null: not measured. */
  inCacheMlups: number | null;
}

export interface NewRun {
  startedAt: string;
  finishedAt: string;
  baselineMlups: number | null;
  rooflineMlups: number | null;
  driftTolerance: number | null;
  samples: readonly RunSample[];
}

/** A run whose samples the archive keeps: at most MAX_RUN_SAMPLES of them, merged from the samples taken. */
export interface RunRecord extends Omit<NewRun, 'samples'> {
  id: number;
  /** How many samples the run took; more than it keeps when they were merged. */
  samplesTaken: number;
}

/**
 * What makes two attempts' costs to the live job comparable: the machine,
 * and the live lattice the attempts ran beside.
 */
export interface AttemptCostKey {
  /** The machine fingerprint's hash. */
  machine: string;
  extents: readonly number[];
  precision: 'f32' | 'f64';
  /** The threads the live lattice steps with. */
  threads: number;
}

/** What one attempt that ended on its own cost the live job (economy.ts), under its key. */
export interface NewAttemptCost extends AttemptCostKey {
  attemptId: number;
  slot: Slot;
  /** Lattice-seconds: held time, charged child CPU and trial loss, as the economy measures them. */
  costSeconds: number;
  /** Wall seconds from the attempt's start to its end. */
  wallSeconds: number;
}

export interface AttemptCostRecord extends NewAttemptCost {
  recordedAt: string;
}

/** The step kernel's quiet throughput a run measured before anything changed (the engine's baseline), under its key. */
export interface NewBaseline extends AttemptCostKey {
  /** sha256 of the module measured. */
  moduleSha256: string;
  /** Lattice updates per microsecond of kernel time. */
  mlups: number;
  /** Steps the window held. */
  steps: number;
}

export interface BaselineRecord extends NewBaseline {
  recordedAt: string;
}

/**
 * The economy's decision that the search converged, as a run ended backed
 * off, under its key: a later run whose live module and generator match
 * starts backed off (ts/engine/convergence.ts).
 */
export interface NewConvergence extends AttemptCostKey {
  /** The slot that was the bottleneck when the economy backed off. */
  slot: Slot;
  /** sha256 of the module live in that slot. */
  moduleSha256: string;
  /** The generator's name. */
  generator: string;
  /** Lattice-seconds the next attempt was expected to win, and what one cost, when the economy backed off. */
  expectedGainSeconds: number;
  attemptCostSeconds: number;
  /** The ceiling that bounded the gain; null when none was known. */
  ceiling: { kind: 'roofline' | 'in-cache'; mlups: number } | null;
  /** The live step module's in-cache rate, when measured (whichever ceiling was larger). */
  inCacheMlups: number | null;
  /** The live kernel's free-running MLUPS the decision was made at. */
  liveMlups: number;
}

export interface ConvergenceRecord extends NewConvergence {
  recordedAt: string;
}

export interface LedgerEntry {
  /** 1, 2, 3, ... with no gaps. */
  sequence: number;
  action: LedgerAction;
  slot: Slot;
  attemptId: number | null;
  /** sha256 of the module that became live, and of the one it replaced. */
  moduleSha256: string;
  previousModuleSha256: string;
  /** stepCount at the boundary where the change applied. */
  atStep: number;
  reason: string;
  recordedAt: string;
  /** sha256 of the previous entry (64 zeros for the first). */
  previousHash: string;
  /** sha256 of this entry's canonical encoding, previousHash included. */
  hash: string;
}

export interface LedgerVerification {
  ok: boolean;
  entries: number;
  /** The first entry that does not chain, with why; null when ok. */
  firstBad: { sequence: number; reason: string } | null;
}

/** Which attempts `Archive.list` returns, in id order. */
export interface AttemptQuery {
  slot?: Slot;
  status?: AttemptStatus | readonly AttemptStatus[];
  /** At most this many (default: all). */
  limit?: number;
  /** Skip this many first. */
  offset?: number;
}

/**
 * Attempts by outcome. The reference kernels' root records are not attempts
 * and are not counted.
 */
export interface AttemptCounts {
  total: number;
  byStatus: Record<AttemptStatus, number>;
  /** Attempts stopped by each gate. */
  byFailedGate: Record<GateName, number>;
}

/** What `Ledger.append` is given; it assigns the sequence, the time and the hashes. */
export type NewLedgerEntry = Pick<LedgerEntry, 'action' | 'slot' | 'attemptId' | 'moduleSha256' | 'previousModuleSha256' | 'atStep' | 'reason'>;

/** What a built module depends on besides its source. */
export interface MachineFingerprint {
  cpuModel: string;
  /** Sorted, without duplicates. */
  cpuFlags: string[];
  /** First line of `g++ --version`, as the compile gate records it. */
  compilerVersion: string;
  /** The compile gate's flags on this host, in order: the hardened flags and the -march below. */
  buildFlags: string[];
  /** The named -march the build assumes (what -march=native resolves to, e.g. "znver3"). */
  march: string;
  /** The data caches from sysfs, e.g. "L1d 32K, L2 1024K, L3 32768K"; empty where sysfs says nothing. */
  caches: string;
  nodeVersion: string;
  arch: string;
  /**
   * sha256 of the fields above in a canonical encoding, but for march and
   * caches: march is in buildFlags already, and the cache sizes change no
   * build (the archive's encoding, proto/archive.proto, has no field for them).
   */
  hash: string;
}

export type FingerprintField = Exclude<keyof MachineFingerprint, 'hash'>;

export interface FingerprintDifference {
  /** The field that differs; 'hash' when the remembered fingerprint does not match its own fields. */
  field: FingerprintField | 'hash';
  remembered: string;
  current: string;
}

/** The best verified module of a slot, as remembered. */
export interface WarmStartMemory {
  slot: Slot;
  attemptId: number;
  fingerprint: MachineFingerprint;
  rememberedAt: string;
}

/**
 * match: remembered on a machine like this one; the engine still re-verifies
 * it through the gauntlet before swapping it in. mismatch: remembered under
 * another fingerprint, not trusted. none: nothing remembered for the slot.
 */
export type WarmStartCandidate =
  | { kind: 'none'; slot: Slot }
  | {
      kind: 'match';
      slot: Slot;
      attemptId: number;
      source: string;
      sourceSha256: string;
      moduleSha256: string;
      rememberedAt: string;
    }
  | {
      kind: 'mismatch';
      slot: Slot;
      attemptId: number;
      differences: FingerprintDifference[];
      /** One sentence naming every differing field. */
      reason: string;
    };
