// Caching-allocator peak statistics (see cuda_memory.h); built only when LibTorch has CUDA.
#include "pgolf/cli/cuda_memory.h"

#include <c10/cuda/CUDACachingAllocator.h>

namespace pgolf::cli {

void reset_cuda_peak_memory(int device) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
}

int64_t cuda_peak_memory_bytes(int device) {
  const auto stats =
      c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  // Index 0 = StatType::AGGREGATE (all pools).
  return stats.allocated_bytes[0].peak;
}

}  // namespace pgolf::cli
