// Training token stream and per-rank batch slicing (reference-spec §2.4), validation tokens
// (§2.5). Everything returns CPU int64 tensors; the trainer moves them to the device.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "pgolf/data/shard.h"

namespace pgolf::data {

// Position of a token stream, enough to resume it exactly: the next token is
// files[file_index][position]; position may equal that file's length (the stream moves on to the
// next file only when it needs another token, as the reference does).
struct LoaderState {
  int64_t file_index = 0;
  int64_t position = 0;
  int64_t num_files = 0;        // checked on restore: the file list must not have changed size
  int64_t tokens_consumed = 0;  // informational: tokens taken or skipped since the start
};
nlohmann::json loader_state_to_json(const LoaderState& state);
LoaderState loader_state_from_json(const nlohmann::json& j);  // input error on missing keys

// The files of `glob_pattern` joined to `data_path` (an absolute pattern is used as is), sorted,
// without byte sidecars (is_byte_sidecar). Input error naming the pattern when nothing is left.
std::vector<std::string> resolve_files(const std::string& data_path,
                                       const std::string& glob_pattern);

// Checks tokens [0, count) of `shard` (count < 0: all) against the vocabulary: an input error
// naming the file, the token offset and the id of the first id >= vocab_size. Reads through pread
// in bounded chunks (a max-reduction per chunk), so a truncated file is an input error too.
void check_token_ids(const ShardReader& shard, int64_t vocab_size, int64_t count = -1);

// The reference TokenStream: files in the given order, starting at file 0 token 0; take(n)
// concatenates across file boundaries and wraps from the last file to file 0 forever.
class TokenStream {
 public:
  // Validates every file's header up front (errors name the file); needs at least one token.
  // With vocab_size > 0 every shard's ids are checked (check_token_ids) the first time the
  // stream opens it, so a bad id is named before any batch holding it is built.
  explicit TokenStream(std::vector<std::string> files, int64_t vocab_size = 0);

  void take(int64_t n, int64_t* out);  // next n tokens, widened to int64
  torch::Tensor take(int64_t n);       // (n,) int64
  void skip(int64_t n);                // advance exactly as take(n) would, without copying

  LoaderState state() const;
  void restore(const LoaderState& state);
  const std::vector<std::string>& files() const { return files_; }

 private:
  template <class Sink>
  void consume(int64_t n, Sink&& sink);  // sink(position in current_, count) per piece
  void open_file(size_t index);

  std::vector<std::string> files_;
  std::vector<int64_t> sizes_;
  int64_t vocab_size_ = 0;
  std::vector<bool> ids_checked_;
  size_t file_index_ = 0;
  int64_t pos_ = 0;
  int64_t consumed_ = 0;
  ShardReader current_;
};

// The reference DistributedTokenLoader. Every rank runs the same stream; per call, the stream
// yields world_size spans of local+1 tokens (local = global_tokens / (world_size * accum)) and
// rank r keeps span r: x = span[0:local], y = span[1:local+1], each (local/seq_len, seq_len).
class DistributedTokenLoader {
 public:
  DistributedTokenLoader(std::vector<std::string> files, int rank, int world_size,
                         int64_t vocab_size = 0);

  std::pair<torch::Tensor, torch::Tensor> next_batch(int64_t global_tokens, int64_t seq_len,
                                                     int64_t grad_accum_steps);
  // The same call's span of local + 1 tokens itself (x and y are its two overlapping views): the
  // trainer moves it to the device once instead of x and y apart.
  torch::Tensor next_span(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps);
  LoaderState state() const { return stream_.state(); }
  void restore(const LoaderState& state) { stream_.restore(state); }
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

 private:
  int rank_;
  int world_size_;
  TokenStream stream_;
};

// All validation files concatenated, then truncated to usable+1 tokens where
// usable = floor((N-1)/seq_len)*seq_len (usable prediction targets). (usable+1,) int64.
// With vocab_size > 0 the tokens read are checked against it (input error naming file and offset).
torch::Tensor load_validation_tokens(const std::vector<std::string>& files, int64_t seq_len,
                                     int64_t vocab_size = 0);

}  // namespace pgolf::data
