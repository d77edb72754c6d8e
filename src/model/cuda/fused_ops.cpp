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

// Per-token softcapped cross-entropy (fp32, one value per row of z). The softcapped logits are
// never stored: the backward recomputes them from z and the saved log-sum-exp.
struct SoftcapCeFn : public torch::autograd::Function<SoftcapCeFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& z, const torch::Tensor& targets,
                               double cap) {
    const c10::cuda::CUDAGuard guard(z.device());
    const auto zc = z.contiguous();
    const auto tc = targets.reshape({-1}).contiguous();
    const int64_t cols = zc.size(-1), rows = zc.numel() / cols;
    auto loss = torch::empty({rows}, zc.options().dtype(torch::kFloat32));
    auto lse = torch::empty({rows}, zc.options().dtype(torch::kFloat32));
    kernels::softcap_ce_forward(zc.data_ptr(), tc.data_ptr<int64_t>(), loss.data_ptr<float>(),
                                lse.data_ptr<float>(), rows, cols, static_cast<float>(cap), kdtype(zc),
                                stream_of(zc));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    ctx->save_for_backward({zc, tc, lse});
    ctx->saved_data["cap"] = cap;
    return loss;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& z = saved[0];
    const auto& t = saved[1];
    const auto& lse = saved[2];
    const float cap = static_cast<float>(ctx->saved_data["cap"].toDouble());
    const c10::cuda::CUDAGuard guard(z.device());
    const auto g = grads[0].to(torch::kFloat32).contiguous();  // (rows); mean's is an expand
    auto dz = torch::empty_like(z);
    const int64_t cols = z.size(-1), rows = z.numel() / cols;
    kernels::softcap_ce_backward(z.data_ptr(), t.data_ptr<int64_t>(), lse.data_ptr<float>(),
                                 g.data_ptr<float>(), dz.data_ptr(), rows, cols, cap, kdtype(z),
                                 stream_of(z));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {dz, torch::Tensor(), torch::Tensor()};
  }
};

// mix[0] * x + mix[1] * x0 with gradients for x, x0 and mix (the mix's summed over all rows in
// fp32, deterministically: per-chunk partial sums, then one sum over the chunks).
struct ResidMixFn : public torch::autograd::Function<ResidMixFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& x0,
                               const torch::Tensor& mix) {
    const c10::cuda::CUDAGuard guard(x.device());
    const auto xc = x.contiguous(), x0c = x0.contiguous();
    const auto mf = mix.to(torch::kFloat32).contiguous();
    const int64_t cols = xc.size(-1), rows = xc.numel() / cols;
    auto y = torch::empty_like(xc);
    kernels::resid_mix_forward(xc.data_ptr(), x0c.data_ptr(), mf.data_ptr<float>(), y.data_ptr(),
                               rows, cols, kdtype(xc), stream_of(xc));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    ctx->save_for_backward({xc, x0c, mf});
    ctx->saved_data["mix_dtype"] = static_cast<int64_t>(mix.scalar_type());
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& x0 = saved[1];
    const auto& mf = saved[2];
    const auto mix_dtype = static_cast<torch::ScalarType>(ctx->saved_data["mix_dtype"].toInt());
    const c10::cuda::CUDAGuard guard(x.device());
    const auto g = grads[0].to(x.scalar_type()).contiguous();
    const int64_t cols = x.size(-1), rows = x.numel() / cols;
    auto dx = torch::empty_like(x), dx0 = torch::empty_like(x0);
    auto partial = torch::empty({kernels::resid_mix_chunks(rows, cols), 2, cols},
                                x.options().dtype(torch::kFloat32));
    kernels::resid_mix_backward(g.data_ptr(), x.data_ptr(), x0.data_ptr(), mf.data_ptr<float>(),
                                dx.data_ptr(), dx0.data_ptr(), partial.data_ptr<float>(), rows, cols,
                                kdtype(x), stream_of(x));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return {dx, dx0, partial.sum(0).to(mix_dtype)};
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

torch::Tensor softcap_cross_entropy_cuda(const torch::Tensor& z, const torch::Tensor& targets,
                                         double cap, bool mean) {
  check_input(z, "softcap_cross_entropy_cuda");
  PGOLF_CHECK(softcap_ce_suits(z, targets),
              "softcap_cross_entropy_cuda: expected z (..., V) and int64 targets of z.numel()/V "
              "elements on z's device, found z " << z.sizes() << ", targets " << targets.sizes() << " "
                                                 << targets.scalar_type() << " " << targets.device());
  PGOLF_CHECK(cap > 0, "softcap_cross_entropy_cuda: cap must be > 0, found " << cap);
  const auto loss = SoftcapCeFn::apply(z, targets, cap);
  return mean ? loss.mean() : loss.reshape(targets.sizes());
}

torch::Tensor resid_mix_cuda(const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& mix) {
  check_input(x, "resid_mix_cuda");
  PGOLF_CHECK(resid_mix_suits(x, x0, mix),
              "resid_mix_cuda: expected x, x0 of one shape and dtype and mix (2, D) on x's device, "
              "found x " << x.sizes() << ", x0 " << x0.sizes() << " " << x0.scalar_type() << ", mix "
                         << mix.sizes());
  return ResidMixFn::apply(x, x0, mix);
}

}  // namespace pgolf::model::fused
#endif  // PGOLF_WITH_CUDA_KERNELS
