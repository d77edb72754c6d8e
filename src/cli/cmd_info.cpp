// `pgolf info`: parameter counts per tensor group of a configuration (reference-spec §4.7) and an
// estimate of its compressed artifact size.
//
// The estimate runs the real export path (quant::export_artifact: prune -> QUANT_SCHEME
// classification and quantisation -> torch.save bytes -> compression) on stand-in weights and
// measures the result. Stand-in ("surrogate") weights: every 2-D tensor that matches no control
// pattern becomes N(0, --surrogate-std) (seeded); control tensors keep their initial values.
// Trained matrices of these records are close to Gaussian, and per-row codes scaled by the row max
// compress to about their entropy whatever the scale, so for PR #180 the surrogate lands within
// the record's seed-to-seed spread (README). Schemes that floor scales at an absolute value (int8,
// the clip31 schemes, INTN_SCALE_FLOOR=inv_clip) make the codes depend on the weights' magnitude,
// which training sets; the output says so. zstd runs at level 1 unless --exact: on PR #180's
// surrogate level 22 is only 0.04% smaller and ~50x slower. --weights FILE replaces the surrogate
// by real weights (checkpoint, state dict or artifact).
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "pgolf/cli/commands.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/log.h"
#include "pgolf/core/runtime.h"
#include "pgolf/model/gpt_banked.h"
#include "pgolf/model/params.h"
#include "pgolf/quant/budget.h"
#include "pgolf/quant/export.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/hessians.h"
#include "pgolf/quant/policy.h"
#include "pgolf/quant/size_estimate.h"
#include "pgolf/train/weights.h"

namespace pgolf::cli {
namespace {

using Json = nlohmann::ordered_json;

constexpr double kFittedWeightStd = 0.1723;

struct InfoArgs {
  ConfigOptions config;
  std::string weights;
  double surrogate_std = 0.02;
  // sigma of the trained matrices for the size model, where a 1/clip scale floor binds (README
  // "Artifact size estimate": fitted once on the 1.1271 record's model bytes).
  double weight_std = kFittedWeightStd;
  bool exact = false;
  bool model_only = false;
  bool json = false;
  int zstd_threads = 0;
};

// Gaussian stand-ins for the matrices of an initialised model (see the file comment).
core::NamedTensors surrogate_weights(const model::GPTImpl& gpt, const quant::QuantPolicy& policy,
                                     double std) {
  torch::manual_seed(1234);
  core::NamedTensors sd;
  for (const auto& [name, t] : gpt.state_dict()) {
    const bool matrix = t.dim() == 2 && !policy.is_control(name);
    sd.emplace_back(name, matrix ? std * torch::randn(t.sizes()) : t.detach().clone());
  }
  return sd;
}

struct KindTotal {
  int64_t tensors = 0, params = 0, stored_bytes = 0;
};

Json artifact_estimate(const core::NamedTensors& weights, config::QuantConfig qcfg,
                       const InfoArgs& a) {
  // zlib's 9 is fast already
  if (!a.exact && qcfg.compressor == config::Compressor::kZstd) qcfg.zstd_level = 1;
  const auto tmp = std::filesystem::temp_directory_path() /
                   ("pgolf_info_" + std::to_string(::getpid()) + ".ptz");
  quant::ExportOptions eopts;
  eopts.threads = a.zstd_threads;
  // QUANT_SCHEME=gptq without calibration data: identity Hessians, so GPTQ is its SDClip
  // rounding (the same scales; the codes' entropy, and so the bytes, nearly the same).
  core::NamedTensors identity;
  if (qcfg.quant_scheme == config::QuantScheme::kGptq) {
    const auto flat = quant::is_banked(weights) ? quant::unbank_state_dict(weights) : weights;
    for (const auto& n : quant::gptq_weight_names(flat, qcfg))
      identity.emplace_back(n, torch::eye(core::find_tensor(flat, n)->size(-1)));
    eopts.hessians = &identity;
  }
  quant::ExportReport rep;
  try {
    rep = quant::export_artifact(weights, qcfg, tmp.string(), eopts);
  } catch (...) {
    std::filesystem::remove(tmp);
    throw;
  }
  std::filesystem::remove(tmp);
  std::map<std::string, KindTotal> kinds;
  for (const auto& t : rep.tensors) {
    int64_t n = 1;
    for (auto s : t.shape) n *= s;
    auto& k = kinds[t.kind];
    k.tensors += 1;
    k.params += n;
    k.stored_bytes += t.stored_bytes;
  }
  Json j;
  j["weights"] =
      a.weights.empty()
          ? core::format("surrogate N(0,%g) matrices, initial control tensors", a.surrogate_std)
          : a.weights;
  j["quant_scheme"] = config::choice_name(qcfg.quant_scheme);
  j["compressor"] = config::choice_name(qcfg.compressor);
  j["level"] = qcfg.zstd_level;
  j["kinds"] = Json::array();
  for (const auto& [kind, k] : kinds)
    j["kinds"].push_back({{"kind", kind},
                          {"tensors", k.tensors},
                          {"params", k.params},
                          {"stored_bytes", k.stored_bytes}});
  // Row-max intN codes do not depend on the weights' scale; int8 (clip/127 floored at 1/127), the
  // clip31 schemes and INTN_SCALE_FLOOR=inv_clip floor the scale at 1/clip, so there the
  // surrogate's std sets the entropy of the codes (see the README).
  j["magnitude_dependent"] = kinds.count("int8") > 0 ||
                             qcfg.quant_scheme == config::QuantScheme::kInt6Clip31 ||
                             qcfg.quant_scheme == config::QuantScheme::kGptqLite ||
                             qcfg.intn_scale_floor == config::IntnScaleFloor::kInvClip;
  j["raw_payload_bytes"] = rep.raw_payload_bytes;
  j["serialized_bytes"] = rep.serialized_bytes;
  j["model_bytes"] = rep.compressed_bytes;
  j["cap_bytes"] = quant::kByteCap;
  j["seconds"] = rep.total_seconds;
  return j;
}

// The analytic size model (quant/size_estimate.h) of these tensors' shapes under the export.
Json size_model(const core::NamedTensors& sd, const config::QuantConfig& q, double weight_std) {
  Json j;
  if (q.prune_pct > 0) {
    j["note"] = "not modelled with PRUNE_PCT > 0";
    return j;
  }
  const auto e = quant::estimate_model_bytes(sd, q, quant::SizeAssumptions{weight_std});
  int64_t floored = 0, quantised = 0;
  for (const auto& t : e.tensors) {
    quantised += t.code_bits > 0 ? t.numel : 0;
    floored += t.floored ? t.numel : 0;
  }
  j["model_bytes"] = static_cast<int64_t>(std::llround(e.total()));
  j["code_bytes"] = std::llround(e.code_bytes);
  j["scale_bytes"] = std::llround(e.scale_bytes);
  j["passthrough_bytes"] = std::llround(e.passthrough_bytes);
  j["lqer_bytes"] = std::llround(e.lqer_bytes);
  j["container_bytes"] = std::llround(e.container_bytes);
  j["quantised_params"] = quantised;
  j["floored_params"] = floored;
  j["weight_std"] = floored > 0 ? Json(weight_std) : Json(nullptr);
  j["compressor"] = config::choice_name(q.compressor);
  std::map<std::string, Json> kinds;  // per export kind: tensors, params, bytes, bits per code
  for (const auto& t : e.tensors) {
    auto& k = kinds[t.kind];
    if (k.is_null()) k = {{"kind", t.kind}, {"tensors", 0}, {"params", 0}, {"bytes", 0.0}};
    k["tensors"] = k["tensors"].get<int64_t>() + 1;
    k["params"] = k["params"].get<int64_t>() + t.numel;
    k["bytes"] = k["bytes"].get<double>() + t.code_bytes + t.scale_bytes + t.other_bytes;
    if (t.code_bits > 0) k["bits_per_code"] = t.code_bits;
  }
  j["kinds"] = Json::array();
  for (auto& [name, k] : kinds) {
    k["bytes"] = std::llround(k["bytes"].get<double>());
    j["kinds"].push_back(k);
  }
  return j;
}

void print_size_model(const Json& m) {
  if (m.contains("note")) {
    std::cout << "artifact size model: " << m["note"].get<std::string>() << "\n";
    return;
  }
  std::cout << core::format(
      "artifact size model: %lld model bytes (codes %lld, scales %lld, passthrough %lld, LQER "
      "%lld, container %lld; %s)\n",
      m["model_bytes"].get<long long>(), m["code_bytes"].get<long long>(),
      m["scale_bytes"].get<long long>(), m["passthrough_bytes"].get<long long>(),
      m["lqer_bytes"].get<long long>(), m["container_bytes"].get<long long>(),
      m["compressor"].get<std::string>().c_str());
  std::cout << "  assumes: every quantised row Gaussian (code entropy from the clip rule: SDClip "
               "k*sigma, or the expected\n  max of a row's n Gaussians), compressor factors "
               "measured on Gaussian codes, LQER on the largest tensors\n";
  for (const auto& k : m["kinds"])
    std::cout << core::format("  %-22s %4lld tensors %10lld params %10lld bytes%s\n",
                              k["kind"].get<std::string>().c_str(), k["tensors"].get<long long>(),
                              k["params"].get<long long>(), k["bytes"].get<long long>(),
                              k.contains("bits_per_code")
                                  ? core::format(" (last: %.3f bits/code)",
                                                 k["bits_per_code"].get<double>()).c_str()
                                  : "");
  if (!m["weight_std"].is_null())
    std::cout << core::format(
        "  %lld of %lld quantised params have their 1/clip scale floor binding at weight std "
        "%g (--weight-std;\n  the config does not fix it; the default is fitted on the 1.1271 "
        "record, README)\n",
        m["floored_params"].get<long long>(), m["quantised_params"].get<long long>(),
        m["weight_std"].get<double>());
}

std::string model_summary(const config::ModelConfig& m) {
  std::string s = core::format("%lld layers, dim %lld, %s %lld/%lld heads", (long long)m.num_layers,
                               (long long)m.model_dim, config::choice_name(m.attention),
                               (long long)m.num_heads, (long long)m.num_kv_heads);
  if (m.attention == config::Attention::kMla)
    s += core::format(" kv_rank %lld", (long long)m.kv_rank);
  s += core::format(", mlp %lld (%s%s), vocab %lld, %s", (long long)model::mlp_hidden(m),
                    config::choice_name(m.activation), m.gated_mlp ? ", gated" : "",
                    (long long)m.vocab_size,
                    m.tie_embeddings ? "tied" : "untied");
  if (m.bigram_vocab_size > 0)
    s +=
        core::format(", bigram %lldx%lld", (long long)m.bigram_vocab_size, (long long)m.bigram_dim);
  if (m.bigram_vocab_size > 0 && m.bigram_hash != config::BigramHash::kXor)
    s += std::string(" (") + config::choice_name(m.bigram_hash) + " hash)";
  return s;
}

void print_human(const Json& j) {
  std::cout << "model: " << j["model"].get<std::string>() << "\n"
            << core::format("  %-12s %8s %12s\n", "group", "tensors", "params");
  for (const auto& g : j["params"]["groups"])
    std::cout << core::format("  %-12s %8lld %12lld\n", g["group"].get<std::string>().c_str(),
                              g["tensors"].get<long long>(), g["params"].get<long long>());
  std::cout << core::format("  %-12s %8lld %12lld\n", "total",
                            j["params"]["tensors"].get<long long>(),
                            j["params"]["total"].get<long long>());
  if (!j.contains("artifact")) {
    std::cout << "artifact estimate: " << j["artifact_note"].get<std::string>() << std::endl;
    return;
  }
  const auto& a = j["artifact"];
  std::cout << "artifact estimate: " << a["quant_scheme"].get<std::string>() << " export of "
            << a["weights"].get<std::string>() << ", " << a["compressor"].get<std::string>()
            << " level " << a["level"].get<int64_t>() << "\n"
            << core::format("  %-17s %8s %12s %12s\n", "kind", "tensors", "params", "raw bytes");
  for (const auto& k : a["kinds"])
    std::cout << core::format("  %-17s %8lld %12lld %12lld\n", k["kind"].get<std::string>().c_str(),
                              k["tensors"].get<long long>(), k["params"].get<long long>(),
                              k["stored_bytes"].get<long long>());
  std::cout << "  serialized " << a["serialized_bytes"].get<int64_t>() << " bytes -> model bytes "
            << a["model_bytes"].get<int64_t>() << " (cap " << quant::kByteCap
            << " for model + code bytes)" << std::endl;
  if (a["magnitude_dependent"].get<bool>() && !j["weights_given"].get<bool>())
    std::cout
        << "  note: this scheme floors some scales at an absolute value, so the estimate depends "
           "on the\n  weights' magnitude (--surrogate-std); use --weights FILE for a real figure\n";
}

// PARAM_BANKS=1 (the 1.0611 record's GPT): parameter counts only; its export (unbanked GPTQ,
// LQER, pergroup compression) is not in pgolf yet, so there is no artifact estimate.
int run_info_banked(const config::Config& cfg, const InfoArgs& a) {
  PGOLF_CHECK_INPUT(a.weights.empty(), "info --weights: not available with param_banks=1 yet");
  model::BankedGPT gpt(cfg.model);
  const quant::QuantPolicy policy(cfg.quant);  // the export's, also for the control group
  const auto& ctrl = policy.control_patterns();
  const auto& m = cfg.model;
  Json j;
  j["model"] = model_summary(m) +
               core::format(", banked: %lld+%lld virtual layers", (long long)gpt->layers().encoder.size(),
                            (long long)gpt->layers().decoder.size());
  j["params"]["groups"] = Json::array();
  int64_t tensors = 0, total = 0;
  for (const auto& g : model::count_param_groups(gpt->state_dict(), ctrl)) {
    j["params"]["groups"].push_back({{"group", g.group}, {"tensors", g.tensors}, {"params", g.params}});
    tensors += g.tensors;
    total += g.params;
  }
  j["params"]["tensors"] = tensors;
  j["params"]["total"] = total;
  j["weights_given"] = false;
  j["artifact_note"] = "no surrogate export for param_banks=1 (see the size model)";
  j["size_model"] = size_model(gpt->state_dict(), cfg.quant, a.weight_std);
  if (a.json) {
    std::cout << j.dump(2) << std::endl;
  } else {
    print_human(j);
    print_size_model(j["size_model"]);
  }
  return kExitOk;
}

int run_info(const InfoArgs& a) {
  const auto resolved = resolve_config(a.config, /*world_size=*/1);
  const auto& cfg = resolved.cfg;
  core::configure_threads(static_cast<int>(cfg.train.threads));
  torch::manual_seed(cfg.train.seed);
  if (cfg.model.param_banks) return run_info_banked(cfg, a);
  model::GPT gpt(cfg.model);
  const quant::QuantPolicy policy(cfg.quant);  // the export's, also for the control group
  const auto& ctrl = policy.control_patterns();
  Json j;
  j["model"] = model_summary(cfg.model);
  j["params"]["groups"] = Json::array();
  int64_t tensors = 0;
  for (const auto& g : model::count_param_groups(*gpt, ctrl)) {
    j["params"]["groups"].push_back(
        {{"group", g.group}, {"tensors", g.tensors}, {"params", g.params}});
    tensors += g.tensors;
  }
  j["params"]["tensors"] = tensors;
  j["params"]["total"] = model::count_params(*gpt);
  core::NamedTensors weights;
  if (a.weights.empty()) {
    weights = surrogate_weights(*gpt, policy, a.surrogate_std);
  } else {
    model::AnyGPT any(gpt);
    train::load_weights(a.weights, any);
    weights = gpt->state_dict();
  }
  j["weights_given"] = !a.weights.empty();
  j["size_model"] = size_model(gpt->state_dict(), cfg.quant, a.weight_std);
  if (a.model_only) {
    j["artifact_note"] = "surrogate export skipped (--model-only)";
  } else {
    j["artifact"] = artifact_estimate(weights, cfg.quant, a);
  }
  if (a.json) {
    std::cout << j.dump(2) << std::endl;
  } else {
    print_human(j);
    print_size_model(j["size_model"]);
  }
  return kExitOk;
}

}  // namespace

Command register_info(CLI::App& app) {
  auto* sub = app.add_subcommand("info", "parameter counts per group and artifact size estimate");
  auto a = std::make_shared<InfoArgs>();
  add_config_options(sub, a->config);
  sub->add_option("--weights", a->weights,
                  "estimate from these weights (checkpoint, state dict or artifact) instead of "
                  "Gaussian surrogates")
      ->check(CLI::ExistingFile);
  sub->add_option("--surrogate-std", a->surrogate_std,
                  "std of the Gaussian stand-in matrices (default 0.02; matters only for schemes "
                  "with an absolute scale floor)");
  sub->add_option("--weight-std", a->weight_std,
                  "std of the trained matrices for the size model where a 1/clip scale floor binds "
                  "(default: fitted on the 1.1271 record)");
  sub->add_flag("--model-only", a->model_only,
                "print the size model only, without the surrogate export (fast)");
  sub->add_flag("--exact", a->exact, "compress at ZSTD_LEVEL (slow at 22) instead of level 1");
  sub->add_flag("--json", a->json, "print JSON");
  sub->add_option("--zstd-threads", a->zstd_threads, "zstd worker threads (0: single-threaded)");
  return {sub, [a]() { return run_info(*a); }};
}

}  // namespace pgolf::cli
