import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = path.resolve('bin/ouroboros.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('ouroboros check', () => {
  it('prints every gate of an accepted candidate as JSON and exits 0', () => {
    const result = run('check', 'tests/fixtures/variants/reference-copy.cpp', '--threads', '2', '--json');
    expect(result.status).toBe(0);
    const verdict = JSON.parse(result.stdout);
    expect(verdict.accepted).toBe(true);
    expect(verdict.gates.map((g: { gate: string }) => g.gate)).toEqual(['patch', 'static', 'compile', 'symbols', 'sandbox', 'dojo', 'bench']);
    expect(verdict.isolation.find((layer: { name: string }) => layer.name === 'pool').detail).toContain('threads: 2 workers');
  });

  it('refuses a thread count outside 1 to 256 with usage status 2', () => {
    const result = run('check', 'tests/fixtures/variants/reference-copy.cpp', '--threads', '0');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("option '--threads <n>' argument '0' is invalid. 0 is out of range: must be an integer in [1, 256].");
  });

  it('prints the failing gate of a rejected candidate and exits 1 with one error line', () => {
    const result = run('check', 'tests/fixtures/hostile/forge-report.cpp');
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('FAIL  symbols');
    expect(result.stderr.trim()).toBe(
      'ouroboros: tests/fixtures/hostile/forge-report.cpp was rejected by the symbols gate: imports symbols outside the allowlist: puts',
    );
  });

  it('checks the readout slot', () => {
    const result = run('check', 'tests/fixtures/variants/reference-copy.cpp', '--slot', 'readout');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('accepted');
  });
});
