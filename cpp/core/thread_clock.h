#ifndef OUROBOROS_CORE_THREAD_CLOCK_H
#define OUROBOROS_CORE_THREAD_CLOCK_H

#include <time.h>

#include <cstdint>

namespace ouro {

/**
 * CPU time the calling thread has run, in ns (CLOCK_THREAD_CPUTIME_ID). What
 * the watchdog's work on the JS thread takes from the kernel's cores: wall
 * time also counts the spans the thread waited for a core while the kernel
 * ran, which cost the kernel nothing.
 */
inline std::uint64_t thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace ouro

#endif
