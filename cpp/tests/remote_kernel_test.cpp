// The core's side of the kernel host channel against scripted fake hosts
// (forked children that speak, or break, the protocol): every way a host
// can fail is a RemoteKernelFailure, and the host is dead afterwards.
#include <gtest/gtest.h>

#include "core/remote_kernel.h"

#include <ouroboros/kernel_abi.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <functional>
#include <vector>

namespace ouro {
namespace {

constexpr std::uint32_t kHelloMagic = 0x31484B4F;
constexpr std::uint32_t kReplyMagic = 0x31524B4F;
constexpr std::uint64_t kTimeoutMs = 2000;
/// The fake hosts' lattice: 48 x 40 f64, as crates/kernel-host/src/workspace.rs's layout test.
constexpr std::uint64_t kCells = 48 * 40;
constexpr std::size_t kLevelBytes = kCells * 8;

void send_hello(int fd, const char* name) {
  std::array<char, 72> hello{};
  const std::uint32_t version = 2;
  std::memcpy(hello.data(), &kHelloMagic, 4);
  std::memcpy(hello.data() + 4, &version, 4);
  std::strncpy(hello.data() + 8, name, 63);
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), 0), 72);
}

/// Reads one command and returns its sequence number, or 0 at end of file.
std::uint32_t read_command(int fd) {
  std::array<char, 24> command{};
  if (::recv(fd, command.data(), command.size(), 0) != 24) return 0;
  std::uint32_t sequence;
  std::memcpy(&sequence, command.data() + 4, 4);
  return sequence;
}

void send_reply(int fd, std::uint32_t magic, std::uint32_t sequence, std::int32_t status, std::uint64_t bad_index = 0) {
  std::array<char, 24> reply{};
  std::memcpy(reply.data(), &magic, 4);
  std::memcpy(reply.data() + 4, &sequence, 4);
  std::memcpy(reply.data() + 8, &status, 4);
  std::memcpy(reply.data() + 16, &bad_index, 8);
  ::send(fd, reply.data(), reply.size(), 0);
}

/// A new workspace for the fake hosts' lattice.
int workspace() { return open_host_workspace(host_workspace_layout(kLevelBytes, kCells).bytes); }

struct FakeHost {
  pid_t pid;
  int core_fd;
};

/// Forks a child that runs `script` on its end of a new channel and then waits to be killed.
FakeHost start(const std::function<void(int)>& script) {
  const HostChannel channel = open_host_channel();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(channel.core_fd);
    script(channel.host_fd);
    for (;;) ::pause();
  }
  ::close(channel.host_fd);
  return FakeHost{pid, channel.core_fd};
}

/// Whether the child was killed by SIGKILL (reaps it).
bool was_killed(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

std::unique_ptr<RemoteKernel> connected(const FakeHost& host, std::uint64_t step_timeout_ms = kTimeoutMs) {
  RemoteKernel::ConnectResult result = RemoteKernel::connect(host.core_fd, workspace(), host.pid, nullptr, kLevelBytes,
                                                             kCells, kTimeoutMs, step_timeout_ms);
  EXPECT_EQ(result.error, "");
  return std::move(result.kernel);
}

TEST(RemoteKernel, StepsWhileTheHostAnswersEachCommandAndPassesTheStatusOn) {
  const FakeHost host = start([](int fd) {
    send_hello(fd, "fake");
    for (std::int32_t status = 0;; ++status) {
      const std::uint32_t sequence = read_command(fd);
      if (sequence == 0) return;
      send_reply(fd, kReplyMagic, sequence, status);
    }
  });
  auto kernel = connected(host);
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->name(), "fake");
  EXPECT_EQ(kernel->step(0, 1), 0);
  EXPECT_EQ(kernel->step(1, 1), 1);
  EXPECT_FALSE(kernel->failed());
  ::kill(host.pid, SIGKILL);
  ::waitpid(host.pid, nullptr, 0);
}

TEST(RemoteKernel, ARefusedHelloIsDataAndKillsTheHost) {
  const FakeHost host = start([](int fd) { send_reply(fd, kReplyMagic, 1, 0); });
  const RemoteKernel::ConnectResult result =
      RemoteKernel::connect(host.core_fd, workspace(), host.pid, nullptr, kLevelBytes, kCells, kTimeoutMs, kTimeoutMs);
  EXPECT_EQ(result.kernel, nullptr);
  EXPECT_NE(result.error.find("did not start: a message of 24 bytes, expected 72"), std::string::npos) << result.error;
  EXPECT_TRUE(was_killed(host.pid));
}

void expect_failure(const std::function<void(int)>& after_hello, const char* reason, std::uint64_t step_timeout_ms) {
  const FakeHost host = start([&](int fd) {
    send_hello(fd, "liar");
    after_hello(fd);
  });
  auto kernel = connected(host, step_timeout_ms);
  ASSERT_NE(kernel, nullptr);
  try {
    kernel->step(0, 1);
    ::kill(host.pid, SIGKILL);
    ::waitpid(host.pid, nullptr, 0);
    FAIL() << "a failing host's step returned";
  } catch (const RemoteKernelFailure& failure) {
    EXPECT_NE(std::string(failure.what()).find(reason), std::string::npos) << failure.what();
  }
  EXPECT_TRUE(kernel->failed());
  EXPECT_TRUE(was_killed(host.pid));
  EXPECT_THROW(kernel->step(0, 1), RemoteKernelFailure);
}

TEST(RemoteKernel, AHostThatRepliesWithTheWrongSequenceIsKilled) {
  expect_failure([](int fd) { send_reply(fd, kReplyMagic, read_command(fd) + 1, 0); }, "replied garbage", kTimeoutMs);
}

TEST(RemoteKernel, AHostThatRepliesWithTheWrongMagicIsKilled) {
  expect_failure([](int fd) { send_reply(fd, kHelloMagic, read_command(fd), 0); }, "replied garbage", kTimeoutMs);
}

TEST(RemoteKernel, AHostThatRepliesBeforeItsHelloIsRefused) {
  // Replies to commands 1 and 2 sent ahead, before the hello, so that both are queued when the core reads the first.
  const FakeHost host = start([](int fd) {
    send_reply(fd, kReplyMagic, 1, 0);
    send_reply(fd, kReplyMagic, 2, 0);
  });
  RemoteKernel::ConnectResult result =
      RemoteKernel::connect(host.core_fd, workspace(), host.pid, nullptr, kLevelBytes, kCells, kTimeoutMs, kTimeoutMs);
  EXPECT_EQ(result.kernel, nullptr);
  EXPECT_TRUE(was_killed(host.pid));
}

TEST(RemoteKernel, AHostThatRepliesAheadOfTheCommandIsKilled) {
  int sent[2];
  ASSERT_EQ(::pipe(sent), 0);
  const FakeHost host = start([&](int fd) {
    send_hello(fd, "eager");
    send_reply(fd, kReplyMagic, 1, 0);
    send_reply(fd, kReplyMagic, 2, 0);
    const char done = 1;
    ::write(sent[1], &done, 1);
  });
  char done = 0;
  ASSERT_EQ(::read(sent[0], &done, 1), 1);
  ::close(sent[0]);
  ::close(sent[1]);
  auto kernel = connected(host);
  ASSERT_NE(kernel, nullptr);
  try {
    kernel->step(0, 1);
    FAIL() << "a host that replied ahead was believed";
  } catch (const RemoteKernelFailure& failure) {
    EXPECT_NE(std::string(failure.what()).find("a message nobody asked for"), std::string::npos) << failure.what();
  }
  EXPECT_TRUE(was_killed(host.pid));
}

TEST(RemoteKernel, AHostThatRepliesWithALongerMessageIsKilled) {
  expect_failure(
      [](int fd) {
        read_command(fd);
        std::array<char, 25> reply{};
        ::send(fd, reply.data(), reply.size(), 0);
      },
      "a message of 25 bytes, expected 24", kTimeoutMs);
}

TEST(RemoteKernel, AHostThatNeverRepliesIsTimedOutAndKilled) {
  expect_failure([](int fd) { read_command(fd); }, "no reply within the deadline (hung)", 50);
}

TEST(RemoteKernel, TheStepDeadlineScalesWithTheStepsAskedForAndSaturates) {
  EXPECT_EQ(step_deadline_ms(10'000, 1), 10'000u);
  EXPECT_EQ(step_deadline_ms(10'000, 64), 640'000u);
  EXPECT_EQ(step_deadline_ms(10'000, UINT64_MAX), UINT64_MAX);
}

TEST(RemoteKernel, ABatchOfStepsMayTakeLongerThanOneStepsDeadline) {
  // The host answers a 64-step command after 4 one-step deadlines: late for one step, in time for 64.
  constexpr std::uint64_t kOneStepMs = 100;
  const FakeHost host = start([](int fd) {
    send_hello(fd, "batched");
    const std::uint32_t sequence = read_command(fd);
    ::usleep(4 * kOneStepMs * 1000);
    send_reply(fd, kReplyMagic, sequence, 0);
  });
  auto kernel = connected(host, kOneStepMs);
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->step(0, 64), 0);
  ::kill(host.pid, SIGKILL);
  ::waitpid(host.pid, nullptr, 0);
}

/// A fake host that maps a workspace (as the real one does at fd 5) and runs `script` on its channel and that mapping.
struct WorkspaceHost {
  FakeHost host;
  int workspace_fd;
};

WorkspaceHost start_with_workspace(const std::function<void(int, std::byte*)>& script) {
  const int fd = workspace();
  const std::size_t bytes = host_workspace_layout(kLevelBytes, kCells).bytes;
  const FakeHost host = start([&](int channel) {
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    send_hello(channel, "workspace");
    script(channel, static_cast<std::byte*>(base));
  });
  return WorkspaceHost{host, fd};
}

std::unique_ptr<RemoteKernel> connected(const WorkspaceHost& fake) {
  RemoteKernel::ConnectResult result = RemoteKernel::connect(fake.host.core_fd, fake.workspace_fd, fake.host.pid,
                                                             nullptr, kLevelBytes, kCells, kTimeoutMs, kTimeoutMs);
  EXPECT_EQ(result.error, "");
  return std::move(result.kernel);
}

const HostWorkspaceLayout kLayout = host_workspace_layout(kLevelBytes, kCells);

TEST(RemoteKernel, TheWorkspaceLayoutIsTheHostsOwn) {
  // crates/kernel-host/src/workspace.rs expects the same figures for 48 x 40 f64.
  EXPECT_EQ(kLayout.level_stride, 16384u);
  EXPECT_EQ(kLayout.digits_offset, 49152u);
  EXPECT_EQ(kLayout.bytes, 53248u);
}

TEST(RemoteKernel, AStepOfACopyGoesThroughTheWorkspaceAndComesBack) {
  const WorkspaceHost fake = start_with_workspace([](int fd, std::byte* base) {
    for (;;) {
      const std::uint32_t sequence = read_command(fd);
      if (sequence == 0) return;
      // "Steps" by swapping the first values of the two levels.
      double first[2];
      std::memcpy(&first[0], base, 8);
      std::memcpy(&first[1], base + kLayout.level_stride, 8);
      std::memcpy(base, &first[1], 8);
      std::memcpy(base + kLayout.level_stride, &first[0], 8);
      send_reply(fd, kReplyMagic, sequence, 0);
    }
  });
  auto kernel = connected(fake);
  ASSERT_NE(kernel, nullptr);
  std::vector<double> level0(kCells, 1.0), level1(kCells, 2.0);
  EXPECT_EQ(kernel->step_copy(level0.data(), level1.data(), 0, 1), 0);
  EXPECT_EQ(level0[0], 2.0);
  EXPECT_EQ(level1[0], 1.0);
  EXPECT_EQ(level0[1], 1.0);
  ::kill(fake.host.pid, SIGKILL);
  ::waitpid(fake.host.pid, nullptr, 0);
}

TEST(RemoteKernel, AReadoutReturnsTheDigitsTheHostWroteForTheFieldItWasGiven) {
  const WorkspaceHost fake = start_with_workspace([](int fd, std::byte* base) {
    const std::uint32_t sequence = read_command(fd);
    double first;
    std::memcpy(&first, base, 8);
    auto* digits = reinterpret_cast<std::int8_t*>(base + kLayout.digits_offset);
    for (std::uint64_t cell = 0; cell < kCells; ++cell) digits[cell] = static_cast<std::int8_t>(cell % 9) - 4;
    digits[0] = static_cast<std::int8_t>(first);
    send_reply(fd, kReplyMagic, sequence, 0);
  });
  auto kernel = connected(fake);
  ASSERT_NE(kernel, nullptr);
  std::vector<double> field(kCells, 3.0);
  std::vector<std::int8_t> digits(kCells, 99);
  const RemoteKernel::ReadoutReply reply = kernel->readout_copy(field.data(), digits.data());
  EXPECT_EQ(reply.status, 0);
  EXPECT_EQ(digits[0], 3);
  for (std::uint64_t cell = 1; cell < kCells; ++cell) ASSERT_EQ(digits[cell], static_cast<std::int8_t>(cell % 9) - 4);
  ::kill(fake.host.pid, SIGKILL);
  ::waitpid(fake.host.pid, nullptr, 0);
}

void expect_readout_failure(const std::function<void(int, std::byte*)>& script, const char* reason) {
  const WorkspaceHost fake = start_with_workspace(script);
  auto kernel = connected(fake);
  ASSERT_NE(kernel, nullptr);
  std::vector<std::int8_t> digits(kCells, 0);
  try {
    kernel->readout_live(0, digits.data());
    FAIL() << "a lying host's readout was believed";
  } catch (const RemoteKernelFailure& failure) {
    EXPECT_NE(std::string(failure.what()).find(reason), std::string::npos) << failure.what();
  }
  EXPECT_TRUE(kernel->failed());
  EXPECT_TRUE(was_killed(fake.host.pid));
}

TEST(RemoteKernel, ADigitOutOfRangeKillsTheHost) {
  expect_readout_failure(
      [](int fd, std::byte* base) {
        const std::uint32_t sequence = read_command(fd);
        reinterpret_cast<std::int8_t*>(base + kLayout.digits_offset)[7] = 5;
        send_reply(fd, kReplyMagic, sequence, 0);
      },
      "read out digit 5 at cell 7: digits are -4 to 4");
}

TEST(RemoteKernel, ABadIndexOutsideTheLatticeKillsTheHost) {
  expect_readout_failure(
      [](int fd, std::byte*) { send_reply(fd, kReplyMagic, read_command(fd), OURO_ERR_NONFINITE, kCells); },
      "replied a bad index 1920 outside the lattice's 1920 cells");
}

TEST(RemoteKernel, AHostThatExitsIsAFailure) {
  const FakeHost host = start([](int fd) {
    send_hello(fd, "quitter");
    read_command(fd);
    ::_exit(0);
  });
  auto kernel = connected(host);
  ASSERT_NE(kernel, nullptr);
  EXPECT_THROW(kernel->step(0, 1), RemoteKernelFailure);
  EXPECT_TRUE(kernel->failed());
  int status = 0;
  ASSERT_EQ(::waitpid(host.pid, &status, 0), host.pid);
}

}  // namespace
}  // namespace ouro
