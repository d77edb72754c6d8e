// Fused CUDA kernels (model/fused.h) against their LibTorch CPU references (RMSNorm, relu^2,
// rotary, softcapped cross-entropy, residual mixing). The CUDA comparisons
// need a GPU and this binary's kernels; without them they SKIP and say loudly that they did not
// run (the CI box has no GPU: these comparisons have never run there). The reference and dispatch
// tests run everywhere.
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>

#include "pgolf/model/compat.h"
#include "pgolf/model/fused.h"
#include "pgolf/model/gpt.h"
#include "common/tiny_model.h"

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

// ---- softcapped cross-entropy ----

// fp64 ground truth of the fused loss: per-token losses and dL/dz for upstream per-token `g`
// (the kernel's backward formula: g (softmax(s) - onehot) (1 - tanh^2), s = cap tanh(z / cap)).
std::pair<torch::Tensor, torch::Tensor> softcap_ce_fp64(const torch::Tensor& z, const torch::Tensor& t,
                                                        double cap, const torch::Tensor& g) {
  const int64_t V = z.size(-1);
  const auto zd = z.to(torch::kFloat64).reshape({-1, V});
  const auto th = torch::tanh(zd / cap);
  const auto s = cap * th;
  const auto lse = torch::logsumexp(s, -1);
  const auto tt = t.reshape({-1, 1});
  const auto loss = lse - s.gather(1, tt).squeeze(1);
  const auto onehot = torch::zeros_like(s).scatter_(1, tt, 1.0);
  const auto dz = g.to(torch::kFloat64).reshape({-1, 1}) * (torch::softmax(s, -1) - onehot) * (1 - th * th);
  return {loss.reshape(t.sizes()), dz.reshape(z.sizes())};
}

TEST(FusedReferenceTest, SoftcapCrossEntropyReferenceMatchesFormulaAndGradient) {
  torch::manual_seed(6);
  const double cap = 5.0;  // small, so the cap bends most logits
  const auto z = torch::randn({3, 7, 50}) * 6;
  const auto t = torch::randint(0, 50, {3, 7});
  const auto g = torch::randn({3, 7});
  auto [loss, dz] = fwd_bwd([&](torch::Tensor zz) { return softcap_cross_entropy_reference(zz, t, cap, false); },
                            z, g);
  auto [want_loss, want_dz] = softcap_ce_fp64(z, t, cap, g);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  expect_close(loss, want_loss, 1e-5, "per-token loss");
  expect_close(dz, want_dz, 1e-5, "per-token dz");
  // Mean over all tokens: the upstream gradient of every token is 1/N.
  auto [mean, dzm] = fwd_bwd([&](torch::Tensor zz) { return softcap_cross_entropy_reference(zz, t, cap, true); },
                             z, torch::ones({}));
  EXPECT_EQ(mean.dim(), 0);
  expect_close(mean, want_loss.mean(), 1e-5, "mean loss");
  expect_close(dzm, softcap_ce_fp64(z, t, cap, torch::full({3, 7}, 1.0 / 21)).second, 1e-6, "mean dz");
}

TEST(FusedReferenceTest, GptLossIsTheEagerSoftcapCrossEntropy) {
  // GPT::forward / per_token_loss go through fused::softcap_cross_entropy; on CPU that must be the
  // model's eager composition cross_entropy(forward_logits(ids).float()) bit for bit, gradients too.
  auto cfg = testing::tiny_model_config();
  cfg.logit_softcap = 3.0;
  torch::manual_seed(7);
  model::GPT gpt(cfg);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : gpt->parameters()) p.copy_(torch::randn_like(p) * 0.3);  // logits past the cap
  }
  const auto ids = torch::randint(0, 64, {2, 16});
  const auto targets = torch::randint(0, 64, {2, 16});
  const auto grads = [&](const torch::Tensor& loss) {
    for (auto& p : gpt->parameters()) p.mutable_grad() = torch::Tensor();
    loss.backward();
    std::vector<torch::Tensor> out;
    for (auto& p : gpt->parameters()) out.push_back(p.grad().clone());
    return out;
  };
  namespace F = torch::nn::functional;
  const auto fused_loss = gpt->forward(ids, targets);
  const auto fused_grads = grads(fused_loss);
  const auto logits = gpt->forward_logits(ids);
  ASSERT_GT(logits.abs().max().item<double>(), 0.5 * cfg.logit_softcap);
  const auto eager_loss = F::cross_entropy(logits.to(torch::kFloat32).reshape({-1, 64}), targets.reshape({-1}));
  const auto eager_grads = grads(eager_loss);
  EXPECT_TRUE(torch::equal(fused_loss, eager_loss)) << fused_loss.item<double>() << " vs " << eager_loss.item<double>();
  ASSERT_EQ(fused_grads.size(), eager_grads.size());
  for (size_t i = 0; i < fused_grads.size(); ++i) EXPECT_TRUE(torch::equal(fused_grads[i], eager_grads[i])) << "param " << i;
  torch::NoGradGuard no_grad;
  const auto per_tok = gpt->per_token_loss(ids, targets);
  const auto eager_tok = F::cross_entropy(gpt->forward_logits(ids).to(torch::kFloat32).reshape({-1, 64}),
                                          targets.reshape({-1}), F::CrossEntropyFuncOptions().reduction(torch::kNone))
                             .reshape({2, 16});
  EXPECT_TRUE(torch::equal(per_tok, eager_tok));
}

TEST(FusedKernelsTest, SoftcapCrossEntropyCudaMatchesCpuReference) {
  PGOLF_REQUIRE_GPU_KERNELS();
  torch::manual_seed(8);
  const double cap = 30.0;  // the model's LOGIT_SOFTCAP
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (int64_t V : {1024, 1000, 37}) {  // 1000, 37: not multiples of the block size
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " V=" + std::to_string(V));
      const auto z = (torch::randn({4, 33, V}) * 20).to(dtype);
      auto t = torch::randint(0, V, {4, 33});
      t.index_put_({0, 0}, V - 1);  // both ends of the vocabulary
      t.index_put_({0, 1}, 0);
      const auto g = torch::randn({4, 33});
      // The kernel computes in fp32 from z's values; the fp32 reference on the same values is the
      // exact comparison. The bf16 reference also rounds z/cap, tanh and the softcapped logits
      // to bf16 (an ulp is 0.125 at |s| in [16, 30)): compared with a bound of two such ulps.
      const auto zf = z.to(torch::kFloat32);
      auto f_cuda = [&](torch::Tensor zz) { return softcap_cross_entropy_cuda(zz, t.cuda(), cap, false); };
      auto f_ref = [&](torch::Tensor zz) { return softcap_cross_entropy_reference(zz, t, cap, false); };
      auto [lc, dzc] = fwd_bwd(f_cuda, z.cuda(), g);
      auto [lr, dzr] = fwd_bwd(f_ref, zf, g);
      EXPECT_EQ(lc.scalar_type(), torch::kFloat32);
      EXPECT_EQ(dzc.scalar_type(), dtype);
      expect_close(lc, lr, 1e-4, "per-token loss vs fp32 reference");
      const double dz_scale = std::max(1.0, dzr.abs().max().item<double>());
      expect_close(dzc, dzr, (dtype == torch::kBFloat16 ? 1e-2 : 1e-6) * dz_scale, "dz vs fp32 reference");
      if (dtype == torch::kBFloat16) {
        auto [lb, dzb] = fwd_bwd(f_ref, z, g);
        expect_close(lc, lb, 0.25, "per-token loss vs bf16 reference");
        expect_close(dzc, dzb, 0.2 * dz_scale, "dz vs bf16 reference (loose: softmax of shifted logits)");
      }
      // Mean: what GPT::forward uses.
      auto [mc, dmc] = fwd_bwd([&](torch::Tensor zz) { return softcap_cross_entropy_cuda(zz, t.cuda(), cap, true); },
                               z.cuda(), torch::ones({}));
      auto [mr, dmr] = fwd_bwd([&](torch::Tensor zz) { return softcap_cross_entropy_reference(zz, t, cap, true); },
                               zf, torch::ones({}));
      EXPECT_EQ(mc.dim(), 0);
      expect_close(mc, mr, 1e-4, "mean loss");
      expect_close(dmc, dmr, dtype == torch::kBFloat16 ? 1e-4 : 1e-7, "mean dz");
    }
  }
}

TEST(FusedKernelsTest, SoftcapCrossEntropyCudaBadTargetIsNaN) {
  PGOLF_REQUIRE_GPU_KERNELS();
  const auto z = torch::randn({2, 64}).cuda();
  const auto t = torch::tensor({3, 64}, torch::kInt64).cuda();  // 64 is out of range
  const auto loss = softcap_cross_entropy_cuda(z, t, 30.0, false).cpu();
  EXPECT_TRUE(std::isfinite(loss[0].item<float>()));
  EXPECT_TRUE(std::isnan(loss[1].item<float>()));
}

// ---- residual mixing ----

// Forward and the gradients of x, x0 and mix of f(x, x0, mix) for upstream g, on x's device.
std::vector<torch::Tensor> mix_fwd_bwd(
    const std::function<torch::Tensor(torch::Tensor, torch::Tensor, torch::Tensor)>& f,
    const torch::Tensor& x, const torch::Tensor& x0, const torch::Tensor& mix, const torch::Tensor& g) {
  auto xi = x.detach().clone().requires_grad_(true);
  auto x0i = x0.detach().clone().requires_grad_(true);
  auto mi = mix.detach().clone().requires_grad_(true);
  auto y = f(xi, x0i, mi);
  y.backward(g.to(y.device(), y.scalar_type()));
  return {y.detach(), xi.grad().detach(), x0i.grad().detach(), mi.grad().detach()};
}

TEST(FusedReferenceTest, ResidMixReferenceIsTheEagerBlockMixAndItsGradient) {
  torch::manual_seed(9);
  const auto x = torch::randn({2, 7, 16}), x0 = torch::randn({2, 7, 16});
  const auto mix = torch::randn({2, 16});
  const auto g = torch::randn({2, 7, 16});
  const auto ref = mix_fwd_bwd(resid_mix_reference, x, x0, mix, g);
  // Block's eager expression, bit for bit (forward and all three gradients).
  const auto eager = mix_fwd_bwd([](torch::Tensor a, torch::Tensor a0, torch::Tensor m) {
    return m[0].view({1, 1, -1}) * a + m[1].view({1, 1, -1}) * a0;
  }, x, x0, mix, g);
  const char* names[] = {"y", "dx", "dx0", "dmix"};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(ref[i], eager[i])) << names[i];
  // The kernel's formulas.
  expect_close(ref[1], g * mix[0], 1e-6, "dx = g mix[0]");
  expect_close(ref[2], g * mix[1], 1e-6, "dx0 = g mix[1]");
  // IntArrayRef spelt out: torch 2.11's Tensor::sum also takes a DimnameList, so {0, 1} is ambiguous.
  const std::vector<int64_t> rows{0, 1};
  expect_close(ref[3],
               torch::stack({(g * x).sum(at::IntArrayRef(rows)), (g * x0).sum(at::IntArrayRef(rows))}),
               1e-5, "dmix");
}

TEST(FusedKernelsTest, ResidMixCudaMatchesCpuReference) {
  PGOLF_REQUIRE_GPU_KERNELS();
  torch::manual_seed(10);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (int64_t D : {512, 700}) {
      for (int64_t rows : {33, 5000}) {  // 5000: several rows per chunk of the mix-gradient sum
        SCOPED_TRACE(std::string(c10::toString(dtype)) + " D=" + std::to_string(D) + " rows=" +
                     std::to_string(rows));
        const auto x = torch::randn({2, rows, D}).to(dtype), x0 = torch::randn({2, rows, D}).to(dtype);
        const auto mix = torch::randn({2, D}).to(dtype);
        const auto g = torch::randn({2, rows, D}).to(dtype);
        const auto got = mix_fwd_bwd(resid_mix_cuda, x.cuda(), x0.cuda(), mix.cuda(), g);
        // The kernel reads bf16 values and computes in fp32: the fp32 reference on the same values
        // is exact up to one final bf16 rounding (relative 2^-8) of each output.
        const auto want = mix_fwd_bwd(resid_mix_reference, x.to(torch::kFloat32), x0.to(torch::kFloat32),
                                      mix.to(torch::kFloat32), g.to(torch::kFloat32));
        const char* names[] = {"y", "dx", "dx0", "dmix"};
        for (int i = 0; i < 4; ++i) {
          EXPECT_EQ(got[i].scalar_type(), dtype) << names[i];
          const double scale = std::max(1.0, want[i].abs().max().item<double>());
          // fp32: summation order of the mix gradient over up to 10000 rows.
          const double rtol = dtype == torch::kBFloat16 ? 1e-2 : (i == 3 ? 1e-5 : 1e-6);
          expect_close(got[i], want[i], rtol * scale, names[i]);
        }
      }
    }
  }
}

TEST(FusedDispatchTest, LossAndMixOnCpuTakeTheReference) {
  set_enabled(true);
  const auto z = torch::randn({2, 3, 10});
  const auto t = torch::randint(0, 10, {2, 3});
  EXPECT_FALSE(softcap_ce_suits(z, t));
  EXPECT_TRUE(torch::equal(softcap_cross_entropy(z, t, 2.0, true), softcap_cross_entropy_reference(z, t, 2.0, true)));
  EXPECT_TRUE(torch::equal(softcap_cross_entropy(z, t, 2.0, false), softcap_cross_entropy_reference(z, t, 2.0, false)));
  const auto x = torch::randn({2, 3, 8}), x0 = torch::randn({2, 3, 8}), mix = torch::randn({2, 8});
  EXPECT_FALSE(resid_mix_suits(x, x0, mix));
  EXPECT_TRUE(torch::equal(resid_mix(x, x0, mix), resid_mix_reference(x, x0, mix)));
  set_enabled(false);
  EXPECT_THROW(softcap_cross_entropy_cuda(z, t, 2.0, true), std::exception);
  EXPECT_THROW(resid_mix_cuda(x, x0, mix), std::exception);
}

}  // namespace
}  // namespace pgolf::model::fused
