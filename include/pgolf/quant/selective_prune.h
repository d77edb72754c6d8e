// Selective +-1 pruning to a byte target (the 1.1147 record's TARGET_MB): every +-1 code of a
// GPTQ'd tensor (kind "gptq (intN)...", per-row fp16 scales) is a candidate, with error
// scale[row]^2 (what zeroing it costs in the weight); candidates are zeroed cheapest first, and
// the count is the smallest that makes the artifact (plus code bytes) fit the target, found by
// bisection as the record does (artifact size taken as non-increasing in the count). When even
// zeroing all of them does not fit, all are zeroed.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "pgolf/quant/quantize.h"

namespace pgolf::quant {

// The record's target: int(TARGET_MB * 1024 * 1024) bytes (MiB, not the decimal 16 MB cap).
int64_t target_mb_bytes(double target_mb);

struct PruneCandidate {
  size_t entry;   // index into QuantResult::w of the name.q tensor
  int64_t index;  // flat index of the +-1 code
  float error;    // scale[row]^2
};
// Candidates in pruning order: by error ascending, ties in (meta order, flat index) order (the
// record's stable sort of a list built tensor by tensor).
std::vector<PruneCandidate> plus_minus_one_candidates(const QuantResult& q);

// A copy of `q` with the first `count` candidates' codes set to 0 (their .q tensors cloned).
QuantResult with_pruned(const QuantResult& q, const std::vector<PruneCandidate>& cands,
                        int64_t count);

// The count to prune: 0 when size_of(0) <= target, `total` when size_of(total) > target, else
// the smallest n in (0, total] with size_of(n) <= target (bisection; size_of non-increasing).
int64_t prune_count_for_target(int64_t total, int64_t target,
                               const std::function<int64_t(int64_t)>& size_of);

struct SelectivePruneReport {
  int64_t candidates = 0, pruned = 0;
  int64_t target_bytes = 0, unpruned_bytes = 0, final_bytes = 0;  // with code bytes
  int evaluations = 0;
};

// Prunes `q` in place to fit target_mb_bytes(target_mb), the size of a variant being
// code_bytes + encode(variant).size().
SelectivePruneReport selective_prune(QuantResult& q, double target_mb, int64_t code_bytes,
                                     const std::function<int64_t(const QuantResult&)>& encoded_size);

}  // namespace pgolf::quant
