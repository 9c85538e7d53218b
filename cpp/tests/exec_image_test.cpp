// execve through exec_image: the new image runs with the same PID, and the
// helper that keeps the old address space for its teardown leaves nothing behind.
#include <gtest/gtest.h>

#include "core/exec_image.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace ouro {
namespace {

/// Exit status of a forked child that runs `body` and exits with what it returns.
template <typename Body>
int in_child(Body body) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(body());
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(ExecImage, ReplacesTheImageAndKeepsThePid) {
  const int status = in_child([] {
    const std::string pid = std::to_string(::getpid());
    exec_image("/bin/sh", {"sh", "-c", "test \"$$\" = " + pid + " && exit 42"}, {});
    return 1;
  });
  EXPECT_EQ(status, 42);
}

TEST(ExecImage, AFailedExecSaysWhyAndLeavesNoHelperBehind) {
  const int status = in_child([] {
    const std::string reason = exec_image("/nonexistent/ouroboros-node", {"node"}, {});
    if (reason.find("execve(/nonexistent/ouroboros-node) failed: No such file") != 0) return 2;
    // No child of this process is left (the launcher was reaped), running or not.
    int child_status = 0;
    if (::waitpid(-1, &child_status, WNOHANG | __WALL) != -1 || errno != ECHILD) return 3;
    // The holder has left this address space: a second exec starts a new one from the same storage.
    if (exec_image("/nonexistent/ouroboros-node", {"node"}, {}).empty()) return 4;
    return 0;
  });
  EXPECT_EQ(status, 0);
}

}  // namespace
}  // namespace ouro
