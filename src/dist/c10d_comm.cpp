// C10dComm (see c10d_comm.h): TCPStore rendezvous from the torchrun env, then one c10d process
// group. Tensors the backend cannot use in place (wrong device, non-contiguous) are staged through
// a contiguous copy on the backend's device and copied back after the collective.
#include "pgolf/dist/c10d_comm.h"

#include <exception>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "pgolf/core/error.h"
#include "pgolf/dist/c10d_backends.h"

namespace pgolf::dist {
namespace {

std::string describe(const std::exception& e) {
  std::string msg = e.what();
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) msg = ce->what_without_backtrace();
  if (msg.find("Timed out") != std::string::npos || msg.find("timed out") != std::string::npos)
    msg += " (a peer rank hung, stopped or is far behind; the wait is DIST_TIMEOUT_SECONDS)";
  return msg;
}

// `t` itself when the backend can work on it in place, else a contiguous copy on `device`.
torch::Tensor staged(const torch::Tensor& t, const torch::Device& device) {
  PGOLF_CHECK(t.defined(), "collective called with an undefined tensor");
  if (t.device() == device && t.is_contiguous()) return t;
  return t.to(device, /*non_blocking=*/false, /*copy=*/true).contiguous();
}

class C10dWork final : public Work {
 public:
  C10dWork(c10::intrusive_ptr<c10d::Work> work, torch::Tensor target, torch::Tensor buffer,
           std::string what)
      : work_(std::move(work)), target_(std::move(target)), buffer_(std::move(buffer)),
        what_(std::move(what)) {}
  ~C10dWork() override {
    // The buffer must outlive the transfer even when the caller forgot to wait.
    try {
      wait();
    } catch (...) {
    }
  }
  void wait() override {
    if (done_) return;
    done_ = true;
    try {
      work_->wait();
    } catch (const std::exception& e) {
      PGOLF_FAIL(what_ << " failed: " << describe(e));
    }
    if (!buffer_.is_same(target_)) target_.copy_(buffer_);
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  torch::Tensor target_, buffer_;
  std::string what_;
  bool done_ = false;
};

}  // namespace

struct C10dComm::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
  torch::Device device{torch::kCPU};

  std::unique_ptr<Work> allreduce(torch::Tensor& t, c10d::ReduceOp op, const std::string& what) {
    torch::Tensor buf = staged(t, device);
    std::vector<at::Tensor> tensors{buf};
    c10d::AllreduceOptions opts;
    opts.reduceOp = op;
    try {
      return std::make_unique<C10dWork>(pg->allreduce(tensors, opts), t, buf, what);
    } catch (const std::exception& e) {
      PGOLF_FAIL(what << " failed: " << describe(e));
    }
  }
};

C10dComm::C10dComm(const TorchrunEnv& env, const std::string& backend,
                   std::chrono::milliseconds timeout)
    : env_(env), backend_(backend), impl_(std::make_unique<Impl>()) {
  PGOLF_CHECK_INPUT(backend == "gloo" || backend == "nccl",
                    "DIST_BACKEND: expected gloo or nccl for " << env.world_size
                                                               << " ranks, found '" << backend
                                                               << "'");
#ifndef PGOLF_WITH_CUDA
  PGOLF_CHECK_INPUT(backend != "nccl",
                    "DIST_BACKEND=nccl: this pgolf was built without CUDA; use gloo");
#endif
  if (backend == "nccl") {
    PGOLF_CHECK_INPUT(torch::cuda::is_available(),
                      "DIST_BACKEND=nccl: CUDA is not available on this machine; use gloo");
    const auto count = static_cast<int>(torch::cuda::device_count());
    PGOLF_CHECK_INPUT(env.local_rank < count, "LOCAL_RANK=" << env.local_rank << ": only "
                                                            << count << " CUDA devices visible");
    impl_->device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  }
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(env.master_port);
    // Under torchrun the elastic agent already serves the store; otherwise rank 0 does.
    opts.isServer = env.rank == 0 && !env.agent_store;
    opts.numWorkers = static_cast<std::size_t>(env.world_size);
    opts.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts);
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(
        "pgolf/" + std::to_string(env.restart_count), tcp);
  } catch (const std::exception& e) {
    PGOLF_FAIL("rendezvous at MASTER_ADDR:MASTER_PORT=" << where << " (rank " << env.rank << " of "
                                                        << env.world_size
                                                        << ") failed: " << describe(e));
  }
  try {
#ifdef PGOLF_WITH_CUDA
    if (backend == "nccl")
      impl_->pg = detail::make_nccl_backend(impl_->store, env.rank, env.world_size,
                                            env.local_rank, timeout);
#endif
    if (backend == "gloo")
      impl_->pg = detail::make_gloo_backend(impl_->store, env.rank, env.world_size, timeout);
  } catch (const std::exception& e) {
    PGOLF_FAIL("creating the " << backend << " process group (rank " << env.rank << " of "
                               << env.world_size << ", store " << where
                               << ") failed: " << describe(e));
  }
  barrier();  // like the reference's barrier right after init_process_group
}

C10dComm::~C10dComm() {
  // Destroyed by an exception: note when, before shutdown() lets the peers see us go.
  if (std::uncaught_exceptions() > 0) note_failure_time();
  if (!impl_ || !impl_->pg) return;
  try {
    impl_->pg->shutdown();
  } catch (...) {
  }
}

void C10dComm::all_reduce_sum(torch::Tensor& t) {
  impl_->allreduce(t, c10d::ReduceOp::SUM, "all_reduce_sum")->wait();
}

void C10dComm::all_reduce_max(torch::Tensor& t) {
  impl_->allreduce(t, c10d::ReduceOp::MAX, "all_reduce_max")->wait();
}

std::unique_ptr<Work> C10dComm::all_reduce_sum_async(torch::Tensor& t) {
  return impl_->allreduce(t, c10d::ReduceOp::SUM, "all_reduce_sum_async");
}

void C10dComm::broadcast(torch::Tensor& t, int root) {
  PGOLF_CHECK(root >= 0 && root < env_.world_size,
              "broadcast: root rank " << root << " outside [0, " << env_.world_size << ")");
  torch::Tensor buf = staged(t, impl_->device);
  std::vector<at::Tensor> tensors{buf};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  try {
    C10dWork(impl_->pg->broadcast(tensors, opts), t, buf, "broadcast").wait();
  } catch (const pgolf::Error&) {
    throw;
  } catch (const std::exception& e) {
    PGOLF_FAIL("broadcast failed: " << describe(e));
  }
}

// Gloo (torch 2.15) implements reduce_scatter_single and all_gather_single on CPU tensors, NCCL
// on CUDA ones, so both backends run the real collective (no all-reduce emulation).
void C10dComm::reduce_scatter_sum(const torch::Tensor& input, torch::Tensor& output) {
  check_chunks(input, output, env_.world_size, "reduce_scatter_sum");
  torch::Tensor in = staged(input, impl_->device);
  torch::Tensor out = staged(output, impl_->device);
  c10d::ReduceScatterOptions opts;
  opts.reduceOp = c10d::ReduceOp::SUM;
  try {
    C10dWork(impl_->pg->reduce_scatter_single(out, in, opts), output, out, "reduce_scatter_sum")
        .wait();
  } catch (const pgolf::Error&) {
    throw;
  } catch (const std::exception& e) {
    PGOLF_FAIL("reduce_scatter_sum failed: " << describe(e));
  }
}

void C10dComm::all_gather(const torch::Tensor& input, torch::Tensor& output) {
  check_chunks(output, input, env_.world_size, "all_gather");
  torch::Tensor in = staged(input, impl_->device);
  torch::Tensor out = staged(output, impl_->device);
  try {
    C10dWork(impl_->pg->all_gather_single(out, in, c10d::AllgatherOptions()), output, out,
             "all_gather")
        .wait();
  } catch (const pgolf::Error&) {
    throw;
  } catch (const std::exception& e) {
    PGOLF_FAIL("all_gather failed: " << describe(e));
  }
}

void C10dComm::barrier() {
  c10d::BarrierOptions opts;
  if (impl_->device.is_cuda()) opts.device = impl_->device;
  try {
    impl_->pg->barrier(opts)->wait();
  } catch (const std::exception& e) {
    PGOLF_FAIL("barrier (rank " << env_.rank << " of " << env_.world_size
                                << ") failed: " << describe(e));
  }
}

}  // namespace pgolf::dist
