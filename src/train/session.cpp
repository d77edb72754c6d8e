// Run set-up (see session.h): the reference main()'s preamble up to the optimiser construction.
#include "pgolf/train/session.h"

#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/log.h"
#include "pgolf/data/loader.h"
#include "pgolf/eval/standard.h"
#include "pgolf/model/fused.h"
#include "pgolf/model/init.h"
#include "pgolf/model/params.h"
#include "pgolf/tokenizer/byte_luts.h"
#include "pgolf/train/device_setup.h"
#include "pgolf/train/trainer.h"

namespace pgolf::train {
namespace {

// Every rank starts from rank 0's weights (what DDP's constructor broadcast does).
void broadcast_parameters(model::AnyGPT& m, dist::Comm& comm) {
  if (comm.world_size() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& p : m->parameters()) {
    torch::Tensor t = p.detach();
    comm.broadcast(t, 0);
  }
}

// VARLEN_ATTN=1 trains on the docpack loader's cu_seqlens (the 1.0734-1.0611 records' training
// forward); the other loaders give dense rows with no document boundaries to pass.
void check_trainable(const config::Config& cfg, core::Logger& log) {
  PGOLF_CHECK_INPUT(!cfg.model.varlen_attn || cfg.model.param_banks,
                    "VARLEN_ATTN=1: needs PARAM_BANKS=1 (the PR #180 GPT cannot restrict "
                    "attention to documents); found PARAM_BANKS=0");
  PGOLF_CHECK_INPUT(!cfg.model.varlen_attn || cfg.data.loader == config::Loader::kDocpack,
                    "VARLEN_ATTN=1: training needs LOADER=docpack (the loader that gives "
                    "cu_seqlens); found LOADER=" << config::choice_name(cfg.data.loader));
  if (cfg.data.loader == config::Loader::kDocpack && !cfg.model.varlen_attn)
    log.line("loader:docpack note: VARLEN_ATTN=0, so packed documents attend across boundaries");
}

void log_session(const Session& s, const std::string& cuda_setup) {
  const config::Config& cfg = s.cfg;
  const double token_lr = cfg.model.tie_embeddings ? cfg.optim.tied_embed_lr : cfg.optim.embed_lr;
  s.log.line(core::format("model_params:%lld", static_cast<long long>(s.model->count_params())));
  s.log.line(core::format("world_size:%d grad_accum_steps:%d", s.comm.world_size(), s.grad_accum));
  s.log.line(s.step->describe() + " micro_batches:" + std::to_string(s.grad_accum));
  s.log.line(core::format("attention_mode:%s num_heads:%lld num_kv_heads:%lld",
                        config::choice_name(cfg.model.attention),
                        static_cast<long long>(cfg.model.num_heads),
                        static_cast<long long>(cfg.model.num_kv_heads)));
  s.log.line(core::format("tie_embeddings:%s embed_lr:%g matrix_lr:%g scalar_lr:%g",
                        cfg.model.tie_embeddings ? "True" : "False", token_lr, cfg.optim.matrix_lr,
                        cfg.optim.scalar_lr));
  s.log.line(core::format(
      "train_batch_tokens:%lld train_seq_len:%lld iterations:%lld warmup_steps:%lld "
      "max_wallclock_seconds:%.3f",
      static_cast<long long>(cfg.train.train_batch_tokens),
      static_cast<long long>(cfg.train.train_seq_len), static_cast<long long>(cfg.train.iterations),
      static_cast<long long>(cfg.train.warmup_steps), cfg.train.max_wallclock_seconds));
  s.log.line(core::format("seed:%lld", static_cast<long long>(cfg.train.seed)));
  s.log.line(std::string("device:") + s.device.str() + " dtype:" +
           model::dtype_policy_name(s.policy) + " threads:" +
           std::to_string(torch::get_num_threads()) + " " + s.optim->describe());
  if (!cuda_setup.empty()) s.log.line(cuda_setup);
  if (cfg.train.fused_kernels)
    s.log.line(std::string("fused_kernels:") +
             (model::fused::enabled() && model::fused::compiled() ? "on" : "off (needs CUDA and a build with nvcc)"));
}

}  // namespace

EvalData load_eval_data(const config::Config& cfg, torch::Device device, bool check_vocab) {
  tokenizer::Tokenizer tok(cfg.data.tokenizer_path);
  if (check_vocab) tokenizer::check_vocab_size(tok, cfg.model.vocab_size);
  EvalData d;
  d.val_files = data::resolve_files(cfg.data.data_path, cfg.data.val_files);
  d.val_tokens = data::load_validation_tokens(d.val_files, cfg.train.train_seq_len,
                                              cfg.model.vocab_size);
  auto luts = tokenizer::build_byte_luts(tok, cfg.model.vocab_size);
  d.luts = eval::ByteLuts{luts.base_bytes.to(device), luts.has_leading_space.to(device),
                          luts.is_boundary.to(device)};
  return d;
}

std::unique_ptr<Session> make_session(const config::Config& cfg, dist::Comm& comm,
                                      core::Logger& log, const SessionOptions& opts) {
  check_trainable(cfg, log);
  auto s = std::unique_ptr<Session>(new Session{cfg, comm, log});
  const ComputeSetup compute = setup_compute(cfg.train, comm.local_rank());  // TF32, flash SDPA
  s->device = compute.device;
  s->policy = compute.policy;
  const std::string& cuda_setup = compute.summary;
  s->grad_accum = config::grad_accum_steps(comm.world_size());
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));

  EvalData ed = load_eval_data(cfg, s->device, opts.check_vocab);
  s->val_files = ed.val_files;
  s->val_tokens = ed.val_tokens;
  s->luts = ed.luts;
  s->train_files = data::resolve_files(cfg.data.data_path, cfg.data.train_files);
  log.line("val_bpb:enabled tokenizer_kind=sentencepiece tokenizer_path=" + cfg.data.tokenizer_path);
  std::string dataset = cfg.data.data_path;
  while (dataset.size() > 1 && dataset.back() == '/') dataset.pop_back();
  dataset = dataset.substr(dataset.find_last_of('/') + 1);
  log.line(core::format("train_loader:dataset:%s train_shards:%zu", dataset.c_str(),
                        s->train_files.size()));
  log.line(core::format("val_loader:shards pattern=%s/%s tokens:%lld", cfg.data.data_path.c_str(),
                        cfg.data.val_files.c_str(),
                        static_cast<long long>(s->val_tokens.numel() - 1)));

  s->model = model::AnyGPT(cfg.model);
  if (opts.initial_weights) {
    s->model->load_state_dict(*opts.initial_weights, /*strict=*/true);
  } else {
    s->model->bf16_round_parameters();  // the record's bf16 round trip of initial values
  }
  s->model->to(s->device);
  s->model->set_dtype_policy(s->policy);
  broadcast_parameters(s->model, comm);
  const auto params = s->model->state_dict();
  s->optim = std::make_unique<optim::OptimizerSet>(
      params, cfg.optim, config::split_list(cfg.quant.control_tensor_name_patterns), &comm);
  // MUON_SHARDED: Muon reduce-scatters its matrices' grads itself; the rest are all-reduced.
  if (comm.world_size() > 1)
    s->grad_sync = std::make_unique<GradSync>(
        s->optim->params_to_average(s->model->parameters()), comm);
  s->averager = make_averager(cfg.train, params);
  s->step = make_step(StepParts{s->model, s->optim.get(), s->grad_sync.get(), &comm, s->device,
                                s->policy, s->model->parameters()},
                      step_options(cfg), [&log](const std::string& l) { log.line(l); });
  // Token ids are checked against VOCAB_SIZE as each shard is opened (the first one now).
  data::TrainLoaderOptions lo;
  lo.kind = cfg.data.loader;
  lo.rank = comm.rank();
  lo.world_size = comm.world_size();
  lo.vocab_size = cfg.model.vocab_size;
  s->loader = data::make_train_loader(s->train_files, lo);
  log_session(*s, cuda_setup);
  return s;
}

eval::LogitsFn logits_fn(Session& s) {
  return [&s](const torch::Tensor& ids) {
    model::ComputeScope scope(s.policy, s.device.type());
    return s.model->forward_logits(ids);
  };
}

eval::DistContext dist_context(Session& s) {
  eval::DistContext d;
  d.rank = s.comm.rank();
  d.world = s.comm.world_size();
  if (d.world > 1) d.all_reduce_sum = [&s](torch::Tensor& t) { s.comm.all_reduce_sum(t); };
  return d;
}

eval::StandardEvalOptions standard_eval_options(Session& s) {
  eval::StandardEvalOptions o = eval::standard_options(s.cfg.train, s.grad_accum);
  o.device = s.device;
  // VARLEN_ATTN: the record's eval_val, one packed row per rank batch, segments from BOS.
  if (s.cfg.model.varlen_attn)
    o.varlen_logits = [&s](const torch::Tensor& ids, const torch::Tensor& cu) {
      model::ComputeScope scope(s.policy, s.device.type());
      return s.model->forward_logits(ids, cu);
    };
  return o;
}

std::pair<double, double> validate_standard(Session& s) {
  torch::NoGradGuard no_grad;  // not InferenceMode: the rotary cache must stay usable by backward
  s.model->eval();
  const eval::StandardEvalOptions o = standard_eval_options(s);
  auto r = eval::eval_standard(logits_fn(s), s.val_tokens, s.luts, o, dist_context(s));
  s.model->train();
  return {r.val_loss, r.val_bpb};
}

}  // namespace pgolf::train
