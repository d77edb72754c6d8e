// Process-wide CUDA settings for a run on cuda:LOCAL_RANK (design.md §4, issue #9 item 1): the
// device is made current, TF32 matmuls/convolutions are allowed as the record does (except under
// the fp32 policy, which golden comparisons use), and scaled-dot-product attention prefers the
// flash backend (memory-efficient and cuDNN attention off; math stays as the fallback for shapes
// flash cannot take). A no-op on CPU. Compiled here, never run on a GPU (no GPU on the CI box).
#pragma once

#include <string>

#include <torch/torch.h>

#include "pgolf/model/dtype.h"

namespace pgolf::train {

// Applies the settings above for `device` and returns a one-line summary for the log ("" on CPU).
std::string configure_device(const torch::Device& device, model::DtypePolicy policy);

}  // namespace pgolf::train
