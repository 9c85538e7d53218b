/**
 * `StateSegment`: the lattice state in a sealed shared-memory segment
 * (`crates/segment`), with zero-copy level views, the commit record and
 * the metadata block, mapped once per process. A successor process that
 * inherits `segment.fd` attaches with `attachSegment(fd)` and sees the same
 * bytes, no copy.
 */
import type { FieldArray, Precision, SegmentExpected, SegmentHandle, SegmentLayoutInfo, SegmentMappingExternal } from '../../native/addon-types.js';
import { segmentAddon } from '../../native/loader.js';
import { invalidTypeError, requireInteger } from '../errors.js';
import { throwIfFault, unwrapFault } from './errors.js';
import { decodeMetadata, encodeMetadata, type HandoffMetadata } from './metadata.js';
import { DEFAULT_METADATA_CAPACITY_BYTES, requireExtents, requireFd, requireMetadataCapacity, requirePrecision, requireSegmentSize } from './validate.js';

export interface SegmentOptions {
  /** 1..9 extents, each an integer >= 3, last axis fastest. */
  extents: number[];
  precision: Precision;
  /** Bytes reserved for the metadata block: a multiple of 4096; 64 KiB by default. */
  metadataCapacityBytes?: number;
}

/** The configuration a segment must hold to be accepted. */
export interface ExpectedLayout {
  extents: number[];
  precision: Precision;
}

/** Native handles of open segments; checkpoint.ts reaches them through `nativeHandle`. */
const handles = new WeakMap<StateSegment, SegmentHandle>();

export function checkExpected(name: string, expected: unknown): SegmentExpected | null {
  if (expected === undefined || expected === null) return null;
  if (typeof expected !== 'object') throw invalidTypeError(name, 'an { extents, precision } object', expected);
  const { extents, precision } = expected as ExpectedLayout;
  return {
    extents: requireExtents(`${name}.extents`, extents),
    precision: requirePrecision(`${name}.precision`, precision),
  };
}

/** The open native handle of `segment`; throws if it was closed. */
export function nativeHandle(segment: StateSegment, operation: string): SegmentHandle {
  const handle = handles.get(segment);
  if (!handle) throw new Error(`${operation}: the segment is closed`);
  return handle;
}

export class StateSegment {
  /** Where everything sits, in bytes from the segment's start. */
  readonly layout: SegmentLayoutInfo;
  #mapping: ArrayBuffer | undefined;
  #levels: [FieldArray, FieldArray] | undefined;

  /** Use `createSegment`, `attachSegment` or `readCheckpoint`. */
  constructor(handle: SegmentHandle) {
    handles.set(this, handle);
    this.layout = handle.layout();
  }

  #handle(operation: string): SegmentHandle {
    return nativeHandle(this, `segment.${operation}`);
  }

  get closed(): boolean {
    return !handles.has(this);
  }

  /** This process's descriptor of the segment; pass it to a successor. */
  get fd(): number {
    return this.#handle('fd').fd();
  }

  get byteLength(): number {
    return this.layout.segmentBytes;
  }

  /**
   * The whole segment as one ArrayBuffer over this process's only mapping
   * of it, which the C++ core steps in place too. Stays valid after
   * `close()`; the mapping is freed when the last holder of it lets go.
   */
  get mapping(): ArrayBuffer {
    this.#mapping ??= this.#handle('mapping').mappingBuffer();
    return this.#mapping;
  }

  /**
   * The same mapping as an opaque handle for the C++ core
   * (`CoreSegmentRegion.mapping`). Not an ArrayBuffer: V8 counts those as
   * memory, and a gigabyte-sized one starts a garbage collection, which a
   * restart would pay inside its downtime.
   */
  coreMapping(): SegmentMappingExternal {
    return this.#handle('coreMapping').mappingExternal();
  }

  /**
   * Level 0 or 1 as a typed array over the shared memory itself: writes are
   * seen by every process that maps the segment. The views stay valid after
   * `close()`, like `mapping`.
   */
  level(index: number): FieldArray {
    requireInteger('index', index, 0, 1);
    if (!this.#levels) {
      const { precision, cells, level0Offset, level1Offset } = this.layout;
      const view = (offset: number): FieldArray =>
        precision === 'f64' ? new Float64Array(this.mapping, offset, cells) : new Float32Array(this.mapping, offset, cells);
      this.#levels = [view(level0Offset), view(level1Offset)];
    }
    return this.#levels[index as 0 | 1];
  }

  get stepCount(): number {
    return this.#handle('stepCount').stepCount();
  }

  set stepCount(steps: number) {
    requireInteger('stepCount', steps, 0);
    this.#handle('stepCount').setStepCount(steps);
  }

  /** How many handoffs this state has been through. */
  get generation(): number {
    return this.#handle('generation').generation();
  }

  /** Adds one to the generation (at each handoff); returns the new value. */
  bumpGeneration(): number {
    return this.#handle('bumpGeneration').bumpGeneration();
  }

  /** Which level holds u^n, the newest. */
  get currentLevel(): number {
    return this.#handle('currentLevel').currentLevel();
  }

  set currentLevel(level: number) {
    requireInteger('currentLevel', level, 0, 1);
    this.#handle('currentLevel').setCurrentLevel(level);
  }

  /** Encodes and stores `metadata`; `commit()` (or a checkpoint) makes it count. */
  writeMetadata(metadata: HandoffMetadata): void {
    this.writeMetadataBytes(encodeMetadata(metadata));
  }

  /** Decodes the stored metadata; a block that does not parse is a `MetadataError`. */
  readMetadata(): HandoffMetadata {
    return decodeMetadata(this.readMetadataBytes());
  }

  writeMetadataBytes(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw invalidTypeError('bytes', 'a Uint8Array', bytes);
    const capacity = this.layout.metadataCapacityBytes;
    if (bytes.length > capacity) {
      throw new RangeError(
        `metadata = ${bytes.length} bytes: the block holds at most ${capacity}; ` + 'create the segment with a larger metadataCapacityBytes',
      );
    }
    throwIfFault(this.#handle('writeMetadata').writeMetadata(bytes), 'segment.writeMetadata');
  }

  readMetadataBytes(): Uint8Array {
    return unwrapFault(this.#handle('readMetadata').readMetadata(), 'segment.readMetadata');
  }

  /**
   * Seals the step count, current level, generation and metadata with the
   * commit checksum: the freeze point a successor resumes from.
   */
  commit(): void {
    this.#handle('commit').commit();
  }

  /**
   * Checks the header, the commit record and the metadata checksum, and the
   * layout against `expected`; throws a `SegmentError` naming the field.
   */
  verify(expected?: ExpectedLayout): void {
    const checked = checkExpected('expected', expected);
    throwIfFault(this.#handle('verify').verify(checked), 'segment.verify');
  }

  /**
   * Keeps the descriptor open across `execve` (`keep = true`) or closes it
   * there (the default), for handing the segment to an exec'd image.
   */
  keepOpenAcrossExec(keep = true): void {
    if (typeof keep !== 'boolean') throw invalidTypeError('keep', 'a boolean', keep);
    throwIfFault(this.#handle('keepOpenAcrossExec').setCloseOnExec(!keep), 'segment.keepOpenAcrossExec');
  }

  /** Closes the descriptor; level views already taken stay valid. Idempotent. */
  close(): void {
    handles.get(this)?.close();
    handles.delete(this);
  }
}

/** A new zeroed segment for a lattice of `options.extents`, committed at step 0. */
export function createSegment(options: SegmentOptions): StateSegment {
  if (typeof options !== 'object' || options === null) throw invalidTypeError('options', 'an object', options);
  const extents = requireExtents('options.extents', options.extents);
  const precision = requirePrecision('options.precision', options.precision);
  requireSegmentSize('options.extents', extents, precision);
  const metadataCapacityBytes = requireMetadataCapacity('options.metadataCapacityBytes', options.metadataCapacityBytes ?? DEFAULT_METADATA_CAPACITY_BYTES);
  return new StateSegment(unwrapFault(segmentAddon().create({ extents, precision, metadataCapacityBytes }), 'createSegment'));
}

/**
 * Attaches to the segment behind descriptor `fd` (inherited from a
 * predecessor, say) after checking its seals, size, header, commit record,
 * metadata checksum and, when given, that it holds `expected`. The segment
 * owns a duplicate: the caller may close `fd` afterwards.
 */
export function attachSegment(fd: number, expected?: ExpectedLayout): StateSegment {
  requireFd('fd', fd);
  const checked = checkExpected('expected', expected);
  return new StateSegment(unwrapFault(segmentAddon().attach(fd, checked), `attachSegment(${fd})`));
}
