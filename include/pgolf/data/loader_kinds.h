// The TrainLoader kinds (train_loader.h). Declared here for make_train_loader and the tests;
// callers use the interface.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgolf/data/loader.h"
#include "pgolf/data/rng.h"
#include "pgolf/data/shard.h"
#include "pgolf/data/train_loader.h"

namespace pgolf::data {

// Shards opened on first use (ids checked then, once), read by windows through pread.
class ShardSet {
 public:
  ShardSet(std::vector<std::string> files, int64_t vocab_size);
  size_t size() const { return files_.size(); }
  const std::string& file(size_t i) const { return files_[i]; }
  int64_t num_tokens(size_t i) const { return sizes_[i]; }
  const ShardReader& shard(size_t i);
  // Tokens [pos, pos + n) of shard i widened into dst.
  void read(size_t i, int64_t pos, int64_t n, int64_t* dst);

 private:
  std::vector<std::string> files_;
  std::vector<int64_t> sizes_;
  int64_t vocab_size_;
  std::vector<ShardReader> open_;
  std::vector<uint16_t> buf_;
};

class StreamLoader : public TrainLoader {
 public:
  StreamLoader(std::vector<std::string> files, const TrainLoaderOptions& o)
      : impl_(std::move(files), o.rank, o.world_size, o.vocab_size) {}
  Batch next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) override;
  nlohmann::json state() const override { return loader_state_to_json(impl_.state()); }
  void restore(const nlohmann::json& state) override;
  config::Loader kind() const override { return config::Loader::kStream; }

 private:
  DistributedTokenLoader impl_;
};

// The record's ShuffledSequenceLoader, draw for draw: per rank, files[rank::world] and the numpy
// generator PCG64(rank). Each shard's windows start at phase + k*seq_len (phase =
// integers(max_phase + 1)) in the order permutation(count), taken from the back; each row's shard
// is choice(p = windows left / total); when none is left every shard is reset in order. The
// state is the generator now and as it was before the last reset (which rebuilds the orders),
// plus the windows taken from each shard since.
class ShuffledLoader : public TrainLoader {
 public:
  ShuffledLoader(std::vector<std::string> files, const TrainLoaderOptions& o);
  Batch next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;
  config::Loader kind() const override { return config::Loader::kShuffled; }

 private:
  void reset_all();  // the record's _reset_shard for every shard, from rng_
  int64_t left(size_t si) const;
  TrainLoaderOptions opts_;
  int64_t num_all_files_;
  ShardSet shards_;
  int64_t seq_len_ = 0;  // fixed by the first call
  Pcg64 rng_, reset_rng_;
  std::vector<int64_t> taken_;
  std::vector<std::vector<int64_t>> order_;  // window starts of the current pass; drawn from the back
};

// Every rank draws the same global windows (one PCG64 seeded from the file paths, as the record)
// and keeps windows[rank::world]. See coprime_loader.cpp for the rules.
class CoprimeLoader : public TrainLoader {
 public:
  CoprimeLoader(std::vector<std::string> files, const TrainLoaderOptions& o);
  Batch next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;
  config::Loader kind() const override { return config::Loader::kCoprime; }

  struct Cursor {
    int64_t phase = 0, blocks = 0, next = 0, start = 0, stride = 1;
    bool init = false;
  };

 private:
  void reset_cursor(size_t si);
  void take(size_t si, int64_t count, std::vector<std::pair<size_t, int64_t>>& out);
  std::vector<double> shard_probs(const std::vector<size_t>& eligible, double alpha) const;
  std::vector<std::pair<size_t, int64_t>> sample_windows();
  TrainLoaderOptions opts_;
  ShardSet shards_;
  Pcg64 rng_;
  int64_t seq_len_ = 0, global_tokens_ = 0, accum_ = 0;  // fixed by the first call
  int64_t rows_ = 0;                                      // windows per rank per call
  std::vector<Cursor> cursors_;
  int64_t batches_built_ = 0;
};

// The stream of shards in file order (wrapping), cut into spans of world*(local+1) tokens from
// each shard's first BOS; a span that does not fit in the rest of a shard moves to the next.
class DocpackLoader : public TrainLoader {
 public:
  DocpackLoader(std::vector<std::string> files, const TrainLoaderOptions& o);
  Batch next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;
  config::Loader kind() const override { return config::Loader::kDocpack; }

 private:
  void open(size_t file_index);  // reads its BOS positions, cursor at the first
  void advance();
  TrainLoaderOptions opts_;
  ShardSet shards_;
  size_t file_ = 0;
  int64_t cursor_ = 0;
  std::vector<int64_t> bos_;
};

}  // namespace pgolf::data
