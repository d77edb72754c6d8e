// The coprime-stride multi-shard loader of the 1.1122 record (PR #726; also 1.0979-1.0897).
// Per call every rank draws the same list of world * rows windows and keeps [rank::world]:
//  * progress p = min(calls / 1800, 1); each shard with a whole window is weighted by the blocks
//    its walk has left (all of them before its first walk) to the power 0.9 - 0.4 p;
//  * mix = round(low + p (high - low)) distinct shards, low = min(max(8, W), shards, windows),
//    high = min(max(32, 8 W), shards, windows), drawn without replacement by weight; each gets
//    one window plus a multinomial share of the rest (by weight), in a random order;
//  * a shard's windows come from its walk: blocks of seq_len tokens after a random phase
//    < seq_len, visited as (start + k * stride) mod blocks with gcd(stride, blocks) = 1 (a
//    permutation), a new walk (phase, start, stride) when one is used up;
//  * the windows of each shard are shuffled, then the shards are interleaved round-robin in a
//    fresh random order per round.
// The generator is seeded from the file names (not paths), so every rank and every copy of the
// data draws the same windows; numpy's PCG64 stream itself is not reproduced (rng.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "pgolf/core/error.h"
#include "pgolf/data/loader_kinds.h"
#include "pgolf/data/state_json.h"

namespace pgolf::data {
namespace {

uint64_t names_seed(const std::vector<std::string>& files) {
  uint64_t seed = 0;
  for (const auto& f : files) seed = fnv1a(f.substr(f.find_last_of('/') + 1), seed);
  return seed;
}

// Index drawn with probability weights[i] / sum (weights >= 0, sum > 0).
size_t draw(Rng& rng, const std::vector<double>& weights, double sum) {
  double u = rng.uniform() * sum;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (u < weights[i]) return i;
    u -= weights[i];
  }
  for (size_t i = weights.size(); i-- > 0;)  // rounding left u past the end: the last positive
    if (weights[i] > 0) return i;
  return 0;
}

template <class T>
void shuffle(Rng& rng, std::vector<T>& v) {
  for (size_t k = v.size(); k > 1; --k) std::swap(v[k - 1], v[rng.below(k)]);
}

}  // namespace

CoprimeLoader::CoprimeLoader(std::vector<std::string> files, const TrainLoaderOptions& o)
    : opts_(o), shards_(files, o.vocab_size), rng_(names_seed(files)), cursors_(files.size()) {}

void CoprimeLoader::reset_cursor(size_t si) {
  const int64_t n = shards_.num_tokens(si);
  const int64_t max_phase = std::min(seq_len_ - 1, std::max<int64_t>(0, n - seq_len_ - 1));
  Cursor& c = cursors_[si];
  c.phase = max_phase > 0 ? static_cast<int64_t>(rng_.below(uint64_t(max_phase) + 1)) : 0;
  c.blocks = (n - 1 - c.phase) / seq_len_;
  c.next = 0;
  c.start = c.blocks > 1 ? static_cast<int64_t>(rng_.below(uint64_t(c.blocks))) : 0;
  c.stride = 1;
  if (c.blocks > 1) {
    do {
      c.stride = 1 + static_cast<int64_t>(rng_.below(uint64_t(c.blocks - 1)));
    } while (std::gcd(c.stride, c.blocks) != 1);
  }
  c.init = true;
}

void CoprimeLoader::take(size_t si, int64_t count, std::vector<std::pair<size_t, int64_t>>& out) {
  while (count > 0) {
    Cursor& c = cursors_[si];
    if (!c.init || c.next >= c.blocks) reset_cursor(si);
    const int64_t k = std::min(count, c.blocks - c.next);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t block = (c.start + (c.next + j) * c.stride) % c.blocks;
      out.emplace_back(si, c.phase + block * seq_len_);
    }
    c.next += k;
    count -= k;
  }
}

std::vector<std::pair<size_t, int64_t>> CoprimeLoader::sample_windows() {
  const int64_t W = opts_.world_size, gns = rows_ * W;
  std::vector<size_t> eligible;
  for (size_t si = 0; si < shards_.size(); ++si)
    if ((shards_.num_tokens(si) - 1) / seq_len_ > 0) eligible.push_back(si);
  const auto ec = static_cast<int64_t>(eligible.size());
  PGOLF_CHECK_INPUT(ec > 0, "LOADER=coprime: no train shard (first " << shards_.file(0)
                                << ") holds seq_len+1 = " << seq_len_ + 1 << " tokens");
  const double progress = std::min(static_cast<double>(batches_built_) / 1800.0, 1.0);
  const double alpha = 0.90 - 0.40 * progress;
  std::vector<double> weights(eligible.size());
  double sum = 0;
  for (size_t i = 0; i < eligible.size(); ++i) {
    const Cursor& c = cursors_[eligible[i]];
    const int64_t blocks = (shards_.num_tokens(eligible[i]) - 1) / seq_len_;
    const double left = c.init ? std::max<double>(double(c.blocks - c.next), 1.0) : double(blocks);
    sum += weights[i] = std::pow(left, alpha);
  }
  const int64_t low = std::min({std::max<int64_t>(8, W), ec, gns});
  const int64_t high = std::min({std::max<int64_t>(32, 8 * W), ec, gns});
  const int64_t mix = std::max<int64_t>(
      1, std::min({static_cast<int64_t>(std::nearbyint(double(low) + progress * double(high - low))),
                   ec, gns}));
  std::vector<size_t> chosen;  // indices into eligible, without replacement by weight
  std::vector<double> w = weights, cw;
  double left_sum = sum;
  for (int64_t k = 0; k < mix; ++k) {
    const size_t i = draw(rng_, w, left_sum);
    chosen.push_back(i);
    cw.push_back(weights[i]);
    left_sum -= w[i];
    w[i] = 0;
  }
  std::vector<int64_t> counts(chosen.size(), 1);
  const double cw_sum = std::accumulate(cw.begin(), cw.end(), 0.0);
  for (int64_t e = 0; e < gns - mix; ++e) ++counts[draw(rng_, cw, cw_sum)];  // multinomial
  std::vector<size_t> perm(chosen.size());
  std::iota(perm.begin(), perm.end(), size_t{0});
  shuffle(rng_, perm);
  std::vector<std::vector<std::pair<size_t, int64_t>>> buckets;
  for (size_t p : perm) {
    std::vector<std::pair<size_t, int64_t>> b;
    take(eligible[chosen[p]], counts[p], b);
    shuffle(rng_, b);
    buckets.push_back(std::move(b));
  }
  std::vector<std::pair<size_t, int64_t>> windows;
  std::vector<size_t> active(buckets.size());
  std::iota(active.begin(), active.end(), size_t{0});
  while (!active.empty()) {  // round-robin over the shards in a fresh order per round
    shuffle(rng_, active);
    std::vector<size_t> still;
    for (size_t bi : active) {
      windows.push_back(buckets[bi].back());
      buckets[bi].pop_back();
      if (!buckets[bi].empty()) still.push_back(bi);
    }
    active = std::move(still);
  }
  return windows;
}

Batch CoprimeLoader::next(int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) {
  const int64_t local = local_tokens(global_tokens, seq_len, grad_accum_steps, opts_.world_size);
  if (seq_len_ == 0) {  // the record's _init_pipeline: the first call fixes the shapes
    seq_len_ = seq_len;
    global_tokens_ = global_tokens;
    accum_ = grad_accum_steps;
    rows_ = local / seq_len;
  }
  PGOLF_CHECK_INPUT(seq_len == seq_len_ && global_tokens == global_tokens_ &&
                        grad_accum_steps == accum_,
                    "LOADER=coprime: batch shape changed from (" << global_tokens_ << ", "
                        << seq_len_ << ", " << accum_ << ") to (" << global_tokens << ", "
                        << seq_len << ", " << grad_accum_steps << ")");
  const auto windows = sample_windows();
  auto x = torch::empty({rows_, seq_len}, torch::kInt64);
  auto y = torch::empty({rows_, seq_len}, torch::kInt64);
  std::vector<int64_t> buf(static_cast<size_t>(seq_len + 1));
  int64_t row = 0;
  for (size_t i = static_cast<size_t>(opts_.rank); i < windows.size();
       i += static_cast<size_t>(opts_.world_size), ++row) {
    shards_.read(windows[i].first, windows[i].second, seq_len + 1, buf.data());
    std::copy(buf.begin(), buf.end() - 1, x[row].data_ptr<int64_t>());
    std::copy(buf.begin() + 1, buf.end(), y[row].data_ptr<int64_t>());
  }
  PGOLF_CHECK(row == rows_, "LOADER=coprime: " << row << " windows for " << rows_ << " rows");
  ++batches_built_;
  return {x, y, {}, 0, {}};
}

nlohmann::json CoprimeLoader::state() const {
  nlohmann::json cur = nlohmann::json::array();
  for (const auto& c : cursors_)
    cur.push_back({c.phase, c.blocks, c.next, c.start, c.stride, c.init ? 1 : 0});
  return {{"kind", "coprime"},        {"num_files", shards_.size()}, {"seq_len", seq_len_},
          {"global_tokens", global_tokens_}, {"grad_accum_steps", accum_},
          {"batches_built", batches_built_}, {"rng", rng_.to_json()},      {"cursors", cur}};
}

void CoprimeLoader::restore(const nlohmann::json& s) {
  expect_kind(s, "coprime");
  expect_value(s, "num_files", static_cast<int64_t>(shards_.size()), "train shard files");
  PGOLF_CHECK_INPUT(s.contains("cursors") && s.at("cursors").is_array() &&
                        s.at("cursors").size() == shards_.size(),
                    "loader state: expected \"cursors\" for " << shards_.size() << " shards");
  std::vector<Cursor> cursors;
  for (const auto& c : s.at("cursors")) {
    PGOLF_CHECK_INPUT(c.is_array() && c.size() == 6, "loader state: a cursor is " << c.dump());
    Cursor k{c[0].get<int64_t>(), c[1].get<int64_t>(), c[2].get<int64_t>(),
             c[3].get<int64_t>(), c[4].get<int64_t>(), c[5].get<int64_t>() != 0};
    PGOLF_CHECK_INPUT(k.next >= 0 && (!k.init || (k.next <= k.blocks && k.stride >= 1)),
                      "loader state: cursor " << c.dump() << " is inconsistent");
    cursors.push_back(k);
  }
  seq_len_ = get_int(s, "seq_len");
  global_tokens_ = get_int(s, "global_tokens");
  accum_ = get_int(s, "grad_accum_steps");
  batches_built_ = get_int(s, "batches_built");
  rows_ = seq_len_ > 0 ? global_tokens_ / (opts_.world_size * accum_) / seq_len_ : 0;
  rng_ = Rng::from_json(s.at("rng"));
  cursors_ = std::move(cursors);
}

}  // namespace pgolf::data
