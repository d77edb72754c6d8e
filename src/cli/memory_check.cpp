// Memory check of a run before allocation (see memory_check.h).
#include "pgolf/cli/memory_check.h"

#include <unistd.h>

#include <string>

#include "pgolf/cli/cuda_memory.h"
#include "pgolf/config/memory.h"
#include "pgolf/core/error.h"

namespace pgolf::cli {

void check_memory_fits(const config::Config& cfg, int world_size, int local_ranks, int local_rank,
                       bool use_cuda) {
  const config::MemoryEstimate need = config::estimate_memory(cfg, world_size);
  double available = 0;
  std::string device;
  if (use_cuda) {
    available = static_cast<double>(cuda_total_memory_bytes(local_rank));
    device = "cuda:" + std::to_string(local_rank);
  } else {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    available = pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
    if (local_ranks > 1) available /= local_ranks;
    device = local_ranks > 1 ? "this host (RAM / " + std::to_string(local_ranks) + " local ranks)"
                             : "this host (physical RAM)";
  }
  if (available <= 0) return;  // unknown: nothing to compare with
  const std::string err = config::memory_fit_error(need, available, device);
  if (!err.empty())
    throw Error(ErrorKind::kInput, "configuration: " + err,
                "reduce MODEL_DIM, NUM_LAYERS, MLP_MULT or TRAIN_BATCH_TOKENS, or use more ranks");
}

}  // namespace pgolf::cli
