#include "core/peer_credentials.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace ouro {

PeerCredentials peer_credentials(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "getsockopt(SO_PEERCRED) on descriptor " + std::to_string(fd));
  }
  return PeerCredentials{credentials.pid, credentials.uid, credentials.gid};
}

int listen_private_socket(const std::string& path, int backlog) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    throw std::system_error(ENAMETOOLONG, std::generic_category(),
                            "socket path of " + std::to_string(path.size()) + " bytes (at most " +
                                std::to_string(sizeof address.sun_path - 1) + ")");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX)");
  const mode_t umask_before = umask(0177);
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int bind_errno = errno;
  umask(umask_before);
  if (bound != 0) {
    close(fd);
    throw std::system_error(bind_errno, std::generic_category(), "bind(" + path + ")");
  }
  if (chmod(path.c_str(), 0600) != 0 || listen(fd, backlog) != 0) {
    const int error = errno;
    unlink(path.c_str());
    close(fd);
    throw std::system_error(error, std::generic_category(), "chmod or listen(" + path + ")");
  }
  return fd;
}

}  // namespace ouro
