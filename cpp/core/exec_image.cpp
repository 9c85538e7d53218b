#include "core/exec_image.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>

namespace ouro {
namespace {

constexpr std::size_t kHelperStackBytes = 16 * 1024;

/**
 * What the two helper processes share with this one (CLONE_VM: the same
 * memory). Static, so no allocation outlives a failed exec; one exec runs
 * at a time, and a failed one waits for its holder to exit before returning.
 */
struct Holder {
  alignas(16) std::byte launcher_stack[kHelperStackBytes];
  alignas(16) std::byte holder_stack[kHelperStackBytes];
  int wait_fd = -1;
  /// The holder's tid, stored before the launcher's clone returns; the kernel clears it and wakes futex waiters when
  /// the holder exits.
  pid_t holder_tid = 0;
};

Holder holder_state;

/*
 * Both helpers run in this address space on the calling thread's TLS, so
 * they make raw system calls only: no errno, no locks, no allocation.
 */

long raw(long number, long a = 0, long b = 0, long c = 0, long d = 0) { return ::syscall(number, a, b, c, d); }

// Sleeps until the exec'ing process drops the write end of the pipe (at
// execve, after it left this address space, or when a failed exec closes it),
// then exits: as the last user of the old address space, it tears it down.
int hold_address_space(void*) {
  // The teardown yields to everything else: above all to the new image starting on the other cores.
  const sched_param idle{};
  raw(SYS_sched_setscheduler, 0, SCHED_IDLE, reinterpret_cast<long>(&idle));
  const int fd = holder_state.wait_fd;
  if (fd > 0) raw(SYS_close_range, 0, fd - 1, 0);
  raw(SYS_close_range, fd + 1, UINT_MAX, 0);
  char byte;
  // Nothing is ever written: read returns at end of file (or on an error, which ends the wait too).
  while (raw(SYS_read, fd, reinterpret_cast<long>(&byte), 1) > 0) {
  }
  raw(SYS_exit, 0);
  return 0;
}

// Starts the holder as an orphan (its parent exits at once, so init reaps
// it) and exits: the exec'ing process never has a child left to reap.
int launch_holder(void*) {
  const int flags = CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  const int launched = ::clone(hold_address_space, holder_state.holder_stack + kHelperStackBytes, flags, nullptr,
                               &holder_state.holder_tid, nullptr, &holder_state.holder_tid);
  raw(SYS_exit, launched < 0 ? 1 : 0);
  return 0;
}

/**
 * Keeps this address space alive after execve in an orphaned helper, so the
 * kernel tears it down there, beside the new image, rather than inside
 * execve: with a large state segment mapped, that teardown takes as long as
 * the rest of the restart together. Returns the pipe end whose closing (at
 * exec) releases the helper, or -1 when no helper could be started; the exec
 * goes ahead either way.
 */
int start_holder() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  holder_state.wait_fd = pipe_fds[0];
  holder_state.holder_tid = 0;
  // Blocked in both helpers (they inherit the mask): this process's signal
  // handlers must never run on a helper, whose TLS is this thread's.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t launcher = ::clone(launch_holder, holder_state.launcher_stack + kHelperStackBytes, CLONE_VM, nullptr);
  int status = 0;
  const bool launched =
      launcher > 0 && ::waitpid(launcher, &status, __WALL) == launcher && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(pipe_fds[0]);
  if (!launched) {
    ::close(pipe_fds[1]);
    return -1;
  }
  return pipe_fds[1];
}

/// Releases the holder after a failed exec and waits until it has left this address space.
void stop_holder(int release_fd) {
  ::close(release_fd);
  for (;;) {
    const pid_t tid = std::atomic_ref<pid_t>(holder_state.holder_tid).load(std::memory_order_acquire);
    if (tid == 0) return;
    raw(SYS_futex, reinterpret_cast<long>(&holder_state.holder_tid), FUTEX_WAIT, tid, 0);
  }
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

std::string exec_image(const std::string& path, const std::vector<std::string>& argv,
                       const std::vector<std::string>& environment) {
  std::vector<char*> arguments = c_strings(argv);
  std::vector<char*> variables = c_strings(environment);
  // Node marks its stdio close-on-exec; the new image must write where this one did.
  for (int fd = 0; fd <= 2; ++fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  const int release_fd = start_holder();
  ::execve(path.c_str(), arguments.data(), variables.data());
  const int exec_errno = errno;
  if (release_fd >= 0) stop_holder(release_fd);
  return "execve(" + path + ") failed: " + std::strerror(exec_errno);
}

}  // namespace ouro
