// The tiny banked GPT run of the frontier training tests (frontier_train_test, varlen_train_test):
// the 1.0611 record's knobs at width 32, a session trained through run_loop, and the bit-exact
// comparison of a resumed run with the uninterrupted one.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/tiny_banked.h"
#include "pgolf/config/config.h"
#include "pgolf/core/log.h"
#include "pgolf/dist/comm.h"
#include "pgolf/train/checkpoint.h"
#include "pgolf/train/loop.h"
#include "pgolf/train/session.h"

namespace pgolf::train::frontier_fixture {

// A 3-layer banked GPT of width 32 with the 1.0611 record's knobs (layer 1 looped once more
// from half-way, two lanes in layer 2), its optimiser form, 8 steps of 8 x 2 x 32 tokens, the
// fraction schedule with a floor, EMA, one warm-up step.
inline config::Config banked_config(const std::string& data_dir, const std::string& tokenizer) {
  config::Config c;
  c.data.data_path = data_dir;
  c.data.tokenizer_path = tokenizer;
  c.model = testing::tiny_1_0611_config(1024, /*heads=*/2, /*kv_heads=*/1, /*rope_dims=*/8);
  auto& m = c.model;
  m.qk_gain_init = 5.0;
  m.gate_window = 4;
  m.sparse_attn_gate_scale = 0.5;
  auto& o = c.optim;
  o.matrix_lr = 0.026;
  o.muon_momentum = 0.97;
  o.muon_momentum_warmup_steps = 5;
  o.muon_weight_decay = 0.095;
  o.muon_ns_coeffs = config::MuonNsCoeffs::kPolarExpress;
  o.muon_form = config::MuonForm::kBanked;
  o.muon_row_normalize = true;
  o.beta2 = 0.99;
  o.embed_wd = 0.085;
  o.adam_wd = 0.02;
  auto& t = c.train;
  t.seed = 7;
  t.iterations = 8;
  t.warmdown_frac = 0.85;
  t.min_lr = 0.1;
  t.enable_looping_at = 0.5;  // step/iterations: on before the 5th step
  t.warmup_steps = 1;
  t.train_batch_tokens = 8 * 2 * 32;
  t.train_seq_len = 32;
  t.max_wallclock_seconds = 0;
  t.val_loss_every = 4;
  t.train_log_every = 1;
  t.val_batch_size = 8 * 4 * 32;
  t.swa_enabled = false;
  t.ema_decay = 0.9;
  t.device = config::Device::kCpu;
  t.dtype = config::Dtype::kFp32;
  // The record's CONTROL_TENSOR_NAME_PATTERNS (the preset's): gates and lanes are scalar-AdamW.
  c.quant.control_tensor_name_patterns =
      "attn_scale,attn_scales,mlp_scale,mlp_scales,resid_mix,resid_mixes,q_gain,skip_weight,"
      "skip_weights,skip_gates,parallel_post_lambdas,parallel_resid_lambdas,attn_gate_proj,"
      "attn_gate_w,smear_gate,smear_lambda";
  return c;
}

struct RunOut {
  std::vector<StepRecord> steps;
  std::vector<bool> looping;  // after each step
  core::NamedTensors weights, ema;
  LoopResult result;
};

inline core::NamedTensors cloned(const core::NamedTensors& sd) {
  core::NamedTensors out;
  for (const auto& [n, t] : sd) out.emplace_back(n, t.detach().clone());
  return out;
}

inline RunOut train_run(const config::Config& cfg, LoopOptions opts = {}, const Checkpoint* start = nullptr,
                 core::Logger* log = nullptr,
                 const std::function<void(Session&, const StepRecord&)>& hook = {}) {
  dist::LocalComm comm;
  core::Logger quiet(/*is_master=*/false);
  auto s = make_session(cfg, comm, log ? *log : quiet);
  RunOut r;
  opts.on_step = [&](const StepRecord& rec) {
    r.steps.push_back(rec);
    r.looping.push_back(s->model->looping());
    if (hook) hook(*s, rec);
  };
  r.result = run_loop(*s, opts, start);
  r.weights = cloned(s->model->state_dict());
  if (s->averager) r.ema = cloned(s->averager->state_tensors());
  return r;
}

inline void expect_same_tail(const RunOut& full, const RunOut& resumed) {
  ASSERT_LE(resumed.steps.size(), full.steps.size());
  const size_t off = full.steps.size() - resumed.steps.size();
  for (size_t i = 0; i < resumed.steps.size(); ++i) {
    const auto &a = full.steps[off + i], &b = resumed.steps[i];
    EXPECT_EQ(a.step, b.step);
    EXPECT_EQ(a.train_loss, b.train_loss) << "step " << a.step;  // bit for bit
    EXPECT_EQ(a.lr_scale, b.lr_scale) << "step " << a.step;
    EXPECT_EQ(a.muon_momentum, b.muon_momentum) << "step " << a.step;
    EXPECT_EQ(a.grad_norm, b.grad_norm) << "step " << a.step;
    EXPECT_EQ(full.looping[off + i], resumed.looping[i]) << "step " << a.step;
  }
  auto same = [](const core::NamedTensors& x, const core::NamedTensors& y) {
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_TRUE(torch::equal(x[i].second, y[i].second)) << x[i].first;
  };
  same(full.weights, resumed.weights);
  same(full.ema, resumed.ema);
  EXPECT_EQ(full.result.last_val_loss, resumed.result.last_val_loss);
}

}  // namespace pgolf::train::frontier_fixture
