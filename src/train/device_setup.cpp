// CUDA process settings (see device_setup.h). Only generic ATen APIs are used, so this file builds
// with CPU-only LibTorch too; every path checks the device first.
#include "pgolf/train/device_setup.h"

#include <ATen/Context.h>
#include <ATen/DeviceAccelerator.h>

namespace pgolf::train {

std::string configure_device(const torch::Device& device, model::DtypePolicy policy) {
  if (!device.is_cuda() || !torch::cuda::is_available()) return "";
  // cuda:LOCAL_RANK becomes the current device: default streams, the caching allocator, CUDA
  // graphs and kernels launched by pgolf's own code all follow the current device.
  at::accelerator::setDeviceIndex(device.index());
  auto& ctx = at::globalContext();
  // The record sets torch.backends.cuda.matmul.allow_tf32 = cudnn.allow_tf32 = True. The fp32
  // policy keeps full fp32 so golden comparisons on a GPU use the fp32 tolerances.
  const bool tf32 = policy != model::DtypePolicy::kFp32;
  ctx.setAllowTF32CuBLAS(tf32);
  ctx.setAllowTF32CuDNN(tf32);
  // The record: enable_flash_sdp(True), mem_efficient/cudnn off. Flash takes bf16/fp16 with
  // enable_gqa; fp32 inputs (fp32 policy) fall back to math, which therefore stays enabled.
  ctx.setSDPUseFlash(true);
  ctx.setSDPUseMemEfficient(false);
  ctx.setSDPUseCuDNN(false);
  ctx.setSDPUseMath(true);
  return "cuda: device cuda:" + std::to_string(device.index()) + " tf32:" + (tf32 ? "on" : "off") +
         " sdpa:flash(+math fallback) dtype:" + model::dtype_policy_name(policy);
}

}  // namespace pgolf::train
