#ifndef OUROBOROS_CORE_KERNEL_CALL_GUARD_H
#define OUROBOROS_CORE_KERNEL_CALL_GUARD_H

#include "core/fp_environment.h"
#include "core/thread_pool.h"

namespace ouro {

/**
 * Brackets one call into a kernel on the calling thread: saves the FP
 * environment before it, and restore() puts it back afterwards and says
 * whether the kernel had changed it, on this thread or on a pool worker that
 * ran its chunks (the workers restore their own, thread_pool.cpp). The live
 * core counts those per slot, so a kernel that does it is rolled back by the
 * watchdog rather than silently tolerated.
 */
class KernelCallGuard {
 public:
  explicit KernelCallGuard(bool enabled) : enabled_(enabled), saved_(current_fp_environment()) {
    // A flag left by an earlier call on this thread is not this call's.
    ThreadPool::take_worker_fp_restores();
  }

  /// Call once, after the kernel returns and before anything else runs on this thread.
  bool restore() {
    if (!enabled_) return false;
    const bool here = restore_fp_environment(saved_);
    const bool on_workers = ThreadPool::take_worker_fp_restores();
    return here || on_workers;
  }

 private:
  bool enabled_;
  FpEnvironment saved_;
};

}  // namespace ouro

#endif
