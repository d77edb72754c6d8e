// Golden frontier_gptq cases (golden-frontier/README.md): the 1.0611 record's gptq_mixed_quantize
// on the case's state dict and stored Hessians (GPTQ + SDClip int6/int7, gate int8 rows, fp16
// passthrough, LQER asym and sym), its dequantize_mixed, the similarity-sort permutations and the
// per-group artifact (the record's artifact.pgrp read back exactly, ours byte-counted against its
// stream sizes) and brotli-11 of torch.save({"w","m"}). Shapes and settings come from the manifest.
// Tolerances are the README's: codes exact or <= 0.1% off by one, LQER through deq max abs 1e-3,
// byte counts exact with lrzip 0.651 / brotli 1.2.1, else within 1% (the streams holding a
// torch.save archive are always within 1%: pgolf's archive layout is not Python's byte for byte).
#include <brotli/encode.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <fstream>

#include "frontier_case.h"
#include "golden_case.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/files.h"
#include "pgolf/model/gpt_banked.h"
#include "pgolf/quant/codecs.h"
#include "pgolf/quant/container.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/hessians.h"
#include "pgolf/quant/pergroup.h"

namespace pgolf::golden {
namespace {

// The record's gptq_mixed_quantize passes tensors with numel <= 65536 through (hard-coded there).
constexpr int64_t kRecordPassthroughNumel = 65536;

config::QuantConfig case_quant(const GoldenCase& gc) {
  const auto& q = gc.config().at("quant");
  config::QuantConfig c;
  c.quant_scheme = config::QuantScheme::kGptq;
  c.passthrough_max_numel = kRecordPassthroughNumel;
  c.gated_attn_quant_gate = q.at("gated_attn_quant_gate").get<bool>();
  c.lqer_enabled = q.at("lqer_enabled").get<bool>();
  c.lqer_rank = q.at("lqer_rank").get<int64_t>();
  c.lqer_top_k = q.at("lqer_top_k").get<int64_t>();
  c.lqer_factor_bits = q.at("lqer_factor_bits").get<int64_t>();
  c.lqer_asym_enabled = q.at("lqer_asym_enabled").get<bool>();
  c.lqer_asym_group = q.at("lqer_asym_group").get<int64_t>();
  c.matrix_bits = q.at("matrix_bits").get<int64_t>();
  c.embed_bits = q.at("embed_bits").get<int64_t>();
  c.matrix_clip_sigmas = q.at("matrix_clip_sigmas").get<double>();
  c.mlp_clip_sigmas = q.at("mlp_clip_sigmas").get<double>();
  c.attn_clip_sigmas = q.at("attn_clip_sigmas").get<double>();
  c.embed_clip_sigmas = q.at("embed_clip_sigmas").get<double>();
  c.compressor = config::parse_choice_or_throw<config::Compressor>(
      "compressor", q.at("compressor").get<std::string>());
  return c;
}

core::NamedTensors case_state_dict(const GoldenCase& gc) {
  core::NamedTensors sd;
  for (const auto& k : gc.manifest().at("state_dict_keys"))
    sd.emplace_back(k.get<std::string>(), gc.tensor("sd." + k.get<std::string>()));
  return sd;
}

// hessian.<name>; c_k / c_v share c_q's input and are stored once (hessian_equals_c_q.<name>).
void case_hessians(const GoldenCase& gc, core::NamedTensors& h) {
  for (const auto& name : gc.manifest().at("unbanked_keys")) {
    const auto n = name.get<std::string>();
    if (gc.has("hessian." + n)) {
      h.emplace_back(n, gc.tensor("hessian." + n));
    } else if (gc.has_scalar("hessian_equals_c_q." + n)) {
      const auto at = n.find(".c_k.") != std::string::npos ? n.find(".c_k.") : n.find(".c_v.");
      ASSERT_NE(at, std::string::npos) << n;
      h.emplace_back(n, gc.tensor("hessian." + n.substr(0, at) + ".c_q." + n.substr(at + 5)));
    }
  }
}

quant::QuantResult golden_result(const GoldenCase& gc) {
  quant::QuantResult r;
  for (const auto& k : gc.manifest().at("result_keys"))
    r.w.emplace_back(k.get<std::string>(), gc.tensor("result." + k.get<std::string>()));
  for (const auto& k : gc.manifest().at("unbanked_keys"))
    r.meta.emplace_back(k.get<std::string>(),
                        quant::MetaEntry{gc.manifest().at("meta").at(k.get<std::string>()).get<std::string>()});
  return r;
}

bool is_lqer_factor(const std::string& key) { return key.find(".lq") != std::string::npos; }

// Codes: exact, or off by one in at most 0.1% of the entries (Cholesky rounding).
::testing::AssertionResult codes_match(const std::string& name, const torch::Tensor& a,
                                       const torch::Tensor& b, int64_t* mismatches) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type())
    return ::testing::AssertionFailure() << name << ": shape/dtype " << a.sizes() << " "
                                         << a.scalar_type() << " vs " << b.sizes() << " "
                                         << b.scalar_type();
  const auto d = (a.to(torch::kInt32) - b.to(torch::kInt32)).abs();
  *mismatches = (d != 0).sum().item<int64_t>();
  const int64_t max_d = d.numel() ? d.max().item<int64_t>() : 0;
  std::cout << "[ info ] " << name << ": " << *mismatches << " of " << d.numel()
            << " codes differ (max " << max_d << ")\n";
  if (max_d <= 1 && *mismatches * 1000 <= d.numel()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << name << ": " << *mismatches << " of " << d.numel()
                                       << " codes differ, max |diff| " << max_d
                                       << " (allowed: <= 0.1% off by one)";
}

TEST(GoldenFrontierGptq, CasesExist) {
  EXPECT_GE(discover("frontier_gptq").size(), 1u) << "no frontier_gptq case found";
}

TEST(GoldenFrontierGptq, QuantizeMatchesRecord) {
  torch::set_num_threads(1);  // the cases were made with torch.set_num_threads(1)
  for (const auto& gc : discover("frontier_gptq")) {
    SCOPED_TRACE(gc.name());
    const auto flat = quant::unbank_state_dict(case_state_dict(gc));
    const auto keys = gc.manifest().at("unbanked_keys").get<std::vector<std::string>>();
    ASSERT_EQ(flat.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(flat[i].first, keys[i]) << "unbank order";
    core::NamedTensors hessians;
    ASSERT_NO_FATAL_FAILURE(case_hessians(gc, hessians));
    const auto r = quant::gptq_mixed_quantize(flat, hessians, case_quant(gc));
    const auto want = gc.manifest().at("result_keys").get<std::vector<std::string>>();
    ASSERT_EQ(r.w.size(), want.size());
    int64_t code_mismatches = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const auto& [key, t] = r.w[i];
      ASSERT_EQ(key, want[i]) << "result key order";
      const auto expected = gc.tensor("result." + key);
      int64_t m = 0;
      if (key.size() > 2 && key.compare(key.size() - 2, 2, ".q") == 0) {
        EXPECT_TRUE(codes_match("result." + key, t, expected, &m));
        code_mismatches += m;
      } else if (!is_lqer_factor(key)) {
        EXPECT_TRUE(exactly_equal("result." + key, t, expected));
      } else {  // factors: same dtype and shape; values checked through deq.*
        EXPECT_EQ(t.sizes(), expected.sizes()) << key;
        EXPECT_EQ(t.scalar_type(), expected.scalar_type()) << key;
        const double d = (t.to(torch::kFloat64) - expected.to(torch::kFloat64)).abs().max()
                             .item<double>();
        std::cout << "[ info ] result." << key << ": "
                  << (t.equal(expected) ? "exact" : "max |diff| " + std::to_string(d) +
                                                        " (SVD rounding; checked through deq)")
                  << "\n";
      }
    }
    for (const auto& [name, e] : r.meta)
      EXPECT_EQ(e.kind, gc.manifest().at("meta").at(name).get<std::string>()) << name;

    // dequantize_mixed: deq.* (passthrough, gate, LQER) and the f64 sums of plain GPTQ tensors.
    const auto deq = quant::dequantize_gptq(r, flat, "case");
    for (const auto& [name, t] : deq) {
      if (gc.has("deq." + name)) {
        const auto& kind = gc.manifest().at("meta").at(name).get<std::string>();
        if (kind.find("lqer") != std::string::npos) {
          const auto& e = gc.tensor("deq." + name);
          std::cout << "[ info ] deq." << name << ": max |diff| "
                    << (t - e).abs().max().item<double>() << " (bound 1e-3)\n";
          EXPECT_TRUE(all_close_abs("deq." + name, t, e, 1e-3));
        } else {
          EXPECT_TRUE(exactly_equal("deq." + name, t, gc.tensor("deq." + name)));
        }
      }
      if (gc.has_scalar("deq_sum_f64." + name)) {
        const auto t64 = t.to(torch::kFloat64);
        const double sum = t64.sum().item<double>(), abs_sum = t64.abs().sum().item<double>();
        // One code off by one moves a sum by at most that row's scale.
        const double tol = 1e-9 * abs_sum + static_cast<double>(code_mismatches) *
                                                 core::find_tensor(r.w, name + ".scale")
                                                     ->to(torch::kFloat64).max().item<double>();
        EXPECT_NEAR(sum, gc.scalar("deq_sum_f64." + name), tol) << name;
        EXPECT_NEAR(abs_sum, gc.scalar("deq_abs_sum_f64." + name), tol) << name;
      }
    }
  }
}

// collect_hessians (the record's hooks, eval mode, forward_logits, / n_batches) through pgolf's
// calibration taps (model/linear_tap.h, quant/hessians.h) on the banked GPT: every stored
// hessian.* (attn c_q for c_q/c_k/c_v, attn.proj, mlp.fc, mlp.proj per layer, tok_emb from the
// final norm) from the case's calib.batches_x, rel-Frobenius <= 1e-5; c_k and c_v equal c_q.
TEST(GoldenFrontierGptq, HessiansFromCalibrationBatches) {
  torch::set_num_threads(1);
  for (const auto& gc : discover("frontier_gptq")) {
    SCOPED_TRACE(gc.name());
    model::BankedGPT m(frontier_case_model(gc));
    m->set_looping(gc.config().at("looping_active").get<bool>());
    m->load_state_dict(case_state_dict(gc), /*strict=*/true);
    m->eval();
    const auto flat = quant::unbank_state_dict(case_state_dict(gc));
    core::NamedTensors want;
    ASSERT_NO_FATAL_FAILURE(case_hessians(gc, want));
    core::NamedTensors targets;  // every weight with a stored Hessian, whatever its size
    for (const auto& [name, h] : want) targets.emplace_back(name, *core::find_tensor(flat, name));
    const auto batches = gc.tensor("calib.batches_x");
    const auto got = quant::collect_hessians(
        *m, [&](const torch::Tensor& ids) { m->forward_logits(ids); },
        [&](int64_t b) { return batches[b]; }, batches.size(0), targets);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_GE(got.size(), 13u);  // 2 layers x 6 + tok_emb
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].first, want[i].first);
      EXPECT_TRUE(rel_frobenius("hessian." + got[i].first, got[i].second, want[i].second, 1e-5));
      worst = std::max(worst, ((got[i].second - want[i].second).norm() / want[i].second.norm())
                                  .item<double>());
    }
    std::cout << "[ info ] " << gc.name() << ": " << got.size()
              << " Hessians, worst rel-Frobenius " << worst << "\n";
  }
}

TEST(GoldenFrontierGptq, SimilaritySortPermutationsExact) {
  for (const auto& gc : discover("frontier_gptq")) {
    SCOPED_TRACE(gc.name());
    int checked = 0;
    for (const auto& name : gc.tensor_names()) {
      const std::string head = "simsort_perm.";
      if (name.rfind(head, 0) != 0) continue;
      const auto key = name.substr(head.size());
      const auto order = quant::similarity_sort_l1(gc.tensor("result." + key));
      const auto got =
          torch::tensor(std::vector<int64_t>(order.begin(), order.end())).to(torch::kInt32);
      EXPECT_TRUE(exactly_equal(name, got, gc.tensor(name)));
      ++checked;
    }
    EXPECT_GT(checked, 0) << "no simsort_perm.* tensors in the case";
  }
}

// "lrzip version 0.651" -> "0.651"; empty when the program is absent.
std::string lrzip_version() {
  FILE* p = ::popen("lrzip -V 2>&1", "r");
  if (!p) return "";
  char buf[256] = {0};
  std::string out;
  while (std::fgets(buf, sizeof(buf), p)) out += buf;
  ::pclose(p);
  const auto pos = out.find("version ");
  return pos == std::string::npos ? "" : out.substr(pos + 8, out.find_first_of(" \n", pos + 8) - pos - 8);
}

bool brotli_is_1_2_1() { return BrotliEncoderVersion() == 0x1002001; }

// Exact when the library versions equal the case's, else within 1%.
void expect_bytes(const std::string& what, int64_t got, int64_t want, bool same_versions) {
  std::cout << "[ info ] " << what << ": " << got << " bytes, record " << want << " ("
            << (same_versions ? "same library versions" : "other library versions") << ")\n";
  if (same_versions) {
    EXPECT_EQ(got, want) << what;
  } else {
    EXPECT_LE(std::abs(static_cast<double>(got - want)), 0.01 * static_cast<double>(want)) << what;
  }
}

void expect_same_result(const quant::QuantResult& got, const quant::QuantResult& want) {
  std::map<std::string, torch::Tensor> g(got.w.begin(), got.w.end());
  EXPECT_EQ(g.size(), want.w.size());
  for (const auto& [key, t] : want.w) {
    ASSERT_TRUE(g.count(key)) << "missing entry " << key;
    EXPECT_TRUE(exactly_equal(key, g.at(key), t));
  }
  ASSERT_EQ(got.meta.size(), want.meta.size());
  for (size_t i = 0; i < got.meta.size(); ++i) {
    EXPECT_EQ(got.meta[i].first, want.meta[i].first);
    EXPECT_EQ(got.meta[i].second.kind, want.meta[i].second.kind);
  }
}

TEST(GoldenFrontierGptq, PergroupArtifact) {
  const std::string version = lrzip_version();
  if (version.empty()) GTEST_SKIP() << "NOT RUN: the lrzip program is absent (apt-get install lrzip)";
  for (const auto& gc : discover("frontier_gptq")) {
    SCOPED_TRACE(gc.name());
    const auto want = golden_result(gc);
    // Interop: the record's own bytes.
    const auto raw = core::read_file(gc.path("artifact.pgrp"));
    const std::vector<char> blob(raw.begin(), raw.end());
    EXPECT_EQ(static_cast<int64_t>(blob.size()), static_cast<int64_t>(gc.scalar("pergroup_bytes")));
    expect_same_result(quant::deserialize_pergroup(blob, "artifact.pgrp"), want);
    // Ours from the same result: stream sizes, total, round trip.
    std::vector<int64_t> sizes;
    const auto ours = quant::serialize_pergroup(want, &sizes);
    // The lrzip streams and the brotli'd row orders can be exact; the remainder stream (and so
    // the total) is brotli of a torch.save archive, whose zip records pgolf's writer lays out
    // differently from Python's torch.save (same entries, about 0.4% fewer bytes): within 1%.
    const bool lrzip_same = version == "0.651", brotli_same = brotli_is_1_2_1();
    for (size_t i = 0; i < sizes.size(); ++i) {
      const std::string key = "pergroup_stream_bytes." + std::to_string(i);
      ASSERT_TRUE(gc.has_scalar(key)) << key;
      const bool remainder = i + 2 == sizes.size(), perms = i + 1 == sizes.size();
      expect_bytes(key, sizes[i], static_cast<int64_t>(gc.scalar(key)),
                   remainder ? false : perms ? brotli_same : lrzip_same);
    }
    expect_bytes("pergroup_bytes", static_cast<int64_t>(ours.size()),
                 static_cast<int64_t>(gc.scalar("pergroup_bytes")), false);
    expect_same_result(quant::deserialize_pergroup(ours, "ours"), want);
    // For reading ours with the record's own _deserialize_pergroup (README, Frontier export).
    if (const char* out = std::getenv("PGOLF_FRONTIER_PGRP_OUT"))
      core::write_file_atomic(std::string(out) + "/" + gc.name() + ".pgrp", ours.data(), ours.size());
  }
}

TEST(GoldenFrontierGptq, Brotli11Bytes) {
  for (const auto& gc : discover("frontier_gptq")) {
    SCOPED_TRACE(gc.name());
    const auto want = golden_result(gc);
    const auto raw = quant::serialize_quant(want);
    std::cout << "[ info ] torch.save bytes " << raw.size() << ", record (torch 2.15) "
              << static_cast<int64_t>(gc.scalar("torch_save_bytes_torch2_15_0")) << "\n";
    const auto blob = quant::brotli_compress(raw, 11);
    // torch.save layouts differ (see PergroupArtifact): within 1% whatever the brotli version.
    expect_bytes("brotli11_bytes", static_cast<int64_t>(blob.size()),
                 static_cast<int64_t>(gc.scalar("brotli11_bytes")), false);
    expect_same_result(quant::deserialize_quant(quant::brotli_decompress(blob, "b", 1 << 30), "b"),
                       want);
  }
}

}  // namespace
}  // namespace pgolf::golden
