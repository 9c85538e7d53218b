#ifndef OUROBOROS_CORE_FP_ENVIRONMENT_H
#define OUROBOROS_CORE_FP_ENVIRONMENT_H

#include <cstdint>

namespace ouro {

#if !defined(__x86_64__)
#error "fp_environment.h reads MXCSR and the x87 control word: x86-64 only"
#endif

/**
 * The floating-point control state of the calling thread: MXCSR (SSE:
 * flush-to-zero, denormals-are-zero, rounding mode, exception masks) and the
 * x87 control word (precision, rounding, exception masks). Both are per
 * thread, so a kernel that changes them changes the arithmetic of whatever
 * that thread runs next: the oracle on the JS thread, the next kernel on a
 * pool worker, other work on a libuv thread.
 */
struct FpEnvironment {
  std::uint32_t mxcsr = 0;
  std::uint16_t x87_control = 0;
};

/// MXCSR bits 0-5 are sticky exception flags that ordinary arithmetic sets; only the control bits matter.
constexpr std::uint32_t kMxcsrControlMask = ~std::uint32_t{0x3f};

inline FpEnvironment current_fp_environment() {
  FpEnvironment environment;
  __asm__ volatile("stmxcsr %0" : "=m"(environment.mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(environment.x87_control));
  return environment;
}

/**
 * Puts `saved` back on this thread if the control state differs from it;
 * true when it had to. Pending x87 exceptions are cleared with it, so that
 * one a kernel unmasked and raised does not trap in the host's next x87
 * instruction.
 */
inline bool restore_fp_environment(const FpEnvironment& saved) {
  const FpEnvironment now = current_fp_environment();
  const bool sse_changed = ((now.mxcsr ^ saved.mxcsr) & kMxcsrControlMask) != 0;
  const bool x87_changed = now.x87_control != saved.x87_control;
  if (sse_changed) __asm__ volatile("ldmxcsr %0" : : "m"(saved.mxcsr));
  if (x87_changed) __asm__ volatile("fnclex\n\tfldcw %0" : : "m"(saved.x87_control));
  return sse_changed || x87_changed;
}

}  // namespace ouro

#endif
