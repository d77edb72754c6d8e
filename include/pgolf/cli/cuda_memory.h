// Peak CUDA memory of the caching allocator for `pgolf bench`, and a device's total memory for the
// memory check of `pgolf train`. Defined in src/cli/cuda/ (built only when LibTorch has CUDA);
// without CUDA sources the calls are no-ops that report -1.
#pragma once

#include <cstdint>

namespace pgolf::cli {

#ifdef PGOLF_WITH_CUDA
void reset_cuda_peak_memory(int device);
int64_t cuda_peak_memory_bytes(int device);  // allocated bytes, as torch.cuda.max_memory_allocated
int64_t cuda_total_memory_bytes(int device);  // -1 when CUDA is not available
#else
inline void reset_cuda_peak_memory(int) {}
inline int64_t cuda_peak_memory_bytes(int) { return -1; }
inline int64_t cuda_total_memory_bytes(int) { return -1; }
#endif

}  // namespace pgolf::cli
