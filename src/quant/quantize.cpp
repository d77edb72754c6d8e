// Quantile, per-row quantisers and the mixed quantise/dequantise pass (see quantize.h). Every rule
// is written with the same tensor ops as the reference (division by the fp32 scale, torch.round =
// half to even, clamp, fp16 casts) so .q and .scale come out bit-identical.
#include "pgolf/quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <ATen/Parallel.h>

#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"

namespace pgolf::quant {
namespace {

// Values at sorted positions lo and hi (hi == lo or lo + 1) of each row, by selection rather than a
// full sort. Rows holding NaN give NaN at both (torch.quantile then returns NaN).
std::pair<torch::Tensor, torch::Tensor> select_pair(const torch::Tensor& rows2d, int64_t lo,
                                                    int64_t hi) {
  const int64_t rows = rows2d.size(0), n = rows2d.size(1);
  auto lo_v = torch::empty({rows}, torch::kFloat), hi_v = torch::empty({rows}, torch::kFloat);
  const float* src = rows2d.data_ptr<float>();
  float* lo_p = lo_v.data_ptr<float>();
  float* hi_p = hi_v.data_ptr<float>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> buf(static_cast<size_t>(n));
    for (int64_t r = begin; r < end; ++r) {
      const float* row = src + r * n;
      if (std::any_of(row, row + n, [](float v) { return std::isnan(v); })) {
        lo_p[r] = hi_p[r] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      std::copy(row, row + n, buf.begin());
      std::nth_element(buf.begin(), buf.begin() + lo, buf.end());
      lo_p[r] = buf[static_cast<size_t>(lo)];
      // After nth_element everything right of lo is >= buf[lo]; the next order statistic is its min.
      hi_p[r] = hi == lo ? lo_p[r] : *std::min_element(buf.begin() + lo + 1, buf.end());
    }
  });
  return {lo_v, hi_v};
}

// Reference (torch <= 1.13) quantile on (rows, n) float32 CPU data.
torch::Tensor quantile_rows(const torch::Tensor& rows2d, double q) {
  PGOLF_CHECK(q >= 0.0 && q <= 1.0, "quantile: q must be in [0,1], found " << q);
  const int64_t n = rows2d.size(1);
  PGOLF_CHECK(n >= 1, "quantile: empty reduction dimension");
  // torch wraps q in a float32 tensor and multiplies by the int64 last index in float32.
  const float rank = static_cast<float>(q) * static_cast<float>(n - 1);
  const auto lo = static_cast<int64_t>(rank);
  const auto hi = std::min<int64_t>(static_cast<int64_t>(std::ceil(rank)), n - 1);
  const float w = rank - static_cast<float>(lo);
  auto [lo_v, hi_v] = select_pair(rows2d, lo, hi);
  // torch's lerp: two separately rounded float ops on each side (tensor ops, so never fused).
  const auto diff = hi_v - lo_v;
  return std::abs(w) < 0.5f ? lo_v + diff * w : hi_v - diff * (1.0f - w);
}

torch::Tensor fp16_scalar(double v) {
  // torch.tensor(python_float, dtype=float16) rounds double -> float -> half.
  return torch::full({}, static_cast<float>(v), torch::kFloat).to(torch::kHalf);
}

torch::Tensor round_clamp_int8(const torch::Tensor& x, int64_t lo, int64_t hi) {
  return torch::clamp(torch::round(x), lo, hi).to(torch::kChar).contiguous();
}

}  // namespace

torch::Tensor quantile_last_dim(const torch::Tensor& x, double q) {
  PGOLF_CHECK(x.dim() >= 1, "quantile_last_dim: expected at least 1 dimension, found a 0-d tensor");
  const int64_t n = x.size(-1);
  auto rows = x.detach().to(torch::kCPU, torch::kFloat).contiguous().reshape({-1, n});
  auto out_shape = x.sizes().vec();
  out_shape.pop_back();
  return quantile_rows(rows, q).reshape(out_shape);
}

float quantile_all(const torch::Tensor& x, double q) {
  PGOLF_CHECK(x.numel() >= 1, "quantile_all: empty tensor");
  auto flat = x.detach().to(torch::kCPU, torch::kFloat).contiguous().reshape({1, -1});
  return quantile_rows(flat, q).item<float>();
}

QuantizedTensor quantize_rowmax(const torch::Tensor& t, int64_t clip, double min_scale) {
  PGOLF_CHECK(t.numel() > 0, "quantize_rowmax: empty tensor");
  const auto t32 = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  if (t32.dim() == 2) {
    const auto row_max = t32.abs().amax(1);
    const double floor = min_scale > 0 ? min_scale : 1e-12;
    auto scale = (row_max / static_cast<double>(clip)).clamp_min(floor).to(torch::kHalf);
    scale = scale.clamp_min(kFp16Tiny);  // exact: max() of fp16 values
    const auto q = round_clamp_int8(t32 / scale.to(torch::kFloat).unsqueeze(1), -(clip + 1), clip);
    return {q, scale.contiguous()};
  }
  const double amax = t32.abs().max().item<float>();
  const auto scale = fp16_scalar(std::max(amax / static_cast<double>(clip), 1e-12));
  return {round_clamp_int8(t32 / scale.to(torch::kFloat), -(clip + 1), clip), scale};
}

QuantizedTensor quantize_clip_quantile(const torch::Tensor& t, int64_t qmax, double clip_q) {
  const auto t32 = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  if (t32.dim() == 2) {
    PGOLF_CHECK(t32.numel() > 0, "quantize_clip_quantile: empty matrix");
    const auto clip_abs = quantile_last_dim(t32.abs(), clip_q);
    const auto c = clip_abs.unsqueeze(1);
    const auto clipped = torch::maximum(torch::minimum(t32, c), -c);
    const double q_max = static_cast<double>(qmax);
    const auto scale = (clip_abs / q_max).clamp_min(1.0 / q_max);
    const auto q = round_clamp_int8(clipped / scale.unsqueeze(1), -qmax, qmax);
    return {q, scale.to(torch::kHalf).contiguous()};
  }
  // Both references keep int8 (127) for the per-tensor path, whatever the 2-D range.
  const double clip_abs = t32.numel() ? static_cast<double>(quantile_all(t32.abs(), clip_q)) : 0.0;
  const auto scale =
      torch::full({}, clip_abs > 0 ? static_cast<float>(clip_abs / 127.0) : 1.0f, torch::kFloat);
  const auto q = round_clamp_int8(torch::clamp(t32, -clip_abs, clip_abs) / scale, -127, 127);
  return {q, scale};
}

QuantizedTensor quantize_row_quantile(const torch::Tensor& t, int64_t clip, double clip_q) {
  PGOLF_CHECK(t.numel() > 0, "quantize_row_quantile: empty tensor");
  if (t.dim() == 2) return quantize_clip_quantile(t, clip, clip_q);
  // PR #354's per-tensor path: the same rule over all elements, one fp32 scalar scale.
  const auto t32 = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const double c = static_cast<double>(clip);
  const double clip_abs = quantile_all(t32.abs(), clip_q);
  const auto scale =
      torch::full({}, static_cast<float>(std::max(clip_abs / c, 1.0 / c)), torch::kFloat);
  const auto q = round_clamp_int8(torch::clamp(t32, -clip_abs, clip_abs) / scale, -clip, clip);
  return {q, scale};
}

std::vector<torch::Tensor> percentile_row_scales(const torch::Tensor& w, int64_t clip) {
  PGOLF_CHECK_INPUT(w.dim() == 2, "percentile_row_scales: expected a 2-D tensor, found "
                                      << w.sizes());
  const auto a = w.to(torch::kFloat).abs();
  const double c = static_cast<double>(clip);
  std::vector<torch::Tensor> out;
  for (double pct : {0.999, 0.9995, 0.9999, 0.99999, 1.0}) {
    const auto row_clip = pct < 1.0 ? quantile_last_dim(a, pct) : a.amax(1);
    out.push_back((row_clip / c).clamp_min(1.0 / c).to(torch::kHalf).contiguous());
  }
  return out;
}

QuantizedTensor quantize_gptq_lite(const torch::Tensor& t, int64_t clip) {
  PGOLF_CHECK(t.numel() > 0, "quantize_gptq_lite: empty tensor");
  const auto t32 = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const double c = static_cast<double>(clip);
  if (t32.dim() != 2) {
    const double amax = t32.abs().max().item<float>();
    const auto scale = fp16_scalar(amax > 0 ? amax / c : 1.0);
    return {round_clamp_int8(t32 / scale.to(torch::kFloat), -clip, clip), scale};
  }
  QuantizedTensor best;
  double best_err = std::numeric_limits<double>::infinity();
  for (const auto& s : percentile_row_scales(t32, clip)) {
    const auto s32 = s.to(torch::kFloat).unsqueeze(1);
    auto q = round_clamp_int8(t32 / s32, -clip, clip);
    const double err = (t32 - q.to(torch::kFloat) * s32).pow(2).mean().item<float>();
    if (err < best_err) {  // strict: the first candidate wins ties, as in the reference
      best = {q, s.contiguous()};
      best_err = err;
    }
  }
  PGOLF_CHECK(best.q.defined(), "quantize_gptq_lite: every candidate has a NaN error (non-finite "
                                "weights?)");
  return best;
}

namespace {

QuantizedTensor quantize_kind(const torch::Tensor& t, const std::string& kind, Scheme scheme,
                              const config::QuantConfig& cfg) {
  if (kind == "int8") return quantize_clip_quantile(t, 127, kInt8ClipQuantile);
  if (scheme == Scheme::kInt6Clip31) return quantize_clip_quantile(t, 31, kInt8ClipQuantile);
  if (scheme == Scheme::kGptqLite) return quantize_gptq_lite(t, 31);
  const int64_t clip = kind == "int5" ? 15 : 31;
  if (cfg.intn_scale_stat == config::IntnScaleStat::kQuantile)
    return quantize_row_quantile(t, clip, cfg.intn_clip_quantile);
  const bool floor_inv_clip = cfg.intn_scale_floor == config::IntnScaleFloor::kInvClip;
  return quantize_rowmax(t, clip, floor_inv_clip ? 1.0 / static_cast<double>(clip) : 0.0);
}

torch::Tensor passthrough_value(const torch::Tensor& t, const std::string& kind, Scheme scheme,
                                bool bf16_round) {
  if (kind == "passthrough_ctrl") return t.to(torch::kFloat);
  if (!t.is_floating_point()) return t;
  // PASSTHROUGH_BF16_ROUND: the fp16 of a bf16 value has three zero low mantissa bits, which
  // zstd finds (the record's bf16 tok_emb); fp32 masters are rounded to bf16 first to match.
  if (bf16_round && kind == "passthrough_fp16" && t.scalar_type() == torch::kFloat)
    return t.to(torch::kBFloat16).to(torch::kHalf);
  // The baseline only narrows fp32/bf16 (keep_float_tensor); the mixed export narrows any float.
  const bool narrow = scheme != Scheme::kInt8 || kind == "passthrough_fp16" ||
                      t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kBFloat16;
  return narrow ? t.to(torch::kHalf) : t;
}

}  // namespace

QuantResult quantize_state_dict(const NamedTensors& state_dict, const config::QuantConfig& cfg) {
  const Scheme scheme = cfg.quant_scheme;
  PGOLF_CHECK_INPUT(scheme != Scheme::kGptq,
                    "quant_scheme=gptq needs calibration Hessians: it is exported by "
                    "export_artifact with ExportOptions::hessians, not by quantize_state_dict");
  // The one policy (policy.h): late QAT and `pgolf info` classify names through it too.
  const QuantPolicy policy(cfg);
  QuantResult out;
  std::unordered_map<std::string, int> seen;
  for (const auto& [name, tensor] : state_dict) {
    PGOLF_CHECK_INPUT(tensor.defined(), "state dict entry '" << name << "' is undefined");
    PGOLF_CHECK_INPUT(seen[name]++ == 0, "state dict name '" << name << "' appears twice");
    const auto t = tensor.detach().to(torch::kCPU).contiguous();
    const std::string kind = policy.kind(name, t);
    if (kind.rfind("passthrough", 0) == 0) {
      out.w.emplace_back(name, passthrough_value(t, kind, scheme, cfg.passthrough_bf16_round));
    } else {
      auto qt = quantize_kind(t, kind, scheme, cfg);
      out.w.emplace_back(name + ".q", std::move(qt.q));
      out.w.emplace_back(name + ".scale", std::move(qt.scale));
    }
    out.meta.emplace_back(name, MetaEntry{kind});
  }
  return out;
}

namespace {

torch::Tensor dequantize_one(const std::string& name, const MetaEntry& info,
                             const std::unordered_map<std::string, torch::Tensor>& w,
                             const torch::Tensor& orig, const std::string& what) {
  auto get = [&](const std::string& key) -> const torch::Tensor& {
    auto it = w.find(key);
    PGOLF_CHECK_INPUT(it != w.end(), what << ": meta lists '" << name << "' as " << info.kind
                                          << " but tensor '" << key << "' is missing");
    return it->second;
  };
  const auto dtype = orig.scalar_type();
  if (!info.quantized()) {
    auto t = get(name);
    PGOLF_CHECK_INPUT(t.sizes() == orig.sizes(), what << ": '" << name << "' has shape " << t.sizes()
                                                      << ", the model expects " << orig.sizes());
    PGOLF_CHECK_INPUT(t.is_floating_point() == orig.is_floating_point() || t.scalar_type() == dtype,
                      what << ": '" << name << "' is " << t.scalar_type() << ", the model expects "
                           << dtype);
    // fp16 -> fp32/bf16 as the reference; other casts are what load_state_dict would do.
    return t.scalar_type() == dtype ? t : t.to(dtype);
  }
  const auto& q = get(name + ".q");
  const auto& s = get(name + ".scale");
  PGOLF_CHECK_INPUT(q.scalar_type() == torch::kChar, what << ": '" << name << ".q' is "
                                                          << q.scalar_type() << ", expected int8");
  PGOLF_CHECK_INPUT(q.sizes() == orig.sizes(), what << ": '" << name << ".q' has shape " << q.sizes()
                                                    << ", the model expects " << orig.sizes());
  PGOLF_CHECK_INPUT(s.is_floating_point(), what << ": '" << name << ".scale' is " << s.scalar_type()
                                                << ", expected a float scale");
  if (s.dim() == 0) return (q.to(torch::kFloat) * s.to(torch::kFloat).item<float>()).to(dtype);
  PGOLF_CHECK_INPUT(s.dim() == 1 && q.dim() >= 1 && s.size(0) == q.size(0),
                    what << ": '" << name << ".scale' has shape " << s.sizes() << ", expected ["
                         << (q.dim() ? q.size(0) : 0) << "] (one scale per row)");
  std::vector<int64_t> view(static_cast<size_t>(q.dim()), 1);
  view[0] = q.size(0);
  return (q.to(torch::kFloat) * s.to(torch::kFloat).view(view)).to(dtype);
}

}  // namespace

NamedTensors dequantize_state_dict(const QuantResult& quant, const NamedTensors& template_sd,
                                   const std::string& what) {
  std::unordered_map<std::string, torch::Tensor> w(quant.w.begin(), quant.w.end());
  std::unordered_map<std::string, const MetaEntry*> meta;
  for (const auto& [name, entry] : quant.meta) meta[name] = &entry;
  NamedTensors out;
  out.reserve(template_sd.size());
  for (const auto& [name, orig] : template_sd) {
    auto it = meta.find(name);
    PGOLF_CHECK_INPUT(it != meta.end(), what << ": no entry for model tensor '" << name
                                             << "' (the artifact holds " << quant.meta.size()
                                             << " tensors; exported from another model config?)");
    out.emplace_back(name, dequantize_one(name, *it->second, w, orig, what));
    meta.erase(it);
  }
  if (!meta.empty()) {
    std::string names;
    for (const auto& m : quant.meta)
      if (meta.count(m.first)) names += (names.empty() ? "" : ", ") + m.first;
    PGOLF_FAIL_INPUT(what << ": " << meta.size() << " artifact tensor(s) not in the model: " << names);
  }
  return out;
}

}  // namespace pgolf::quant
