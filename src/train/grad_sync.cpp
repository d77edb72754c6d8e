// Bucketed gradient averaging (see grad_sync.h): the synchronous form and GradSync, which starts
// each bucket's all-reduce from a post-accumulate-grad hook during the backward pass (DDP's
// Reducer: bucket order fixed on every rank, average = sum / world).
#include "pgolf/train/grad_sync.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "pgolf/core/error.h"

namespace pgolf::train {
namespace {

// Runs after autograd accumulated this backward's gradient into the parameter's .grad.
class ReadyHook final : public torch::autograd::PostAccumulateGradHook {
 public:
  ReadyHook(GradSync* sync, size_t index) : sync_(sync), index_(index) {}
  void operator()(const torch::autograd::Variable&) override { sync_->on_grad_ready(index_); }

 private:
  GradSync* sync_;
  size_t index_;
};

}  // namespace

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

GradSync::GradSync(std::vector<torch::Tensor> params, dist::Comm& comm, int64_t bucket_bytes)
    : params_(std::move(params)), comm_(comm) {
  const size_t n = params_.size();
  // Reverse order: the first bucket fills first during backward.
  std::vector<torch::Tensor> reversed(params_.rbegin(), params_.rend());
  bucket_of_.assign(n, 0);
  offset_of_.assign(n, 0);
  ready_.assign(n, false);
  for (const auto& plan : plan_buckets(reversed, bucket_bytes)) {
    Bucket b;
    int64_t numel = 0;
    for (size_t j : plan) {
      const size_t i = n - 1 - j;
      PGOLF_CHECK(params_[i].is_leaf() && params_[i].requires_grad(),
                  "GradSync: parameter " << i << " is not a leaf that requires grad");
      bucket_of_[i] = buckets_.size();
      offset_of_[i] = static_cast<size_t>(numel);
      numel += params_[i].numel();
      b.members.push_back(i);
    }
    b.flat = torch::zeros({numel}, params_[b.members[0]].options());
    buckets_.push_back(std::move(b));
  }
  for (size_t i = 0; i < n; ++i)
    torch::autograd::impl::set_post_acc_grad_hooks(params_[i],
                                                   std::make_unique<ReadyHook>(this, i));
}

GradSync::~GradSync() {
  for (auto& p : params_) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

void GradSync::arm() {
  for (auto& b : buckets_) {
    b.pending = b.members.size();
    b.work.reset();
  }
  ready_.assign(params_.size(), false);
  next_launch_ = 0;
  overlapped_ = 0;
  armed_ = true;
}

void GradSync::stage(size_t i) {
  ready_[i] = true;
  Bucket& b = buckets_[bucket_of_[i]];
  torch::Tensor slot = b.flat.narrow(0, static_cast<int64_t>(offset_of_[i]), params_[i].numel());
  const torch::Tensor& g = params_[i].grad();
  if (g.defined()) {
    slot.copy_(g.reshape({-1}));
  } else {
    slot.zero_();  // every rank must send the same layout
  }
  --b.pending;
}

void GradSync::on_grad_ready(size_t i) {
  if (!armed_ || ready_[i]) return;
  torch::NoGradGuard no_grad;
  stage(i);
  if (buckets_[bucket_of_[i]].pending == 0) {
    const size_t before = next_launch_;
    launch_ready_buckets();
    overlapped_ += next_launch_ - before;
  }
}

void GradSync::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_++];
    b.work = comm_.all_reduce_sum_async(b.flat);
  }
}

void GradSync::finish() {
  PGOLF_CHECK(armed_, "GradSync::finish without arm()");
  armed_ = false;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i)
    if (!ready_[i]) stage(i);
  launch_ready_buckets();
  const double world = comm_.world_size();
  for (auto& b : buckets_) {
    b.work->wait();
    b.work.reset();
    b.flat.div_(world);
    for (size_t i : b.members) {
      torch::Tensor& p = params_[i];
      torch::Tensor avg =
          b.flat.narrow(0, static_cast<int64_t>(offset_of_[i]), p.numel()).view_as(p);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(avg);
      } else {
        p.mutable_grad() = avg.clone();
      }
    }
  }
}

}  // namespace pgolf::train
