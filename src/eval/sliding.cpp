// Sliding-window validation (reference-spec §8.2, eval_val_sliding of the PR #180 record) with the
// record's window filter (`reference`) or the corrected one of the 2026-04-01 record (`exact`,
// §17).
#include "pgolf/eval/sliding.h"

#include <algorithm>

#include "pgolf/core/error.h"

namespace pgolf::eval {

const char* to_string(SlidingMode mode) { return config::choice_name(mode); }

std::vector<int64_t> sliding_window_starts(int64_t total_targets, int64_t seq_len, int64_t stride,
                                           SlidingMode mode) {
  PGOLF_CHECK_INPUT(stride > 0 && stride < seq_len,
                    "EVAL_STRIDE: sliding eval needs 0 < stride < TRAIN_SEQ_LEN="
                        << seq_len << ", found " << stride);
  std::vector<int64_t> starts;
  for (int64_t ws = 0; ws < total_targets; ws += stride) {
    const bool keep = mode == SlidingMode::kReference
                          ? std::min(ws + seq_len, total_targets) - ws >= stride
                          // Corrected filter: a window must reach targets no earlier window scored.
                          : ws + seq_len - stride < total_targets;
    if (keep || ws == 0) starts.push_back(ws);
  }
  return starts;
}

int64_t sliding_scored_begin(int64_t ws, int64_t wlen, int64_t seq_len, int64_t stride,
                             SlidingMode mode) {
  if (ws == 0) return 0;
  // Reference: always the last `stride` positions, even when a short tail window has already been
  // covered by the previous full window (the double counting). Exact: only positions past the
  // previous window's end, i.e. from seq_len - stride on.
  return mode == SlidingMode::kReference ? std::max<int64_t>(wlen - stride, 0) : seq_len - stride;
}

bool sliding_enabled(const config::EvalConfig& eval, int64_t seq_len) {
  return eval.eval_stride > 0 && eval.eval_stride < seq_len;
}

SlidingEvalOptions sliding_options(const config::EvalConfig& eval, int64_t seq_len) {
  SlidingEvalOptions o;
  o.seq_len = seq_len;
  o.stride = eval.eval_stride;
  o.batch_seqs = eval.eval_batch_seqs;
  o.mode = eval.sliding_mode;
  return o;
}

namespace {

struct WindowBatch {
  torch::Tensor x;       // (B,L) int64 inputs, zero-padded on the right
  torch::Tensor y;       // (B,L) int64 targets, zero-padded on the right
  torch::Tensor scored;  // (B,L) bool: positions this window scores
  torch::Tensor pos;     // (B,L) int64: stream index of each target (the byte sidecar's entry)
};

WindowBatch build_batch(const torch::Tensor& tokens, const int64_t* starts, int64_t count,
                        const SlidingEvalOptions& opts) {
  const int64_t total = tokens.numel() - 1;
  const int64_t L = opts.seq_len;
  WindowBatch b{torch::zeros({count, L}, torch::kInt64), torch::zeros({count, L}, torch::kInt64),
                torch::zeros({count, L}, torch::kBool), torch::zeros({count, L}, torch::kInt64)};
  for (int64_t i = 0; i < count; ++i) {
    const int64_t ws = starts[i];
    const int64_t wlen = std::min(ws + L, total) - ws;
    b.x[i].slice(0, 0, wlen).copy_(tokens.slice(0, ws, ws + wlen));
    b.y[i].slice(0, 0, wlen).copy_(tokens.slice(0, ws + 1, ws + wlen + 1));
    b.pos[i].slice(0, 0, wlen).copy_(torch::arange(ws + 1, ws + wlen + 1));
    const int64_t begin = sliding_scored_begin(ws, wlen, L, opts.stride, opts.mode);
    if (begin < wlen) b.scored[i].slice(0, begin, wlen).fill_(true);
  }
  return b;
}

}  // namespace

EvalResult eval_sliding(const LogitsFn& logits_fn, const torch::Tensor& val_tokens,
                        const ByteLuts& luts, const SlidingEvalOptions& opts,
                        const DistContext& dist) {
  PGOLF_CHECK(static_cast<bool>(logits_fn), "eval_sliding: no logits function");
  PGOLF_CHECK(dist.world > 0 && dist.rank >= 0 && dist.rank < dist.world,
              "eval_sliding: rank " << dist.rank << " outside world " << dist.world);
  PGOLF_CHECK_INPUT(opts.batch_seqs > 0,
                    "EVAL_BATCH_SEQS must be positive, found " << opts.batch_seqs);
  const torch::Tensor tokens = as_token_stream(val_tokens, "validation tokens");
  const ByteSource bytes{opts.byte_sidecar.defined() ? ByteLuts{} : luts.to(torch::kCPU),
                         opts.byte_sidecar};
  bytes.validate(tokens.numel(), "eval_sliding");
  PGOLF_CHECK_INPUT(tokens.numel() >= 2,
                    "validation tokens: need at least 2 tokens, found " << tokens.numel());
  if (!bytes.has_sidecar()) check_ids_in_luts(tokens, luts, "validation tokens");
  const std::vector<int64_t> starts =
      sliding_window_starts(tokens.numel() - 1, opts.seq_len, opts.stride, opts.mode);
  const int64_t n = static_cast<int64_t>(starts.size());
  const int64_t my_begin = n * dist.rank / dist.world;
  const int64_t my_end = n * (dist.rank + 1) / dist.world;

  ProgressReporter progress(opts.progress, "sliding", "windows", my_end - my_begin);
  torch::NoGradGuard no_grad;
  torch::Tensor nll_sum =
      torch::zeros({}, torch::TensorOptions(torch::kFloat64).device(opts.device));
  BpbSums local;
  int64_t batch_index = 0;
  for (int64_t bi = my_begin; bi < my_end; bi += opts.batch_seqs, ++batch_index) {
    progress.poll();
    const int64_t count = std::min(opts.batch_seqs, my_end - bi);
    const WindowBatch b = build_batch(tokens, starts.data() + bi, count, opts);
    const torch::Tensor logits = logits_fn(b.x.to(opts.device));
    PGOLF_CHECK(
        logits.dim() == 3 && logits.size(0) == count && logits.size(1) == opts.seq_len,
        "eval_sliding: logits function returned " << logits.sizes() << " for ids " << b.x.sizes());
    // Cross-entropy of the scored positions only (a window scores `stride` of its seq_len
    // positions): the fp32 cast and log-softmax skip the rest, and padded positions never
    // contribute, even if non-finite. Each position's NLL is the same as over the whole window.
    const torch::Tensor rows = b.scored.reshape(-1).nonzero().squeeze(1);
    const torch::Tensor picked =
        logits.reshape({-1, logits.size(2)}).index_select(0, rows.to(logits.device()));
    const torch::Tensor targets = b.y.reshape(-1).index_select(0, rows);
    nll_sum += per_token_nll(picked.unsqueeze(0), targets.unsqueeze(0)).to(torch::kFloat64).sum();
    local.tokens += static_cast<double>(rows.numel());
    // Byte rule with prev = the input token at the scored position (or the sidecar's entry).
    local.bytes += bytes.sum(b.x, b.y, b.pos, b.scored);
    if (progress.due(batch_index, bi + count == my_end)) {
      local.nll = nll_sum.item<double>();
      progress.report(bi + count - my_begin, local);
    }
  }
  local.nll = nll_sum.item<double>();

  EvalResult r;
  r.method = "sliding";
  r.mode = to_string(opts.mode);
  r.units = n;
  r.local_units = my_end - my_begin;
  r.local_batches = batch_index;
  finish_result(r, local, dist, progress);
  r.settings = {{"seq_len", opts.seq_len},
                {"stride", opts.stride},
                {"batch_seqs", opts.batch_seqs},
                {"byte_sidecar", bytes.has_sidecar()},
                {"world_size", dist.world}};
  return r;
}

}  // namespace pgolf::eval
