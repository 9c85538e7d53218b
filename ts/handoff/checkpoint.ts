/**
 * Checkpoint files of a segment: header, metadata block and both levels
 * (not scratch), written atomically and read back with every check.
 */
import path from 'node:path';
import { segmentAddon } from '../../native/loader.js';
import { invalidTypeError } from '../errors.js';
import { throwIfFault, unwrapFault } from './errors.js';
import { checkExpected, nativeHandle, StateSegment, type ExpectedLayout } from './segment.js';
import { requirePath } from './validate.js';

/**
 * Commits `segment` (a checkpoint is a freeze point) and writes it to
 * `file`: a temporary file in the same directory is written, fsynced and
 * renamed over `file`, then the directory is fsynced. If anything fails,
 * or the process dies meanwhile, whatever was at `file` is untouched.
 */
export function writeCheckpoint(segment: StateSegment, file: string): void {
  if (!(segment instanceof StateSegment)) throw invalidTypeError('segment', 'a StateSegment', segment);
  const target = path.resolve(requirePath('file', file));
  const handle = nativeHandle(segment, 'writeCheckpoint');
  throwIfFault(handle.writeCheckpoint(target), `writeCheckpoint(${target})`);
}

/**
 * Reads the checkpoint at `file` into a new segment, after checking its
 * magic, size, version, header checksum, layout, `expected` (when given),
 * commit record and metadata checksum; throws a `SegmentError` otherwise.
 */
export function readCheckpoint(file: string, expected?: ExpectedLayout): StateSegment {
  const source = path.resolve(requirePath('file', file));
  const checked = checkExpected('expected', expected);
  return new StateSegment(unwrapFault(segmentAddon().readCheckpoint(source, checked), `readCheckpoint(${source})`));
}
