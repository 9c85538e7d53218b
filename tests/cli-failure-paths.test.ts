import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = path.resolve('bin/ouroboros.js');

function run(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('simulate and the control clients name a bad path before any work', () => {
  it('refuses a --dump under a file, creates a missing directory for it, and says a --socket is a directory', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-fail-'));
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, '');
    const refused = run(dir, 'simulate', '--steps', '3', '--dump', path.join(blocker, 'x.bin'));
    expect(refused.stderr).toBe(`ouroboros: --dump = "${blocker}/x.bin": "${blocker}" is a file, not a directory, so nothing can be created under it\n`);
    expect(refused.code).toBe(2);
    const dumped = run(dir, 'simulate', '--steps', '3', '--extents', '8,8', '--dump', path.join(dir, 'new', 'x.bin'));
    expect(dumped.code).toBe(0);
    expect(existsSync(path.join(dir, 'new', 'x.bin'))).toBe(true);
    const status = run(dir, 'status', '--socket', dir);
    expect(status.stderr).toBe(`ouroboros: --socket = "${dir}": is a directory, not the socket of a served simulation\n`);
    expect(status.code).toBe(2);
  });
});

describe('simulate names the flag of a value the lattice refuses', () => {
  it('says --threads, --steps and --extents[i], not the API names options.threads, steps and extents[i]', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-fail-'));
    const threads = run(dir, 'simulate', '--extents', '8,8', '--threads', '999');
    expect(threads.stderr).toBe('ouroboros: --threads = 999: must be an integer in [1, 256]\n');
    expect(threads.code).toBe(2);
    const steps = run(dir, 'simulate', '--extents', '8,8', '--steps', '-1');
    expect(steps.stderr).toBe('ouroboros: --steps = -1: must be an integer in [0, 9007199254740991]\n');
    const extents = run(dir, 'simulate', '--extents', '8,2');
    expect(extents.stderr).toBe('ouroboros: --extents[1] = 2: each extent must be an integer >= 3\n');
    expect(extents.code).toBe(2);
  });
});

describe('an inherited segment descriptor that is not a number', () => {
  it('is named as it was set, not as NaN', () => {
    const script = `import('${path.resolve('dist/ts/lattice/lattice.js')}').then((m) => m.Lattice.inherited()).catch((e) => console.log(e.message))`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, OUROBOROS_SEGMENT_FD: 'abc' } });
    expect(result.stdout.trim()).toBe('OUROBOROS_SEGMENT_FD = "abc": must be an integer in [0, 2147483647]');
  });
});

describe('ouroboros run when its outputs cannot be written', () => {
  it('prints its --json result when the report cannot be written at the end (ENOSPC), then fails naming the report path', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-fail-'));
    const result = run(dir, 'run', '--once', '--lattice', '64x64', '--json', '--archive', path.join(dir, 'a.sqlite'), '--report', '/dev/full');
    const printed = JSON.parse(result.stdout);
    expect(printed.report).toBeNull();
    expect(printed.summary.attempts).toBe(1);
    expect(printed.verification.ok).toBe(true);
    expect(result.stderr).toContain('--report = "/dev/full": the report could not be written (ENOSPC');
    expect(result.code).toBe(1);
  });

  it('refuses, before running, outputs that could never be written, naming the flag or key and the path', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-fail-'));
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, '');
    let configs = 0;
    const config = (text: string) => {
      const file = path.join(dir, `config-${(configs += 1)}.toml`);
      writeFileSync(file, text);
      return file;
    };
    const cases: Array<[string[], RegExp]> = [
      [['--report', path.join(blocker, 'r.html')], new RegExp(`^ouroboros: --report = ".*a-file/r.html": ".*a-file" is a file, not a directory`)],
      [['--report', dir], /^ouroboros: --report = ".*": is a directory; name a file/],
      [['--archive', '/proc/self/archive.sqlite'], /^ouroboros: --archive = "\/proc\/self\/archive.sqlite": is under \/proc, a kernel interface/],
      [
        ['--config', config(`[gauntlet]\ncacheDir = "${blocker}/cache"\n`)],
        /^ouroboros: gauntlet.cacheDir = ".*a-file\/cache": ".*a-file" is a file, not a directory/,
      ],
      [['--config', config(`[log]\nfile = "${dir}"\n`)], /^ouroboros: log.file = ".*": is a directory; name a file/],
      [['--seed', '-1'], /^ouroboros: --seed = -1: must be an integer in \[0, 4294967295\]/],
      [['--lattice', '2x64'], /^ouroboros: --lattice\[0\] = 2: each extent must be an integer in \[3, /],
    ];
    for (const [args, expected] of cases) {
      const result = run(dir, 'run', '--once', ...args);
      expect(result.stderr, args.join(' ')).toMatch(expected);
      expect(result.code, args.join(' ')).toBe(2);
    }
  });

  it('runs on, logging to stderr, when its log file cannot be written (ENOSPC)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-fail-'));
    const config = path.join(dir, 'ouroboros.toml');
    writeFileSync(config, '[log]\nfile = "/dev/full"\n');
    const result = run(
      dir,
      'run',
      '--once',
      '--lattice',
      '64x64',
      '--json',
      '--config',
      config,
      '--archive',
      path.join(dir, 'a.sqlite'),
      '--report',
      path.join(dir, 'r.html'),
    );
    expect(result.stderr).toContain('ouroboros: log.file = "/dev/full": a write failed (ENOSPC); the log goes on on stderr');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).summary.attempts).toBe(1);
  });

  it("ends with the watchdog's reason, naming the key, when the lattice's own kernel fails every check", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-fail-'));
    const config = path.join(dir, 'ouroboros.toml');
    // No f64 drift is this small: the reference fails every check after the first, and it is its own last-known-good.
    writeFileSync(config, '[watchdog]\ndriftTolerance = 1e-300\n');
    const result = run(
      dir,
      'run',
      '--duration',
      '10m',
      '--lattice',
      '32x32',
      '--config',
      config,
      '--archive',
      path.join(dir, 'a.sqlite'),
      '--report',
      path.join(dir, 'r.html'),
    );
    expect(result.stderr).toMatch(
      /ouroboros: the lattice's run ended at step \d+: the watchdog stopped the run: energy drift \S+ at step \d+ exceeds the tolerance 1e-300 \(watchdog\.driftTolerance\), again after the state was restored to step \d+/,
    );
    expect(result.code).toBe(1);
  });
});
