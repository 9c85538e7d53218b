// The dashboard's command line: flags refused before anything starts, and
// `ouroboros ui --archive` serving a finished run behind its one-time token.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import { archiveDashboard } from '../dist/ts/ui/dashboard-data.js';

const cli = path.resolve('bin/ouroboros.js');
const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ui-cli-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

function run(...args: string[]): { code: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: root });
  return { code: result.status, stderr: result.stderr };
}

describe('ouroboros run --ui flags', () => {
  it.each([
    [['--approve'], '--approve needs --ui'],
    [['--ui-port', '8080'], '--ui-port is only used with --ui'],
    [['--ui', '--ui-host', '0.0.0.0'], '--ui-host = "0.0.0.0": serving beyond 127.0.0.1 needs --ui-tls-cert and --ui-tls-key, or an explicit --insecure'],
  ])('refuses %j before the run starts', (flags, message) => {
    const result = run('run', ...flags, '--archive', path.join(root, 'never.sqlite'));
    expect(result.stderr).toContain(message);
    expect(result.code).toBe(2);
  });
});

describe('ouroboros ui --archive', () => {
  it('charts a finished run from the samples `ouroboros run` kept in its archive', () => {
    const file = path.join(root, 'ran.sqlite');
    // One real attempt (generation, compile, sandbox: seconds) sampled every 100 ms: a run of a fixed duration could
    // end before its first sample on a loaded machine, where loading the program takes seconds of it.
    const config = path.join(root, 'sampled.toml');
    writeFileSync(config, 'sampleInterval = "100ms"\n');
    const result = run('run', '--once', '--config', config, '--lattice', '64x64', '--archive', file, '--report', path.join(root, 'ran.html'), '--json');
    expect(result.code, result.stderr).toBe(0);
    const archive = Archive.open(file);
    try {
      const [kept] = archive.runs.list();
      expect(kept!.samplesTaken).toBeGreaterThan(0);
      const snapshot = archiveDashboard(archive).snapshot();
      expect(snapshot.samples).toHaveLength(kept!.samplesTaken);
      expect(snapshot.run).toMatchObject({ id: 1, runs: 1, samplesTaken: kept!.samplesTaken });
      expect(snapshot.rooflineMlups).toBeGreaterThan(0);
      expect(snapshot.driftTolerance).toBeGreaterThan(0);
    } finally {
      archive.close();
    }
    // A real gauntlet run: a minute at load 12 on 2 cores.
  }, 300_000);

  it('refuses an archive that does not exist', () => {
    const result = run('ui', '--archive', path.join(root, 'missing.sqlite'));
    expect(result.stderr).toContain('no such archive');
    expect(result.code).toBe(2);
  });

  it('serves the archive behind its one-time token, read only', async () => {
    const file = path.join(root, 'finished.sqlite');
    const archive = Archive.open(file);
    archive.ensureRoot('step', '// reference', 'a'.repeat(64));
    archive.close();
    const child = spawn(process.execPath, [cli, 'ui', '--archive', file], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stderr!.on('data', (chunk) => {
        text += chunk;
        const match = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})/.exec(text);
        if (match) resolve(match[1]!);
      });
      child.on('exit', () => reject(new Error(text)));
    });
    const origin = new URL(url).origin;
    expect((await fetch(`${origin}/api/state`)).status).toBe(401);
    const first = await fetch(url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    const state = await (await fetch(`${origin}/api/state`, { headers: { cookie } })).json();
    expect(state).toMatchObject({ mode: 'archive', controls: false, engine: null });
    expect(state.records.map((r: { id: number }) => r.id)).toEqual([1]);
    const post = await fetch(`${origin}/api/control/stop`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-ouroboros-csrf': state.csrf, origin },
      body: '{}',
    });
    expect(post.status).toBe(409);
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(401);
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
  });
});
