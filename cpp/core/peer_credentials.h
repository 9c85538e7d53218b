#ifndef OUROBOROS_CORE_PEER_CREDENTIALS_H
#define OUROBOROS_CORE_PEER_CREDENTIALS_H

#include <cstdint>
#include <string>

namespace ouro {

/** Who is at the other end of a connected Unix domain socket, as the kernel recorded it at connect(). */
struct PeerCredentials {
  std::int64_t pid;
  std::uint32_t uid;
  std::uint32_t gid;
};

/**
 * SO_PEERCRED of `fd`. Node's net module exposes no peer credentials, and the
 * control socket must refuse a client that is not its own user whatever the
 * socket file's mode says. Throws std::system_error when `fd` is not a
 * connected Unix socket.
 */
PeerCredentials peer_credentials(int fd);

/**
 * A listening Unix stream socket bound at `path`, its file made with mode
 * 0600 from the start (the umask is 0177 for the bind, then restored; the
 * mode is set again explicitly). Node binds a path itself with the
 * process's umask and, at close, unlinks whatever file then has that name;
 * a socket it is given as a descriptor it leaves alone, so the caller
 * removes only the file it made. Close-on-exec. Throws std::system_error.
 */
int listen_private_socket(const std::string& path, int backlog);

}  // namespace ouro

#endif
