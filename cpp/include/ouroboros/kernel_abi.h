/*
 * The Ouroboros kernel C ABI, version 1.
 *
 * A kernel module is a shared object that exports one C symbol,
 * `ouro_kernel_entry`, returning a pointer to a static, immutable table of
 * functions. The core loads modules with dlopen and may replace one module by
 * another between two time steps, so every kernel function obeys three rules:
 *
 *   1. It never allocates the lattice: the host owns all state memory and
 *      passes raw pointers in. (Small stack temporaries are fine.)
 *   2. It never creates threads: when it wants parallelism it calls the
 *      host's `parallel_for`, which runs on the host's own thread pool.
 *   3. It keeps no hidden state between calls: the same inputs always give the
 *      same outputs, whatever was called before and in which module.
 *
 * Layout: a field is `cells` values of the lattice precision, row-major, the
 * last axis fastest (`strides[dims - 1] == 1`). Every axis wraps periodically.
 */
#ifndef OUROBOROS_KERNEL_ABI_H
#define OUROBOROS_KERNEL_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OURO_KERNEL_ABI_VERSION 1u
#define OURO_MAX_DIMS 9u
#define OURO_KERNEL_ENTRY_SYMBOL "ouro_kernel_entry"

typedef enum ouro_precision { OURO_PRECISION_F64 = 0, OURO_PRECISION_F32 = 1 } ouro_precision;

typedef enum ouro_status {
  OURO_OK = 0,
  /* readout met a NaN or an infinity; `*bad_index` names the lowest such cell */
  OURO_ERR_NONFINITE = 1,
  /* the kernel does not support this geometry or precision */
  OURO_ERR_UNSUPPORTED = 2
} ouro_status;

/* The shape of the torus and the scheme's one physical parameter. */
typedef struct ouro_geometry {
  uint32_t dims;                   /* 1 ..= OURO_MAX_DIMS */
  uint32_t precision;              /* an ouro_precision */
  uint64_t cells;                  /* product of extents[0 .. dims) */
  uint64_t extents[OURO_MAX_DIMS]; /* each >= 3; unused entries are 0 */
  uint64_t strides[OURO_MAX_DIMS]; /* in elements; strides[dims - 1] == 1 */
  double courant2;                 /* r^2 = (c dt / h)^2, r < 1 / sqrt(dims) */
} ouro_geometry;

/* Work item for parallel_for: process indices [begin, end). */
typedef void (*ouro_range_fn)(void* ctx, uint64_t begin, uint64_t end);

/*
 * What the host lends a kernel. `parallel_for` splits [0, count) into chunks
 * of at least `grain` indices, runs `fn` on them across `threads` workers
 * (the calling thread included) and returns when all chunks are done.
 */
typedef struct ouro_host {
  uint32_t threads;
  void* pool;
  void (*parallel_for)(void* pool, uint64_t count, uint64_t grain, ouro_range_fn fn, void* ctx);
} ouro_host;

/*
 * The live state: two time levels and one level-sized scratch buffer, all
 * owned by the host. level[current] holds u^n, level[1 - current] holds u^{n-1}.
 */
typedef struct ouro_state {
  void* level[2];
  void* scratch; /* contents undefined on entry and exit */
  uint32_t current;
} ouro_state;

/*
 * Advance `steps` leapfrog steps:
 *   u^{n+1} = 2 u^n - u^{n-1} + r^2 * sum over axes (u[x+e] + u[x-e] - 2 u[x]).
 * Contract on return: level[(current + steps) % 2] holds u^{n+steps} and the
 * other level holds u^{n+steps-1}. The host, not the kernel, updates
 * `current`; a kernel that writes u^{n+1} over u^{n-1} in place meets the
 * contract naturally. NaN and infinity propagate as IEEE arithmetic says.
 */
typedef int32_t (*ouro_wave_step_fn)(const ouro_host* host, const ouro_geometry* geometry, const ouro_state* state,
                                     uint64_t steps);

/*
 * Balanced-nonary readout of one field: each cell rounded to the nearest
 * integer (ties away from zero) and clamped to [-4, +4]. On a non-finite cell
 * return OURO_ERR_NONFINITE with `*bad_index` set to the lowest such index;
 * `digits` is then unspecified.
 */
typedef int32_t (*ouro_readout_fn)(const ouro_host* host, const ouro_geometry* geometry, const void* field,
                                   int8_t* digits, uint64_t* bad_index);

typedef struct ouro_kernel_table {
  uint32_t abi_version; /* OURO_KERNEL_ABI_VERSION */
  uint32_t table_bytes; /* sizeof(ouro_kernel_table) as built */
  const char* name;     /* short human-readable name */
  ouro_wave_step_fn wave_step;
  ouro_readout_fn readout;
} ouro_kernel_table;

typedef const ouro_kernel_table* (*ouro_kernel_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* OUROBOROS_KERNEL_ABI_H */
