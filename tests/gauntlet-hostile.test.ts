// The hostile corpus: every candidate in tests/fixtures/hostile/ must be
// stopped by the gate its manifest names, with the host unharmed, no file
// outside the gauntlet's scratch and cache directories changed, and no
// connection made anywhere.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCandidate, type GauntletVerdict } from '@ouroboros-engine/core';
import { hardenedCompile } from '../dist/ts/gauntlet/compile.js';
import { interpretRun } from '../dist/ts/gauntlet/interpret.js';
import { resolveOptions } from '../dist/ts/gauntlet/options.js';
import { runSandbox, sandboxRunnerPath } from '../dist/ts/gauntlet/sandbox-run.js';
import { kernelLogRecords } from '../dist/ts/modules/kernel-log.js';
import { gauntletHostileCorpus, hostileManifest } from '../dist/ts/bench/hostile-corpus.js';

// Entries whose gate is the live watchdog are loaded live by watchdog-hostile.test.ts, not sent through the gauntlet.
const corpus = gauntletHostileCorpus();
const canaryDir = '/tmp/ouroboros-hostile-canary';
// Only trees nothing else writes while the suite runs (cpp/ and native/kernels/
// belong to builds that may run concurrently).
const watched = [canaryDir, path.resolve('tests/fixtures'), path.resolve('native/sandbox'), path.resolve('proto')];
// The port the corpus's network attempts aim at.
const LISTENER_PORT = 47615;

function snapshot(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const file = path.join(at, name);
      const stat = statSync(file);
      if (stat.isDirectory()) walk(file);
      else files.set(file, createHash('sha256').update(readFileSync(file)).digest('hex'));
    }
  };
  watched.forEach(walk);
  return files;
}

describe('the hostile corpus', () => {
  const verdicts = new Map<string, GauntletVerdict>();
  let before: Map<string, string>;
  let connections = 0;
  let listener: net.Server | undefined;

  beforeAll(async () => {
    mkdirSync(canaryDir, { recursive: true });
    writeFileSync(path.join(canaryDir, 'canary.txt'), 'the gauntlet must never change this file\n');
    listener = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    // The listener must be up, or its count of 0 connections would prove nothing: a port taken fails the suite here.
    await new Promise<void>((resolve, reject) =>
      listener!
        .once('error', (error) => reject(new Error(`the corpus's listener cannot take 127.0.0.1:${LISTENER_PORT}: ${error.message}`)))
        .listen(LISTENER_PORT, '127.0.0.1', resolve),
    );
    before = snapshot();
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-hostile-cache-'));
    let next = 0;
    const worker = async () => {
      while (next < corpus.length) {
        const { name, source, settings } = corpus[next++]!;
        verdicts.set(
          name,
          await evaluateCandidate({
            source,
            ...settings,
            cacheDir,
            cpuSeconds: 2,
            sandboxTimeoutMs: 20_000,
          }),
        );
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }, 600_000);

  afterAll(() => listener?.close());

  it('has at least 30 candidates and exercises every gate', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    const gates = new Set(Object.values(hostileManifest()).map((entry) => entry.gate));
    expect([...gates].sort()).toEqual(['bench', 'compile', 'dojo', 'none', 'patch', 'sandbox', 'static', 'symbols', 'watchdog']);
  });

  it.each(corpus)('$name is stopped by its gate', ({ name, expectedGate }) => {
    const verdict = verdicts.get(name)!;
    expect(verdict.accepted).toBe(false);
    expect(verdict.failedGate, verdict.gates.at(-1)?.reason).toBe(expectedGate);
    const failed = verdict.gates.at(-1)!;
    expect(failed.passed).toBe(false);
    expect(failed.reason.length).toBeGreaterThan(0);
    expect(verdict.gates.slice(0, -1).every((gate) => gate.passed)).toBe(true);
  });

  /**
   * The static and ELF gates stop some fixtures before the sandbox now; their modules go to the runner
   * directly, so that the sandbox's own layers stay tested (as crates/sandbox/tests/supervisor_stops.rs does).
   */
  async function runDirectly(name: string) {
    const candidate = corpus.find((each) => each.name === name)!;
    const options = resolveOptions({
      source: candidate.source,
      threads: candidate.settings.threads,
      cpuSeconds: 2,
      sandboxTimeoutMs: 20_000,
    });
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-hostile-direct-'));
    const built = await hardenedCompile(options.source, { includeDir: options.includeDir, timeoutMs: 60_000, cacheDir, useCache: false });
    const run = await runSandbox({
      ...options,
      runnerPath: sandboxRunnerPath(),
      candidatePath: built.details.modulePath!,
      incumbentPath: options.incumbent,
      timeoutMs: options.sandboxTimeoutMs,
    });
    return interpretRun(run);
  }

  /** The call a seccomp kill names: the kernel's log holds it where this process may read the log. */
  const killedFor = (call: string) => (kernelLogRecords().length > 0 ? `SIGSYS (a forbidden system call: ${call})` : 'SIGSYS (a forbidden system call)');

  it('kills a forbidden system call made on a pool thread, not only on the calling thread, with SIGSYS', async () => {
    const failed = (await runDirectly('worker-socket')).gates.at(-1)!;
    expect(failed.details).toMatchObject({ signal: 'SIGSYS' });
    expect(failed.reason).toContain(`${killedFor('socket')} during differential`);
  }, 60_000);

  it('names the call a seccomp kill refused in the report: a socket, after an open at load that Landlock refused unrecorded', async () => {
    const failed = (await runDirectly('denied-open-and-socket')).gates.at(-1)!;
    expect(failed.details).toMatchObject({ signal: 'SIGSYS' });
    expect(failed.reason).toContain(`the candidate's worker died of ${killedFor('socket')} during differential`);
  }, 60_000);

  it('never takes a report a kernel wrote: the forger dies at its write and the supervisor reports it', async () => {
    const verdict = await runDirectly('forge-report-stdout');
    expect(verdict.benchmark).toBeNull();
    expect(verdict.gates.at(-1)!.details).toMatchObject({ signal: 'SIGSYS' });
  }, 60_000);

  it('names the FP control bits a kernel left changed', () => {
    expect(verdicts.get('mxcsr-ftz-daz')!.gates.at(-1)!.reason).toMatch(/floating-point control state changed: MXCSR DAZ .*FTZ/);
  });

  it('records the seed every sandbox verdict drew, so a failure can be replayed', () => {
    const seeds = [...verdicts.values()]
      .map((v) => v.gates.find((gate) => gate.gate === 'sandbox')?.details as { seed?: number } | undefined)
      .filter((details) => details?.seed !== undefined)
      .map((details) => details!.seed);
    expect(seeds.length).toBeGreaterThan(10);
    expect(new Set(seeds).size).toBe(seeds.length);
  });

  it('leaves the host running, the watched files unchanged and the network untouched', () => {
    expect(process.exitCode ?? 0).toBe(0);
    expect(snapshot()).toEqual(before);
    expect(readdirSync(canaryDir)).toEqual(['canary.txt']);
    expect(listener!.listening).toBe(true);
    expect(connections).toBe(0);
  });

  it('reports the isolation layers of the runs that reached the sandbox', () => {
    const reached = [...verdicts.values()].find((v) => v.isolation.length > 0)!;
    const active = reached.isolation.filter((layer) => layer.active).map((layer) => layer.name);
    expect(active).toEqual(
      expect.arrayContaining(['supervisor', 'worker-candidate', 'worker-incumbent', 'fresh-image', 'rlimits', 'landlock', 'no_new_privs', 'seccomp']),
    );
  });
});
