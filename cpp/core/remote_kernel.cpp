#include "core/remote_kernel.h"

#include <ouroboros/kernel_abi.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

namespace ouro {
namespace {

// The sizes and magics of crates/kernel-host/src/protocol.rs ("OKH1", "OKC1", "OKR1" little-endian).
constexpr std::uint32_t kHelloMagic = 0x31484B4F;
constexpr std::uint32_t kCommandMagic = 0x31434B4F;
constexpr std::uint32_t kReplyMagic = 0x31524B4F;
constexpr std::uint32_t kProtocolVersion = 2;
constexpr std::size_t kNameBytes = 64;
constexpr std::size_t kHelloBytes = 8 + kNameBytes;
constexpr std::size_t kCommandBytes = 24;
constexpr std::size_t kReplyBytes = 24;
/// Command kinds: a step of the live levels or the workspace's copy, a readout of either into the digits.
constexpr std::uint32_t kStepLive = 0;
constexpr std::uint32_t kStepWorkspace = 1;
constexpr std::uint32_t kReadoutLive = 2;
constexpr std::uint32_t kReadoutWorkspace = 3;
constexpr std::size_t kPageBytes = 4096;
/// How long a killed host may take to be gone (its threads unwind, its mappings go).
constexpr std::uint64_t kKillWaitMs = 5000;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the kernel host protocol is little-endian");

std::size_t round_up_to_page(std::size_t bytes) { return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes; }

std::uint32_t u32_at(const std::byte* bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes + at, sizeof value);
  return value;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

/// Waits until `fd` is readable or `deadline_ms` passes; false on timeout.
bool wait_readable(int fd, std::uint64_t deadline_ms) {
  for (;;) {
    const std::uint64_t now = now_ms();
    if (now >= deadline_ms) return false;
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<std::uint64_t>(deadline_ms - now, 1u << 30)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

/// One message of exactly `expected` bytes within the deadline, else the reason it is not.
std::string receive(int fd, std::byte* into, std::size_t expected, std::uint64_t deadline_ms) {
  if (!wait_readable(fd, deadline_ms)) return "no reply within the deadline (hung)";
  std::array<std::byte, 256> buffer{};
  // MSG_TRUNC: a seqpacket read returns the message's real length, so a longer one is seen as such.
  const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_TRUNC | MSG_DONTWAIT);
  if (got == 0) return "the host closed the channel (exited or crashed)";
  if (got < 0) return std::string("reading the channel failed: ") + std::strerror(errno);
  if (static_cast<std::size_t>(got) != expected) {
    return "a message of " + std::to_string(got) + " bytes, expected " + std::to_string(expected);
  }
  std::memcpy(into, buffer.data(), expected);
  return {};
}

}  // namespace

HostWorkspaceLayout host_workspace_layout(std::size_t level_bytes, std::uint64_t cells) {
  HostWorkspaceLayout layout;
  layout.level_stride = round_up_to_page(level_bytes);
  layout.digits_offset = 3 * layout.level_stride;
  layout.bytes = layout.digits_offset + round_up_to_page(static_cast<std::size_t>(cells));
  return layout;
}

int open_host_workspace(std::size_t bytes) {
  const int fd = ::memfd_create("ouroboros-host-workspace", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "memfd_create for a kernel host's workspace");
  // Sealed: a host that could shrink it would make this process's reads of it fault.
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "sizing and sealing a kernel host's workspace");
  }
  return fd;
}

HostChannel open_host_channel() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair for a kernel host");
  }
  return HostChannel{fds[0], fds[1]};
}

std::uint64_t step_deadline_ms(std::uint64_t step_timeout_ms, std::uint64_t steps) {
  if (steps != 0 && step_timeout_ms > UINT64_MAX / steps) return UINT64_MAX;
  return step_timeout_ms * steps;
}

bool kill_and_wait(pid_t pid, std::uint64_t timeout_ms) {
  if (pid <= 0) return true;
  // A pidfd names this very process even if the pid is reused, and polls readable once it has exited.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return ::kill(pid, SIGKILL) != 0 && errno == ESRCH;
  ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  const bool gone = wait_readable(pidfd, now_ms() + timeout_ms);
  ::close(pidfd);
  return gone;
}

namespace {

/// Maps the workspace the core created (and checks its size); null and the reason if it cannot.
std::byte* map_workspace(int fd, std::size_t bytes, std::string& error) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || static_cast<std::size_t>(status.st_size) != bytes) {
    error = "the workspace is not " + std::to_string(bytes) + " bytes";
    return nullptr;
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    error = std::string("mapping the workspace failed: ") + std::strerror(errno);
    return nullptr;
  }
  return static_cast<std::byte*>(base);
}

}  // namespace

RemoteKernel::ConnectResult RemoteKernel::connect(int channel_fd, int workspace_fd, pid_t pid, const void* segment,
                                                  std::size_t level_bytes, std::uint64_t cells,
                                                  std::uint64_t ready_timeout_ms, std::uint64_t step_timeout_ms) {
  Workspace workspace{nullptr, host_workspace_layout(level_bytes, cells), level_bytes, cells};
  std::string error;
  workspace.base = map_workspace(workspace_fd, workspace.layout.bytes, error);
  ::close(workspace_fd);
  std::array<std::byte, kHelloBytes> hello{};
  if (error.empty()) error = receive(channel_fd, hello.data(), hello.size(), now_ms() + ready_timeout_ms);
  if (error.empty() && (u32_at(hello.data(), 0) != kHelloMagic || u32_at(hello.data(), 4) != kProtocolVersion)) {
    error = "the hello's magic or protocol version is wrong";
  }
  if (error.empty() && hello[kHelloBytes - 1] != std::byte{0}) error = "the hello's name is not NUL-terminated";
  if (!error.empty()) {
    kill_and_wait(pid, kKillWaitMs);
    ::close(channel_fd);
    if (workspace.base != nullptr) ::munmap(workspace.base, workspace.layout.bytes);
    return {nullptr, "kernel host (pid " + std::to_string(pid) + ") did not start: " + error};
  }
  std::string name(reinterpret_cast<const char*>(hello.data() + 8));
  return {std::unique_ptr<RemoteKernel>(
              new RemoteKernel(channel_fd, pid, segment, std::move(name), workspace, step_timeout_ms)),
          {}};
}

RemoteKernel::~RemoteKernel() {
  if (fd_ >= 0) ::close(fd_);
  if (workspace_.base != nullptr) ::munmap(workspace_.base, workspace_.layout.bytes);
}

void RemoteKernel::fail(const std::string& reason) {
  const bool gone = kill_and_wait(pid_, kKillWaitMs);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  failed_.store(true, std::memory_order_release);
  throw RemoteKernelFailure(
      "kernel host '" + name_ + "' (pid " + std::to_string(pid_) + ") " + reason +
      (gone ? "; killed" : "; killed, but it had not exited after " + std::to_string(kKillWaitMs) + " ms"));
}

RemoteKernel::ReadoutReply RemoteKernel::exchange(std::uint32_t kind, std::uint32_t current, std::uint64_t steps) {
  if (fd_ < 0) throw RemoteKernelFailure("kernel host '" + name_ + "' failed earlier and was abandoned");
  const std::uint32_t sequence = ++sequence_;
  std::array<std::byte, kCommandBytes> command{};
  std::memcpy(command.data(), &kCommandMagic, 4);
  std::memcpy(command.data() + 4, &sequence, 4);
  std::memcpy(command.data() + 8, &current, 4);
  std::memcpy(command.data() + 12, &kind, 4);
  std::memcpy(command.data() + 16, &steps, 8);
  if (::send(fd_, command.data(), command.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(command.size())) {
    fail(std::string("took no command: ") + std::strerror(errno));
  }
  std::array<std::byte, kReplyBytes> reply{};
  // A readout takes about as long as one step.
  const std::uint64_t sent_ms = now_ms();
  const std::uint64_t allowed_ms = step_deadline_ms(step_timeout_ms_, std::max<std::uint64_t>(steps, 1));
  const std::uint64_t deadline_ms = sent_ms + std::min(allowed_ms, UINT64_MAX - sent_ms);
  if (std::string error = receive(fd_, reply.data(), reply.size(), deadline_ms); !error.empty()) {
    fail(error);
  }
  if (u32_at(reply.data(), 0) != kReplyMagic || u32_at(reply.data(), 4) != sequence || u32_at(reply.data(), 12) != 0) {
    fail("replied garbage (magic, sequence or padding wrong)");
  }
  // A reply sent ahead of its command would be read as the next one's: anything queued now is garbage.
  std::array<std::byte, 1> extra{};
  const ssize_t queued = ::recv(fd_, extra.data(), extra.size(), MSG_DONTWAIT | MSG_PEEK);
  if (queued > 0) fail("sent a message nobody asked for");
  if (queued == 0) fail("closed the channel (exited or crashed)");
  ReadoutReply result;
  std::memcpy(&result.status, reply.data() + 8, 4);
  std::memcpy(&result.bad_index, reply.data() + 16, 8);
  return result;
}

std::int32_t RemoteKernel::step(std::uint32_t current, std::uint64_t steps) {
  std::lock_guard<std::mutex> lock(mutex_);
  const ReadoutReply reply = exchange(kStepLive, current, steps);
  if (reply.bad_index != 0) fail("replied garbage (a bad index to a step)");
  return reply.status;
}

std::int32_t RemoteKernel::step_copy(void* level0, void* level1, std::uint32_t current, std::uint64_t steps) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::size_t stride = workspace_.layout.level_stride;
  std::memcpy(workspace_.base, level0, workspace_.level_bytes);
  std::memcpy(workspace_.base + stride, level1, workspace_.level_bytes);
  const ReadoutReply reply = exchange(kStepWorkspace, current, steps);
  if (reply.bad_index != 0) fail("replied garbage (a bad index to a step)");
  std::memcpy(level0, workspace_.base, workspace_.level_bytes);
  std::memcpy(level1, workspace_.base + stride, workspace_.level_bytes);
  return reply.status;
}

RemoteKernel::ReadoutReply RemoteKernel::read_digits(std::uint32_t kind, std::uint32_t level, std::int8_t* digits) {
  const ReadoutReply reply = exchange(kind, level, 0);
  if (reply.status == OURO_OK) {
    if (reply.bad_index != 0) fail("replied garbage (a bad index with a readout that succeeded)");
    // Each digit is read once, into the caller's buffer, and checked there: the host may still be writing its copy.
    const auto* written =
        reinterpret_cast<const volatile std::int8_t*>(workspace_.base + workspace_.layout.digits_offset);
    for (std::uint64_t cell = 0; cell < workspace_.cells; ++cell) {
      const std::int8_t digit = written[cell];
      if (digit < -4 || digit > 4) {
        fail("read out digit " + std::to_string(digit) + " at cell " + std::to_string(cell) + ": digits are -4 to 4");
      }
      digits[cell] = digit;
    }
  } else if (reply.bad_index >= workspace_.cells) {
    fail("replied a bad index " + std::to_string(reply.bad_index) + " outside the lattice's " +
         std::to_string(workspace_.cells) + " cells");
  }
  return reply;
}

RemoteKernel::ReadoutReply RemoteKernel::readout_live(std::uint32_t level, std::int8_t* digits) {
  std::lock_guard<std::mutex> lock(mutex_);
  return read_digits(kReadoutLive, level, digits);
}

RemoteKernel::ReadoutReply RemoteKernel::readout_copy(const void* field, std::int8_t* digits) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::memcpy(workspace_.base, field, workspace_.level_bytes);
  return read_digits(kReadoutWorkspace, 0, digits);
}

}  // namespace ouro
