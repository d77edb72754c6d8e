// `pgolf eval`'s frontier methods (see frontier.h): options from the configuration, warm-up, run.
#include "pgolf/eval/frontier.h"

#include <chrono>

#include "pgolf/config/config.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt_doc.h"
#include "pgolf/eval/ttt_sgd.h"

namespace pgolf::eval {
namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One adapter forward, backward and step on random tokens of the TTT shapes (the records' compile
// warm-up; here it pages in the kernels and the allocator). The base weights do not change.
void warm_up_doc(model::BankedGPTImpl& m, const DocTttOptions& o) {
  for (auto& p : m.parameters()) p.set_requires_grad(false);
  DocLora lora(m, o.batch_size, o.lora, o.device);
  torch::optim::AdamW opt(lora.parameters(), torch::optim::AdamWOptions(o.lr));
  for (const int64_t len : {o.chunk_size, o.eval_seq_len}) {
    const auto x = torch::randint(0, m.config().vocab_size, {o.batch_size, len}, torch::kInt64);
    const auto nll = per_token_nll(m.forward_logits(x.to(o.device), {}, &lora), x);
    nll.slice(1, 0, std::min(o.chunk_size, len)).mean(1).sum().backward();
    opt.step();
    opt.zero_grad();
  }
}

}  // namespace

EvalResult run_frontier_ttt(model::BankedGPTImpl& m, const torch::Tensor& stream,
                            const ByteSource& bytes, const FrontierEvalContext& ctx) {
  const auto& cfg = *ctx.cfg;
  PGOLF_CHECK_INPUT(cfg.model.param_banks, "TTT_MODE=" << config::choice_name(cfg.eval.ttt_mode)
                                                       << " needs the banked GPT (PARAM_BANKS=1)");
  torch::AutoGradMode grad_on(true);
  const auto t0 = std::chrono::steady_clock::now();
  EvalResult r;
  if (cfg.eval.ttt_mode == config::TttMode::kDocLora) {
    DocTttOptions o = doc_ttt_options(cfg);
    o.device = ctx.device;
    o.claim_file = ctx.claim_file;
    o.progress = ctx.progress;
    o.log = ctx.log;
    warm_up_doc(m, o);
    const double warm = since(t0);
    r = eval_ttt_doc(m, stream, bytes, o, ctx.dist);
    r.warmup_seconds = warm;
    return r;
  }
  PGOLF_CHECK_INPUT(cfg.eval.ttt_mode == config::TttMode::kChunkSgd,
                    "run_frontier_ttt: TTT_MODE=lora is PR #289's TTT (--method ttt)");
  ChunkSgdOptions o;
  o.sgd = global_sgd_options(cfg.eval, cfg.train.train_seq_len);
  o.sgd.respect_doc_boundaries = cfg.model.varlen_attn;
  o.sgd.device = ctx.device;
  o.stride = cfg.eval.eval_stride;
  o.batch_seqs = cfg.eval.eval_batch_seqs;
  o.progress = ctx.progress;
  {  // warm-up: one scoring forward of a full window batch
    torch::NoGradGuard no_grad;
    m.eval();
    m.forward_logits(torch::randint(0, m.config().vocab_size, {o.batch_seqs, o.sgd.seq_len},
                                    torch::kInt64)
                         .to(ctx.device));
  }
  const double warm = since(t0);
  r = eval_chunk_sgd(m, stream, bytes, o, ctx.dist);
  r.warmup_seconds = warm;
  return r;
}

EvalResult run_frontier_standard(model::BankedGPTImpl& m, const torch::Tensor& val_tokens,
                                 const ByteSource& bytes, const FrontierEvalContext& ctx) {
  const auto& cfg = *ctx.cfg;
  StandardEvalOptions o = standard_options(cfg.train, config::grad_accum_steps(ctx.dist.world));
  o.device = ctx.device;
  o.progress = ctx.progress;
  o.byte_sidecar = bytes.sidecar;
  torch::NoGradGuard no_grad;
  m.eval();
  const auto t0 = std::chrono::steady_clock::now();
  m.forward_logits(torch::randint(0, m.config().vocab_size, {1, o.seq_len}, torch::kInt64)
                       .to(ctx.device));
  const double warm = since(t0);
  LogitsFn dense = [&](const torch::Tensor& ids) { return m.forward_logits(ids); };
  if (cfg.model.varlen_attn)
    o.varlen_logits = [&](const torch::Tensor& ids, const torch::Tensor& cu) {
      return m.forward_logits(ids, cu);
    };
  EvalResult r = eval_standard(dense, val_tokens, bytes.luts, o, ctx.dist);
  r.warmup_seconds = warm;
  return r;
}

}  // namespace pgolf::eval
