// The training step (train/step.h, issue #18) on a tiny GPT, without data files:
//   * one eager step zeroes the gradients once, reads the device once, and on one rank runs no
//     collective; on CPU no batch is copied;
//   * with ranks, loss, health, the cap flag and the stop signal travel in ONE small SUM
//     all-reduce (a fake two-rank comm stands in for the other rank);
//   * the NaN hook is a decorator made only when asked for; the step it poisons is not applied;
//   * clipping is a property of the step; the reported norm is the pre-clip norm;
//   * micro-batches are views of one span; SWA/EMA say on which steps they act; the training
//     clock stands still while paused.
#include <gtest/gtest.h>

#include <cmath>

#include "pgolf/dist/comm.h"
#include "pgolf/model/any_gpt.h"
#include "pgolf/optim/optimizer_set.h"
#include "pgolf/optim/schedule.h"
#include "pgolf/train/averager.h"
#include "pgolf/train/signals.h"
#include "pgolf/train/step.h"
#include "pgolf/train/train_clock.h"
#include "common/tiny_model.h"

namespace pgolf::train {
namespace {

// A second rank that mirrors this one, plus what it adds to the exchange (its cap flag and
// signal); counts the collectives the step makes.
class TwoRankComm final : public dist::Comm {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "fake"; }
  void all_reduce_sum(torch::Tensor& t) override {
    ++sums;
    numel = t.numel();
    torch::Tensor other = t.clone();
    if (other_cap) other[2].fill_(1.0);
    if (other_signal > 0) other[3 + other_signal].fill_(1.0);
    t.add_(other);
  }
  void all_reduce_max(torch::Tensor&) override { ++maxes; }
  std::unique_ptr<dist::Work> all_reduce_sum_async(torch::Tensor&) override {
    ADD_FAILURE() << "no gradient sync in these tests";
    return nullptr;
  }
  void broadcast(torch::Tensor&, int) override {}
  void reduce_scatter_sum(const torch::Tensor&, torch::Tensor&) override {
    ADD_FAILURE() << "no sharded Muon in these tests";
  }
  void all_gather(const torch::Tensor&, torch::Tensor&) override {
    ADD_FAILURE() << "no sharded Muon in these tests";
  }
  void barrier() override {}

  int sums = 0, maxes = 0;
  int64_t numel = 0;
  bool other_cap = false;
  int other_signal = 0;
};

struct Rig {
  model::AnyGPT model;
  std::unique_ptr<optim::OptimizerSet> optim;
  std::unique_ptr<Step> step;
};

Rig make_rig(dist::Comm& comm, StepOptions o) {
  torch::set_num_threads(1);
  torch::manual_seed(3);
  Rig r;
  r.model = model::AnyGPT(testing::tiny_model_config(64));
  testing::randomize_parameters(r.model->module(), 0.2);
  r.optim = std::make_unique<optim::OptimizerSet>(r.model->state_dict(), config::OptimConfig{},
                                                  std::vector<std::string>{}, nullptr);
  r.step = make_step(StepParts{r.model, r.optim.get(), nullptr, &comm, torch::kCPU,
                               model::DtypePolicy::kFp32, {}},
                     o, {});
  return r;
}

StepInput input(int64_t step, int micro = 2) {
  torch::manual_seed(100 + step);
  StepInput in;
  in.step = step;
  for (int i = 0; i < micro; ++i)
    in.batches.push_back(batch_from_span(torch::randint(0, 64, {2 * 8 + 1}, torch::kLong), 8));
  return in;
}

std::vector<torch::Tensor> weights(Rig& r) {
  std::vector<torch::Tensor> out;
  for (const auto& p : r.model->parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

TEST(TrainStepTest, EagerStepDoesEachThingOncePerStep) {
  dist::LocalComm comm;
  StepOptions o;
  o.clip_norm = 0.3;
  Rig r = make_rig(comm, o);
  EXPECT_EQ(r.step->describe(), "train_step:eager clip_norm:0.3 grad_sync:none");
  for (int64_t i = 1; i <= 3; ++i) {
    const StepReport rep = run_step(*r.step, comm, input(i), 1.0, 0.95);
    EXPECT_TRUE(rep.updated && std::isfinite(rep.loss));
    EXPECT_GT(rep.grad_norm, 0.0);
  }
  const StepCounters& c = r.step->counters();
  EXPECT_EQ(c.steps, 3);
  EXPECT_EQ(c.zero_grads, 3);   // once per step (was three times)
  EXPECT_EQ(c.host_reads, 3);   // the one exchange read
  EXPECT_EQ(c.collectives, 0);  // one rank: none
  EXPECT_EQ(c.batch_copies, 0); // CPU batches are used where they are
}

TEST(TrainStepTest, OneSmallCollectiveCarriesLossHealthCapAndSignal) {
  TwoRankComm comm;
  Rig r = make_rig(comm, StepOptions{});
  dist::LocalComm local;
  Rig one = make_rig(local, StepOptions{});
  comm.other_cap = true;
  comm.other_signal = 15;
  bool asked = false;
  StepInput in = input(1);
  in.cap_reached = [&] { asked = true; return false; };  // this rank is below the cap
  const StepReport two = run_step(*r.step, comm, in, 1.0, 0.95);
  const StepReport solo = run_step(*one.step, local, input(1), 1.0, 0.95);
  EXPECT_EQ(comm.sums, 1);
  EXPECT_EQ(comm.maxes, 0);
  EXPECT_LE(comm.numel, 40);  // a few doubles, not a tensor per flag
  EXPECT_EQ(r.step->counters().collectives, 1);
  EXPECT_TRUE(asked);
  EXPECT_TRUE(two.cap_reached);      // the other rank's flag
  EXPECT_EQ(two.stop_signal, 15);    // and its signal
  EXPECT_EQ(two.loss, solo.loss);    // the mean over both (equal) ranks
  EXPECT_EQ(two.grad_norm, solo.grad_norm);
  EXPECT_FALSE(solo.cap_reached);
  EXPECT_EQ(solo.stop_signal, 0);
}

TEST(TrainStepTest, NanHookIsADecoratorAndItsStepIsNotApplied) {
  dist::LocalComm comm;
  StepOptions o;
  o.clip_norm = 0.3;
  o.inject_nan_step = 2;
  Rig r = make_rig(comm, o);
  EXPECT_EQ(r.step->describe(), "train_step:eager clip_norm:0.3 grad_sync:none nan_injection_step:2");
  EXPECT_TRUE(run_step(*r.step, comm, input(1), 1.0, 0.95).updated);
  const auto before = weights(r);
  const StepReport rep = run_step(*r.step, comm, input(2), 1.0, 0.95);
  EXPECT_TRUE(rep.loss_finite);  // a finite loss: only the gradient check sees it
  EXPECT_FALSE(rep.grads_finite);
  EXPECT_FALSE(rep.updated);
  EXPECT_TRUE(same(before, weights(r))) << "a non-finite step changed the weights";
}

TEST(TrainStepTest, ClippingIsAPropertyOfTheStep) {
  dist::LocalComm comm;
  StepOptions tight;
  tight.clip_norm = 1e-4;
  Rig plain = make_rig(comm, StepOptions{}), clipped = make_rig(comm, tight);
  const StepReport a = run_step(*plain.step, comm, input(1), 1.0, 0.95);
  const StepReport b = run_step(*clipped.step, comm, input(1), 1.0, 0.95);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.grad_norm, b.grad_norm);  // the pre-clip norm, with or without clipping
  EXPECT_GT(a.grad_norm, 1e-4);
  EXPECT_FALSE(same(weights(plain), weights(clipped)));
}

TEST(TrainStepTest, MicroBatchesAreViewsOfOneSpan) {
  const torch::Tensor span = torch::arange(2 * 4 + 1, torch::kLong);
  const StepBatch b = batch_from_span(span, 4);
  EXPECT_EQ(b.x.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_TRUE(torch::equal(b.x.reshape({-1}), span.narrow(0, 0, 8)));
  EXPECT_TRUE(torch::equal(b.y.reshape({-1}), span.narrow(0, 1, 8)));
  EXPECT_EQ(b.x.data_ptr<int64_t>(), span.data_ptr<int64_t>());  // no copy
  EXPECT_EQ(b.y.data_ptr<int64_t>(), span.data_ptr<int64_t>() + 1);
  EXPECT_THROW(batch_from_span(torch::arange(8, torch::kLong), 4), std::exception);
}

TEST(TrainStepTest, AveragersSayWhereTheyAct) {
  config::TrainConfig t;
  t.swa_enabled = true;
  t.swa_start_frac = 0.5;
  t.swa_every = 3;
  const core::NamedTensors state = {{"w", torch::ones({2})}};
  auto swa = make_averager(t, state);
  EXPECT_FALSE(swa->acts_at(3, 0.6));  // lr scale not below SWA_START_FRAC
  EXPECT_FALSE(swa->acts_at(4, 0.4));  // not a multiple of SWA_EVERY
  EXPECT_TRUE(swa->acts_at(6, 0.4));
  config::TrainConfig e;
  e.swa_enabled = false;  // on by default (the PR #180 record)
  e.ema_decay = 0.9;
  EXPECT_TRUE(make_averager(e, state)->acts_at(1, 1.0));  // EMA: every step
}

TEST(TrainStepTest, TrainClockStandsStillWhilePaused) {
  TrainClock clock(1000.0);
  EXPECT_GE(clock.ms(), 1000.0);
  double at_pause = 0;
  {
    const auto paused = clock.pause();
    at_pause = paused.ms();
    EXPECT_EQ(clock.ms(), at_pause);
    volatile double sink = 0;
    for (int i = 0; i < 200000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
    EXPECT_EQ(clock.ms(), at_pause);  // validation and checkpoints do not count
  }
  EXPECT_GE(clock.ms(), at_pause);
}

}  // namespace
}  // namespace pgolf::train
