// CUDA process settings (see device_setup.h). Only generic ATen APIs are used, so this file builds
// with CPU-only LibTorch too; every path checks the device first.
#include "pgolf/train/device_setup.h"

#include <ATen/Context.h>
#include <ATen/DeviceAccelerator.h>

#include "pgolf/core/error.h"
#include "pgolf/model/fused.h"

namespace pgolf::train {

bool wants_cuda(config::Device device) {
  const bool cuda = torch::cuda::is_available();
  PGOLF_CHECK_INPUT(device != config::Device::kCuda || cuda,
                    "device=cuda was requested but CUDA is not available on this machine");
  return device != config::Device::kCpu && cuda;
}

ComputeSetup setup_compute(const config::TrainConfig& t, int local_rank) {
  ComputeSetup s;
  if (wants_cuda(t.device))
    s.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
  s.policy = model::resolve_dtype_policy(t.dtype, s.device);
  s.summary = configure_device(s.device, s.policy);
  // Fused kernels only when asked for AND on CUDA (process-wide; the model reads the switch).
  model::fused::set_enabled(t.fused_kernels && s.device.is_cuda());
  return s;
}

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
