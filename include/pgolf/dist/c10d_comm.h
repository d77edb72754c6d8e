// Comm over LibTorch's c10d: a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT, then
// ProcessGroupGloo (CPU tensors) or ProcessGroupNCCL (CUDA tensors, cuda/ sources only).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "pgolf/dist/comm.h"

namespace pgolf::dist {

constexpr std::chrono::seconds kDefaultCollectiveTimeout{600};

class C10dComm final : public Comm {
 public:
  // backend: "gloo" or "nccl" (the latter needs a CUDA build and a visible GPU). Blocks until all
  // world_size ranks have joined or `timeout` passes (then throws naming MASTER_ADDR:PORT).
  C10dComm(const TorchrunEnv& env, const std::string& backend,
           std::chrono::milliseconds timeout = kDefaultCollectiveTimeout);
  ~C10dComm() override;
  C10dComm(const C10dComm&) = delete;
  C10dComm& operator=(const C10dComm&) = delete;

  int rank() const override { return env_.rank; }
  int world_size() const override { return env_.world_size; }
  int local_rank() const override { return env_.local_rank; }
  std::string backend() const override { return backend_; }
  void all_reduce_sum(torch::Tensor& t) override;
  void all_reduce_max(torch::Tensor& t) override;
  std::unique_ptr<Work> all_reduce_sum_async(torch::Tensor& t) override;
  void broadcast(torch::Tensor& t, int root) override;
  void reduce_scatter_sum(const torch::Tensor& input, torch::Tensor& output) override;
  void all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  void barrier() override;

 private:
  struct Impl;
  TorchrunEnv env_;
  std::string backend_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgolf::dist
