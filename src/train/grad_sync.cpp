// Bucketed gradient averaging (see grad_sync.h).
#include "pgolf/train/grad_sync.h"

namespace pgolf::train {

std::vector<std::vector<size_t>> plan_buckets(const std::vector<torch::Tensor>& params,
                                              int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> buckets;
  int64_t used = 0;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t bytes = params[i].numel() * static_cast<int64_t>(params[i].element_size());
    const bool fits = !buckets.empty() && params[i].scalar_type() == dtype &&
                      used + bytes <= bucket_bytes;
    if (!fits) {
      buckets.emplace_back();
      used = 0;
      dtype = params[i].scalar_type();
    }
    buckets.back().push_back(i);
    used += bytes;
  }
  return buckets;
}

void average_gradients(const std::vector<torch::Tensor>& params, dist::Comm& comm) {
  const int world = comm.world_size();
  if (world <= 1) return;
  torch::NoGradGuard no_grad;
  for (const auto& bucket : plan_buckets(params)) {
    std::vector<torch::Tensor> grads;
    for (size_t i : bucket) {
      torch::Tensor g = params[i].grad();
      if (!g.defined()) g = torch::zeros_like(params[i]);  // every rank must send the same layout
      grads.push_back(g);
    }
    torch::Tensor flat = torch::cat([&] {
      std::vector<torch::Tensor> v;
      for (auto& g : grads) v.push_back(g.reshape({-1}));
      return v;
    }());
    comm.all_reduce_sum(flat);
    flat.div_(world);
    int64_t offset = 0;
    for (size_t k = 0; k < bucket.size(); ++k) {
      torch::Tensor p = params[bucket[k]];
      const int64_t n = p.numel();
      torch::Tensor avg = flat.narrow(0, offset, n).view_as(p);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(avg);
      } else {
        p.mutable_grad() = avg.clone();
      }
      offset += n;
    }
  }
}

int64_t gradient_bytes(const std::vector<torch::Tensor>& params) {
  int64_t total = 0;
  for (const auto& p : params) total += p.numel() * static_cast<int64_t>(p.element_size());
  return total;
}

}  // namespace pgolf::train
