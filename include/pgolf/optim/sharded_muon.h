// Sharded ("Parallel") Muon's share of the work (MUON_SHARDED, the records' Parallel Muon): the
// Muon matrices are cut into stacks of equal-shape matrices, each stack padded to a multiple of
// the world size and split into equal contiguous chunks along its matrix index, one per rank.
// Each step reduce-scatters the grads (rank r receives the summed grads of its chunks), runs
// momentum and Newton-Schulz on them only, and all-gathers the updates (Muon::sharded_step).
#pragma once

#include <cstdint>
#include <vector>

namespace pgolf::optim {

// Matrices of one shape, split among the ranks.
struct MuonStack {
  std::vector<size_t> members;  // indices into the shapes given to plan_muon_stacks, in order
  bool bank = false;            // one 3-D param: its dim 0 is the stack (the record's banks)
  int64_t rows = 0, cols = 0;
  int64_t matrices = 0;  // real matrices: a bank's dim 0, else members.size()
  int64_t per_rank = 0;  // ceil(matrices / world): each rank's chunk, padded with zero matrices
};

// Every 3-D shape (a bank) is a stack of its own, as the 1.0611 record shards each bank; 2-D
// shapes are grouped by (rows, cols) into one stack per shape, in order of first appearance
// (whole matrices, so each rank orthogonalises whole matrices of the plain GPT). Stacks come in
// the order of their first member. Throws on a shape that is not 2-D or 3-D or a world < 1.
std::vector<MuonStack> plan_muon_stacks(const std::vector<std::vector<int64_t>>& shapes,
                                        int world);

// The real matrices [begin, end) of `stack` that `rank` owns: its chunk minus the padding
// (empty when the stack has fewer matrices than the ranks before it hold).
struct MatrixRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
MatrixRange owned_matrices(const MuonStack& stack, int rank);

// Elements of one rank's chunk of `stack` (per_rank * rows * cols).
inline int64_t chunk_numel(const MuonStack& s) { return s.per_rank * s.rows * s.cols; }

}  // namespace pgolf::optim
