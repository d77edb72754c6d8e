// Full-model test-time SGD (see ttt_sgd.h): the phases' global SGD and TTT_MODE=chunk_sgd.
#include "pgolf/eval/ttt_sgd.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "pgolf/core/error.h"
#include "pgolf/eval/sliding.h"
#include "pgolf/model/attention_banked.h"

namespace pgolf::eval {

GlobalSgdOptions global_sgd_options(const config::EvalConfig& e, int64_t seq_len) {
  GlobalSgdOptions o;
  o.lr = e.global_ttt_lr;
  o.momentum = e.global_ttt_momentum;
  o.epochs = e.global_ttt_epochs;
  o.chunk_tokens = e.global_ttt_chunk_tokens;
  o.batch_seqs = e.global_ttt_batch_seqs;
  o.seq_len = seq_len;
  o.warmup_start_lr = e.global_ttt_warmup_start_lr;
  o.warmup_chunks = e.global_ttt_warmup_chunks;
  o.grad_clip = e.global_ttt_grad_clip;
  o.respect_doc_boundaries = e.global_ttt_respect_doc_boundaries;
  o.freeze_blocks = e.ttt_freeze_blocks;
  return o;
}

double global_sgd_lr(const GlobalSgdOptions& o, int64_t ci, int64_t num_chunks) {
  const int64_t warm = std::max<int64_t>(0, std::min(o.warmup_chunks, num_chunks - 1));
  if (warm > 0 && ci < warm) {
    const double t = static_cast<double>(ci) / static_cast<double>(std::max<int64_t>(warm - 1, 1));
    return o.warmup_start_lr + (o.lr - o.warmup_start_lr) * t;
  }
  const double steps = static_cast<double>(std::max<int64_t>(num_chunks - 1 - warm, 1));
  const double k = static_cast<double>(std::max<int64_t>(ci - warm, 0));
  return o.lr * 0.5 * (1.0 + std::cos(M_PI * k / steps));
}

std::vector<torch::Tensor> sgd_parameters(model::BankedGPTImpl& m, int64_t freeze_blocks) {
  std::vector<torch::Tensor> out;
  for (const auto& item : m.named_parameters(/*recurse=*/true)) {
    bool frozen = false;
    for (int64_t b = 0; b < freeze_blocks && !frozen; ++b)
      frozen = item.key().find("blocks." + std::to_string(b) + ".") != std::string::npos;
    if (!frozen) out.push_back(item.value());
  }
  return out;
}

namespace {

// Mean CE of one batch: a packed row with document segments, or whole rows of seq_len.
torch::Tensor batch_loss(model::BankedGPTImpl& m, const torch::Tensor& local,
                         const GlobalSgdOptions& o) {
  const auto x = local.slice(0, 0, local.numel() - 1), y = local.slice(0, 1);
  if (!o.respect_doc_boundaries)
    return m.forward(x.view({-1, o.seq_len}).to(o.device), y.view({-1, o.seq_len}).to(o.device));
  const auto bos = x.eq(o.bos_id).nonzero().view(-1);
  std::vector<int64_t> pos(bos.data_ptr<int64_t>(), bos.data_ptr<int64_t>() + bos.numel());
  const auto cu = model::build_cu_seqlens(pos, x.numel(), o.seq_len, 64).first;
  return m.forward(x.unsqueeze(0).to(o.device), y.unsqueeze(0).to(o.device), cu.to(o.device));
}

}  // namespace

namespace {

// Sequences of step k (batches of batch_seqs from each rank's share) summed over the ranks.
int64_t sgd_step_seqs(int64_t chunk_seqs, int64_t world, int64_t batch_seqs, int64_t k) {
  int64_t n = 0;
  for (int64_t r = 0; r < world; ++r) {
    const int64_t share = chunk_seqs * (r + 1) / world - chunk_seqs * r / world;
    n += std::max<int64_t>(0, std::min((k + 1) * batch_seqs, share) - k * batch_seqs);
  }
  return n;
}

// Ranks > 1: every rank sums every parameter's gradient (zeros where this rank had none), so
// all ranks issue the same collectives in the same order.
void sum_sgd_grads(const std::vector<torch::Tensor>& params, const DistContext& dist) {
  for (const auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    torch::Tensor g = p.mutable_grad();
    dist.all_reduce_sum(g);
  }
}

}  // namespace

// Every rank takes the same number of steps (that of the largest share), so the gradient sums
// pair up even when shares differ; a step's loss is the mean over all of that step's sequences on
// every rank (each rank's batch mean weighted by its share of them): the record's average over
// ranks when shares are equal, and the one-rank batch's mean whenever one step covers the chunk.
void sgd_train_chunk(model::BankedGPTImpl& m, const torch::Tensor& tokens, int64_t chunk_start,
                     int64_t chunk_end, double lr, const GlobalSgdOptions& o,
                     const std::vector<torch::Tensor>& params, torch::optim::SGD& opt,
                     const DistContext& dist) {
  const int64_t chunk_seqs = (chunk_end - chunk_start) / o.seq_len;
  if (chunk_seqs <= 0) return;
  for (auto& g : opt.param_groups())
    static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
  const int64_t my_s = chunk_seqs * dist.rank / dist.world;
  const int64_t my_n = chunk_seqs * (dist.rank + 1) / dist.world - my_s;
  const int64_t largest = (chunk_seqs + dist.world - 1) / dist.world;
  const int64_t steps = (largest + o.batch_seqs - 1) / o.batch_seqs;
  const bool reduce = dist.world > 1 && dist.all_reduce_sum;
  for (int64_t ep = 0; ep < o.epochs; ++ep) {
    for (int64_t k = 0; k < steps; ++k) {
      const int64_t bs = k * o.batch_seqs, be = std::min(bs + o.batch_seqs, my_n);
      opt.zero_grad();
      if (be > bs) {
        const int64_t from = chunk_start + (my_s + bs) * o.seq_len;
        const int64_t to = chunk_start + (my_s + be) * o.seq_len + 1;
        torch::AutoGradMode grad_on(true);
        torch::Tensor loss = batch_loss(m, tokens.slice(0, from, to), o);
        if (reduce)
          loss = loss * (static_cast<double>(be - bs) /
                         static_cast<double>(sgd_step_seqs(chunk_seqs, dist.world, o.batch_seqs, k)));
        loss.backward();
      }
      if (reduce) sum_sgd_grads(params, dist);
      if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
      opt.step();
    }
  }
}

void global_sgd(model::BankedGPTImpl& m, const torch::Tensor& tokens, const GlobalSgdOptions& o,
                const DistContext& dist, std::vector<std::string>* log) {
  const int64_t total = tokens.numel() - 1;
  const int64_t num_chunks = (total + o.chunk_tokens - 1) / o.chunk_tokens;
  const auto params = sgd_parameters(m, o.freeze_blocks);
  for (auto& p : m.parameters()) p.set_requires_grad(false);
  for (auto& p : params) p.set_requires_grad(true);
  torch::optim::SGD opt(params, torch::optim::SGDOptions(o.lr).momentum(o.momentum));
  for (int64_t ci = 0; ci + 1 < num_chunks && o.epochs > 0; ++ci) {  // the last chunk: not trained
    const int64_t start = ci * o.chunk_tokens;
    const int64_t end = std::min((ci + 1) * o.chunk_tokens, total);
    if ((end - start) / o.seq_len <= 0) continue;
    const double lr = global_sgd_lr(o, ci, num_chunks);
    m.train();
    sgd_train_chunk(m, tokens, start, end, lr, o, params, opt, dist);
    m.eval();
    if (log != nullptr) {
      char line[96];
      std::snprintf(line, sizeof line, "tttg: c%lld/%lld lr:%.6f", static_cast<long long>(ci + 1),
                    static_cast<long long>(num_chunks), lr);
      log->emplace_back(line);
    }
  }
  for (auto& p : m.parameters()) p.set_requires_grad(false);
  m.eval();
}

namespace {

// Scores the windows `ws` (no grad), adding to `local` and the per-target record.
void score_windows(model::BankedGPTImpl& m, const torch::Tensor& tokens, const ByteSource& bytes,
                   const std::vector<int64_t>& ws, const ChunkSgdOptions& o, torch::Tensor& nll_sum,
                   BpbSums& local) {
  const int64_t L = o.sgd.seq_len, total = tokens.numel() - 1, n = static_cast<int64_t>(ws.size());
  auto x = torch::zeros({n, L}, torch::kInt64), y = torch::zeros({n, L}, torch::kInt64);
  auto pos = torch::zeros({n, L}, torch::kInt64);
  auto scored = torch::zeros({n, L}, torch::kBool);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t w = ws[static_cast<size_t>(i)], wlen = std::min(w + L, total) - w;
    x[i].slice(0, 0, wlen).copy_(tokens.slice(0, w, w + wlen));
    y[i].slice(0, 0, wlen).copy_(tokens.slice(0, w + 1, w + wlen + 1));
    pos[i].slice(0, 0, wlen).copy_(torch::arange(w + 1, w + wlen + 1));
    const int64_t s = sliding_scored_begin(w, wlen, L, o.stride, SlidingMode::kReference);
    scored[i].slice(0, s, wlen).fill_(true);
  }
  torch::NoGradGuard no_grad;
  const auto nll = per_token_nll(m.forward_logits(x.to(o.sgd.device)), y).to(torch::kCPU,
                                                                             torch::kFloat64);
  nll_sum += nll.masked_fill(scored.logical_not(), 0.0).sum();
  local.tokens += static_cast<double>(scored.sum().item<int64_t>());
  local.bytes += bytes.sum(x, y, pos, scored);
  if (o.per_target_nll != nullptr) {
    const auto idx = (pos - 1).masked_select(scored);
    o.per_target_nll->index_put_({idx}, nll.masked_select(scored));
  }
}

}  // namespace

EvalResult eval_chunk_sgd(model::BankedGPTImpl& m, const torch::Tensor& val_tokens,
                          const ByteSource& bytes, const ChunkSgdOptions& o,
                          const DistContext& dist) {
  const torch::Tensor tokens = as_token_stream(val_tokens, "validation tokens");
  bytes.validate(tokens.numel(), "eval_chunk_sgd");
  const int64_t total = tokens.numel() - 1, L = o.sgd.seq_len, C = o.sgd.chunk_tokens;
  PGOLF_CHECK_INPUT(C > 0 && o.stride > 0 && o.stride <= L && o.batch_seqs > 0,
                    "chunk_sgd: GLOBAL_TTT_CHUNK_TOKENS (" << C << "), EVAL_STRIDE (" << o.stride
                                                           << ") <= seq_len (" << L
                                                           << ") and EVAL_BATCH_SEQS must be > 0");
  const int64_t num_chunks = (total + C - 1) / C;
  std::vector<std::vector<int64_t>> chunk_windows(static_cast<size_t>(num_chunks));
  for (const int64_t w : sliding_window_starts(total, L, o.stride, SlidingMode::kReference)) {
    const int64_t wlen = std::min(w + L, total) - w;
    const int64_t first = w + sliding_scored_begin(w, wlen, L, o.stride, SlidingMode::kReference);
    chunk_windows[static_cast<size_t>(std::min(first / C, num_chunks - 1))].push_back(w);
  }
  if (o.per_target_nll != nullptr)
    *o.per_target_nll =
        torch::full({total}, std::numeric_limits<double>::quiet_NaN(), torch::kFloat64);
  const auto params = sgd_parameters(m, o.sgd.freeze_blocks);
  for (auto& p : m.parameters()) p.set_requires_grad(false);
  for (auto& p : params) p.set_requires_grad(true);
  torch::optim::SGD opt(params, torch::optim::SGDOptions(o.sgd.lr).momentum(o.sgd.momentum));
  ProgressReporter progress(o.progress, "ttt_chunk_sgd", "chunks", num_chunks);
  torch::Tensor nll_sum = torch::zeros({}, torch::kFloat64);
  BpbSums local;
  int64_t windows = 0;
  for (int64_t ci = 0; ci < num_chunks; ++ci) {
    progress.poll();
    const auto& all = chunk_windows[static_cast<size_t>(ci)];
    if (all.empty()) continue;
    const int64_t n = static_cast<int64_t>(all.size());
    const std::vector<int64_t> mine(all.begin() + n * dist.rank / dist.world,
                                    all.begin() + n * (dist.rank + 1) / dist.world);
    m.eval();
    for (size_t b = 0; b < mine.size(); b += static_cast<size_t>(o.batch_seqs)) {
      const std::vector<int64_t> ws(mine.begin() + static_cast<std::ptrdiff_t>(b),
                                    mine.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                       mine.size(), b + o.batch_seqs)));
      score_windows(m, tokens, bytes, ws, o, nll_sum, local);
    }
    windows += static_cast<int64_t>(mine.size());
    // Then train on the chunk just scored (never the last one).
    if (ci + 1 < num_chunks && o.sgd.epochs > 0) {
      m.train();
      sgd_train_chunk(m, tokens, ci * C, std::min((ci + 1) * C, total),
                      global_sgd_lr(o.sgd, ci, num_chunks), o.sgd, params, opt, dist);
      m.eval();
    }
    if (progress.due(ci, ci + 1 == num_chunks)) {
      local.nll = nll_sum.item<double>();
      progress.report(ci + 1, local);
    }
  }
  for (auto& p : m.parameters()) p.set_requires_grad(false);
  local.nll = nll_sum.item<double>();
  EvalResult r;
  r.method = "ttt_chunk_sgd";
  r.units = num_chunks;
  r.local_units = num_chunks;
  r.local_batches = windows;
  finish_result(r, local, dist, progress);
  r.settings = {{"chunk_tokens", C}, {"stride", o.stride}, {"seq_len", L},
                {"lr", o.sgd.lr},    {"epochs", o.sgd.epochs}, {"freeze_blocks", o.sgd.freeze_blocks},
                {"world_size", dist.world}};
  return r;
}

}  // namespace pgolf::eval
