/*
 * A kernel module that is wrong on purpose, for the loader's tests. CMake
 * builds it once per defect, naming the defect in OURO_BROKEN_DEFECT, so every
 * refusal is checked against a real shared object.
 */
#include <ouroboros/kernel_abi.h>

#include <cstddef>

namespace {

enum class Defect { NullTable, WrongAbiVersion, ShortTable, NullName, NullWaveStep, NullReadout };

constexpr Defect defect = Defect::OURO_BROKEN_DEFECT;

int32_t step_nothing(const ouro_host*, const ouro_geometry*, const ouro_state*, uint64_t) { return OURO_OK; }

int32_t readout_nothing(const ouro_host*, const ouro_geometry*, const void*, int8_t*, uint64_t*) { return OURO_OK; }

const ouro_kernel_table broken_table = {
    defect == Defect::WrongAbiVersion ? OURO_KERNEL_ABI_VERSION + 1u : OURO_KERNEL_ABI_VERSION,
    static_cast<uint32_t>(defect == Defect::ShortTable ? offsetof(ouro_kernel_table, readout)
                                                       : sizeof(ouro_kernel_table)),
    defect == Defect::NullName ? nullptr : "broken",
    defect == Defect::NullWaveStep ? nullptr : step_nothing,
    defect == Defect::NullReadout ? nullptr : readout_nothing,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) {
  return defect == Defect::NullTable ? nullptr : &broken_table;
}
