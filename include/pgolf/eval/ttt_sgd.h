// Full-model SGD at test time on tokens that have already been scored:
//  * the phases of the 1.0728-1.0611 records (train_val_ttt_global_sgd_distributed): the scored
//    documents' tokens in chunks of GLOBAL_TTT_CHUNK_TOKENS, a cosine lr over the chunks (the last
//    chunk is not trained), GLOBAL_TTT_EPOCHS passes over each chunk's whole sequences in batches
//    of GLOBAL_TTT_BATCH_SEQS, gradients averaged over ranks, total-norm clip, momentum SGD, with
//    attention restricted to documents (cu_seqlens from BOS) when asked;
//  * TTT_MODE=chunk_sgd (the 1.1194/1.0828 records' eval_val_sliding_ttt): the stream in chunks;
//    each chunk's sliding windows are scored first, then the chunk trains the model the same way.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/eval/bpb.h"
#include "pgolf/eval/report.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf::eval {

struct GlobalSgdOptions {
  double lr = 0.001, momentum = 0.9;  // GLOBAL_TTT_LR, GLOBAL_TTT_MOMENTUM
  int64_t epochs = 1;                 // GLOBAL_TTT_EPOCHS
  int64_t chunk_tokens = 32768;       // GLOBAL_TTT_CHUNK_TOKENS
  int64_t batch_seqs = 32;            // GLOBAL_TTT_BATCH_SEQS
  int64_t seq_len = 2048;             // the evaluation's sequence length
  double warmup_start_lr = 0.0;       // GLOBAL_TTT_WARMUP_START_LR
  int64_t warmup_chunks = 0;          // GLOBAL_TTT_WARMUP_CHUNKS
  double grad_clip = 1.0;             // GLOBAL_TTT_GRAD_CLIP; 0 off
  bool respect_doc_boundaries = true;  // GLOBAL_TTT_RESPECT_DOC_BOUNDARIES
  int64_t freeze_blocks = 0;          // TTT_FREEZE_BLOCKS: params named blocks.<i>. with i < N
  int64_t bos_id = 1;
  torch::Device device = torch::kCPU;
};
GlobalSgdOptions global_sgd_options(const config::EvalConfig& eval, int64_t seq_len);

// The lr of chunk ci of num_chunks: linear warm-up over warmup_chunks, then half a cosine from lr
// to 0 over the remaining chunks (the records' schedule).
double global_sgd_lr(const GlobalSgdOptions& o, int64_t ci, int64_t num_chunks);

// Parameters the SGD trains: every parameter but those of frozen blocks (names "blocks.<i>.").
std::vector<torch::Tensor> sgd_parameters(model::BankedGPTImpl& m, int64_t freeze_blocks);

// One chunk's training: tokens[start, end] (end inclusive of the last target) as whole sequences
// of seq_len, this rank's share of them, `epochs` passes. `opt` holds `params`. Ranks > 1: the
// same step count on every rank, each step's gradient the mean over all ranks' sequences of it.
void sgd_train_chunk(model::BankedGPTImpl& m, const torch::Tensor& tokens, int64_t chunk_start,
                     int64_t chunk_end, double lr, const GlobalSgdOptions& o,
                     const std::vector<torch::Tensor>& params, torch::optim::SGD& opt,
                     const DistContext& dist);

// A phase's SGD over `tokens` (the scored documents, concatenated); appends the record's
// "tttg: c<i>/<n> lr:<lr>" lines to `log` when given. Leaves the model in eval mode.
void global_sgd(model::BankedGPTImpl& m, const torch::Tensor& tokens, const GlobalSgdOptions& o,
                const DistContext& dist, std::vector<std::string>* log = nullptr);

struct ChunkSgdOptions {
  GlobalSgdOptions sgd;     // chunk_tokens, lr, epochs, ... and seq_len = the window length
  int64_t stride = 64;      // EVAL_STRIDE
  int64_t batch_seqs = 32;  // EVAL_BATCH_SEQS: windows per scoring forward
  ProgressOptions progress;  // `every` counts chunks
  // As TttOptions::per_target_nll (NaN where this rank scored nothing).
  torch::Tensor* per_target_nll = nullptr;
};

// TTT_MODE=chunk_sgd over `tokens` (usable+1): windows by the reference filter, each assigned to
// the chunk of its first scored target; score chunk ci (no grad), then train on it (not the last).
EvalResult eval_chunk_sgd(model::BankedGPTImpl& m, const torch::Tensor& tokens,
                          const ByteSource& bytes, const ChunkSgdOptions& o,
                          const DistContext& dist = {});

}  // namespace pgolf::eval
