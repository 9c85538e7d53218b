import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  createSegment,
  MetadataError,
  readCheckpoint,
  SegmentError,
  writeCheckpoint,
  type SegmentFaultKind,
  type StateSegment,
} from '../dist/ts/handoff/index.js';
import { seededRandom } from '../dist/ts/util/random.js';

const handoffModule = pathToFileURL(path.resolve('dist/ts/handoff/index.js')).href;

// Header offsets from cpp/include/ouroboros/segment_layout.h.
const FORMAT_VERSION = 8;
const EXTENTS = 24;
const STEP_COUNT = 256;
const METADATA_OFFSET = 4096;
const CURRENT_LEVEL = 272;
const LEVEL0_OFFSET = 128;
const LEVEL1_OFFSET = 136;

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'ouro-checkpoint-'));
}

/** A segment whose levels hold seeded random values, at step `steps`. */
function filledSegment(extents: number[], seed: number, steps: number): StateSegment {
  const segment = createSegment({ extents, precision: 'f64' });
  const random = seededRandom(seed);
  for (const index of [0, 1]) {
    const level = segment.level(index);
    for (let i = 0; i < level.length; i += 1) level[i] = random() * 2 - 1;
  }
  segment.stepCount = steps;
  segment.currentLevel = 1;
  segment.writeMetadata({
    config: { extents, c: 1, h: 0.05, dt: 0.01, precision: 'f64' },
    stepCount: steps,
    slots: [],
    counters: [],
    engineState: { seed: String(seed) },
  });
  segment.commit();
  return segment;
}

function bytesOf(level: Float64Array | Float32Array): Buffer {
  return Buffer.from(level.buffer, level.byteOffset, level.byteLength);
}

/** The byte offset of `level` in a checkpoint file, from its header. */
function levelOffset(bytes: Buffer, level: number): number {
  return Number(bytes.readBigUInt64LE(level === 0 ? LEVEL0_OFFSET : LEVEL1_OFFSET));
}

function flipLevelByte(bytes: Buffer, level: number): Buffer {
  const at = levelOffset(bytes, level) + 5;
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
  return bytes;
}

function zeroLevel(bytes: Buffer, level: number): Buffer {
  const start = levelOffset(bytes, level);
  bytes.fill(0, start, start + (levelOffset(bytes, 1) - levelOffset(bytes, 0)));
  return bytes;
}

function readError(file: string): SegmentError {
  try {
    readCheckpoint(file).close();
  } catch (error) {
    return error as SegmentError;
  }
  throw new Error(`${file} was accepted`);
}

describe('checkpoint files', () => {
  it('round-trips the levels bitwise, the commit record and the metadata', () => {
    const file = path.join(tempDir(), 'state.ouro');
    const original = filledSegment([24, 20, 3], 7, 9000);
    writeCheckpoint(original, file);
    const restored = readCheckpoint(file, { extents: [24, 20, 3], precision: 'f64' });
    for (const index of [0, 1]) {
      expect(bytesOf(restored.level(index)).equals(bytesOf(original.level(index)))).toBe(true);
    }
    expect([restored.stepCount, restored.currentLevel, restored.generation]).toEqual([9000, 1, 0]);
    expect(restored.readMetadata().engineState).toEqual({ seed: '7' });
    expect(restored.fd).not.toBe(original.fd);
    restored.level(0)[0] = 123;
    expect(original.level(0)[0]).not.toBe(123);
    expect(readFileSync(file).length).toBe(original.layout.checkpointBytes);
    expect(readdirSync(path.dirname(file))).toEqual(['state.ouro']);
    original.close();
    restored.close();
  });

  it('refuses each kind of damaged file with its own error', () => {
    const dir = tempDir();
    const file = path.join(dir, 'good.ouro');
    const segment = filledSegment([10, 10], 3, 77);
    writeCheckpoint(segment, file);
    const good = readFileSync(file);
    const cases: [SegmentFaultKind, string, (bytes: Buffer) => Buffer][] = [
      ['bad-magic', 'magic', (bytes) => (bytes.write('NOTOURS!', 0, 'latin1'), bytes)],
      ['unknown-version', 'format_version', (bytes) => (bytes.writeUInt32LE(99, FORMAT_VERSION), bytes)],
      ['truncated', 'segment_bytes', (bytes) => bytes.subarray(0, bytes.length - 8)],
      ['truncated', 'segment_bytes', (bytes) => bytes.subarray(0, 100)],
      ['trailing-bytes', 'segment_bytes', (bytes) => Buffer.concat([bytes, Buffer.alloc(1)])],
      ['header-checksum', 'header_checksum', (bytes) => (bytes.writeBigUInt64LE(11n, EXTENTS), bytes)],
      ['commit-checksum', 'commit_checksum', (bytes) => (bytes.writeBigUInt64LE(78n, STEP_COUNT), bytes)],
      ['metadata-checksum', 'metadata_checksum', (bytes) => (bytes.writeUInt8(bytes.readUInt8(METADATA_OFFSET + 3) ^ 0x20, METADATA_OFFSET + 3), bytes)],
      // One bit of u^n, then of u^{n-1} zeroed whole: each level is checksummed by its role.
      ['level-checksum', 'level_current_checksum', (bytes) => flipLevelByte(bytes, bytes.readUInt32LE(CURRENT_LEVEL))],
      ['level-checksum', 'level_previous_checksum', (bytes) => zeroLevel(bytes, 1 - bytes.readUInt32LE(CURRENT_LEVEL))],
    ];
    for (const [kind, field, damage] of cases) {
      const damaged = path.join(dir, `${kind}-${field}.ouro`);
      writeFileSync(damaged, damage(Buffer.from(good)));
      const error = readError(damaged);
      expect(error, kind).toBeInstanceOf(SegmentError);
      expect([error.kind, error.field]).toEqual([kind, field]);
      expect(error.message.startsWith(`readCheckpoint(${damaged}): ${field === 'segment_bytes' ? '' : field}`)).toBe(true);
    }
    expect(readError(path.join(dir, 'unknown-version-format_version.ouro')).message).toBe(
      `readCheckpoint(${path.join(dir, 'unknown-version-format_version.ouro')}): ` +
        'format_version = 99: this build reads version 2; use the build that wrote it',
    );
    expect(readError(path.join(dir, 'truncated-segment_bytes.ouro')).message).toMatch(/checkpoint file is 100 bytes: its layout needs 4096; it was truncated/);
    segment.close();
  });

  it('refuses a FIFO, a directory or a device as a checkpoint at once, without blocking', () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const [file, found] of [
      [fifo, 'a FIFO'],
      [dir, 'a directory'],
      ['/dev/zero', 'a device'],
    ] as const) {
      const error = readError(file);
      expect([error.kind, error.field]).toEqual(['not-a-regular-file', 'path']);
      expect(error.message).toContain(`${file} is ${found}: a checkpoint is a regular file`);
    }
  });

  it('refuses a checkpoint of another configuration, naming the field', () => {
    const file = path.join(tempDir(), 'state.ouro');
    const segment = filledSegment([9, 8], 1, 5);
    writeCheckpoint(segment, file);
    segment.close();
    const error = (() => {
      try {
        readCheckpoint(file, { extents: [9, 8], precision: 'f32' });
      } catch (caught) {
        return caught as SegmentError;
      }
      throw new Error('accepted');
    })();
    expect([error.kind, error.field, error.found, error.expected]).toEqual(['layout-mismatch', 'precision', 'f64', 'f32']);
    expect(() => readCheckpoint(file, { extents: [9, 8, 3], precision: 'f64' })).toThrow(
      'dims = 2: the lattice expects 3; this state belongs to a different configuration',
    );
    expect(() => readCheckpoint(path.join(path.dirname(file), 'missing'))).toThrow(/opening .*missing: No such file/);
    expect(() => readCheckpoint('')).toThrow('file = "": must be a non-empty path string');
  });

  it('reads a checkpoint whose metadata is not protobuf, and says so when it is decoded', () => {
    const file = path.join(tempDir(), 'state.ouro');
    const segment = createSegment({ extents: [4], precision: 'f64' });
    segment.writeMetadataBytes(new Uint8Array([0xff, 0xff, 0xff]));
    writeCheckpoint(segment, file);
    segment.close();
    const restored = readCheckpoint(file);
    expect(() => restored.readMetadata()).toThrow(MetadataError);
    expect(() => restored.readMetadata()).toThrow(/^metadata block \(3 bytes\) is not a HandoffMetadata protobuf/);
    restored.close();
  });

  it('leaves the old checkpoint intact and no temporary file when a write fails midway', () => {
    const dir = tempDir();
    const file = path.join(dir, 'state.ouro');
    const old = filledSegment([128, 128], 11, 1000);
    writeCheckpoint(old, file);
    const before = readFileSync(file);

    // The writer attaches to a newer state; its write fails with EFBIG once
    // the checkpoint passes the 256 KiB file-size limit.
    const newer = filledSegment([128, 128], 12, 2000);
    const writer = `
      import { attachSegment, writeCheckpoint } from ${JSON.stringify(handoffModule)};
      writeCheckpoint(attachSegment(3), ${JSON.stringify(file)});
    `;
    const result = spawnSync('/bin/sh', ['-c', 'ulimit -f 256 && exec "$0" --input-type=module -e "$1"', process.execPath, writer], {
      stdio: ['ignore', 'pipe', 'pipe', newer.fd],
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/SegmentError: writeCheckpoint\(.*state\.ouro\): writing .*\.tmp: File too large/);

    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['state.ouro']);
    const restored = readCheckpoint(file);
    expect(restored.stepCount).toBe(1000);
    expect(bytesOf(restored.level(1)).equals(bytesOf(old.level(1)))).toBe(true);
    for (const segment of [old, newer, restored]) segment.close();
  });

  it('always leaves a complete checkpoint when the writer is killed with SIGKILL mid-write', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'state.ouro');
    const old = filledSegment([1024, 512], 21, 1000);
    writeCheckpoint(old, file);
    const newer = filledSegment([1024, 512], 22, 2000);
    // Writes the newer state over and over, so a write is nearly always under way.
    const writer = `
      import { attachSegment, writeCheckpoint } from ${JSON.stringify(handoffModule)};
      const segment = attachSegment(3);
      for (;;) writeCheckpoint(segment, ${JSON.stringify(file)});
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', writer], {
      stdio: ['ignore', 'ignore', 'inherit', newer.fd],
    });
    const exited = once(child, 'exit');
    const writing = () => readdirSync(dir).some((name) => name.endsWith('.tmp'));
    const deadline = Date.now() + 20_000;
    let sawWrite = writing();
    while (!sawWrite && Date.now() < deadline) {
      await delay(1);
      sawWrite = writing();
    }
    child.kill('SIGKILL');
    expect(sawWrite).toBe(true);
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');

    const restored = readCheckpoint(file, { extents: [1024, 512], precision: 'f64' });
    const source = restored.stepCount === 1000 ? old : newer;
    expect([1000, 2000]).toContain(restored.stepCount);
    for (const index of [0, 1]) {
      expect(bytesOf(restored.level(index)).equals(bytesOf(source.level(index)))).toBe(true);
    }
    for (const segment of [old, newer, restored]) segment.close();
  });
});
