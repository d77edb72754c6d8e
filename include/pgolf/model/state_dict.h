// Named-parameter copy shared by the GPTs: a state dict (name -> tensor) into a module's
// parameters, with every mismatch listed in one input error.
#pragma once

#include <torch/torch.h>

#include "pgolf/core/tensor_io.h"

namespace pgolf::model {

// named_parameters() of `module` (recursive, registration order) as NamedTensors.
core::NamedTensors named_state(const torch::nn::Module& module);

// Copies values into `module`'s parameters (converting dtype and device). strict: every key
// present, no extra keys. Shapes must always match. Throws an input error listing every offending
// key.
void load_named_state(torch::nn::Module& module, const core::NamedTensors& tensors, bool strict);

}  // namespace pgolf::model
