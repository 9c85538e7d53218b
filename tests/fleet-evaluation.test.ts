/**
 * Remote evaluation on a private Redis: the engine's evaluator enqueues a
 * candidate and a worker's verdict comes back with the built module staged
 * by hash; the same candidate is evaluated and recorded once; a worker
 * killed with SIGKILL mid-job loses nothing (another worker takes the
 * stalled job); a job over its time is retried, then recorded as a timeout;
 * while Redis is down the engine evaluates locally, and both sides carry on
 * when it is back; the jobs the engine judged locally during an outage are
 * drained from its queue when Redis returns. Nothing here waits on a sleep: every wait is for an event
 * or a queue state.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MachineFingerprint } from '../ts/archive/types.js';
import type { CandidateOptions } from '../ts/gauntlet/options.js';
import type { GauntletVerdict } from '../ts/gauntlet/types.js';
import { verdictModulePath } from '../ts/fleet/evaluation-job.js';
import { DELIVERIES_KEY, RESULTS_KEY, WORKERS_KEY } from '../ts/fleet/keys.js';
import { advertise, advertisement, liveMembers } from '../ts/fleet/membership.js';
import { PrivateRedis } from '../ts/fleet/private-servers.js';
import type { Reverification } from '../ts/fleet/local-reverification.js';
import { type Drain, type EvaluationRoute, FleetEvaluator } from '../ts/fleet/remote-evaluator.js';
import { FleetWorker } from '../ts/fleet/worker.js';
import { acceptedVerdict, interruptedVerdict, moduleFile, testFingerprint } from './helpers/fleet.js';
import { until } from './helpers/until.js';

const WORKER_CHILD = path.join(import.meta.dirname, 'fixtures', 'fleet', 'worker-child.mjs');
/** Short locks so that a killed worker's job is back in the queue within a second or two. */
const LOCK_MS = 1_000;
const STATE_POLL_MS = 50;

let server: PrivateRedis;
let client: Redis;

beforeAll(async () => {
  server = await PrivateRedis.start();
  client = new Redis(server.url, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  client.disconnect();
  await server.stop();
});

function candidate(source: string): CandidateOptions {
  return { source, slot: 'step', precision: 'f64', targetExtents: [64, 64], benchSamples: 5 };
}

/** A worker in this process whose gauntlet answers at once with an accepted verdict and a module of `moduleText`. */
async function fastWorker(fingerprint: MachineFingerprint, moduleText: string, calls: string[]): Promise<FleetWorker> {
  return FleetWorker.start({
    redisUrl: server.url,
    fingerprint,
    lockMs: LOCK_MS,
    evaluate: async (options) => {
      calls.push(options.source);
      return acceptedVerdict(moduleFile(moduleText));
    },
  });
}

/**
 * The engine's re-verification of a pass, standing in the worker's verdict
 * unchanged: these tests are about delivery, not judgement (the engine's own
 * check of a worker's pass is tests/fleet-reverification.test.ts's).
 */
async function believeTheWorker(_options: CandidateOptions, verdict: GauntletVerdict): Promise<Reverification> {
  return { verdict, refused: null, workerModuleMatches: null, seconds: 0 };
}

function localNever(): (options: CandidateOptions) => Promise<GauntletVerdict> {
  return async (options) => {
    throw new Error(`evaluated locally: ${options.source}`);
  };
}

describe('remote evaluation', () => {
  it('a worker evaluates the candidate, and the engine gets its verdict with the built module staged by hash', async () => {
    const fingerprint = testFingerprint('remote');
    const calls: string[] = [];
    const worker = await fastWorker(fingerprint, 'module bytes A', calls);
    const evaluator = await FleetEvaluator.connect({ redisUrl: server.url, fingerprint, local: localNever(), reverify: believeTheWorker });
    try {
      const verdict = await evaluator.evaluate(candidate('kernel A'));
      expect(verdict.accepted).toBe(true);
      expect(calls).toEqual(['kernel A']);
      const staged = verdictModulePath(verdict)!;
      expect(readFileSync(staged, 'utf8')).toBe('module bytes A');
      expect(path.basename(staged)).toMatch(/^[0-9a-f]{64}\.so$/);
      expect(evaluator.counts).toEqual({ remote: 1, local: 0, reverified: 1, refused: 0, drained: 0 });
    } finally {
      await evaluator.close();
      await worker.close();
    }
  });

  it('the same candidate enqueued twice is evaluated once and recorded once', async () => {
    const fingerprint = testFingerprint('idempotent');
    const calls: string[] = [];
    const worker = await fastWorker(fingerprint, 'module bytes B', calls);
    const evaluator = await FleetEvaluator.connect({ redisUrl: server.url, fingerprint, local: localNever(), reverify: believeTheWorker });
    const routes: EvaluationRoute[] = [];
    evaluator.on('evaluated', (route: EvaluationRoute) => routes.push(route));
    try {
      const [first, second] = await Promise.all([evaluator.evaluate(candidate('kernel B')), evaluator.evaluate(candidate('kernel B'))]);
      const third = await evaluator.evaluate(candidate('kernel B'));
      expect([first, second, third].map((verdict) => verdict.accepted)).toEqual([true, true, true]);
      expect(calls).toEqual(['kernel B']);
      expect(new Set(routes.map((route) => route.jobId)).size).toBe(1);
      const jobId = routes[0]!.jobId;
      expect(await client.hexists(RESULTS_KEY, jobId)).toBe(1);
      expect(await client.hget(DELIVERIES_KEY, jobId)).toBe('1');
    } finally {
      await evaluator.close();
      await worker.close();
    }
  });

  it('with no live worker of its fingerprint the engine evaluates locally, as without a fleet', async () => {
    const other = await fastWorker(testFingerprint('another machine'), 'never used', []);
    const local: string[] = [];
    const evaluator = await FleetEvaluator.connect({
      redisUrl: server.url,
      fingerprint: testFingerprint('lonely'),
      local: async (options, onGate) => {
        local.push(options.source);
        onGate?.({ gate: 'patch', state: 'started' });
        return acceptedVerdict(null);
      },
    });
    const routes: EvaluationRoute[] = [];
    evaluator.on('evaluated', (route: EvaluationRoute) => routes.push(route));
    try {
      // The local gauntlet reports its gates to the engine, as without a fleet (the dashboard shows them).
      const gates: string[] = [];
      await evaluator.evaluate(candidate('kernel C'), (progress) => gates.push(progress.gate));
      expect(gates).toEqual(['patch']);
      expect(local).toEqual(['kernel C']);
      expect(routes[0]!.reason).toMatch(/no live worker has this engine's fingerprint/);
    } finally {
      await evaluator.close();
      await other.close();
    }
  });

  it('a worker killed with SIGKILL mid-job loses nothing: another worker takes the stalled job and it is recorded once', async () => {
    const fingerprint = testFingerprint('sigkill');
    const child: ChildProcess = spawn(process.execPath, [WORKER_CHILD, server.url, JSON.stringify(fingerprint), String(LOCK_MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    const lines = new EventTarget();
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      lines.dispatchEvent(new Event('line'));
    });
    const seen = (text: string) =>
      output.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => lines.addEventListener('line', () => output.includes(text) && resolve()));
    await seen('ready\n');
    const evaluator = await FleetEvaluator.connect({ redisUrl: server.url, fingerprint, local: localNever(), reverify: believeTheWorker });
    const routes: EvaluationRoute[] = [];
    evaluator.on('evaluated', (route: EvaluationRoute) => routes.push(route));
    const calls: string[] = [];
    let rescuer: FleetWorker | null = null;
    try {
      const pending = evaluator.evaluate(candidate('kernel D'));
      await seen('started ');
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      rescuer = await fastWorker(fingerprint, 'module bytes D', calls);
      const verdict = await pending;
      expect(verdict.accepted).toBe(true);
      expect(calls).toEqual(['kernel D']);
      expect(routes).toHaveLength(1);
      expect(routes[0]).toMatchObject({ remote: true, workerId: rescuer.id });
      expect(await client.hget(DELIVERIES_KEY, routes[0]!.jobId)).toBe('1');
      expect(await client.hlen(RESULTS_KEY)).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
      await evaluator.close();
      await rescuer?.close();
    }
  });

  it('a job over its time is delivered again, then recorded as a timeout', async () => {
    const fingerprint = testFingerprint('timeout');
    let deliveries = 0;
    const worker = await FleetWorker.start({
      redisUrl: server.url,
      fingerprint,
      jobTimeoutMs: 200,
      evaluate: (options) => {
        deliveries += 1;
        // Never ends by itself: only the worker's time limit stops it.
        return new Promise((resolve) => options.signal!.addEventListener('abort', () => resolve(interruptedVerdict())));
      },
    });
    const evaluator = await FleetEvaluator.connect({ redisUrl: server.url, fingerprint, local: localNever(), jobTimeoutMs: 200 });
    const routes: EvaluationRoute[] = [];
    evaluator.on('evaluated', (route: EvaluationRoute) => routes.push(route));
    try {
      const verdict = await evaluator.evaluate(candidate('kernel E'));
      expect(deliveries).toBe(2);
      expect(verdict).toMatchObject({ accepted: false, interrupted: false, failedGate: 'sandbox' });
      expect(verdict.gates[0]!.reason).toMatch(/timed out on the fleet: 2 deliveries/);
      expect(await client.hget(DELIVERIES_KEY, routes[0]!.jobId)).toBe('1');
    } finally {
      await evaluator.close();
      await worker.close();
    }
  });

  it('while Redis is down the engine evaluates locally; when it is back the worker reconnects and takes jobs again', async () => {
    const fingerprint = testFingerprint('outage');
    const calls: string[] = [];
    const local: string[] = [];
    const worker = await fastWorker(fingerprint, 'module bytes F', calls);
    const evaluator = await FleetEvaluator.connect({
      redisUrl: server.url,
      fingerprint,
      local: async (options) => {
        local.push(options.source);
        return acceptedVerdict(null);
      },
      reverify: believeTheWorker,
    });
    const routes: EvaluationRoute[] = [];
    evaluator.on('evaluated', (route: EvaluationRoute) => routes.push(route));
    try {
      await evaluator.evaluate(candidate('kernel F1'));
      const disconnected = once(evaluator, 'disconnected');
      await server.kill();
      await disconnected;
      await evaluator.evaluate(candidate('kernel F2'));
      expect(local).toEqual(['kernel F2']);
      expect(routes[1]!.reason).toMatch(/Redis is not reachable/);

      const reconnected = once(evaluator, 'reconnected');
      await server.restart();
      await reconnected;
      await until(async () => (await liveMembers(client, WORKERS_KEY)).some((member) => member.id === worker.id), STATE_POLL_MS);
      await evaluator.evaluate(candidate('kernel F3'));
      expect(calls).toEqual(['kernel F1', 'kernel F3']);
      expect(routes.map((route) => route.remote)).toEqual([true, false, true]);
    } finally {
      await evaluator.close();
      await worker.close();
    }
  });

  it('when Redis is back the engine drains the jobs it judged locally meanwhile, and never waited for their results', async () => {
    // A persistent server, as in production: the job enqueued before the outage is still queued when Redis returns.
    const persistent = await PrivateRedis.start(undefined, undefined, true);
    const fingerprint = testFingerprint('drain');
    const watcher = new Redis(persistent.url, { maxRetriesPerRequest: null });
    // A worker that is alive to the engine but takes nothing, so that the first job stays waiting.
    const withdraw = advertise(watcher, WORKERS_KEY, () => advertisement('worker-idle', 'worker', fingerprint, new Date().toISOString()));
    const local: string[] = [];
    const evaluator = await FleetEvaluator.connect({
      redisUrl: persistent.url,
      fingerprint,
      local: async (options) => {
        local.push(options.source);
        return acceptedVerdict(null);
      },
    });
    const routes: EvaluationRoute[] = [];
    evaluator.on('evaluated', (route: EvaluationRoute) => routes.push(route));
    try {
      await until(async () => (await liveMembers(watcher, WORKERS_KEY)).some((member) => member.id === 'worker-idle'), STATE_POLL_MS);
      const first = evaluator.evaluate(candidate('kernel G1'));
      await until(async () => (await evaluator.queueDepth()) === 1, STATE_POLL_MS);
      const disconnected = once(evaluator, 'disconnected');
      await persistent.pause();
      await disconnected;
      // Judged locally at the loss, and the one after it too: the engine waits for no result meanwhile.
      await first;
      await evaluator.evaluate(candidate('kernel G2'));
      expect(local).toEqual(['kernel G1', 'kernel G2']);
      expect(routes.map((route) => route.remote)).toEqual([false, false]);

      const drained = once(evaluator, 'drained');
      await persistent.resume();
      const [drain] = (await drained) as [Drain];
      expect(drain).toEqual({ removed: [routes[0]!.jobId], left: [] });
      expect(await evaluator.queueDepth()).toBe(0);
      expect(evaluator.counts).toEqual({ remote: 0, local: 2, reverified: 0, refused: 0, drained: 1 });
    } finally {
      await evaluator.close();
      await withdraw();
      watcher.disconnect();
      await persistent.stop();
    }
  });
});
