// TTT-LoRA evaluation (reference-spec §8.4, eval_val_ttt_lora of the 2026-03-17_LoRA_TTT record):
// documents found at BOS, split across ranks, sorted by chunk count and batched; each document is
// read in chunks of chunk_size targets inside a <= eval_seq_len context; every chunk is scored
// first and only then used for one Adam step on that document's adapters, which are fresh per
// batch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/eval/bpb.h"
#include "pgolf/eval/lora.h"
#include "pgolf/eval/report.h"

namespace pgolf::eval {

struct Document {
  int64_t start = 0;   // stream offset of its BOS
  int64_t length = 0;  // tokens, including the next document's BOS when there is one
  int64_t index = 0;   // position in the stream's document order (seeds its adapters)
};

// Documents of a stream, one per BOS; tokens before the first BOS belong to none. With
// include_next_bos each document also holds the following BOS, so the targets of all documents are
// exactly the stream's targets from the first BOS on. An input error if there is no BOS or a
// document has fewer than 2 tokens.
std::vector<Document> find_documents(const torch::Tensor& tokens, int64_t bos_id,
                                     bool include_next_bos = true);

// Where chunk ci of a document with pred_len targets sits: the window [win_start,
// win_start+win_len) of target positions ends at the chunk's end and spans at most eval_seq_len;
// the chunk occupies [chunk_offset, chunk_offset + chunk_len) inside it. The last chunk ends at
// pred_len.
struct ChunkWindow {
  int64_t win_start = 0;
  int64_t win_len = 0;
  int64_t chunk_offset = 0;
  int64_t chunk_len = 0;
};
ChunkWindow ttt_chunk_window(int64_t ci, int64_t pred_len, int64_t chunk_size,
                             int64_t eval_seq_len);
inline int64_t ttt_num_chunks(int64_t pred_len, int64_t chunk_size) {
  return (pred_len + chunk_size - 1) / chunk_size;
}

struct TttOptions {
  int64_t lora_rank = 8;        // TTT_LORA_RANK
  double lora_lr = 0.01;        // TTT_LORA_LR
  int64_t chunk_size = 256;     // TTT_CHUNK_SIZE: targets per score-then-update chunk
  int64_t eval_seq_len = 1024;  // TTT_EVAL_SEQ_LEN: context window; >= chunk_size
  int64_t batch_size = 64;      // TTT_BATCH_SIZE: documents per batch
  double beta1 = 0.9;           // BETA1 (the reference reuses the training betas)
  double beta2 = 0.95;          // BETA2
  double adam_eps = 1e-10;      // fixed in the reference
  int64_t bos_id = 1;
  uint64_t seed = 0;  // adapter init: row seed = mix(seed, document index)
  torch::Device device = torch::kCPU;
  ProgressOptions progress;  // `every` counts document batches
  // When set: filled with float64 (numel-1), the NLL of each target this rank scored at its stream
  // index (target = token index+1), NaN elsewhere. For tests and audits.
  torch::Tensor* per_target_nll = nullptr;
};

// Options from the configuration: TTT_* settings and the training BETA1/BETA2 (as the reference).
TttOptions ttt_options(const config::EvalConfig& eval, const config::OptimConfig& optim);

// `val_tokens`: the whole validation stream (the reference does not truncate it for TTT).
EvalResult eval_ttt_lora(LoraModel& model, const torch::Tensor& val_tokens, const ByteLuts& luts,
                         const TttOptions& opts, const DistContext& dist = {});

}  // namespace pgolf::eval
