// Scratch directories outlive a killed engine only until the next one
// starts: each process keeps them under a root named by its pid and start
// time, and the first scratch a process makes sweeps the roots of dead ones.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTicks, sweepDeadScratch } from '../dist/ts/gauntlet/scratch.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-scratch-test-'));
const scratchModule = path.resolve('dist/ts/gauntlet/scratch.js');

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A node process with TMPDIR = tmp that makes a scratch directory, prints it, writes into it, then waits or exits. */
function child(andThen: 'wait' | 'exit') {
  const script = [
    `import { writeFileSync } from 'node:fs';`,
    `import { makeScratch } from ${JSON.stringify(scratchModule)};`,
    `const dir = await makeScratch('compile-');`,
    `writeFileSync(dir + '/candidate.cpp', 'int x;');`,
    `console.log(dir);`,
    andThen === 'wait' ? 'setInterval(() => {}, 1000);' : '',
  ].join('\n');
  return spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] });
}

async function firstLine(proc: ReturnType<typeof child>): Promise<string> {
  let text = '';
  for await (const chunk of proc.stdout) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!;
}

const roots = () =>
  readdirSync(tmp)
    .filter((name) => name.startsWith('ouroboros-scratch-'))
    .sort();

describe('scratch directories', () => {
  it('of a process killed with SIGKILL are swept by the next process that makes one', async () => {
    const killed = child('wait');
    const left = await firstLine(killed);
    const exited = new Promise((resolve) => killed.once('exit', resolve));
    killed.kill('SIGKILL');
    await exited;
    expect(existsSync(path.join(left, 'candidate.cpp'))).toBe(true);
    expect(path.basename(path.dirname(left))).toMatch(new RegExp(`^ouroboros-scratch-${killed.pid}-\\d+$`));

    const next = child('exit');
    const made = await firstLine(next);
    await new Promise((resolve) => next.once('exit', resolve));
    expect(existsSync(path.dirname(left))).toBe(false);
    expect(made.startsWith(tmp)).toBe(true);
    // A process that exits normally removes its own root.
    expect(roots()).toEqual([]);
  });

  it('keeps the roots of live processes and removes one whose pid was given to a later process', () => {
    const own = `ouroboros-scratch-${process.pid}-${startTicks(process.pid)}`;
    const reused = `ouroboros-scratch-${process.pid}-1`;
    const unrelated = 'ouroboros-scratch-test-not-a-root';
    for (const name of [own, reused, unrelated]) mkdirSync(path.join(tmp, name));
    writeFileSync(path.join(tmp, own, 'in-use'), '');
    expect(sweepDeadScratch(tmp)).toEqual([path.join(tmp, reused)]);
    expect(roots()).toEqual([own, unrelated].sort());
  });
});
