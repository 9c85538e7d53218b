import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import type { AttemptRecord, LedgerEntry } from '../dist/ts/archive/types.js';
import { RunProgress } from '../dist/ts/cli/run-progress.js';
import { TEST_ENGINE_DEPS_VARIABLE } from '../dist/ts/cli/test-hooks.js';
import { winningVerdict } from './helpers/verdicts.js';

const cli = path.resolve('bin/ouroboros.js');

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'ouro-run-'));
}

function run(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The value of one row of the summary table. */
function row(table: string, label: string): string {
  const match = new RegExp(`^${label} {2,}(.+)$`, 'm').exec(table);
  if (!match) throw new Error(`no "${label}" row in:\n${table}`);
  return match[1]!;
}

describe('ouroboros run --once', () => {
  it('runs one attempt on a small lattice and prints a summary that matches the archive and the ledger', () => {
    const dir = tempDir();
    const archive = path.join(dir, 'archive.sqlite');
    const report = path.join(dir, 'report.html');
    const result = run(dir, 'run', '--once', '--lattice', '128x128', '--archive', archive, '--report', report);
    expect(result.stderr).toMatch(/attempt #\d+ step: gauntlet/);
    expect(result.code).toBe(0);
    const table = result.stdout;

    const listed = run(dir, 'archive', 'list', '--archive', archive, '--json');
    expect(listed.code).toBe(0);
    const records = JSON.parse(listed.stdout) as AttemptRecord[];
    const attempts = records.filter((record) => record.parentId !== null);
    expect(attempts).toHaveLength(1);
    expect(row(table, 'attempts')).toBe('1');
    const count = (status: string) => String(attempts.filter((record) => record.status === status).length);
    expect(row(table, 'rejected')).toBe(count('rejected'));
    expect(row(table, 'failed')).toBe(count('failed'));
    expect(row(table, 'passed, not applied')).toBe(count('passed'));
    const gate = attempts[0]!.failedGate;
    expect(row(table, 'rejected by gate')).toBe(attempts[0]!.status === 'rejected' ? `${gate} 1` : 'none');

    const entries = JSON.parse(run(dir, 'ledger', 'list', '--archive', archive, '--json').stdout) as LedgerEntry[];
    expect(row(table, 'applied')).toBe(String(entries.filter((entry) => entry.action !== 'rollback').length));
    expect(row(table, 'rolled back')).toBe(String(entries.filter((entry) => entry.action === 'rollback').length));
    const verified = run(dir, 'ledger', 'verify', '--archive', archive, '--json');
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, entries: entries.length, firstBad: null });
    expect(table).toContain(`ledger verified: ${entries.length} entries`);

    expect(row(table, 'lost steps')).toBe('0');
    expect(Number(row(table, 'max energy drift'))).toBeLessThanOrEqual(1e-12);
    expect(Number(row(table, 'baseline MLUPS'))).toBeGreaterThan(0);
    expect(row(table, 'report')).toBe(report);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<td>attempts</td><td class="num">1</td>');
    expect(html).toContain(`<td>speedup</td><td class="num">${row(table, 'speedup')}</td>`);
    expect(html).toContain(`Hash chain verified: ${entries.length} entries`);
  });
});

/**
 * A stream's text as it comes, and a promise for the first match of a
 * pattern in it: the test waits for the event the CLI prints, not for a time.
 */
function watchText(stream: NodeJS.ReadableStream): { text: () => string; match: (pattern: RegExp) => Promise<RegExpExecArray> } {
  let text = '';
  const waiting: { pattern: RegExp; resolve: (match: RegExpExecArray) => void }[] = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
    for (const waiter of [...waiting]) {
      const found = waiter.pattern.exec(text);
      if (found) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(found);
      }
    }
  });
  return {
    text: () => text,
    match: (pattern) =>
      new Promise((resolve) => {
        const found = pattern.exec(text);
        if (found) resolve(found);
        else waiting.push({ pattern, resolve });
      }),
  };
}

/** Short windows, one attempt at a time and no economy pacing: the run reaches its first decision quickly. */
const SERVE_CONFIG = `maxConcurrentImprovements = 1
improvementInterval = "10ms"

[economy]
enabled = false

[archive]
warmStart = false

[watch]
window = "300ms"
minSteps = 5

[trial]
window = "150ms"
minSteps = 5

[canary]
steps = 20
`;

/** A generous bound on a loaded machine; no decision depends on it. */
const SERVE_TIMEOUT_MS = 300_000;

describe('ouroboros run --serve', () => {
  it(
    'answers status from the live engine, rolls back a change into the ledger, and stops',
    async () => {
      const dir = tempDir();
      const archive = path.join(dir, 'archive.sqlite');
      const socket = path.join(dir, 'control.sock');
      const release = path.join(dir, 'release-verdicts');
      writeFileSync(path.join(dir, 'ouroboros.toml'), SERVE_CONFIG);
      // The decision is the test's, made in the real CLI process through its test hook (ts/cli/test-hooks.ts): every
      // attempt proposes a copy of the reference, the gauntlet's verdict is the shipped rows kernel winning, and the live
      // windows (stepped for real) give rows ten times the reference's throughput. No verdict comes out before `release` exists.
      const fixture = {
        source: readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8'),
        verdict: winningVerdict(),
        mlupsByName: { rows: 1000, reference: 100 },
        releaseFile: release,
      };
      const child = spawn(
        process.execPath,
        [cli, 'run', '--serve', '--socket', socket, '--lattice', '128x128', '--duration', '10m', '--archive', archive, '--report', path.join(dir, 'r.html')],
        {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            [TEST_ENGINE_DEPS_VARIABLE]: path.resolve('tests/fixtures/engine-deps.mjs'),
            OUROBOROS_TEST_ENGINE_FIXTURE: JSON.stringify(fixture),
          },
        },
      );
      const stdout = watchText(child.stdout);
      const stderr = watchText(child.stderr);
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        await stderr.match(/^control socket /m);
        type Status = { engine?: { summary: { applied: number; rolledBack: number } } };
        const before = JSON.parse(run(dir, 'status', '--socket', socket, '--json').stdout) as Status;
        expect(before.engine?.summary).toMatchObject({ applied: 0, rolledBack: 0 });
        // The reference is live and its own last-known-good: nothing to roll back.
        const early = run(dir, 'rollback', 'step', '--socket', socket);
        expect(early.code).toBe(1);
        expect(early.stderr).toMatch(/nothing to roll back, reference is live and is the last-known-good module/);

        writeFileSync(release, '');
        await stderr.match(/^ledger #\d+ apply step \(attempt #\d+\)/m);
        const applied = JSON.parse(run(dir, 'status', '--socket', socket, '--json').stdout) as Status;
        expect(applied.engine!.summary.applied).toBeGreaterThan(applied.engine!.summary.rolledBack);

        const rollback = run(dir, 'rollback', 'step', '--socket', socket);
        expect(rollback.stderr).toBe('');
        expect(rollback.code).toBe(0);
        expect(rollback.stdout).toMatch(/^rolled back step: rows \(module \d+\) -> reference/m);
        const sequence = Number(/^ledger +entry #(\d+)$/m.exec(rollback.stdout)![1]);
        const swap = run(dir, 'swap', '--module', archive, '--socket', socket);
        expect(swap.code).toBe(1);
        expect(swap.stderr).toMatch(/swap is not taken by `ouroboros run`/);
        expect(run(dir, 'stop', '--socket', socket).code).toBe(0);
        expect(await exited).toBe(0);
        const entries = JSON.parse(run(dir, 'ledger', 'list', '--archive', archive, '--json').stdout) as LedgerEntry[];
        const entry = entries.find((e) => e.sequence === sequence)!;
        expect(entry).toMatchObject({ action: 'rollback', slot: 'step', reason: 'requested with `ouroboros rollback`' });
        const undone = JSON.parse(run(dir, 'archive', 'show', String(entry.attemptId), '--archive', archive, '--json').stdout) as AttemptRecord;
        expect(undone.status).toBe('rolled-back');
        expect(run(dir, 'ledger', 'verify', '--archive', archive).code).toBe(0);
        expect(Number(row(stdout.text(), 'rolled back'))).toBe(entries.filter((e) => e.action === 'rollback').length);
        expect(existsSync(socket)).toBe(false);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
    SERVE_TIMEOUT_MS,
  );
});

describe('ouroboros run: bad input', () => {
  it('names the flag and the value', () => {
    const dir = tempDir();
    const lattice = run(dir, 'run', '--lattice', '40x');
    expect(lattice.code).toBe(2);
    expect(lattice.stderr).toMatch(/--lattice <extents>' argument '40x' is invalid. "40x" is not a lattice/);
    const generator = run(dir, 'run', '--generator', 'gpt');
    expect(generator.code).toBe(2);
    expect(generator.stderr).toMatch(/--generator <kind>' argument 'gpt' is invalid. Allowed choices are variant, random, llm/);
    const duration = run(dir, 'run', '--duration', '5');
    expect(duration.code).toBe(2);
    expect(duration.stderr).toMatch(/--duration <duration>' argument '5' is invalid. "5" is not a duration/);
    const cycles = run(dir, 'run', '--cycles', '0');
    expect(cycles.code).toBe(2);
    expect(cycles.stderr).toMatch(/--cycles <n>' argument '0' is invalid. 0 is out of range: must be an integer >= 1/);
    const both = run(dir, 'run', '--once', '--cycles', '2');
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('ouroboros: --once and --cycles cannot be combined: --once is one attempt\n');
    const missing = run(dir, 'run', '--continue', '--archive', path.join(dir, 'none.sqlite'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/archive.path = ".*none.sqlite": no such archive to --continue/);
  });

  it('reports a configuration error with the file and the key', () => {
    const dir = tempDir();
    const config = path.join(dir, 'bad.toml');
    writeFileSync(config, '[lattice]\nextents = [4096, 2]\n');
    const result = run(dir, 'run', '--config', config);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`ouroboros: ${config}: lattice.extents[1] = 2: each extent must be an integer in [3, 16777216]\n`);
  });
});

/** A small archive: the reference root, three attempts (one hostile), two applies and a rollback. */
function fixtureArchive(file: string): void {
  const archive = Archive.open(file);
  try {
    const sha = (digit: string) => digit.repeat(64);
    const root = archive.ensureRoot('step', '// reference\n', sha('a'));
    const child = (source: string) =>
      archive.insertAttempt({ parentId: root.id, slot: 'step', generator: 'variant', operator: 'mutate:tile', genome: { tile: 32 }, prompt: null, source });
    const good = child('// good kernel\n');
    archive.updateAttempt(good.id, { status: 'applied', speedup: 3.5, moduleSha256: sha('b'), finishedAt: new Date().toISOString() });
    const bad = child('// \x1b[2J hostile source\n');
    archive.updateAttempt(bad.id, {
      status: 'rejected',
      failedGate: 'static',
      reason: 'forbidden call \x1b[31msystem\x1b[0m',
      gates: [{ gate: 'static', passed: false, reason: 'forbidden call system', details: {}, seconds: 0.5 }],
      finishedAt: new Date().toISOString(),
    });
    const later = child('// later kernel\n');
    archive.updateAttempt(later.id, { status: 'rolled-back', speedup: 4, moduleSha256: sha('c'), reason: 'throughput fell 9%' });
    archive.ledger.append({
      action: 'apply',
      slot: 'step',
      attemptId: good.id,
      moduleSha256: sha('b'),
      previousModuleSha256: sha('a'),
      atStep: 100,
      reason: '',
    });
    archive.ledger.append({
      action: 'apply',
      slot: 'step',
      attemptId: later.id,
      moduleSha256: sha('c'),
      previousModuleSha256: sha('b'),
      atStep: 200,
      reason: '',
    });
    archive.ledger.append({
      action: 'rollback',
      slot: 'step',
      attemptId: later.id,
      moduleSha256: sha('b'),
      previousModuleSha256: sha('c'),
      atStep: 300,
      reason: 'throughput fell 9%',
    });
  } finally {
    archive.close();
  }
}

describe('ouroboros archive and ledger on a fixture archive', () => {
  it('lists, filters and shows attempts, with untrusted text made printable', () => {
    const dir = tempDir();
    const file = path.join(dir, 'fixture.sqlite');
    fixtureArchive(file);
    const all = JSON.parse(run(dir, 'archive', 'list', '--archive', file, '--json').stdout) as AttemptRecord[];
    expect(all.map((record) => record.status)).toEqual(['applied', 'applied', 'rejected', 'rolled-back']);
    const rejected = run(dir, 'archive', 'list', '--archive', file, '--status', 'rejected');
    expect(rejected.code).toBe(0);
    expect(rejected.stdout).toMatch(/^ +3 +1 step +rejected +static .*forbidden call \\x1b\[31msystem\\x1b\[0m$/m);
    expect(rejected.stdout).not.toContain('\x1b');
    const shown = run(dir, 'archive', 'show', '3', '--archive', file, '--source');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^attempt #3: rejected at the static gate$/m);
    expect(shown.stdout).toMatch(/^ {2}static +FAILED in 0\.50 s: forbidden call system$/m);
    expect(shown.stdout).toContain('// \\x1b[2J hostile source');
    expect(shown.stdout).not.toContain('\x1b');
    const missing = run(dir, 'archive', 'show', '99', '--archive', file);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('ouroboros: attempt 99 is not in the archive; `ouroboros archive list` shows the ids\n');
    const nowhere = run(dir, 'archive', 'list', '--archive', path.join(dir, 'none.sqlite'));
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toMatch(/--archive = ".*none.sqlite": no archive there/);
    expect(existsSync(path.join(dir, 'none.sqlite'))).toBe(false);
  });

  it('status with no engine running reports from the archive', () => {
    const dir = tempDir();
    const file = path.join(dir, 'fixture.sqlite');
    fixtureArchive(file);
    const status = run(dir, 'status', '--archive', file, '--socket', path.join(dir, 'nobody.sock'));
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`no engine is running; from the archive ${file}:`);
    expect(status.stdout).toMatch(/^attempts 3: rejected 1, applied 1, rolled-back 1$/m);
    expect(status.stdout).toMatch(/^step +last change #3: rollback of attempt 4 at step 300/m);
    expect(status.stdout).toMatch(/3 entries, hash chain intact/);
  });

  it('ledger verify passes an intact chain and names the first entry of a tampered one', () => {
    const dir = tempDir();
    const file = path.join(dir, 'fixture.sqlite');
    fixtureArchive(file);
    const intact = run(dir, 'ledger', 'verify', '--archive', file);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toBe(`ledger of ${file}: 3 entries, hash chain intact\n`);
    const db = new Database(file);
    db.exec('DROP TRIGGER ledger_refuses_update');
    db.prepare('UPDATE ledger SET at_step = 250 WHERE sequence = 2').run();
    db.close();
    const tampered = run(dir, 'ledger', 'verify', '--archive', file);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/TAMPERED at entry 2: its hash [0-9a-f]+.* does not match its contents/);
    expect(tampered.stderr).toMatch(/^ouroboros: the ledger does not verify: entry 2: /);
  });
});

describe('the live display', () => {
  function sample(step: number, mlups: number, heldMs = 0) {
    return { atMs: step, step, mlups, intervalMs: 1000, heldMs, energyDrift: 1e-15, liveModules: { step: 'reference', readout: 'reference' } };
  }

  it('writes one line per event off a terminal, untrusted text made printable', () => {
    const lines: string[] = [];
    const engine = new EventEmitter();
    const progress = new RunProgress({ write: (text) => lines.push(text), isTTY: false });
    progress.attach(engine);
    engine.emit('sample', sample(1000, 80));
    engine.emit('attempt-phase', {
      id: 7,
      slot: 'step',
      phase: 'gauntlet',
      status: 'pending',
      parentId: 1,
      generator: 'variant',
      failedGate: null,
      reason: '',
      startedAt: '',
      finishedAt: null,
    });
    engine.emit('attempt-finished', {
      id: 7,
      parentId: 1,
      slot: 'step',
      generator: 'variant',
      operator: 'mutate:tile',
      status: 'rejected',
      failedGate: 'dojo',
      reason: 'NaN at cell 4 \x1b[2J',
      speedup: null,
    });
    progress.detach();
    engine.emit('sample', sample(2000, 90));
    expect(lines).toEqual([
      'sample t=1.0s step 1000 80.0 MLUPS drift 1.00e-15 live step=reference readout=reference\n',
      'attempt #7 step: gauntlet (variant, parent 1)\n',
      'attempt #7 step rejected at dojo (variant mutate:tile, parent 1): NaN at cell 4 \\x1b[2J\n',
    ]);
  });

  it('redraws a status block in place on a terminal', () => {
    let screen = '';
    const engine = new EventEmitter();
    const progress = new RunProgress({ write: (text) => (screen += text), isTTY: true, columns: 200 });
    progress.attach(engine);
    engine.emit('sample', sample(1000, 80));
    engine.emit('attempt-finished', {
      id: 7,
      parentId: 1,
      slot: 'step',
      generator: 'variant',
      operator: 'sample',
      status: 'rejected',
      failedGate: 'bench',
      reason: 'not faster',
      speedup: null,
    });
    expect(progress.statusLines()).toEqual([
      'step 1000  |  80.0 MLUPS now, 80.0 at start (1.00x)  |  energy drift 1.00e-15 (max 1.00e-15)',
      'live  step: reference   readout: reference',
      'attempts 1: rejected 1',
      'rejected by gate: bench 1',
      'last: attempt #7 step rejected at bench (variant sample, parent 1): not faster',
    ]);
    // The block drawn after the sample is erased (cursor up 3 lines, clear) before the event line.
    expect(screen).toContain('\x1b[3F\x1b[J');
    progress.detach();
  });

  it("says the lattice is held instead of showing the held interval's rate", () => {
    const lines: string[] = [];
    const engine = new EventEmitter();
    const progress = new RunProgress({ write: (text) => lines.push(text), isTTY: false });
    progress.attach(engine);
    engine.emit('sample', sample(1000, 80));
    engine.emit('sample', sample(1100, 10, 600));
    expect(progress.statusLines()[0]).toBe('step 1100  |  held (benchmark), 80.0 MLUPS at start  |  energy drift 1.00e-15 (max 1.00e-15)');
    expect(lines[1]).toBe('sample t=1.1s step 1100 10.0 MLUPS (held 0.6s) drift 1.00e-15 live step=reference readout=reference\n');
    engine.emit('sample', sample(1900, 79, 400));
    expect(progress.statusLines()[0]).toMatch(/^step 1900 {2}\| {2}79\.0 MLUPS now, 80\.0 at start \(0\.99x\)/);
    progress.detach();
  });
});
