import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { attachSegment, createSegment, decodeMetadata, encodeMetadata, MetadataError, SegmentError, type HandoffMetadata } from '../dist/ts/handoff/index.js';
import * as limits from '../dist/ts/handoff/validate.js';
import { segmentAddon } from '../dist/native/loader.js';

const handoffModule = pathToFileURL(path.resolve('dist/ts/handoff/index.js')).href;

function metadata(stepCount: number): HandoffMetadata {
  return {
    config: { extents: [6, 5, 4], c: 1, h: 0.1, dt: 0.025, precision: 'f32' },
    stepCount,
    slots: [
      {
        slot: 'step',
        live: { path: '/opt/kernels/rows.so', sha256: 'ab'.repeat(32) },
        lastKnownGood: { path: '/opt/kernels/reference.so', sha256: '0f'.repeat(32) },
      },
      { slot: 'readout', live: null, lastKnownGood: null },
    ],
    counters: [
      {
        slot: 'step',
        calls: 4096,
        steps: 8192,
        totalNs: 2 ** 40 + 7,
        maxNs: 9000,
        p50Ns: 1200,
        p99Ns: 4500,
        histogram: [
          { lowNs: 1024, calls: 4000 },
          { lowNs: 4096, calls: 96 },
        ],
      },
    ],
    engineState: { watchdog: 'armed', 'lastSnapshot.step': '4000' },
  };
}

function caught(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('state segment', () => {
  it('lays out the header, the metadata block and page-aligned levels', () => {
    const segment = createSegment({ extents: [6, 5, 4], precision: 'f32', metadataCapacityBytes: 8192 });
    expect(segment.layout).toEqual({
      extents: [6, 5, 4],
      precision: 'f32',
      cells: 120,
      levelBytes: 480,
      metadataOffset: 4096,
      metadataCapacityBytes: 8192,
      level0Offset: 12288,
      level1Offset: 16384,
      scratchOffset: 20480,
      segmentBytes: 24576,
      checkpointBytes: 20480,
    });
    expect(segment.byteLength).toBe(24576);
    expect(segment.fd).toBeGreaterThan(2);
    expect(segment.level(0)).toBeInstanceOf(Float32Array);
    expect(segment.level(1)).toHaveLength(120);
    expect([segment.stepCount, segment.generation, segment.currentLevel]).toEqual([0, 0, 0]);
    segment.verify({ extents: [6, 5, 4], precision: 'f32' });
    segment.close();
  });

  it('uses the same limits as the native crate', () => {
    const native = segmentAddon().limits();
    expect(native).toEqual({
      formatVersion: 2,
      headerBytes: 4096,
      alignmentBytes: limits.ALIGNMENT_BYTES,
      defaultMetadataCapacityBytes: limits.DEFAULT_METADATA_CAPACITY_BYTES,
      maxMetadataCapacityBytes: limits.MAX_METADATA_CAPACITY_BYTES,
      maxSegmentBytes: limits.MAX_SEGMENT_BYTES,
      maxDims: limits.MAX_DIMS,
      minExtent: limits.MIN_EXTENT,
    });
  });

  it('gives zero-copy level views that outlive close()', () => {
    const segment = createSegment({ extents: [16, 16], precision: 'f64' });
    const level = segment.level(1);
    expect(segment.level(1)).toBe(level);
    level[17] = Math.PI;
    const second = attachSegment(segment.fd);
    expect(second.level(1)[17]).toBe(Math.PI);
    second.level(1)[18] = -2.5;
    expect(level[18]).toBe(-2.5);
    segment.close();
    second.close();
    expect(level[17]).toBe(Math.PI);
    level[0] = 1;
    expect(segment.closed).toBe(true);
    expect(() => segment.stepCount).toThrow('segment.stepCount: the segment is closed');
    segment.close();
  });

  it('refuses to verify a record changed since the last commit', () => {
    const segment = createSegment({ extents: [8], precision: 'f64' });
    segment.stepCount = 41;
    segment.currentLevel = 1;
    const error = caught(() => segment.verify());
    expect(error).toBeInstanceOf(SegmentError);
    expect((error as SegmentError).kind).toBe('commit-checksum');
    expect((error as SegmentError).field).toBe('commit_checksum');
    segment.commit();
    segment.verify();
    expect(segment.bumpGeneration()).toBe(1);
    expect(segment.generation).toBe(1);
    segment.close();
  });

  it('round-trips the metadata block through protobuf', () => {
    const segment = createSegment({ extents: [6, 5, 4], precision: 'f32' });
    segment.writeMetadata(metadata(123));
    segment.commit();
    segment.verify();
    expect(segment.readMetadata()).toEqual(metadata(123));
    segment.close();
  });

  it('turns a metadata block that does not parse into a MetadataError', () => {
    const segment = createSegment({ extents: [3], precision: 'f64' });
    segment.writeMetadataBytes(new Uint8Array([0x0a, 0xff, 0x01]));
    const error = caught(() => segment.readMetadata());
    expect(error).toBeInstanceOf(MetadataError);
    expect(error.message).toMatch(/^metadata block \(3 bytes\) is not a HandoffMetadata protobuf: index out of range/);
    expect(() => decodeMetadata(new Uint8Array([0x0f, 0x00]))).toThrow(/not a HandoffMetadata protobuf: invalid wire type 7/);
    expect(() => decodeMetadata(new Uint8Array(0))).toThrow('metadata block (0 bytes) has no lattice config');
    segment.close();
  });

  it('validates every argument with the parameter, value and limit', () => {
    expect(() => createSegment({ extents: [3, 2], precision: 'f64' })).toThrow('options.extents[1] = 2: each extent must be an integer >= 3');
    expect(() => createSegment({ extents: [], precision: 'f64' })).toThrow('options.extents.length = 0: a lattice has 1..9 dimensions');
    expect(() => createSegment({ extents: [3], precision: 'f16' as 'f64' })).toThrow('options.precision = "f16": must be "f64" or "f32"');
    expect(() => createSegment({ extents: [3], precision: 'f64', metadataCapacityBytes: 5000 })).toThrow(
      'options.metadataCapacityBytes = 5000: must be a multiple of 4096',
    );
    expect(() => createSegment({ extents: [3], precision: 'f64', metadataCapacityBytes: 0 })).toThrow(
      'options.metadataCapacityBytes = 0: must be an integer in [4096, 67108864]',
    );
    expect(() => createSegment({ extents: [2 ** 20, 2 ** 20, 2 ** 20], precision: 'f64' })).toThrow(/exceed the 281474976710656-byte segment limit/);
    const segment = createSegment({ extents: [3], precision: 'f64', metadataCapacityBytes: 4096 });
    expect(() => segment.level(2)).toThrow('index = 2: must be an integer in [0, 1]');
    expect(() => (segment.stepCount = -1)).toThrow('stepCount = -1: must be an integer in [0, 9007199254740991]');
    expect(() => (segment.currentLevel = 2)).toThrow('currentLevel = 2: must be an integer in [0, 1]');
    expect(() => segment.writeMetadataBytes(new Uint8Array(4097))).toThrow(
      'metadata = 4097 bytes: the block holds at most 4096; create the segment with a larger metadataCapacityBytes',
    );
    expect(() => segment.verify({ extents: [3, 1], precision: 'f64' })).toThrow('expected.extents[1] = 1: each extent must be an integer >= 3');
    expect(() => attachSegment(-1)).toThrow('fd = -1: must be an integer in [0, 2147483647]');
    const bad = { ...metadata(1), slots: [{ slot: 'step', live: { path: '/a.so', sha256: 'XYZ' }, lastKnownGood: null }] };
    expect(() => encodeMetadata(bad)).toThrow('metadata.slots[0].live.sha256 = "XYZ": must be 64 lowercase hex digits');
    expect(() => encodeMetadata({ ...metadata(1), stepCount: 1.5 })).toThrow('metadata.stepCount = 1.5');
    segment.close();
  });

  it('refuses descriptors that are not a sealed segment, and other layouts', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-segment-'));
    const file = path.join(dir, 'plain');
    writeFileSync(file, Buffer.alloc(8192));
    const fd = openSync(file, 'r+');
    const notSealed = caught(() => attachSegment(fd)) as SegmentError;
    closeSync(fd);
    expect(notSealed.kind).toBe('not-sealed');
    expect(notSealed.message).toBe(
      `attachSegment(${fd}): seals = none (not a memfd): expected F_SEAL_SHRINK set; attach only to a segment made by Segment::create`,
    );

    const segment = createSegment({ extents: [5, 5], precision: 'f64' });
    const mismatch = caught(() => attachSegment(segment.fd, { extents: [5, 6], precision: 'f64' })) as SegmentError;
    expect(mismatch.kind).toBe('layout-mismatch');
    expect([mismatch.field, mismatch.found, mismatch.expected]).toEqual(['extents[1]', '5', '6']);
    segment.close();
  });

  it('is attached by a child process that inherited the descriptor, with no copy', () => {
    const segment = createSegment({ extents: [32, 32], precision: 'f64' });
    const current = segment.level(0);
    for (let i = 0; i < current.length; i += 1) current[i] = Math.sin(i);
    segment.stepCount = 500;
    segment.writeMetadata({ ...metadata(500), config: { ...metadata(500).config, extents: [32, 32], precision: 'f64' } });
    segment.commit();

    const child = `
      import { attachSegment } from ${JSON.stringify(handoffModule)};
      const segment = attachSegment(3, { extents: [32, 32], precision: 'f64' });
      const seen = { step: segment.stepCount, value: segment.level(0)[100], engine: segment.readMetadata().engineState };
      segment.level(1)[7] = 42.5;
      segment.stepCount = seen.step + 1;
      segment.currentLevel = 1;
      segment.bumpGeneration();
      segment.commit();
      process.stdout.write(JSON.stringify(seen));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', child], {
      stdio: ['ignore', 'pipe', 'pipe', segment.fd],
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ step: 500, value: Math.sin(100), engine: metadata(1).engineState });
    expect(segment.level(1)[7]).toBe(42.5);
    expect([segment.stepCount, segment.currentLevel, segment.generation]).toEqual([501, 1, 1]);
    segment.verify({ extents: [32, 32], precision: 'f64' });
    segment.close();
  });
});
