#ifndef OUROBOROS_CORE_EXEC_IMAGE_H
#define OUROBOROS_CORE_EXEC_IMAGE_H

#include <string>
#include <vector>

namespace ouro {

/**
 * Replaces this process's image with `path` run as `argv` under `environment`
 * ("NAME=value" entries): execve, same PID. Standard input, output and
 * error are kept (their FD_CLOEXEC cleared), as are descriptors without it
 * (a state segment kept open for the new image). Returns only on failure,
 * with the reason.
 */
std::string exec_image(const std::string& path, const std::vector<std::string>& argv,
                       const std::vector<std::string>& environment);

}  // namespace ouro

#endif
