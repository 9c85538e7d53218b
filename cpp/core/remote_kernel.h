#ifndef OUROBOROS_CORE_REMOTE_KERNEL_H
#define OUROBOROS_CORE_REMOTE_KERNEL_H

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
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
 * Where each part of a host's workspace lies (crates/kernel-host/src/workspace.rs
 * computes the same): a copy of both levels and a scratch, each `level_stride`
 * bytes (a level rounded up to a page), then the digits, one byte per cell
 * rounded up to a page.
 */
struct HostWorkspaceLayout {
  std::size_t level_stride = 0;
  std::size_t digits_offset = 0;
  std::size_t bytes = 0;
};

HostWorkspaceLayout host_workspace_layout(std::size_t level_bytes, std::uint64_t cells);

/// A new workspace memfd of `bytes` (close-on-exec, sealed against shrinking and growing), or throws std::system_error.
int open_host_workspace(std::size_t bytes);

/**
 * A kernel host (crates/kernel-host): a confined child process that maps the
 * live lattice's state segment and a workspace of its own, loads one
 * untrusted kernel and, on command, steps the segment in place, steps the
 * workspace's copy of a state (the canary's, a self-test's), or reads a
 * level out into the workspace's digits. The core sends a fixed-size command
 * and waits for the fixed-size reply; the protocol is
 * crates/kernel-host/src/protocol.rs.
 *
 * The host is untrusted. Every reply is validated strictly (exactly one
 * message of the exact size, magic, the command's sequence number, zero
 * padding, nothing queued behind it) and waited for with a deadline; every
 * digit read back must be in -4..+4 and a bad index inside the lattice. On
 * any failure the host is killed and waited for (so it writes no more into
 * the live levels), the channel is closed, and the call throws
 * RemoteKernelFailure; every later call throws at once.
 *
 * Commands are serialised here: the runner's step, a canary on a worker
 * thread and a readout at a boundary may each call one host.
 */
class RemoteKernel {
 public:
  struct ConnectResult;

  /**
   * Takes `channel_fd` (the core's end) and the host's `pid`, maps and closes
   * `workspace_fd` (the host's workspace, for levels of `level_bytes` and
   * `cells` cells), and reads the host's hello within `ready_timeout_ms`.
   * `segment` names the state segment the host mapped (its header, in this
   * process), so that only the lattice stepping that segment can call the
   * host live. A failure is data: `error` says why.
   */
  static ConnectResult connect(int channel_fd, int workspace_fd, pid_t pid, const void* segment,
                               std::size_t level_bytes, std::uint64_t cells, std::uint64_t ready_timeout_ms,
                               std::uint64_t step_timeout_ms);

  ~RemoteKernel();
  RemoteKernel(const RemoteKernel&) = delete;
  RemoteKernel& operator=(const RemoteKernel&) = delete;

  /// Has the host advance the live levels `steps` steps from level[current], within step_deadline_ms (the step timeout
  /// per step asked for); returns the kernel's status.
  std::int32_t step(std::uint32_t current, std::uint64_t steps);

  /**
   * Has the host advance a state that is not the live one (`level0`, `level1`
   * of level_bytes each, u^n at level[current]): copied into the workspace,
   * stepped there, copied back. Returns the kernel's status.
   */
  std::int32_t step_copy(void* level0, void* level1, std::uint32_t current, std::uint64_t steps);

  /// A readout's status, and the bad index a non-finite status names (else 0).
  struct ReadoutReply {
    std::int32_t status = 0;
    std::uint64_t bad_index = 0;
  };

  /// Has the host read live level `level` out; on OURO_OK, `digits` (cells bytes) holds the validated digits.
  ReadoutReply readout_live(std::uint32_t level, std::int8_t* digits);

  /// Has the host read `field` (level_bytes, copied into the workspace) out, as readout_live.
  ReadoutReply readout_copy(const void* field, std::int8_t* digits);

  /// The name the kernel's table gives (cut to 63 bytes by the host).
  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  /// The header of the state segment the host steps, as this process maps it.
  const void* segment() const { return segment_; }
  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  struct Workspace {
    std::byte* base = nullptr;
    HostWorkspaceLayout layout;
    std::size_t level_bytes = 0;
    std::uint64_t cells = 0;
  };

  RemoteKernel(int fd, pid_t pid, const void* segment, std::string name, Workspace workspace,
               std::uint64_t step_timeout_ms)
      : fd_(fd),
        pid_(pid),
        segment_(segment),
        name_(std::move(name)),
        workspace_(workspace),
        step_timeout_ms_(step_timeout_ms) {}

  /// Sends one command and validates its reply; the caller holds mutex_.
  ReadoutReply exchange(std::uint32_t kind, std::uint32_t current, std::uint64_t steps);
  /// A readout command and the digits it wrote, validated; the caller holds mutex_.
  ReadoutReply read_digits(std::uint32_t kind, std::uint32_t level, std::int8_t* digits);
  /// Kills the host, waits until it is gone, closes the channel, and throws.
  [[noreturn]] void fail(const std::string& reason);

  std::mutex mutex_;
  std::atomic<bool> failed_{false};
  int fd_;
  pid_t pid_;
  const void* segment_;
  std::string name_;
  Workspace workspace_;
  std::uint64_t step_timeout_ms_;
  std::uint32_t sequence_ = 0;
};

struct RemoteKernel::ConnectResult {
  std::unique_ptr<RemoteKernel> kernel;
  std::string error;
};

/// The deadline of one step command: `step_timeout_ms` per step asked for (a batch of k steps may take k times
/// as long as one), saturating instead of wrapping.
std::uint64_t step_deadline_ms(std::uint64_t step_timeout_ms, std::uint64_t steps);

/// Kills `pid` with SIGKILL and waits (pidfd, up to `timeout_ms`) until it has exited; false if it may still run.
bool kill_and_wait(pid_t pid, std::uint64_t timeout_ms);

}  // namespace ouro

#endif
