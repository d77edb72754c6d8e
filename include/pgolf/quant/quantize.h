// Post-training quantisation rules of the records (reference-spec §7): torch.quantile with the
// reference's float32 semantics, per-row intN quantisers, tensor classification by name, and the
// mixed quantise/dequantise pass of PR #180 (`mixed_quantize_int6` / `dequantize_mixed_int6`).
//
// Named schemes (QUANT_SCHEME; the rules are applied in order, first match wins):
//   mixed        PR #180: numel <= PASSTHROUGH_MAX_NUMEL or non-float -> fp16 "passthrough";
//                CONTROL patterns -> fp32 "passthrough_ctrl"; FP16_KEEP patterns -> "passthrough_fp16";
//                INT_CATS categories -> per-row from the row max, mlp int5 [-16,15], others int6
//                [-32,31], fp16 scale floored at the fp16 minimum normal (at 1/clip with
//                INTN_SCALE_FLOOR=inv_clip); rest -> int8 (below). INTN_SCALE_STAT=quantile
//                (PR #354): int5/int6 by quantize_row_quantile instead of the row max.
//                PASSTHROUGH_DTYPE=fp32 (PR #354): the small tensors are "passthrough_ctrl" (fp32).
//   int6         smear9: as mixed but every INT_CATS category is int6 [-32,31].
//   int6_clip31  unetqat/smearortho: INT_CATS 2-D tensors get the 0.9999984 row-quantile clip,
//                scale max(clip/31, 1/31) (fp16), q in [-31,31]; non-2-D -> int8 per tensor.
//   gptq_lite    11L-b: INT_CATS 2-D tensors try row-quantile clips {0.999, 0.9995, 0.9999, 0.99999,
//                row max}, scale max(clip/31, 1/31) (fp16), q in [-31,31], and keep the candidate
//                with the lowest whole-matrix MSE (first wins ties); non-2-D: amax/31 per tensor.
//   int8         baseline: non-float -> "passthrough" as is; numel <= PASSTHROUGH_MAX_NUMEL ->
//                "passthrough_ctrl" (fp32) for CONTROL names else fp16 "passthrough";
//                FP16_KEEP -> "passthrough_fp16"; every other tensor int8 (INT_CATS ignored).
// int8 (all schemes): 2-D per row, clip = row quantile 0.9999984, scale max(clip/127, 1/127)
// (q computed with the fp32 scale, stored fp16), q in [-127,127]; other ranks per tensor with an
// fp32 scalar scale clip/127 (1.0 when clip = 0).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/quant/policy.h"  // category_of, the classification rules

namespace pgolf::quant {

using core::NamedTensors;

constexpr double kInt8ClipQuantile = 0.9999984;  // INT8_CLIP_PERCENTILE 99.99984 / 100
constexpr double kFp16Tiny = 6.103515625e-05;    // smallest normal fp16, torch.finfo(fp16).tiny

// QUANT_SCHEME (config/choices.h). kGptq is the full-Hessian export (gptq.h): quantize_state_dict
// refuses it (it needs calibration Hessians; export_artifact takes them).
using Scheme = config::QuantScheme;

// torch.quantile(x, q, dim=-1) as torch 1.13 computes it (the golden artifact's version): q and the
// rank q*(n-1) are float32, linear interpolation in float32 (lo + w*(hi-lo) when w < 0.5, else
// hi - (hi-lo)*(1-w)); a row holding NaN gives NaN. x: (..., n) float32, n >= 1 -> (...).
torch::Tensor quantile_last_dim(const torch::Tensor& x, double q);
// Same over all elements (torch.quantile(x.flatten(), q)); no 2^24 element limit.
float quantile_all(const torch::Tensor& x, double q);


struct QuantizedTensor {
  torch::Tensor q;      // int8, same shape as the input
  torch::Tensor scale;  // fp16 (rows) for per-row schemes; 0-d fp16/fp32 for per-tensor
};

// PR #180 quantize_intN_per_row: scale = fp16(max(rowmax/clip, 1e-12)) floored at kFp16Tiny,
// q = clamp(round_half_even(w / scale), -(clip+1), clip). Non-2-D: one fp16 scale, no floor.
// min_scale > 0 (INTN_SCALE_FLOOR=inv_clip: 1/clip, PR #289's quantize_int6_per_row): the fp32 row
// scale is clamped at min_scale before the fp16 cast instead.
QuantizedTensor quantize_rowmax(const torch::Tensor& t, int64_t clip, double min_scale = 0.0);
// Percentile-clip quantiser of the baseline (qmax 127) and unetqat (qmax 31): see the header note.
QuantizedTensor quantize_clip_quantile(const torch::Tensor& t, int64_t qmax, double clip_q);
// PR #354's int5/int6 rule (INTN_SCALE_STAT=quantile): 2-D = quantize_clip_quantile(t, clip,
// clip_q): clip_r = row quantile clip_q of |w|, w clamped to +-clip_r, fp32 scale
// max(clip_r/clip, 1/clip) for the division (stored fp16), q in [-clip, clip]. Other ranks: the
// same over all elements with one fp32 scalar scale.
QuantizedTensor quantize_row_quantile(const torch::Tensor& t, int64_t clip, double clip_q);
// The five row-clip candidates of GPTQ-lite and the 1.1122 record's GPTQ, in their order: clip =
// row quantile {0.999, 0.9995, 0.9999, 0.99999} of |w| and the row max; each scale
// fp16(max(clip / c, 1 / c)), shape (rows,). `w` 2-D.
std::vector<torch::Tensor> percentile_row_scales(const torch::Tensor& w, int64_t clip);
// 11L-b GPTQ-lite clip search (see the header note).
QuantizedTensor quantize_gptq_lite(const torch::Tensor& t, int64_t clip = 31);

// One meta entry: "passthrough", "passthrough_ctrl", "passthrough_fp16", or a quantised type
// ("int5", "int6", "int8") stored as {"type": ...} in the artifact.
struct MetaEntry {
  std::string kind;
  bool quantized() const { return kind.rfind("int", 0) == 0; }
};
using Meta = std::vector<std::pair<std::string, MetaEntry>>;  // state-dict order

// The artifact's logical content: "w" (name, or name.q + name.scale) and "m" (name -> meta).
struct QuantResult {
  NamedTensors w;
  Meta meta;
};

// Classifies and quantises every tensor of `state_dict` (order kept) under `cfg`.
QuantResult quantize_state_dict(const NamedTensors& state_dict, const config::QuantConfig& cfg);
// Reference dequantisation against `template_sd` (names, shapes and dtypes): q.float() *
// scale.float() per row (or the scalar scale), then cast to the template dtype; passthrough is cast
// back to the template dtype. Missing or extra names and shape mismatches are input errors.
NamedTensors dequantize_state_dict(const QuantResult& quant, const NamedTensors& template_sd,
                                   const std::string& what = "artifact");

}  // namespace pgolf::quant
