// The record's gptq_mixed_quantize / dequantize_mixed and the bank (un)packing (gptq_mixed.h).
// Result entries are inserted in the record's order (state-dict order, LQER factors last in
// error-norm order), so torch.save of {"w", "m"} lays out like the record's.
#include "pgolf/quant/gptq_mixed.h"

#include <algorithm>
#include <regex>
#include <sstream>
#include <unordered_map>

#include "pgolf/core/error.h"
#include "pgolf/quant/gptq.h"

namespace pgolf::quant {
namespace {

constexpr const char* kPassthrough = "passthrough (float16)";
constexpr const char* kGate = "gate_int8_row";
constexpr const char* kRowInt8 = "int8 (row quantile)";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

double clip_sigmas_for(const std::string& name, const config::QuantConfig& cfg) {
  if (contains(name, "tok_emb")) return cfg.embed_clip_sigmas;
  if (contains(name, ".mlp.")) return cfg.mlp_clip_sigmas;
  if (contains(name, ".attn.")) return cfg.attn_clip_sigmas;
  return cfg.matrix_clip_sigmas;
}

const torch::Tensor& hessian_of(const core::NamedTensors& hessians, const std::string& name) {
  const auto* h = core::find_tensor(hessians, name);
  PGOLF_CHECK_INPUT(h, "gptq: no calibration Hessian for '"
                           << name << "' (every float tensor above passthrough_max_numel is "
                              "GPTQ'd and needs one)");
  return *h;
}

// What a failing Hessian looks like, for the error that names its tensor.
std::string hessian_stats(const torch::Tensor& h) {
  if (h.dim() != 2 || h.size(0) != h.size(1) || h.numel() == 0) return "not a square matrix";
  const auto h32 = h.detach().to(torch::kCPU, torch::kFloat32);
  const auto d = h32.diagonal();
  std::ostringstream os;
  os << "diag min " << d.min().item<double>() << " max " << d.max().item<double>() << " mean "
     << d.mean().item<double>() << ", " << (d == 0).sum().item<int64_t>() << " zero, "
     << (~torch::isfinite(h32)).sum().item<int64_t>() << " non-finite entries, max |H - H^T| "
     << (h32 - h32.t()).abs().max().item<double>();
  return os.str();
}

// GPTQ of one tensor; a failure names it and describes its Hessian.
RowCodes gptq_named(const std::string& name, const torch::Tensor& t, const torch::Tensor& h,
                    const config::QuantConfig& cfg, int64_t clip_range) {
  PGOLF_CHECK_INPUT(torch::isfinite(h).all().item<bool>(),
                    "gptq: the calibration Hessian of '" << name << "' is not finite ("
                                                         << hessian_stats(h) << ")");
  try {
    if (cfg.gptq_clip_search == config::GptqClipSearch::kPercentile5) {
      // The 1.1122 record's _finalize_hessians damps H by 1% of its mean diagonal (>= 1e-6)
      // once more before GPTQ's own 1%.
      const auto h32 = h.to(torch::kFloat32);
      const auto damp = torch::diag(h32).mean().clamp_min(1e-6) * 0.01;
      return gptq_quantize_percentile(t, h32 + damp * torch::eye(h32.size(0)), clip_range).codes;
    }
    return gptq_quantize_weight(t, h, clip_sigmas_for(name, cfg), clip_range,
                                cfg.hessian_clip_lambda);
  } catch (const Error& e) {
    PGOLF_FAIL_INPUT("gptq: '" << name << "': " << e.what() << " [H " << h.sizes() << ": "
                               << hessian_stats(h) << "]");
  }
}

struct LqerCandidate {
  std::string name;
  torch::Tensor error;
  double norm;
};

void add_lqer(QuantResult& out, std::vector<LqerCandidate> cands, const config::QuantConfig& cfg) {
  // The record: sorted(..., key=-norm)[:top_k], a stable sort.
  std::stable_sort(cands.begin(), cands.end(),
                   [](const LqerCandidate& a, const LqerCandidate& b) { return a.norm > b.norm; });
  if (static_cast<int64_t>(cands.size()) > cfg.lqer_top_k) cands.resize(cfg.lqer_top_k);
  for (const auto& c : cands) {
    const auto [a, b] = lqer_factors(c.error, cfg.lqer_rank);
    const bool asym = cfg.lqer_asym_enabled && b.numel() % cfg.lqer_asym_group == 0;
    const auto f = asym ? lqer_pack_asym(a, b, cfg.lqer_asym_group)
                        : lqer_pack_sym(a, b, cfg.lqer_factor_bits);
    const std::string sfx = asym ? "_a" : "";
    out.w.emplace_back(c.name + ".lqA" + sfx, f.a.q);
    out.w.emplace_back(c.name + ".lqAs" + sfx, f.a.scale);
    out.w.emplace_back(c.name + ".lqB" + sfx, f.b.q);
    out.w.emplace_back(c.name + ".lqBs" + sfx, f.b.scale);
    for (auto& [n, e] : out.meta)
      if (n == c.name) e.kind += asym ? "+lqer_asym" : "+lqer";
  }
}

}  // namespace

double gptq_clip_sigmas(const std::string& name, const config::QuantConfig& cfg) {
  return clip_sigmas_for(name, cfg);
}

GptqRoute gptq_route(const std::string& name, const torch::Tensor& t,
                     const config::QuantConfig& cfg) {
  const bool is_float = t.is_floating_point();
  // The gate path comes before the size test: gates are small enough to pass through.
  if (cfg.gated_attn_quant_gate && is_float && t.dim() == 2 && ends_with(name, ".attn_gate_w") &&
      t.numel() >= 32 && t.numel() <= 8192)
    return GptqRoute::kGate;
  if (!is_float || t.numel() <= cfg.passthrough_max_numel) return GptqRoute::kPassthrough;
  if (cfg.gptq_clip_search == config::GptqClipSearch::kPercentile5 &&
      !QuantPolicy(cfg).in_int_cats(category_of(name)))
    return GptqRoute::kInt8;
  return GptqRoute::kGptq;
}

bool is_gptq_kind(const std::string& kind) {
  static const std::regex re(R"(passthrough \(float16\)|gate_int8_row|int8 \(row quantile\)|gptq \(int[2-8]\)(\+lqer(_asym)?)?)");
  return std::regex_match(kind, re);
}

std::vector<std::string> gptq_entries(const std::string& name, const std::string& kind) {
  if (kind == kPassthrough) return {name};
  if (kind == kGate) return {name + ".gq", name + ".gs"};
  std::vector<std::string> e = {name + ".q", name + ".scale"};
  const std::string sfx = ends_with(kind, "+lqer_asym") ? "_a" : "";
  if (contains(kind, "+lqer"))
    for (const char* part : {".lqA", ".lqAs", ".lqB", ".lqBs"}) e.push_back(name + part + sfx);
  return e;
}

bool is_gptq_meta(const Meta& meta) {
  // The seed schemes' kinds (passthrough, int6, ...) never match these strings.
  return std::any_of(meta.begin(), meta.end(),
                     [](const auto& m) { return is_gptq_kind(m.second.kind); });
}

QuantResult gptq_mixed_quantize(const core::NamedTensors& state_dict,
                                const core::NamedTensors& hessians,
                                const config::QuantConfig& cfg) {
  QuantResult out;
  std::vector<LqerCandidate> cands;
  for (const auto& [name, tensor] : state_dict) {
    const auto t = tensor.detach().to(torch::kCPU).contiguous();
    const bool is_float = t.is_floating_point();
    const auto route = gptq_route(name, t, cfg);
    if (route == GptqRoute::kGate) {
      const auto g = quantize_gate_int8_row(t);
      out.w.emplace_back(name + ".gq", g.q);
      out.w.emplace_back(name + ".gs", g.scale);
      out.meta.emplace_back(name, MetaEntry{kGate});
      continue;
    }
    if (route == GptqRoute::kInt8) {
      auto r = quantize_clip_quantile(t, 127, kInt8ClipQuantile);
      out.w.emplace_back(name + ".q", std::move(r.q));
      out.w.emplace_back(name + ".scale", std::move(r.scale));
      out.meta.emplace_back(name, MetaEntry{kRowInt8});
      continue;
    }
    if (route == GptqRoute::kPassthrough) {
      out.w.emplace_back(name, is_float ? t.to(torch::kFloat16) : t);
      out.meta.emplace_back(name, MetaEntry{kPassthrough});
      continue;
    }
    const bool embed = contains(name, "tok_emb");
    const int64_t bits = embed ? cfg.embed_bits : cfg.matrix_bits;
    const int64_t clip_range = (int64_t{1} << (bits - 1)) - 1;
    PGOLF_CHECK_INPUT(t.dim() == 2, "gptq: '" << name << "' has shape " << t.sizes()
                                              << "; only 2-D tensors above passthrough_max_numel ("
                                              << cfg.passthrough_max_numel << ") can be GPTQ'd");
    const auto r = gptq_named(name, t, hessian_of(hessians, name), cfg, clip_range);
    out.w.emplace_back(name + ".q", r.q);
    out.w.emplace_back(name + ".scale", r.scale);
    out.meta.emplace_back(name, MetaEntry{"gptq (int" + std::to_string(bits) + ")"});
    if (cfg.lqer_enabled) {
      const auto wq = r.q.to(torch::kFloat32) * r.scale.to(torch::kFloat32).view({-1, 1});
      auto err = t.to(torch::kFloat32) - wq;
      const double norm = torch::linalg_vector_norm(err, 2, c10::nullopt, false, c10::nullopt)
                              .item<double>();
      cands.push_back({name, std::move(err), norm});
    }
  }
  if (cfg.lqer_enabled && !cands.empty()) add_lqer(out, std::move(cands), cfg);
  return out;
}

namespace {

const torch::Tensor& entry(const std::unordered_map<std::string, const torch::Tensor*>& w,
                           const std::string& key, const std::string& what) {
  const auto it = w.find(key);
  PGOLF_CHECK_INPUT(it != w.end(), what << ": missing entry '" << key << "'");
  return *it->second;
}

torch::Tensor dequantize_one(const std::unordered_map<std::string, const torch::Tensor*>& w,
                             const std::string& name, const std::string& kind,
                             const std::string& what) {
  if (kind == kPassthrough) return entry(w, name, what);
  if (kind == kGate)
    return entry(w, name + ".gq", what).to(torch::kFloat32) *
           entry(w, name + ".gs", what).to(torch::kFloat32).view({-1, 1});
  const auto& q = entry(w, name + ".q", what);
  const auto& s = entry(w, name + ".scale", what);
  PGOLF_CHECK_INPUT(s.dim() == 0 || (q.dim() >= 1 && s.numel() == q.size(0)),
                    what << ": '" << name << ".scale' has " << s.numel() << " entries for "
                         << q.sizes() << " codes");
  std::vector<int64_t> view(q.dim(), 1);
  if (s.dim() > 0) view[0] = q.size(0);
  auto deq = s.dim() > 0 ? q.to(torch::kFloat32) * s.to(torch::kFloat32).view(view)
                         : q.to(torch::kFloat32) * s.item<double>();
  if (contains(kind, "+lqer")) {
    const bool asym = ends_with(kind, "+lqer_asym");
    const std::string sfx = asym ? "_a" : "";
    LqerFactors f{{entry(w, name + ".lqA" + sfx, what), entry(w, name + ".lqAs" + sfx, what)},
                  {entry(w, name + ".lqB" + sfx, what), entry(w, name + ".lqBs" + sfx, what)},
                  asym};
    PGOLF_CHECK_INPUT(!asym || (f.b.scale.numel() > 0 && f.b.q.numel() % f.b.scale.numel() == 0),
                      what << ": '" << name << "' LQER B groups do not divide its codes");
    deq = deq + lqer_product(f);
  }
  return deq;
}

}  // namespace

core::NamedTensors dequantize_gptq(const QuantResult& quant, const core::NamedTensors& template_sd,
                                   const std::string& what) {
  std::unordered_map<std::string, const torch::Tensor*> w;
  for (const auto& [n, t] : quant.w) w[n] = &t;
  std::unordered_map<std::string, std::string> meta;
  for (const auto& [n, e] : quant.meta) meta[n] = e.kind;
  core::NamedTensors out;
  for (const auto& [name, orig] : template_sd) {
    const auto it = meta.find(name);
    PGOLF_CHECK_INPUT(it != meta.end(), what << ": no entry for '" << name << "'");
    auto t = dequantize_one(w, name, it->second, what);
    PGOLF_CHECK_INPUT(t.sizes() == orig.sizes(), what << ": '" << name << "' dequantises to "
                                                      << t.sizes() << ", expected "
                                                      << orig.sizes());
    // The record casts fp16 passthrough back only to fp32/bf16 templates; others keep theirs.
    if (it->second != kPassthrough || (t.scalar_type() == torch::kFloat16 &&
                                       (orig.scalar_type() == torch::kFloat32 ||
                                        orig.scalar_type() == torch::kBFloat16)))
      t = t.to(orig.scalar_type());
    out.emplace_back(name, t);
  }
  return out;
}

}  // namespace pgolf::quant
