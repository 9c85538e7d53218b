/**
 * A worker's pass is not the engine's verdict. A compromised worker (a
 * process on the fleet's Redis that runs no gauntlet and answers every job
 * with a pass, a benchmark win and a module of its choosing) passes a
 * hostile kernel: the engine checks the candidate again itself, with its
 * own build and a seed of its own, and refuses it, naming the local
 * re-verification; the worker's module is never what the verdict names.
 * A pass that holds is kept, with the engine's build in place of the
 * worker's bytes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelModulePath } from '../dist/native/loader.js';
import { verdictModulePath } from '../dist/ts/fleet/evaluation-job.js';
import { fileSha256 } from '../dist/ts/util/sha256.js';
import { PrivateRedis } from '../dist/ts/fleet/private-servers.js';
import { FleetEvaluator, needsReverification, type ReverificationEvent } from '../dist/ts/fleet/remote-evaluator.js';
import { closeSharedGauntletPool } from '../dist/ts/gauntlet/pool.js';
import type { CandidateOptions } from '../dist/ts/gauntlet/options.js';
import type { GauntletVerdict } from '../dist/ts/gauntlet/types.js';
import { acceptedVerdict, testFingerprint } from './helpers/fleet.js';

const LYING_WORKER = path.join(import.meta.dirname, 'fixtures', 'fleet', 'lying-worker.mjs');
const hostile = (name: string) => readFileSync(path.resolve('tests/fixtures/hostile', name), 'utf8');
const variant = (name: string) => readFileSync(path.resolve('tests/fixtures/variants', name), 'utf8');
/** What the lying worker sends as every build: a real kernel module, not the candidate's. */
const WORKERS_MODULE = kernelModulePath('reference');

let server: PrivateRedis;
let worker: ChildProcess;
let evaluator: FleetEvaluator;
const events: ReverificationEvent[] = [];

function candidate(source: string): CandidateOptions {
  return { source, slot: 'step', precision: 'f64', targetExtents: [64, 64], heldOutCells: 729, benchSamples: 5, threads: 1 };
}

beforeAll(async () => {
  server = await PrivateRedis.start();
  const fingerprint = testFingerprint('lying worker');
  worker = spawn(process.execPath, [LYING_WORKER, server.url, JSON.stringify(fingerprint), WORKERS_MODULE], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    worker.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
    worker.once('exit', (code) => reject(new Error(`the lying worker exited with ${code} before it took jobs`)));
  });
  evaluator = await FleetEvaluator.connect({
    redisUrl: server.url,
    fingerprint,
    local: async (options) => {
      throw new Error(`evaluated locally instead of by the worker: ${options.source.slice(0, 40)}`);
    },
  });
  evaluator.on('reverified', (event: ReverificationEvent) => events.push(event));
}, 60_000);

afterAll(async () => {
  await evaluator?.close();
  worker?.kill('SIGKILL');
  await server?.stop();
  await closeSharedGauntletPool();
});

describe("a worker's pass", () => {
  it('of a hostile kernel is refused by the engine, named as its local re-verification, and its module is never staged as the build', async () => {
    const verdict: GauntletVerdict = await evaluator.evaluate(candidate(hostile('passed-by-a-lying-worker.cpp')));
    expect(verdict.accepted).toBe(false);
    expect(verdict.improves).toBe(false);
    expect(verdict.failedGate).toBe('sandbox');
    const failed = verdict.gates.at(-1)!;
    expect(failed.gate).toBe('sandbox');
    expect(failed.reason).toMatch(/^local re-verification of worker \S+'s pass: differential: /);
    expect(failed.details).toMatchObject({ reverifiedLocally: true });
    // The module the verdict names is the engine's own build of the source, never the bytes the worker sent.
    const modulePath = verdictModulePath(verdict);
    expect(modulePath).not.toBeNull();
    expect(fileSha256(modulePath!)).not.toBe(fileSha256(WORKERS_MODULE));
    expect(evaluator.counts).toMatchObject({ remote: 1, local: 0, reverified: 1, refused: 1 });
    expect(events.at(-1)).toMatchObject({ refusedAt: 'sandbox', workerModuleMatches: false });
  }, 300_000);

  it('of a correct kernel holds, with the engine build in place of the worker bytes', async () => {
    const verdict = await evaluator.evaluate(candidate(variant('reference-copy.cpp')));
    expect(verdict.accepted, verdict.gates.find((gate) => !gate.passed)?.reason).toBe(true);
    const modulePath = verdictModulePath(verdict)!;
    expect(fileSha256(modulePath)).not.toBe(fileSha256(WORKERS_MODULE));
    expect(events.at(-1)).toMatchObject({ refusedAt: null, workerModuleMatches: false });
    expect(evaluator.counts).toMatchObject({ remote: 2, reverified: 2, refused: 1 });
  }, 300_000);
});

describe('which passes the engine checks', () => {
  it('every one that could go live: not screened out for a trial, or claiming a win for the benchmark judge, whatever else it says', () => {
    const slower = (improves: boolean): GauntletVerdict => {
      const verdict = acceptedVerdict(null, 1.5);
      const target = { ...verdict.benchmark!.lattices[0]!, verdict: 'slower' as const };
      return { ...verdict, improves, benchmark: { ...verdict.benchmark!, wins: improves, lattices: [target] } };
    };
    expect(needsReverification(acceptedVerdict(null))).toBe(true);
    expect(needsReverification(slower(true))).toBe(true);
    expect(needsReverification({ ...acceptedVerdict(null), benchmark: null, improves: true })).toBe(true);
    expect(needsReverification(slower(false))).toBe(false);
    expect(needsReverification({ ...acceptedVerdict(null), accepted: false, improves: false })).toBe(false);
  });
});
