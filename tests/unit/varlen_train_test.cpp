// VARLEN_ATTN=1 in training (issue 21): the docpack loader's cu_seqlens reach the banked GPT through
// the train step (the 1.0734-1.0611 records' training forward) and the in-loop validation.
//   * one step on a packed row of three documents gives the loss and the gradients of the three
//     documents run alone (token-weighted), within fp32 rounding; dense attention does not;
//   * LOADER=docpack VARLEN_ATTN=1 trains, checkpoints and resumes bit-exactly, and trains
//     differently from VARLEN_ATTN=0;
//   * the in-loop validation scores packed rows with segments;
//   * what cannot take segments is refused by name: the PR #180 GPT, a loader without cu_seqlens;
//     CUDA graphs are off, with the reason logged.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pgolf/core/error.h"
#include "pgolf/data/train_loader.h"
#include "pgolf/model/any_gpt.h"

#include "common/frontier_train_fixture.h"
#include "common/random_shards.h"
#include "common/tiny_banked.h"

namespace pgolf::train {
namespace {

namespace fs = std::filesystem;
using frontier_fixture::RunOut;
using frontier_fixture::train_run;

// BOS every 97 tokens: docpack rows hold several documents, some cut at TRAIN_SEQ_LEN.
config::Config varlen_config() {
  static const std::string dir =
      testing_common::write_random_shards("varlen_train_data", 8765, /*bos_every=*/97);
  config::Config c = frontier_fixture::banked_config(dir, testing_common::dev_tokenizer_path());
  c.data.loader = config::Loader::kDocpack;
  c.model.varlen_attn = true;
  return c;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(VarlenTrainTest, PackedStepEqualsEachDocumentAlone) {
  dist::LocalComm comm;
  core::Logger quiet(false);
  const auto cfg = varlen_config();
  auto s = make_session(cfg, comm, quiet);
  {  // off the zero-initialised projections, so attention carries signal
    torch::NoGradGuard g;
    for (auto& p : s->model->parameters()) p.add_(torch::randn_like(p) * 0.1);
  }
  const std::vector<int64_t> starts = {0, 10, 17}, lens = {10, 7, 15};  // 32 positions
  torch::manual_seed(11);
  torch::Tensor span = torch::randint(2, 1024, {33}, torch::kInt64);
  for (int64_t st : starts) span[st] = 1;  // each document starts with BOS
  span[32] = 1;                            // the next document's BOS: the last target
  StepBatch b = batch_from_span(span, 32);
  b.cu_seqlens = data::pack_cu_seqlens({10, 17}, 32, 32, 64).first;
  StepInput in;
  in.batches = {b};
  const double packed = s->step->forward_backward(in).loss_sum.item<double>();
  std::vector<torch::Tensor> grads;
  for (const auto& p : s->model->parameters()) grads.push_back(p.grad().clone());

  s->optim->zero_grad();
  double alone = 0.0;
  for (size_t d = 0; d < starts.size(); ++d) {
    const auto x = span.slice(0, starts[d], starts[d] + lens[d]).view({1, -1});
    const auto y = span.slice(0, starts[d] + 1, starts[d] + lens[d] + 1).view({1, -1});
    const torch::Tensor loss = s->model->forward(x, y) * (static_cast<double>(lens[d]) / 32.0);
    alone += loss.item<double>();
    loss.backward();
  }
  EXPECT_NEAR(packed, alone, 1e-5);
  const auto params = s->model->parameters();
  const auto names = s->model->state_dict();
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined());
    EXPECT_LT(max_diff(grads[i], params[i].grad()), 1e-5 + 1e-4 * grads[i].abs().max().item<double>())
        << "gradient " << i;
  }
  // The test can fail: attention across the documents gives another loss.
  torch::NoGradGuard no_grad;
  EXPECT_GT(std::abs(s->model->forward(b.x, b.y).item<double>() - packed), 1e-4);
}

TEST(VarlenTrainTest, DocpackVarlenTrainsAndResumesBitExactly) {
  auto cfg = varlen_config();
  cfg.train.checkpoint_every = 3;
  const std::string dir = ::testing::TempDir() + "/varlen_train_resume";
  fs::create_directories(dir);
  LoopOptions opts;
  opts.checkpoint_path = dir + "/latest.pt";
  RunOut full = train_run(cfg, opts, nullptr, nullptr, [&](Session&, const StepRecord& rec) {
    if (rec.step == 4)
      fs::copy_file(opts.checkpoint_path, dir + "/step3.pt", fs::copy_options::overwrite_existing);
  });
  ASSERT_EQ(full.steps.size(), 8u);
  for (const auto& st : full.steps) EXPECT_TRUE(std::isfinite(st.train_loss));
  const Checkpoint ckpt = load_checkpoint(dir + "/step3.pt");
  ASSERT_EQ(ckpt.step, 3);
  RunOut resumed = train_run(cfg, LoopOptions{}, &ckpt);
  ASSERT_EQ(resumed.steps.size(), 5u);
  frontier_fixture::expect_same_tail(full, resumed);
  // The segments reach the model: dense attention on the same packed rows trains differently.
  cfg.model.varlen_attn = false;
  RunOut dense = train_run(cfg);
  EXPECT_NE(dense.steps.back().train_loss, full.steps.back().train_loss);
}

TEST(VarlenTrainTest, InLoopValidationScoresDocumentsApart) {
  dist::LocalComm comm;
  core::Logger quiet(false);
  const auto cfg = varlen_config();
  auto dense_cfg = cfg;  // a session keeps a reference to its configuration
  dense_cfg.model.varlen_attn = false;
  auto varlen = make_session(cfg, comm, quiet);
  auto dense = make_session(dense_cfg, comm, quiet);  // the same seeded weights
  {  // the same weights, off the zero-initialised projections
    torch::NoGradGuard g;
    torch::manual_seed(12);
    const auto a = varlen->model->parameters(), b = dense->model->parameters();
    for (size_t i = 0; i < a.size(); ++i) {
      a[i].add_(torch::randn_like(a[i]) * 0.1);
      b[i].copy_(a[i]);
    }
  }
  EXPECT_TRUE(standard_eval_options(*varlen).varlen_logits);
  EXPECT_FALSE(standard_eval_options(*dense).varlen_logits);
  const auto [vl, vb] = validate_standard(*varlen);
  const auto [dl, db] = validate_standard(*dense);
  EXPECT_TRUE(std::isfinite(vl) && std::isfinite(vb));
  EXPECT_GT(std::abs(vl - dl), 1e-6);
}

void expect_input_error(const config::Config& cfg, const std::string& needle) {
  dist::LocalComm comm;
  core::Logger quiet(false);
  try {
    make_session(cfg, comm, quiet);
    FAIL() << "make_session accepted it; expected an error naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(VarlenTrainTest, RefusesWhatCannotTakeSegments) {
  auto cfg = varlen_config();
  cfg.data.loader = config::Loader::kStream;
  expect_input_error(cfg, "LOADER=docpack");
  cfg = varlen_config();
  cfg.model.param_banks = false;
  expect_input_error(cfg, "PARAM_BANKS=1");
  // The PR #180 GPT itself refuses segments rather than attending densely.
  model::AnyGPT gpt(testing::model_shape(64, 1, 16, 2, 1));
  const auto ids = torch::randint(0, 64, {1, 8}, torch::kInt64);
  try {
    gpt->forward(ids, ids, data::pack_cu_seqlens({4}, 8, 8, 4).first);
    FAIL() << "the PR #180 GPT took cu_seqlens";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("VARLEN_ATTN=1"), std::string::npos) << e.what();
  }
}

TEST(VarlenTrainTest, CudaGraphsFallBackToEagerWithTheReason) {
  auto cfg = varlen_config();
  cfg.train.cuda_graphs = true;
  const std::string dir = ::testing::TempDir() + "/varlen_train_graphs";
  fs::create_directories(dir);
  core::Logger log;
  log.open(dir + "/train.log", dir + "/metrics.jsonl");
  dist::LocalComm comm;
  auto s = make_session(cfg, comm, log);
  EXPECT_EQ(s->step->describe().rfind("train_step:eager", 0), 0u) << s->step->describe();
  std::ifstream f(dir + "/train.log");
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("cuda_graphs: off (VARLEN_ATTN=1"), std::string::npos) << text;
}

}  // namespace
}  // namespace pgolf::train
