// The collective-communication seam (reference-spec §9): everything that crosses ranks goes through
// `Comm`. LocalComm is the single-process implementation every test can run; C10dComm
// (c10d_comm.h) wraps LibTorch's process groups (Gloo on CPU, NCCL on CUDA) under torchrun's env.
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "pgolf/config/choices.h"

namespace pgolf::dist {

// An operation in flight. wait() blocks until its result is in the caller's tensor; calling it
// more than once is harmless.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual int local_rank() const = 0;
  virtual std::string backend() const = 0;  // "local", "gloo" or "nccl"

  // In place; every rank passes a tensor of the same shape and dtype. Any device and layout is
  // accepted (the backend stages through a contiguous copy on its own device when needed).
  virtual void all_reduce_sum(torch::Tensor& t) = 0;
  virtual void all_reduce_max(torch::Tensor& t) = 0;
  // Starts a SUM all-reduce and returns at once (bucketed gradient overlap); `t` must stay alive
  // and untouched until wait() returns.
  virtual std::unique_ptr<Work> all_reduce_sum_async(torch::Tensor& t) = 0;
  // Overwrites `t` with rank `root`'s values.
  virtual void broadcast(torch::Tensor& t, int root) = 0;
  // `input` is world_size() equal contiguous chunks along dim 0 (same shape and dtype on every
  // rank); `output`, one chunk's shape, receives the SUM over ranks of chunk rank() (sharded Muon).
  virtual void reduce_scatter_sum(const torch::Tensor& input, torch::Tensor& output) = 0;
  // `output` (world_size() chunks along dim 0) receives every rank's `input`, in rank order.
  virtual void all_gather(const torch::Tensor& input, torch::Tensor& output) = 0;
  virtual void barrier() = 0;
};

// `output` must be `input` split into `world` chunks along dim 0 (reduce-scatter), or `input`
// must be `output` split so (all-gather): same dtype, dim-0 sizes in that ratio, equal tails.
void check_chunks(const torch::Tensor& whole, const torch::Tensor& chunk, int world,
                  const char* what);

// One process: every collective is the identity (reduce-scatter and all-gather copy).
class LocalComm final : public Comm {
 public:
  explicit LocalComm(int local_rank = 0) : local_rank_(local_rank) {}
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return "local"; }
  void all_reduce_sum(torch::Tensor&) override {}
  void all_reduce_max(torch::Tensor&) override {}
  std::unique_ptr<Work> all_reduce_sum_async(torch::Tensor& t) override;
  void broadcast(torch::Tensor&, int root) override;
  void reduce_scatter_sum(const torch::Tensor& input, torch::Tensor& output) override;
  void all_gather(const torch::Tensor& input, torch::Tensor& output) override;
  void barrier() override {}

 private:
  int local_rank_;
};

// The torchrun contract: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT.
struct TorchrunEnv {
  bool present = false;  // RANK and WORLD_SIZE both set (the reference's "distributed" test)
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;  // TORCHELASTIC_USE_AGENT_STORE=True: torchrun already serves the store
  int restart_count = 0;     // TORCHELASTIC_RESTART_COUNT: keeps store keys of restarts apart
};

// Reads and validates the variables; malformed or inconsistent values are input errors that name
// the variable, what was expected and what was found.
TorchrunEnv read_torchrun_env();

// Wall-clock time (ns since the epoch) at which an exception tore down this process's C10dComm,
// 0 if none did. It is taken before the process group closes its connections, so before any peer
// can notice: the rank with the earliest time is the one whose failure ended the run.
int64_t failure_time_ns();
void note_failure_time();  // records now, once (called by ~C10dComm while unwinding)

// Intra-op threads for one rank: `requested` when > 0, else core::auto_threads of this machine's
// cores, its load average and the LOCAL_WORLD_SIZE ranks on it, so N CPU ranks (or a busy host)
// do not oversubscribe the cores.
int threads_per_rank(int requested, const TorchrunEnv& env);

// LocalComm when RANK/WORLD_SIZE are absent (or WORLD_SIZE is 1); otherwise a C10dComm with
// `backend` (DIST_BACKEND): auto (NCCL when use_cuda and CUDA is available, else Gloo), gloo or
// nccl, and `timeout_seconds` for the rendezvous and every collective (DIST_TIMEOUT_SECONDS).
std::unique_ptr<Comm> make_comm(config::DistBackend backend, bool use_cuda,
                                double timeout_seconds = 600);

}  // namespace pgolf::dist
