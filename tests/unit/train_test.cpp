// Unit tests for the train component's pure parts: reference log lines, checkpoints, run dirs,
// and the list knobs that training, the optimiser, `pgolf info` and the export all read.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include <fstream>

#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/dist/comm.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/params.h"
#include "pgolf/optim/param_groups.h"
#include "pgolf/quant/qat.h"
#include "pgolf/quant/quantize.h"
#include "pgolf/train/checkpoint.h"
#include "pgolf/train/device_setup.h"
#include "pgolf/train/grad_sync.h"
#include "pgolf/train/log_lines.h"
#include "pgolf/train/run_dir.h"
#include "common/tiny_model.h"
#include "rank_spawn.h"

namespace pgolf::train {
namespace {

TEST(LogLinesTest, MatchReferenceFormats) {
  EXPECT_EQ(train_line(100, 20000, 2.345678, 8944.4),
            "step:100/20000 train_loss:2.3457 train_time:8944ms step_avg:89.44ms");
  EXPECT_EQ(val_line(0, 20000, 6.93147, 4.1, 0.0),
            "step:0/20000 val_loss:6.9315 val_bpb:4.1000 train_time:0ms step_avg:0.00ms");
  EXPECT_EQ(stopping_early_line(600037.2, 6709, 20000),
            "stopping_early: wallclock_cap train_time:600037ms step:6709/20000");
  EXPECT_EQ(swa_start_line(5550), "swa:start step:5550");
  EXPECT_EQ(swa_apply_line(24), "swa:applying averaged 24 checkpoints");
  EXPECT_EQ(final_lines("final_int8_zlib_roundtrip", 1.92941613, 1.14271194, 168400.2),
            "final_int8_zlib_roundtrip val_loss:1.9294 val_bpb:1.1427 eval_time:168400ms\n"
            "final_int8_zlib_roundtrip_exact val_loss:1.92941613 val_bpb:1.14271194");
  EXPECT_EQ(warmup_line(3, 20), "warmup_step:3/20");
}

// Issue 17 item 16: a rate and the time left on the console after each train line.
TEST(LogLinesTest, ProgressLineHasRateAndTimeLeft) {
  EXPECT_EQ(progress_line(40, 100, 56800, 0, 8192),
            "progress: step 40/100, 1.42 s/step, 5769 tokens/s, eta 1m25s");
  EXPECT_EQ(progress_line(100, 20000, 10000, 0, 786432),
            "progress: step 100/20000, 10.0 steps/s, 7864320 tokens/s, eta 33m10s");
  // The wallclock cap comes first: 600 s cap, 590 s gone.
  EXPECT_EQ(progress_line(100, 20000, 590000, 600000, 786432),
            "progress: step 100/20000, 5.90 s/step, 133294 tokens/s, eta 10s (wallclock cap)");
  EXPECT_EQ(progress_line(0, 100, 0, 0, 8192), "progress: step 0/100, 0.00 s/step, 0 tokens/s, eta ?");
}

TEST(LogLinesTest, WhichStepsAreLogged) {
  EXPECT_TRUE(log_train_step(1, 100, false));
  EXPECT_TRUE(log_train_step(10, 100, false));
  EXPECT_FALSE(log_train_step(11, 100, false));
  EXPECT_TRUE(log_train_step(200, 100, false));
  EXPECT_TRUE(log_train_step(201, 100, true));
  EXPECT_FALSE(log_train_step(1, 0, true));
  EXPECT_TRUE(log_warmup_step(7, 20));
  EXPECT_FALSE(log_warmup_step(7, 30));
  EXPECT_TRUE(log_warmup_step(30, 30));
  EXPECT_TRUE(log_warmup_step(20, 30));
}

TEST(CheckpointTest, RoundTripKeepsEverything) {
  const std::string path = ::testing::TempDir() + "/ckpt.pt";
  Checkpoint c;
  c.step = 123;
  c.elapsed_ms = 4567.5;
  c.state = {{"loader", {{"file_index", 2}, {"position", 99}}}, {"swa_count", 3}};
  c.tensors = {{"model/w", torch::randn({3, 4})}, {"optim/m", torch::ones({2}, torch::kBFloat16)}};
  save_checkpoint(path, c);
  Checkpoint d = load_checkpoint(path);
  EXPECT_EQ(d.step, 123);
  EXPECT_DOUBLE_EQ(d.elapsed_ms, 4567.5);
  EXPECT_EQ(d.state, c.state);
  ASSERT_EQ(d.tensors.size(), 2u);
  EXPECT_EQ(d.tensors[0].first, "model/w");
  EXPECT_TRUE(torch::equal(d.tensors[0].second, c.tensors[0].second));
  EXPECT_EQ(d.tensors[1].second.scalar_type(), torch::kBFloat16);
  auto model = with_prefix(d.tensors, "model/");
  ASSERT_EQ(model.size(), 1u);
  EXPECT_EQ(model[0].first, "w");
}

TEST(CheckpointTest, CorruptFilesAreInputErrors) {
  const std::string dir = ::testing::TempDir();
  Checkpoint c;
  c.tensors = {{"model/w", torch::randn({64, 64})}};
  save_checkpoint(dir + "/good.pt", c);
  auto bytes = core::read_file(dir + "/good.pt");
  std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + bytes.size() / 2);
  core::write_file_atomic(dir + "/trunc.pt", truncated);
  core::save_tensors(dir + "/plain.pt", {{"w", torch::zeros({2})}});
  for (const std::string name : {"trunc.pt", "plain.pt", "missing.pt"}) {
    try {
      load_checkpoint(dir + "/" + name);
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << name;
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

// Issue #10: LibTorch's reader ignores the zip CRCs; a flipped bit inside a checkpoint must be an
// input error, not a silently different resume.
TEST(CheckpointTest, FlippedBitIsDetected) {
  const std::string dir = ::testing::TempDir();
  Checkpoint c;
  c.step = 5;
  c.tensors = {{"model/w", torch::ones({64, 64})}};
  save_checkpoint(dir + "/flip_good.pt", c);
  auto bytes = core::read_file(dir + "/flip_good.pt");
  // Inside the weights: the first float 1.0f is the byte pattern 00 00 80 3f.
  const std::vector<uint8_t> one = {0x00, 0x00, 0x80, 0x3f};
  auto it = std::search(bytes.begin(), bytes.end(), one.begin(), one.end());
  ASSERT_NE(it, bytes.end());
  it[2] ^= 0x01;
  core::write_file_atomic(dir + "/flip_bad.pt", bytes);
  try {
    load_checkpoint(dir + "/flip_bad.pt");
    ADD_FAILURE() << "a flipped bit was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("CRC-32 mismatch"), std::string::npos) << e.what();
  }
}

TEST(RunDirTest, CreatesFoldersAndMetadata) {
  const std::string out = ::testing::TempDir() + "/runs_test";
  RunDir dir = create_run_dir(out, "r1");
  write_run_metadata(dir, {{"model", {{"num_layers", 4}}}, {"_sources", {{"num_layers", "default"}}}},
                     {"pgolf", "train", "--config", "a b.json"});
  auto cfg = nlohmann::json::parse(core::read_text_file(dir.config_json()));
  EXPECT_EQ(cfg["model"]["num_layers"], 4);
  EXPECT_EQ(cfg["_sources"]["num_layers"], "default");
  EXPECT_TRUE(cfg.contains("_versions"));
  EXPECT_NE(core::read_text_file(dir.path + "/command.sh").find("pgolf train --config 'a b.json'"),
            std::string::npos);
  EXPECT_THROW(create_run_dir(out, "../escape"), Error);
  EXPECT_THROW(open_run_dir(dir.path), Error);  // no checkpoint yet
}

// Issue #17: one process at a time in a run folder; flock conflicts between two open files even in
// one process, and closing the holder's descriptor frees it (as the kernel does at exit).
TEST(RunDirTest, LockIsExclusiveAndDiesWithItsHolder) {
  const RunDir dir = create_run_dir(::testing::TempDir() + "/runs_lock", "r1");
  std::string message;
  {
    RunLock held(dir);
    EXPECT_TRUE(held.held());
    try {
      RunLock second(dir);
      ADD_FAILURE() << "a second lock of the same folder succeeded";
    } catch (const Error& e) {
      message = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
    }
  }
  EXPECT_NE(message.find("run folder " + dir.path + " is in use by another pgolf process (pid " +
                         std::to_string(::getpid())),
            std::string::npos)
      << message;
  RunLock again(dir);  // the first one is gone
  EXPECT_TRUE(again.held());
}

TEST(RunDirTest, FinishedRunIsRefusedUnlessOverwritten) {
  const RunDir dir = create_run_dir(::testing::TempDir() + "/runs_prepare", "r1");
  prepare_new_run(dir, /*overwrite=*/false);  // an empty folder is fine
  for (const auto& f : {dir.config_json(), dir.submission_json(), dir.log(), dir.latest_checkpoint(),
                        dir.latest_checkpoint() + ".rank1"})
    core::write_file_atomic(f, "{}");
  core::write_file_atomic(dir.path + "/notes.txt", "mine");
  try {
    prepare_new_run(dir, false);
    ADD_FAILURE() << "a finished run was not refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path + " holds a finished run"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos) << e.what();
  }
  std::remove(dir.submission_json().c_str());
  EXPECT_THROW(prepare_new_run(dir, false), Error);  // a checkpoint
  std::remove(dir.latest_checkpoint().c_str());
  std::remove((dir.latest_checkpoint() + ".rank1").c_str());
  EXPECT_THROW(prepare_new_run(dir, false), Error);  // config.json of an earlier run
  core::write_file_atomic(dir.latest_checkpoint(), "{}");
  prepare_new_run(dir, /*overwrite=*/true);
  for (const auto& f : {dir.config_json(), dir.log(), dir.latest_checkpoint()})
    EXPECT_FALSE(core::file_exists(f)) << f;
  EXPECT_TRUE(core::file_exists(dir.path + "/notes.txt"));  // not a run's file
}

TEST(RunDirTest, ConfigChangesListEachChangedLeaf) {
  const nlohmann::json before = {{"train", {{"iterations", 3}, {"seed", 1}}},
                                 {"model", {{"num_layers", 2}}},
                                 {"_sources", {{"iterations", "default"}}}};
  const nlohmann::json after = {{"train", {{"iterations", 5}, {"seed", 1}}},
                                {"model", {{"num_layers", 2}}},
                                {"_sources", {{"iterations", "flag --iterations"}}}};
  EXPECT_EQ(config_changes(before, after),
            nlohmann::json({{"iterations", {{"from", 3}, {"to", 5}, {"source", "flag --iterations"}}}}));
  EXPECT_TRUE(config_changes(after, after).empty());
}

// ---- GradSync: DDP-style averaging with all-reduces started from inside backward.

// A tiny two-layer net; rank and micro-step pick the batch, so every rank can recompute the
// others' gradients locally.
struct TinyNet {
  std::vector<torch::Tensor> params;
  TinyNet() {
    torch::manual_seed(7);
    params = {torch::randn({8, 4}).requires_grad_(), torch::randn({8}).requires_grad_(),
              torch::randn({3, 8}).requires_grad_(), torch::randn({3}).requires_grad_()};
  }
  void backward(int rank, int micro, double scale) {
    torch::manual_seed(100 + 10 * rank + micro);
    torch::Tensor x = torch::randn({5, 4});
    torch::Tensor h = torch::relu(torch::nn::functional::linear(x, params[0], params[1]));
    torch::Tensor y = torch::nn::functional::linear(h, params[2], params[3]);
    (y.pow(2).mean() * scale).backward();
  }
};

// The gradient DDP would leave on every rank: the mean over ranks of each rank's accumulated sum.
std::vector<torch::Tensor> expected_grads(int world, int accum) {
  std::vector<torch::Tensor> sum;
  for (int r = 0; r < world; ++r) {
    TinyNet net;
    for (int m = 0; m < accum; ++m) net.backward(r, m, 1.0 / accum);
    for (size_t i = 0; i < net.params.size(); ++i) {
      torch::Tensor g = net.params[i].grad().clone();
      if (sum.size() <= i) sum.push_back(g); else sum[i] += g;
    }
  }
  for (auto& g : sum) g /= world;
  return sum;
}

void run_grad_sync(dist::Comm& comm, int accum) {
  TinyNet net;
  GradSync sync(net.params, comm, /*bucket_bytes=*/64);  // several buckets
  for (int step = 0; step < 2; ++step) {  // twice: hooks must re-arm cleanly
    for (auto& p : net.params) p.mutable_grad() = torch::Tensor();
    for (int m = 0; m < accum; ++m) {
      if (m == accum - 1) sync.arm();
      net.backward(comm.rank(), m, 1.0 / accum);
    }
    sync.finish();
    EXPECT_GT(sync.num_buckets(), 1u);
    EXPECT_EQ(sync.overlapped_buckets(), sync.num_buckets());  // all sent during backward
    const auto want = expected_grads(comm.world_size(), accum);
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_TRUE(torch::allclose(net.params[i].grad(), want[i], 1e-6, 1e-7))
          << "param " << i << " step " << step;
  }
}

TEST(GradSyncTest, OneRankLeavesAccumulatedGradients) {
  dist::LocalComm comm;
  run_grad_sync(comm, /*accum=*/3);
}

TEST(GradSyncTest, EveryGptParameterIsSentDuringBackward) {
  // The real model (tied embeddings, BigramHash, SmearGate, skips): every parameter's hook fires,
  // so all buckets leave while backward still runs and none waits for finish().
  auto mc = testing::tiny_model_config(1024);
  mc.bigram_vocab_size = 64;
  mc.bigram_dim = 8;
  torch::manual_seed(0);
  model::GPT gpt(mc);
  dist::LocalComm comm;
  GradSync sync(gpt->parameters(), comm, /*bucket_bytes=*/16 * 1024);
  const auto ids = torch::randint(mc.vocab_size, {2, 16}, torch::kLong);
  sync.arm();
  gpt->forward(ids, ids).backward();
  sync.finish();
  EXPECT_GT(sync.num_buckets(), 3u);
  EXPECT_EQ(sync.overlapped_buckets(), sync.num_buckets());
}

TEST(GradSyncTest, TwoGlooRanksAverageLikeDdp) {
  EXPECT_EQ(testing::run_ranks(2, "GradSyncWorker.TwoRanks", /*timeout_s=*/60),
            std::vector<int>({0, 0}));
}

PGOLF_RANK_WORKER_TEST(GradSyncWorker, TwoRanks) {
  auto comm = dist::make_comm(config::DistBackend::kGloo, /*use_cuda=*/false);
  ASSERT_EQ(comm->world_size(), 2);
  run_grad_sync(*comm, /*accum=*/2);
}

// ---- One list rule (config::split_list) for INT_CATS and CONTROL_TENSOR_NAME_PATTERNS ----
// A space after a comma once passed validation (trimmed) but failed the export's untrimmed
// split: attention trained with the int6 clip, then exported int8.

config::Config from_env(const std::map<std::string, std::string>& env) {
  config::Layers layers;
  layers.env = env;
  return config::resolve(layers, /*world_size=*/1).cfg;  // validates: throws on a bad entry
}

std::string export_kind(const config::QuantConfig& q, const std::string& name, torch::Tensor t) {
  const auto r = quant::quantize_state_dict({{name, std::move(t)}}, q);
  return r.meta.at(0).second.kind;
}

// The one device set-up of train, eval and bench (issue 18 §3): DEVICE and DTYPE decide device and
// policy in one place; DEVICE=cuda without CUDA is refused there for every command.
TEST(ComputeSetupTest, DeviceAndPolicyFromTheConfig) {
  config::TrainConfig t;
  t.device = config::Device::kCpu;
  t.dtype = config::Dtype::kReference;
  EXPECT_FALSE(wants_cuda(t.device));
  const ComputeSetup cpu = setup_compute(t, /*local_rank=*/3);
  EXPECT_TRUE(cpu.device.is_cpu());
  EXPECT_EQ(cpu.policy, model::DtypePolicy::kReference);
  EXPECT_EQ(cpu.summary, "");
  t.device = config::Device::kAuto;
  t.dtype = config::Dtype::kFp32;
  const ComputeSetup any = setup_compute(t, 0);
  EXPECT_EQ(any.device.is_cuda(), torch::cuda::is_available());
  EXPECT_EQ(any.policy, model::DtypePolicy::kFp32);
  t.device = config::Device::kCuda;
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(wants_cuda(t.device));
  } else {
    EXPECT_THROW(wants_cuda(t.device), Error);
    EXPECT_THROW(setup_compute(t, 0), Error);
  }
}

TEST(ListKnobsTest, IntCatsWithSpacesAreTheSameAtValidationQatAndExport) {
  const auto cfg = from_env({{"INT_CATS", " mlp, attn "}, {"QUANT_SCHEME", "mixed"}});
  EXPECT_EQ(config::split_list(cfg.quant.int_cats), (std::vector<std::string>{"mlp", "attn"}));
  const auto qat = quant::late_qat_settings(cfg.quant);
  EXPECT_EQ(qat.clip_of("blocks.0.mlp.fc.weight"), 15);   // int5
  EXPECT_EQ(qat.clip_of("blocks.0.attn.c_q.weight"), 31);  // int6
  EXPECT_EQ(qat.clip_of("bigram.proj.weight"), 0);  // not listed: exported int8, not fake-quantised
  const int64_t n = cfg.quant.passthrough_max_numel + 1;  // above passthrough
  EXPECT_EQ(export_kind(cfg.quant, "blocks.0.mlp.fc.weight", torch::randn({n, 1})), "int5");
  EXPECT_EQ(export_kind(cfg.quant, "blocks.0.attn.c_q.weight", torch::randn({n, 1})), "int6");
  EXPECT_EQ(export_kind(cfg.quant, "bigram.proj.weight", torch::randn({n, 1})), "int8");
  // A misspelt entry is caught at validation, spaces or not.
  try {
    from_env({{"INT_CATS", "mlp, atn"}});
    ADD_FAILURE() << "INT_CATS='mlp, atn' passed validation";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int_cats"), std::string::npos) << e.what();
  }
}

TEST(ListKnobsTest, ControlPatternsWithSpacesAreTheSameAtOptimiserInfoAndExport) {
  auto cfg = from_env({{"CONTROL_TENSOR_NAME_PATTERNS", "attn_scale, resid_mix "}});
  const auto ctrl = config::split_list(cfg.quant.control_tensor_name_patterns);
  EXPECT_EQ(ctrl, (std::vector<std::string>{"attn_scale", "resid_mix"}));
  // resid_mix is 2-D: only its control name keeps it out of Muon.
  const core::NamedTensors params = {{"blocks.0.resid_mix", torch::randn({2, 16})},
                                     {"blocks.0.attn.c_q.weight", torch::randn({16, 16})}};
  const auto plan = optim::build_param_groups(params, cfg.optim, ctrl);
  EXPECT_EQ(plan.scalar, (std::vector<std::string>{"blocks.0.resid_mix"}));
  EXPECT_EQ(plan.muon, (std::vector<std::string>{"blocks.0.attn.c_q.weight"}));
  EXPECT_EQ(model::param_group("blocks.0.resid_mix", ctrl), "control");  // pgolf info
  EXPECT_EQ(model::param_group("blocks.0.attn.c_q.weight", ctrl), "attention");
  cfg.quant.passthrough_max_numel = 0;  // so the control rule, not the size rule, decides
  EXPECT_EQ(export_kind(cfg.quant, "blocks.0.resid_mix", torch::randn({2, 16})),
            "passthrough_ctrl");
  EXPECT_EQ(export_kind(cfg.quant, "blocks.0.attn_scale", torch::randn({16})), "passthrough_ctrl");
  EXPECT_EQ(export_kind(cfg.quant, "blocks.0.mlp_scale", torch::randn({16})), "int8");
}

}  // namespace
}  // namespace pgolf::train
