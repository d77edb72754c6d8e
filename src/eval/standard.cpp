// Standard validation (reference-spec §8.1, eval_val of the PR #180 record): contiguous rank slices
// of non-overlapping sequences; per batch the fp32 mean CE times the token count is added in
// float64.
#include "pgolf/eval/standard.h"

#include <algorithm>

#include "pgolf/core/error.h"
#include "pgolf/model/attention_banked.h"

namespace pgolf::eval {

int64_t standard_local_batch_seqs(int64_t val_batch_size, int64_t world, int64_t grad_accum_steps,
                                  int64_t seq_len) {
  PGOLF_CHECK_INPUT(seq_len > 0, "TRAIN_SEQ_LEN must be positive, found " << seq_len);
  PGOLF_CHECK_INPUT(world > 0 && grad_accum_steps > 0,
                    "eval: world size and grad_accum_steps must be positive, found "
                        << world << " and " << grad_accum_steps);
  const int64_t local_tokens = val_batch_size / (world * grad_accum_steps);
  PGOLF_CHECK_INPUT(local_tokens >= seq_len,
                    "VAL_BATCH_SIZE must provide at least one sequence per rank: VAL_BATCH_SIZE="
                        << val_batch_size << " / (WORLD_SIZE=" << world
                        << " * GRAD_ACCUM_STEPS=" << grad_accum_steps << ") = " << local_tokens
                        << " tokens < TRAIN_SEQ_LEN=" << seq_len);
  return local_tokens / seq_len;
}

StandardEvalOptions standard_options(const config::TrainConfig& train, int64_t grad_accum_steps) {
  StandardEvalOptions o;
  o.seq_len = train.train_seq_len;
  o.val_batch_size = train.val_batch_size;
  o.grad_accum_steps = grad_accum_steps;
  return o;
}

namespace {

// One packed row (the record's eval_val batch): cu_seqlens from the BOS positions of x.
torch::Tensor varlen_batch_nll(const StandardEvalOptions& o, const torch::Tensor& x,
                               const torch::Tensor& y) {
  const auto flat = x.reshape(-1), bos = flat.eq(o.bos_id).nonzero().view(-1);
  std::vector<int64_t> pos(bos.data_ptr<int64_t>(), bos.data_ptr<int64_t>() + bos.numel());
  const auto cu = model::build_cu_seqlens(pos, flat.numel(), o.seq_len, 64).first;
  const auto logits = o.varlen_logits(flat.unsqueeze(0).to(o.device), cu.to(o.device));
  PGOLF_CHECK(logits.dim() == 3 && logits.size(1) == flat.numel(),
              "eval_standard: varlen logits " << logits.sizes() << " for " << flat.numel()
                                              << " ids");
  return per_token_nll(logits, y.reshape({1, -1})).to(torch::kFloat64).sum();
}

}  // namespace

EvalResult eval_standard(const LogitsFn& logits_fn, const torch::Tensor& val_tokens,
                         const ByteLuts& luts, const StandardEvalOptions& opts,
                         const DistContext& dist) {
  PGOLF_CHECK(logits_fn || opts.varlen_logits, "eval_standard: no logits function");
  PGOLF_CHECK(dist.world > 0 && dist.rank >= 0 && dist.rank < dist.world,
              "eval_standard: rank " << dist.rank << " outside world " << dist.world);
  const int64_t seq_len = opts.seq_len;
  const int64_t batch_seqs =
      standard_local_batch_seqs(opts.val_batch_size, dist.world, opts.grad_accum_steps, seq_len);
  const torch::Tensor tokens = as_token_stream(val_tokens, "validation tokens");
  const ByteSource bytes{opts.byte_sidecar.defined() ? ByteLuts{} : luts.to(torch::kCPU),
                         opts.byte_sidecar};
  bytes.validate(tokens.numel(), "eval_standard");
  const int64_t total_seqs = (tokens.numel() - 1) / seq_len;
  PGOLF_CHECK_INPUT(total_seqs >= 1,
                    "validation tokens: " << tokens.numel()
                                          << " tokens cannot fill one sequence of TRAIN_SEQ_LEN="
                                          << seq_len << " plus its final target");
  if (!bytes.has_sidecar()) check_ids_in_luts(tokens, luts, "validation tokens");

  const int64_t seq_begin = total_seqs * dist.rank / dist.world;
  const int64_t seq_end = total_seqs * (dist.rank + 1) / dist.world;
  ProgressReporter progress(opts.progress, "standard", "sequences", seq_end - seq_begin);
  torch::NoGradGuard no_grad;
  // The NLL sum stays on the logits' device so a batch never waits for the host.
  torch::Tensor nll_sum =
      torch::zeros({}, torch::TensorOptions(torch::kFloat64).device(opts.device));
  BpbSums local;
  int64_t batch_index = 0;
  for (int64_t s = seq_begin; s < seq_end; s += batch_seqs, ++batch_index) {
    progress.poll();
    const int64_t e = std::min(s + batch_seqs, seq_end);
    const torch::Tensor chunk = tokens.slice(0, s * seq_len, e * seq_len + 1);
    const torch::Tensor x = chunk.slice(0, 0, -1).view({-1, seq_len});  // (B,L) inputs
    const torch::Tensor y = chunk.slice(0, 1).view({-1, seq_len});      // (B,L) targets
    const double count = static_cast<double>(y.numel());
    if (opts.varlen_logits) {
      nll_sum += varlen_batch_nll(opts, x, y);  // the record sums per-token NLL in float64
    } else {
      const torch::Tensor logits = logits_fn(x.to(opts.device));
      PGOLF_CHECK(
          logits.dim() == 3 && logits.size(0) == x.size(0) && logits.size(1) == seq_len,
          "eval_standard: logits function returned " << logits.sizes() << " for ids " << x.sizes());
      // The reference's forward returns the fp32 batch mean; the sum is mean * count in float64.
      nll_sum += per_token_nll(logits, y).mean().to(torch::kFloat64) * count;
    }
    local.tokens += count;
    const auto pos = torch::arange(s * seq_len + 1, e * seq_len + 1).view({-1, seq_len});
    local.bytes += bytes.sum(x, y, pos);
    if (progress.due(batch_index, e == seq_end)) {
      local.nll = nll_sum.item<double>();
      progress.report(e - seq_begin, local);
    }
  }
  local.nll = nll_sum.item<double>();

  EvalResult r;
  r.method = "standard";
  r.units = total_seqs;
  r.local_units = seq_end - seq_begin;
  r.local_batches = batch_index;
  finish_result(r, local, dist, progress);
  r.settings = {{"seq_len", seq_len},
                {"val_batch_size", opts.val_batch_size},
                {"grad_accum_steps", opts.grad_accum_steps},
                {"local_batch_seqs", batch_seqs},
                {"varlen", static_cast<bool>(opts.varlen_logits)},
                {"byte_sidecar", bytes.has_sidecar()},
                {"world_size", dist.world}};
  return r;
}

}  // namespace pgolf::eval
