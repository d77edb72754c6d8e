// Compute dtype policies (design.md §4, reference-spec §4.6, §15): parameters stay fp32 masters;
// activations run in fp32, under bf16 autocast, or in the record's own bf16 arrangement.
#pragma once

#include <string>

#include <torch/torch.h>

#include "pgolf/config/choices.h"

namespace pgolf::model {

enum class DtypePolicy {
  kFp32,       // everything fp32 (golden tests, CPUs without fast bf16)
  kBf16,       // bf16 autocast around the forward; norms, softmax stats and CE stay fp32
  kReference,  // the record's arrangement without autocast: bf16 tok_emb/bigram.embed lookups,
               // hence a bf16 residual stream, bf16 RoPE tables built as in reference-spec §15.1
};

// DTYPE: auto = bf16 on CUDA and on CPUs with native bf16 matmul (AVX512-BF16 or AMX), fp32
// otherwise; the other choices name their policy.
DtypePolicy resolve_dtype_policy(config::Dtype dtype, const torch::Device& device);
const char* dtype_policy_name(DtypePolicy policy);
// True when the CPU reports AVX512-BF16 or AMX-BF16 (via LibTorch's cpuinfo).
bool cpu_has_fast_bf16();

// RAII: enables bf16 autocast for `device` while alive when policy == kBf16 (a no-op for the
// other policies), restoring the previous autocast state and clearing the cast cache on exit.
class ComputeScope {
 public:
  ComputeScope(DtypePolicy policy, c10::DeviceType device);
  ~ComputeScope();
  ComputeScope(const ComputeScope&) = delete;
  ComputeScope& operator=(const ComputeScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kFloat;
};

}  // namespace pgolf::model
