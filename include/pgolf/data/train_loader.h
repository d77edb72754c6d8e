// The training loaders behind LOADER (issue 21): one interface, four kinds, each resumable
// exactly from a JSON state kept in checkpoints.
//   stream   the reference DistributedTokenLoader (loader.h): one sequential stream, rank slices
//   shuffled the ShuffledSequenceLoader of 1.0856-1.0798: per rank, its shards' seq_len windows at
//            a random phase, drawn in random order with probability proportional to what is left
//   coprime  the coprime-stride multi-shard loader of 1.1122/1.0979 (PR #726): global windows
//            from 8 -> 32 shards per batch, each shard walked as start + k*stride mod blocks
//   docpack  the DocumentPackingLoader of 1.0734 on: contiguous per-rank spans of the stream from
//            a shard's first BOS, with cu_seqlens of the documents (long ones cut at seq_len)
// All return CPU int64 tensors; the trainer moves them to the device.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "pgolf/config/choices.h"

namespace pgolf::data {

// One micro-batch: x, y (rows, T) int64 with y the next tokens of x. docpack gives one row, a
// packed stream of documents, and defines cu_seqlens: (K) int32 segment starts 0 = c0 < c1 < ...
// then T repeated up to a multiple of 64 entries (the record's padding); attention stays within
// [c_i, c_{i+1}). max_seqlen is the longest segment. The other kinds leave cu_seqlens undefined
// (dense causal rows). `span` (stream, docpack): the rows * T + 1 tokens x and y are the two
// overlapping views of, so a trainer can move one tensor to the device; undefined for the
// window loaders (shuffled, coprime), whose rows are separate windows.
struct Batch {
  torch::Tensor x, y;
  torch::Tensor cu_seqlens;
  int64_t max_seqlen = 0;
  torch::Tensor span;
};

struct TrainLoaderOptions {
  config::Loader kind = config::Loader::kStream;
  int rank = 0;
  int world_size = 1;
  int64_t vocab_size = 0;  // > 0: each shard's ids are checked when it is first opened
  int bos_id = 1;          // docpack: the token that starts a document
  int64_t cu_bucket = 64;  // docpack: cu_seqlens padded to a multiple of this many entries
};

class TrainLoader {
 public:
  virtual ~TrainLoader() = default;
  // The next micro-batch of this rank: global_tokens / (world_size * grad_accum_steps) tokens.
  virtual Batch next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) = 0;
  // x and y only (the dense loaders' whole batch).
  std::pair<torch::Tensor, torch::Tensor> next_batch(int64_t global_tokens, int64_t seq_len,
                                                     int64_t grad_accum_steps) {
    Batch b = next(global_tokens, seq_len, grad_accum_steps);
    return {b.x, b.y};
  }
  // The span of next() (an input error for the window loaders, which have none).
  torch::Tensor next_span(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps);
  // Everything needed to continue exactly where this loader is (stream: the LoaderState JSON of
  // loader.h, as older checkpoints hold it; the others: {"kind": ..., ...}).
  virtual nlohmann::json state() const = 0;
  // Input error when the state belongs to another kind or another file list.
  virtual void restore(const nlohmann::json& state) = 0;
  virtual config::Loader kind() const = 0;
};

// Builds the loader of opts.kind over `files` (resolve_files order). Input errors name the files.
std::unique_ptr<TrainLoader> make_train_loader(std::vector<std::string> files,
                                               const TrainLoaderOptions& opts);

// The record's _build_cu_seqlens (a pure function): segments start at 0 and at every entry of
// `doc_starts` (increasing, in [0, total_len)); each document longer than max_doc_len (> 0) is cut
// into max_doc_len pieces from its start; the boundaries, ending with total_len, are padded with
// total_len to a multiple of `bucket` entries. Returns the (padded) int32 tensor and the longest
// segment.
std::pair<torch::Tensor, int64_t> pack_cu_seqlens(const std::vector<int64_t>& doc_starts,
                                                  int64_t total_len, int64_t max_doc_len,
                                                  int64_t bucket);

}  // namespace pgolf::data
