import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kernelModulePath } from '../dist/native/loader.js';

const cli = path.resolve('bin/ouroboros.js');
const twin = kernelModulePath('reference_twin');
const rows = kernelModulePath('rows');
const nodeKernel = kernelModulePath('reference').replace(/reference\.so$/, 'node_reference_v2.node');

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const servers: ChildProcess[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) if (server.exitCode === null) server.kill('SIGKILL');
});

function socketPath(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-sock-')), 'control.sock');
}

/** Starts `simulate --serve` and resolves once it prints the line naming its socket. */
function startServer(socket: string) {
  const child = spawn(process.execPath, [cli, 'simulate', '--serve', '--socket', socket, '--extents', '24,20', '--threads', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => stdout.includes(`on ${socket}\n`) && resolve());
    void exited.then((code) => reject(new Error(`the server exited with ${code}: ${stderr}`)));
  });
  return { listening, exited, output: () => ({ stdout, stderr }) };
}

/** One raw protocol exchange, for requests the clients never send. */
function rawRequest(socket: string, line: string): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const connection = net.createConnection(socket, () => connection.write(`${line}\n`));
    let received = '';
    connection.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\n')) {
        connection.destroy();
        resolve(JSON.parse(received));
      }
    });
    connection.on('error', reject);
  });
}

describe('ouroboros simulate --serve and its clients', () => {
  it('swaps, reports status, rolls back and stops a running simulation, the step counter rising throughout', async () => {
    const socket = socketPath();
    const server = startServer(socket);
    await server.listening;
    expect(server.output().stdout).toBe(`serving 24 x 20 f64 (480 cells), kernel reference, on ${socket}\n`);

    const first = await run('status', '--socket', socket, '--json');
    expect(first.code).toBe(0);
    const before = JSON.parse(first.stdout);
    expect(before).toMatchObject({ ok: true, command: 'status', running: true, extents: [24, 20], swaps: 0 });
    expect(before.slots.step.live.name).toBe('reference');
    expect(before.profile.step.calls).toBeGreaterThan(0);

    const swapped = await run('swap', '--module', twin, '--slot', 'step', '--socket', socket, '--json');
    expect(swapped.stderr).toBe('');
    expect(swapped.code).toBe(0);
    const swap = JSON.parse(swapped.stdout);
    expect(swap).toMatchObject({ ok: true, command: 'swap', slot: 'step', module: twin, from: { name: 'reference' }, to: { name: 'reference-twin' } });
    // The gap from the old code's last step to the new code's first: never nothing, whatever the machine.
    expect(swap.pauseUs).toBeGreaterThan(0);
    expect(swap.appliedAtStep).toBeGreaterThan(before.stepCount);
    expect(swap.stepCount).toBeGreaterThan(swap.appliedAtStep);

    const human = await run('swap', '--module', rows, '--socket', socket);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^swapped step: reference-twin \(module \d+\) -> rows \(module \d+\)\n/);
    expect(human.stdout).toMatch(/\npause +[\d.]+ us\nstep +(\d+) \(the first on the new code\); (\d+) now\n$/);

    const status = await run('status', '--socket', socket);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^simulation 24 x 20 f64, running, step \d+, 2 swaps/);
    expect(status.stdout).toMatch(/\nstep +live rows \(module \d+\), last-known-good reference-twin/);

    const rolledBack = await run('rollback', 'step', '--socket', socket, '--json');
    expect(rolledBack.code).toBe(0);
    const rollback = JSON.parse(rolledBack.stdout);
    expect(rollback).toMatchObject({ command: 'rollback', from: { name: 'rows' }, to: { name: 'reference-twin' } });
    expect(rollback.appliedAtStep).toBeGreaterThan(swap.appliedAtStep);

    // Refusals come back as errors; the simulation goes on.
    const missing = await run('swap', '--module', '/nonexistent/kernel.so', '--socket', socket);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('ouroboros: cannot load kernel module /nonexistent/kernel.so: no such file\n');
    const again = await run('swap', '--module', twin, '--socket', socket);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is already live in slot step as reference-twin \(module \d+\); nothing to swap/);
    expect(await rawRequest(socket, '{"command":"rollback","slot":"stepper"}')).toEqual({
      ok: false,
      error: 'slot = "stepper": must be one of "step", "readout"',
    });
    expect(await rawRequest(socket, 'status please')).toMatchObject({ ok: false, error: expect.stringMatching(/is not JSON/) });

    const stopped = await run('stop', '--socket', socket, '--json');
    expect(stopped.code).toBe(0);
    const stop = JSON.parse(stopped.stdout);
    expect(stop).toMatchObject({ ok: true, command: 'stop', swaps: 3 });
    expect(stop.stepCount).toBeGreaterThan(rollback.appliedAtStep);
    expect(await server.exited).toBe(0);
    const { stdout } = server.output();
    expect(stdout).toMatch(/\nswap step: reference -> reference-twin at step \d+, pause [\d.]+ us\n/);
    expect(stdout).toMatch(/\nrollback step: rows -> reference-twin at step \d+/);
    expect(stdout).toMatch(new RegExp(`\nstopped at step ${stop.stepCount} after 3 swaps\n$`));
    expect(existsSync(socket)).toBe(false);
  });

  it('names the socket when no server is listening, and refuses to start over a live one', async () => {
    const socket = socketPath();
    for (const args of [['swap', '--module', twin], ['status'], ['rollback', 'step'], ['stop']]) {
      const { code, stderr } = await run(...args, '--socket', socket);
      expect(code).toBe(1);
      expect(stderr).toBe(
        `ouroboros: no simulation is listening on ${socket} (ENOENT): start one with ` +
          `\`ouroboros simulate --serve --socket ${socket}\` or name its socket with --socket\n`,
      );
    }
    const server = startServer(socket);
    await server.listening;
    const second = await run('simulate', '--serve', '--socket', socket, '--extents', '8,8');
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(`ouroboros: --socket = "${socket}": a simulation is already listening there`);
    expect((await run('stop', '--socket', socket)).code).toBe(0);
    expect(await server.exited).toBe(0);
  });
});

describe('ouroboros simulate --swap-every', () => {
  it('swaps twin modules round-robin, printing each swap and a summary', async () => {
    const reference = kernelModulePath('reference');
    const { code, stdout, stderr } = await run(
      'simulate',
      '--extents',
      '32,32',
      '--threads',
      '1',
      '--swap-every',
      '20ms',
      '--duration',
      '800ms',
      '--modules',
      `${reference},${twin}`,
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const swaps = stdout.split('\n').filter((line) => line.startsWith('swap '));
    expect(swaps.length).toBeGreaterThanOrEqual(2);
    swaps.forEach((line, i) => {
      const [module, name] = i % 2 === 0 ? [reference, 'reference'] : [twin, 'reference-twin'];
      // The duration can run out between a swap and the step that would time its pause.
      const outcome = i === swaps.length - 1 ? '(pause [\\d.]+ us|applied as the run ended)' : 'pause [\\d.]+ us';
      expect(line).toMatch(new RegExp(`^swap ${i + 1}: step [\\w-]+ -> ${name} \\(${module}\\) at step \\d+, ${outcome}$`));
    });
    expect(stdout).toMatch(new RegExp(`\nswaps +${swaps.length}, pause p50 [\\d.]+ us, max [\\d.]+ us\n`));
    expect(stdout).toMatch(/\nenergy drift +\d\.\d\de-\d+\n$/);
  });

  it('--json gives one object whose swaps go round-robin, the .so files confined, a trusted .node addon in-process, and whose state stayed physical', async () => {
    const { code, stdout } = await run(
      'simulate',
      '--extents',
      '64,64',
      '--threads',
      '1',
      '--swap-every',
      '10ms',
      '--steps',
      '20000',
      '--json',
      '--modules',
      `${twin},${rows},${nodeKernel}`,
      '--trust-native-addon',
    );
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.steps).toBe(20000);
    expect(summary.swaps.length).toBeGreaterThan(0);
    const names = ['reference-twin', 'rows', 'node-reference-v2'];
    expect(summary.modules.map((module: { name: string }) => module.name)).toEqual(names);
    expect(summary.modules.map((module: { confined: boolean }) => module.confined)).toEqual([true, true, false]);
    summary.swaps.forEach((swap: { index: number; to: string }, i: number) => {
      expect(swap.index).toBe(i + 1);
      expect(swap.to).toBe(names[i % 3]);
    });
    expect(summary.energyDrift).toBeLessThan(1e-9);
  });
});

describe('bad input', () => {
  it('exits non-zero with a message naming the option, the value and the limit', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [
        ['simulate', '--swap-every', 'fast', '--modules', twin],
        2,
        /option '--swap-every <duration>' argument 'fast' is invalid\. "fast" is not a duration: use a number and a unit \(us, ms, s, m\) such as 100ms or 2s\./,
      ],
      [['simulate', '--swap-every', '0ms', '--modules', twin], 2, /argument '0ms' is invalid\. 0ms is out of range: must be from 1ms to 3600s\./],
      [['simulate', '--swap-every', '100ms', '--modules', twin, '--duration', '2 days'], 2, /option '--duration <duration>' argument '2 days' is invalid/],
      [['simulate', '--swap-every', '100ms'], 2, /^ouroboros: --swap-every needs --modules a\.so,b\.so/],
      [['simulate', '--swap-every', '100ms', '--modules', `${twin},missing.so`], 2, /^ouroboros: --modules\[1\] = "missing\.so": no such file\n$/],
      [['simulate', '--modules', twin], 2, /^ouroboros: --modules is only used with --swap-every <duration>/],
      [['simulate', '--trust-native-addon'], 2, /^ouroboros: --trust-native-addon is only used with --kernel <path> or --swap-every <duration>/],
      [
        ['simulate', '--swap-every', '100ms', '--modules', `${twin},${nodeKernel}`],
        1,
        /^ouroboros: cannot load kernel module .*node_reference_v2\.node: a \.node addon is Node code and cannot run confined in a kernel host; pass --trust-native-addon only if you trust it/,
      ],
      [['simulate', '--serve', '--swap-every', '1s', '--modules', twin], 2, /^ouroboros: --serve and --swap-every cannot be combined/],
      [['simulate', '--serve', '--steps', '100'], 2, /^ouroboros: --steps cannot be combined with --serve/],
      [['simulate', '--socket', '/tmp/x.sock'], 2, /^ouroboros: --socket = "\/tmp\/x\.sock": only used with --serve/],
      [
        ['status', '--socket', `/tmp/${'s'.repeat(120)}.sock`],
        2,
        /--socket = "\/tmp\/s+\.sock": a Unix socket path must be at most 107 bytes, this one is 130/,
      ],
      [['swap', '--module', twin, '--slot', 'stepper'], 2, /option '--slot <slot>' argument 'stepper' is invalid\. Allowed choices are step, readout\./],
      [['rollback', 'stepper'], 2, /value 'stepper' is invalid for argument 'slot'\. Allowed choices are step, readout\./],
      [['swap', '--slot', 'step'], 2, /required option '--module <path>' not specified/],
    ];
    for (const [args, expectedCode, message] of cases) {
      const { code, stderr } = await run(...args);
      expect({ args, code }).toEqual({ args, code: expectedCode });
      expect(stderr).toMatch(message);
    }
  });
});
