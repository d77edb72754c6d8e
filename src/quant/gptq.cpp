// GPTQ, SDClip, the int8 gate rows and LQER packing (see gptq.h). The op sequence follows the
// 1.0611 record's functions one for one: reordering a reduction or fusing two element-wise ops
// would move codes that sit on a rounding boundary.
#include "pgolf/quant/gptq.h"

#include <limits>

#include "pgolf/core/error.h"
#include "pgolf/quant/quantize.h"

namespace pgolf::quant {

using torch::indexing::None;
using torch::indexing::Slice;

torch::Tensor sdclip_scale(const torch::Tensor& w, double clip_sigmas, int64_t clip_range,
                           double hessian_lambda, const torch::Tensor& damped_diag) {
  const auto w32 = w.to(torch::kFloat32);
  const auto row_std = w32.std(/*dim=*/{1}, /*unbiased=*/true, /*keepdim=*/false);
  if (hessian_lambda > 0.0) {
    PGOLF_CHECK(damped_diag.defined() && damped_diag.numel() == w32.size(1),
                "sdclip_scale: the Hessian-aware variant needs the damped diagonal of H");
    const auto diag = damped_diag.clamp_min(1e-8);
    const auto col_importance = diag / diag.mean();
    auto row_importance = (w32.abs() * col_importance.unsqueeze(0)).mean(/*dim=*/{1});
    row_importance = row_importance / row_importance.mean();
    const auto adj = (row_importance - 1.0) * hessian_lambda + 1.0;
    return (row_std * clip_sigmas * adj / clip_range).clamp_min(1e-10).to(torch::kFloat16);
  }
  return (row_std * clip_sigmas / clip_range).clamp_min(1e-10).to(torch::kFloat16);
}

namespace {

// The record's column loop over one block: round column j, push its scaled error into columns
// j.. of the block. Returns the block's errors (rows, i2-i1) for the update of later columns.
torch::Tensor quantize_block(torch::Tensor& w_block, const torch::Tensor& hinv_block,
                             const torch::Tensor& sf, int64_t clip_range, torch::Tensor& q,
                             int64_t i1) {
  const int64_t n = w_block.size(1);
  auto err_block = torch::zeros({w_block.size(0), n});
  for (int64_t j = 0; j < n; ++j) {
    const auto w_col = w_block.select(1, j);
    const auto d = hinv_block.index({j, j});  // 0-d tensor, as in the record
    // An all-zero row's scale underflows to 0 in fp16: 0/0 is NaN, whose int8 cast is undefined
    // behaviour; its code is 0 (what it dequantises to anyway). Other rows are untouched.
    const auto q_col =
        torch::clamp(torch::round(w_col / sf), -clip_range, clip_range).nan_to_num(0.0);
    q.select(1, i1 + j).copy_(q_col.to(torch::kInt8));
    const auto err = (w_col - q_col.to(torch::kFloat32) * sf) / d;
    err_block.select(1, j).copy_(err);
    w_block.index({Slice(), Slice(j, None)})
        .sub_(err.unsqueeze(1) * hinv_block.index({j, Slice(j, None)}).unsqueeze(0));
  }
  return err_block;
}

}  // namespace

namespace {

// What every GPTQ pass of one matrix shares: the act-order permutation, the dead-column-zeroed
// permuted weight and U, the upper Cholesky factor of H^-1 (permuted, damped).
struct GptqPrep {
  torch::Tensor w_orig, w_perm, h_perm, hinv, perm, invperm;
};

GptqPrep gptq_prepare(const torch::Tensor& w, const torch::Tensor& hessian) {
  PGOLF_CHECK_INPUT(w.dim() == 2, "gptq: expected a 2-D weight, found " << w.sizes());
  const int64_t rows = w.size(0), cols = w.size(1);
  PGOLF_CHECK_INPUT(hessian.dim() == 2 && hessian.size(0) == cols && hessian.size(1) == cols,
                    "gptq: Hessian of a (" << rows << ", " << cols << ") weight must be (" << cols
                                           << ", " << cols << "), found " << hessian.sizes());
  GptqPrep p;
  p.w_orig = w.to(torch::kFloat32).clone();
  auto h = hessian.to(torch::kFloat32).clone();
  // Dead inputs (never active in calibration): unit diagonal so H stays invertible, weight 0.
  const auto dead = torch::diag(h) == 0;
  h.diagonal().masked_fill_(dead, 1);
  const auto damp = h.diag().mean() * 0.01;
  h.diagonal().add_(damp);
  // Act-order: quantise the columns with the largest Hessian diagonal first.
  p.perm = torch::argsort(h.diag(), /*dim=*/-1, /*descending=*/true);
  p.invperm = torch::argsort(p.perm);
  p.w_perm = p.w_orig.index({Slice(), p.perm}).clone();
  p.w_perm.index_put_({Slice(), dead.index({p.perm})}, 0);
  h = h.index({p.perm}).index({Slice(), p.perm});
  p.h_perm = h;
  try {
    p.hinv = torch::cholesky_inverse(torch::linalg_cholesky(h));
    p.hinv = torch::linalg_cholesky(p.hinv, /*upper=*/true);
  } catch (const c10::Error&) {
    // The record's fp32 steps fail where H is nearly singular (one dominant direction, as in
    // barely trained models): cond(H + damp) <= 1 + 100 cols, so the fp32 inverse can lose
    // definiteness. The same two factorisations in float64 (only on that failure path).
    try {
      const auto h64 = h.to(torch::kFloat64);
      p.hinv = torch::linalg_cholesky(torch::cholesky_inverse(torch::linalg_cholesky(h64)),
                                      /*upper=*/true)
                   .to(torch::kFloat32);
    } catch (const c10::Error& e) {
      PGOLF_FAIL_INPUT("gptq: the damped Hessian of a (" << rows << ", " << cols
                                                         << ") weight is not positive definite ("
                                                         << e.what_without_backtrace() << ")");
    }
  }
  return p;
}

// One error-feedback pass with fp16 row scales `s`; codes in the permuted column order.
torch::Tensor gptq_pass(const GptqPrep& p, const torch::Tensor& s, int64_t clip_range,
                        int64_t block_size) {
  const int64_t rows = p.w_perm.size(0), cols = p.w_perm.size(1);
  const auto sf = s.to(torch::kFloat32);
  auto q = torch::zeros({rows, cols}, torch::kInt8);
  auto w_work = p.w_perm.clone();
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const int64_t i2 = std::min(i1 + block_size, cols);
    auto w_block = w_work.index({Slice(), Slice(i1, i2)}).clone();
    const auto hinv_block = p.hinv.index({Slice(i1, i2), Slice(i1, i2)});
    const auto err = quantize_block(w_block, hinv_block, sf, clip_range, q, i1);
    if (i2 < cols)
      w_work.index({Slice(), Slice(i2, None)})
          .sub_(torch::matmul(err, p.hinv.index({Slice(i1, i2), Slice(i2, None)})));
  }
  return q;
}

}  // namespace

RowCodes gptq_quantize_weight(const torch::Tensor& w, const torch::Tensor& hessian,
                              double clip_sigmas, int64_t clip_range, double hessian_lambda,
                              int64_t block_size) {
  const auto p = gptq_prepare(w, hessian);
  torch::Tensor damped_diag;
  if (hessian_lambda > 0.0)
    damped_diag = torch::diag(p.h_perm.index({p.invperm}).index({Slice(), p.invperm}));
  const auto s = sdclip_scale(p.w_orig, clip_sigmas, clip_range, hessian_lambda, damped_diag);
  return {gptq_pass(p, s, clip_range, block_size).index({Slice(), p.invperm}), s};
}

RowCodes gptq_quantize_fixed_scale(const torch::Tensor& w, const torch::Tensor& hessian,
                                   const torch::Tensor& scale, int64_t clip_range,
                                   int64_t block_size) {
  const auto p = gptq_prepare(w, hessian);
  PGOLF_CHECK_INPUT(scale.dim() == 1 && scale.size(0) == w.size(0),
                    "gptq: expected " << w.size(0) << " row scales, found " << scale.sizes());
  const auto s = scale.to(torch::kFloat16);
  return {gptq_pass(p, s, clip_range, block_size).index({Slice(), p.invperm}), s};
}

GptqSearchResult gptq_quantize_percentile(const torch::Tensor& w, const torch::Tensor& hessian,
                                          int64_t clip_range, int64_t block_size) {
  const auto p = gptq_prepare(w, hessian);
  GptqSearchResult best;
  double best_err = std::numeric_limits<double>::infinity();
  const auto scales = percentile_row_scales(p.w_orig, clip_range);
  for (size_t i = 0; i < scales.size(); ++i) {
    auto q = gptq_pass(p, scales[i], clip_range, block_size);
    // The record's MSE: against the permuted, dead-zeroed weight, in fp32 mean.
    const auto recon = q.to(torch::kFloat32) * scales[i].to(torch::kFloat32).unsqueeze(1);
    const double err = (p.w_perm - recon).pow(2).mean().item<float>();
    if (err < best_err) {  // strict: the first candidate wins ties, as in the record
      best = {{q, scales[i]}, static_cast<int>(i)};
      best_err = err;
    }
  }
  PGOLF_CHECK_INPUT(best.codes.q.defined(),
                    "gptq: every clip candidate has a NaN error (non-finite weights?)");
  best.codes.q = best.codes.q.index({Slice(), p.invperm});
  return best;
}

RowCodes quantize_gate_int8_row(const torch::Tensor& w) {
  PGOLF_CHECK_INPUT(w.dim() == 2, "gate int8 rows: expected a 2-D tensor, found " << w.sizes());
  const auto w32 = w.to(torch::kFloat32).contiguous();
  const auto row_max = w32.abs().amax(/*dim=*/{1}).clamp_min(1e-10);
  const auto s = (row_max / 127.0).to(torch::kFloat16);
  const auto sf = s.to(torch::kFloat32).view({-1, 1});
  return {torch::clamp(torch::round(w32 / sf), -127, 127).nan_to_num(0.0).to(torch::kInt8), s};
}

namespace {

RowCodes pack_rows(const torch::Tensor& x, int64_t range) {
  const auto s = (x.abs().amax(/*dim=*/{1}).clamp_min(1e-10) / range).to(torch::kFloat16);
  const auto q =
      torch::clamp(torch::round(x / s.to(torch::kFloat32).view({-1, 1})), -range, range);
  return {q.to(torch::kInt8), s};
}

}  // namespace

LqerFactors lqer_pack_sym(const torch::Tensor& a, const torch::Tensor& b, int64_t bits) {
  const int64_t range = (int64_t{1} << (bits - 1)) - 1;
  return {pack_rows(a, range), pack_rows(b, range), false};
}

LqerFactors lqer_pack_asym(const torch::Tensor& a, const torch::Tensor& b, int64_t group) {
  PGOLF_CHECK(group >= 1 && b.numel() % group == 0,
              "lqer_pack_asym: B has " << b.numel() << " entries, not a multiple of " << group);
  const auto sa = (a.abs().amax().clamp_min(1e-10) / 1.5).to(torch::kFloat16);
  const auto qa = torch::clamp(torch::round(a / sa.to(torch::kFloat32)), -2, 1).to(torch::kInt8);
  const auto bf = b.reshape({-1, group});
  const auto bmax = bf.abs().amax(/*dim=*/-1, /*keepdim=*/true).clamp_min(1e-10);
  const auto sb = (bmax / 7.5).to(torch::kFloat16).reshape({-1});
  const auto qb = torch::clamp(torch::round(bf / sb.to(torch::kFloat32).reshape({-1, 1})), -8, 7)
                      .to(torch::kInt8)
                      .reshape(b.sizes());
  return {{qa, sa}, {qb, sb}, true};
}

std::pair<torch::Tensor, torch::Tensor> lqer_factors(const torch::Tensor& error, int64_t rank) {
  const auto [u, s, vh] = torch::linalg_svd(error, /*full_matrices=*/false);
  const int64_t r = std::min<int64_t>(rank, s.numel());
  auto a = (u.index({Slice(), Slice(None, r)}) * s.index({Slice(None, r)})).contiguous();
  auto b = vh.index({Slice(None, r), Slice()}).contiguous();
  return {a, b};
}

torch::Tensor lqer_product(const LqerFactors& f) {
  if (f.asym) {
    // float(sA) in the record: a Python float, so a scalar multiply.
    const auto qa = f.a.q.to(torch::kFloat32) * f.a.scale.item<double>();
    const int64_t g = f.b.q.numel() / f.b.scale.numel();
    const auto qb = (f.b.q.reshape({-1, g}).to(torch::kFloat32) *
                     f.b.scale.to(torch::kFloat32).view({-1, 1}))
                        .reshape(f.b.q.sizes());
    return torch::matmul(qa, qb);
  }
  const auto qa = f.a.q.to(torch::kFloat32) * f.a.scale.to(torch::kFloat32).view({-1, 1});
  const auto qb = f.b.q.to(torch::kFloat32) * f.b.scale.to(torch::kFloat32).view({-1, 1});
  return torch::matmul(qa, qb);
}

}  // namespace pgolf::quant
