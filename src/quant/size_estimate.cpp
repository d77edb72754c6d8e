// The analytic artifact size model (size_estimate.h): pure functions of shapes, the export's
// routes and the measured compressor factors.
#include "pgolf/quant/size_estimate.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "pgolf/core/error.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/policy.h"

namespace pgolf::quant {
namespace {

using config::Compressor;

double se_phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Calibration (README "Artifact size estimate"): compressed bytes / entropy bytes of 1 MiB of
// iid N(0,1) codes at int5 SDClip 11.5, int6 SDClip 12.85, int7 SDClip 14, int8 SDClip 20 and int6
// row max of 512 (entropies 2.46, 3.33, 4.22, 4.72, 5.33 bits); Python zstandard level 22, brotli
// quality 11 lgwin 22, lzma preset 9, zlib 9, and `lrzip -z -L 9` for pergroup's code streams.
struct SeCalPoint {
  double bits, zstd, brotli, lzma, zlib, lrzip;
};
constexpr SeCalPoint kSeCal[] = {
    {2.4649, 1.0181, 1.0143, 1.1136, 1.1827, 1.0015},
    {3.3279, 1.0177, 1.0146, 1.0591, 1.1573, 1.0020},
    {4.2200, 1.0139, 1.0106, 1.0363, 1.1326, 1.0010},
    {4.7153, 1.0085, 1.0051, 1.0281, 1.0988, 1.0012},
    {5.3322, 1.0079, 1.0064, 1.0255, 1.0448, 1.0012},
};

double se_cal_value(const SeCalPoint& p, Compressor c) {
  switch (c) {
    case Compressor::kZstd: return p.zstd;
    case Compressor::kBrotli: return p.brotli;
    case Compressor::kLzma: return p.lzma;
    case Compressor::kZlib: return p.zlib;
    case Compressor::kPergroup: return p.lrzip;
  }
  return p.zstd;
}

// Per compressor {fp16 weights, fp16 row scales (10% spread), fp32 values, bytes per container
// entry}: measured on N(0, 0.02) fp16, |N(1, 0.1)| * 0.0015 fp16, N(1, 0.1) fp32 and a torch.save
// of 10 vs 210 one-element entries with their meta. pergroup's non-code stream is brotli.
struct SeRawFactors {
  double fp16, scale, fp32, entry;
};
SeRawFactors se_raw(Compressor c) {
  switch (c) {
    case Compressor::kZstd: return {0.919, 0.715, 0.833, 26.3};
    case Compressor::kBrotli:
    case Compressor::kPergroup: return {0.878, 0.619, 0.769, 17.0};
    case Compressor::kLzma: return {0.903, 0.640, 0.740, 15.9};
    case Compressor::kZlib: return {0.922, 0.737, 0.837, 26.3};  // entry: zstd's (not measured)
  }
  return {1, 1, 1, 32};
}

int64_t se_elem_size(const torch::Tensor& t) { return static_cast<int64_t>(t.element_size()); }

// Codes and fp16 row scales of one quantised tensor of `rows` rows of `n`.
void se_codes(TensorSize& ts, const CodeRule& r, int64_t n, double sigma, Compressor c) {
  ts.step_over_sigma = code_step_over_sigma(r, n, sigma);
  ts.floored = floor_binds(r, n, sigma);
  ts.code_bits = rounded_gaussian_entropy(ts.step_over_sigma, -r.clip, r.clip);
  ts.code_bytes = static_cast<double>(ts.numel) * ts.code_bits / 8 * code_compress_factor(c, ts.code_bits);
  // A binding floor makes every scale the same 1/clip: the compressor removes them.
  ts.scale_bytes = ts.floored ? 0.0 : 2.0 * ts.rows * scale_compress_factor(c);
}

// LQER factors of a (rows, cols) GPTQ tensor: A (rows, r) and B (r, cols) (gptq.cpp's packing).
double se_lqer_bytes(int64_t rows, int64_t cols, const config::QuantConfig& q, int64_t& entries) {
  const int64_t r = q.lqer_rank, na = rows * r, nb = r * cols;
  const Compressor c = q.compressor;
  auto codes = [&](int64_t numel, double step, int64_t lo, int64_t hi) {
    const double h = rounded_gaussian_entropy(step, lo, hi);
    return static_cast<double>(numel) * h / 8 * code_compress_factor(c, h);
  };
  entries += 4;
  if (q.lqer_asym_enabled && nb % q.lqer_asym_group == 0) {
    // A: int2 over the whole factor's max / 1.5; B: int4 over groups' max / 7.5.
    return codes(na, gaussian_abs_max_mean(na) / 1.5, -2, 1) +
           codes(nb, gaussian_abs_max_mean(q.lqer_asym_group) / 7.5, -8, 7) + 2.0 +
           2.0 * (nb / q.lqer_asym_group) * scale_compress_factor(c);
  }
  const int64_t range = (int64_t{1} << (q.lqer_factor_bits - 1)) - 1;
  return codes(na, gaussian_abs_max_mean(r) / range, -range, range) +
         codes(nb, gaussian_abs_max_mean(cols) / range, -range, range) +
         2.0 * (rows + r) * scale_compress_factor(c);
}

// The gptq scheme's route of one tensor (gptq_mixed.h's rules).
// `sigma`: the weights' std, which the 1/clip floors of percentile5 compare against.
TensorSize se_gptq_tensor(const std::string& name, const torch::Tensor& t,
                          const config::QuantConfig& q, double sigma) {
  TensorSize ts{name, "", t.numel(), t.dim() >= 1 ? t.size(0) : 1};
  const Compressor c = q.compressor;
  switch (gptq_route(name, t, q)) {
    case GptqRoute::kPassthrough:
      ts.kind = "passthrough (fp16)";
      ts.other_bytes = static_cast<double>(ts.numel) *
                       (t.is_floating_point() ? 2.0 * fp16_compress_factor(c) : se_elem_size(t));
      return ts;
    case GptqRoute::kGate:
      ts.kind = "gate_int8_row";
      se_codes(ts, CodeRule{127, 0, false}, t.size(1), 1.0, c);
      return ts;
    case GptqRoute::kInt8:
      ts.kind = "int8 (row quantile)";
      se_codes(ts, CodeRule{127, 0, true}, t.numel() / ts.rows, sigma, c);
      return ts;
    case GptqRoute::kGptq: break;
  }
  if (q.gptq_clip_search == config::GptqClipSearch::kPercentile5) {
    // The best of five row clips near the row max, scale >= 1/c: gptq_lite's rule.
    ts.kind = "gptq (int" + std::to_string(q.matrix_bits) + ")";
    const CodeRule rule{(int64_t{1} << (q.matrix_bits - 1)) - 1, 0, true};
    se_codes(ts, rule, t.numel() / ts.rows, sigma, c);
    return ts;
  }
  const bool embed = name.find("tok_emb") != std::string::npos;
  const int64_t bits = embed ? q.embed_bits : q.matrix_bits;
  ts.kind = "gptq (int" + std::to_string(bits) + ")";
  const CodeRule rule{(int64_t{1} << (bits - 1)) - 1, gptq_clip_sigmas(name, q), false};
  se_codes(ts, rule, t.numel() / ts.rows, 1.0, c);
  return ts;
}

// The row-max schemes (int8, int6, int5/int6 mixed, gptq_lite): QuantPolicy::kind's routes.
TensorSize se_policy_tensor(const std::string& name, const torch::Tensor& t,
                            const QuantPolicy& policy, const config::QuantConfig& q,
                            double sigma) {
  TensorSize ts{name, policy.kind(name, t), t.numel(), t.dim() == 2 ? t.size(0) : 1};
  const Compressor c = q.compressor;
  const double n = static_cast<double>(ts.numel);
  if (ts.kind == "passthrough") {
    ts.other_bytes = t.is_floating_point() ? 2.0 * n * fp16_compress_factor(c) : n * se_elem_size(t);
  } else if (ts.kind == "passthrough_fp16") {
    ts.other_bytes = 2.0 * n * fp16_compress_factor(c);
  } else if (ts.kind == "passthrough_ctrl") {
    ts.other_bytes = 4.0 * n * fp32_compress_factor(c);
  } else {
    CodeRule rule;
    if (ts.kind == "int8") {
      rule = CodeRule{127, 0, true};  // quantile 0.9999984 ~ the row max, scale >= 1/127
    } else {
      // int6_clip31 and gptq_lite floor the row scale at 1/clip as the records do.
      const bool floor = q.intn_scale_floor == config::IntnScaleFloor::kInvClip ||
                         q.quant_scheme == config::QuantScheme::kInt6Clip31 ||
                         q.quant_scheme == config::QuantScheme::kGptqLite;
      rule = CodeRule{policy.intn_clip(category_of(name)), 0, floor};
    }
    se_codes(ts, rule, ts.numel / ts.rows, sigma, c);
  }
  return ts;
}

}  // namespace

double gaussian_abs_max_mean(int64_t n) {
  PGOLF_CHECK(n >= 1, "gaussian_abs_max_mean: n = " << n);
  // E[M] = integral_0^inf 1 - (2 Phi(x) - 1)^n dx; the integrand is ~1 below sqrt(2 ln n) and
  // vanishes within a few units above it, so [0, 12] at 1e-3 is exact to ~1e-6 for n <= 1e9.
  const double dx = 1e-3;
  double s = 0;
  for (double x = 0.5 * dx; x < 12.0; x += dx) {
    const double p = std::erf(x / std::sqrt(2.0));
    s += (1.0 - std::pow(p, static_cast<double>(n))) * dx;
  }
  return s;
}

double rounded_gaussian_entropy(double step, int64_t lo, int64_t hi) {
  PGOLF_CHECK(step > 0 && lo <= hi, "rounded_gaussian_entropy: step " << step << " range [" << lo
                                                                     << ", " << hi << "]");
  double h = 0;
  for (int64_t k = lo; k <= hi; ++k) {
    const double a = k == lo ? 0.0 : se_phi((k - 0.5) * step);
    const double b = k == hi ? 1.0 : se_phi((k + 0.5) * step);
    const double p = b - a;
    if (p > 0) h -= p * std::log2(p);
  }
  return h;
}

double code_step_over_sigma(const CodeRule& r, int64_t n, double sigma) {
  PGOLF_CHECK(r.clip >= 1 && sigma > 0, "code_step_over_sigma: clip " << r.clip << " sigma " << sigma);
  if (r.sdclip_k > 0) return r.sdclip_k / static_cast<double>(r.clip);
  const double step = gaussian_abs_max_mean(n) / static_cast<double>(r.clip);
  return r.floor_inv_clip ? std::max(step, 1.0 / (r.clip * sigma)) : step;
}

bool floor_binds(const CodeRule& r, int64_t n, double sigma) {
  return r.sdclip_k <= 0 && r.floor_inv_clip &&
         gaussian_abs_max_mean(n) / r.clip < 1.0 / (r.clip * sigma);
}

double code_compress_factor(Compressor c, double bits) {
  constexpr size_t n = sizeof(kSeCal) / sizeof(kSeCal[0]);
  if (bits <= kSeCal[0].bits) return se_cal_value(kSeCal[0], c);
  for (size_t i = 1; i < n; ++i) {
    if (bits <= kSeCal[i].bits) {
      const double w = (bits - kSeCal[i - 1].bits) / (kSeCal[i].bits - kSeCal[i - 1].bits);
      return (1 - w) * se_cal_value(kSeCal[i - 1], c) + w * se_cal_value(kSeCal[i], c);
    }
  }
  return se_cal_value(kSeCal[n - 1], c);
}

double fp16_compress_factor(Compressor c) { return se_raw(c).fp16; }
double scale_compress_factor(Compressor c) { return se_raw(c).scale; }
double fp32_compress_factor(Compressor c) { return se_raw(c).fp32; }
double container_entry_bytes(Compressor c) { return se_raw(c).entry; }

SizeEstimate estimate_model_bytes(const core::NamedTensors& state_dict,
                                  const config::QuantConfig& q, const SizeAssumptions& a) {
  PGOLF_CHECK_INPUT(q.prune_pct <= 0, "artifact size estimate: PRUNE_PCT > 0 is not modelled");
  const bool gptq = q.quant_scheme == config::QuantScheme::kGptq;
  const auto sd = gptq && is_banked(state_dict) ? unbank_state_dict(state_dict) : state_dict;
  const QuantPolicy policy(q);
  SizeEstimate est;
  std::vector<std::pair<int64_t, size_t>> gptq_sizes;  // LQER candidates: (numel, index)
  for (const auto& [name, t] : sd) {
    auto ts = gptq ? se_gptq_tensor(name, t, q, a.weight_std) : se_policy_tensor(name, t, policy, q, a.weight_std);
    const bool quantised = ts.code_bits > 0;
    est.entries += quantised ? 2 : 1;
    if (gptq && ts.kind.rfind("gptq", 0) == 0) gptq_sizes.emplace_back(ts.numel, est.tensors.size());
    est.code_bytes += ts.code_bytes;
    est.scale_bytes += ts.scale_bytes;
    est.passthrough_bytes += ts.other_bytes;
    est.tensors.push_back(std::move(ts));
  }
  if (gptq && q.lqer_enabled) {
    // The record picks the top-k by |W - deq(W)|_F; for Gaussian rows at one step that is the
    // top-k by size (stable: state-dict order among equals).
    std::stable_sort(gptq_sizes.begin(), gptq_sizes.end(),
                     [](const auto& x, const auto& y) { return x.first > y.first; });
    const size_t k = std::min<size_t>(gptq_sizes.size(), static_cast<size_t>(q.lqer_top_k));
    for (size_t i = 0; i < k; ++i) {
      auto& ts = est.tensors[gptq_sizes[i].second];
      const double b = se_lqer_bytes(ts.rows, ts.numel / ts.rows, q, est.entries);
      ts.kind += "+lqer";
      ts.other_bytes += b;
      est.lqer_bytes += b;
    }
  }
  est.container_bytes = kContainerBaseBytes + est.entries * container_entry_bytes(q.compressor);
  return est;
}

}  // namespace pgolf::quant
