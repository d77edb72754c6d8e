// pgolf's fused CUDA kernels: RMSNorm (forward/backward, one block per row), relu^2 /
// leaky-relu(0.5)^2 (forward/backward, elementwise), rotary (one kernel for both directions),
// softcapped cross-entropy (forward/backward, one block per token) and residual mixing
// (forward elementwise; backward with per-chunk column sums for the mix gradient). All arithmetic
// in fp32; storage fp32 or bf16.
// Compiled and linked in CI; never run there (no GPU) — tests/unit/fused_kernels_test.cpp
// compares them with the CPU references wherever a GPU exists.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>

#include "kernels.h"

namespace pgolf::model::kernels {
namespace {

constexpr int kRowThreads = 256;  // RMSNorm: threads per row (model_dim 512 -> 2 elements each)
constexpr int kEltThreads = 256;

__device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16(v);  // round to nearest even, as a torch fp32 -> bf16 cast
}

// Sum of `v` over the block (blockDim.x == kRowThreads), returned to every thread.
__device__ float block_sum(float v) {
  __shared__ float partial[kRowThreads / 32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < kRowThreads / 32; ++w) total += partial[w];
  __syncthreads();  // partial[] is reused by the next call
  return total;
}

// Max of `v` over the block (blockDim.x == kRowThreads), returned to every thread. NaN inputs are
// ignored by fmaxf; they still reach the sum that follows.
__device__ float block_max(float v) {
  __shared__ float partial[kRowThreads / 32];
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < kRowThreads / 32; ++w) m = fmaxf(m, partial[w]);
  __syncthreads();
  return m;
}

template <typename Tin, typename Tout>
__global__ void rms_norm_fwd(const Tin* x, Tout* y, float* rstd, int64_t cols, float eps) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  float ss = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float v = load(x, base + c);
    ss += v * v;
  }
  const float r = rsqrtf(block_sum(ss) / static_cast<float>(cols) + eps);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) store(y, base + c, load(x, base + c) * r);
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}

template <typename Tin, typename Tout>
__global__ void rms_norm_bwd(const Tout* g, const Tin* x, const float* rstd, Tin* dx, int64_t cols) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  const float r = rstd[blockIdx.x];
  float dot = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    dot += load(g, base + c) * load(x, base + c) * r;
  const float mean = block_sum(dot) / static_cast<float>(cols);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float xhat = load(x, base + c) * r;
    store(dx, base + c, r * (load(g, base + c) - xhat * mean));
  }
}

__device__ __forceinline__ float act(float h, bool leaky) { return h > 0.f ? h : (leaky ? 0.5f * h : 0.f); }

template <typename T>
__global__ void relu2_fwd(const T* h, T* y, int64_t n, bool leaky) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float a = act(load(h, i), leaky);
    store(y, i, a * a);
  }
}

template <typename T>
__global__ void relu2_bwd(const T* g, const T* h, T* dh, int64_t n, bool leaky) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float hv = load(h, i);
    const float slope = hv > 0.f ? 1.f : (leaky ? 0.5f : 0.f);
    store(dh, i, load(g, i) * 2.f * act(hv, leaky) * slope);
  }
}

template <typename T>
__global__ void rotary_k(const T* x, const T* cos, const T* sin, T* y, int64_t rows, int64_t half,
                         int64_t seq_len, float sign) {
  const int64_t n = rows * half;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / half, j = i % half;
    const int64_t t = (row % seq_len) * half + j;
    const int64_t a = row * 2 * half + j, b = a + half;
    const float c = load(cos, t), s = sign * load(sin, t);
    const float x1 = load(x, a), x2 = load(x, b);
    store(y, a, x1 * c + x2 * s);
    store(y, b, x2 * c - x1 * s);
  }
}

// cap * tanh(z / cap), as the model's eager `cap * torch::tanh(z / cap)` (division, not a
// reciprocal multiply, so fp32 inputs round the same way).
template <typename T>
__device__ __forceinline__ float softcap_at(const T* z, int64_t i, float cap) {
  return cap * tanhf(load(z, i) / cap);
}

template <typename T>
__global__ void softcap_ce_fwd(const T* z, const int64_t* targets, float* loss, float* lse,
                               int64_t cols, float cap) {
  const int64_t row = blockIdx.x, base = row * cols;
  float m = -INFINITY;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, softcap_at(z, base + c, cap));
  m = block_max(m);
  float se = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) se += expf(softcap_at(z, base + c, cap) - m);
  se = block_sum(se);
  if (threadIdx.x == 0) {
    const float l = m + logf(se);
    lse[row] = l;
    const int64_t t = targets[row];
    loss[row] = (t >= 0 && t < cols) ? l - softcap_at(z, base + t, cap) : NAN;
  }
}

template <typename T>
__global__ void softcap_ce_bwd(const T* z, const int64_t* targets, const float* lse, const float* g,
                               T* dz, int64_t cols, float cap) {
  const int64_t row = blockIdx.x, base = row * cols;
  const float l = lse[row], gr = g[row];
  const int64_t t = targets[row];
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float th = tanhf(load(z, base + c) / cap);
    const float p = expf(cap * th - l);
    store(dz, base + c, gr * (p - (c == t ? 1.f : 0.f)) * (1.f - th * th));
  }
}

template <typename T>
__global__ void resid_mix_fwd(const T* x, const T* x0, const float* mix, T* y, int64_t n,
                              int64_t cols) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = i % cols;
    store(y, i, mix[c] * load(x, i) + mix[cols + c] * load(x0, i));
  }
}

// grid (ceil(cols / kEltThreads), chunks): thread = one column of one chunk of rows (coalesced
// across the threads of a block), fp32 sums written to partial[chunk, 0|1, col].
template <typename T>
__global__ void resid_mix_bwd(const T* g, const T* x, const T* x0, const float* mix, T* dx, T* dx0,
                              float* partial, int64_t rows, int64_t cols, int64_t rows_per_chunk) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  const int64_t k = blockIdx.y;
  const int64_t r0 = k * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
  const float m0 = mix[c], m1 = mix[cols + c];
  float s0 = 0.f, s1 = 0.f;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i = r * cols + c;
    const float gv = load(g, i);
    s0 += gv * load(x, i);
    s1 += gv * load(x0, i);
    store(dx, i, gv * m0);
    store(dx0, i, gv * m1);
  }
  partial[(2 * k) * cols + c] = s0;
  partial[(2 * k + 1) * cols + c] = s1;
}

// Rows per chunk of the resid_mix backward: about 4096 blocks in all (enough to fill an H100),
// at least one row per chunk, at most 65535 chunks (gridDim.y).
int64_t resid_mix_rows_per_chunk(int64_t rows, int64_t cols) {
  const int64_t col_blocks = (cols + kEltThreads - 1) / kEltThreads;
  int64_t chunks = 4096 / (col_blocks > 0 ? col_blocks : 1);
  if (chunks < 1) chunks = 1;
  if (chunks > 65535) chunks = 65535;
  if (chunks > rows) chunks = rows > 0 ? rows : 1;
  return (rows + chunks - 1) / chunks > 0 ? (rows + chunks - 1) / chunks : 1;
}

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kEltThreads - 1) / kEltThreads;
  return static_cast<unsigned>(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

}  // namespace

void rms_norm_forward(const void* x, void* y, float* rstd, int64_t rows, int64_t cols, float eps,
                      DType in, DType out, CUstream_st* stream) {
  const dim3 grid(static_cast<unsigned>(rows)), block(kRowThreads);
  if (in == DType::kFloat32)
    rms_norm_fwd<<<grid, block, 0, stream>>>(static_cast<const float*>(x), static_cast<float*>(y),
                                              rstd, cols, eps);
  else if (out == DType::kBFloat16)
    rms_norm_fwd<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(x),
                                              static_cast<__nv_bfloat16*>(y), rstd, cols, eps);
  else
    rms_norm_fwd<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(x),
                                              static_cast<float*>(y), rstd, cols, eps);
}

void rms_norm_backward(const void* g, const void* x, const float* rstd, void* dx, int64_t rows,
                       int64_t cols, DType in, DType out, CUstream_st* stream) {
  const dim3 grid(static_cast<unsigned>(rows)), block(kRowThreads);
  if (in == DType::kFloat32)
    rms_norm_bwd<<<grid, block, 0, stream>>>(static_cast<const float*>(g),
                                              static_cast<const float*>(x), rstd,
                                              static_cast<float*>(dx), cols);
  else if (out == DType::kBFloat16)
    rms_norm_bwd<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(g),
                                              static_cast<const __nv_bfloat16*>(x), rstd,
                                              static_cast<__nv_bfloat16*>(dx), cols);
  else
    rms_norm_bwd<<<grid, block, 0, stream>>>(static_cast<const float*>(g),
                                              static_cast<const __nv_bfloat16*>(x), rstd,
                                              static_cast<__nv_bfloat16*>(dx), cols);
}

void relu2_forward(const void* h, void* y, int64_t n, bool leaky, DType dtype, CUstream_st* stream) {
  if (dtype == DType::kFloat32)
    relu2_fwd<<<grid_for(n), kEltThreads, 0, stream>>>(static_cast<const float*>(h),
                                                       static_cast<float*>(y), n, leaky);
  else
    relu2_fwd<<<grid_for(n), kEltThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(h),
                                                       static_cast<__nv_bfloat16*>(y), n, leaky);
}

void relu2_backward(const void* g, const void* h, void* dh, int64_t n, bool leaky, DType dtype,
                    CUstream_st* stream) {
  if (dtype == DType::kFloat32)
    relu2_bwd<<<grid_for(n), kEltThreads, 0, stream>>>(static_cast<const float*>(g),
                                                       static_cast<const float*>(h),
                                                       static_cast<float*>(dh), n, leaky);
  else
    relu2_bwd<<<grid_for(n), kEltThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(g),
                                                       static_cast<const __nv_bfloat16*>(h),
                                                       static_cast<__nv_bfloat16*>(dh), n, leaky);
}

void rotary(const void* x, const void* cos, const void* sin, void* y, int64_t rows, int64_t half,
            int64_t seq_len, float sign, DType dtype, CUstream_st* stream) {
  const unsigned grid = grid_for(rows * half);
  if (dtype == DType::kFloat32)
    rotary_k<<<grid, kEltThreads, 0, stream>>>(static_cast<const float*>(x),
                                               static_cast<const float*>(cos),
                                               static_cast<const float*>(sin), static_cast<float*>(y),
                                               rows, half, seq_len, sign);
  else
    rotary_k<<<grid, kEltThreads, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(cos),
        static_cast<const __nv_bfloat16*>(sin), static_cast<__nv_bfloat16*>(y), rows, half, seq_len,
        sign);
}

void softcap_ce_forward(const void* z, const int64_t* targets, float* loss, float* lse, int64_t rows,
                        int64_t cols, float cap, DType dtype, CUstream_st* stream) {
  const dim3 grid(static_cast<unsigned>(rows)), block(kRowThreads);
  if (dtype == DType::kFloat32)
    softcap_ce_fwd<<<grid, block, 0, stream>>>(static_cast<const float*>(z), targets, loss, lse,
                                                cols, cap);
  else
    softcap_ce_fwd<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(z), targets, loss,
                                                lse, cols, cap);
}

void softcap_ce_backward(const void* z, const int64_t* targets, const float* lse, const float* g,
                         void* dz, int64_t rows, int64_t cols, float cap, DType dtype,
                         CUstream_st* stream) {
  const dim3 grid(static_cast<unsigned>(rows)), block(kRowThreads);
  if (dtype == DType::kFloat32)
    softcap_ce_bwd<<<grid, block, 0, stream>>>(static_cast<const float*>(z), targets, lse, g,
                                                static_cast<float*>(dz), cols, cap);
  else
    softcap_ce_bwd<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(z), targets, lse,
                                                g, static_cast<__nv_bfloat16*>(dz), cols, cap);
}

void resid_mix_forward(const void* x, const void* x0, const float* mix, void* y, int64_t rows,
                       int64_t cols, DType dtype, CUstream_st* stream) {
  const int64_t n = rows * cols;
  if (dtype == DType::kFloat32)
    resid_mix_fwd<<<grid_for(n), kEltThreads, 0, stream>>>(static_cast<const float*>(x),
                                                           static_cast<const float*>(x0), mix,
                                                           static_cast<float*>(y), n, cols);
  else
    resid_mix_fwd<<<grid_for(n), kEltThreads, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(x0), mix,
        static_cast<__nv_bfloat16*>(y), n, cols);
}

int64_t resid_mix_chunks(int64_t rows, int64_t cols) {
  const int64_t per = resid_mix_rows_per_chunk(rows, cols);
  const int64_t chunks = (rows + per - 1) / per;
  return chunks > 0 ? chunks : 1;
}

void resid_mix_backward(const void* g, const void* x, const void* x0, const float* mix, void* dx,
                        void* dx0, float* partial, int64_t rows, int64_t cols, DType dtype,
                        CUstream_st* stream) {
  const int64_t per = resid_mix_rows_per_chunk(rows, cols);
  const dim3 grid(static_cast<unsigned>((cols + kEltThreads - 1) / kEltThreads),
                  static_cast<unsigned>(resid_mix_chunks(rows, cols)));
  if (dtype == DType::kFloat32)
    resid_mix_bwd<<<grid, kEltThreads, 0, stream>>>(
        static_cast<const float*>(g), static_cast<const float*>(x), static_cast<const float*>(x0),
        mix, static_cast<float*>(dx), static_cast<float*>(dx0), partial, rows, cols, per);
  else
    resid_mix_bwd<<<grid, kEltThreads, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(g), static_cast<const __nv_bfloat16*>(x),
        static_cast<const __nv_bfloat16*>(x0), mix, static_cast<__nv_bfloat16*>(dx),
        static_cast<__nv_bfloat16*>(dx0), partial, rows, cols, per);
}

}  // namespace pgolf::model::kernels
