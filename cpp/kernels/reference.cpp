/*
 * The reference kernel: the leapfrog scheme written the plainest way, serial,
 * with every neighbour found by div/mod over the extents. It is the baseline
 * that faster kernels are compared against and the one the Rust oracle
 * reproduces to a few ulps, so the order of every floating-point operation
 * below is part of its contract (and it is built with -ffp-contract=off so
 * that no multiply-add gets fused).
 */
#include "reference_math.h"

// CMake builds this source twice: as "reference" and as "reference-twin", the
// same code in another file, which hot-swap tests and benchmarks swap between.
#ifndef OURO_KERNEL_NAME
#define OURO_KERNEL_NAME "reference"
#endif

namespace {

int32_t wave_step(const ouro_host*, const ouro_geometry* geometry, const ouro_state* state, uint64_t steps) {
  return ouro::reference::wave_step(*geometry, *state, steps);
}

int32_t readout(const ouro_host*, const ouro_geometry* geometry, const void* field, int8_t* digits,
                uint64_t* bad_index) {
  return ouro::reference::readout(*geometry, field, digits, bad_index);
}

const ouro_kernel_table reference_table = {
    OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table), OURO_KERNEL_NAME, wave_step, readout,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) {
  return &reference_table;
}
