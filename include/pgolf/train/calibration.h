// GPTQ calibration of a trained model (QUANT_SCHEME=gptq) for the end of `pgolf train` and for
// `pgolf export`: the Hessians quant::gptq_mixed_quantize needs, from one of two sources:
//  * training data (the 1.0611 record): GPTQ_CALIBRATION_BATCHES batches of
//    TRAIN_BATCH_TOKENS / (world * grad_accum) tokens of random windows of rank 0's shards (a
//    fresh LOADER=shuffled loader, data/train_loader.h). It reads training data, so it counts against the
//    600 s: the trainer runs it right after the loop, inside GPTQ_RESERVE_SECONDS, and logs when
//    it ended (`pgolf record check` adds it to the training time);
//  * GPTQ_AR_SELFGEN=1 (the 1.1147/1.1063 records): GPTQ_CALIB_SAMPLES sequences of TRAIN_SEQ_LEN
//    tokens sampled from the model itself (temperature GPTQ_TEMPERATURE, seeded by SEED, first
//    token uniform), then one calibration forward per sequence on its first TRAIN_SEQ_LEN-1
//    tokens. No training data, so it may run after the cap.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"

namespace pgolf::train {

using CalibLogitsFn = std::function<torch::Tensor(const torch::Tensor& ids)>;  // (B,T) -> (B,T,V)

struct CalibrationSetup {
  std::vector<std::string> train_files;  // the training shards (all ranks' list)
  int world_size = 1;                    // ranks of the run (batch size, rank 0's shard subset)
  int64_t grad_accum = 8;
  torch::Device device = torch::kCPU;    // where batches go (the model's device)
};

struct CalibrationReport {
  bool ar_selfgen = false;
  int64_t forwards = 0, sequences = 0, tokens = 0;
  int64_t hessians = 0;
  std::vector<std::string> identity;  // embedding tables given the identity (hessians.h)
  double generate_seconds = 0;        // AR sampling
  double collect_seconds = 0;         // the calibration forwards (training data: what counts)
};

// The model (eval mode, no grad) is `module` (its CastedLinear/Embedding names, hessians.h) run
// through `logits`; `state_dict` its weights (banked or not). Returns the Hessians by unbanked
// weight name. The model's training flag is restored.
core::NamedTensors calibrate_gptq(torch::nn::Module& module, const CalibLogitsFn& logits,
                                  const core::NamedTensors& state_dict, const config::Config& cfg,
                                  const CalibrationSetup& setup, CalibrationReport* report);

// AR self-generation (the 1.1147 record's generate_autoregressive_calib): `n` sequences of
// `seq_len` tokens in batches of `batch`; the first token uniform in [0, vocab), then each next
// token drawn from softmax(last logits / temperature), the model re-run on the whole prefix.
// Random numbers come from one CPU generator seeded with `seed` (the same tokens on any device).
// Returns (n, seq_len) int64 on CPU.
torch::Tensor generate_calibration_tokens(const CalibLogitsFn& logits, int64_t vocab, int64_t n,
                                          int64_t seq_len, double temperature, int64_t batch,
                                          uint64_t seed, torch::Device device);

// Log lines: the record's "GPTQ:collected N Hessians in Xs" and pgolf's summary; with
// `train_ms` >= 0 (training-data calibration after the loop) the end time against the cap.
std::vector<std::string> calibration_lines(const CalibrationReport& r, double train_ms,
                                           double max_wallclock_seconds);

}  // namespace pgolf::train
