#include "core/peer_credentials.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace {

// A directory of its own under /tmp, removed with what it holds when the
// test returns: a failed ASSERT returns early, and must leave nothing behind.
class TempDir {
 public:
  TempDir() {
    std::string name = "/tmp/ouro-listen-XXXXXX";
    if (mkdtemp(name.data()) != nullptr) path_ = name;
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Empty when mkdtemp failed.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(PeerCredentials, NameThisProcessAtTheOtherEndOfASocketPair) {
  int ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, ends), 0);
  const ouro::PeerCredentials peer = ouro::peer_credentials(ends[0]);
  EXPECT_EQ(peer.pid, getpid());
  EXPECT_EQ(peer.uid, getuid());
  EXPECT_EQ(peer.gid, getgid());
  close(ends[0]);
  close(ends[1]);
}

TEST(PeerCredentials, RefuseADescriptorThatIsNotASocket) {
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  EXPECT_THROW(ouro::peer_credentials(pipe_ends[0]), std::system_error);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  EXPECT_THROW(ouro::peer_credentials(-1), std::system_error);
}

TEST(ListenPrivateSocket, BindsMode0600WhateverTheUmaskAndAcceptsConnections) {
  const TempDir dir;
  ASSERT_FALSE(dir.path().empty()) << "mkdtemp: " << std::strerror(errno);
  const std::string path = dir.path() + "/control.sock";
  const mode_t umask_before = umask(0);
  const int server = ouro::listen_private_socket(path, 4);
  EXPECT_EQ(umask(umask_before), 0u) << "the caller's umask is restored";
  struct stat info {};
  ASSERT_EQ(lstat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  const int client = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  EXPECT_EQ(connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  close(client);
  close(server);
}

TEST(ListenPrivateSocket, RefusesAPathTakenOrTooLong) {
  EXPECT_THROW(ouro::listen_private_socket("/tmp/" + std::string(200, 'x'), 4), std::system_error);
  EXPECT_THROW(ouro::listen_private_socket("/proc/self/no-such-dir/control.sock", 4), std::system_error);
}

}  // namespace
