#ifndef OUROBOROS_CORE_REMOTE_KERNEL_H
#define OUROBOROS_CORE_REMOTE_KERNEL_H

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace ouro {

/// The kernel host failed (crashed, hung, exited or replied garbage); it is dead when this is thrown.
class RemoteKernelFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Both ends of a new command channel (SOCK_SEQPACKET, close-on-exec): the core keeps one, the host gets the other.
struct HostChannel {
  int core_fd = -1;
  int host_fd = -1;
};

/// A new channel, or throws std::system_error.
HostChannel open_host_channel();

/**
 * A kernel host (crates/kernel-host): a confined child process that maps the
 * live lattice's state segment, loads one untrusted kernel and steps the
 * segment in place on command. The core sends a fixed-size step command and
 * waits for the fixed-size reply; the protocol is crates/kernel-host/src/protocol.rs.
 *
 * The host is untrusted. Every reply is validated strictly (exactly one
 * message of the exact size, magic, the command's sequence number, zero
 * padding, nothing queued behind it) and waited for with a deadline. On any
 * failure the host is killed and waited for (so it writes no more into the
 * live levels), the channel is closed, and step() throws RemoteKernelFailure;
 * every later step() throws at once.
 *
 * Not thread-safe: one kernel call at a time, as the slots guarantee.
 */
class RemoteKernel {
 public:
  struct ConnectResult;

  /**
   * Takes `channel_fd` (the core's end) and the host's `pid`, and reads the
   * host's hello within `ready_timeout_ms`. `segment` names the state segment
   * the host mapped (its header, in this process), so that only the lattice
   * stepping that segment can call the host. A failure is data: `error` says why.
   */
  static ConnectResult connect(int channel_fd, pid_t pid, const void* segment, std::uint64_t ready_timeout_ms,
                               std::uint64_t step_timeout_ms);

  ~RemoteKernel();
  RemoteKernel(const RemoteKernel&) = delete;
  RemoteKernel& operator=(const RemoteKernel&) = delete;

  /// Has the host advance `steps` steps from level[current], within steps x the step timeout; returns the kernel's status.
  std::int32_t step(std::uint32_t current, std::uint64_t steps);

  /// The name the kernel's table gives (cut to 63 bytes by the host).
  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  /// The header of the state segment the host steps, as this process maps it.
  const void* segment() const { return segment_; }
  bool failed() const { return fd_ < 0; }

 private:
  RemoteKernel(int fd, pid_t pid, const void* segment, std::string name, std::uint64_t step_timeout_ms)
      : fd_(fd), pid_(pid), segment_(segment), name_(std::move(name)), step_timeout_ms_(step_timeout_ms) {}

  /// Kills the host, waits until it is gone, closes the channel, and throws.
  [[noreturn]] void fail(const std::string& reason);

  int fd_;
  pid_t pid_;
  const void* segment_;
  std::string name_;
  std::uint64_t step_timeout_ms_;
  std::uint32_t sequence_ = 0;
};

struct RemoteKernel::ConnectResult {
  std::unique_ptr<RemoteKernel> kernel;
  std::string error;
};

/// Kills `pid` with SIGKILL and waits (pidfd, up to `timeout_ms`) until it has exited; false if it may still run.
bool kill_and_wait(pid_t pid, std::uint64_t timeout_ms);

}  // namespace ouro

#endif
