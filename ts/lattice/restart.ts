/**
 * The predecessor's side of a core restart on the same state: by exec (this
 * process replaces its own image) or by spawn (a successor warms up while
 * this lattice keeps stepping, then takes over at a step boundary).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { coreAddon } from '../../native/loader.js';
import type { HandoffMetadata } from '../handoff/metadata.js';
import type { StateSegment } from '../handoff/segment.js';
import { freeze } from './freeze.js';
import { FREEZE_NS_ENV, HANDOFF_MODE_ENV, type ParentMessage, SEGMENT_FD_ENV, SPAWNED_SEGMENT_FD, type SuccessorMessage } from './handoff.js';
import type { RestartReport } from './restart-options.js';

/** What a restart needs of the lattice it restarts. */
export interface RestartTarget {
  segment: StateSegment;
  /** Ends any run at a step boundary. */
  stop(): Promise<unknown>;
  /** The metadata of the state as it stands (called at a step boundary). */
  metadata(): HandoffMetadata;
  /** Frees the lattice once the successor owns the state. */
  close(): void;
}

/**
 * Stops at a step boundary, commits, and replaces this process (execve of
 * the same node and argv, same PID) with the segment kept open and named in
 * the environment. Returns only by throwing, when execve failed; the
 * lattice is then intact.
 */
export async function restartByExec(target: RestartTarget): Promise<never> {
  const { segment } = target;
  await target.stop();
  const freezeNs = process.hrtime.bigint();
  freeze(segment, target.metadata());
  segment.keepOpenAcrossExec(true);
  const environment = Object.entries({
    ...process.env,
    [SEGMENT_FD_ENV]: String(segment.fd),
    [HANDOFF_MODE_ENV]: 'exec',
    [FREEZE_NS_ENV]: String(freezeNs),
  }).map(([name, value]) => `${name}=${value}`);
  const argv = [process.argv0, ...process.execArgv, ...process.argv.slice(1)];
  const failure = coreAddon().execImage(process.execPath, argv, environment);
  segment.keepOpenAcrossExec(false);
  throw new Error(`restart({ mode: 'exec' }): ${failure.error}; the lattice is intact at step ${segment.stepCount}`);
}

/**
 * Starts `command` as a successor with the segment as its fd 3, lets it
 * load its modules while the lattice keeps running, then stops at a step
 * boundary, commits and hands over; closes the lattice once the successor
 * has resumed. The downtime is the freeze-to-resume gap.
 */
export async function restartBySpawn(target: RestartTarget, command: string[]): Promise<RestartReport> {
  const { segment } = target;
  const child = spawn(process.execPath, command, {
    stdio: ['inherit', 'inherit', 'inherit', segment.fd, 'ipc'],
    env: { ...process.env, [SEGMENT_FD_ENV]: String(SPAWNED_SEGMENT_FD), [HANDOFF_MODE_ENV]: 'spawn' },
  });
  const next = successorMessages(child);
  const send = (message: ParentMessage) => child.send(message);
  try {
    send({ type: 'warmup', metadata: target.metadata() });
    await next('ready');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  await target.stop();
  const freezeNs = process.hrtime.bigint();
  const generation = freeze(segment, target.metadata());
  const frozenAtStep = segment.stepCount;
  send({ type: 'go', freezeNs: String(freezeNs) });
  // Closed only after the hand-over: unmapping a large segment takes tens of
  // milliseconds that need not be part of the downtime. Nothing steps here
  // any more (the run stopped before the freeze), so the successor owns the state.
  let resumed: Extract<SuccessorMessage, { type: 'resumed' }>;
  try {
    resumed = (await next('resumed')) as Extract<SuccessorMessage, { type: 'resumed' }>;
  } finally {
    target.close();
  }
  child.disconnect();
  // The successor lives on by itself: this process may exit before it.
  child.unref();
  return {
    mode: 'spawn',
    successorPid: child.pid!,
    frozenAtStep,
    generation,
    downtimeMs: Number(BigInt(resumed.resumedNs) - freezeNs) / 1e6,
  };
}

/** Waits for the successor's messages in order; a `failed` message or its exit is an error. */
function successorMessages(child: ReturnType<typeof spawn>) {
  const messages: SuccessorMessage[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (message: SuccessorMessage) => {
    messages.push(message);
    waiters.splice(0).forEach((wake) => wake());
  });
  const exited = once(child, 'exit');
  return async (type: SuccessorMessage['type']): Promise<SuccessorMessage> => {
    for (;;) {
      const message = messages.shift();
      if (message?.type === 'failed') throw new Error(`restart({ mode: 'spawn' }): the successor failed: ${message.error}`);
      if (message?.type === type) return message;
      if (message) continue;
      const woken = new Promise<void>((wake) => waiters.push(wake));
      const [code, signal] = (await Promise.race([woken.then(() => null), exited])) ?? [];
      if (code !== undefined || signal !== undefined) {
        if (messages.length > 0) continue;
        throw new Error(`restart({ mode: 'spawn' }): the successor exited (${signal ?? `code ${code}`}) before "${type}"`);
      }
    }
  };
}
