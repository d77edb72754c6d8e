// Process-wide CUDA settings for a run on cuda:LOCAL_RANK (design.md §4, issue #9 item 1): the
// device is made current, TF32 matmuls/convolutions are allowed as the record does (except under
// the fp32 policy, which golden comparisons use), and scaled-dot-product attention prefers the
// flash backend (memory-efficient and cuDNN attention off; math stays as the fallback for shapes
// flash cannot take). A no-op on CPU. Compiled here, never run on a GPU (no GPU on the CI box).
#pragma once

#include <string>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/model/dtype.h"

namespace pgolf::train {

// Applies the settings above for `device` and returns a one-line summary for the log ("" on CPU).
std::string configure_device(const torch::Device& device, model::DtypePolicy policy);

// DEVICE: whether this process computes on CUDA (auto: whenever CUDA is available). DEVICE=cuda
// on a machine without CUDA is an input error. Callers need it before the communicator exists
// (the NCCL choice); setup_compute then takes the rank's device from it.
bool wants_cuda(config::Device device);

struct ComputeSetup {
  torch::Device device = torch::kCPU;  // cuda:local_rank, or the CPU
  model::DtypePolicy policy = model::DtypePolicy::kFp32;
  std::string summary;  // configure_device's line for the log ("" on the CPU)
};

// The one device and dtype set-up of `pgolf train`, `eval` and `bench`: the device from DEVICE
// (cuda:local_rank made current, TF32 and flash SDPA as above), the policy from DTYPE, and the
// FUSED_KERNELS switch (CUDA only, process-wide). Run it once, before building the model.
ComputeSetup setup_compute(const config::TrainConfig& t, int local_rank);

}  // namespace pgolf::train
