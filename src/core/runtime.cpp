// Runtime set-up (see runtime.h).
#include "pgolf/core/runtime.h"

#include <thread>

#include <torch/torch.h>
#include <torch/version.h>

#include "pgolf/version.h"

namespace pgolf::core {

int configure_threads(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  torch::set_num_threads(n);
  return n;
}

bool cuda_available() { return torch::cuda::is_available(); }

std::string version_string() {
  std::string s = std::string("pgolf ") + PGOLF_VERSION + " (git " + PGOLF_GIT_SHA + ")\n";
  s += std::string("LibTorch ") + TORCH_VERSION + "\n";
#ifdef PGOLF_WITH_CUDA
  s += "CUDA sources: compiled in\n";
#else
  s += "CUDA sources: not compiled\n";
#endif
  s += std::string("CUDA: ") + (cuda_available() ? "available (" +
                                   std::to_string(torch::cuda::device_count()) + " devices)"
                                                  : "not available");
  return s;
}

}  // namespace pgolf::core
