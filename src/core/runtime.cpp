// Runtime set-up (see runtime.h).
#include "pgolf/core/runtime.h"

#include <algorithm>
#include <cmath>
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

int auto_threads(int cores, int ranks, double load) {
  cores = std::max(cores, 1);
  ranks = std::max(ranks, 1);
  const long busy = std::lround(std::max(load, 0.0));
  const long free_cores = std::max<long>(cores - busy, 0);
  return static_cast<int>(std::clamp<long>(free_cores / ranks, 1, std::max(cores / ranks, 1)));
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
