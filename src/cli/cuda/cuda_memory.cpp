// Caching-allocator peak statistics (see cuda_memory.h); built only when LibTorch has CUDA.
#include "pgolf/cli/cuda_memory.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>

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

int64_t cuda_total_memory_bytes(int device) {
  if (device < 0 || device >= static_cast<int>(c10::cuda::device_count())) return -1;
  return static_cast<int64_t>(at::cuda::getDeviceProperties(device)->totalGlobalMem);
}

}  // namespace pgolf::cli
