// Not a test: CPU timings of each frontier evaluation mode (README "Frontier evaluation") on a
// shrunk 1.0611-style banked GPT with random weights and a synthetic stream of documents:
// standard (dense), standard VARLEN_ATTN with a byte sidecar, sliding, doc_lora without and with
// phases, chunk_sgd. Prints seconds and scored tokens per second per mode.
//   frontier_eval_bench [tokens=8192] [dim=128] [layers=4]   (context 512, documents 64..575)
#include <chrono>
#include <cstdio>
#include <cstdlib>

// No tests/ include path on this target: the shared test header by its relative path.
#include "../common/tiny_banked.h"
#include "pgolf/eval/sliding.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt_doc.h"
#include "pgolf/eval/ttt_sgd.h"
#include "pgolf/model/gpt_banked.h"

using namespace pgolf;

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 8192;
  const int64_t dim = argc > 2 ? std::atoll(argv[2]) : 128;
  const int64_t layers = argc > 3 ? std::atoll(argv[3]) : 4;
  torch::set_num_threads(1);
  auto c = pgolf::testing::tiny_banked_config(8192, layers, dim);
  c.mlp_mult = 4.0;
  c.rope_dims = 16;
  c.xsa_last_n = layers;
  c.ln_scale = c.skip_gates_enabled = c.smear_gate_enabled = c.sparse_attn_gate_enabled = true;
  c.num_loops = 1;
  c.loop_start = 1;
  c.loop_end = 2;
  c.parallel_start_layer = layers - 1;
  torch::manual_seed(1);
  model::BankedGPT m(c);
  m->set_looping(true);
  {
    torch::NoGradGuard g;
    for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.02);
  }
  // Documents of 64..575 tokens, BOS = 1.
  std::vector<torch::Tensor> parts;
  int64_t total = 0;
  while (total < n + 1) {
    const int64_t len = 64 + torch::randint(512, {1}).item<int64_t>();
    parts.push_back(torch::ones({1}, torch::kInt64));
    parts.push_back(torch::randint(2, c.vocab_size, {len - 1}, torch::kInt64));
    total += len;
  }
  const auto stream = torch::cat(parts).slice(0, 0, n + 1);
  const auto sidecar = torch::randint(1, 5, {n + 1}, torch::kInt32);
  eval::ByteSource bytes{{}, sidecar};
  auto time = [&](const char* name, auto&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    const eval::EvalResult r = fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-28s %8.2f s  %9.0f tokens/s  bpb %.4f\n", name, s, r.sums.tokens / s, r.val_bpb);
  };
  std::printf("banked GPT L%lld d%lld vocab %lld, %lld tokens, 1 thread\n",
              static_cast<long long>(layers), static_cast<long long>(dim),
              static_cast<long long>(c.vocab_size), static_cast<long long>(n));
  const int64_t L = 512;
  eval::StandardEvalOptions so;
  so.seq_len = L;
  so.val_batch_size = 8 * 4 * L;
  so.byte_sidecar = sidecar;
  eval::LogitsFn dense = [&](const torch::Tensor& ids) { return m->forward_logits(ids); };
  {
    torch::NoGradGuard g;
    m->eval();
    time("standard (dense)", [&] { return eval::eval_standard(dense, stream, {}, so); });
    so.varlen_logits = [&](const torch::Tensor& ids, const torch::Tensor& cu) {
      return m->forward_logits(ids, cu);
    };
    time("standard VARLEN_ATTN", [&] { return eval::eval_standard(dense, stream, {}, so); });
    eval::SlidingEvalOptions sl;
    sl.seq_len = L;
    sl.stride = 128;
    sl.batch_seqs = 4;
    sl.byte_sidecar = sidecar;
    time("sliding stride 128", [&] { return eval::eval_sliding(dense, stream, {}, sl); });
  }
  eval::DocTttOptions d;
  d.lora = {16, 144.0, true, true, true, true};
  d.chunk_size = 48;
  d.eval_seq_len = L;
  d.batch_size = 4;
  d.beta2 = 0.99;
  d.weight_decay = 0.5;
  d.global.seq_len = L;
  d.global.chunk_tokens = 2048;
  d.global.batch_seqs = 2;
  const auto base = m->state_dict();
  time("doc_lora (no phases)", [&] { return eval::eval_ttt_doc(*m, stream, bytes, d); });
  d.phased = true;
  d.prefix_docs = 8;
  d.num_phases = 2;
  m->load_state_dict(base);
  time("doc_lora phased 2x", [&] { return eval::eval_ttt_doc(*m, stream, bytes, d); });
  m->load_state_dict(base);
  eval::ChunkSgdOptions cs;
  cs.sgd.seq_len = L;
  cs.sgd.chunk_tokens = 2048;
  cs.sgd.batch_seqs = 2;
  cs.sgd.epochs = 1;
  cs.stride = 128;
  cs.batch_seqs = 4;
  time("chunk_sgd", [&] { return eval::eval_chunk_sgd(*m, stream, bytes, cs); });
  return 0;
}
