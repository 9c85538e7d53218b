// A kernel built to recognise the sandbox and misbehave live, swapped into a
// running lattice as an untrusted module: its kernel host contains it (no
// secret read into the field, no file written, no connection, this process
// alive), the step slot rolls back to the trusted kernel, the state comes
// back from the last verified snapshot, and no committed step is lost.
// A host that hangs mid-step is timed out and handled the same way.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Lattice, type WatchdogEvent } from '@ouroboros-engine/core';
import { kernelModulePath } from '../dist/native/loader.js';
import { randomState } from '../dist/ts/lattice/initial-conditions.js';
import { kernelLogRecords } from '../dist/ts/modules/kernel-log.js';
import { sameBits } from './helpers/bits.js';
import { until } from './helpers/until.js';

const SECRET_FILE = '/tmp/ouroboros-kernel-host-secret.txt';
const DROPPED_FILE = '/tmp/ouroboros-kernel-host-dropped.txt';
const LISTENER_PORT = 47616;
const SECRET = 'the-kernel-host-secret-0123456789';

const lattices: Lattice[] = [];
let buildDir: string;
let connections = 0;
let listener: net.Server | undefined;

function build(source: string): string {
  const output = path.join(buildDir, `${path.basename(source, '.cpp')}.so`);
  execFileSync('g++', ['-std=c++17', '-O2', '-fPIC', '-shared', '-ffp-contract=off', '-Icpp/include', source, '-o', output]);
  return output;
}

function seeded(sharedState: boolean) {
  const lat = new Lattice({ extents: [40, 36], dt: 0.6, threads: 2, sharedState });
  lattices.push(lat);
  const state = randomState(lat, 11);
  lat.setState(state.previous, state.current);
  return lat;
}

function containsSecret(field: Float64Array | Float32Array): boolean {
  return Buffer.from(field.buffer, field.byteOffset, field.byteLength).includes(Buffer.from(SECRET.slice(0, 16)));
}

/**
 * How long a host may take to answer one step before it counts as hung: far above a step on these small
 * lattices even on a loaded 2-core machine, so that only the spinning fixture ever reaches it.
 */
const HANG_TIMEOUT_MS = 3_000;

/** Runs a confined `module` live under a watchdog until its host fails; returns the event and the run's end. */
async function runUntilHostFails(lat: Lattice, module: string, stepTimeoutMs?: number, before?: number) {
  const id = await lat.loadConfinedModule(module, { stepTimeoutMs });
  const event = once(lat, 'watchdog') as Promise<[WatchdogEvent]>;
  const run = lat.run({ watchdog: { everySteps: 2 } });
  // Let the watchdog verify a snapshot before the module goes live: the restore point. Steps alone do not say
  // so: on a loaded machine the runner takes its 20 steps before the JS thread has checked the first snapshot.
  await until(() => lat.stepCount >= 20 && lat.checkedEnergyDrift !== null, 5);
  if (before !== undefined) await lat.swap('step', before);
  await lat.swap('step', id);
  const [failure] = await event;
  // Steps after the rollback run on the trusted kernel again.
  const resumedAt = lat.stepCount;
  await until(() => lat.stepCount >= resumedAt + 20, 5);
  const summary = await lat.stop();
  await run;
  return { id, failure, summary: summary! };
}

beforeAll(async () => {
  buildDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-kernel-host-test-'));
  writeFileSync(SECRET_FILE, SECRET);
  rmSync(DROPPED_FILE, { force: true });
  listener = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener!.listen(LISTENER_PORT, '127.0.0.1', resolve));
});

afterEach(() => {
  for (const lat of lattices.splice(0)) lat.close();
});

afterAll(() => {
  listener?.close();
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(SECRET_FILE, { force: true });
});

describe('a hostile module live in a kernel host', () => {
  it('is contained: killed by seccomp at its first file access, rolled back, no committed step lost', async () => {
    const module = build('tests/fixtures/hostile/live-recognises-sandbox.cpp');
    const lat = seeded(true);
    const { failure, summary } = await runUntilHostFails(lat, module);

    expect(failure.reason).toBe('kernel-host');
    expect(failure.kernelHost?.exit?.seccompKill).toBe(true);
    // Its first file access, named from the kernel's log where this process may read it.
    if (kernelLogRecords().length > 0) {
      expect(failure.kernelHost?.exit?.deniedSyscall).toEqual({ number: 257, name: 'openat' });
      expect(failure.detail).toMatch(/closed the channel.*; the host was killed by its seccomp filter \(SIGSYS\): a forbidden system call \(openat\)$/);
    } else {
      expect(failure.kernelHost?.exit?.deniedSyscall).toBeNull();
      expect(failure.detail).toMatch(/closed the channel.*; the host was killed by its seccomp filter \(SIGSYS\): a forbidden system call$/);
    }
    expect(failure.kernelHost?.exit?.signal).toBe('SIGSYS');
    expect(failure.rolledBackFrom).toBe('patient-payload');
    expect(failure.rolledBackTo).toBe('reference');
    expect(failure.restoredStep).not.toBeNull();
    expect(lat.slots().step.live.name).toBe('reference');

    expect(existsSync(DROPPED_FILE)).toBe(false);
    expect(connections).toBe(0);
    expect(process.pid).toBeGreaterThan(0);
    expect(containsSecret(lat.field()) || containsSecret(lat.previousField())).toBe(false);

    // Every step since the restore point was taken again: the state equals a trusted run of the same length.
    expect(summary.error).toBeNull();
    const trusted = seeded(false);
    trusted.step(lat.stepCount);
    expect(sameBits(lat.field(), trusted.field())).toBe(true);
    expect(sameBits(lat.previousField(), trusted.previousField())).toBe(true);
  }, 60_000);

  it('names the system call its seccomp filter refused in the watchdog event: a socket, after an open at load that Landlock refused unrecorded', async () => {
    const lat = seeded(true);
    const { failure } = await runUntilHostFails(lat, build('tests/fixtures/hostile/denied-open-and-socket.cpp'));
    expect(failure.reason).toBe('kernel-host');
    expect(failure.kernelHost?.exit).toMatchObject({ seccompKill: true, signal: 'SIGSYS' });
    if (kernelLogRecords().length > 0) {
      expect(failure.kernelHost?.exit?.deniedSyscall).toEqual({ number: 41, name: 'socket' });
      expect(failure.detail).toMatch(/killed by its seccomp filter \(SIGSYS\): a forbidden system call \(socket\)$/);
    } else {
      expect(failure.kernelHost?.exit?.deniedSyscall).toBeNull();
    }
    expect(failure.rolledBackTo).toBe('reference');
    expect(connections).toBe(0);
  }, 60_000);

  it("falls back to the lattice's own kernel when last-known-good is a confined module whose host died too", async () => {
    const lat = seeded(true);
    const good = await lat.loadConfinedModule(kernelModulePath('reference_twin'));
    const { failure: first } = await runUntilHostFails(lat, build('tests/fixtures/kernel-host/spin-after-five.cpp'), HANG_TIMEOUT_MS, good);
    expect(first.rolledBackTo).toBe('reference-twin');
    const second = once(lat, 'watchdog') as Promise<[WatchdogEvent]>;
    const run = lat.run({ watchdog: { everySteps: 2 } });
    process.kill((lat.moduleInfo(good) as unknown as { hostPid: number }).hostPid, 'SIGKILL');
    const [failure] = await second;
    expect(failure.rolledBackFrom).toBe('reference-twin');
    expect(failure.rolledBackTo).toBe('reference');
    const resumedAt = lat.stepCount;
    await until(() => lat.stepCount >= resumedAt + 20, 5);
    expect((await lat.stop())!.error).toBeNull();
    await run;
    const trusted = seeded(false);
    trusted.step(lat.stepCount);
    expect(sameBits(lat.field(), trusted.field())).toBe(true);
  }, 60_000);

  it('is timed out and killed when it hangs after writing a step it never reports, and the state is restored', async () => {
    const module = build('tests/fixtures/kernel-host/spin-after-five.cpp');
    const lat = seeded(true);
    const { failure } = await runUntilHostFails(lat, module, HANG_TIMEOUT_MS);

    expect(failure.reason).toBe('kernel-host');
    expect(failure.detail).toMatch(/no reply within the deadline \(hung\); killed; the host was killed by SIGKILL$/);
    expect(failure.kernelHost?.exit?.signal).toBe('SIGKILL');
    expect(failure.restoredStep).not.toBeNull();
    const trusted = seeded(false);
    trusted.step(lat.stepCount);
    expect(sameBits(lat.field(), trusted.field())).toBe(true);
    expect(sameBits(lat.previousField(), trusted.previousField())).toBe(true);
  }, 60_000);

  it('that reads out a digit outside -4..+4 is killed, and the readout slot goes back to last-known-good', async () => {
    const lat = seeded(true);
    const id = await lat.loadConfinedModule(build('tests/fixtures/kernel-host/bad-digit.cpp'));
    const hostPid = (lat.moduleInfo(id) as unknown as { hostPid: number }).hostPid;
    const honest = lat.readout();
    await lat.swap('readout', id);
    expect(() => lat.readout()).toThrow(/kernel host 'bad-digit' \(pid \d+\) read out digit 5 at cell 0: digits are -4 to 4; killed/);
    expect(lat.slots().readout.live.name).toBe('reference');
    expect(Buffer.from(lat.readout()).equals(Buffer.from(honest))).toBe(true);
    const alive = () => {
      try {
        process.kill(hostPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Killed and waited for by the core; gone once Node has reaped it.
    await until(() => !alive(), 5);
  }, 60_000);
});
