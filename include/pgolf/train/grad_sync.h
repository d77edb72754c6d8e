// Gradient averaging across ranks, equivalent to DDP's all-reduce on the last micro-step:
// gradients are flattened into per-dtype buckets (~25 MB like DDP), summed and divided by world.
// GradSync overlaps those all-reduces with the backward pass, like DDP's Reducer.
#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "pgolf/dist/comm.h"

namespace pgolf::train {

constexpr int64_t kGradBucketBytes = 25 * 1024 * 1024;

// Buckets: consecutive parameters of one dtype whose gradient bytes fit in `bucket_bytes`
// (a parameter larger than a bucket gets its own). Returns index lists into `params`.
std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& params,
                                              int64_t bucket_bytes = kGradBucketBytes);
// Averages every defined gradient of `params` over the ranks of `comm` (a no-op for one rank).
void average_gradients(const std::vector<torch::Tensor>& params, dist::Comm& comm);
// Bytes all-reduced per step for these parameters (for the performance notes).
int64_t gradient_bytes(const std::vector<torch::Tensor>& params);

// DDP's Reducer in miniature. Buckets are planned over the parameters in reverse order (backward
// produces the last layers' gradients first). While armed, a hook that runs after autograd has
// accumulated a parameter's gradient copies it into its bucket; a full bucket is all-reduced at
// once, asynchronously, in bucket order on every rank (collectives must match across ranks).
// finish() sends what is left (parameters without a gradient count as zeros), waits, and writes
// the averages back into .grad. Arm only before the last micro-step's backward: earlier
// micro-steps accumulate locally, as DDP's no_sync / require_backward_grad_sync.
class GradSync {
 public:
  // `params` are leaf tensors that outlive this object; their post-accumulate-grad hook slot is
  // taken for its lifetime.
  GradSync(std::vector<torch::Tensor> params, dist::Comm& comm,
           int64_t bucket_bytes = kGradBucketBytes);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  void arm();
  void finish();
  size_t num_buckets() const { return buckets_.size(); }
  // Buckets launched from inside the backward pass at the last finish() (the rest went after).
  size_t overlapped_buckets() const { return overlapped_; }

  void on_grad_ready(size_t index);  // called by the hooks

 private:
  struct Bucket {
    std::vector<size_t> members;         // indices into params_
    torch::Tensor flat;                  // the members' gradients, concatenated
    size_t pending = 0;                  // members not yet staged since arm()
    std::unique_ptr<dist::Work> work;    // the all-reduce in flight
  };
  void launch_ready_buckets();
  void stage(size_t index);

  std::vector<torch::Tensor> params_;
  dist::Comm& comm_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_, offset_of_;  // per parameter
  std::vector<bool> ready_;
  size_t next_launch_ = 0, overlapped_ = 0;
  bool armed_ = false;
};

}  // namespace pgolf::train
