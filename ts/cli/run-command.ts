/**
 * `ouroboros run`, the main job (`npm start`): a lattice runs with the
 * reference kernel live while the improvement engine breeds, screens and
 * hot-swaps faster kernels. A live display follows the engine's events; at
 * the end a summary table, computed from the archive and the ledger, and an
 * HTML report with the plots and the lineage.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Archive } from '../archive/archive.js';
import { SCHEMA_VERSION } from '../archive/schema.js';
import type { AttemptRecord, LedgerVerification, NewRun, RunSample } from '../archive/types.js';
import { rooflineMlupsOf } from '../bench/kernels.js';
import { describe } from '../errors.js';
import {
  ConfigError,
  type EngineConfig,
  type FlagOverride,
  GENERATOR_KINDS,
  type GeneratorKind,
  archiveLocation,
  loadConfig,
  withFlags,
} from '../engine/config.js';
import { Engine, type EngineSummary } from '../engine/engine.js';
import type { EngineSample } from '../engine/events.js';
import { createMainLattice, driftTolerance, watchdogOptions } from '../engine/main-lattice.js';
import { createEngineLog } from '../engine/log.js';
import { ROOFLINE_CACHE_FILE, cachedOrMeasuredRoofline, rooflineKey } from '../engine/roofline-cache.js';
import { FINAL_WINDOW_MS } from '../engine/scheduler.js';
import { needsConfinedModules } from '../engine/trust.js';
import { EngineFleet, type FleetCounts } from '../fleet/engine-fleet.js';
import { defaultCacheDir } from '../gauntlet/compile.js';
import { closeSharedGauntletPool } from '../gauntlet/pool.js';
import type { Lattice } from '../lattice/lattice.js';
import { printable } from '../report/escape.js';
import { renderReport } from '../report/render-report.js';
import { RunSampleLog } from '../report/run-samples.js';
import { type RunSummary, summarizeRun } from '../report/run-summary.js';
import { type StepAuditReport, auditSteps } from '../report/step-audit.js';
import { testEngineDeps } from './test-hooks.js';
import { formatSummaryTable } from '../report/summary-rows.js';
import { defaultSocketPath, resolveSocketPath } from './control-protocol.js';
import { type ControlSocket, listenForControl } from './control-socket.js';
import { engineControl } from './engine-control.js';
import { durationParser, parseInteger } from './parse.js';
import { RunProgress } from './run-progress.js';
import { checkOutputDir, checkOutputFile } from '../util/output-path.js';
import { deferred } from '../util/deferred.js';
import { UsageError } from './usage-error.js';
import { archiveName } from './archive-commands.js';
import { type DashboardFlags, serveDashboard, withDashboardFlags } from './ui-command.js';
import { ApprovalDesk } from '../ui/approval-desk.js';
import { LiveDashboard } from '../ui/dashboard-data.js';
import { type DashboardServer, LOOPBACK } from '../ui/server.js';

interface RunCommandOptions extends DashboardFlags {
  config?: string;
  duration?: number;
  cycles?: number;
  lattice?: number[];
  precision?: 'f64' | 'f32';
  generator?: GeneratorKind;
  seed?: number;
  threads?: number;
  once?: boolean;
  continue?: boolean;
  archive?: string;
  archiveUrl?: string;
  report?: string;
  json?: boolean;
  serve?: boolean;
  socket?: string;
  ui?: boolean;
  approve?: boolean;
  redis?: string;
}

/** Without --duration, --cycles, --once or a wall-time budget, the run lasts this long: long enough to see kernels improve. */
const DEFAULT_DURATION_MS = 180_000;
const DURATION_LIMITS_MS = [1_000, 7 * 86_400_000] as const;
/** Passes of the STREAM triad over the lattice's memory; the best counts. */
const STREAM_REPEATS = 5;

/** "4096x4096" -> [4096, 4096]; the lattice itself checks each extent's range. */
export function parseLattice(value: string): number[] {
  const parts = value.toLowerCase().split('x');
  if (parts.some((part) => !/^\d+$/.test(part.trim()))) {
    throw new InvalidArgumentError(`"${value}" is not a lattice: write the extents joined by x, such as 4096x4096 or 128x128x128.`);
  }
  return parts.map(Number);
}

function positiveInteger(value: string): number {
  const number = parseInteger(value);
  if (number < 1) throw new InvalidArgumentError(`${value} is out of range: must be an integer >= 1.`);
  return number;
}

/** The configuration file's settings with the command line's on top. */
/** The flags that set configuration keys: checked by the file's schema, so a flag takes exactly what the key takes. */
function flagOverrides(options: RunCommandOptions): FlagOverride[] {
  const flags: Array<[string, string, unknown]> = [
    ['--lattice', 'lattice.extents', options.lattice],
    ['--precision', 'lattice.precision', options.precision],
    ['--threads', 'lattice.threads', options.threads],
    ['--generator', 'generator.kind', options.generator],
    ['--seed', 'seed', options.seed],
    ['--archive', 'archive.path', options.archive],
    ['--archive-url', 'archive.url', options.archiveUrl],
    ['--cycles', 'budget.maxAttempts', options.cycles],
    ['--redis', 'fleet.redis', options.redis],
  ];
  return flags.filter(([, , value]) => value !== undefined).map(([flag, key, value]) => ({ flag, key, value }));
}

function runConfig(options: RunCommandOptions): EngineConfig {
  try {
    return withFlags(loadConfig(options.config), flagOverrides(options));
  } catch (error) {
    if (error instanceof ConfigError && error.key?.startsWith('--')) throw new UsageError(error.message);
    throw error;
  }
}

function checkOptions(options: RunCommandOptions): void {
  if (options.once && options.cycles !== undefined) throw new UsageError('--once and --cycles cannot be combined: --once is one attempt');
  if (options.once && options.duration !== undefined) throw new UsageError('--once and --duration cannot be combined: --once ends when its attempt does');
  if (options.socket !== undefined && !options.serve) throw new UsageError(`--socket = ${describe(options.socket)}: only used with --serve`);
  if (options.approve && !options.ui) throw new UsageError('--approve needs --ui: approval mode waits for a decision on the dashboard');
  for (const flag of ['uiPort', 'uiHost', 'uiTlsCert', 'uiTlsKey', 'insecure'] as const) {
    if (options[flag] !== undefined && !options.ui) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is only used with --ui`);
  }
  // Checked before the lattice is built: the same rule startDashboard keeps, told at once.
  if (options.uiHost !== undefined && options.uiHost !== LOOPBACK && options.uiTlsCert === undefined && !options.insecure) {
    throw new UsageError(`--ui-host = ${describe(options.uiHost)}: serving beyond ${LOOPBACK} needs --ui-tls-cert and --ui-tls-key, or an explicit --insecure`);
  }
}

/** Every path the run will write, checked before it starts: a run must not end by failing to save what it did. */
function checkOutputs(config: EngineConfig, options: RunCommandOptions, reportFile: string): void {
  try {
    checkOutputFile('--report', reportFile);
    if (config.archive.url === '') checkOutputFile(options.archive === undefined ? 'archive.path' : '--archive', config.archive.path);
    if (config.log.file !== '') checkOutputFile('log.file', config.log.file);
    if (config.gauntlet.cacheDir !== '') checkOutputDir('gauntlet.cacheDir', config.gauntlet.cacheDir);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function defaultReportPath(): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return path.join('reports', `run-${stamp}.html`);
}

/**
 * MLUPS memory bandwidth allows for this precision, from a STREAM triad over
 * the lattice's own memory (Lattice.memoryTriadAsync: the event loop goes on), before it runs: on a VM,
 * fresh arrays can be backed by host memory of another speed than the
 * lattice's pages. Remembered per machine and lattice for a day
 * (roofline-cache.ts): a warm run starts without it.
 */
async function measureRoofline(lattice: Lattice, precision: EngineConfig['lattice']['precision']): Promise<number> {
  return rooflineMlupsOf((await lattice.memoryTriadAsync(STREAM_REPEATS)).gbPerSecond, precision);
}

/** How long the run lasts, or null when its attempt budget, --once or the engine's wall-time budget ends it. */
function runLimitMs(options: RunCommandOptions, config: EngineConfig): number | null {
  if (options.once) return null;
  return options.duration ?? (options.cycles !== undefined || config.budget.maxWallSeconds > 0 ? null : DEFAULT_DURATION_MS);
}

/**
 * When a run of `limitMs` that began at `startedMs` (performance.now()'s
 * clock) asks the engine to stop: the stop's final window (FINAL_WINDOW_MS)
 * before its end, since the stop measures that window before the run ends
 * (a 180 s run ended 181.3 s after its spawn, bench net, session 13).
 */
export function stopRequestAtMs(startedMs: number, limitMs: number): number {
  return startedMs + Math.max(0, limitMs - FINAL_WINDOW_MS);
}

/**
 * Resolves when the run should end: its duration, its attempt budget,
 * --once, a stop request or a signal. The duration counts from
 * `startedMs`, when the command began: loading the program, building the
 * lattice and measuring the roofline are part of the run the user asked for.
 */
async function runUntilDone(engine: Engine, options: RunCommandOptions, config: EngineConfig, stopRequested: Promise<void>, startedMs: number): Promise<void> {
  if (options.once) {
    const id = await engine.attemptImprovement();
    await Promise.race([engine.attemptFinished(id), stopRequested]);
    return;
  }
  const limitMs = runLimitMs(options, config);
  let timer: NodeJS.Timeout | undefined;
  const remainingMs = limitMs === null ? null : Math.max(0, stopRequestAtMs(startedMs, limitMs) - performance.now());
  const elapsed = remainingMs === null ? new Promise<void>(() => {}) : new Promise<void>((resolve) => (timer = setTimeout(resolve, remainingMs)));
  try {
    await Promise.race([elapsed, engine.whenStopped(), stopRequested]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunResult {
  summary: RunSummary;
  /** The engine's own figures (live modules, predictor, cost), beside the archive's. */
  engine: EngineSummary;
  steps: StepAuditReport;
  verification: LedgerVerification;
  archive: string;
  /** The HTML report written, or null when it could not be (reportError says why). */
  report: string | null;
  reportError?: string;
  /** The engine stopped itself because the archive could not be written; outcomes after it may be missing. */
  archiveError?: string;
  /** With fleet.redis: what the fleet evaluated and shared. */
  fleet?: FleetCounts;
}

/** Where the archive ended before this run: its records and ledger entries after it are this run's. */
interface ArchiveMark {
  lastId: number;
  lastSequence: number;
}

function markOf(archive: Archive): ArchiveMark {
  return { lastId: archive.list().at(-1)?.id ?? 0, lastSequence: archive.ledger.head().sequence };
}

function settingsOf(config: EngineConfig, options: RunCommandOptions): Record<string, string> {
  return {
    lattice: `${config.lattice.extents.join(' x ')} ${config.lattice.precision}, dt ${config.lattice.dt}, ${config.lattice.init}`,
    generator: config.generator.kind,
    mode: options.once ? 'one attempt (--once)' : options.cycles !== undefined ? `${options.cycles} attempts` : 'timed',
    'max concurrent improvements': String(config.maxConcurrentImprovements),
    'benchmarks hold the live lattice': config.gauntlet.holdLive ? 'yes (gauntlet.holdLive)' : 'no',
    seed: String(config.seed),
    archive: archiveName(archiveLocation(config.archive)),
    'config file': options.config ?? (existsSync('ouroboros.toml') ? path.resolve('ouroboros.toml') : 'built-in defaults'),
    host: `${os.cpus()[0]?.model ?? 'unknown'}, ${os.availableParallelism()} cores, node ${process.version}`,
  };
}

/** This run's records and every ancestor they descend from, for the lineage. */
function withAncestors(all: readonly AttemptRecord[], mark: ArchiveMark): AttemptRecord[] {
  const byId = new Map(all.map((record) => [record.id, record]));
  const keep = new Set<number>();
  for (const record of all) {
    if (record.id <= mark.lastId) continue;
    for (let at: AttemptRecord | undefined = record; at && !keep.has(at.id); at = at.parentId === null ? undefined : byId.get(at.parentId)) {
      keep.add(at.id);
    }
  }
  return all.filter((record) => keep.has(record.id));
}

interface Session {
  engine: EngineSummary;
  samples: readonly EngineSample[];
  steps: StepAuditReport;
  wallSeconds: number;
}

/**
 * Runs the lattice (audited for lost steps) and the engine until the run is
 * done, then stops both; a failure on the way still stops them first.
 */
/** What the dashboard of a live run needs besides the engine (run --ui). */
interface DashboardContext {
  desk: ApprovalDesk;
  settings: Record<string, string>;
  rooflineMlups: number;
  remoteEvaluation: boolean;
}

async function runSession(
  engine: Engine,
  archive: Archive,
  options: RunCommandOptions,
  progress: RunProgress | null,
  commandStartedMs: number,
  dashboard: DashboardContext | null,
): Promise<Session> {
  const stopRequest = deferred<void>();
  const stopRequested = stopRequest.promise;
  const requestStop = () => stopRequest.resolve();
  const onSignal = () => {
    progress?.event('stopping: the attempts in flight are interrupted and kept in the archive (a second signal ends the process at once)');
    requestStop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const startedMs = performance.now();
  const audit = auditSteps(engine.lattice);
  const run = engine.lattice.run({ watchdog: watchdogOptions(engine.config) });
  // A run that ends with an error (a kernel failed, or the watchdog stopped it) ends the session: nothing steps any more.
  const runFailed = run.then((ended) => {
    if (ended.error !== null) throw new Error(`the lattice's run ended at step ${ended.endStep}: ${ended.error}`);
    return new Promise<never>(() => {});
  });
  // Failing after the session has ended is no one's to hear: stopAll() reads the run's summary itself.
  runFailed.catch(() => undefined);
  let started = false;
  let socket: ControlSocket | null = null;
  let ui: DashboardServer | null = null;
  const stopAll = async () => {
    try {
      const summary = started ? await engine.stop() : null;
      await engine.lattice.stop();
      return { summary, steps: audit.finish(await run) };
    } finally {
      socket?.close();
      await ui?.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress?.detach();
    }
  };
  progress?.attach(engine);
  try {
    await engine.start();
    started = true;
    if (options.serve) {
      socket = await listenForControl(resolveSocketPath(options.socket), engineControl(engine, archive, requestStop));
      progress?.event(`control socket ${socket.path}: ouroboros status, rollback SLOT and stop take --socket ${socket.path}`);
    }
    if (dashboard !== null) {
      ui = await serveDashboard(liveDashboard(engine, archive, dashboard, requestStop), options, (message) =>
        progress === null ? process.stderr.write(`${message}\n`) : progress.event(message),
      );
      // Printed even with --json: the URL is how the person gets in.
      process.stderr.write(`dashboard: open ${ui.url}\n`);
    }
    await Promise.race([runUntilDone(engine, options, engine.config, stopRequested, commandStartedMs), runFailed]);
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
  const { summary, steps } = await stopAll();
  return { engine: summary!, samples: engine.samples(), steps, wallSeconds: (performance.now() - startedMs) / 1e3 };
}

/** The dashboard's data; a rollback goes through the control socket's handler, as `ouroboros rollback` does, and a stop ends the run as SIGINT does. */
function liveDashboard(engine: Engine, archive: Archive, context: DashboardContext, requestStop: () => void): LiveDashboard {
  const control = engineControl(engine, archive, requestStop, 'the dashboard');
  return new LiveDashboard({
    engine,
    archive,
    desk: context.desk,
    settings: context.settings,
    rooflineMlups: context.rooflineMlups,
    remoteEvaluation: context.remoteEvaluation,
    rollback: async (slot) => {
      const reply = await control({ command: 'rollback', slot });
      return reply.ok ? `rolled back ${slot}` : 'rollback refused';
    },
    // The run's end closes the dashboard, so the request does not wait for it: the page sees the engine stop by its events.
    stop: async () => requestStop(),
  });
}

/** The run's samples, kept in the archive for `ouroboros ui --archive`; an archive that cannot take them says why. */
function archiveSamples(archive: Archive, run: NewRun): string | null {
  try {
    archive.runs.record(run);
    return null;
  } catch (error) {
    return `the run's samples could not be kept in archive ${archive.file}: ${(error as Error).message}`;
  }
}

function finish(
  archive: Archive,
  mark: ArchiveMark,
  session: Session,
  rooflineMlups: number,
  report: { file: string; settings: Record<string, string> },
  run: { startedAt: string; samples: readonly RunSample[]; driftTolerance: number },
): RunResult {
  const all = archive.list();
  const ledger = archive.ledger.entries().filter((entry) => entry.sequence > mark.lastSequence);
  const verification = archive.ledger.verify();
  const summary = summarizeRun({
    records: all.filter((record) => record.id > mark.lastId),
    ledger,
    samples: session.samples,
    rooflineMlups,
    lostSteps: session.steps.lostSteps,
    wallSeconds: session.wallSeconds,
    netMlups: session.engine.netMlups,
    heldSeconds: session.engine.heldSeconds,
    firstApplyAtSeconds: session.engine.firstApplyAtSeconds,
    economy: session.engine.economy,
    account: session.engine.account,
  });
  const html = renderReport({
    title: `Ouroboros run of ${new Date().toISOString()}`,
    generatedAt: new Date().toISOString(),
    settings: report.settings,
    summary,
    samples: run.samples,
    records: withAncestors(all, mark),
    ledger,
    verification,
  });
  const samplesError = archiveSamples(archive, {
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
    baselineMlups: summary.baselineMlups,
    rooflineMlups,
    driftTolerance: run.driftTolerance,
    samples: run.samples,
  });
  const file = path.resolve(report.file);
  const result = {
    summary,
    engine: session.engine,
    steps: session.steps,
    verification,
    archive: archiveName(archive.file),
    ...(samplesError === null ? {} : { archiveError: samplesError }),
  };
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, html);
  } catch (error) {
    // The run's figures are in the archive and in the result: a report that cannot be written loses neither.
    return { ...result, report: null, reportError: `--report = ${JSON.stringify(file)}: the report could not be written (${(error as Error).message})` };
  }
  return { ...result, report: file };
}

/**
 * Process time (performance.now()) at which `ouroboros run` began for its
 * user: the process's start, the time origin of performance.now(). Loading
 * the program took 6.4 s of a 30 s run at load 14, outside the duration when
 * it counted from runMainJob's call, and bench net times a run from spawn.
 */
const PROCESS_START_MS = 0;

/**
 * Runs the main job as `options` say and returns what it did; the archive
 * and the lattice are closed on return. `startedMs` is when the run began,
 * on performance.now()'s clock: --duration counts from it.
 */
export async function runMainJob(options: RunCommandOptions, progress: RunProgress | null, startedMs = performance.now()): Promise<RunResult> {
  checkOptions(options);
  const config = runConfig(options);
  const reportFile = options.report ?? defaultReportPath();
  checkOutputs(config, options, reportFile);
  if (options.continue && config.archive.url === '' && !existsSync(config.archive.path)) {
    throw new UsageError(`archive.path = ${describe(config.archive.path)}: no such archive to --continue; leave out --continue to start one`);
  }
  const archive = Archive.open(archiveLocation(config.archive));
  if (archive.migratedFrom !== null) {
    progress?.event(`archive ${archiveName(archive.file)} migrated from schema version ${archive.migratedFrom} to ${SCHEMA_VERSION}`);
  }
  try {
    const mark = markOf(archive);
    if (options.continue) {
      const pending = archive.orphanedAttempts().length;
      progress?.event(
        `continuing ${archiveName(archive.file)}: ${mark.lastId} records, ${pending} attempts left pending by the run that ended are closed as interrupted`,
      );
    }
    // Other engines' improvements are untrusted kernels: they run live only confined, which needs the shared state.
    const sharing = config.fleet.redis !== '' && config.fleet.share;
    const lattice = createMainLattice(config.lattice, config.seed, needsConfinedModules(config) || sharing);
    const logger = createEngineLog(config.log);
    let fleet: EngineFleet | null = null;
    try {
      if (config.fleet.redis !== '') fleet = await EngineFleet.join(config.fleet, archive, logger);
      const cacheDir = config.gauntlet.cacheDir === '' ? defaultCacheDir() : config.gauntlet.cacheDir;
      const { mlups: rooflineMlups } = await cachedOrMeasuredRoofline(
        path.join(cacheDir, ROOFLINE_CACHE_FILE),
        rooflineKey(config.lattice.extents, config.lattice.precision),
        () => measureRoofline(lattice, config.lattice.precision),
      );
      const limitMs = runLimitMs(options, config);
      const desk = options.ui ? new ApprovalDesk(options.approve === true) : null;
      const engine = new Engine(lattice, config, {
        archive,
        logger,
        autoImprove: !options.once,
        rooflineMlups,
        ...(limitMs === null ? {} : { runSeconds: limitMs / 1000 }),
        ...(desk === null ? {} : { approve: desk.approver }),
        ...fleet?.deps,
        ...(await testEngineDeps(lattice)),
      });
      const detachFleet = fleet?.attach(engine);
      if (fleet) progress?.event(`joined the fleet at ${config.fleet.redis} as ${fleet.evaluator.id}`);
      const settings = settingsOf(config, options);
      const dashboard = desk === null ? null : { desk, settings, rooflineMlups, remoteEvaluation: fleet !== null };
      const sampleLog = new RunSampleLog(engine);
      const runStartedAt = new Date().toISOString();
      const session = await runSession(engine, archive, options, progress, startedMs, dashboard);
      detachFleet?.();
      sampleLog.detach();
      const run = { startedAt: runStartedAt, samples: sampleLog.samples(), driftTolerance: driftTolerance(config) };
      const result = { ...finish(archive, mark, session, rooflineMlups, { file: reportFile, settings }, run), ...(fleet ? { fleet: fleet.counts } : {}) };
      return engine.storageFailure === null ? result : { ...result, archiveError: engine.storageFailure.message };
    } finally {
      await fleet?.close();
      lattice.close();
      // Its idle workers would otherwise keep the process up to their idle timeout after the run.
      await closeSharedGauntletPool();
    }
  } finally {
    archive.close();
  }
}

function formatResult(result: RunResult): string {
  const live = Object.entries(result.engine.liveModules)
    .map(([slot, module]) => `${slot} ${printable(module.name)} (attempt #${module.attemptId}, ${module.speedup.toFixed(2)}x)`)
    .join(', ');
  const ledger = result.verification.ok
    ? `ledger verified: ${result.verification.entries} entries`
    : `LEDGER DOES NOT VERIFY at entry ${result.verification.firstBad!.sequence}: ${printable(result.verification.firstBad!.reason)}`;
  return [
    formatSummaryTable(result.summary),
    '',
    `live now       ${live}`,
    `archive        ${result.archive}`,
    `${ledger}`,
    `report         ${result.report ?? `not written: ${result.reportError}`}`,
  ].join('\n');
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('the main job: simulate while the engine breeds, screens and hot-swaps faster kernels, then summarise')
    .option('--config <file>', 'engine configuration (default ./ouroboros.toml when present, else built-in defaults)')
    .option(
      '--duration <duration>',
      'how long to run, counted from the command start, e.g. 3m or 90s (default 3m unless --cycles or budget.maxWallSeconds); the run ends within seconds of it',
      durationParser(...DURATION_LIMITS_MS),
    )
    .option('--cycles <n>', 'improvement attempts to run, then stop', positiveInteger)
    .option('--once', 'one improvement attempt, then exit')
    .option('--lattice <extents>', 'the live lattice, extents joined by x, e.g. 4096x4096 (default from the config)', parseLattice)
    .addOption(new Option('--precision <p>', 'floating-point precision of the lattice').choices(['f64', 'f32']))
    .addOption(new Option('--generator <kind>', 'what proposes candidate kernels').choices(GENERATOR_KINDS))
    .option('--seed <n>', 'seed of parent selection and the generators', parseInteger)
    .option('--threads <n>', 'threads of the core pool lent to kernels', positiveInteger)
    .option('--archive <path>', 'the SQLite archive of attempts and the ledger (default from the config)')
    .option('--archive-url <url>', 'a PostgreSQL database to hold the archive and the ledger in place of the SQLite file, shared by a fleet (sets archive.url)')
    .option('--continue', 'go on with an existing archive after a crash (attempts left pending are closed as interrupted)')
    .option('--report <path>', 'where to write the HTML report (default reports/run-<timestamp>.html)')
    .option('--json', 'print one JSON object at the end instead of the live display and the table')
    .option('--serve', 'answer `ouroboros status`, `rollback SLOT` and `stop` on a Unix socket while running')
    .option('--redis <url>', 'join a fleet: evaluate candidates on `ouroboros worker` processes through this Redis and share improvements (sets fleet.redis)')
    .option('--socket <path>', `the control socket for --serve (default ${defaultSocketPath()})`)
    .option('--ui', 'serve the live dashboard on 127.0.0.1 (a random port; the URL with a one-time token is printed)')
    .option('--approve', 'approval mode (with --ui): each candidate that passed every gate waits for a person to approve or reject its swap');
  return withDashboardFlags(command).action(async (options: RunCommandOptions) => {
    const progress = options.json
      ? null
      : new RunProgress({ write: (text) => process.stderr.write(text), isTTY: process.stderr.isTTY === true, columns: process.stderr.columns });
    const result = await runMainJob(options, progress, PROCESS_START_MS);
    console.log(options.json ? JSON.stringify(result) : formatResult(result));
    if (result.archiveError !== undefined) throw new Error(result.archiveError);
    if (result.reportError !== undefined) throw new Error(result.reportError);
    if (!result.verification.ok) {
      throw new Error(
        `the ledger of ${result.archive} does not verify at entry ${result.verification.firstBad!.sequence}: ${result.verification.firstBad!.reason}`,
      );
    }
  });
}
