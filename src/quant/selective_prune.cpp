// Selective +-1 pruning to a byte target (see selective_prune.h; the 1.1147 record's TARGET_MB).
#include "pgolf/quant/selective_prune.h"

#include <algorithm>
#include <map>

#include "pgolf/core/error.h"

namespace pgolf::quant {

int64_t target_mb_bytes(double target_mb) {
  return static_cast<int64_t>(target_mb * 1024.0 * 1024.0);
}

std::vector<PruneCandidate> plus_minus_one_candidates(const QuantResult& q) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < q.w.size(); ++i) index[q.w[i].first] = i;
  std::vector<PruneCandidate> out;
  for (const auto& [name, e] : q.meta) {
    if (e.kind.rfind("gptq (int", 0) != 0) continue;
    const auto qi = index.find(name + ".q"), si = index.find(name + ".scale");
    if (qi == index.end() || si == index.end()) continue;
    const auto codes = q.w[qi->second].second.contiguous();
    const auto scale = q.w[si->second].second.to(torch::kFloat32).contiguous();
    if (codes.dim() != 2 || scale.dim() != 1 || scale.size(0) != codes.size(0)) continue;
    const int64_t cols = codes.size(1);
    const auto* c = codes.data_ptr<int8_t>();
    const auto* s = scale.data_ptr<float>();
    for (int64_t k = 0; k < codes.numel(); ++k)
      if (c[k] == 1 || c[k] == -1) {
        const float v = s[k / cols];
        out.push_back({qi->second, k, v * v});
      }
  }
  std::stable_sort(out.begin(), out.end(), [](const PruneCandidate& a, const PruneCandidate& b) {
    return a.error < b.error;
  });
  return out;
}

QuantResult with_pruned(const QuantResult& q, const std::vector<PruneCandidate>& cands,
                        int64_t count) {
  PGOLF_CHECK(count >= 0 && count <= static_cast<int64_t>(cands.size()),
              "selective prune: count " << count << " of " << cands.size() << " candidates");
  QuantResult out = q;
  std::map<size_t, torch::Tensor> cloned;  // only the touched .q tensors are copied
  for (int64_t i = 0; i < count; ++i) {
    const auto& c = cands[static_cast<size_t>(i)];
    auto it = cloned.find(c.entry);
    if (it == cloned.end())
      it = cloned.emplace(c.entry, q.w[c.entry].second.contiguous().clone()).first;
    it->second.data_ptr<int8_t>()[c.index] = 0;
  }
  for (auto& [entry, t] : cloned) out.w[entry].second = t;
  return out;
}

int64_t prune_count_for_target(int64_t total, int64_t target,
                               const std::function<int64_t(int64_t)>& size_of) {
  if (total <= 0 || size_of(0) <= target) return 0;
  if (size_of(total) > target) return total;
  int64_t lo = 0, hi = total;  // the record's loop, so the same counts are tried
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (size_of(mid) <= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

SelectivePruneReport selective_prune(QuantResult& q, double target_mb, int64_t code_bytes,
                                     const std::function<int64_t(const QuantResult&)>& encoded_size) {
  SelectivePruneReport rep;
  rep.target_bytes = target_mb_bytes(target_mb);
  const auto cands = plus_minus_one_candidates(q);
  rep.candidates = static_cast<int64_t>(cands.size());
  std::map<int64_t, int64_t> sizes;
  const auto size_of = [&](int64_t n) {
    auto it = sizes.find(n);
    if (it != sizes.end()) return it->second;
    ++rep.evaluations;
    const int64_t b = code_bytes + encoded_size(with_pruned(q, cands, n));
    sizes[n] = b;
    return b;
  };
  rep.unpruned_bytes = size_of(0);
  rep.pruned = prune_count_for_target(rep.candidates, rep.target_bytes, size_of);
  rep.final_bytes = size_of(rep.pruned);
  if (rep.pruned > 0) q = with_pruned(q, cands, rep.pruned);
  return rep;
}

}  // namespace pgolf::quant
