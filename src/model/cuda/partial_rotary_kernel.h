// Raw launcher of the fused partial-rotary kernel (partial_rotary.cu), in its own files beside the
// other fused kernels (kernels.h). No torch headers: nvcc compiles the .cu file in seconds.
#pragma once

#include <cstdint>

#include "kernels.h"

namespace pgolf::model::kernels {

// Partial rotary (ROPE_DIMS) on x (B, T, H, D) contiguous, one pass over every element: for
// d < half, y = x_d c + sign x_{d+half} s; for half <= d < 2 half, y = x_d c - sign x_{d-half} s;
// the dims from 2 half on are copied. c, s = cos/sin[t, d mod half] of the row's position
// t = (row / heads) % seq_len, tables (seq_len, half) in x's dtype. sign -1 is the backward.
void partial_rotary(const void* x, const void* cos, const void* sin, void* y, int64_t rows,
                    int64_t head_dim, int64_t half, int64_t heads, int64_t seq_len, float sign,
                    DType dtype, CUstream_st* stream);

}  // namespace pgolf::model::kernels
