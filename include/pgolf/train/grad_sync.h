// Gradient averaging across ranks, equivalent to DDP's all-reduce on the last micro-step:
// gradients are flattened into per-dtype buckets (~25 MB like DDP), summed and divided by world.
#pragma once

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

}  // namespace pgolf::train
