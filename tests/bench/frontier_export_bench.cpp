// Timing of the frontier export on CPU (issue 20, "Speed"; not a test): GPTQ + SDClip + gate +
// LQER (QUANT_SCHEME=gptq) on the 1.0611 record's shapes (11 layers, d 512, 8 heads / 4 KV,
// MLP x4, vocab 8192; random weights and Hessians of random correlated inputs), then every
// COMPRESSOR on that result: bytes, encode and decode seconds, exact round trip.
//   build/tests/frontier_export_bench [threads [out_dir]]   (default 1 thread; out_dir: write each
//   artifact there as <compressor>.bin, e.g. for reading them with the record's own code)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pgolf/core/files.h"
#include "pgolf/quant/container.h"
#include "pgolf/quant/gptq_mixed.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// X^T X / n of n samples of `dim` features with a shared component (a realistic spectrum).
torch::Tensor hessian(int64_t dim) {
  const auto x = torch::randn({2048, dim}) + 0.5 * torch::randn({2048, 1});
  return torch::matmul(x.t(), x) / 2048;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const std::string out_dir = argc > 2 ? argv[2] : "";
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const int64_t L = 11, d = 512, kv = 256, hid = 2048, vocab = 8192;
  pgolf::core::NamedTensors sd, hs;
  auto add = [&](const std::string& name, int64_t rows, int64_t cols, double std) {
    sd.emplace_back(name, torch::randn({rows, cols}) * std);
    hs.emplace_back(name, hessian(cols));
  };
  add("tok_emb.weight", vocab, d, 0.08);
  for (int64_t i = 0; i < L; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    add(b + "attn.c_q.weight", d, d, 0.05);
    add(b + "attn.c_k.weight", kv, d, 0.05);
    add(b + "attn.c_v.weight", kv, d, 0.05);
    add(b + "attn.proj.weight", d, d, 0.05);
    add(b + "mlp.fc.weight", hid, d, 0.05);
    add(b + "mlp.proj.weight", d, hid, 0.05);
    sd.emplace_back(b + "attn.attn_gate_w", torch::randn({8, 12}));
    sd.emplace_back(b + "attn_scale", torch::ones({d}));
  }
  pgolf::config::QuantConfig cfg;  // the 1.0611 run: int6/int7, SDClip sigmas, gate, LQER
  cfg.quant_scheme = pgolf::config::QuantScheme::kGptq;
  cfg.passthrough_max_numel = 65536;
  cfg.gated_attn_quant_gate = true;
  cfg.lqer_enabled = true;
  auto t0 = Clock::now();
  const auto q = pgolf::quant::gptq_mixed_quantize(sd, hs, cfg);
  std::printf("gptq_mixed_quantize: %zu tensors, %.2f s (%d threads)\n", sd.size(), since(t0),
              threads);
  const auto raw = pgolf::quant::serialize_quant(q);
  std::printf("torch.save {w, m}: %zu bytes\n", raw.size());
  for (const char* name : {"zstd", "zlib", "lzma", "brotli", "pergroup"}) {
    pgolf::quant::CompressOptions o;
    o.codec = pgolf::config::parse_choice_or_throw<pgolf::quant::Codec>("compressor", name);
    o.level = 22;
    t0 = Clock::now();
    const auto blob = pgolf::quant::encode_artifact(q, o);
    const double enc = since(t0);
    if (!out_dir.empty())
      pgolf::core::write_file_atomic(out_dir + "/" + name + ".bin", blob.data(), blob.size());
    t0 = Clock::now();
    const auto back = pgolf::quant::decode_artifact(blob, name);
    const double dec = since(t0);
    bool same = back.w.size() == q.w.size();
    for (const auto& [n, t] : q.w) {
      const auto* b = pgolf::core::find_tensor(back.w, n);
      same = same && b && b->equal(t);
    }
    std::printf("%-9s %10zu bytes  encode %7.2f s  decode %6.2f s  round trip %s\n", name,
                blob.size(), enc, dec, same ? "exact" : "DIFFERS");
  }
  return 0;
}
