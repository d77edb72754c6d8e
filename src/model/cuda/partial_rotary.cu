// The fused partial-rotary kernel (see partial_rotary_kernel.h): one elementwise pass that rotates
// the first rope_dims of each head and copies the rest, where the eager form (model/frontier_ops.h)
// runs narrow, four products, two sums, two concatenations. Arithmetic in fp32, storage fp32 or
// bf16. Compiled and linked here; never run (no GPU): tests/unit/fused_rotary_test.cpp compares it
// with partial_rotary wherever a GPU exists.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "partial_rotary_kernel.h"

namespace pgolf::model::kernels {
namespace {

constexpr int kPartialRotaryThreads = 256;

__device__ __forceinline__ float pr_load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float pr_load(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ void pr_store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void pr_store(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16(v);
}

template <typename T>
__global__ void partial_rotary_k(const T* x, const T* cos, const T* sin, T* y, int64_t n,
                                 int64_t head_dim, int64_t half, int64_t heads, int64_t seq_len,
                                 float sign) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t d = i % head_dim;
    if (d >= 2 * half) {  // position-free dims
      pr_store(y, i, pr_load(x, i));
      continue;
    }
    const int64_t row = i / head_dim;
    const int64_t j = d < half ? d : d - half;
    const int64_t t = ((row / heads) % seq_len) * half + j;
    const float c = pr_load(cos, t), s = sign * pr_load(sin, t);
    const int64_t a = i - d + j, b = a + half;  // the pair (x1, x2) of this element
    const float x1 = pr_load(x, a), x2 = pr_load(x, b);
    pr_store(y, i, d < half ? x1 * c + x2 * s : x2 * c - x1 * s);
  }
}

int64_t pr_blocks(int64_t n) {
  const int64_t b = (n + kPartialRotaryThreads - 1) / kPartialRotaryThreads;
  return b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8;  // grid-stride loop covers the rest
}

}  // namespace

void partial_rotary(const void* x, const void* cos, const void* sin, void* y, int64_t rows,
                    int64_t head_dim, int64_t half, int64_t heads, int64_t seq_len, float sign,
                    DType dtype, CUstream_st* stream) {
  const int64_t n = rows * head_dim;
  if (n == 0) return;
  const auto grid = static_cast<unsigned>(pr_blocks(n));
  if (dtype == DType::kBFloat16) {
    partial_rotary_k<<<grid, kPartialRotaryThreads, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(cos),
        static_cast<const __nv_bfloat16*>(sin), static_cast<__nv_bfloat16*>(y), n, head_dim, half,
        heads, seq_len, sign);
  } else {
    partial_rotary_k<<<grid, kPartialRotaryThreads, 0, stream>>>(
        static_cast<const float*>(x), static_cast<const float*>(cos), static_cast<const float*>(sin),
        static_cast<float*>(y), n, head_dim, half, heads, seq_len, sign);
  }
}

}  // namespace pgolf::model::kernels
