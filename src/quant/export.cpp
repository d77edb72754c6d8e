// The export path (see export.h): prune -> quantise -> torch.save bytes -> zstd -> atomic write,
// with a per-tensor report; and the load path used by eval and the train round trip.
#include "pgolf/quant/export.h"

#include <chrono>
#include <map>
#include <unordered_map>

#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/pergroup.h"
#include "pgolf/quant/selective_prune.h"

namespace pgolf::quant {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string dtype_name(const torch::Tensor& t) {
  return std::string(c10::toString(t.scalar_type()));
}

void fill_tensor_reports(ExportReport& rep, const core::NamedTensors& work,
                         const QuantResult& quant, const std::vector<PruneStat>& prune) {
  std::unordered_map<std::string, int64_t> stored;
  for (const auto& [name, t] : quant.w) stored[name] = static_cast<int64_t>(t.nbytes());
  std::unordered_map<std::string, const PruneStat*> pruned;
  for (const auto& s : prune) pruned[s.name] = &s;
  for (size_t i = 0; i < work.size(); ++i) {
    const auto& [name, t] = work[i];
    TensorReport r;
    r.name = name;
    r.shape = t.sizes().vec();
    r.dtype = dtype_name(t);
    r.category = config::choice_name(category_of(name));
    r.kind = quant.meta[i].second.kind;
    const auto entries = is_gptq_kind(r.kind)           ? gptq_entries(name, r.kind)
                         : quant.meta[i].second.quantized() ? std::vector<std::string>{name + ".q", name + ".scale"}
                                                            : std::vector<std::string>{name};
    for (const auto& e : entries) r.stored_bytes += stored[e];
    if (auto it = pruned.find(name); it != pruned.end()) {
      r.pruned = true;
      r.prune_threshold = it->second->threshold;
      r.prune_count = it->second->count;
    }
    rep.num_params += t.numel();
    rep.raw_payload_bytes += r.stored_bytes;
    rep.tensors.push_back(std::move(r));
  }
}

}  // namespace

ExportReport export_artifact(const core::NamedTensors& state_dict, const config::QuantConfig& cfg,
                             const std::string& out_path, const ExportOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  // Check the settings first so a bad combination fails before minutes of compression.
  const bool gptq = cfg.quant_scheme == config::QuantScheme::kGptq;
  PGOLF_CHECK_INPUT(!gptq || opts.hessians,
                    "quant_scheme=gptq needs calibration Hessians of the trained model; this "
                    "export has none (use a seed scheme, e.g. QUANT_SCHEME=mixed)");
  CompressOptions copts;
  copts.codec = cfg.compressor;
  copts.byte_shuffle = cfg.byte_shuffle;
  if (copts.codec == Codec::kPergroup) lrzip_program();  // fail before quantising
  copts.level = static_cast<int>(cfg.zstd_level);
  copts.threads = opts.threads;
  ExportReport rep;
  rep.path = out_path;

  core::NamedTensors work;  // CPU views; prune_state_dict replaces pruned entries by copies
  work.reserve(state_dict.size());
  for (const auto& [name, t] : state_dict) {
    PGOLF_CHECK_INPUT(t.defined(), "export: state dict entry '" << name << "' is undefined");
    work.emplace_back(name, t.detach().to(torch::kCPU));
  }
  const auto prune = prune_state_dict(work, cfg);
  rep.prune_seconds = seconds_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  if (gptq && is_banked(work)) work = unbank_state_dict(work);
  QuantResult quant =
      gptq ? gptq_mixed_quantize(work, *opts.hessians, cfg) : quantize_state_dict(work, cfg);
  rep.quantize_seconds = seconds_since(t1);
  if (gptq && cfg.target_mb > 0) {
    const auto tp = std::chrono::steady_clock::now();
    rep.selective = selective_prune(quant, cfg.target_mb, opts.code_bytes, [&](const QuantResult& v) {
      return static_cast<int64_t>(copts.codec == Codec::kPergroup
                                      ? encode_artifact(v, copts).size()
                                      : compress(serialize_quant(v), copts).size());
    });
    rep.selective_seconds = seconds_since(tp);
  }

  const auto t2 = std::chrono::steady_clock::now();
  const auto raw = serialize_quant(quant);
  const auto blob = copts.codec == Codec::kPergroup ? encode_artifact(quant, copts)
                                                    : compress(raw, copts);
  write_artifact(out_path, blob);
  rep.compress_seconds = seconds_since(t2);
  rep.serialized_bytes = static_cast<int64_t>(raw.size());
  rep.compressed_bytes = static_cast<int64_t>(blob.size());

  fill_tensor_reports(rep, work, quant, prune);
  if (opts.pruned_out) *opts.pruned_out = std::move(work);
  rep.total_seconds = seconds_since(t0);
  return rep;
}

core::NamedTensors load_artifact(const std::string& path, const core::NamedTensors& template_sd) {
  const QuantResult quant = read_artifact(path);
  if (!is_gptq_meta(quant.meta)) return dequantize_state_dict(quant, template_sd, path);
  if (!is_banked(template_sd)) return dequantize_gptq(quant, template_sd, path);
  return rebank_state_dict(dequantize_gptq(quant, unbank_state_dict(template_sd), path),
                           template_sd, path);
}

std::vector<std::string> report_lines(const ExportReport& rep) {
  struct Group {
    int64_t tensors = 0, params = 0, bytes = 0;
  };
  std::map<std::string, Group> groups;
  int64_t pruned_tensors = 0, pruned_zeros = 0, pruned_params = 0;
  for (const auto& t : rep.tensors) {
    int64_t numel = 1;
    for (auto d : t.shape) numel *= d;
    auto& g = groups[t.kind];
    g.tensors += 1;
    g.params += numel;
    g.bytes += t.stored_bytes;
    if (t.pruned) {
      pruned_tensors += 1;
      pruned_zeros += t.prune_count;
      pruned_params += numel;
    }
  }
  std::vector<std::string> lines;
  for (const auto& [kind, g] : groups)
    lines.push_back(core::format("export: %-17s %4lld tensors %11lld params %11lld bytes",
                                 kind.c_str(), static_cast<long long>(g.tensors),
                                 static_cast<long long>(g.params),
                                 static_cast<long long>(g.bytes)));
  lines.push_back(core::format(
      "export: pruned %lld tensors, %lld of %lld entries zeroed (%.2f%%)",
      static_cast<long long>(pruned_tensors), static_cast<long long>(pruned_zeros),
      static_cast<long long>(pruned_params),
      pruned_params ? 100.0 * static_cast<double>(pruned_zeros) / pruned_params : 0.0));
  lines.push_back(core::format(
      "export: params %lld payload %lld torch.save %lld compressed %lld bytes (%.3fx)",
      static_cast<long long>(rep.num_params), static_cast<long long>(rep.raw_payload_bytes),
      static_cast<long long>(rep.serialized_bytes), static_cast<long long>(rep.compressed_bytes),
      rep.compressed_bytes ? static_cast<double>(rep.serialized_bytes) / rep.compressed_bytes : 0.0));
  if (rep.selective.target_bytes > 0)
    lines.push_back(core::format(
        "selective_prune: %lld of %lld +-1 codes zeroed, %lld -> %lld bytes (target %lld, with "
        "code bytes; %d encodings, %.2fs)",
        static_cast<long long>(rep.selective.pruned),
        static_cast<long long>(rep.selective.candidates),
        static_cast<long long>(rep.selective.unpruned_bytes),
        static_cast<long long>(rep.selective.final_bytes),
        static_cast<long long>(rep.selective.target_bytes), rep.selective.evaluations,
        rep.selective_seconds));
  lines.push_back(core::format("export: prune %.2fs quantize %.2fs serialize+compress %.2fs total "
                               "%.2fs -> %s",
                               rep.prune_seconds, rep.quantize_seconds, rep.compress_seconds,
                               rep.total_seconds, rep.path.c_str()));
  return lines;
}

}  // namespace pgolf::quant
