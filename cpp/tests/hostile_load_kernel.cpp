/*
 * Kernel modules whose code misbehaves the moment they are loaded, before any
 * entry point is called: a constructor that crashes, or one that never
 * returns. The core never dlopens an unprobed module, so these must only
 * ever take down the probe's child process. CMake builds one per behaviour.
 */
#include <ouroboros/kernel_abi.h>

#include <csignal>
#include <thread>

namespace {

enum class OnLoad { Crash, Hang };
constexpr OnLoad on_load = OnLoad::OURO_ON_LOAD;

__attribute__((constructor)) void misbehave_on_load() {
  if (on_load == OnLoad::Crash) std::raise(SIGSEGV);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

int32_t step_nothing(const ouro_host*, const ouro_geometry*, const ouro_state*, uint64_t) { return OURO_OK; }

int32_t readout_nothing(const ouro_host*, const ouro_geometry*, const void*, int8_t*, uint64_t*) { return OURO_OK; }

const ouro_kernel_table table = {OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table), "hostile", step_nothing,
                                 readout_nothing};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) { return &table; }
