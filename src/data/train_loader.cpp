// The loader interface's factory, the shared shard set, the stream and shuffled kinds and the
// record's cu_seqlens rule (train_loader.h, loader_kinds.h).
#include "pgolf/data/train_loader.h"

#include <algorithm>

#include "pgolf/core/error.h"
#include "pgolf/data/loader_kinds.h"
#include "pgolf/data/np_random.h"
#include "pgolf/data/state_json.h"

namespace pgolf::data {

// ---- ShardSet ---------------------------------------------------------------------------------

ShardSet::ShardSet(std::vector<std::string> files, int64_t vocab_size)
    : files_(std::move(files)), vocab_size_(vocab_size), open_(files_.size()) {
  for (const auto& f : files_) sizes_.push_back(read_shard_info(f).num_tokens);
}

const ShardReader& ShardSet::shard(size_t i) {
  if (open_[i].tokens() == nullptr) {
    ShardReader r(files_[i]);
    PGOLF_CHECK_INPUT(r.num_tokens() == sizes_[i], "shard " << files_[i]
                                                            << " changed while in use: it had "
                                                            << sizes_[i] << " tokens, now "
                                                            << r.num_tokens());
    check_token_ids(r, vocab_size_);
    open_[i] = std::move(r);
  }
  return open_[i];
}

void ShardSet::read(size_t i, int64_t pos, int64_t n, int64_t* dst) {
  const ShardReader& r = shard(i);
  buf_.resize(static_cast<size_t>(n));
  r.read_tokens(pos, n, buf_.data());
  for (int64_t k = 0; k < n; ++k) dst[k] = buf_[static_cast<size_t>(k)];
}

// ---- stream -----------------------------------------------------------------------------------

torch::Tensor TrainLoader::next_span(int64_t global_tokens, int64_t seq_len,
                                     int64_t grad_accum_steps) {
  Batch b = next(global_tokens, seq_len, grad_accum_steps);
  PGOLF_CHECK_INPUT(b.span.defined(), "LOADER=" << config::choice_name(kind())
                                                << " yields separate windows, not one span; "
                                                << "take its batches with next()");
  return b.span;
}

Batch StreamLoader::next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) {
  auto span = impl_.next_span(global_tokens, seq_len, grad_accum_steps);
  const int64_t n = span.numel() - 1;
  return {span.narrow(0, 0, n).view({-1, seq_len}), span.narrow(0, 1, n).view({-1, seq_len}), {},
          0, span};
}

void StreamLoader::restore(const nlohmann::json& state) {
  if (state.is_object() && state.contains("kind")) expect_kind(state, "stream");
  impl_.restore(loader_state_from_json(state));
}

// ---- shuffled ---------------------------------------------------------------------------------

ShuffledLoader::ShuffledLoader(std::vector<std::string> files, const TrainLoaderOptions& o)
    : opts_(o), num_all_files_(static_cast<int64_t>(files.size())), shards_([&] {
        std::vector<std::string> mine;  // the record's all_files[rank::world_size]
        for (size_t i = static_cast<size_t>(o.rank); i < files.size(); i += o.world_size)
          mine.push_back(files[i]);
        PGOLF_CHECK_INPUT(!mine.empty(), "LOADER=shuffled: rank " << o.rank << " of "
                                             << o.world_size << " gets none of the "
                                             << files.size() << " train shards (first "
                                             << (files.empty() ? "-" : files[0])
                                             << "); it needs at least world_size shards");
        return mine;
      }(), o.vocab_size),
      rng_(static_cast<uint64_t>(o.rank)), reset_rng_(rng_),
      taken_(shards_.size(), 0), order_(shards_.size()) {}

void ShuffledLoader::reset_all() {
  reset_rng_ = rng_;
  for (size_t si = 0; si < shards_.size(); ++si) {
    const int64_t n = shards_.num_tokens(si);
    const int64_t max_phase = std::min(seq_len_ - 1, std::max<int64_t>(0, n - seq_len_ - 1));
    const int64_t phase = max_phase > 0 ? np::integers(rng_, 0, max_phase + 1) : 0;
    auto order = np::permutation(rng_, std::max<int64_t>(0, (n - 1 - phase) / seq_len_));
    for (auto& k : order) k = phase + k * seq_len_;
    order_[si] = std::move(order);
    taken_[si] = 0;
  }
}

int64_t ShuffledLoader::left(size_t si) const {
  return static_cast<int64_t>(order_[si].size()) - taken_[si];
}

Batch ShuffledLoader::next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) {
  const int64_t local = local_tokens(global_tokens, seq_len, grad_accum_steps, opts_.world_size);
  if (seq_len_ == 0) {  // the record resets every shard when it is built; the draws are the same
    seq_len_ = seq_len;
    reset_all();
  }
  PGOLF_CHECK_INPUT(seq_len == seq_len_, "LOADER=shuffled: seq_len changed from "
                                             << seq_len_ << " to " << seq_len);
  const int64_t rows = local / seq_len;
  auto x = torch::empty({rows, seq_len}, torch::kInt64);
  auto y = torch::empty({rows, seq_len}, torch::kInt64);
  std::vector<int64_t> window(static_cast<size_t>(seq_len + 1));
  std::vector<double> p(shards_.size());
  for (int64_t row = 0; row < rows; ++row) {
    int64_t total = 0;
    for (size_t si = 0; si < shards_.size(); ++si) total += left(si);
    if (total <= 0) {  // every window of every shard used: a new pass for all
      reset_all();
      for (size_t si = 0; si < shards_.size(); ++si) total += left(si);
      PGOLF_CHECK_INPUT(total > 0, "LOADER=shuffled: no shard of rank "
                                       << opts_.rank << " (first " << shards_.file(0)
                                       << ") holds seq_len+1 = " << seq_len + 1 << " tokens");
    }
    for (size_t si = 0; si < shards_.size(); ++si)  // the record's remaining / total
      p[si] = static_cast<double>(left(si)) / static_cast<double>(total);
    const auto si = static_cast<size_t>(np::choice(rng_, p));
    const auto& order = order_[si];
    const int64_t start = order[order.size() - 1 - static_cast<size_t>(taken_[si]++)];  // pop()
    shards_.read(si, start, seq_len + 1, window.data());
    std::copy(window.begin(), window.end() - 1, x[row].data_ptr<int64_t>());
    std::copy(window.begin() + 1, window.end(), y[row].data_ptr<int64_t>());
  }
  return {x, y, {}, 0, {}};
}

nlohmann::json ShuffledLoader::state() const {
  return {{"kind", "shuffled"},         {"num_files", num_all_files_},
          {"rank", opts_.rank},         {"seq_len", seq_len_},
          {"rng", rng_.to_json()},      {"reset_rng", reset_rng_.to_json()},
          {"taken", taken_}};
}

void ShuffledLoader::restore(const nlohmann::json& s) {
  expect_kind(s, "shuffled");
  expect_value(s, "num_files", num_all_files_, "train shard files");
  expect_value(s, "rank", opts_.rank, "rank");
  PGOLF_CHECK_INPUT(s.contains("reset_rng"), "loader state: no \"reset_rng\" (a shuffled state "
                                             "from an older build, whose draws were not numpy's)");
  const auto taken = get_vector(s, "taken", shards_.size());
  const Pcg64 now = Pcg64::from_json(s.at("rng"));
  seq_len_ = get_int(s, "seq_len");
  rng_ = Pcg64::from_json(s.at("reset_rng"));
  if (seq_len_ > 0) reset_all();  // rebuilds the pass's orders with the draws that made them
  rng_ = now;
  for (size_t si = 0; si < shards_.size(); ++si) {
    PGOLF_CHECK_INPUT(taken[si] >= 0 && taken[si] <= static_cast<int64_t>(order_[si].size()),
                      "loader state: " << taken[si] << " windows taken from "
                                       << shards_.file(si) << ", which has " << order_[si].size());
  }
  taken_ = taken;
}

// ---- factory, cu_seqlens ----------------------------------------------------------------------

std::unique_ptr<TrainLoader> make_train_loader(std::vector<std::string> files,
                                               const TrainLoaderOptions& o) {
  PGOLF_CHECK_INPUT(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size,
                    "train loader: rank " << o.rank << " outside [0, world_size=" << o.world_size
                                          << ")");
  PGOLF_CHECK_INPUT(!files.empty(), "train loader: no shard files given");
  switch (o.kind) {
    case config::Loader::kShuffled:
      return std::make_unique<ShuffledLoader>(std::move(files), o);
    case config::Loader::kCoprime:
      return std::make_unique<CoprimeLoader>(std::move(files), o);
    case config::Loader::kDocpack:
      return std::make_unique<DocpackLoader>(std::move(files), o);
    case config::Loader::kStream:
      break;
  }
  return std::make_unique<StreamLoader>(std::move(files), o);
}

std::pair<torch::Tensor, int64_t> pack_cu_seqlens(const std::vector<int64_t>& doc_starts,
                                                  int64_t total_len, int64_t max_doc_len,
                                                  int64_t bucket) {
  PGOLF_CHECK(total_len >= 1 && bucket >= 1,
              "pack_cu_seqlens: total_len " << total_len << ", bucket " << bucket);
  std::vector<int64_t> docs = doc_starts;
  if (docs.empty() || docs.front() != 0) docs.insert(docs.begin(), 0);
  docs.push_back(total_len);
  std::vector<int64_t> starts;
  for (size_t i = 0; i + 1 < docs.size(); ++i) {
    PGOLF_CHECK(docs[i] < docs[i + 1],
                "pack_cu_seqlens: document starts must increase inside [0, " << total_len << ")");
    const int64_t step = max_doc_len > 0 ? max_doc_len : total_len;
    for (int64_t p = docs[i]; p < docs[i + 1]; p += step) starts.push_back(p);
  }
  int64_t longest = 0;
  for (size_t i = 0; i < starts.size(); ++i)
    longest = std::max(longest, (i + 1 < starts.size() ? starts[i + 1] : total_len) - starts[i]);
  const int64_t n = static_cast<int64_t>(starts.size()) + 1;
  auto cu = torch::full({(n + bucket - 1) / bucket * bucket}, total_len, torch::kInt32);
  auto* p = cu.data_ptr<int32_t>();
  for (size_t i = 0; i < starts.size(); ++i) p[i] = static_cast<int32_t>(starts[i]);
  return {cu, longest};
}

}  // namespace pgolf::data
