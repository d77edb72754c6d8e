// torch::autograd::Functions around the fused kernels (see fused.h, kernels.h). Built only when
// the CUDA compiler is present (PGOLF_WITH_CUDA_KERNELS). Compiled and linked; never run here.
#include "pgolf/cuda_kernels.h"  // generated
#if PGOLF_WITH_CUDA_KERNELS
#include <ATen/autocast_mode.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cfloat>

#include "kernels.h"
#include "pgolf/core/error.h"
#include "pgolf/model/fused.h"

namespace pgolf::model::fused {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

kernels::DType kdtype(const torch::Tensor& t) {
  return t.scalar_type() == torch::kBFloat16 ? kernels::DType::kBFloat16 : kernels::DType::kFloat32;
}

void check_input(const torch::Tensor& t, const char* what) {
  PGOLF_CHECK(t.is_cuda() && (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16),
              what << ": expected a CUDA fp32 or bf16 tensor, found " << t.device() << " "
                   << t.scalar_type());
}

CUstream_st* stream_of(const torch::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

struct RmsNormFn : public torch::autograd::Function<RmsNormFn> {
  // out_dtype: the input dtype, or fp32 when autocast is on (rms_norm is on autocast's fp32 list).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, bool out_fp32) {
    const c10::cuda::CUDAGuard guard(x.device());
    const auto xc = x.contiguous();
    const int64_t cols = xc.size(-1), rows = xc.numel() / cols;
    auto y = torch::empty(xc.sizes(), xc.options().dtype(out_fp32 ? torch::kFloat32 : xc.scalar_type()));
    auto rstd = torch::empty({rows}, xc.options().dtype(torch::kFloat32));
    kernels::rms_norm_forward(xc.data_ptr(), y.data_ptr(), rstd.data_ptr<float>(), rows, cols,
                              FLT_EPSILON, kdtype(xc), kdtype(y), stream_of(xc));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    ctx->save_for_backward({xc, rstd});
    ctx->saved_data["out_fp32"] = out_fp32;
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& rstd = saved[1];
    const bool out_fp32 = ctx->saved_data["out_fp32"].toBool();
    const c10::cuda::CUDAGuard guard(x.device());
    const auto g = grads[0].to(out_fp32 ? torch::kFloat32 : x.scalar_type()).contiguous();
    auto dx = torch::empty_like(x);
    const int64_t cols = x.size(-1), rows = x.numel() / cols;
    kernels::rms_norm_backward(g.data_ptr(), x.data_ptr(), rstd.data_ptr<float>(), dx.data_ptr(),
                               rows, cols, kdtype(x), kdtype(g), stream_of(x));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {dx, torch::Tensor()};
  }
};

struct Relu2Fn : public torch::autograd::Function<Relu2Fn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& h, bool leaky) {
    const c10::cuda::CUDAGuard guard(h.device());
    const auto hc = h.contiguous();
    auto y = torch::empty_like(hc);
    kernels::relu2_forward(hc.data_ptr(), y.data_ptr(), hc.numel(), leaky, kdtype(hc), stream_of(hc));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    ctx->save_for_backward({hc});
    ctx->saved_data["leaky"] = leaky;
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto h = ctx->get_saved_variables()[0];
    const bool leaky = ctx->saved_data["leaky"].toBool();
    const c10::cuda::CUDAGuard guard(h.device());
    const auto g = grads[0].to(h.scalar_type()).contiguous();
    auto dh = torch::empty_like(h);
    kernels::relu2_backward(g.data_ptr(), h.data_ptr(), dh.data_ptr(), h.numel(), leaky, kdtype(h),
                            stream_of(h));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {dh, torch::Tensor()};
  }
};

// cos/sin are constants (the rotary tables): no gradient flows to them.
struct RotaryFn : public torch::autograd::Function<RotaryFn> {
  static torch::Tensor run(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                           float sign) {
    const c10::cuda::CUDAGuard guard(x.device());
    const auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    const int64_t half = xc.size(-1) / 2, seq_len = xc.size(-2);
    kernels::rotary(xc.data_ptr(), cos.data_ptr(), sin.data_ptr(), y.data_ptr(), xc.numel() / (2 * half),
                    half, seq_len, sign, kdtype(xc), stream_of(xc));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
  }
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin) {
    const auto c = cos.contiguous(), s = sin.contiguous();
    ctx->save_for_backward({c, s});
    return run(x, c, s, 1.0f);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto g = grads[0].to(saved[0].scalar_type());
    return {run(g, saved[0], saved[1], -1.0f), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor rms_norm_cuda(const torch::Tensor& x) {
  check_input(x, "rms_norm_cuda");
  const bool out_fp32 = x.scalar_type() == torch::kBFloat16 && at::autocast::is_autocast_enabled(at::kCUDA);
  return RmsNormFn::apply(x, out_fp32);
}

torch::Tensor relu2_cuda(const torch::Tensor& h, bool leaky) {
  check_input(h, "relu2_cuda");
  return Relu2Fn::apply(h, leaky);
}

torch::Tensor rotary_cuda(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  check_input(x, "rotary_cuda");
  PGOLF_CHECK(rotary_suits(x, cos, sin), "rotary_cuda: expected x (..., T, 2*half) and cos/sin of T*half "
                                         "elements in x's dtype and device, found x "
                                             << x.sizes() << ", cos " << cos.sizes());
  return RotaryFn::apply(x, cos.detach(), sin.detach());
}

}  // namespace pgolf::model::fused
#endif  // PGOLF_WITH_CUDA_KERNELS
