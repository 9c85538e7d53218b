import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createSegment, MetadataError, SegmentError, writeCheckpoint, type HandoffMetadata } from '../dist/ts/handoff/index.js';
import { Lattice, type ProfileReport } from '../dist/ts/lattice/lattice.js';
import { moduleSha256 } from '../dist/ts/lattice/handoff.js';
import { kernelModulePath } from '../dist/native/loader.js';
import { seededRandom } from '../dist/ts/util/random.js';

const cli = path.resolve('bin/ouroboros.js');
const successor = path.resolve('tests/fixtures/handoff/successor.mjs');
const execRows = path.resolve('tests/fixtures/handoff/exec-rows.mjs');
const EXTENTS = [24, 18];
const OPTIONS = { extents: EXTENTS, dt: 0.3, h: 1, c: 1, threads: 2 } as const;
// Header offsets from cpp/include/ouroboros/segment_layout.h.
const FORMAT_VERSION = 8;
const HEADER_CHECKSUM = 160;

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'ouro-handoff-'));
}

function seeded(sharedState: boolean): Lattice {
  const lattice = new Lattice({ ...OPTIONS, sharedState });
  const random = seededRandom(11);
  const field = () => Float64Array.from({ length: lattice.cells }, () => random() * 2 - 1);
  lattice.setState(field(), field());
  return lattice;
}

function bytes(field: Float64Array | Float32Array): Buffer {
  return Buffer.from(field.buffer, field.byteOffset, field.byteLength);
}

/** Both levels of an uninterrupted private run to `steps`. */
function uninterrupted(steps: number): { previous: Buffer; current: Buffer } {
  const lattice = seeded(false);
  lattice.step(steps);
  const levels = { previous: Buffer.from(bytes(lattice.previousField())), current: Buffer.from(bytes(lattice.field())) };
  lattice.close();
  return levels;
}

/** Both levels of an uninterrupted private run to `steps` with the "rows" kernel swapped in at step 0. */
async function uninterruptedOnRows(steps: number): Promise<{ previous: Buffer; current: Buffer }> {
  const lattice = seeded(false);
  await lattice.swap('step', await lattice.loadModule(kernelModulePath('rows')));
  lattice.step(steps);
  const levels = { previous: Buffer.from(bytes(lattice.previousField())), current: Buffer.from(bytes(lattice.field())) };
  lattice.close();
  return levels;
}

/** The counters of a profile a successor must go on from exactly (not the derived share and mean). */
function counters(profile: ProfileReport) {
  const pick = ({ calls, steps, totalNs, maxNs, p50Ns, p99Ns }: ProfileReport['step']) => ({ calls, steps, totalNs, maxNs, p50Ns, p99Ns });
  return { step: pick(profile.step), readout: pick(profile.readout) };
}

function resumeError(file: string): Promise<Error> {
  return Lattice.resume(file).then(
    (lattice) => {
      lattice.close();
      throw new Error(`${file} was accepted`);
    },
    (error: Error) => error,
  );
}

function metadataFor(extents: number[], overrides: Partial<HandoffMetadata> = {}): HandoffMetadata {
  return {
    config: { extents, c: 1, h: 1, dt: 0.3, precision: 'f64' },
    stepCount: 0,
    slots: [],
    counters: [],
    engineState: {},
    ...overrides,
  };
}

describe('shared state', () => {
  it('steps in the segment exactly as in private memory and publishes the step count', () => {
    const shared = seeded(true);
    shared.step(41);
    const expected = uninterrupted(41);
    expect(bytes(shared.field()).equals(expected.current)).toBe(true);
    expect(shared.segment!.stepCount).toBe(41);
    expect(shared.segment!.level(shared.segment!.currentLevel)[5]).toBe(shared.field()[5]);
    shared.close();
  });

  it('refuses a sharedState that is not a boolean, naming it', () => {
    expect(() => new Lattice({ ...OPTIONS, sharedState: 'yes' as unknown as boolean })).toThrow(/sharedState/);
  });

  it('needs sharedState for checkpoint() and restart()', async () => {
    const lattice = seeded(false);
    expect(() => lattice.checkpoint(path.join(tempDir(), 'x'))).toThrow(/sharedState: true/);
    await expect(lattice.restart({ mode: 'spawn' })).rejects.toThrow(/sharedState: true/);
    await expect(lattice.restart({ mode: 'fork' as 'spawn' })).rejects.toThrow(/options.mode/);
    lattice.close();
  });
});

describe('checkpoint and resume', () => {
  it('resumes at exactly the next step, bitwise equal to an uninterrupted run', async () => {
    const file = path.join(tempDir(), 'state.ouro');
    const original = seeded(true);
    original.step(37);
    expect(original.checkpoint(file)).toBe(37);
    original.close();
    const resumed = await Lattice.resume(file);
    expect(resumed.stepCount).toBe(37);
    expect(resumed.handoff).toMatchObject({ mode: 'checkpoint', resumedAtStep: 37, warnings: [] });
    expect(resumed.initialEnergy).toBe(seeded(false).initialEnergy);
    resumed.step(63);
    const expected = uninterrupted(100);
    expect(bytes(resumed.previousField()).equals(expected.previous)).toBe(true);
    expect(bytes(resumed.field()).equals(expected.current)).toBe(true);
    resumed.close();
  });

  it('resumes with the batch settings the lattice was made with', async () => {
    const file = path.join(tempDir(), 'batches.ouro');
    const original = new Lattice({ ...OPTIONS, sharedState: true, batchLatencyMs: 7, maxBatchSteps: 5 });
    original.step(3);
    original.checkpoint(file);
    original.close();
    const resumed = await Lattice.resume(file);
    // Its own checkpoint writes its own settings into the segment's metadata.
    resumed.checkpoint(path.join(tempDir(), 'again.ouro'));
    expect(resumed.segment!.readMetadata().config).toMatchObject({ batchLatencyMs: 7, maxBatchSteps: 5 });
    // step(n) calls the kernel in calls of at most maxBatchSteps: 12 steps are 3 calls at 5, 1 at the default 64.
    const calls = resumed.profile().step.calls;
    resumed.step(12);
    expect(resumed.profile().step.calls - calls).toBe(3);
    resumed.close();
  });

  it('resumes the live module at the batch size the runner had reached, not at one step', async () => {
    const file = path.join(tempDir(), 'ramp.ouro');
    const original = new Lattice({ ...OPTIONS, sharedState: true, batchLatencyMs: 10_000, maxBatchSteps: 5 });
    // Calls of 5, 5 and 2 steps: the sizer doubles from 1 to 2, 4 and then the maximum.
    original.step(12);
    expect(original.batchSteps).toBe(5);
    original.checkpoint(file);
    original.close();
    const resumed = await Lattice.resume(file);
    expect(resumed.batchSteps).toBe(5);
    resumed.close();
  });

  it('checkpoints at a step boundary while running', async () => {
    const file = path.join(tempDir(), 'running.ouro');
    const lattice = seeded(true);
    const run = lattice.run();
    await delay(20);
    const step = lattice.checkpoint(file);
    expect(lattice.running).toBe(true);
    await lattice.stop();
    await run;
    lattice.close();
    const resumed = await Lattice.resume(file);
    expect(resumed.stepCount).toBe(step);
    resumed.step(5);
    expect(bytes(resumed.field()).equals(uninterrupted(step + 5).current)).toBe(true);
    resumed.close();
  });

  it('brings the modules that were live back live, and steps on with them exactly as the original would', async () => {
    const file = path.join(tempDir(), 'rows.ouro');
    const original = seeded(true);
    const rows = await original.loadModule(kernelModulePath('rows'));
    await original.swap('step', rows);
    original.step(20);
    original.checkpoint(file);
    const resumed = await Lattice.resume(file);
    expect(resumed.handoff!.warnings).toEqual([]);
    expect(resumed.slots().step.live.name).toBe('rows');
    expect(resumed.slots().step.lastKnownGood.name).toBe('reference');
    expect(counters(resumed.profile())).toEqual(counters(original.profile()));
    original.step(30);
    resumed.step(30);
    expect(bytes(resumed.field()).equals(bytes(original.field()))).toBe(true);
    expect(bytes(resumed.previousField()).equals(bytes(original.previousField()))).toBe(true);
    original.close();
    resumed.close();
  });

  it('falls back to last-known-good when the live module is missing or changed, and says so', async () => {
    const dir = tempDir();
    const reference = kernelModulePath('reference');
    const changed = path.join(dir, 'changed.so');
    copyFileSync(reference, changed);
    const segment = createSegment({ extents: EXTENTS, precision: 'f64' });
    const refOf = (file: string) => ({ path: file, sha256: moduleSha256(file)! });
    segment.writeMetadata(
      metadataFor(EXTENTS, {
        slots: [
          { slot: 'step', live: { path: path.join(dir, 'gone.so'), sha256: 'ab'.repeat(32) }, lastKnownGood: refOf(reference) },
          { slot: 'readout', live: { path: changed, sha256: 'cd'.repeat(32) }, lastKnownGood: null },
        ],
      }),
    );
    const file = path.join(dir, 'modules.ouro');
    writeCheckpoint(segment, file);
    segment.close();
    const resumed = await Lattice.resume(file);
    const [step, readout] = resumed.handoff!.modules;
    expect(step).toMatchObject({ fallback: 'last-known-good', live: refOf(reference) });
    expect(step!.reason).toMatch(/gone\.so is missing/);
    expect(readout).toMatchObject({ fallback: 'base-kernel', live: null });
    expect(readout!.reason).toMatch(/changed\.so has sha256 [0-9a-f]{64}, the frozen state recorded cdcd/);
    expect(resumed.handoff!.warnings).toHaveLength(2);
    expect(resumed.kernelName).toBe('reference');
    resumed.close();
  });
});

describe('Lattice.resume refuses bad input with a clear error', () => {
  function goodCheckpoint(dir: string): string {
    const file = path.join(dir, 'good.ouro');
    const lattice = seeded(true);
    lattice.step(3);
    lattice.checkpoint(file);
    lattice.close();
    return file;
  }

  function corrupt(file: string, change: (bytes: Buffer) => Buffer): string {
    const target = `${file}.bad`;
    writeFileSync(target, change(readFileSync(file)));
    return target;
  }

  it.each([
    ['bad-magic', (b: Buffer) => (b.write('NOTOURO', 0), b)],
    ['unknown-version', (b: Buffer) => (b.writeUInt32LE(99, FORMAT_VERSION), b)],
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 100)],
    ['header-checksum', (b: Buffer) => (b.writeUInt32LE((b.readUInt32LE(HEADER_CHECKSUM) ^ 1) >>> 0, HEADER_CHECKSUM), b)],
  ] as const)('%s', async (kind, change) => {
    const error = await resumeError(corrupt(goodCheckpoint(tempDir()), change));
    expect(error).toBeInstanceOf(SegmentError);
    expect((error as SegmentError).kind).toBe(kind);
    expect(error.message).toMatch(/readCheckpoint\(/);
  });

  it('a missing file', async () => {
    const error = await resumeError(path.join(tempDir(), 'absent.ouro'));
    expect((error as SegmentError).kind).toBe('io');
  });

  it('a layout that does not match the metadata config', async () => {
    const dir = tempDir();
    const segment = createSegment({ extents: EXTENTS, precision: 'f64' });
    segment.writeMetadata(metadataFor([18, 24]));
    writeCheckpoint(segment, path.join(dir, 'layout.ouro'));
    segment.close();
    const error = await resumeError(path.join(dir, 'layout.ouro'));
    expect((error as SegmentError).kind).toBe('layout-mismatch');
    expect(error.message).toMatch(/extents/);
  });

  it('a metadata block that does not parse', async () => {
    const dir = tempDir();
    const segment = createSegment({ extents: EXTENTS, precision: 'f64' });
    segment.writeMetadataBytes(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    writeCheckpoint(segment, path.join(dir, 'garbage.ouro'));
    segment.close();
    const error = await resumeError(path.join(dir, 'garbage.ouro'));
    expect(error).toBeInstanceOf(MetadataError);
    expect(error.message).toMatch(/not a HandoffMetadata protobuf/);
  });

  it('metadata whose step count is not the header one', async () => {
    const dir = tempDir();
    const segment = createSegment({ extents: EXTENTS, precision: 'f64' });
    segment.writeMetadata(metadataFor(EXTENTS, { stepCount: 9 }));
    writeCheckpoint(segment, path.join(dir, 'steps.ouro'));
    segment.close();
    const error = await resumeError(path.join(dir, 'steps.ouro'));
    expect(error).toBeInstanceOf(MetadataError);
    expect(error.message).toMatch(/stepCount = 9: the segment header holds step 0/);
  });

  it('arguments, naming the parameter', async () => {
    await expect(Lattice.resume('')).rejects.toThrow(/file/);
    await expect(Lattice.resume('x', { threads: 0 })).rejects.toThrow(/options.threads/);
  });
});

describe('the CLI', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [cli, 'simulate', ...args], { encoding: 'utf8' });
  const base = ['--extents', '40,30', '--json'];

  it('resumes after kill -9 from the last checkpoint, bitwise equal to an uninterrupted run', async () => {
    const dir = tempDir();
    const checkpoint = path.join(dir, 'cli.ouro');
    const child = spawn(process.execPath, [cli, 'simulate', ...base, '--steps', '100000000', '--checkpoint', checkpoint, '--checkpoint-every', '40'], {
      stdio: 'ignore',
    });
    while (!existsSync(checkpoint)) await delay(20);
    await delay(200);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const resumedStep = (await Lattice.resume(checkpoint)).stepCount;
    expect(resumedStep % 40).toBe(0);
    const target = resumedStep + 77;
    const resumed = run(['--resume', checkpoint, '--json', '--steps', String(target), '--dump', path.join(dir, 'resumed.bin')]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ startStep: resumedStep, steps: target, handoff: { mode: 'checkpoint' } });
    const whole = run([...base, '--steps', String(target), '--dump', path.join(dir, 'whole.bin')]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'resumed.bin')).equals(readFileSync(path.join(dir, 'whole.bin')))).toBe(true);
  });

  it('restarts itself by exec at step K (same PID) and ends bitwise equal to an uninterrupted run', () => {
    const dir = tempDir();
    const restarted = run([...base, '--steps', '300', '--restart-exec-at', '130', '--dump', path.join(dir, 'exec.bin')]);
    expect(restarted.status, restarted.stderr).toBe(0);
    const summary = JSON.parse(restarted.stdout);
    expect(summary).toMatchObject({ steps: 300, startStep: 130, handoff: { mode: 'exec', resumedAtStep: 130, generation: 1, warnings: [] } });
    expect(summary.pid).toBe(restarted.pid);
    const whole = run([...base, '--steps', '300', '--dump', path.join(dir, 'whole.bin')]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'exec.bin')).equals(readFileSync(path.join(dir, 'whole.bin')))).toBe(true);
  });

  it('refuses lattice options with --resume and --checkpoint-every without --checkpoint', () => {
    expect(run(['--resume', 'x.ouro', '--extents', '9,9']).stderr).toMatch(/--extents cannot be combined with --resume/);
    expect(run(['--checkpoint-every', '5']).stderr).toMatch(/--checkpoint-every needs --checkpoint/);
  });
});

describe('restart by exec', () => {
  it('keeps a swapped-in module live across exec, bitwise equal to an uninterrupted run on it, the profile going on', async () => {
    const out = path.join(tempDir(), 'exec-rows.json');
    const restarted = spawnSync(process.execPath, [execRows, out, '20', '30'], { encoding: 'utf8' });
    expect(restarted.status, restarted.stderr).toBe(0);
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    expect(seen).toMatchObject({ pid: restarted.pid, resumedAt: 20, stepCount: 50 });
    expect(seen.predecessor.pid).toBe(restarted.pid);
    expect(seen.handoff).toMatchObject({ mode: 'exec', resumedAtStep: 20, generation: 1, warnings: [] });
    expect(seen.handoff.modules[0]).toMatchObject({ slot: 'step', fallback: 'none', live: { sha256: moduleSha256(kernelModulePath('rows')) } });
    expect(seen.liveModules).toEqual({ step: 'rows', readout: 'reference' });
    expect(seen.lastKnownGood).toBe('reference');
    const expected = await uninterruptedOnRows(50);
    expect(Buffer.from(seen.current, 'base64').equals(expected.current)).toBe(true);
    expect(Buffer.from(seen.previous, 'base64').equals(expected.previous)).toBe(true);
    expect(counters(seen.profileAtResume)).toEqual(counters(seen.predecessor.profile));
    expect(seen.profileAtResume.step).toMatchObject({ calls: 20, steps: 20 });
    expect(seen.profileAfter.step).toMatchObject({ calls: 50, steps: 50 });
    expect(seen.profileAfter.step.totalNs).toBeGreaterThan(seen.profileAtResume.step.totalNs);
    expect(counters(seen.profileAfter).readout).toEqual(counters(seen.profileAtResume).readout);
  });
});

describe('restart by spawn', () => {
  it('hands a running lattice to a successor that resumes at exactly the next step', async () => {
    const out = path.join(tempDir(), 'successor.json');
    const lattice = seeded(true);
    const run = lattice.run();
    await delay(20);
    const report = await lattice.restart({ mode: 'spawn', command: [successor, out, '500'] });
    await run;
    expect(report.successorPid).not.toBe(process.pid);
    expect(report.generation).toBe(1);
    expect(lattice.handedOverTo).toEqual(report);
    expect(() => lattice.stepCount).toThrow(/closed/);
    // The successor renames its report into place once it is whole (fixtures/handoff/successor.mjs).
    while (!existsSync(out)) await delay(20);
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    expect(seen).toMatchObject({ pid: report.successorPid, resumedAt: report.frozenAtStep, stepCount: report.frozenAtStep + 500 });
    expect(seen.handoff).toMatchObject({ mode: 'spawn', generation: 1, warnings: [] });
    const expected = uninterrupted(report.frozenAtStep + 500);
    expect(Buffer.from(seen.current, 'base64').equals(expected.current)).toBe(true);
    expect(Buffer.from(seen.previous, 'base64').equals(expected.previous)).toBe(true);
    expect(seen.liveModules).toEqual({ step: 'reference', readout: 'reference' });
  });

  it("goes on from the predecessor's profile in the successor", async () => {
    const out = path.join(tempDir(), 'successor-profile.json');
    const lattice = seeded(true);
    for (let i = 0; i < 25; i++) lattice.step(1);
    lattice.readout();
    const before = lattice.profile();
    const report = await lattice.restart({ mode: 'spawn', command: [successor, out, '7'] });
    // The successor renames its report into place once it is whole (fixtures/handoff/successor.mjs).
    while (!existsSync(out)) await delay(20);
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    expect(seen.resumedAt).toBe(report.frozenAtStep);
    expect(counters(seen.profileAtResume)).toEqual(counters(before));
    expect(seen.handoff.counters.find((slot: { slot: string }) => slot.slot === 'step')).toMatchObject(counters(before).step);
    expect(seen.profileAfter.step).toMatchObject({ calls: 26, steps: 32 });
    expect(seen.profileAfter.step.maxNs).toBeGreaterThanOrEqual(before.step.maxNs);
  });

  it('keeps a swapped-in module live in the successor', async () => {
    const out = path.join(tempDir(), 'successor-rows.json');
    const lattice = seeded(true);
    const rows = await lattice.loadModule(kernelModulePath('rows'));
    await lattice.swap('step', rows);
    const run = lattice.run();
    await delay(20);
    const report = await lattice.restart({ mode: 'spawn', command: [successor, out, '10'] });
    await run;
    // The successor renames its report into place once it is whole (fixtures/handoff/successor.mjs).
    while (!existsSync(out)) await delay(20);
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    expect(seen).toMatchObject({ resumedAt: report.frozenAtStep, stepCount: report.frozenAtStep + 10 });
    expect(seen.handoff.warnings).toEqual([]);
    expect(seen.liveModules).toEqual({ step: 'rows', readout: 'reference' });
  });
});
