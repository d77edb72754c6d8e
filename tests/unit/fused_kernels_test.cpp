// Fused CUDA kernels (model/fused.h) against their LibTorch CPU references. The CUDA comparisons
// need a GPU and this binary's kernels; without them they SKIP and say loudly that they did not
// run (the CI box has no GPU: these comparisons have never run there). The reference and dispatch
// tests run everywhere.
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>

#include "pgolf/model/compat.h"
#include "pgolf/model/fused.h"

namespace pgolf::model::fused {
namespace {

#define PGOLF_REQUIRE_GPU_KERNELS()                                                               \
  do {                                                                                            \
    if (!compiled()) GTEST_SKIP() << "NOT RUN: this build has no CUDA kernels (nvcc not found)";  \
    if (!torch::cuda::is_available())                                                             \
      GTEST_SKIP() << "NOT RUN: no CUDA device; the fused kernel was NOT compared with its CPU "  \
                      "reference";                                                                \
  } while (0)

struct Diff {
  double max_abs = 0;
  int64_t index = -1;
};
Diff compare(const torch::Tensor& a, const torch::Tensor& b) {
  const auto d = (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().flatten();
  Diff r;
  if (d.numel() == 0) return r;
  r.index = d.argmax().item<int64_t>();
  r.max_abs = d[r.index].item<double>();
  return r;
}
double tol(torch::ScalarType t) { return t == torch::kBFloat16 ? 2e-2 : 1e-5; }

// Forward and input gradient of f on `x` (upstream gradient `g`), computed on x's device.
std::pair<torch::Tensor, torch::Tensor> fwd_bwd(const std::function<torch::Tensor(torch::Tensor)>& f,
                                                const torch::Tensor& x, const torch::Tensor& g) {
  auto xi = x.detach().clone().requires_grad_(true);
  auto y = f(xi);
  y.backward(g.to(y.device(), y.scalar_type()));
  return {y.detach(), xi.grad().detach()};
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, double t, const char* what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const auto d = compare(got, want);
  EXPECT_LE(d.max_abs, t) << what << ": max abs error " << d.max_abs << " at flat index " << d.index;
}

TEST(FusedReferenceTest, RmsNormReferenceMatchesFormulaAndGradient) {
  torch::manual_seed(0);
  const auto x = torch::randn({3, 5, 64}, torch::kFloat64).to(torch::kFloat32);
  const auto g = torch::randn({3, 5, 64});
  auto [y, dx] = fwd_bwd(rms_norm_reference, x, g);
  const auto r = torch::rsqrt(x.square().mean(-1, true) + FLT_EPSILON);
  expect_close(y, x * r, 1e-6, "forward");
  const auto xhat = x * r;
  expect_close(dx, r * (g - xhat * (g * xhat).mean(-1, true)), 1e-5, "backward (the kernel's formula)");
}

TEST(FusedReferenceTest, Relu2ReferenceMatchesFormulaAndGradient) {
  const auto h = torch::linspace(-3, 3, 61);
  const auto g = torch::ones({61});
  for (bool leaky : {false, true}) {
    auto [y, dh] = fwd_bwd([&](torch::Tensor t) { return relu2_reference(t, leaky); }, h, g);
    const auto a = torch::where(h > 0, h, leaky ? 0.5 * h : torch::zeros_like(h));
    const auto slope = torch::where(h > 0, torch::ones_like(h), torch::full_like(h, leaky ? 0.5 : 0.0));
    expect_close(y, a * a, 1e-6, leaky ? "leaky forward" : "forward");
    expect_close(dh, 2 * a * slope, 1e-6, leaky ? "leaky backward" : "backward");
  }
}

TEST(FusedDispatchTest, OffByDefaultAndCpuTensorsTakeTheReference) {
  EXPECT_FALSE(enabled());
  set_enabled(true);
  const auto x = torch::randn({2, 8});
  EXPECT_TRUE(torch::equal(rms_norm(x), rms_norm_reference(x)));
  EXPECT_TRUE(torch::equal(relu2(x, true), relu2_reference(x, true)));
  set_enabled(false);
  EXPECT_THROW(rms_norm_cuda(x), std::exception);  // CPU tensor (or no kernels in this build)
}

TEST(FusedKernelsTest, RmsNormCudaMatchesCpuReference) {
  PGOLF_REQUIRE_GPU_KERNELS();
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (int64_t cols : {64, 512, 700}) {  // 700: not a multiple of the block size
      const auto x = torch::randn({4, 33, cols}).to(dtype);
      const auto g = torch::randn({4, 33, cols}).to(dtype);
      auto [yc, dxc] = fwd_bwd(rms_norm_cuda, x.cuda(), g);
      auto [yr, dxr] = fwd_bwd(rms_norm_reference, x, g);
      EXPECT_EQ(yc.scalar_type(), dtype);
      expect_close(yc, yr, tol(dtype), "rms_norm forward");
      expect_close(dxc, dxr, tol(dtype), "rms_norm backward");
    }
  }
}

TEST(FusedKernelsTest, RmsNormCudaFollowsAutocastFp32Policy) {
  PGOLF_REQUIRE_GPU_KERNELS();
  const auto x = torch::randn({8, 512}).to(torch::kBFloat16).cuda();
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  const auto fused_y = rms_norm_cuda(x);
  const auto native_y = compat::rms_norm(x);
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  EXPECT_EQ(fused_y.scalar_type(), native_y.scalar_type());
  expect_close(fused_y, native_y, 1e-5, "rms_norm under autocast");
}

TEST(FusedKernelsTest, Relu2CudaMatchesCpuReference) {
  PGOLF_REQUIRE_GPU_KERNELS();
  torch::manual_seed(2);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (bool leaky : {false, true}) {
      const auto h = torch::randn({3, 17, 1536}).to(dtype);
      const auto g = torch::randn({3, 17, 1536}).to(dtype);
      auto f_cuda = [&](torch::Tensor t) { return relu2_cuda(t, leaky); };
      auto f_ref = [&](torch::Tensor t) { return relu2_reference(t, leaky); };
      auto [yc, dhc] = fwd_bwd(f_cuda, h.cuda(), g);
      auto [yr, dhr] = fwd_bwd(f_ref, h, g);
      expect_close(yc, yr, tol(dtype) * 4, "relu2 forward");   // values up to ~16
      expect_close(dhc, dhr, tol(dtype) * 8, "relu2 backward");
    }
  }
}

TEST(FusedReferenceTest, RotaryBackwardIsTheInverseRotation) {
  // The kernel's backward applies the rotation with -sin to the gradient; check that identity on
  // the reference: the input gradient of rotary for upstream g equals rotary(g, cos, -sin).
  torch::manual_seed(3);
  const auto x = torch::randn({2, 3, 16, 8});
  const auto ang = torch::rand({1, 1, 16, 4}) * 6.28;
  const auto cos = ang.cos(), sin = ang.sin();
  const auto g = torch::randn({2, 3, 16, 8});
  auto [y, dx] = fwd_bwd([&](torch::Tensor t) { return rotary_reference(t, cos, sin); }, x, g);
  expect_close(dx, rotary_reference(g, cos, -sin), 1e-5, "rotary backward");
  EXPECT_FALSE(rotary_suits(x, cos, sin));  // CPU tensors never take the kernel
}

TEST(FusedKernelsTest, RotaryCudaMatchesCpuReference) {
  PGOLF_REQUIRE_GPU_KERNELS();
  torch::manual_seed(4);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto x = torch::randn({2, 4, 33, 64}).to(dtype);
    const auto ang = torch::rand({1, 1, 33, 32}) * 6.28;
    const auto cos = ang.cos().to(dtype), sin = ang.sin().to(dtype);
    const auto g = torch::randn({2, 4, 33, 64}).to(dtype);
    auto f_cuda = [&](torch::Tensor t) { return rotary_cuda(t, cos.cuda(), sin.cuda()); };
    auto f_ref = [&](torch::Tensor t) { return rotary_reference(t, cos, sin); };
    // Non-contiguous input too, as q/k after transpose in the model.
    const auto xt = x.transpose(1, 2).contiguous().transpose(1, 2);
    auto [yc, dxc] = fwd_bwd(f_cuda, xt.cuda(), g);
    auto [yr, dxr] = fwd_bwd(f_ref, x, g);
    expect_close(yc, yr, tol(dtype) * 2, "rotary forward");
    expect_close(dxc, dxr, tol(dtype) * 2, "rotary backward");
  }
}

}  // namespace
}  // namespace pgolf::model::fused
