// An analytic model of the artifact's model bytes (issue 22): for every tensor of the state dict,
// the route the export gives it (QuantPolicy::kind, or gptq_route for QUANT_SCHEME=gptq) and the
// bytes that route costs after compression:
//   codes  = numel * H(codes) / 8 * f_c(H), H the entropy of clamp(round(w / step)) for w ~ N(0,
//            sigma^2) (trained matrices are close to Gaussian per row), step by the scheme's clip:
//            SDClip k*sigma/clip (gptq), or max(E[max |w| of a row] / clip, floor) for the row-max
//            rules (int5/6, gptq_lite, int8's 0.9999984 quantile, which for rows < 6e5 is the
//            max), floor = 1/clip under INTN_SCALE_FLOOR=inv_clip and always for int8;
//   scales = fp16 per row * f_scale, 0 when the floor binds (every row's scale is 1/clip);
//   passthrough fp16/fp32 * f_fp16/f_fp32; LQER factors (the top-k largest GPTQ tensors; A at
//            2 bits over its max, B int4 over groups of LQER_ASYM_GROUP); int8 gate rows;
//   container = base + per-entry bytes of the compressed torch.save.
// f_c, f_fp16, f_scale, f_fp32 and the container bytes were measured once (README "Artifact size
// estimate"): Python zstandard 22 / brotli 11 / lzma 9 / zlib 9 / lrzip -z on 1 MiB of synthetic
// N(0,1) codes at the schemes' steps; SizeEstimateTest re-measures pgolf's own codecs against them.
// sigma only matters where a floor binds: the configuration does not fix it (training does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"

namespace pgolf::quant {

// E[max_i |Z_i|], Z_1..Z_n iid N(0, 1) (numerical integral of 1 - P(|Z| <= x)^n).
double gaussian_abs_max_mean(int64_t n);
// Entropy in bits of clamp(round(Z / step), lo, hi), Z ~ N(0, 1) (tails lumped into lo, hi).
double rounded_gaussian_entropy(double step, int64_t lo, int64_t hi);

// How a row's quantisation step is set, in units of the weights' std sigma.
struct CodeRule {
  int64_t clip = 31;          // codes in [-clip, clip]
  double sdclip_k = 0;        // > 0: step = k * sigma / clip (SDClip)
  bool floor_inv_clip = false;  // row-max rules: step >= 1 / clip (absolute)
};
// step / sigma for a row of `n` weights of std `sigma` (row max: E[max] from n).
double code_step_over_sigma(const CodeRule& r, int64_t n, double sigma);
// True when the absolute floor sets the step (every row's scale is the same 1/clip).
bool floor_binds(const CodeRule& r, int64_t n, double sigma);

// Measured compressed bytes / (entropy bytes) of iid codes of entropy `bits` (interpolated in
// the calibration table); for pergroup, the codes' lrzip stream.
double code_compress_factor(config::Compressor c, double bits);
// Measured ratios for raw fp16 weights, fp16 row scales, fp32 values; container bytes.
double fp16_compress_factor(config::Compressor c);
double scale_compress_factor(config::Compressor c);
double fp32_compress_factor(config::Compressor c);
double container_entry_bytes(config::Compressor c);
constexpr double kContainerBaseBytes = 900;

struct SizeAssumptions {
  double weight_std = 0.02;  // sigma of the trained matrices (only where a floor binds)
};

struct TensorSize {
  std::string name, kind;  // kind: int6, int8, gptq (int6), passthrough (fp16), lqer, ...
  int64_t numel = 0, rows = 0;
  double code_bits = 0;  // entropy per code (0 for passthrough)
  double step_over_sigma = 0;
  bool floored = false;
  double code_bytes = 0, scale_bytes = 0, other_bytes = 0;
};

struct SizeEstimate {
  std::vector<TensorSize> tensors;
  double code_bytes = 0, scale_bytes = 0, passthrough_bytes = 0, lqer_bytes = 0,
         container_bytes = 0;
  int64_t entries = 0;  // stored entries (q, scale, passthrough, factors)
  double total() const {
    return code_bytes + scale_bytes + passthrough_bytes + lqer_bytes + container_bytes;
  }
};

// `state_dict`: the model's tensors (shapes and dtypes only matter); a banked state dict is
// unbanked first, as the gptq export does.
SizeEstimate estimate_model_bytes(const core::NamedTensors& state_dict,
                                  const config::QuantConfig& q, const SizeAssumptions& a);

}  // namespace pgolf::quant
