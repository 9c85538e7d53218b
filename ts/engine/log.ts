/**
 * The engine's structured log: pino, one JSON line per engine event, to a
 * file. Never to stdout, which the progress display owns. Writes are
 * synchronous so the lines before a kill -9 are on disk. A write that fails
 * (a full disk, a file gone read-only) must not stop the simulation: the
 * log says so once on stderr, naming the file and the error, and goes on
 * there.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { AttemptRecord } from '../archive/types.js';
import type { EngineEvents } from './events.js';

export type EngineLogger = Logger;

export interface EngineLogOptions {
  /** The log file; empty: no log at all. */
  file: string;
  level: 'debug' | 'info' | 'warn' | 'error';
}

/** Where the lines go: the log file while it takes them, then stderr. */
export class FallbackDestination {
  private fd: number | null;

  constructor(
    readonly file: string,
    private readonly stderr: { write(text: string): unknown } = process.stderr,
  ) {
    try {
      this.fd = openSync(file, 'a');
    } catch (error) {
      throw new Error(
        `log.file = ${JSON.stringify(file)}: cannot be opened for appending (${(error as Error).message}); name a writable file, or "" for no log`,
        { cause: error },
      );
    }
  }

  /** Whether lines still go to the file. */
  get toFile(): boolean {
    return this.fd !== null;
  }

  write(line: string): void {
    if (this.fd !== null) {
      try {
        writeSync(this.fd, line);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        this.stderr.write(
          `ouroboros: log.file = ${JSON.stringify(this.file)}: a write failed (${code || (error as Error).message}); the log goes on on stderr\n`,
        );
        try {
          closeSync(this.fd);
        } catch {
          // Closing a file that can no longer be written changes nothing here.
        }
        this.fd = null;
      }
    }
    this.stderr.write(line);
  }
}

/** A logger writing JSON lines to `options.file` (its directory is created), or to stderr once the file fails. */
export function createEngineLog(options: EngineLogOptions): EngineLogger {
  if (options.file === '') return pino({ enabled: false });
  mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
  return pino({ level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, new FallbackDestination(options.file));
}

/** An attempt as a log line: everything but the source and the prompt, which the archive keeps. */
function attemptFields(record: AttemptRecord): Record<string, unknown> {
  return {
    id: record.id,
    parentId: record.parentId,
    slot: record.slot,
    generator: record.generator,
    operator: record.operator,
    status: record.status,
    failedGate: record.failedGate,
    reason: record.reason,
    benchRatio: record.benchRatio,
    speedup: record.speedup,
    liveMlups: record.liveMlups,
    moduleSha256: record.moduleSha256,
    costUsd: record.costUsd,
  };
}

type Listener<K extends keyof EngineEvents> = (...args: EngineEvents[K]) => void;

/**
 * Writes one line for every event `emitter` emits; returns a function that
 * detaches the listeners.
 */
export function logEngineEvents(
  emitter: {
    on<K extends keyof EngineEvents>(event: K, listener: Listener<K>): unknown;
    off<K extends keyof EngineEvents>(event: K, listener: Listener<K>): unknown;
  },
  logger: EngineLogger,
): () => void {
  const listeners: { [K in keyof EngineEvents]: Listener<K> } = {
    started: () => logger.info({ event: 'started' }, 'engine started'),
    stopped: () => logger.info({ event: 'stopped' }, 'engine stopped'),
    paused: (reason) => logger.info({ event: 'paused', reason }, 'engine paused'),
    resumed: () => logger.info({ event: 'resumed' }, 'engine resumed'),
    sample: (sample) => logger.debug({ event: 'sample', ...sample }, 'sample'),
    'attempt-phase': (report) => logger.info({ event: 'attempt-phase', ...report }, `attempt ${report.id} ${report.phase}`),
    // Each gate's verdict is in the attempt-finished line; the gates as they pass are for the dashboard.
    'gate-progress': (report) => logger.debug({ event: 'gate-progress', ...report }, `attempt ${report.id} ${report.gate} ${report.state}`),
    'attempt-finished': (record) => logger.info({ event: 'attempt-finished', ...attemptFields(record) }, `attempt ${record.id} ${record.status}`),
    applied: (entry) => logger.info({ event: 'applied', ...entry }, `applied attempt ${entry.attemptId} to ${entry.slot}`),
    'rolled-back': (entry) => logger.warn({ event: 'rolled-back', ...entry }, `rolled back ${entry.slot}: ${entry.reason}`),
    'circuit-open': (opening) => logger.warn({ event: 'circuit-open', ...opening }, `circuit open: ${opening.kind}`),
    'circuit-closed': (closing) => logger.info({ event: 'circuit-closed', ...closing }, `circuit closed: ${closing.kind}`),
    'warm-start': (report) => logger.info({ event: 'warm-start', ...report }, `warm start ${report.slot}: ${report.outcome}`),
    'budget-exhausted': (report) => logger.info({ event: 'budget-exhausted', ...report }, report.reason),
    economy: (transition) => logger.info({ event: 'economy', ...transition }, `economy ${transition.state}: ${transition.reason}`),
    error: (error) => logger.error({ event: 'error', err: error }, error.message),
  };
  for (const [event, listener] of Object.entries(listeners)) {
    emitter.on(event as keyof EngineEvents, listener as Listener<keyof EngineEvents>);
  }
  return () => {
    for (const [event, listener] of Object.entries(listeners)) {
      emitter.off(event as keyof EngineEvents, listener as Listener<keyof EngineEvents>);
    }
  };
}
