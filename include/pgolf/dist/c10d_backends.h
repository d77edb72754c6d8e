// Internal to src/dist: constructors of the c10d process groups behind C10dComm. Kept apart so the
// Gloo and NCCL headers (and the CUDA-only NCCL source) stay out of everything else.
#pragma once

#include <chrono>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace pgolf::dist::detail {

// Gloo over TCP; GLOO_SOCKET_IFNAME (comma-separated interfaces) picks the NICs like torch does,
// otherwise the device bound to this host's name (falling back to loopback).
c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size,
                                                    std::chrono::milliseconds timeout);

#ifdef PGOLF_WITH_CUDA
// NCCL on cuda:local_rank (made current first). Defined in src/dist/cuda/nccl_backend.cpp.
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size, int local_rank,
                                                    std::chrono::milliseconds timeout);
#endif

}  // namespace pgolf::dist::detail
