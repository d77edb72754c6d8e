// `pgolf eval WEIGHTS`: scores a checkpoint, a state dict or an artifact (ours or the Python
// reference's) on the validation shards: standard, sliding window and/or TTT-LoRA; writes eval.json.
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/core/error.h"
#include "pgolf/core/runtime.h"
#include "pgolf/data/loader.h"
#include "pgolf/data/sidecar.h"
#include "pgolf/dist/comm.h"
#include "pgolf/eval/frontier.h"
#include "pgolf/eval/gpt_lora.h"
#include "pgolf/eval/report.h"
#include "pgolf/eval/sliding.h"
#include "pgolf/eval/standard.h"
#include "pgolf/eval/ttt.h"
#include "pgolf/model/dtype.h"
#include "pgolf/train/device_setup.h"
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
  const bool use_cuda = train::wants_cuda(cfg.train.device);
  auto comm = dist::make_comm(cfg.train.dist_backend, use_cuda, cfg.train.dist_timeout_seconds);
  // The trainer's set-up: cuda:LOCAL_RANK made current, its TF32 and flash-SDPA choices.
  const train::ComputeSetup compute = train::setup_compute(cfg.train, comm->local_rank());
  const torch::Device device = compute.device;
  const auto policy = compute.policy;
  core::Logger log(comm->rank() == 0);
  if (!compute.summary.empty()) log.line(compute.summary);
  model::AnyGPT gpt(cfg.model);
  const auto load_start = std::chrono::steady_clock::now();  // read + decompress, outside the cap
  const auto kind = train::load_weights(a.weights, gpt);
  const double decompress_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  gpt->to(device);
  gpt->set_dtype_policy(policy);
  gpt->set_looping(true);  // a trained model with NUM_LOOPS is scored looped, as the records do
  gpt->eval();
  log.line(std::string("eval: weights ") + a.weights + " (" + train::weights_kind_name(kind) +
           ") device:" + device.str() + " dtype:" + model::dtype_policy_name(policy));
  const auto data = train::load_eval_data(cfg, device);
  // CaseOps byte sidecars beside the val shards: bpb counts the original bytes (issue 21).
  const auto val_bytes = data::load_val_bytes(data.val_files, data.val_tokens.numel());
  eval::DistContext dist{comm->rank(), comm->world_size(), {}};
  if (dist.world > 1) dist.all_reduce_sum = [&](torch::Tensor& t) { comm->all_reduce_sum(t); };
  auto logits = [&](const torch::Tensor& ids) {
    model::ComputeScope scope(policy, device.type());
    return gpt->forward_logits(ids);
  };
  std::vector<std::string> methods = a.methods;
  if (methods.empty()) {
    // The trainer's final metric (eval::sliding_enabled, the one rule).
    methods.push_back(eval::sliding_enabled(cfg.eval, cfg.train.train_seq_len) ? "sliding"
                                                                               : "standard");
    if (cfg.eval.ttt_enabled) methods.push_back("ttt");
  }
  std::vector<eval::EvalResult> results;
  for (const auto& m : methods) {
    torch::NoGradGuard no_grad;
    if (m == "standard") {
      auto o = eval::standard_options(cfg.train, config::grad_accum_steps(comm->world_size()));
      o.device = device;
      o.progress.fn = eval::console_progress(log);
      o.byte_sidecar = val_bytes;
      if (gpt->is_banked() && cfg.model.varlen_attn) {
        eval::FrontierEvalContext fc{&cfg, device, dist, o.progress, "", nullptr};
        results.push_back(eval::run_frontier_standard(*gpt->banked(), data.val_tokens,
                                                      {data.luts, val_bytes}, fc));
      } else {
        results.push_back(eval::eval_standard(logits, data.val_tokens, data.luts, o, dist));
      }
    } else if (m == "sliding") {
      auto o = eval::sliding_options(cfg.eval, cfg.train.train_seq_len);
      o.device = device;
      o.progress.fn = eval::console_progress(log);
      o.byte_sidecar = val_bytes;
      results.push_back(eval::eval_sliding(logits, data.val_tokens, data.luts, o, dist));
    } else if (m == "ttt" && cfg.eval.ttt_mode != config::TttMode::kLora) {
      // TTT_MODE=doc_lora | chunk_sgd (the frontier's), on the banked GPT; it updates the weights.
      const auto stream = data::load_validation_tokens(data.val_files, /*seq_len=*/1);
      const eval::ByteSource bytes{data.luts, data::load_val_bytes(data.val_files, stream.numel())};
      std::vector<std::string> phase_log;
      eval::FrontierEvalContext fc{&cfg, device, dist, {}, "", &phase_log};
      fc.progress.fn = eval::console_progress(log);
      // Ranks of one host claim document batches through a file (their launcher is their parent).
      if (dist.world > 1) fc.claim_file = "/tmp/pgolf_ttt_claims_" + std::to_string(::getppid());
      torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));  // the adapters' A draws
      results.push_back(eval::run_frontier_ttt(*gpt->banked(), stream, bytes, fc));
      for (const auto& line : phase_log) log.line(line);
    } else if (m == "ttt") {
      torch::AutoGradMode grad_on(true);
      for (auto& p : gpt->parameters()) p.set_requires_grad(false);
      PGOLF_CHECK_INPUT(!gpt->is_banked(),
                        "--method ttt: TTT-LoRA is not available for the banked GPT (param_banks=1)");
      eval::GptLoraModel lora_model(gpt->gpt(), policy, device.type());
      auto o = eval::ttt_options(cfg.eval, cfg.optim);
      o.seed = static_cast<uint64_t>(cfg.train.seed);
      o.device = device;
      o.progress.fn = eval::console_progress(log);
      // TTT reads the whole stream (the reference does not truncate it to whole sequences).
      const auto stream = data::load_validation_tokens(data.val_files, /*seq_len=*/1);
      results.push_back(eval::eval_ttt_lora(lora_model, stream, data.luts, o, dist));
    } else {
      PGOLF_FAIL_INPUT("--method '" << m << "': expected standard, sliding or ttt");
    }
    results.back().decompress_seconds = decompress_s;
    log.line(eval::result_line(results.back()));
    log.line(eval::timing_line(results.back()));
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
