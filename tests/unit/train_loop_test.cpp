// Loop-level tests of the train component on a tiny GPT and synthetic shards (a few seconds on
// one CPU core), complementing tests/e2e/train_smoke_test.sh:
//   * two sessions with the same seed give identical losses and weights (a different seed differs);
//   * a run resumed from a mid-run checkpoint continues exactly like the uninterrupted run
//     (losses, LR multipliers, momenta, final weights and the SWA sum);
//   * a non-finite loss (a weight corrupted to NaN mid-run) stops the run without stepping, with
//     a checkpoint of the last good step and a message naming the step and the checkpoint;
//   * metrics.jsonl carries step, losses, lr multiplier, momentum, tokens/s and elapsed time,
//     with the values the schedule defines, written in batches at log/validation/checkpoint steps;
//   * late QAT switches on at LATE_QAT_FRAC of the run (int5 MLP, int6 attention) and only
//     changes the steps after it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/log.h"
#include "pgolf/data/shard.h"
#include "pgolf/dist/comm.h"
#include "pgolf/model/layers.h"
#include "pgolf/optim/muon.h"
#include "pgolf/optim/schedule.h"
#include "pgolf/train/checkpoint.h"
#include "pgolf/train/loop.h"
#include "pgolf/train/session.h"
#include "common/random_shards.h"
#include "common/tiny_model.h"

namespace pgolf::train {
namespace {

namespace fs = std::filesystem;

std::string tokenizer_path() { return testing_common::dev_tokenizer_path(); }

const std::string& data_dir() {
  static const std::string dir = testing_common::write_random_shards("train_loop_data", 1234);
  return dir;
}

// 2 blocks of width 32, bigram 64x16, 8 steps of 8 micro-batches of 2x32 tokens, warmdown over
// the last 4 steps (iteration form), SWA every step below scale 0.8, validation every 3 steps.
config::Config tiny_config() {
  config::Config c;
  c.data.data_path = data_dir();
  c.data.tokenizer_path = tokenizer_path();
  c.model = testing::tiny_model_config(1024);
  c.model.bigram_vocab_size = 64;
  c.model.bigram_dim = 16;
  c.optim.muon_momentum_warmup_steps = 5;
  c.train.seed = 5;
  c.train.iterations = 8;
  c.train.warmdown_iters = 4;
  c.train.warmup_steps = 1;
  c.train.train_batch_tokens = 8 * 2 * 32;
  c.train.train_seq_len = 32;
  c.train.max_wallclock_seconds = 0;
  c.train.val_loss_every = 3;
  c.train.train_log_every = 1;
  c.train.val_batch_size = 8 * 4 * 32;
  c.train.swa_enabled = true;
  c.train.swa_start_frac = 0.8;
  c.train.swa_every = 1;
  c.train.device = config::Device::kCpu;
  // fp32: fast on any CPU; bf16 determinism is covered by the e2e smoke test
  c.train.dtype = config::Dtype::kFp32;
  return c;
}

struct RunOut {
  std::vector<StepRecord> steps;
  core::NamedTensors weights;
  core::NamedTensors swa;
  LoopResult result;
};

core::NamedTensors cloned(const core::NamedTensors& sd) {
  core::NamedTensors out;
  for (const auto& [n, t] : sd) out.emplace_back(n, t.detach().clone());
  return out;
}

// One loop over a fresh session. `hook` runs after every step with the session.
RunOut train_run(const config::Config& cfg, LoopOptions opts = {},
                 const Checkpoint* start = nullptr, core::Logger* log = nullptr,
                 const std::function<void(Session&, const StepRecord&)>& hook = {}) {
  dist::LocalComm comm;
  core::Logger quiet(/*is_master=*/false);
  auto s = make_session(cfg, comm, log ? *log : quiet);
  RunOut r;
  opts.on_step = [&](const StepRecord& rec) {
    r.steps.push_back(rec);
    if (hook) hook(*s, rec);
  };
  r.result = run_loop(*s, opts, start);
  r.weights = cloned(s->model->state_dict());
  if (s->averager) r.swa = cloned(s->averager->state_tensors());
  return r;
}

void expect_same_steps(const std::vector<StepRecord>& a, const std::vector<StepRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].train_loss, b[i].train_loss) << "step " << a[i].step;  // bit for bit
    EXPECT_EQ(a[i].lr_scale, b[i].lr_scale) << "step " << a[i].step;
    EXPECT_EQ(a[i].muon_momentum, b[i].muon_momentum) << "step " << a[i].step;
    EXPECT_EQ(a[i].grad_norm, b[i].grad_norm) << "step " << a[i].step;
    EXPECT_EQ(a[i].swa_collected, b[i].swa_collected) << "step " << a[i].step;
  }
}

void expect_same_tensors(const core::NamedTensors& a, const core::NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

TEST(TrainLoopTest, SameSeedGivesIdenticalRuns) {
  const auto cfg = tiny_config();
  RunOut a = train_run(cfg), b = train_run(cfg);
  ASSERT_EQ(a.steps.size(), 8u);
  EXPECT_EQ(a.result.steps, 8);
  for (const auto& st : a.steps) EXPECT_TRUE(std::isfinite(st.train_loss));
  expect_same_steps(a.steps, b.steps);
  expect_same_tensors(a.weights, b.weights);
  expect_same_tensors(a.swa, b.swa);
  EXPECT_EQ(a.result.last_val_loss, b.result.last_val_loss);
  // The test can fail: another seed starts from other weights.
  auto other = cfg;
  other.train.seed = 6;
  RunOut c = train_run(other);
  EXPECT_NE(a.steps[0].train_loss, c.steps[0].train_loss);
}

TEST(TrainLoopTest, ResumeFromCheckpointMatchesUninterrupted) {
  auto cfg = tiny_config();
  cfg.train.checkpoint_every = 3;  // checkpoints after steps 3 and 6
  const std::string dir = ::testing::TempDir() + "/train_loop_resume";
  fs::create_directories(dir);
  LoopOptions opts;
  opts.checkpoint_path = dir + "/latest.pt";
  // The step-6 checkpoint is on disk when step 7's hook runs; keep a copy of it.
  RunOut full = train_run(cfg, opts, nullptr, nullptr, [&](Session&, const StepRecord& rec) {
    if (rec.step == 7) fs::copy_file(opts.checkpoint_path, dir + "/step6.pt",
                                     fs::copy_options::overwrite_existing);
  });
  const Checkpoint ckpt = load_checkpoint(dir + "/step6.pt");
  ASSERT_EQ(ckpt.step, 6);
  EXPECT_TRUE(ckpt.state.contains("avg"));  // SWA had collected step 6 (scale 0.75 < 0.8)
  RunOut resumed = train_run(cfg, LoopOptions{}, &ckpt);
  ASSERT_EQ(resumed.steps.size(), 2u);
  EXPECT_EQ(resumed.steps[0].step, 7);
  expect_same_steps(std::vector<StepRecord>(full.steps.begin() + 6, full.steps.end()),
                    resumed.steps);
  expect_same_tensors(full.weights, resumed.weights);
  expect_same_tensors(full.swa, resumed.swa);
  EXPECT_EQ(full.result.last_val_loss, resumed.result.last_val_loss);
}

// Issue #17: CHECKPOINT_EVERY=0 ("only on signal/end") writes a checkpoint when training ends,
// before any export, so a run without the final export keeps its trained weights.
TEST(TrainLoopTest, EndOfTrainingWritesCheckpointWithoutPeriodicOnes) {
  auto cfg = tiny_config();
  cfg.train.checkpoint_every = 0;
  const std::string dir = ::testing::TempDir() + "/train_loop_end_ckpt";
  fs::create_directories(dir);
  fs::remove(dir + "/latest.pt");
  LoopOptions opts;
  opts.checkpoint_path = dir + "/latest.pt";
  bool before_end = false;
  RunOut run = train_run(cfg, opts, nullptr, nullptr, [&](Session&, const StepRecord&) {
    before_end = before_end || fs::exists(opts.checkpoint_path);
  });
  EXPECT_FALSE(before_end) << "CHECKPOINT_EVERY=0 wrote a checkpoint during training";
  ASSERT_TRUE(fs::exists(opts.checkpoint_path)) << "no checkpoint at the end of training";
  const Checkpoint ckpt = load_checkpoint(opts.checkpoint_path);
  EXPECT_EQ(ckpt.step, 8);
  expect_same_tensors(run.weights, with_prefix(ckpt.tensors, "model/"));
}

TEST(TrainLoopTest, NonFiniteLossStopsWithCheckpointAndMessage) {
  const auto cfg = tiny_config();
  const std::string dir = ::testing::TempDir() + "/train_loop_nan";
  fs::create_directories(dir);
  fs::remove(dir + "/latest.pt");
  LoopOptions opts;
  opts.checkpoint_path = dir + "/latest.pt";
  int64_t muon_steps = -1, last_step = 0;
  std::string message;
  try {
    train_run(cfg, opts, nullptr, nullptr, [&](Session& s, const StepRecord& rec) {
      last_step = rec.step;
      muon_steps = dynamic_cast<optim::Muon*>(s.optim->find("muon"))->step_count();
      if (rec.step == 2) {  // corrupt a weight: step 3's loss is NaN
        torch::NoGradGuard no_grad;
        s.model->gpt()->tok_emb->weight.fill_(std::nan(""));
      }
    });
    ADD_FAILURE() << "a NaN loss did not stop the run";
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_EQ(last_step, 2);  // step 3 was never completed
  EXPECT_EQ(muon_steps, 2);
  EXPECT_NE(message.find("non-finite train loss at step 3"), std::string::npos) << message;
  EXPECT_NE(message.find(opts.checkpoint_path), std::string::npos) << message;
  const Checkpoint ckpt = load_checkpoint(opts.checkpoint_path);
  EXPECT_EQ(ckpt.step, 2);  // the last completed step; no optimiser step on the NaN gradient
  const nlohmann::json& muon_meta = ckpt.state.at("optim").at("muon");
  EXPECT_EQ(muon_meta.at("steps").get<int64_t>(), 2);
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(TrainLoopTest, MetricsJsonlHasStepLossesScheduleSpeedAndTime) {
  const auto cfg = tiny_config();
  const std::string dir = ::testing::TempDir() + "/train_loop_metrics";
  fs::create_directories(dir);
  fs::remove(dir + "/metrics.jsonl");
  core::Logger log;
  log.open("", dir + "/metrics.jsonl");
  RunOut r = train_run(cfg, {}, nullptr, &log);
  std::vector<nlohmann::json> train, val;
  for (const auto& e : read_jsonl(dir + "/metrics.jsonl")) {
    ASSERT_TRUE(e.contains("event") && e.contains("time")) << e.dump();
    if (e["event"] == "train") train.push_back(e);
    if (e["event"] == "val") val.push_back(e);
  }
  ASSERT_EQ(train.size(), 8u);
  double prev_ms = 0.0;
  for (size_t i = 0; i < train.size(); ++i) {
    const auto& e = train[i];
    for (const char* key : {"step", "train_loss", "lr_scale", "muon_momentum", "grad_norm",
                            "train_time_ms", "step_ms", "tokens_per_s"})
      ASSERT_TRUE(e.contains(key)) << key << " missing in " << e.dump();
    const int64_t step = e["step"].get<int64_t>();
    EXPECT_EQ(step, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(e["train_loss"].get<double>(), r.steps[i].train_loss);
    // The schedule of the step just taken (evaluated at step - 1 completed steps).
    EXPECT_EQ(e["lr_scale"].get<double>(),
              optim::lr_mul(step - 1, 0.0, cfg.train.iterations, cfg.train.warmdown_iters, 0.0));
    EXPECT_EQ(e["muon_momentum"].get<double>(),
              optim::muon_momentum(step - 1, cfg.optim.muon_momentum_warmup_start,
                                   cfg.optim.muon_momentum, cfg.optim.muon_momentum_warmup_steps));
    EXPECT_GT(e["grad_norm"].get<double>(), 0.0);  // clipping on: the pre-clip norm is measured
    EXPECT_GE(e["train_time_ms"].get<double>(), prev_ms);
    prev_ms = e["train_time_ms"].get<double>();
    EXPECT_GT(e["step_ms"].get<double>(), 0.0);
    EXPECT_GT(e["tokens_per_s"].get<double>(), 0.0);
    EXPECT_TRUE(std::isfinite(e["tokens_per_s"].get<double>()));
  }
  EXPECT_EQ(train[4]["lr_scale"].get<double>(), 1.0);   // step 5: (8 - 4) / 4
  EXPECT_EQ(train[7]["lr_scale"].get<double>(), 0.25);  // step 8: (8 - 7) / 4
  EXPECT_EQ(train[0]["muon_momentum"].get<double>(), 0.92);
  // Validation at steps 0, 3, 6 and the last step 8, with loss, bpb and the training clock.
  ASSERT_EQ(val.size(), 4u);
  const std::vector<int64_t> val_steps = {0, 3, 6, 8};
  for (size_t i = 0; i < val.size(); ++i) {
    EXPECT_EQ(val[i]["event"], "val");
    EXPECT_EQ(val[i]["step"].get<int64_t>(), val_steps[i]);
    for (const char* key : {"val_loss", "val_bpb", "train_time_ms"})
      ASSERT_TRUE(val[i].contains(key)) << key << " missing in " << val[i].dump();
    EXPECT_GT(val[i]["val_bpb"].get<double>(), 0.0);
  }
  EXPECT_EQ(val.back()["val_loss"].get<double>(), r.result.last_val_loss);
}

// Train events are buffered (rank 0 only) and written at log steps, before validation and
// checkpoints, and at the end: a step that does none of these writes nothing, and every step
// still has its line, in order.
TEST(TrainLoopTest, MetricsAreWrittenOnlyAtLogValidationCheckpointAndEnd) {
  auto cfg = tiny_config();
  cfg.train.train_log_every = 0;  // no train lines: flushes at validation (3, 6) and the end
  const std::string dir = ::testing::TempDir() + "/train_loop_metrics_batched";
  fs::create_directories(dir);
  const std::string path = dir + "/metrics.jsonl";
  fs::remove(path);
  core::Logger log;
  log.open("", path);
  const auto written = [&] {
    int64_t n = 0;
    for (const auto& e : read_jsonl(path)) n += e["event"] == "train";
    return n;
  };
  std::vector<int64_t> seen;
  train_run(cfg, {}, nullptr, &log, [&](Session&, const StepRecord&) { seen.push_back(written()); });
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 0, 0, 3, 3, 3, 6, 6}));
  std::vector<int64_t> steps;
  for (const auto& e : read_jsonl(path))
    if (e["event"] == "train") steps.push_back(e["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(TrainLoopTest, LateQatStartsAtTheFractionAndOnlyChangesLaterSteps) {
  auto cfg = tiny_config();
  cfg.train.late_qat_frac = 0.5;  // iteration form: on once 4 of the 8 steps are done
  const std::string dir = ::testing::TempDir() + "/train_loop_qat";
  fs::create_directories(dir);
  fs::remove(dir + "/train.log");
  fs::remove(dir + "/metrics.jsonl");
  core::Logger log;
  log.open(dir + "/train.log", dir + "/metrics.jsonl");
  std::map<std::string, int64_t> clips;
  RunOut q = train_run(cfg, {}, nullptr, &log, [&](Session& s, const StepRecord& rec) {
    if (rec.step != 8) return;
    for (const auto& item : s.model->module().named_modules("", false))
      if (auto lin = std::dynamic_pointer_cast<model::CastedLinearImpl>(item.value()))
        clips[item.key()] = lin->qat_clip();
  });
  RunOut plain = train_run(tiny_config());
  ASSERT_EQ(q.steps.size(), 8u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(q.steps[i].train_loss, plain.steps[i].train_loss) << i;
  for (size_t i = 4; i < 8; ++i) EXPECT_NE(q.steps[i].train_loss, plain.steps[i].train_loss) << i;
  // Mixed export (the default): int5 MLP, int6 attention and bigram projection.
  EXPECT_EQ(clips.at("blocks.0.mlp.fc"), 15);
  EXPECT_EQ(clips.at("blocks.1.mlp.proj"), 15);
  EXPECT_EQ(clips.at("blocks.0.attn.c_q"), 31);
  EXPECT_EQ(clips.at("blocks.1.attn.proj"), 31);
  EXPECT_EQ(clips.at("bigram.proj"), 31);
  const std::string text = core::read_text_file(dir + "/train.log");
  EXPECT_NE(text.find("late_qat:enabled step:4 scale:1.0000\n"), std::string::npos) << text;
  int64_t n = 0;
  for (const auto& e : read_jsonl(dir + "/metrics.jsonl")) {
    if (e["event"] != "train") continue;
    ++n;
    EXPECT_EQ(e.at("qat").get<bool>(), e["step"].get<int64_t>() > 4) << e.dump();
  }
  EXPECT_EQ(n, 8);
}

// CUDA_GRAPHS=1 on a GPU (both graphs: forward/backward/norm, then clipping + optimisers with device
// scalars; warm-up capture, invalidation after the optimiser reset, re-capture) against eager steps.
// Not bit for bit (cuBLAS may choose other kernels under capture, and bf16 Newton-Schulz amplifies
// last-bit differences), but a wrong lr, momentum, bias correction, stale scalar or a skipped or
// doubled update moves the losses and weights far beyond these bounds.
TEST(TrainLoopTest, CudaGraphStepMatchesEagerOnGpu) {
  if (!torch::cuda::is_available())
    GTEST_SKIP() << "NOT RUN: no CUDA device; CUDA_GRAPHS=1 was NOT compared with eager steps";
  auto cfg = tiny_config();
  cfg.train.device = config::Device::kCuda;
  cfg.train.dtype = config::Dtype::kFp32;  // TF32 off
  const RunOut eager = train_run(cfg);
  auto graphs = cfg;
  graphs.train.cuda_graphs = true;
  int captured_steps = 0;
  const RunOut graphed = train_run(graphs, {}, nullptr, nullptr, [&](Session& s, const StepRecord&) {
    if (s.step->captured()) ++captured_steps;
  });
  EXPECT_EQ(captured_steps, cfg.train.iterations) << "a graph fell back to eager steps";
  ASSERT_EQ(eager.steps.size(), graphed.steps.size());
  for (size_t i = 0; i < eager.steps.size(); ++i) {
    EXPECT_NEAR(graphed.steps[i].train_loss, eager.steps[i].train_loss, 2e-3) << "step " << i + 1;
    EXPECT_NEAR(graphed.steps[i].grad_norm, eager.steps[i].grad_norm,
                1e-3 * eager.steps[i].grad_norm + 1e-6) << "step " << i + 1;
  }
  ASSERT_EQ(eager.weights.size(), graphed.weights.size());
  for (size_t i = 0; i < eager.weights.size(); ++i) {
    const auto a = eager.weights[i].second.cpu().to(torch::kFloat64);
    const auto b = graphed.weights[i].second.cpu().to(torch::kFloat64);
    const double rel = (a - b).norm().item<double>() / std::max(a.norm().item<double>(), 1e-12);
    EXPECT_LE(rel, 1e-2) << eager.weights[i].first;
  }
  EXPECT_NEAR(graphed.result.last_val_loss, eager.result.last_val_loss, 2e-3);
}

}  // namespace
}  // namespace pgolf::train
