// torch::autograd::Function around the fused partial-rotary kernel (see model/fused_rotary.h,
// partial_rotary_kernel.h). Built only with the CUDA compiler (PGOLF_WITH_CUDA_KERNELS); compiled
// and linked, never run here.
#include "pgolf/cuda_kernels.h"  // generated
#if PGOLF_WITH_CUDA_KERNELS
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "partial_rotary_kernel.h"
#include "pgolf/core/error.h"
#include "pgolf/model/fused_rotary.h"

namespace pgolf::model::fused {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// cos/sin are the rotary tables (constants): no gradient flows to them. The backward is the same
// kernel with the sine negated (the inverse rotation of the upstream gradient).
struct PartialRotaryFn : public torch::autograd::Function<PartialRotaryFn> {
  static torch::Tensor run(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                           int64_t half, float sign) {
    const c10::cuda::CUDAGuard guard(x.device());
    const auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    const int64_t D = xc.size(3), H = xc.size(2), T = xc.size(1);
    const auto dtype = xc.scalar_type() == torch::kBFloat16 ? kernels::DType::kBFloat16
                                                            : kernels::DType::kFloat32;
    kernels::partial_rotary(xc.data_ptr(), cos.data_ptr(), sin.data_ptr(), y.data_ptr(),
                            xc.numel() / D, D, half, H, T, sign, dtype,
                            c10::cuda::getCurrentCUDAStream(xc.device().index()).stream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
  }
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin, int64_t half) {
    const auto c = cos.contiguous(), s = sin.contiguous();
    ctx->save_for_backward({c, s});
    ctx->saved_data["half"] = half;
    return run(x, c, s, half, 1.0f);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const int64_t half = ctx->saved_data["half"].toInt();
    const auto g = grads[0].to(saved[0].scalar_type());
    return {run(g, saved[0], saved[1], half, -1.0f), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor partial_rotary_cuda(const torch::Tensor& x, const torch::Tensor& cos,
                                  const torch::Tensor& sin, int64_t rope_dims) {
  PGOLF_CHECK(partial_rotary_suits(x, cos, sin, rope_dims),
              "partial_rotary_cuda: expected a CUDA fp32/bf16 x (B,T,H,D), an even rope_dims <= D "
              "and cos/sin of T*rope_dims/2 elements in x's dtype and device; found x "
                  << x.sizes() << " " << x.scalar_type() << " " << x.device() << ", rope_dims "
                  << rope_dims << ", cos " << cos.sizes());
  const int64_t half = partial_rotary_width(rope_dims, x.size(3)) / 2;
  return PartialRotaryFn::apply(x, cos.detach(), sin.detach(), half);
}

}  // namespace pgolf::model::fused
#endif  // PGOLF_WITH_CUDA_KERNELS
