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

// Per rank: files[rank::world]; each shard's windows start at phase + k*seq_len (phase drawn per
// pass), visited in a random permutation; the shard of each row is drawn with probability
// proportional to its windows left; when all are used up every shard starts a new pass.
// A shard's phase and permutation come from its own seed (rank, shard, pass), so the state is
// the draw generator plus, per shard, its pass and windows taken.
class ShuffledLoader : public TrainLoader {
 public:
  ShuffledLoader(std::vector<std::string> files, const TrainLoaderOptions& o);
  Batch next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;
  config::Loader kind() const override { return config::Loader::kShuffled; }

 private:
  void start_pass(size_t si);  // fills order_[si] for pass_[si]
  int64_t left(size_t si) const;
  TrainLoaderOptions opts_;
  int64_t num_all_files_;
  ShardSet shards_;
  int64_t seq_len_ = 0;  // fixed by the first call
  Rng rng_;
  std::vector<int64_t> pass_, taken_;
  std::vector<std::vector<int64_t>> order_;  // window starts of the current pass, in draw order
};

// Every rank draws the same global windows (one generator seeded from the file names) and keeps
// windows[rank::world]. See coprime_loader.cpp for the rules.
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
  std::vector<std::pair<size_t, int64_t>> sample_windows();
  TrainLoaderOptions opts_;
  ShardSet shards_;
  Rng rng_;
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
