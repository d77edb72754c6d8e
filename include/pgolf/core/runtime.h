// Process-wide runtime set-up: intra-op threads, versions, device availability.
#pragma once

#include <string>

namespace pgolf::core {

// Sets LibTorch intra-op threads to `threads` (0 = all cores of this machine) and returns the count.
int configure_threads(int threads);
// Intra-op threads for one of `ranks` processes on a host of `cores` cores whose other work keeps
// `load` cores busy (1-minute load average): the free cores shared by the ranks, at least 1 and
// at most cores / ranks. Two OpenMP threads on a 2-core box that is busy elsewhere wait at every
// barrier for a preempted thread (a smoke step took 18 s instead of 1.5 s, README).
int auto_threads(int cores, int ranks, double load);
// "pgolf 0.1.0 (git abc123) LibTorch 2.x.y CUDA: available|not available"
std::string version_string();
bool cuda_available();

}  // namespace pgolf::core
