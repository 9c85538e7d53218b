/**
 * The errors a refused segment, checkpoint or metadata block raises, and the
 * one helper that turns a native `SegmentFault` into a thrown `SegmentError`.
 */
import type { SegmentFault } from '../../native/addon-types.js';

export type SegmentFaultKind = SegmentFault['kind'];

/**
 * A segment or checkpoint file that cannot be used as it is: wrong magic,
 * unknown version, truncated, a checksum mismatch, a layout other than the
 * expected one, an unsealed descriptor, an I/O failure. `kind` is stable;
 * `field`, `found` and `expected` say what was wrong, where it applies.
 */
export class SegmentError extends Error {
  readonly kind: SegmentFaultKind;
  readonly field: string | null;
  readonly found: string | null;
  readonly expected: string | null;

  constructor(fault: SegmentFault, context: string) {
    super(`${context}: ${fault.message}`);
    this.name = 'SegmentError';
    this.kind = fault.kind;
    this.field = fault.field;
    this.found = fault.found;
    this.expected = fault.expected;
  }
}

/** A metadata block that is not a valid `HandoffMetadata` protobuf. */
export class MetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

function isFault(value: unknown): value is SegmentFault {
  return typeof value === 'object' && value !== null && 'kind' in value && 'message' in value;
}

/** Returns `result`, or throws the `SegmentError` it describes. */
export function unwrapFault<T extends object>(result: T | SegmentFault, context: string): T {
  if (isFault(result)) throw new SegmentError(result, context);
  return result;
}

/** Throws the `SegmentError` that `fault` describes, if any. */
export function throwIfFault(fault: SegmentFault | null, context: string): void {
  if (fault) throw new SegmentError(fault, context);
}
