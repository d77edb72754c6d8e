// TTT_MODE=doc_lora: the per-document batched LoRA TTT of the 1.0734-1.0611 records
// (eval_val_ttt_phased), on the banked GPT.
//  * Documents (BOS to the next BOS inclusive) sorted by length into batches of TTT_BATCH_SIZE,
//    processed longest batch first; ranks claim batches from a shared counter.
//  * Per batch, fresh B (and A unless TTT_WARM_START_A) and a fresh optimiser; each document read
//    in chunks of TTT_CHUNK_SIZE targets inside a TTT_EVAL_SEQ_LEN context; a chunk is scored from
//    the forward whose loss then drives TTT_GRAD_STEPS updates (not on a document's last chunk).
//  * PHASED_TTT_ENABLED: when the first PHASED_TTT_PREFIX_DOCS * (p+1) / PHASED_TTT_NUM_PHASES
//    scored documents (in batch order) are done, every rank runs the global SGD (ttt_sgd.h) on
//    exactly those documents, then continues with the updated base and new adapters.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/eval/bpb.h"
#include "pgolf/eval/doc_lora.h"
#include "pgolf/eval/report.h"
#include "pgolf/eval/ttt.h"
#include "pgolf/eval/ttt_sgd.h"

namespace pgolf::eval {

struct DocTttOptions {
  DocLoraOptions lora;
  double lr = 1e-4;                 // TTT_LORA_LR
  int64_t chunk_size = 48;          // TTT_CHUNK_SIZE
  int64_t eval_seq_len = 2048;      // TTT_EVAL_SEQ_LEN
  int64_t batch_size = 64;          // TTT_BATCH_SIZE
  int64_t grad_steps = 1;           // TTT_GRAD_STEPS
  config::TttOptimizer optimizer = config::TttOptimizer::kAdam;  // TTT_OPTIMIZER
  double beta1 = 0.0, beta2 = 0.999, weight_decay = 1.0;  // TTT_BETA1/2, TTT_WEIGHT_DECAY
  double adam_eps = 1e-10;          // fixed in the records
  bool phased = false;              // PHASED_TTT_ENABLED
  int64_t prefix_docs = 2000;       // PHASED_TTT_PREFIX_DOCS
  int64_t num_phases = 1;           // PHASED_TTT_NUM_PHASES
  GlobalSgdOptions global;          // the phases' SGD
  int64_t bos_id = 1;
  torch::Device device = torch::kCPU;
  // Multi-rank batch claims: a file all ranks of one host share (created by rank 0).
  std::string claim_file;
  ProgressOptions progress;          // `every` counts document batches
  torch::Tensor* per_target_nll = nullptr;  // as TttOptions::per_target_nll
  // When set: the scoring step (0, 1, ...) at which each target was scored, -1 elsewhere; a step
  // is one chunk of one batch on this rank (for the legality test: steps order the updates).
  torch::Tensor* score_step = nullptr;
  std::vector<std::string>* log = nullptr;  // the record's ttt_phased/ttpp/tttg/ttpr lines
};
DocTttOptions doc_ttt_options(const config::Config& cfg);

// Length-sorted batches (stable ascending sort of `docs` by length, cut every batch_size) and the
// order they are processed in: by descending longest length (stable). Entries index `docs`.
struct DocBatches {
  std::vector<std::vector<int64_t>> batches;  // ascending-length batches (their original index)
  std::vector<int64_t> order;                 // processing order of batch indices
};
DocBatches doc_batches(const std::vector<Document>& docs, int64_t batch_size);

// Phase boundaries: prefix * (p+1) / phases for p < phases (prefix clipped to the doc count).
std::vector<int64_t> phase_boundaries(int64_t num_docs, int64_t prefix_docs, int64_t num_phases);

// `val_tokens`: the whole stream; `bytes`: its sidecar or the LUTs. The model is changed in place
// by the phases (its final weights are the phased base).
EvalResult eval_ttt_doc(model::BankedGPTImpl& m, const torch::Tensor& val_tokens,
                        const ByteSource& bytes, const DocTttOptions& opts,
                        const DistContext& dist = {});

}  // namespace pgolf::eval
