// TTT-LoRA evaluation driver (reference-spec §8.4; 2026-03-17_LoRA_TTT record's eval_val_ttt_lora).
// Score-then-update: a chunk's NLL is accumulated from the same forward whose loss then drives the
// Adam step, so no target is ever scored by adapters that have seen it.
#include "pgolf/eval/ttt.h"

#include <algorithm>
#include <limits>

#include "pgolf/core/error.h"

namespace pgolf::eval {

std::vector<Document> find_documents(const torch::Tensor& tokens, int64_t bos_id,
                                     bool include_next_bos) {
  const torch::Tensor t = as_token_stream(tokens, "validation tokens");
  const torch::Tensor bos = t.eq(bos_id).nonzero().view(-1);
  PGOLF_CHECK_INPUT(bos.numel() > 0, "validation tokens: no BOS (id "
                                         << bos_id
                                         << ") found; TTT-LoRA needs documents delimited by BOS");
  const int64_t n = bos.numel();
  const int64_t* pos = bos.data_ptr<int64_t>();
  std::vector<Document> docs;
  docs.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t start = pos[i];
    int64_t end = i + 1 < n ? pos[i + 1] : t.numel();
    if (include_next_bos && i + 1 < n) ++end;
    PGOLF_CHECK_INPUT(end - start >= 2, "validation tokens: document "
                                            << i << " at offset " << start << " has " << end - start
                                            << " token(s); expected at least 2");
    docs.push_back({start, end - start, i});
  }
  return docs;
}

ChunkWindow ttt_chunk_window(int64_t ci, int64_t pred_len, int64_t chunk_size,
                             int64_t eval_seq_len) {
  const int64_t num_chunks = ttt_num_chunks(pred_len, chunk_size);
  const int64_t chunk_start = ci * chunk_size;
  const int64_t chunk_end = ci == num_chunks - 1 ? pred_len : (ci + 1) * chunk_size;
  ChunkWindow w;
  w.win_start = std::max<int64_t>(0, chunk_end - eval_seq_len);
  w.win_len = chunk_end - w.win_start;
  w.chunk_offset = chunk_start - w.win_start;
  w.chunk_len = chunk_end - chunk_start;
  return w;
}

TttOptions ttt_options(const config::EvalConfig& eval, const config::OptimConfig& optim) {
  TttOptions o;
  o.lora_rank = eval.ttt_lora_rank;
  o.lora_lr = eval.ttt_lora_lr;
  o.chunk_size = eval.ttt_chunk_size;
  o.eval_seq_len = eval.ttt_eval_seq_len;
  o.batch_size = eval.ttt_batch_size;
  o.beta1 = optim.beta1;
  o.beta2 = optim.beta2;
  return o;
}

namespace {

// splitmix64 of (seed, document index): decorrelated per-document adapter seeds.
uint64_t row_seed(uint64_t seed, int64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(index) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Inputs/targets of chunk ci for every document of the batch, padded on the right to `context`.
struct ChunkBatch {
  torch::Tensor x;                   // (B,C) int64
  torch::Tensor y;                   // (B,C) int64
  torch::Tensor scored;              // (B,C) bool: this row's chunk positions
  std::vector<int64_t> target_base;  // stream index of row b's window position 0 (-1: inactive)
};

ChunkBatch build_chunk(const torch::Tensor& tokens, const std::vector<Document>& docs, int64_t ci,
                       int64_t context, const TttOptions& opts) {
  const int64_t bsz = static_cast<int64_t>(docs.size());
  ChunkBatch c{torch::zeros({bsz, context}, torch::kInt64),
               torch::zeros({bsz, context}, torch::kInt64),
               torch::zeros({bsz, context}, torch::kBool), std::vector<int64_t>(docs.size(), -1)};
  for (int64_t b = 0; b < bsz; ++b) {
    const Document& d = docs[static_cast<size_t>(b)];
    const int64_t pred_len = d.length - 1;
    if (ci >= ttt_num_chunks(pred_len, opts.chunk_size)) continue;  // document already finished
    const ChunkWindow w = ttt_chunk_window(ci, pred_len, opts.chunk_size, opts.eval_seq_len);
    const int64_t from = d.start + w.win_start;
    c.x[b].slice(0, 0, w.win_len).copy_(tokens.slice(0, from, from + w.win_len));
    c.y[b].slice(0, 0, w.win_len).copy_(tokens.slice(0, from + 1, from + w.win_len + 1));
    c.scored[b].slice(0, w.chunk_offset, w.chunk_offset + w.chunk_len).fill_(true);
    c.target_base[static_cast<size_t>(b)] = from;
  }
  return c;
}

// Copies the scored NLL of each row into the per-target record (index = stream index of the input).
void record_targets(const ChunkBatch& c, const torch::Tensor& nll, torch::Tensor& out) {
  const torch::Tensor cpu = nll.detach().to(torch::kCPU, torch::kFloat64);
  for (size_t b = 0; b < c.target_base.size(); ++b) {
    if (c.target_base[b] < 0) continue;
    const torch::Tensor pos = c.scored[static_cast<int64_t>(b)].nonzero().view(-1);
    out.index_put_({pos + c.target_base[b]}, cpu[static_cast<int64_t>(b)].index_select(0, pos));
  }
}

// One document batch: fresh adapters and optimiser, then chunk by chunk score, then update.
void run_doc_batch(LoraModel& model, const torch::Tensor& tokens, const std::vector<Document>& docs,
                   const ByteLuts& luts, const TttOptions& opts, torch::Tensor& nll_sum,
                   BpbSums& local) {
  std::vector<uint64_t> seeds;
  std::vector<int64_t> num_chunks;
  for (const Document& d : docs) {
    seeds.push_back(row_seed(opts.seed, d.index));
    num_chunks.push_back(ttt_num_chunks(d.length - 1, opts.chunk_size));
  }
  const LoraState lora = make_lora(model.lora_shapes(), opts.lora_rank, seeds, opts.device);
  const std::vector<torch::Tensor> params = lora.parameters();
  torch::optim::Adam adam(params, torch::optim::AdamOptions(opts.lora_lr)
                                      .betas(std::make_tuple(opts.beta1, opts.beta2))
                                      .eps(opts.adam_eps)
                                      .weight_decay(0.0));
  const int64_t max_chunks = *std::max_element(num_chunks.begin(), num_chunks.end());
  for (int64_t ci = 0; ci < max_chunks; ++ci) {
    // Full chunks share one window layout; a shorter last chunk is placed inside its own window.
    const ChunkWindow full =
        ttt_chunk_window(ci, (ci + 1) * opts.chunk_size, opts.chunk_size, opts.eval_seq_len);
    torch::Tensor train_mask = torch::zeros({static_cast<int64_t>(docs.size())}, torch::kFloat32);
    for (size_t b = 0; b < docs.size(); ++b)
      train_mask[static_cast<int64_t>(b)] = ci < num_chunks[b] - 1 ? 1.0 : 0.0;
    const bool needs_train = train_mask.sum().item<double>() > 0;
    const ChunkBatch c = build_chunk(tokens, docs, ci, full.win_len, opts);

    torch::Tensor nll;
    {
      torch::AutoGradMode grad_mode(needs_train);
      nll = per_token_nll(model.logits(c.x.to(opts.device), lora), c.y);  // (B,C) fp32
    }
    // Score first, from this forward, before any update that has seen these targets.
    const torch::Tensor scored = c.scored.to(nll.device());
    nll_sum += nll.detach().to(torch::kFloat64).masked_fill(scored.logical_not(), 0.0).sum();
    local.tokens += static_cast<double>(c.scored.sum().item<int64_t>());
    local.bytes += sum_bytes(luts, c.x, c.y, c.scored);
    if (opts.per_target_nll != nullptr) record_targets(c, nll, *opts.per_target_nll);
    if (!needs_train) continue;
    // Then one Adam step on the mean loss of each document's (full, non-final) chunk.
    const torch::Tensor per_doc =
        nll.slice(1, full.chunk_offset, full.chunk_offset + opts.chunk_size).mean(1);
    const torch::Tensor loss = (per_doc * train_mask.to(per_doc.device())).sum();
    const auto grads =
        torch::autograd::grad({loss}, params, /*grad_outputs=*/{}, /*retain_graph=*/false,
                              /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i];
    adam.step();
  }
}

void check_options(const TttOptions& opts) {
  PGOLF_CHECK_INPUT(opts.chunk_size > 0,
                    "TTT_CHUNK_SIZE must be positive, found " << opts.chunk_size);
  PGOLF_CHECK_INPUT(opts.eval_seq_len >= opts.chunk_size,
                    "TTT_EVAL_SEQ_LEN (" << opts.eval_seq_len << ") must be >= TTT_CHUNK_SIZE ("
                                         << opts.chunk_size << ")");
  PGOLF_CHECK_INPUT(opts.batch_size > 0,
                    "TTT_BATCH_SIZE must be positive, found " << opts.batch_size);
  PGOLF_CHECK_INPUT(opts.lora_lr >= 0, "TTT_LORA_LR must be >= 0, found " << opts.lora_lr);
}

}  // namespace

EvalResult eval_ttt_lora(LoraModel& model, const torch::Tensor& val_tokens, const ByteLuts& luts,
                         const TttOptions& opts, const DistContext& dist) {
  PGOLF_CHECK(dist.world > 0 && dist.rank >= 0 && dist.rank < dist.world,
              "eval_ttt_lora: rank " << dist.rank << " outside world " << dist.world);
  check_options(opts);
  validate_luts(luts, "eval_ttt_lora");
  const ByteLuts cpu_luts = luts.to(torch::kCPU);
  const torch::Tensor tokens = as_token_stream(val_tokens, "validation tokens");
  check_ids_in_luts(tokens, luts, "validation tokens");
  const std::vector<Document> docs = find_documents(tokens, opts.bos_id);
  const int64_t n = static_cast<int64_t>(docs.size());
  std::vector<Document> mine(docs.begin() + n * dist.rank / dist.world,
                             docs.begin() + n * (dist.rank + 1) / dist.world);
  // Batch documents of similar chunk counts (stable, as Python's sort) so batches finish together.
  std::stable_sort(mine.begin(), mine.end(), [&](const Document& a, const Document& b) {
    return (a.length - 2) / opts.chunk_size < (b.length - 2) / opts.chunk_size;
  });
  if (opts.per_target_nll != nullptr) {
    *opts.per_target_nll = torch::full({tokens.numel() - 1},
                                       std::numeric_limits<double>::quiet_NaN(), torch::kFloat64);
  }

  const int64_t local_docs = static_cast<int64_t>(mine.size());
  ProgressReporter progress(opts.progress, "ttt_lora", "documents", local_docs);
  torch::Tensor nll_sum =
      torch::zeros({}, torch::TensorOptions(torch::kFloat64).device(opts.device));
  BpbSums local;
  int64_t batch_index = 0;
  for (int64_t bi = 0; bi < local_docs; bi += opts.batch_size, ++batch_index) {
    progress.poll();
    const int64_t end = std::min(bi + opts.batch_size, local_docs);
    const std::vector<Document> batch(mine.begin() + bi, mine.begin() + end);
    run_doc_batch(model, tokens, batch, cpu_luts, opts, nll_sum, local);
    if (progress.due(batch_index, end == local_docs)) {
      local.nll = nll_sum.item<double>();
      progress.report(end, local);
    }
  }
  local.nll = nll_sum.item<double>();

  EvalResult r;
  r.method = "ttt_lora";
  r.units = n;
  r.local_units = local_docs;
  r.local_batches = batch_index;
  finish_result(r, local, dist, progress);
  r.settings = {{"lora_rank", opts.lora_rank},   {"lora_lr", opts.lora_lr},
                {"chunk_size", opts.chunk_size}, {"eval_seq_len", opts.eval_seq_len},
                {"batch_size", opts.batch_size}, {"beta1", opts.beta1},
                {"beta2", opts.beta2},           {"adam_eps", opts.adam_eps},
                {"world_size", dist.world}};
  return r;
}

}  // namespace pgolf::eval
