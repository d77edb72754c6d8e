// The frontier export's pieces (issue 20): GPTQ/SDClip properties, gate rows, LQER packing and
// its symmetric fallback, the gptq scheme's routing, (un)banking, the similarity sort, the byte
// shuffle, brotli/xz, the pergroup container and every COMPRESSOR's exact round trip. The record
// parity itself is golden_frontier_gptq_test. FrontierLrzipTest.* needs the lrzip program.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "pgolf/core/error.h"
#include "pgolf/quant/codecs.h"
#include "pgolf/quant/container.h"
#include "pgolf/quant/gptq.h"
#include "pgolf/quant/gptq_mixed.h"
#include "pgolf/quant/pergroup.h"

namespace pgolf::quant {
namespace {

torch::Tensor random_hessian(int64_t n, int64_t seed) {
  torch::manual_seed(seed);
  const auto x = torch::randn({4 * n, n}) + torch::randn({4 * n, 1});  // correlated inputs
  return torch::matmul(x.t(), x) / (4 * n);
}

double proxy_loss(const torch::Tensor& w, const RowCodes& r, const torch::Tensor& h) {
  const auto e = w - r.q.to(torch::kFloat32) * r.scale.to(torch::kFloat32).unsqueeze(1);
  return torch::trace(torch::matmul(torch::matmul(e, h), e.t())).item<double>();
}

TEST(FrontierGptqTest, DiagonalHessianIsRoundToNearestWithSdclipScale) {
  torch::manual_seed(1);
  const auto w = torch::randn({24, 40}) * 0.05;
  const auto h = torch::diag(torch::rand({40}) + 0.5);
  const auto r = gptq_quantize_weight(w, h, /*clip_sigmas=*/3.0, /*clip_range=*/31);
  const auto s = sdclip_scale(w, 3.0, 31);
  EXPECT_TRUE(r.scale.equal(s));
  EXPECT_EQ(r.scale.scalar_type(), torch::kFloat16);
  const auto rtn = torch::clamp(torch::round(w / s.to(torch::kFloat32).unsqueeze(1)), -31, 31);
  EXPECT_TRUE(r.q.to(torch::kFloat32).equal(rtn));
  // SDClip: k * std(row) / range, fp16.
  EXPECT_NEAR(s[3].item<double>(), 3.0 * w[3].std().item<double>() / 31, 1e-3 * s[3].item<double>());
}

// A never-trained table (an all-zero row, e.g. bigram.embed early on): its fp16 scale underflows to
// 0, and its codes must be 0, not the int8 cast of 0/0; the other rows keep their codes.
TEST(FrontierGptqTest, AllZeroRowsGetZeroCodes) {
  torch::manual_seed(4);
  auto w = torch::randn({8, 32}) * 0.05;
  const auto h = random_hessian(32, 5);
  const auto ref = gptq_quantize_weight(w, h, 12.85, 31);
  w.index_put_({2}, 0.0);
  const auto r = gptq_quantize_weight(w, h, 12.85, 31);
  EXPECT_EQ(r.scale[2].item<double>(), 0.0);
  EXPECT_TRUE(r.q[2].eq(0).all().item<bool>()) << r.q[2];
  for (int64_t row : {0, 1, 3, 7}) EXPECT_TRUE(r.q[row].equal(ref.q[row])) << row;
  const auto gate = quantize_gate_int8_row(torch::zeros({2, 12}));
  EXPECT_TRUE(gate.q.eq(0).all().item<bool>()) << gate.q;
}

TEST(FrontierGptqTest, ErrorFeedbackBeatsRoundToNearestAndDeadColumnsAreZero) {
  torch::manual_seed(2);
  const int64_t n = 300;  // three blocks of 128, the last partial
  const auto w = torch::randn({16, n}) * 0.05;
  auto h = random_hessian(n, 3);
  h.index_put_({5, torch::indexing::Slice()}, 0);
  h.index_put_({torch::indexing::Slice(), 5}, 0);
  const auto r = gptq_quantize_weight(w, h, 12.85, 31);
  EXPECT_EQ(r.q.index({torch::indexing::Slice(), 5}).abs().sum().item<int64_t>(), 0);
  EXPECT_LE(r.q.abs().max().item<int64_t>(), 31);
  const auto s = r.scale.to(torch::kFloat32).unsqueeze(1);
  const RowCodes rtn{torch::clamp(torch::round(w / s), -31, 31).to(torch::kInt8), r.scale};
  EXPECT_LT(proxy_loss(w, r, h), 0.9 * proxy_loss(w, rtn, h));
}

TEST(FrontierGptqTest, HessianAwareClipScalesRowsByImportance) {
  torch::manual_seed(4);
  auto w = torch::randn({8, 64}) * 0.05;
  w[0] *= 4;  // an important row: larger |w| under the same diag(H)
  const auto d = torch::ones({64});
  const auto plain = sdclip_scale(w, 12.0, 31).to(torch::kFloat32);
  const auto aware = sdclip_scale(w, 12.0, 31, 0.5, d).to(torch::kFloat32);
  EXPECT_GT((aware[0] / plain[0]).item<double>(), 1.2);
  EXPECT_LT((aware[1] / plain[1]).item<double>(), 1.0);
}

TEST(FrontierGptqTest, RejectsBadShapesAndIndefiniteHessians) {
  const auto w = torch::randn({4, 8});
  EXPECT_THROW(gptq_quantize_weight(w, torch::eye(7), 3, 31), Error);
  EXPECT_THROW(gptq_quantize_weight(w, -torch::eye(8), 3, 31), Error);
}

TEST(FrontierGptqTest, GateRowsAndLqerPacking) {
  const auto g = quantize_gate_int8_row(torch::tensor({{0.5f, -1.0f, 0.25f}, {0.0f, 0.0f, 0.0f}}));
  EXPECT_EQ(g.q[0][1].item<int>(), -127);
  EXPECT_EQ(g.q[1].abs().sum().item<int>(), 0);
  EXPECT_EQ(g.scale.scalar_type(), torch::kFloat16);
  torch::manual_seed(5);
  const auto e = torch::randn({32, 128});
  const auto [a, b] = lqer_factors(e, 4);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{32, 4}));
  const auto asym = lqer_pack_asym(a, b, 64);
  EXPECT_EQ(asym.a.scale.dim(), 0);
  EXPECT_GE(asym.a.q.min().item<int>(), -2);
  EXPECT_LE(asym.a.q.max().item<int>(), 1);
  EXPECT_GE(asym.b.q.min().item<int>(), -8);
  EXPECT_LE(asym.b.q.max().item<int>(), 7);
  EXPECT_EQ(asym.b.scale.numel(), 4 * 128 / 64);
  const auto sym = lqer_pack_sym(a, b, 4);
  EXPECT_LE(sym.a.q.abs().max().item<int>(), 7);
  const auto exact = torch::matmul(a, b);
  EXPECT_LT((lqer_product(sym) - exact).norm().item<double>(), 0.3 * exact.norm().item<double>());
}

core::NamedTensors tiny_flat(int64_t hidden) {
  torch::manual_seed(6);
  return {{"blocks.0.mlp.fc.weight", torch::randn({hidden, 64}) * 0.05},
          {"blocks.0.mlp.proj.weight", torch::randn({64, hidden}) * 0.05},
          {"blocks.0.attn.attn_gate_w", torch::randn({4, 12})},
          {"blocks.0.attn_scale", torch::ones({64})},
          {"tok_emb.weight", torch::randn({96, 64}) * 0.08}};
}

config::QuantConfig tiny_cfg() {
  config::QuantConfig c;
  c.quant_scheme = config::QuantScheme::kGptq;
  c.passthrough_max_numel = 1024;
  c.gated_attn_quant_gate = true;
  c.lqer_enabled = true;
  c.lqer_top_k = 2;
  return c;
}

core::NamedTensors tiny_hessians(int64_t hidden) {
  return {{"blocks.0.mlp.fc.weight", random_hessian(64, 7)},
          {"blocks.0.mlp.proj.weight", random_hessian(hidden, 8)},
          {"tok_emb.weight", random_hessian(64, 9)}};
}

TEST(FrontierGptqTest, MixedQuantizeRoutesLikeTheRecord) {
  const int64_t hidden = 90;  // 64 x 90 B factors: 4*90 % 64 != 0 -> symmetric fallback
  const auto flat = tiny_flat(hidden);
  const auto r = gptq_mixed_quantize(flat, tiny_hessians(hidden), tiny_cfg());
  std::map<std::string, std::string> kind;
  for (const auto& [n, e] : r.meta) kind[n] = e.kind;
  EXPECT_EQ(kind["blocks.0.attn.attn_gate_w"], "gate_int8_row");
  EXPECT_EQ(kind["blocks.0.attn_scale"], "passthrough (float16)");
  EXPECT_EQ(kind["tok_emb.weight"].substr(0, 11), "gptq (int7)");
  // LQER_TOP_K 2 of the 3 GPTQ tensors: the one left out has the smallest |W - deq(W)|_F.
  const std::vector<std::string> gptqd = {"blocks.0.mlp.fc.weight", "blocks.0.mlp.proj.weight",
                                          "tok_emb.weight"};
  std::map<std::string, double> err;
  for (const auto& n : gptqd) {
    const auto& q = *core::find_tensor(r.w, n + ".q");
    const auto& sc = *core::find_tensor(r.w, n + ".scale");
    err[n] = (core::find_tensor(flat, n)->sub(q.to(torch::kFloat32) * sc.to(torch::kFloat32).unsqueeze(1)))
                 .norm().item<double>();
  }
  std::string left_out;
  for (const auto& n : gptqd)
    if (kind[n].find("lqer") == std::string::npos) left_out = n;
  ASSERT_FALSE(left_out.empty());
  for (const auto& n : gptqd) EXPECT_LE(err[left_out], err[n]) << n;
  // The form: asymmetric when B (rank x cols) divides the group of 64, else symmetric.
  auto all3 = tiny_cfg();
  all3.lqer_top_k = 3;
  const auto r3 = gptq_mixed_quantize(flat, tiny_hessians(hidden), all3);
  std::map<std::string, std::string> k3;
  for (const auto& [n, e] : r3.meta) k3[n] = e.kind;
  EXPECT_EQ(k3["blocks.0.mlp.fc.weight"], "gptq (int6)+lqer_asym");   // B 4 x 64
  EXPECT_EQ(k3["blocks.0.mlp.proj.weight"], "gptq (int6)+lqer");      // B 4 x 90
  EXPECT_EQ(k3["tok_emb.weight"], "gptq (int7)+lqer_asym");
  EXPECT_TRUE(core::find_tensor(r3.w, "blocks.0.mlp.proj.weight.lqBs"));
  EXPECT_TRUE(core::find_tensor(r3.w, "blocks.0.mlp.fc.weight.lqBs_a"));
  for (const auto& [n, k] : kind) EXPECT_TRUE(is_gptq_kind(k)) << k;
  EXPECT_TRUE(is_gptq_meta(r.meta));
  const auto deq = dequantize_gptq(r, flat, "test");
  for (size_t i = 0; i < flat.size(); ++i) {
    EXPECT_EQ(deq[i].second.sizes(), flat[i].second.sizes());
    const double rel = ((deq[i].second - flat[i].second).norm() / flat[i].second.norm()).item<double>();
    EXPECT_LT(rel, 0.15) << flat[i].first;
  }
  auto missing = tiny_hessians(hidden);
  missing.pop_back();
  try {
    gptq_mixed_quantize(flat, missing, tiny_cfg());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tok_emb.weight"), std::string::npos) << e.what();
  }
}

TEST(FrontierGptqTest, UnbankAndRebankRoundTrip) {
  const int64_t L = 3, d = 8, kv = 4, h = 12;
  const core::NamedTensors banked = {{"qo_bank", torch::randn({2 * L, d, d})},
                                     {"kv_bank", torch::randn({2 * L, kv, d})},
                                     {"mlp_up_bank", torch::randn({L, h, d})},
                                     {"mlp_down_bank", torch::randn({L, d, h})},
                                     {"tok_emb.weight", torch::randn({5, d})}};
  const auto flat = unbank_state_dict(banked);
  EXPECT_EQ(flat.size(), 4 * L + 2 * L + 1);
  EXPECT_EQ(flat[1].first, "blocks.0.attn.proj.weight");
  EXPECT_TRUE(flat[1].second.equal(banked[0].second[L]));
  const auto back = rebank_state_dict(flat, banked, "test");
  for (size_t i = 0; i < banked.size(); ++i) EXPECT_TRUE(back[i].second.equal(banked[i].second));
}

TEST(FrontierGptqTest, SimilaritySortIsGreedyL1WithLowestIndexTies) {
  const auto codes = torch::tensor({{0, 0}, {9, 9}, {1, 0}, {0, 1}, {8, 9}}, torch::kInt8);
  const auto order = similarity_sort_l1(codes);
  EXPECT_EQ(order, (std::vector<uint16_t>{0, 2, 3, 4, 1}));  // 0 -> {2,3} tie: 2 -> 3 -> 4 -> 1
}

TEST(FrontierCodecTest, ByteShuffleRoundTripsEveryLength) {
  for (size_t n : {0, 1, 2, 3, 7, 1000}) {
    std::vector<char> data(n);
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 37 + 1);
    const auto sh = byte_shuffle(data);
    EXPECT_EQ(has_shuffle_header(sh), n >= 2) << n;
    EXPECT_EQ(byte_unshuffle(sh, "t"), data) << n;
  }
  const auto sh = byte_shuffle({'a', 'b', 'c', 'd', 'e'});
  EXPECT_EQ(std::string(sh.begin(), sh.end()), std::string("BSHF\x02" "acebd", 10));
}

TEST(FrontierCodecTest, BrotliAndXzRoundTripAndAreBounded) {
  std::vector<char> data(200000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * i) % 251);
  const auto b = brotli_compress(data, 11);
  EXPECT_EQ(brotli_decompress(b, "t", 1 << 20), data);
  EXPECT_THROW(brotli_decompress(b, "t", 1000), Error);
  EXPECT_THROW(brotli_decompress(std::vector<char>(b.begin(), b.end() - 3), "t", 1 << 20), Error);
  const auto x = lzma_compress(data, 9);
  EXPECT_TRUE(is_xz(x));
  EXPECT_EQ(lzma_decompress(x, "t", 1 << 20), data);
  EXPECT_THROW(lzma_decompress(x, "t", 1000), Error);
  EXPECT_THROW(lzma_decompress(std::vector<char>(x.begin(), x.end() - 3), "t", 1 << 20), Error);
}

TEST(FrontierCodecTest, StreamContainerValidatesSizes) {
  const std::vector<std::vector<char>> s = {{'a'}, {}, {'b', 'c'}};
  const auto blob = pack_streams(s);
  EXPECT_TRUE(is_pergroup(blob));
  EXPECT_EQ(unpack_streams(blob, "t"), s);
  EXPECT_THROW(unpack_streams(std::vector<char>(blob.begin(), blob.end() - 1), "t"), Error);
  auto extra = blob;
  extra.push_back('x');
  EXPECT_THROW(unpack_streams(extra, "t"), Error);
}

QuantResult tiny_result() {
  const int64_t hidden = 128;  // B factors divide 64: the asymmetric form
  return gptq_mixed_quantize(tiny_flat(hidden), tiny_hessians(hidden), tiny_cfg());
}

void expect_same(const QuantResult& a, const QuantResult& b) {
  std::map<std::string, torch::Tensor> m(a.w.begin(), a.w.end());
  ASSERT_EQ(m.size(), b.w.size());
  for (const auto& [n, t] : b.w) {
    ASSERT_TRUE(m.count(n)) << n;
    EXPECT_EQ(m[n].scalar_type(), t.scalar_type()) << n;
    EXPECT_TRUE(m[n].equal(t)) << n;
  }
  ASSERT_EQ(a.meta.size(), b.meta.size());
  for (size_t i = 0; i < a.meta.size(); ++i) EXPECT_EQ(a.meta[i].second.kind, b.meta[i].second.kind);
}

TEST(FrontierCodecTest, EveryByteCodecRoundTripsAGptqArtifact) {
  const auto q = tiny_result();
  for (const char* name : {"zstd", "zlib", "lzma", "brotli"}) {
    for (bool shuffle : {false, true}) {
      CompressOptions o;
      o.codec = config::parse_choice_or_throw<Codec>("compressor", name);
      o.byte_shuffle = shuffle;
      const auto blob = encode_artifact(q, o);
      SCOPED_TRACE(std::string(name) + (shuffle ? "+shuffle" : ""));
      expect_same(decode_artifact(blob, "t"), q);
    }
  }
  EXPECT_THROW(config::parse_choice_or_throw<Codec>("compressor", "lrzip"), Error);
}

TEST(FrontierLrzipTest, PergroupRoundTripsExactly) {
  if (std::system("command -v lrzip >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "NOT RUN: the lrzip program is absent (apt-get install lrzip)";
  const auto q = tiny_result();
  CompressOptions o;
  o.codec = Codec::kPergroup;
  const auto blob = encode_artifact(q, o);
  EXPECT_TRUE(is_pergroup(blob));
  expect_same(decode_artifact(blob, "t"), q);
  std::vector<int64_t> sizes;
  serialize_pergroup(q, &sizes);
  ASSERT_EQ(sizes.size(), 9u);
  EXPECT_GT(sizes[0], 0);  // tok_emb
  EXPECT_EQ(sizes[2], 0);  // no attn.c_q codes in this dict
  EXPECT_GT(sizes[8], 0);  // row orders of tok_emb and fc
}

TEST(FrontierCodecTest, MissingLrzipIsNamed) {
  const std::string old = std::getenv("PATH") ? std::getenv("PATH") : "";
  const auto empty = std::filesystem::temp_directory_path() / "pgolf_no_lrzip_here";
  std::filesystem::create_directories(empty);
  ::setenv("PATH", empty.c_str(), 1);
  std::string msg;
  try {
    lrzip_program();
  } catch (const Error& e) {
    msg = e.what();
  }
  ::setenv("PATH", old.c_str(), 1);
  EXPECT_NE(msg.find("lrzip"), std::string::npos) << msg;
}

}  // namespace
}  // namespace pgolf::quant
