// The fused partial-rotary kernel (model/fused_rotary.h) against its CPU reference
// model::partial_rotary. The CUDA comparisons need a GPU and this binary's kernels; without them
// they SKIP, saying they did not run (this box has no GPU: they have never run here). The
// reference, width and dispatch cases run everywhere.
#include <gtest/gtest.h>

#include "pgolf/model/attention_banked.h"  // model::partial_rotary (model/frontier_ops.h)
#include "pgolf/model/fused.h"
#include "pgolf/model/fused_rotary.h"
#include "pgolf/model/layers.h"

namespace pgolf::model::fused {
namespace {

// (1,T,1,r/2) tables of the banked GPT (gpt_banked.cpp builds them so), in `dtype`.
std::pair<torch::Tensor, torch::Tensor> tables(int64_t r, int64_t T, torch::ScalarType dtype) {
  Rotary rotary(r, 10000.0);
  auto [cos, sin] = rotary.tables(T, torch::kCPU, torch::kFloat32, /*faithful=*/false);
  return {cos.view({1, T, 1, -1}).to(dtype), sin.view({1, T, 1, -1}).to(dtype)};
}

// Output and input gradient of f(x) for upstream g.
std::pair<torch::Tensor, torch::Tensor> run_fb(const std::function<torch::Tensor(torch::Tensor)>& f,
                                               const torch::Tensor& x, const torch::Tensor& g) {
  auto xi = x.detach().clone().requires_grad_(true);
  auto y = f(xi);
  y.backward(g.to(y.device(), y.scalar_type()));
  return {y.detach(), xi.grad().detach()};
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().max().item<double>();
}

TEST(FusedRotaryTest, WidthIsTheReferencesReading) {
  EXPECT_EQ(partial_rotary_width(0, 64), 64);
  EXPECT_EQ(partial_rotary_width(16, 64), 16);
  EXPECT_EQ(partial_rotary_width(64, 64), 64);
  EXPECT_EQ(partial_rotary_width(80, 64), 64);
}

// The kernel's backward is the forward with the sine negated: true of the reference too.
TEST(FusedRotaryTest, ReferenceBackwardIsTheInverseRotationAndPassesTheRest) {
  torch::manual_seed(0);
  const auto [cos, sin] = tables(16, 5, torch::kFloat32);
  const auto x = torch::randn({2, 5, 3, 64}), g = torch::randn({2, 5, 3, 64});
  auto [y, dx] = run_fb([&](torch::Tensor t) { return model::partial_rotary(t, cos, sin, 16); }, x, g);
  EXPECT_LE(max_abs_diff(dx, model::partial_rotary(g, cos, -sin, 16)), 1e-6);
  EXPECT_TRUE(torch::equal(dx.narrow(-1, 16, 48), g.narrow(-1, 16, 48)));
  EXPECT_TRUE(torch::equal(y.narrow(-1, 16, 48), x.narrow(-1, 16, 48)));
}

TEST(FusedRotaryTest, CpuTensorsTakeTheReferenceEvenWhenEnabled) {
  torch::manual_seed(1);
  const auto [cos, sin] = tables(16, 5, torch::kFloat32);
  const auto x = torch::randn({2, 5, 3, 64});
  EXPECT_FALSE(partial_rotary_suits(x, cos, sin, 16));
  const bool was = enabled();
  set_enabled(true);
  const auto y = partial_rotary(x, cos, sin, 16);
  set_enabled(was);
  EXPECT_TRUE(torch::equal(y, model::partial_rotary(x, cos, sin, 16)));
  EXPECT_THROW(partial_rotary_cuda(x, cos, sin, 16), std::exception);  // never silently on CPU
}

#define PGOLF_REQUIRE_ROTARY_KERNEL()                                                             \
  do {                                                                                            \
    if (!compiled()) GTEST_SKIP() << "NOT RUN: this build has no CUDA kernels (nvcc not found)";  \
    if (!torch::cuda::is_available())                                                             \
      GTEST_SKIP() << "NOT RUN: no CUDA device; the fused partial rotary was NOT compared with "  \
                      "partial_rotary";                                                           \
  } while (0)

// rope_dims 16 of 64 (the records), 0 (whole head), a non-contiguous x (a transposed view), fp32
// and bf16; forward and input gradient. bf16: the kernel rounds once, the reference per op.
TEST(FusedRotaryKernelTest, MatchesPartialRotaryForwardAndBackward) {
  PGOLF_REQUIRE_ROTARY_KERNEL();
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (const int64_t r : {16, 0}) {
      torch::manual_seed(2);
      const int64_t T = 9, rr = partial_rotary_width(r, 64);
      const auto [cos, sin] = tables(rr, T, dtype);
      const auto x = torch::randn({2, 4, T, 64}).transpose(1, 2).to(dtype);  // (B,T,H,D) view
      const auto g = torch::randn({2, T, 4, 64}).to(dtype);
      const auto cc = cos.cuda(), sc = sin.cuda();
      auto [yc, dxc] = run_fb([&](torch::Tensor t) { return partial_rotary_cuda(t, cc, sc, r); },
                              x.cuda(), g);
      auto [yr, dxr] = run_fb([&](torch::Tensor t) { return model::partial_rotary(t, cos, sin, r); },
                              x, g);
      const double tol = dtype == torch::kBFloat16 ? 4e-2 : 1e-5;
      EXPECT_LE(max_abs_diff(yc, yr), tol) << "forward, rope_dims " << r << " " << dtype;
      EXPECT_LE(max_abs_diff(dxc, dxr), tol) << "backward, rope_dims " << r << " " << dtype;
      EXPECT_TRUE(torch::equal(yc.cpu().narrow(-1, rr, 64 - rr), x.narrow(-1, rr, 64 - rr)));
    }
  }
}

TEST(FusedRotaryKernelTest, DispatchTakesTheKernelOnlyWhenEnabled) {
  PGOLF_REQUIRE_ROTARY_KERNEL();
  const auto [cos, sin] = tables(16, 5, torch::kFloat32);
  const auto x = torch::randn({1, 5, 2, 64}).cuda();
  EXPECT_TRUE(partial_rotary_suits(x, cos.cuda(), sin.cuda(), 16));
  EXPECT_FALSE(partial_rotary_suits(x, cos.cuda(), sin.cuda(), 15));  // odd width
  const bool was = enabled();
  set_enabled(true);
  const auto y = partial_rotary(x, cos.cuda(), sin.cuda(), 16);
  set_enabled(was);
  EXPECT_LE(max_abs_diff(y, model::partial_rotary(x.cpu(), cos, sin, 16)), 1e-5);
}

}  // namespace
}  // namespace pgolf::model::fused
