#include "core/remote_kernel.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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
constexpr std::uint32_t kProtocolVersion = 1;
constexpr std::size_t kNameBytes = 64;
constexpr std::size_t kHelloBytes = 8 + kNameBytes;
constexpr std::size_t kCommandBytes = 24;
constexpr std::size_t kReplyBytes = 16;
/// How long a killed host may take to be gone (its threads unwind, its mappings go).
constexpr std::uint64_t kKillWaitMs = 5000;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the kernel host protocol is little-endian");

std::uint32_t u32_at(const std::byte* bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes + at, sizeof value);
  return value;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
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

HostChannel open_host_channel() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair for a kernel host");
  }
  return HostChannel{fds[0], fds[1]};
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

RemoteKernel::ConnectResult RemoteKernel::connect(int channel_fd, pid_t pid, const void* segment,
                                                  std::uint64_t ready_timeout_ms, std::uint64_t step_timeout_ms) {
  std::array<std::byte, kHelloBytes> hello{};
  std::string error = receive(channel_fd, hello.data(), hello.size(), now_ms() + ready_timeout_ms);
  if (error.empty() && (u32_at(hello.data(), 0) != kHelloMagic || u32_at(hello.data(), 4) != kProtocolVersion)) {
    error = "the hello's magic or protocol version is wrong";
  }
  if (error.empty() && hello[kHelloBytes - 1] != std::byte{0}) error = "the hello's name is not NUL-terminated";
  if (!error.empty()) {
    kill_and_wait(pid, kKillWaitMs);
    ::close(channel_fd);
    return {nullptr, "kernel host (pid " + std::to_string(pid) + ") did not start: " + error};
  }
  std::string name(reinterpret_cast<const char*>(hello.data() + 8));
  return {std::unique_ptr<RemoteKernel>(new RemoteKernel(channel_fd, pid, segment, std::move(name), step_timeout_ms)), {}};
}

RemoteKernel::~RemoteKernel() {
  if (fd_ >= 0) ::close(fd_);
}

void RemoteKernel::fail(const std::string& reason) {
  const bool gone = kill_and_wait(pid_, kKillWaitMs);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  throw RemoteKernelFailure("kernel host '" + name_ + "' (pid " + std::to_string(pid_) + ") " + reason +
                            (gone ? "; killed" : "; killed, but it had not exited after " +
                                                     std::to_string(kKillWaitMs) + " ms"));
}

std::int32_t RemoteKernel::step(std::uint32_t current, std::uint64_t steps) {
  if (fd_ < 0) throw RemoteKernelFailure("kernel host '" + name_ + "' failed earlier and was abandoned");
  const std::uint32_t sequence = ++sequence_;
  std::array<std::byte, kCommandBytes> command{};
  std::memcpy(command.data(), &kCommandMagic, 4);
  std::memcpy(command.data() + 4, &sequence, 4);
  std::memcpy(command.data() + 8, &current, 4);
  std::memcpy(command.data() + 16, &steps, 8);
  if (::send(fd_, command.data(), command.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(command.size())) {
    fail(std::string("took no command: ") + std::strerror(errno));
  }
  std::array<std::byte, kReplyBytes> reply{};
  // The deadline is per step: a batch of k steps may take k times as long.
  std::uint64_t batch_timeout_ms = 0;
  if (__builtin_mul_overflow(step_timeout_ms_, steps, &batch_timeout_ms)) batch_timeout_ms = std::uint64_t{1} << 40;
  if (std::string error = receive(fd_, reply.data(), reply.size(), now_ms() + batch_timeout_ms); !error.empty()) {
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
  std::int32_t status;
  std::memcpy(&status, reply.data() + 8, 4);
  return status;
}

}  // namespace ouro
