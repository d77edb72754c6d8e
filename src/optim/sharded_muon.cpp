// Sharded ("Parallel") Muon (see sharded_muon.h and MuonOptions::sharded). One reduce-scatter and
// one all-gather per param group over rank-major flat buffers: rank q's segment holds q's chunk of
// every stack. The record sends the grads in bf16 and averages in bf16 (NCCL AVG); here they
// travel in the params' dtype and are averaged as GradSync does (sum, then / world), so the
// sharded step sees exactly the grads the unsharded one does. The collectives are blocking: the
// record overlaps them with the Adam steps and with the next bank's Newton-Schulz (async work).
#include "pgolf/optim/sharded_muon.h"

#include <algorithm>
#include <map>
#include <utility>

#include "pgolf/core/error.h"
#include "pgolf/optim/muon.h"

namespace pgolf::optim {

std::vector<MuonStack> plan_muon_stacks(const std::vector<std::vector<int64_t>>& shapes,
                                        int world) {
  PGOLF_CHECK(world >= 1, "plan_muon_stacks: world size must be >= 1, found " << world);
  std::vector<MuonStack> stacks;
  std::map<std::pair<int64_t, int64_t>, size_t> plain;  // (rows, cols) -> its stack
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& s = shapes[i];
    PGOLF_CHECK(s.size() == 2 || s.size() == 3,
                "plan_muon_stacks: shape " << i << " has " << s.size()
                                           << " dims; expected a matrix or a bank of them");
    const int64_t rows = s[s.size() - 2], cols = s.back();
    if (s.size() == 3) {
      MuonStack bank;
      bank.members = {i};
      bank.bank = true;
      bank.rows = rows;
      bank.cols = cols;
      bank.matrices = s[0];
      stacks.push_back(std::move(bank));
      continue;
    }
    const auto [it, fresh] = plain.emplace(std::make_pair(rows, cols), stacks.size());
    if (fresh) {
      MuonStack st;
      st.rows = rows;
      st.cols = cols;
      stacks.push_back(std::move(st));
    }
    stacks[it->second].members.push_back(i);
    ++stacks[it->second].matrices;
  }
  for (auto& st : stacks) st.per_rank = (st.matrices + world - 1) / world;
  return stacks;
}

MatrixRange owned_matrices(const MuonStack& stack, int rank) {
  const int64_t begin = std::min(stack.matrices, rank * stack.per_rank);
  return {begin, std::min(stack.matrices, begin + stack.per_rank)};
}

namespace {

// The stacks of a group and where each sits inside one rank's segment of the flat buffers.
struct ShardLayout {
  std::vector<MuonStack> stacks;
  std::vector<int64_t> offset;  // per stack, within a segment
  int64_t segment = 0;          // elements per rank
};

ShardLayout shard_layout(const ParamGroup& group, int world) {
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& p : group.params) shapes.push_back(p.sizes().vec());
  ShardLayout out;
  out.stacks = plan_muon_stacks(shapes, world);
  for (const auto& s : out.stacks) {
    out.offset.push_back(out.segment);
    out.segment += chunk_numel(s);
  }
  return out;
}

// Rank q's chunk of stack k in a rank-major flat buffer, as (per_rank, rows, cols).
torch::Tensor stack_chunk(const torch::Tensor& flat, const ShardLayout& l, size_t k, int q) {
  const MuonStack& s = l.stacks[k];
  return flat.narrow(0, q * l.segment + l.offset[k], chunk_numel(s))
      .view({s.per_rank, s.rows, s.cols});
}

// This rank's grads into the send buffer: matrix m of a stack into rank m / per_rank's chunk.
// Undefined grads stay zero, as GradSync sends them.
void pack_local_grads(const ParamGroup& group, const ShardLayout& l, int world,
                      torch::Tensor& send) {
  for (size_t k = 0; k < l.stacks.size(); ++k) {
    const MuonStack& s = l.stacks[k];
    for (int q = 0; q < world; ++q) {
      const MatrixRange r = owned_matrices(s, q);
      if (r.size() == 0) continue;
      torch::Tensor dst = stack_chunk(send, l, k, q).narrow(0, 0, r.size());
      if (s.bank) {
        const torch::Tensor& g = group.params[s.members[0]].grad();
        if (g.defined()) dst.copy_(g.narrow(0, r.begin, r.size()));
        continue;
      }
      for (int64_t m = r.begin; m < r.end; ++m) {
        const torch::Tensor& g = group.params[s.members[m]].grad();
        if (g.defined()) dst[m - r.begin].copy_(g);
      }
    }
  }
}

}  // namespace

torch::Tensor Muon::averaged_grad_shard(const ParamGroup& group) const {
  const int world = comm_->world_size();
  const ShardLayout l = shard_layout(group, world);
  const auto grad_opts = group.params[0].options();
  for (const auto& p : group.params)
    PGOLF_CHECK(p.scalar_type() == group.params[0].scalar_type(),
                "MUON_SHARDED: the Muon params of one group must share a dtype");
  torch::Tensor send = torch::zeros({world * l.segment}, grad_opts);
  pack_local_grads(group, l, world, send);
  torch::Tensor mine = torch::empty({l.segment}, grad_opts);
  comm_->reduce_scatter_sum(send, mine);
  return mine.div_(world);  // the average, as GradSync::finish divides its sum
}

void Muon::reduce_scatter_grads() {
  if (!sharded_world()) return;
  torch::NoGradGuard no_grad;
  grad_shards_.assign(groups_.size(), torch::Tensor());
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    if (!groups_[gi].params.empty()) grad_shards_[gi] = averaged_grad_shard(groups_[gi]);
}

torch::Tensor Muon::sharded_grad_norm() {
  PGOLF_CHECK(!grad_shards_.empty(), "sharded_grad_norm: reduce_scatter_grads() was not called");
  torch::NoGradGuard no_grad;
  torch::Tensor sq;
  for (const auto& shard : grad_shards_) {
    if (!shard.defined()) continue;
    const torch::Tensor s = shard.to(torch::kFloat32).square().sum();
    sq = sq.defined() ? sq + s : s;
  }
  if (!sq.defined()) return torch::zeros({});
  comm_->all_reduce_sum(sq);  // each matrix sits in exactly one rank's shard (padding is zero)
  return sq.sqrt();
}

void Muon::scale_sharded_grads(const torch::Tensor& coef) {
  torch::NoGradGuard no_grad;
  for (auto& shard : grad_shards_)
    if (shard.defined()) shard.mul_(coef.to(shard.device()));
}

void Muon::sharded_step(ParamGroup& group, const torch::Tensor& shard) {
  const int world = comm_->world_size(), rank = comm_->rank();
  const ShardLayout l = shard_layout(group, world);
  torch::Tensor upd = torch::zeros({l.segment}, shard.options().dtype(opts_.ns_dtype));
  for (size_t k = 0; k < l.stacks.size(); ++k) {
    const MuonStack& s = l.stacks[k];
    const MatrixRange r = owned_matrices(s, rank);
    if (r.size() == 0) continue;
    const torch::Tensor g = stack_chunk(shard, l, k, 0).narrow(0, 0, r.size());
    torch::Tensor out = stack_chunk(upd, l, k, 0).narrow(0, 0, r.size());
    if (s.bank) {
      out.copy_(matrix_update(g, group.names[s.members[0]], group.momentum));
      continue;
    }
    for (int64_t m = r.begin; m < r.end; ++m)
      out[m - r.begin].copy_(matrix_update(g[m - r.begin], group.names[s.members[m]],
                                           group.momentum));
  }
  torch::Tensor all = torch::empty({world * l.segment}, upd.options());
  comm_->all_gather(upd, all);
  for (size_t k = 0; k < l.stacks.size(); ++k) {
    const MuonStack& s = l.stacks[k];
    if (s.bank) {  // the bank's matrices from every rank's chunk, padding dropped
      std::vector<torch::Tensor> parts;
      for (int q = 0; q < world; ++q)
        parts.push_back(stack_chunk(all, l, k, q).narrow(0, 0, owned_matrices(s, q).size()));
      apply_update(group.params[s.members[0]], torch::cat(parts), group.lr);
      continue;
    }
    for (int64_t m = 0; m < s.matrices; ++m)
      apply_update(group.params[s.members[m]],
                   stack_chunk(all, l, k, static_cast<int>(m / s.per_rank))[m % s.per_rank],
                   group.lr);
  }
}

torch::Tensor Muon::momentum_shard_like(const std::string& name) const {
  for (const auto& group : groups_) {
    const ShardLayout l = shard_layout(group, comm_->world_size());
    for (const auto& s : l.stacks) {
      if (!s.bank || group.names[s.members[0]] != name) continue;
      const MatrixRange r = owned_matrices(s, comm_->rank());
      return torch::zeros({r.size(), s.rows, s.cols},
                          group.params[s.members[0]].options().dtype(opts_.ns_dtype));
    }
  }
  PGOLF_FAIL_INPUT("Muon state: '" << name << ".momentum_shard' names no bank of this optimiser");
}

}  // namespace pgolf::optim
