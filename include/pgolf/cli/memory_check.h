// Refuses, before anything is allocated, a training configuration whose memory estimate
// (config/memory.h) exceeds the device: physical RAM shared by the local ranks on the CPU, the
// device's memory on CUDA (issue 17 item 10).
#pragma once

#include "pgolf/config/config.h"

namespace pgolf::cli {

// Input error naming the estimate and the memory when it cannot fit; `local_ranks` processes
// share the host's RAM, each CUDA rank has device `local_rank` to itself.
void check_memory_fits(const config::Config& cfg, int world_size, int local_ranks, int local_rank,
                       bool use_cuda);

}  // namespace pgolf::cli
