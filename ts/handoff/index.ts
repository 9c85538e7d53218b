/**
 * The lattice state in shared memory, its metadata block and checkpoint
 * files: what a restart (exec or spawn) and a resume are built on.
 */
export { readCheckpoint, writeCheckpoint } from './checkpoint.js';
export { MetadataError, SegmentError } from './errors.js';
export type { SegmentFaultKind } from './errors.js';
export { decodeMetadata, encodeMetadata } from './metadata.js';
export type { HandoffLatticeConfig, HandoffMetadata, HistogramBucket, ModuleRef, SlotCounters, SlotModules } from './metadata.js';
export { attachSegment, createSegment, StateSegment } from './segment.js';
export type { ExpectedLayout, SegmentOptions } from './segment.js';
