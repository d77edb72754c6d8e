// Golden checks for quantize_export cases (golden/README.md case 7): pruning thresholds/counts/ties,
// every result tensor (.q, .scale, passthrough) bit-equal, meta and key order, dequantisation exact,
// compressed size within 1%, and the reference-written artifact.ptz read back exactly. The
// train_steps cases' export (prune + meta + sizes from the stored SWA weights) is checked too.
#include <cmath>
#include <regex>
#include <set>
#include <string>

#include "golden_case.h"
#include "pgolf/quant/container.h"
#include "pgolf/quant/export.h"

namespace pgolf::golden {
namespace {

config::QuantConfig case_quant_config(const nlohmann::json& cfg) {
  auto join = [](const nlohmann::json& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ",") + x.get<std::string>();
    return s;
  };
  config::QuantConfig q;  // defaults = PR #180 (prune 0.03 of numel > 65536, passthrough 8192)
  if (cfg.contains("int6_cats")) q.int_cats = join(cfg.at("int6_cats"));
  if (cfg.contains("CONTROL_TENSOR_NAME_PATTERNS"))
    q.control_tensor_name_patterns = join(cfg.at("CONTROL_TENSOR_NAME_PATTERNS"));
  if (cfg.contains("FP16_KEEP_NAME_PATTERNS"))
    q.fp16_keep_name_patterns = join(cfg.at("FP16_KEEP_NAME_PATTERNS"));
  if (cfg.contains("prune")) {  // "... numel > 65536: thr = torch.quantile(..., 0.03); ..."
    std::smatch m;
    const std::string text = cfg.at("prune").get<std::string>();
    if (std::regex_search(text, m, std::regex(R"(numel > (\d+))"))) q.prune_min_numel = std::stoll(m[1]);
    if (std::regex_search(text, m, std::regex(R"(quantile\([^,]+, ([0-9.]+)\))")))
      q.prune_pct = std::stod(m[1]);
  }
  return q;
}

// The manifest's JSON objects are read unordered, so the order comes from a key list.
quant::Meta json_meta(const nlohmann::json& m, const nlohmann::json& keys) {
  quant::Meta out;
  EXPECT_EQ(m.size(), keys.size());
  for (const auto& k : keys) {
    const auto& v = m.at(k.get<std::string>());
    out.emplace_back(k, quant::MetaEntry{v.is_string() ? v.get<std::string>()
                                                       : v.at("type").get<std::string>()});
  }
  return out;
}

void expect_meta_eq(const quant::Meta& actual, const quant::Meta& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].first, expected[i].first);
    EXPECT_EQ(actual[i].second.kind, expected[i].second.kind) << actual[i].first;
  }
}

void expect_result_eq(const GoldenCase& c, const quant::QuantResult& r, const std::string& src) {
  SCOPED_TRACE(src);
  const auto keys = c.manifest().at("result_keys").get<std::vector<std::string>>();
  ASSERT_EQ(r.w.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(r.w[i].first, keys[i]) << "result key order";
    EXPECT_TRUE(exactly_equal("result." + keys[i], r.w[i].second, c.tensor("result." + keys[i])));
  }
  expect_meta_eq(r.meta, json_meta(c.manifest().at("meta"), c.config().at("keys_in_order")));
}

// Exact .5 ties seen by round-half-to-even, recomputed from the pruned inputs and our scales.
int64_t half_ties(const core::NamedTensors& pruned, const quant::QuantResult& r) {
  int64_t ties = 0;
  for (size_t i = 0; i < r.meta.size(); ++i) {
    if (!r.meta[i].second.quantized()) continue;
    const auto& name = r.meta[i].first;
    const auto w = pruned[i].second.to(torch::kFloat);
    const torch::Tensor* s = core::find_tensor(r.w, name + ".scale");
    const auto x = w / (s->dim() ? s->to(torch::kFloat).unsqueeze(1) : s->to(torch::kFloat));
    ties += ((x - x.floor()) == 0.5).sum().item<int64_t>();
  }
  return ties;
}

TEST(GoldenQuantizeExportTest, PruneQuantizeSerializeDequantize) {
  const auto cases = discover("quantize_export");
  ASSERT_FALSE(cases.empty()) << "no quantize_export golden case found (a missing kind fails)";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    const auto qcfg = case_quant_config(c.config());
    core::NamedTensors sd;
    for (const auto& k : c.config().at("keys_in_order"))
      sd.emplace_back(k.get<std::string>(), c.tensor("input." + k.get<std::string>()));

    // Pruning: exactly the pruned_keys, with the reference's thresholds, counts and ties.
    core::NamedTensors pruned = sd;
    const auto stats = quant::prune_state_dict(pruned, qcfg);
    const auto pruned_keys = c.manifest().at("pruned_keys").get<std::vector<std::string>>();
    ASSERT_EQ(stats.size(), pruned_keys.size());
    for (size_t i = 0; i < stats.size(); ++i) {
      const auto& st = stats[i];
      EXPECT_EQ(st.name, pruned_keys[i]);
      EXPECT_EQ(static_cast<double>(st.threshold), c.scalar("prune_threshold." + st.name)) << st.name;
      EXPECT_EQ(st.count, static_cast<int64_t>(c.scalar("prune_count." + st.name))) << st.name;
      if (c.has_scalar("prune_ties_at_threshold." + st.name)) {
        EXPECT_EQ(st.ties, static_cast<int64_t>(c.scalar("prune_ties_at_threshold." + st.name)));
      }
    }

    // Quantisation: every result tensor and the meta, in the reference's order.
    const auto r = quant::quantize_state_dict(pruned, qcfg);
    expect_result_eq(c, r, "quantize_state_dict");
    if (c.has_scalar("quant_round_half_ties_total")) {
      EXPECT_EQ(half_ties(pruned, r), static_cast<int64_t>(c.scalar("quant_round_half_ties_total")));
    }

    // Serialisation: torch.save framing differs slightly across torch versions; zstd-22 within 1%.
    const auto raw = quant::serialize_quant(r);
    const auto blob = quant::compress(raw, {});
    const double ref = c.scalar("zstd22_bytes");
    EXPECT_NEAR(static_cast<double>(blob.size()), ref, 0.01 * ref)
        << "torch.save " << raw.size() << " vs " << c.scalar("torch_save_bytes");
    RecordProperty("compressed_bytes", static_cast<int>(blob.size()));
    expect_result_eq(c, quant::decode_artifact(blob, "ours"), "our artifact");

    // Dequantisation against the pruned template.
    const auto deq = quant::dequantize_state_dict(r, pruned);
    for (size_t i = 0; i < deq.size(); ++i) {
      const auto& [name, t] = deq[i];
      if (c.has("deq." + name)) {
        EXPECT_TRUE(exactly_equal("deq." + name, t, c.tensor("deq." + name)));
      }
      const auto d = t.to(torch::kDouble);
      EXPECT_NEAR(d.sum().item<double>(), c.scalar("deq_sum_f64." + name),
                  1e-9 * std::max(1.0, std::abs(c.scalar("deq_abs_sum_f64." + name)))) << name;
      EXPECT_NEAR(d.abs().sum().item<double>(), c.scalar("deq_abs_sum_f64." + name),
                  1e-9 * std::max(1.0, c.scalar("deq_abs_sum_f64." + name))) << name;
      const double err = (t - pruned[i].second.to(torch::kFloat)).abs().max().item<float>();
      EXPECT_EQ(err, c.scalar("deq_max_abs_err_vs_pruned." + name)) << name;
    }

    // The reference-written artifact: same tensors and meta, same dequantisation.
    const auto golden = quant::read_artifact(c.path("artifact.ptz"));
    expect_result_eq(c, golden, "artifact.ptz");
    const auto deq_golden = quant::load_artifact(c.path("artifact.ptz"), pruned);
    for (size_t i = 0; i < deq.size(); ++i)
      EXPECT_TRUE(exactly_equal("artifact deq." + deq[i].first, deq_golden[i].second, deq[i].second));
  }
}

// train_steps (case 6): the export after training, from the stored SWA weights.
TEST(GoldenQuantizeExportTest, TrainStepsExportFromSwaWeights) {
  const auto cases = discover("train_steps");
  ASSERT_FALSE(cases.empty()) << "no train_steps golden case found (a missing kind fails)";
  int checked = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name());
    if (!c.manifest().contains("quant_meta")) continue;
    ++checked;
    core::NamedTensors sd;
    for (const auto& k : c.manifest().at("state_dict_keys")) {
      const std::string name = "swa." + k.get<std::string>();
      ASSERT_TRUE(c.has(name)) << "case has quant_meta but no " << name;
      sd.emplace_back(k.get<std::string>(), c.tensor(name));
    }
    const config::QuantConfig qcfg;  // the reference's export settings are the defaults
    core::NamedTensors pruned = sd;
    const auto stats = quant::prune_state_dict(pruned, qcfg);
    std::set<std::string> expected_pruned;
    for (const auto& [name, v] : c.manifest().at("scalars").items())
      if (name.rfind("prune_threshold.", 0) == 0) expected_pruned.insert(name.substr(16));
    ASSERT_EQ(stats.size(), expected_pruned.size());
    for (const auto& st : stats) {
      EXPECT_EQ(static_cast<double>(st.threshold), c.scalar("prune_threshold." + st.name));
      EXPECT_EQ(st.count, static_cast<int64_t>(c.scalar("prune_count." + st.name)));
    }
    const auto r = quant::quantize_state_dict(pruned, qcfg);
    expect_meta_eq(r.meta,
                   json_meta(c.manifest().at("quant_meta"), c.manifest().at("state_dict_keys")));
    const auto raw = quant::serialize_quant(r);
    const double ref = c.scalar("quant_zstd22_bytes_torch113");
    EXPECT_NEAR(static_cast<double>(quant::compress(raw, {}).size()), ref, 0.02 * ref);
  }
  EXPECT_GT(checked, 0) << "no train_steps case stores quant_meta: the export went unchecked";
}

}  // namespace
}  // namespace pgolf::golden
