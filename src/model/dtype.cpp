// Dtype policy parsing and the autocast scope (see dtype.h).
#include "pgolf/model/dtype.h"

#include <ATen/autocast_mode.h>
#include <ATen/cpu/Utils.h>

#include "pgolf/core/error.h"

namespace pgolf::model {

bool cpu_has_fast_bf16() {
  const auto caps = at::cpu::get_cpu_capabilities();
  for (const char* key : {"avx512_bf16", "amx_bf16"}) {
    auto it = caps.find(key);
    if (it != caps.end() && it->second.isBool() && it->second.toBool()) return true;
  }
  return false;
}

DtypePolicy resolve_dtype_policy(config::Dtype dtype, const torch::Device& device) {
  switch (dtype) {
    case config::Dtype::kFp32: return DtypePolicy::kFp32;
    case config::Dtype::kBf16: return DtypePolicy::kBf16;
    case config::Dtype::kReference: return DtypePolicy::kReference;
    case config::Dtype::kAuto: break;
  }
  if (device.is_cuda()) return DtypePolicy::kBf16;
  return cpu_has_fast_bf16() ? DtypePolicy::kBf16 : DtypePolicy::kFp32;
}

const char* dtype_policy_name(DtypePolicy policy) {
  switch (policy) {
    case DtypePolicy::kFp32: return "fp32";
    case DtypePolicy::kBf16: return "bf16";
    case DtypePolicy::kReference: return "reference";
  }
  return "?";
}

// Mirrors what Python's torch.autocast does on __enter__/__exit__.
ComputeScope::ComputeScope(DtypePolicy policy, c10::DeviceType device) : device_(device) {
  if (policy != DtypePolicy::kBf16) return;
  active_ = true;
  prev_enabled_ = at::autocast::is_autocast_enabled(device_);
  prev_dtype_ = at::autocast::get_autocast_dtype(device_);
  at::autocast::set_autocast_enabled(device_, true);
  at::autocast::set_autocast_dtype(device_, at::kBFloat16);
  at::autocast::increment_nesting();
}

ComputeScope::~ComputeScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, prev_enabled_);
  at::autocast::set_autocast_dtype(device_, prev_dtype_);
}

}  // namespace pgolf::model
