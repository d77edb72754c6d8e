// The document-packing loader of the 1.0734 record (DocumentPackingLoader, kept to 1.0611).
// Shards are taken in file order, wrapping; a shard is entered at its first BOS. Each call takes
// one global span of world * (local + 1) tokens at the cursor; rank r keeps the span's r-th
// piece of local + 1 tokens: x = piece[:-1], y = piece[1:], one packed row (1, local). Its
// cu_seqlens start a segment at 0 and at every BOS inside x, cut documents longer than seq_len
// into seq_len pieces and pad to a multiple of 64 entries (pack_cu_seqlens). The cursor then
// moves by the whole span (so later spans start mid-document, as the record's do); a span that
// would run past the shard's end moves to the next shard instead, dropping the shard's tail.
#include <algorithm>

#include "pgolf/core/error.h"
#include "pgolf/data/loader_kinds.h"
#include "pgolf/data/state_json.h"

namespace pgolf::data {

DocpackLoader::DocpackLoader(std::vector<std::string> files, const TrainLoaderOptions& o)
    : opts_(o), shards_(std::move(files), o.vocab_size) {
  open(0);
}

void DocpackLoader::open(size_t file_index) {
  const ShardReader& shard = shards_.shard(file_index);
  const int64_t n = shard.num_tokens();
  bos_.clear();
  std::vector<uint16_t> buf;
  constexpr int64_t kChunk = int64_t{1} << 16;
  for (int64_t done = 0; done < n; done += kChunk) {
    const int64_t k = std::min(kChunk, n - done);
    buf.resize(static_cast<size_t>(k));
    shard.read_tokens(done, k, buf.data());
    for (int64_t i = 0; i < k; ++i)
      if (buf[size_t(i)] == opts_.bos_id) bos_.push_back(done + i);
  }
  PGOLF_CHECK_INPUT(!bos_.empty(), "LOADER=docpack: shard " << shards_.file(file_index)
                                       << " holds no BOS (id " << opts_.bos_id << ") among its "
                                       << n << " tokens; docpack packs documents that start "
                                       << "with BOS");
  file_ = file_index;
  cursor_ = bos_.front();
}

void DocpackLoader::advance() { open((file_ + 1) % shards_.size()); }

Batch DocpackLoader::next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) {
  const int64_t local = local_tokens(global_tokens, seq_len, grad_accum_steps, opts_.world_size,
                                     /*multiple_of_seq_len=*/false);
  const int64_t piece = local + 1;
  const int64_t span = piece * opts_.world_size;
  for (size_t tries = 0; cursor_ + span > shards_.num_tokens(file_); ++tries) {
    PGOLF_CHECK_INPUT(tries < shards_.size(),
                      "LOADER=docpack: no train shard (of " << shards_.size() << ", first "
                          << shards_.file(0) << ") holds a span of " << span << " tokens (world "
                          << opts_.world_size << " x " << piece << ") after its first BOS");
    advance();
  }
  const int64_t begin = cursor_ + opts_.rank * piece;
  auto tokens = torch::empty({piece}, torch::kInt64);
  shards_.read(file_, begin, piece, tokens.data_ptr<int64_t>());
  // Documents starting inside x, relative to its first position.
  std::vector<int64_t> starts;
  auto lo = std::lower_bound(bos_.begin(), bos_.end(), begin);
  auto hi = std::lower_bound(bos_.begin(), bos_.end(), begin + local);
  for (auto it = lo; it != hi; ++it) starts.push_back(*it - begin);
  auto [cu, longest] = pack_cu_seqlens(starts, local, seq_len, opts_.cu_bucket);
  cursor_ += span;
  return {tokens.narrow(0, 0, local).view({1, local}), tokens.narrow(0, 1, local).view({1, local}),
          cu, longest, tokens};
}

nlohmann::json DocpackLoader::state() const {
  return {{"kind", "docpack"},
          {"num_files", shards_.size()},
          {"file_index", file_},
          {"cursor", cursor_}};
}

void DocpackLoader::restore(const nlohmann::json& s) {
  expect_kind(s, "docpack");
  expect_value(s, "num_files", static_cast<int64_t>(shards_.size()), "train shard files");
  const int64_t f = get_int(s, "file_index");
  const int64_t cursor = get_int(s, "cursor");
  PGOLF_CHECK_INPUT(f >= 0 && f < static_cast<int64_t>(shards_.size()),
                    "loader state: file_index " << f << " outside [0, " << shards_.size() << ")");
  open(static_cast<size_t>(f));
  PGOLF_CHECK_INPUT(cursor >= 0 && cursor <= shards_.num_tokens(file_),
                    "loader state: cursor " << cursor << " outside [0, "
                                            << shards_.num_tokens(file_) << "] of "
                                            << shards_.file(file_));
  cursor_ = cursor;
}

}  // namespace pgolf::data
