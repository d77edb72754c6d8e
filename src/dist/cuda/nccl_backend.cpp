// ProcessGroupNCCL construction for C10dComm (see c10d_backends.h); built only when LibTorch has
// CUDA (PGOLF_CUDA). The device is made current first so NCCL binds this rank to cuda:LOCAL_RANK.
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "pgolf/dist/c10d_backends.h"

namespace pgolf::dist::detail {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    int rank, int size, int local_rank,
                                                    std::chrono::milliseconds timeout) {
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(local_rank));
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
}

}  // namespace pgolf::dist::detail
