/*
 * The Ouroboros state segment, format version 1: where everything sits.
 *
 * The segment is one sealed memfd (or a checkpoint file of its first
 * scratch_offset bytes), laid out as
 *
 *   0                 header page (OURO_SEGMENT_HEADER_BYTES)
 *   metadata_offset   metadata block (protobuf, proto/handoff.proto),
 *                     metadata_capacity bytes
 *   level0_offset     level 0   \
 *   level1_offset     level 1    } level_bytes each, every one starting on
 *   scratch_offset    scratch   /  an OURO_SEGMENT_ALIGNMENT_BYTES boundary
 *   segment_bytes     end
 *
 * All header fields are little-endian, at the byte offsets below. Bytes
 * 0..HEADER_CHECKSUM are the layout, written once at creation and covered by
 * the CRC-32C at HEADER_CHECKSUM. Bytes COMMIT_START..COMMIT_CHECKSUM are the
 * commit record: the fields that change while the lattice runs. The core
 * updates STEP_COUNT and CURRENT_LEVEL with atomic stores every step and
 * never touches COMMIT_CHECKSUM; the owner recomputes it (CRC-32C of the
 * record) only at a freeze point, before a handoff or a checkpoint. A
 * checkpoint file also carries the checkpoint record (CHECKPOINT_START..
 * CHECKPOINT_END): a CRC-32C of each level by role and one over them and the
 * commit record, so a damaged level or a swapped CURRENT_LEVEL is refused.
 *
 * The Rust crate ouroboros-segment (crates/segment/src/layout.rs) holds the
 * same numbers; its test c_header.rs parses this file and fails if any
 * #define here differs from, or is missing in, the Rust constants.
 */
#ifndef OUROBOROS_SEGMENT_LAYOUT_H
#define OUROBOROS_SEGMENT_LAYOUT_H

/* The first 8 bytes: these 7 characters and a NUL. */
#define OURO_SEGMENT_MAGIC "OUROSEG"
#define OURO_SEGMENT_FORMAT_VERSION 2
#define OURO_SEGMENT_HEADER_BYTES 4096
#define OURO_SEGMENT_ALIGNMENT_BYTES 4096
#define OURO_SEGMENT_MAX_DIMS 9
#define OURO_SEGMENT_MIN_EXTENT 3
#define OURO_SEGMENT_DEFAULT_METADATA_CAPACITY_BYTES 65536
#define OURO_SEGMENT_MAX_METADATA_CAPACITY_BYTES 67108864

/* Values of the precision field. */
#define OURO_SEGMENT_PRECISION_F64 1
#define OURO_SEGMENT_PRECISION_F32 2

/* Header field offsets in bytes; the type of each field follows it. */
#define OURO_SEGMENT_OFFSET_MAGIC 0               /* char[8] */
#define OURO_SEGMENT_OFFSET_FORMAT_VERSION 8      /* uint32 */
#define OURO_SEGMENT_OFFSET_HEADER_BYTES 12       /* uint32 */
#define OURO_SEGMENT_OFFSET_DIMS 16               /* uint32, 1..9 */
#define OURO_SEGMENT_OFFSET_PRECISION 20          /* uint32 */
#define OURO_SEGMENT_OFFSET_EXTENTS 24            /* uint64[9], zero past dims */
#define OURO_SEGMENT_OFFSET_CELLS 96              /* uint64 */
#define OURO_SEGMENT_OFFSET_LEVEL_BYTES 104       /* uint64, per level and scratch */
#define OURO_SEGMENT_OFFSET_METADATA_OFFSET 112   /* uint64 */
#define OURO_SEGMENT_OFFSET_METADATA_CAPACITY 120 /* uint64 */
#define OURO_SEGMENT_OFFSET_LEVEL0_OFFSET 128     /* uint64 */
#define OURO_SEGMENT_OFFSET_LEVEL1_OFFSET 136     /* uint64 */
#define OURO_SEGMENT_OFFSET_SCRATCH_OFFSET 144    /* uint64 */
#define OURO_SEGMENT_OFFSET_SEGMENT_BYTES 152     /* uint64 */
#define OURO_SEGMENT_OFFSET_HEADER_CHECKSUM 160   /* uint32, CRC-32C of bytes 0..160 */
#define OURO_SEGMENT_OFFSET_COMMIT_START 256
#define OURO_SEGMENT_OFFSET_STEP_COUNT 256        /* uint64, atomic */
#define OURO_SEGMENT_OFFSET_GENERATION 264        /* uint64, atomic, +1 per handoff */
#define OURO_SEGMENT_OFFSET_CURRENT_LEVEL 272     /* uint32, atomic, 0 or 1 */
#define OURO_SEGMENT_OFFSET_METADATA_CHECKSUM 276 /* uint32, CRC-32C of the metadata */
#define OURO_SEGMENT_OFFSET_METADATA_LENGTH 280   /* uint64 */
#define OURO_SEGMENT_OFFSET_COMMIT_CHECKSUM 288   /* uint32, CRC-32C of bytes 256..288 */
#define OURO_SEGMENT_OFFSET_COMMIT_END 292
/* The checkpoint record, written only into checkpoint files (format 2). */
#define OURO_SEGMENT_OFFSET_CHECKPOINT_START 320
#define OURO_SEGMENT_OFFSET_LEVEL_CURRENT_CHECKSUM 320  /* uint32, CRC-32C of level[current_level] */
#define OURO_SEGMENT_OFFSET_LEVEL_PREVIOUS_CHECKSUM 324 /* uint32, CRC-32C of the other level */
#define OURO_SEGMENT_OFFSET_CHECKPOINT_CHECKSUM 328     /* uint32, CRC-32C of bytes 320..328 then 256..288 */
#define OURO_SEGMENT_OFFSET_CHECKPOINT_END 332

#endif
