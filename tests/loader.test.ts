import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NativeLoadError } from '@ouroboros-engine/core';
import { coreAddon, loadAddon, oracleAddon, targetTriple } from '../dist/native/loader.js';

describe('native loader', () => {
  it('loads both addons built for this target', () => {
    expect(targetTriple()).toMatch(/^linux-x64-(gnu|musl)$|^[a-z]+-[a-z0-9]+/);
    expect(coreAddon().kernelAbiVersion).toBe(1);
    expect(typeof oracleAddon().energy).toBe('function');
  });

  it('lists every path it tried and why each failed', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'ouro-empty-'));
    const broken = mkdtempSync(path.join(os.tmpdir(), 'ouro-broken-'));
    const brokenFile = path.join(broken, `ouroboros_core.${targetTriple()}.node`);
    writeFileSync(brokenFile, 'this is not a shared object');
    let error: unknown;
    try {
      loadAddon('ouroboros_core', [empty, broken]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NativeLoadError);
    const message = (error as Error).message;
    expect(message).toContain(`${path.join(empty, `ouroboros_core.${targetTriple()}.node`)}: not found`);
    expect(message).toContain(`${brokenFile}: `);
    expect(message).toMatch(/invalid ELF header|file too short/);
    expect(message).toContain('npm run build');
    expect((error as NativeLoadError).attempts).toHaveLength(2);
  });
});
