// Everything a training run holds at once: configuration, device, model, optimisers, averaging,
// data, validation tokens and byte tables. Built by make_session(); used by the loop, checkpoints
// and the final export/score.
#pragma once

#include <memory>
#include <optional>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/log.h"
#include "pgolf/data/loader.h"
#include "pgolf/data/train_loader.h"
#include "pgolf/dist/comm.h"
#include "pgolf/eval/bpb.h"
#include "pgolf/eval/standard.h"
#include "pgolf/model/any_gpt.h"
#include "pgolf/optim/optimizer_set.h"
#include "pgolf/train/averager.h"
#include "pgolf/train/grad_sync.h"
#include "pgolf/train/step.h"

namespace pgolf::train {

struct Session {
  const config::Config& cfg;
  dist::Comm& comm;
  core::Logger& log;
  torch::Device device = torch::kCPU;
  model::DtypePolicy policy = model::DtypePolicy::kFp32;
  int grad_accum = 8;
  model::AnyGPT model;  // the PR #180 GPT, or the banked GPT with PARAM_BANKS=1
  std::unique_ptr<optim::OptimizerSet> optim;
  std::unique_ptr<Averager> averager;  // SWA or EMA; null when neither is enabled
  std::unique_ptr<GradSync> grad_sync;  // DDP-style gradient averaging; null for one rank
  std::vector<std::string> train_files;
  std::vector<std::string> val_files;
  std::unique_ptr<data::TrainLoader> loader;  // LOADER (data/train_loader.h)
  torch::Tensor val_tokens;  // CPU int64, usable + 1 tokens
  eval::ByteLuts luts;       // on `device`
  // The training step, chosen once here (eager, or graphed with CUDA_GRAPHS=1); it holds the
  // parameter list, made once.
  std::unique_ptr<Step> step;
};

// Validation tokens (truncated to whole sequences as the reference) and byte tables on `device`.
struct EvalData {
  std::vector<std::string> val_files;
  torch::Tensor val_tokens;
  eval::ByteLuts luts;
};
EvalData load_eval_data(const config::Config& cfg, torch::Device device, bool check_vocab = true);

struct SessionOptions {
  bool check_vocab = true;  // the reference's tokenizer-vs-VOCAB_SIZE check (golden cases skip it)
  const core::NamedTensors* initial_weights = nullptr;  // instead of the seeded initialisation
};

// Resolves devices and files, loads the tokenizer and validation tokens, builds and initialises
// the model (seeded, bf16-rounded as the record), broadcasts rank 0's weights, builds optimisers.
std::unique_ptr<Session> make_session(const config::Config& cfg, dist::Comm& comm,
                                      core::Logger& log, const SessionOptions& opts = {});

// Evaluation glue: the model's soft-capped logits under the session's dtype policy, and the
// session's collectives for the float64 sums.
eval::LogitsFn logits_fn(Session& s);
eval::DistContext dist_context(Session& s);

// The standard eval's options for this session (TRAIN_SEQ_LEN, VAL_BATCH_SIZE, its accumulation
// and device); with VARLEN_ATTN=1 the packed-row logits of the record's eval_val.
eval::StandardEvalOptions standard_eval_options(Session& s);

// Standard eval of the current weights (periodic validation); returns {val_loss, val_bpb}.
std::pair<double, double> validate_standard(Session& s);

}  // namespace pgolf::train
