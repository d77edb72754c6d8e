// ProcessGroupGloo construction for C10dComm (see c10d_backends.h). The gloo headers come from
// Debian's libgloo-dev (the torch wheel ships the compiled Gloo but not its headers); only types
// whose layout does not depend on the Gloo version cross this boundary.
#include "pgolf/dist/c10d_backends.h"

#include <cstdlib>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "pgolf/config/resolve.h"

namespace pgolf::dist::detail {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifnames && *ifnames) {
    for (const auto& name : config::split_list(ifnames))
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
}

}  // namespace pgolf::dist::detail
