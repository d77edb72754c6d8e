// The coprime-stride multi-shard loader of the 1.1122 record (PR #726; also 1.0979-1.0897), draw
// for draw with numpy's generator (np_random.h). Per call every rank draws the same list of
// world * rows windows and keeps [rank::world]:
//  * progress p = min(calls / 1800, 1); each shard with a whole window is weighted by the blocks
//    its walk has left (all of them before its first walk) to the power 0.9 - 0.4 p;
//  * mix = round(low + p (high - low)) distinct shards, low = min(max(8, W), shards, windows),
//    high = min(max(32, 8 W), shards, windows), by choice(replace=False, p=weights); each gets
//    one window plus a multinomial share of the rest (by weight); the shards then in
//    permutation order;
//  * a shard's windows come from its walk: blocks of seq_len tokens after a random phase
//    < seq_len, visited as (start + k * stride) mod blocks with gcd(stride, blocks) = 1 (a
//    permutation), a new walk (phase, start, stride) when one is used up;
//  * the windows of each shard are permuted, then the shards are interleaved round-robin in a
//    fresh permutation per round, each round taking the last window of each shard.
// The generator is PCG64 of the record's seed: FNV-1a from 0 over the bytes of each path as
// Python's pathlib writes it, so a DATA_PATH given as the record gives it draws the record's
// windows. One step is not reproduced everywhere: on a CPU with AVX-512, numpy's np.power is
// Intel's SVML kernel, which differs from libm's pow in the last bit for a few percent of the
// weights; equal weights then split at p = 0.5 on one side or the other in the multinomial, so
// the draws part after some hundred calls. Off AVX-512 (or with numpy's AVX-512 dispatch
// disabled, as scripts/gen_loader_vectors.py runs it) numpy's power is libm's and the draws agree.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "pgolf/core/error.h"
#include "pgolf/data/loader_kinds.h"
#include "pgolf/data/np_random.h"
#include "pgolf/data/state_json.h"

namespace pgolf::data {
namespace {

uint64_t coprime_paths_seed(const std::vector<std::string>& files) {
  uint64_t seed = 0;
  for (const auto& f : files) seed = fnv1a(pathlib_str(f), seed);
  return seed;
}

template <class T>
std::vector<T> coprime_permuted(Pcg64& rng, const std::vector<T>& v) {  // v[permutation(len)]
  const auto perm = np::permutation(rng, static_cast<int64_t>(v.size()));
  std::vector<T> out;
  out.reserve(v.size());
  for (int64_t k : perm) out.push_back(v[static_cast<size_t>(k)]);
  return out;
}

// Round-robin over the buckets in a fresh permutation per round, each giving its last window.
std::vector<std::pair<size_t, int64_t>> coprime_interleave(
    Pcg64& rng, std::vector<std::vector<std::pair<size_t, int64_t>>>& buckets) {
  std::vector<std::pair<size_t, int64_t>> windows;
  std::vector<size_t> active(buckets.size());
  std::iota(active.begin(), active.end(), size_t{0});
  while (!active.empty()) {
    std::vector<size_t> still;
    for (size_t bi : coprime_permuted(rng, active)) {
      windows.push_back(buckets[bi].back());
      buckets[bi].pop_back();
      if (!buckets[bi].empty()) still.push_back(bi);
    }
    active = std::move(still);
  }
  return windows;
}

}  // namespace

CoprimeLoader::CoprimeLoader(std::vector<std::string> files, const TrainLoaderOptions& o)
    : opts_(o), shards_(files, o.vocab_size), rng_(coprime_paths_seed(files)),
      cursors_(files.size()) {}

void CoprimeLoader::reset_cursor(size_t si) {
  const int64_t n = shards_.num_tokens(si);
  const int64_t max_phase = std::min(seq_len_ - 1, std::max<int64_t>(0, n - seq_len_ - 1));
  Cursor& c = cursors_[si];
  c.phase = max_phase > 0 ? np::integers(rng_, 0, max_phase + 1) : 0;
  c.blocks = (n - 1 - c.phase) / seq_len_;
  c.next = 0;
  c.start = c.blocks > 1 ? np::integers(rng_, 0, c.blocks) : 0;
  c.stride = 1;
  if (c.blocks > 1) {
    do {
      c.stride = np::integers(rng_, 1, c.blocks);  // no draw when blocks == 2
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

// The record's probs: weights (blocks left) ** alpha over their numpy sum (all ones if that sum
// is not a positive number).
std::vector<double> CoprimeLoader::shard_probs(const std::vector<size_t>& eligible,
                                               double alpha) const {
  std::vector<double> w(eligible.size());
  for (size_t i = 0; i < eligible.size(); ++i) {
    const Cursor& c = cursors_[eligible[i]];
    const double left = c.init ? static_cast<double>(std::max<int64_t>(c.blocks - c.next, 1))
                               : static_cast<double>((shards_.num_tokens(eligible[i]) - 1) / seq_len_);
    // np.power's scalar-exponent loop takes sqrt for 0.5 (alpha from 1800 calls on), else pow.
    w[i] = alpha == 0.5 ? std::sqrt(left) : std::pow(left, alpha);
  }
  double ws = np::sum(w);
  if (!std::isfinite(ws) || ws <= 0.0) {
    std::fill(w.begin(), w.end(), 1.0);
    ws = np::sum(w);
  }
  for (double& v : w) v /= ws;
  return w;
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
  const auto probs = shard_probs(eligible, 0.90 - 0.40 * progress);
  const int64_t low = std::min({std::max<int64_t>(8, W), ec, gns});
  const int64_t high = std::min({std::max<int64_t>(32, 8 * W), ec, gns});
  const int64_t mix = std::max<int64_t>(  // Python's round(): half to even, as nearbyint
      1, std::min({static_cast<int64_t>(std::nearbyint(double(low) + progress * double(high - low))),
                   ec, gns}));
  const auto cp = np::choice_unique(rng_, probs, mix);
  std::vector<double> cpr;
  for (int64_t i : cp) cpr.push_back(probs[static_cast<size_t>(i)]);
  const double cpr_sum = np::sum(cpr);
  for (double& v : cpr) v /= cpr_sum;
  std::vector<int64_t> counts(cp.size(), 1);
  if (gns > mix) {
    const auto extra = np::multinomial(rng_, gns - mix, cpr);
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += extra[i];
  }
  std::vector<std::vector<std::pair<size_t, int64_t>>> buckets;
  for (int64_t k : np::permutation(rng_, mix)) {
    std::vector<std::pair<size_t, int64_t>> b;
    take(eligible[static_cast<size_t>(cp[size_t(k)])], counts[size_t(k)], b);
    if (b.size() > 1) b = coprime_permuted(rng_, b);
    buckets.push_back(std::move(b));
  }
  return coprime_interleave(rng_, buckets);
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
  rng_ = Pcg64::from_json(s.at("rng"));
  cursors_ = std::move(cursors);
}

}  // namespace pgolf::data
