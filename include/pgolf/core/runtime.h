// Process-wide runtime set-up: intra-op threads, versions, device availability.
#pragma once

#include <string>

namespace pgolf::core {

// Sets LibTorch intra-op threads to `threads` (0 = all cores of this machine) and returns the count.
int configure_threads(int threads);
// "pgolf 0.1.0 (git abc123) LibTorch 2.x.y CUDA: available|not available"
std::string version_string();
bool cuda_available();

}  // namespace pgolf::core
