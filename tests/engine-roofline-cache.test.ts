// The roofline `run` measures, remembered per machine and lattice with an
// expiry; injected clock and measurement, a temporary cache file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOFLINE_MAX_AGE_MS, cachedOrMeasuredRoofline, rooflineKey } from '../dist/ts/engine/roofline-cache.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-roofline-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let files = 0;
function counting(mlups: number) {
  const measure = () => {
    measure.calls += 1;
    return mlups;
  };
  measure.calls = 0;
  return measure;
}

describe('the roofline cache', async () => {
  it('measures once, then answers from the cache until the entry expires', async () => {
    const file = path.join(root, `cache-${(files += 1)}`, 'roofline.json');
    const key = rooflineKey([4096, 4096], 'f64');
    const measure = counting(1812);
    const t0 = 1_000_000;
    expect(await cachedOrMeasuredRoofline(file, key, measure, t0)).toEqual({ mlups: 1812, cached: false });
    expect(await cachedOrMeasuredRoofline(file, key, counting(1), t0 + ROOFLINE_MAX_AGE_MS - 1)).toEqual({ mlups: 1812, cached: true });
    expect(measure.calls).toBe(1);
    // Expired: measured and remembered again.
    expect(await cachedOrMeasuredRoofline(file, key, counting(1700), t0 + ROOFLINE_MAX_AGE_MS)).toEqual({ mlups: 1700, cached: false });
    expect(await cachedOrMeasuredRoofline(file, key, counting(1), t0 + ROOFLINE_MAX_AGE_MS + 1)).toEqual({ mlups: 1700, cached: true });
    // A clock that went back does not make an entry from the future valid.
    expect(await cachedOrMeasuredRoofline(file, key, counting(1650), t0)).toEqual({ mlups: 1650, cached: false });
  });

  it('keeps one entry per lattice and precision', async () => {
    const file = path.join(root, `cache-${(files += 1)}`, 'roofline.json');
    const f64 = rooflineKey([4096, 4096], 'f64');
    const f32 = rooflineKey([4096, 4096], 'f32');
    const small = rooflineKey([1024, 1024], 'f64');
    expect(new Set([f64, f32, small]).size).toBe(3);
    await cachedOrMeasuredRoofline(file, f64, counting(1812), 0);
    expect(await cachedOrMeasuredRoofline(file, f32, counting(3624), 0)).toEqual({ mlups: 3624, cached: false });
    expect(await cachedOrMeasuredRoofline(file, small, counting(1900), 0)).toEqual({ mlups: 1900, cached: false });
    expect(await cachedOrMeasuredRoofline(file, f64, counting(1), 0)).toEqual({ mlups: 1812, cached: true });
  });

  it('treats a damaged file or entry as a miss, and a cache it cannot write as no cache', async () => {
    const dir = path.join(root, `cache-${(files += 1)}`);
    const key = rooflineKey([64, 64], 'f64');
    const file = path.join(dir, 'roofline.json');
    await cachedOrMeasuredRoofline(file, key, counting(10), 0);
    writeFileSync(file, '{ not json');
    expect(await cachedOrMeasuredRoofline(file, key, counting(11), 0)).toEqual({ mlups: 11, cached: false });
    writeFileSync(file, JSON.stringify({ [key]: { mlups: -5, measuredAtMs: 0 } }));
    expect(await cachedOrMeasuredRoofline(file, key, counting(12), 0)).toEqual({ mlups: 12, cached: false });
    // Its directory is a file: nothing can be written, every run measures.
    const blocked = path.join(dir, 'roofline.json', 'roofline.json');
    expect(await cachedOrMeasuredRoofline(blocked, key, counting(13), 0)).toEqual({ mlups: 13, cached: false });
    expect(await cachedOrMeasuredRoofline(blocked, key, counting(14), 0)).toEqual({ mlups: 14, cached: false });
  });
});
