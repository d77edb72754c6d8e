// `pgolf eval WEIGHTS`: scores a checkpoint, a state dict or an artifact (ours or the Python
// reference's) on the validation shards: standard, sliding window and/or TTT-LoRA; writes eval.json.
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/core/error.h"
#include "pgolf/core/runtime.h"
#include "pgolf/data/loader.h"
#include "pgolf/dist/comm.h"
#include "pgolf/eval/gpt_lora.h"
#include "pgolf/eval/report.h"
#include "pgolf/eval/sliding.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt.h"
#include "pgolf/model/dtype.h"
#include "pgolf/train/session.h"
#include "pgolf/train/weights.h"

namespace pgolf::cli {
namespace {

struct EvalArgs {
  ConfigOptions config;
  std::string weights;
  std::vector<std::string> methods;
  std::string out;
};

int run_eval(EvalArgs& a) {
  const auto env = dist::read_torchrun_env();
  const auto resolved = resolve_config(a.config, env.world_size);
  const auto& cfg = resolved.cfg;
  core::configure_threads(dist::threads_per_rank(static_cast<int>(cfg.train.threads), env));
  const bool use_cuda = cfg.train.device != "cpu" && torch::cuda::is_available();
  auto comm = dist::make_comm(cfg.train.dist_backend, use_cuda, cfg.train.dist_timeout_seconds);
  const torch::Device device = use_cuda ? torch::Device(torch::kCUDA, comm->local_rank())
                                        : torch::Device(torch::kCPU);
  core::Logger log(comm->rank() == 0);
  const auto policy = model::resolve_dtype_policy(cfg.train.dtype, device);
  model::GPT gpt(cfg.model);
  const auto kind = train::load_weights(a.weights, *gpt);
  gpt->to(device);
  gpt->set_dtype_policy(policy);
  gpt->eval();
  log.line(std::string("eval: weights ") + a.weights + " (" + train::weights_kind_name(kind) +
           ") device:" + device.str() + " dtype:" + model::dtype_policy_name(policy));
  const auto data = train::load_eval_data(cfg, device);
  eval::DistContext dist{comm->rank(), comm->world_size(), {}};
  if (dist.world > 1) dist.all_reduce_sum = [&](torch::Tensor& t) { comm->all_reduce_sum(t); };
  auto logits = [&](const torch::Tensor& ids) {
    model::ComputeScope scope(policy, device.type());
    return gpt->forward_logits(ids);
  };
  std::vector<std::string> methods = a.methods;
  if (methods.empty()) {
    methods.push_back(cfg.eval.eval_stride > 0 && cfg.eval.eval_stride < cfg.train.train_seq_len
                          ? "sliding" : "standard");
    if (cfg.eval.ttt_enabled) methods.push_back("ttt");
  }
  std::vector<eval::EvalResult> results;
  for (const auto& m : methods) {
    torch::NoGradGuard no_grad;
    if (m == "standard") {
      eval::StandardEvalOptions o;
      o.seq_len = cfg.train.train_seq_len;
      o.val_batch_size = cfg.train.val_batch_size;
      o.grad_accum_steps = config::grad_accum_steps(comm->world_size());
      o.device = device;
      o.progress.fn = eval::console_progress(log);
      results.push_back(eval::eval_standard(logits, data.val_tokens, data.luts, o, dist));
    } else if (m == "sliding") {
      eval::SlidingEvalOptions o;
      o.seq_len = cfg.train.train_seq_len;
      o.stride = cfg.eval.eval_stride;
      o.batch_seqs = cfg.eval.eval_batch_seqs;
      o.mode = eval::parse_sliding_mode(cfg.eval.sliding_mode);
      o.device = device;
      o.progress.fn = eval::console_progress(log);
      results.push_back(eval::eval_sliding(logits, data.val_tokens, data.luts, o, dist));
    } else if (m == "ttt") {
      torch::AutoGradMode grad_on(true);
      for (auto& p : gpt->parameters()) p.set_requires_grad(false);
      eval::GptLoraModel lora_model(gpt, policy, device.type());
      eval::TttOptions o;
      o.lora_rank = cfg.eval.ttt_lora_rank;
      o.lora_lr = cfg.eval.ttt_lora_lr;
      o.chunk_size = cfg.eval.ttt_chunk_size;
      o.eval_seq_len = cfg.eval.ttt_eval_seq_len;
      o.batch_size = cfg.eval.ttt_batch_size;
      o.beta1 = cfg.optim.beta1;
      o.beta2 = cfg.optim.beta2;
      o.seed = static_cast<uint64_t>(cfg.train.seed);
      o.device = device;
      o.progress.fn = eval::console_progress(log);
      // TTT reads the whole stream (the reference does not truncate it to whole sequences).
      const auto stream = data::load_validation_tokens(data.val_files, /*seq_len=*/1);
      results.push_back(eval::eval_ttt_lora(lora_model, stream, data.luts, o, dist));
    } else {
      PGOLF_FAIL_INPUT("--method '" << m << "': expected standard, sliding or ttt");
    }
    log.line(eval::result_line(results.back()));
  }
  const std::string out = a.out.empty() ? a.weights + ".eval.json" : a.out;
  if (comm->rank() == 0)
    eval::write_eval_json(out, results, {{"weights", a.weights},
                                         {"weights_kind", train::weights_kind_name(kind)},
                                         {"config", config::to_json(cfg)}});
  log.line("eval.json: " + out);
  return kExitOk;
}

}  // namespace

Command register_eval(CLI::App& app) {
  auto* sub = app.add_subcommand("eval", "score weights (checkpoint, state dict or artifact)");
  auto a = std::make_shared<EvalArgs>();
  sub->add_option("weights", a->weights, "checkpoint, state dict or artifact file")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--method", a->methods, "standard | sliding | ttt (repeatable; default: the "
                                          "final metric of the config)");
  sub->add_option("--out", a->out, "eval.json path (default: <weights>.eval.json)");
  add_config_options(sub, a->config);
  return {sub, [a]() { return run_eval(*a); }};
}

}  // namespace pgolf::cli
