/**
 * One improvement attempt, start to end: pick the slot and a parent, ask the
 * generator for a child, let the predictor skip it or not, run the gauntlet
 * against the live incumbent, and hand a candidate that passed it to the
 * live changes (canary, then a live A/B trial; or, when the sandbox's
 * benchmark decides, swap and watch for a winner of it). A candidate is never
 * dropped because the incumbent changed meanwhile: a trial runs against
 * whatever is live at its turn, and a benchmark winner judged against a
 * replaced incumbent is judged again. Whatever happens, the attempt ends in
 * the archive with a status and a reason, and the circuit breaker hears how
 * it went.
 */
import os from 'node:os';
import type { Archive } from '../archive/archive.js';
import { INTERRUPTED_REASON } from '../archive/archive.js';
import { sourceSha256 } from '../archive/canonical-hash.js';
import type { AttemptRecord, AttemptStatus, MachineFingerprint } from '../archive/types.js';
import type { GateName, Slot } from '../gauntlet/types.js';
import { describeInfrastructure } from '../gauntlet/infrastructure.js';
import { sanitiseFeedback } from '../generators/feedback.js';
import type { CandidateProposal, FailedSibling, Generator, ParentKernel, SlotProfileSummary } from '../generators/types.js';
import { GeneratorError } from '../generators/types.js';
import type { Lattice } from '../lattice/lattice.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { EngineConfig } from './config.js';
import type { AttemptPhase, GateProgressReport } from './events.js';
import type { ChangeOutcome, Incumbent, LiveChanges } from './live-changes.js';
import { STOPPED_FIRST_REASON, fileSha256, trialText } from './live-changes.js';
import { benchmarkText, type CandidateJudge, type GauntletResources, type Judgement, judgeCandidate, notABenchmarkWin, screenedOut } from './judge.js';
import { eligibleParents, selectParent } from './parent-selection.js';
import { candidateFeatures } from './candidate-features.js';
import type { PredictorDecision, Predictor } from './predictor.js';
import { type StrategyMemory, describeRecord } from './strategy-memory.js';
import { isTrustedSource } from './trust.js';

/** The reason of every attempt the predictor skipped starts with this. */
export const SKIPPED_BY_PREDICTOR = 'skipped by the predictor';
/** Mates offered to the generator for crossover. */
const MATES = 4;
/** The least steps per call a candidate is judged with in the sandbox: the batch a winner gets live at 4096^2. */
const MIN_JUDGED_STEPS_PER_CALL = 8;
/** Proposals a generator may make per candidate it was asked for before the engine stops looking for ones not yet archived. */
const PROPOSALS_PER_CANDIDATE = 4;

/** The evidence a person sees before approving or rejecting a candidate's swap (approval mode). */
export interface ApprovalRequest {
  attemptId: number;
  slot: Slot;
  parentId: number;
  /** The attempt live in the slot, which the candidate would replace. */
  incumbentId: number;
  benchRatio: number | null;
  speedup: number | null;
  /** What the gauntlet's benchmark said, in words. */
  evidence: string;
}

/**
 * A person's answer; 'unattended' when no one is asked (approval mode is
 * off: the candidate goes on and no decision is recorded); null when the
 * run stopped before an answer came.
 */
export type ApprovalAnswer = { decision: 'approve' | 'reject'; decidedBy: string } | 'unattended' | null;

/** Awaited before a candidate that passed every gate goes live; `signal` aborts at the engine's stop. */
export type Approver = (request: ApprovalRequest, signal: AbortSignal) => Promise<ApprovalAnswer>;

/** What the caller of attemptImprovement() may choose; the rest the engine picks. */
export interface AttemptRequest {
  slot?: Slot;
  /** Breed from this archived attempt instead of one chosen by the parent-selection rule. */
  parentId?: number;
}

/** Everything an attempt needs from the engine that runs it. */
export interface AttemptHost {
  lat: Lattice;
  config: EngineConfig;
  archive: Archive;
  /** This machine's, for the warm-start memory. */
  fingerprint: MachineFingerprint;
  live: LiveChanges;
  breaker: CircuitBreaker;
  memory: StrategyMemory;
  predictor: Predictor;
  generator: Generator;
  generatorSlots: readonly Slot[];
  gauntlet: GauntletResources;
  /** Runs the gauntlet on a candidate (default judgeCandidate with the engine's settings): tests inject verdicts. */
  judge?: CandidateJudge;
  /** Approval mode: asked before a candidate that passed every gate goes live; absent, it goes on at once. */
  approve?: Approver;
  signal: AbortSignal;
  rootOf(slot: Slot): number;
  /** The latest sampled live MLUPS (0 before the first sample). */
  liveMlups(): number;
  phase(report: { id: number; slot: Slot; phase: AttemptPhase; parentId: number | null; generator: string }): void;
  /** Told of each gauntlet gate of an attempt as it begins and ends (the dashboard shows it); absent, nobody is. */
  gateProgress?(report: GateProgressReport): void;
  addCost(usd: number): void;
}

/** Teaches the predictor and the strategy memory one outcome of this attempt's judgement (speedups default to the gauntlet's). */
type Learn = (won: boolean, speedupOverReference?: number | null, speedupOverIncumbent?: number | null) => void;

interface Settled {
  status: AttemptStatus;
  reason: string;
  /** The circuit breaker's failure kind, or null for an attempt that went through (an interrupted one counts neither way). */
  failure: string | null;
}

/** An attempt the stop cut short: the same status and reason as one a killed process left pending (Archive.markInterrupted). */
const INTERRUPTED: Settled = { status: 'interrupted', reason: INTERRUPTED_REASON, failure: null };

function now(): string {
  return new Date().toISOString();
}

/** The slot with the largest share of kernel time that the generator can write kernels for. */
export function chooseSlot(lat: Lattice, slots: readonly Slot[]): Slot {
  const profile = lat.profile();
  return slots.reduce((best, slot) => (profile[slot].share > profile[best].share ? slot : best));
}

function profileSummary(host: AttemptHost, slot: Slot): SlotProfileSummary {
  const figures = host.lat.profile()[slot];
  return {
    share: figures.share,
    meanNs: figures.meanNs,
    p99Ns: figures.p99Ns,
    mlups: host.liveMlups(),
    extents: host.lat.extents,
    precision: host.lat.precision,
    // The lattice does not report its pool size; 0 in the configuration means the core took every CPU.
    threads: host.config.lattice.threads > 0 ? host.config.lattice.threads : os.availableParallelism(),
  };
}

function parentKernel(record: AttemptRecord): ParentKernel {
  return { attemptId: record.id, source: record.source, genome: record.genome, mlups: record.liveMlups };
}

function recentFailures(records: readonly AttemptRecord[], count: number): FailedSibling[] {
  return (
    records
      .filter((record) => record.failedGate !== null)
      .slice(-count)
      // The boundary to the generators: no test input and no host text crosses it (feedback.ts).
      .map((record) => ({ gate: record.failedGate as GateName, reason: sanitiseFeedback(record.reason) }))
  );
}

function generatorFailure(error: unknown): Settled {
  if (error instanceof GeneratorError) {
    return { status: 'failed', reason: `generator ${error.kind}: ${error.message}`, failure: `generator:${error.kind}` };
  }
  return { status: 'failed', reason: `generator error: ${(error as Error)?.message ?? String(error)}`, failure: 'generator:error' };
}

function fromChange(outcome: Exclude<ChangeOutcome, { status: 'stale' }>): Settled {
  switch (outcome.status) {
    case 'applied':
      return { status: 'applied', reason: outcome.trial === null ? '' : `won its ${trialText(outcome.trial)}`, failure: null };
    case 'rolled-back':
      return { status: 'rolled-back', reason: outcome.reason, failure: null };
    case 'passed':
      return { status: 'passed', reason: outcome.reason, failure: null };
    case 'failed':
      return { status: 'failed', reason: outcome.reason, failure: outcome.failure };
  }
}

export class AttemptRunner {
  private id: number | null = null;
  private slot: Slot = 'step';
  private parentId: number | null = null;

  constructor(
    private readonly host: AttemptHost,
    /** Numbers the attempt before the archive gives it an id; shown negated in the phase reports until then. */
    private readonly ticket: number,
    private readonly random: () => number,
  ) {}

  private phase(phase: AttemptPhase): void {
    this.host.phase({ id: this.id ?? -this.ticket, slot: this.slot, phase, parentId: this.parentId, generator: this.host.generator.name });
  }

  /** Runs the attempt; `recorded` is called with the archive id as soon as there is one. Never throws. */
  async run(request: AttemptRequest, recorded: (id: number) => void): Promise<AttemptRecord> {
    const { archive } = this.host;
    try {
      this.phase('selecting');
      this.slot = request.slot ?? chooseSlot(this.host.lat, this.host.generatorSlots);
      const records = archive.list({ slot: this.slot });
      const parent = this.chooseParent(records, request.parentId);
      this.parentId = parent.id;

      this.phase('generating');
      let proposal: CandidateProposal;
      try {
        proposal = await this.breed(records, parent);
      } catch (error) {
        // A generator aborted by the stop failed at nothing.
        const settled = this.host.signal.aborted ? INTERRUPTED : generatorFailure(error);
        const exchange = error instanceof GeneratorError ? error.exchange : null;
        const record = archive.insertAttempt({ ...this.blank(), ...(exchange === null ? {} : exchange), status: settled.status });
        this.id = record.id;
        recorded(record.id);
        return this.settle(null, settled);
      }
      this.host.addCost(proposal.costUsd);
      const record = archive.insertAttempt({
        parentId: parent.id,
        slot: this.slot,
        generator: proposal.generator,
        operator: proposal.operator,
        genome: proposal.genome,
        prompt: proposal.prompt,
        ...(proposal.rawReply === undefined ? {} : { rawReply: proposal.rawReply }),
        source: proposal.source,
        costUsd: proposal.costUsd,
      });
      this.id = record.id;
      recorded(record.id);
      return await this.judge(record, proposal);
    } catch (error) {
      const reason = `engine error: ${(error as Error)?.message ?? String(error)}`;
      if (this.id === null) {
        const record = archive.insertAttempt({ ...this.blank(), status: 'failed' });
        this.id = record.id;
        recorded(record.id);
      }
      return this.settle(null, { status: 'failed', reason, failure: 'engine' });
    }
  }

  private blank() {
    return {
      parentId: this.parentId ?? this.host.rootOf(this.slot),
      slot: this.slot,
      generator: this.host.generator.name,
      operator: 'none',
      genome: null,
      prompt: null,
      source: '',
    };
  }

  private chooseParent(records: readonly AttemptRecord[], parentId: number | undefined): AttemptRecord {
    if (parentId !== undefined) {
      const chosen = records.find((record) => record.id === parentId);
      if (chosen === undefined) throw new RangeError(`parentId = ${parentId}: no archived attempt of slot "${this.slot}" has that id`);
      return chosen;
    }
    const incumbent = this.host.live.incumbents.get(this.slot)!;
    const candidates = eligibleParents(records, this.host.archive.childCounts(this.slot), {
      rootId: this.host.rootOf(this.slot),
      incumbentId: incumbent.attemptId,
    });
    const chosen = selectParent(candidates, this.random);
    return records.find((record) => record.id === chosen.attemptId)!;
  }

  /** The fastest other accepted kernels, for crossover. */
  private mates(records: readonly AttemptRecord[], parentId: number): ParentKernel[] {
    return records
      .filter((r) => r.id !== parentId && (r.status === 'applied' || r.status === 'superseded' || r.status === 'passed') && r.source !== '')
      .sort((a, b) => (b.speedup ?? 0) - (a.speedup ?? 0))
      .slice(0, MATES)
      .map(parentKernel);
  }

  /**
   * The child to judge: the generator's one proposal, or, for a generator
   * that makes several per attempt, the predictor's first (by a posterior
   * draw of how fast each is, a failure counting as nothing) among those
   * not in the archive yet (pending attempts included, so concurrent
   * attempts do not judge one kernel twice).
   */
  private async breed(records: readonly AttemptRecord[], parent: AttemptRecord): Promise<CandidateProposal> {
    const { generator, predictor } = this.host;
    const context = {
      slot: this.slot,
      parent: parentKernel(parent),
      mates: this.mates(records, parent.id),
      profile: profileSummary(this.host, this.slot),
      recentFailures: recentFailures(records, this.host.config.generator.recentFailures),
      operatorWeights: this.host.memory.weights(this.slot),
      random: this.random,
      signal: this.host.signal,
    };
    const wanted = generator.candidatesPerAttempt ?? 1;
    if (wanted <= 1) return generator.propose(context);
    const archived = new Set(records.map((record) => record.sourceSha256));
    const fresh: CandidateProposal[] = [];
    let proposals = 0;
    while (fresh.length < wanted && proposals < wanted * PROPOSALS_PER_CANDIDATE) {
      const proposal = await generator.propose(context);
      proposals += 1;
      const sha256 = sourceSha256(proposal.source);
      if (archived.has(sha256)) continue;
      archived.add(sha256);
      fresh.push(proposal);
    }
    if (fresh.length === 0) {
      throw new GeneratorError('exhausted', `all ${proposals} children proposed from attempt ${parent.id} are in the archive already`);
    }
    const order = predictor.rank(
      fresh.map((proposal) => candidateFeatures(proposal.source, proposal.genome)),
      this.random,
    );
    return fresh[order[0]!]!;
  }

  private async judge(record: AttemptRecord, proposal: CandidateProposal): Promise<AttemptRecord> {
    const { host } = this;
    const features = candidateFeatures(proposal.source, proposal.genome);
    const prediction = host.predictor.predict(features, host.live.incumbents.get(this.slot)!.speedup);
    const decision = host.predictor.decide(prediction, this.random);
    if (decision === 'skip') {
      const reason =
        `${SKIPPED_BY_PREDICTOR}: win probability ${prediction.winProbability.toFixed(3)} < ${host.predictor.skipBelowWinProbability} ` +
        `after ${prediction.trainedOn} outcomes`;
      return this.settle(null, { status: 'rejected', reason, failure: null });
    }

    const judge = this.candidateJudge(record.id);
    let incumbent = host.live.incumbents.get(this.slot)!;
    // Asked once: a candidate judged again against a newer incumbent keeps the decision ('' without approval mode).
    let approval: string | undefined;
    for (;;) {
      this.phase('gauntlet');
      const judgement = await judge(proposal.source, this.slot, incumbent, proposal.genome);
      const { verdict, benchRatio, speedup } = judgement;
      if (verdict.interrupted) {
        // The gates that ended are kept; nothing is learnt from a run the stop cut short.
        host.archive.updateAttempt(record.id, { gates: verdict.gates });
        return this.settle(null, INTERRUPTED);
      }
      this.recordJudgement(record.id, judgement);
      const learn: Learn = (won, speedupOverReference = speedup, speedupOverIncumbent = benchRatio && benchRatio > 0 ? 1 / benchRatio : null) =>
        this.learn(record, proposal, features, decision, { passed: verdict.accepted, won, speedup: speedupOverIncumbent, speedupOverReference });
      const notTried = this.notTriedLive(judgement, learn);
      if (notTried !== null) return notTried;

      if (approval === undefined) {
        const answer = await this.askApproval(record, incumbent, benchRatio, speedup, benchmarkText(verdict.benchmark));
        if (answer === null) return this.settle(null, INTERRUPTED);
        if (answer.startsWith('rejected')) {
          learn(false);
          return this.settle(null, { status: 'rejected', reason: `${answer} in approval mode`, failure: null });
        }
        approval = answer;
      }
      const outcome = await this.tryLive(record.id, proposal, incumbent, judgement, approval);
      if (outcome.status === 'stale') {
        // The benchmark compared it with an incumbent replaced since: never dropped for that, it is judged again against the live one.
        if (!host.signal.aborted) {
          incumbent = outcome.incumbent;
          continue;
        }
        learn(false);
        return this.settle(null, {
          status: 'passed',
          reason: `${STOPPED_FIRST_REASON}: it was to be judged again against attempt ${outcome.incumbent.attemptId}`,
          failure: null,
        });
      }
      return this.settleLive(record.id, outcome, incumbent, speedup, learn);
    }
  }

  /** The gauntlet as this attempt calls it: the injected judge, or judgeCandidate in the live call pattern. */
  private candidateJudge(id: number): CandidateJudge {
    const { host } = this;
    if (host.judge) return host.judge;
    // Steps per kernel call as the live runner will ask them of this candidate: the batch the incumbent gets now,
    // and at least 8, since a candidate that wins is faster and the runner grows its batch to fill the latency bound
    // (a kernel fusing steps at 4096^2 runs 5-10 ms a step: 5-10 steps a 50 ms batch). The differential also covers
    // 1, 2, 3, k + 1 and counts drawn beyond k, and the live watchdog probes the batches that actually run.
    const liveStepsPerCall = Math.min(host.config.lattice.maxBatchSteps, Math.max(host.lat.batchSteps, MIN_JUDGED_STEPS_PER_CALL));
    return (source, slot, incumbent, genome) =>
      judgeCandidate(host.config, host.gauntlet, source, slot, incumbent, genome, host.signal, liveStepsPerCall, (progress) =>
        host.gateProgress?.({ ...progress, id, slot }),
      );
  }

  /** Keeps what the gauntlet found in the attempt's record. */
  private recordJudgement(id: number, judgement: Judgement): void {
    const { verdict, modulePath, benchRatio, speedup } = judgement;
    this.host.archive.updateAttempt(id, {
      gates: verdict.gates,
      failedGate: verdict.failedGate,
      modulePath,
      moduleSha256: modulePath === null ? null : fileSha256(modulePath),
      benchmark: verdict.benchmark,
      benchRatio,
      speedup,
    });
  }

  /** The attempt settled when the gauntlet's judgement keeps it from the live lattice; null when it goes on to be tried live. */
  private notTriedLive(judgement: Judgement, learn: Learn): AttemptRecord | null {
    const { verdict, modulePath } = judgement;
    if (!verdict.accepted) {
      const failed = verdict.gates.find((gate) => !gate.passed);
      if (failed?.infrastructure) {
        // The machine failed, not the candidate: nothing is learnt of it, and the breaker backs off if it goes on.
        const { kind } = failed.infrastructure;
        return this.settle(null, {
          status: 'failed',
          reason: `${failed.gate}: ${describeInfrastructure(failed.infrastructure)}`,
          failure: `infrastructure:${kind}`,
        });
      }
      const gate = verdict.failedGate ?? 'sandbox';
      learn(false);
      const failure = gate === 'compile' || gate === 'sandbox' ? `gate:${gate}` : null;
      return this.settle(null, { status: 'rejected', reason: `${gate}: ${failed?.reason ?? 'failed'}`, failure });
    }
    const liveTrial = this.host.config.gauntlet.speedJudge === 'live-ab';
    const notTried = modulePath === null ? 'no module was built' : liveTrial ? screenedOut(verdict) : notABenchmarkWin(verdict);
    if (notTried === null) return null;
    learn(false);
    return this.settle(null, { status: 'passed', reason: notTried, failure: null });
  }

  /** Hands the candidate to the live changes: canary, then the live trial (or the swap and watch window when the benchmark judged). */
  private tryLive(id: number, proposal: CandidateProposal, incumbent: Incumbent, judgement: Judgement, approval: string): Promise<ChangeOutcome> {
    const { verdict, modulePath, speedup } = judgement;
    const liveTrial = this.host.config.gauntlet.speedJudge === 'live-ab';
    return this.host.live.change(
      {
        slot: this.slot,
        attemptId: id,
        modulePath: modulePath!,
        speedup: speedup!,
        action: 'apply',
        reason:
          (approval === '' ? '' : `${approval}; `) +
          (liveTrial
            ? `passed the sandbox against attempt ${incumbent.attemptId}: ${benchmarkText(verdict.benchmark)}`
            : `beat attempt ${incumbent.attemptId}: ${benchmarkText(verdict.benchmark)}`),
        speedJudge: liveTrial ? { by: 'trial' } : { by: 'benchmark', judgedAgainst: incumbent.attemptId },
        trusted: isTrustedSource(proposal.source, proposal.genome),
      },
      this.host.signal,
    );
  }

  /** Settles the attempt on what it did live: what it did there replaces the gauntlet's estimate, and a winner supersedes its incumbent. */
  private settleLive(
    id: number,
    outcome: Exclude<ChangeOutcome, { status: 'stale' }>,
    incumbent: Incumbent,
    speedup: number | null,
    learn: Learn,
  ): AttemptRecord {
    const { host } = this;
    const trial = 'trial' in outcome ? outcome.trial : null;
    // The next attempts are judged against what it did live.
    const liveSpeedup =
      outcome.status === 'applied' ? outcome.speedup : trial !== null && Number.isFinite(trial.candidateSpeedup) ? trial.candidateSpeedup : null;
    if (liveSpeedup !== null) host.archive.updateAttempt(id, { speedup: liveSpeedup });
    const overIncumbent = trial !== null && Number.isFinite(trial.verdict.ratio) ? trial.verdict.ratio : undefined;
    learn(outcome.status === 'applied', liveSpeedup ?? speedup, overIncumbent);
    const liveMlups = outcome.status === 'applied' || outcome.status === 'rolled-back' || outcome.status === 'passed' ? outcome.liveMlups : null;
    const settled = this.settle(liveMlups, fromChange(outcome));
    if (outcome.status === 'applied') {
      this.supersede(trial?.incumbentAttemptId ?? incumbent.attemptId);
      // Only a faster kernel replaces the incumbent, so the latest applied one is the slot's best.
      host.archive.warmStart.rememberBest(this.slot, id, host.fingerprint);
    }
    return settled;
  }

  /**
   * In approval mode, waits for a person's decision and records it (archive
   * and ledger); returns what the ledger says ("approved by ... at ..." or
   * "rejected by ..."), '' without approval mode, or null when the run
   * stopped first.
   */
  private async askApproval(
    record: AttemptRecord,
    incumbent: Incumbent,
    benchRatio: number | null,
    speedup: number | null,
    evidence: string,
  ): Promise<string | null> {
    const { host } = this;
    if (host.approve === undefined) return '';
    this.phase('awaiting-approval');
    const request = { attemptId: record.id, slot: this.slot, parentId: record.parentId!, incumbentId: incumbent.attemptId, benchRatio, speedup, evidence };
    const answer = await host.approve(request, host.signal);
    if (answer === null || host.signal.aborted) return null;
    if (answer === 'unattended') return '';
    const { entry } = host.archive.approvals.record({
      attemptId: record.id,
      slot: this.slot,
      decision: answer.decision,
      decidedBy: answer.decidedBy,
      moduleSha256: host.archive.get(record.id)!.moduleSha256!,
      incumbentModuleSha256: incumbent.moduleSha256,
      atStep: host.lat.stepCount,
    });
    return entry.reason;
  }

  private supersede(previousId: number): void {
    const previous = this.host.archive.get(previousId);
    if (previous !== null && previous.status === 'applied') this.host.archive.updateAttempt(previousId, { status: 'superseded' });
  }

  private learn(
    record: AttemptRecord,
    proposal: CandidateProposal,
    features: number[],
    decision: PredictorDecision,
    outcome: { passed: boolean; won: boolean; speedup: number | null; speedupOverReference: number | null },
  ): void {
    const { passed, won, speedup, speedupOverReference } = outcome;
    // The predictor compares candidates judged against different incumbents: it learns speedups over the reference.
    this.host.predictor.update(features, { passed, won, speedup: speedupOverReference }, decision);
    this.host.memory.record(this.slot, proposal.operator, { passed, won, speedup, description: describeRecord({ ...record, ...proposal }) });
  }

  private settle(liveMlups: number | null, settled: Settled): AttemptRecord {
    const id = this.id!;
    // An interrupted attempt is neither a success nor a failure: the breaker hears nothing of it.
    if (settled.status !== 'interrupted') {
      if (settled.failure === null) this.host.breaker.recordSuccess();
      else this.host.breaker.recordFailure(settled.failure);
    }
    const update = { status: settled.status, reason: settled.reason, finishedAt: now(), ...(liveMlups === null ? {} : { liveMlups }) };
    const record = this.host.archive.updateAttempt(id, update);
    this.phase('done');
    return record;
  }
}
