// The core's side of the kernel host channel against scripted fake hosts
// (forked children that speak, or break, the protocol): every way a host
// can fail is a RemoteKernelFailure, and the host is dead afterwards.
#include <gtest/gtest.h>

#include "core/remote_kernel.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <functional>

namespace ouro {
namespace {

constexpr std::uint32_t kHelloMagic = 0x31484B4F;
constexpr std::uint32_t kReplyMagic = 0x31524B4F;
constexpr std::uint64_t kTimeoutMs = 2000;

void send_hello(int fd, const char* name) {
  std::array<char, 72> hello{};
  const std::uint32_t version = 1;
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

void send_reply(int fd, std::uint32_t magic, std::uint32_t sequence, std::int32_t status) {
  std::array<char, 16> reply{};
  std::memcpy(reply.data(), &magic, 4);
  std::memcpy(reply.data() + 4, &sequence, 4);
  std::memcpy(reply.data() + 8, &status, 4);
  ::send(fd, reply.data(), reply.size(), 0);
}

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
  RemoteKernel::ConnectResult result = RemoteKernel::connect(host.core_fd, host.pid, nullptr, kTimeoutMs, step_timeout_ms);
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
  const RemoteKernel::ConnectResult result = RemoteKernel::connect(host.core_fd, host.pid, nullptr, kTimeoutMs, kTimeoutMs);
  EXPECT_EQ(result.kernel, nullptr);
  EXPECT_NE(result.error.find("did not start: a message of 16 bytes, expected 72"), std::string::npos) << result.error;
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
  RemoteKernel::ConnectResult result = RemoteKernel::connect(host.core_fd, host.pid, nullptr, kTimeoutMs, kTimeoutMs);
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
        std::array<char, 17> reply{};
        ::send(fd, reply.data(), reply.size(), 0);
      },
      "a message of 17 bytes, expected 16", kTimeoutMs);
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
