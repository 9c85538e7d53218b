#include "core/exec_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ouro {
namespace {

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
  ::execve(path.c_str(), arguments.data(), variables.data());
  return "execve(" + path + ") failed: " + std::strerror(errno);
}

}  // namespace ouro
