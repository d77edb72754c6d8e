// Raw launchers of pgolf's fused CUDA kernels (src/model/cuda/fused_kernels.cu). No torch headers
// on purpose: the .cu file then compiles in seconds with nvcc. Tensors, dtypes, streams and
// autograd live in fused_ops.cpp. Pointers are device pointers to contiguous data.
#pragma once

#include <cstdint>

struct CUstream_st;

namespace pgolf::model::kernels {

enum class DType { kFloat32, kBFloat16 };

// y[r, :] = x[r, :] * rstd[r], rstd[r] = 1 / sqrt(mean(x[r, :]^2) + eps), in fp32; x in `in`,
// y in `out` (bf16 -> fp32 is what autocast's fp32 policy for rms_norm produces).
void rms_norm_forward(const void* x, void* y, float* rstd, int64_t rows, int64_t cols, float eps,
                      DType in, DType out, CUstream_st* stream);
// dx = rstd * (g - xhat * mean(g * xhat)), xhat = x * rstd; g in `out`, x and dx in `in`.
void rms_norm_backward(const void* g, const void* x, const float* rstd, void* dx, int64_t rows,
                       int64_t cols, DType in, DType out, CUstream_st* stream);
// y = a(h)^2 with a = relu, or leaky_relu(., 0.5) when `leaky`; dh = g * 2 a(h) a'(h).
void relu2_forward(const void* h, void* y, int64_t n, bool leaky, DType dtype, CUstream_st* stream);
void relu2_backward(const void* g, const void* h, void* dh, int64_t n, bool leaky, DType dtype,
                    CUstream_st* stream);

// Rotary on x (rows, 2*half) whose row r is position r % seq_len; cos/sin (seq_len, half), same dtype
// as x: y1 = x1 c + sign x2 s, y2 = x2 c - sign x1 s. sign = +1 forward; -1 is the backward (the
// inverse rotation applied to the upstream gradient).
void rotary(const void* x, const void* cos, const void* sin, void* y, int64_t rows, int64_t half,
            int64_t seq_len, float sign, DType dtype, CUstream_st* stream);

// Softcapped cross-entropy, one row (token) per block: s = cap * tanh(z / cap) in fp32 (never
// stored), loss[r] = logsumexp(s[r, :]) - s[r, t[r]], lse[r] kept for the backward. A target
// outside [0, cols) gives a NaN loss (the training loop stops on it).
void softcap_ce_forward(const void* z, const int64_t* targets, float* loss, float* lse, int64_t rows,
                        int64_t cols, float cap, DType dtype, CUstream_st* stream);
// dz[r, j] = g[r] * (exp(s - lse[r]) - [j == t[r]]) * (1 - (s / cap)^2), s recomputed from z.
void softcap_ce_backward(const void* z, const int64_t* targets, const float* lse, const float* g,
                         void* dz, int64_t rows, int64_t cols, float cap, DType dtype,
                         CUstream_st* stream);

// Residual mixing y[r, c] = mix[0, c] * x[r, c] + mix[1, c] * x0[r, c]; mix fp32 (2, cols).
void resid_mix_forward(const void* x, const void* x0, const float* mix, void* y, int64_t rows,
                       int64_t cols, DType dtype, CUstream_st* stream);
// dx = g * mix[0], dx0 = g * mix[1], and per chunk k of consecutive rows the column sums
// partial[k, 0, c] = sum g*x, partial[k, 1, c] = sum g*x0 (fp32); the caller sums over k, which
// keeps the mix gradient deterministic (no atomics). partial holds resid_mix_chunks(rows, cols)
// * 2 * cols floats.
int64_t resid_mix_chunks(int64_t rows, int64_t cols);
void resid_mix_backward(const void* g, const void* x, const void* x0, const float* mix, void* dx,
                        void* dx0, float* partial, int64_t rows, int64_t cols, DType dtype,
                        CUstream_st* stream);

}  // namespace pgolf::model::kernels
