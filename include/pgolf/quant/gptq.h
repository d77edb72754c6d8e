// Full-Hessian GPTQ with SDClip row scales, the int8 gate rows and the LQER factor packing of the
// 1.0611 record (records/track_10min_16mb/2026-04-27_..._1.0611: gptq_quantize_weight,
// _quantize_gate_int8_row, _lqer_pack, _lqer_pack_asym). Every step is the record's torch op in
// the same order and dtype (fp32), so codes match it bit for bit on the same LibTorch.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace pgolf::quant {

constexpr int64_t kGptqBlockSize = 128;  // columns per error-feedback block

struct RowCodes {
  torch::Tensor q;      // int8 codes, the input's shape
  torch::Tensor scale;  // fp16: one per row (rows,), or 0-d for the asymmetric A factor
};

// SDClip (1.0835/1.0611): s = fp16(max(k * std(row) / clip_range, 1e-10)), std unbiased, fp32.
// hessian_lambda > 0 (1.0835's Hessian-aware variant): k is scaled per row by
// 1 + lambda * (r - 1), r = mean_j(|w_ij| * d_j / mean(d)) / its mean over rows, d = `damped_diag`
// (the damped Hessian diagonal in the original column order).
torch::Tensor sdclip_scale(const torch::Tensor& w, double clip_sigmas, int64_t clip_range,
                           double hessian_lambda = 0.0, const torch::Tensor& damped_diag = {});

// GPTQ of one (rows, cols) matrix against its input Hessian H (cols, cols): zero-diagonal ("dead")
// columns get H_jj = 1 and weight 0; damping 1% of the mean diagonal; columns in descending
// diag(H) order (act-order); U = upper Cholesky of H^-1; per 128-column block, each column is
// rounded with the SDClip scale and its error, divided by U_jj, is fed forward into the block's
// remaining columns and, after the block, into all later columns. q in [-clip_range, clip_range],
// back in the original column order. Throws an input error on shape mismatch or a Hessian that is
// not positive definite after damping.
RowCodes gptq_quantize_weight(const torch::Tensor& w, const torch::Tensor& hessian,
                              double clip_sigmas, int64_t clip_range,
                              double hessian_lambda = 0.0,
                              int64_t block_size = kGptqBlockSize);

// The same pass with given row scales (cast to fp16), as the 1.1122 record runs it per candidate.
RowCodes gptq_quantize_fixed_scale(const torch::Tensor& w, const torch::Tensor& hessian,
                                   const torch::Tensor& scale, int64_t clip_range,
                                   int64_t block_size = kGptqBlockSize);
// GPTQ_CLIP_SEARCH=percentile5 (the 1.1122 record's gptq_quantize_weight): one pass per
// percentile_row_scales candidate (quantize.h), keeping the codes of least mean squared error
// against the act-order-permuted weight (first wins ties). `candidate`: its index, 0..4.
struct GptqSearchResult {
  RowCodes codes;
  int candidate = -1;
};
GptqSearchResult gptq_quantize_percentile(const torch::Tensor& w, const torch::Tensor& hessian,
                                          int64_t clip_range,
                                          int64_t block_size = kGptqBlockSize);

// QuantGate (1.0655 on): symmetric int8 per row, s = fp16(max(rowmax|w|, 1e-10) / 127).
RowCodes quantize_gate_int8_row(const torch::Tensor& w);

// LQER factors of a rank-r error approximation E ~ A B (A (m,r) = U_r S_r, B (r,n) = Vh_r).
struct LqerFactors {
  RowCodes a, b;
  bool asym = false;
};
// Symmetric: A and B per row with `bits` (range 2^(bits-1)-1), fp16 row-max scales.
LqerFactors lqer_pack_sym(const torch::Tensor& a, const torch::Tensor& b, int64_t bits);
// Asymmetric: A as INT2 in [-2, 1] with one fp16 scale max|A|/1.5; B flattened into groups of
// `group` (B.numel() % group == 0), INT4 in [-8, 7], fp16 group scales max|B_g|/7.5.
LqerFactors lqer_pack_asym(const torch::Tensor& a, const torch::Tensor& b, int64_t group);
// Rank-min(rank, k) factors of `error` from torch.linalg.svd (full_matrices=False).
std::pair<torch::Tensor, torch::Tensor> lqer_factors(const torch::Tensor& error, int64_t rank);
// A B as the record's dequantiser forms it (fp32).
torch::Tensor lqer_product(const LqerFactors& f);

}  // namespace pgolf::quant
