// dist: LocalComm, the torchrun environment contract, and a real 2-rank Gloo world on loopback
// (this binary re-executed as two ranks, see rank_spawn.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>

#include "pgolf/core/error.h"
#include "pgolf/dist/c10d_comm.h"
#include "pgolf/dist/comm.h"
#include "rank_spawn.h"

namespace pgolf::dist {
namespace {

// Sets (or unsets, for nullopt) environment variables for one scope, then restores them.
class EnvGuard {
 public:
  explicit EnvGuard(const std::map<std::string, std::optional<std::string>>& vars) {
    for (const auto& [k, v] : vars) {
      const char* old = std::getenv(k.c_str());
      saved_[k] = old ? std::optional<std::string>(old) : std::nullopt;
      v ? ::setenv(k.c_str(), v->c_str(), 1) : ::unsetenv(k.c_str());
    }
  }
  ~EnvGuard() {
    for (const auto& [k, v] : saved_) v ? ::setenv(k.c_str(), v->c_str(), 1) : ::unsetenv(k.c_str());
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

const std::map<std::string, std::optional<std::string>> kNoTorchrun = {
    {"RANK", std::nullopt},        {"WORLD_SIZE", std::nullopt},  {"LOCAL_RANK", std::nullopt},
    {"LOCAL_WORLD_SIZE", std::nullopt}, {"MASTER_ADDR", std::nullopt}, {"MASTER_PORT", std::nullopt}};

TEST(LocalCommTest, CollectivesLeaveTensorsUnchanged) {
  LocalComm comm(3);
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.world_size(), 1);
  EXPECT_EQ(comm.local_rank(), 3);
  torch::Tensor t = torch::arange(4, torch::kFloat32);
  comm.all_reduce_sum(t);
  comm.all_reduce_max(t);
  comm.all_reduce_sum_async(t)->wait();
  comm.broadcast(t, 0);
  comm.barrier();
  EXPECT_TRUE(t.equal(torch::arange(4, torch::kFloat32)));
  EXPECT_THROW(comm.broadcast(t, 1), pgolf::Error);
}

TEST(TorchrunEnvTest, AbsentMeansSingleProcess) {
  EnvGuard g(kNoTorchrun);
  const TorchrunEnv env = read_torchrun_env();
  EXPECT_FALSE(env.present);
  auto comm = make_comm("auto", /*use_cuda=*/false);
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_EQ(comm->world_size(), 1);
}

TEST(TorchrunEnvTest, ParsesTheContract) {
  auto vars = kNoTorchrun;
  vars["RANK"] = "3";
  vars["WORLD_SIZE"] = "8";
  vars["LOCAL_RANK"] = "1";
  vars["LOCAL_WORLD_SIZE"] = "2";
  vars["MASTER_ADDR"] = "10.1.2.3";
  vars["MASTER_PORT"] = "29511";
  EnvGuard g(vars);
  const TorchrunEnv env = read_torchrun_env();
  EXPECT_TRUE(env.present);
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "10.1.2.3");
  EXPECT_EQ(env.master_port, 29511);
}

TEST(TorchrunEnvTest, WorldOfOneIsLocal) {
  auto vars = kNoTorchrun;
  vars["RANK"] = "0";
  vars["WORLD_SIZE"] = "1";
  vars["LOCAL_RANK"] = "0";
  EnvGuard g(vars);
  auto comm = make_comm("gloo", false);
  EXPECT_EQ(comm->backend(), "local");
}

// Each entry: variables on top of "no torchrun" that must be rejected as input errors.
TEST(TorchrunEnvTest, RejectsMalformedValues) {
  const std::vector<std::map<std::string, std::string>> bad = {
      {{"RANK", "0"}},                                                  // WORLD_SIZE missing
      {{"RANK", "two"}, {"WORLD_SIZE", "2"}},                           // not a number
      {{"RANK", "2"}, {"WORLD_SIZE", "2"}},                             // rank out of range
      {{"RANK", "0"}, {"WORLD_SIZE", "0"}},                             // empty world
      {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1234"}},     // no MASTER_ADDR
      {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}},
      {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"},
       {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}};
  for (const auto& extra : bad) {
    auto vars = kNoTorchrun;
    for (const auto& [k, v] : extra) vars[k] = v;
    EnvGuard g(vars);
    try {
      read_torchrun_env();
      ADD_FAILURE() << "accepted " << extra.begin()->first << "=" << extra.begin()->second;
    } catch (const pgolf::Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
    }
  }
}

TEST(TorchrunEnvTest, RejectsUnknownBackend) {
  EnvGuard g(kNoTorchrun);
  EXPECT_THROW(make_comm("mpi", false), pgolf::Error);
}

// ---- 2-rank Gloo world. The C10dWorker tests run only inside ranks started by run_ranks.

TEST(C10dCommTest, GlooTwoRanksCollectives) {
  if (testing::is_rank_worker()) GTEST_SKIP();
  EXPECT_EQ(testing::run_ranks(2, "C10dWorker.Collectives", /*timeout_s=*/60),
            std::vector<int>({0, 0}));
}

TEST(C10dCommTest, PeerExitSurfacesAsErrorNotHang) {
  if (testing::is_rank_worker()) GTEST_SKIP();
  EXPECT_EQ(testing::run_ranks(2, "C10dWorker.PeerExits", /*timeout_s=*/60),
            std::vector<int>({0, 0}));
}

TEST(C10dWorker, Collectives) {
  if (!testing::is_rank_worker()) GTEST_SKIP() << "runs as a spawned rank";
  auto comm = make_comm("gloo", /*use_cuda=*/false);
  ASSERT_EQ(comm->backend(), "gloo");
  ASSERT_EQ(comm->world_size(), 2);
  const int r = comm->rank();
  EXPECT_EQ(comm->local_rank(), r);

  torch::Tensor a = torch::full({5}, r + 1.0f);
  comm->all_reduce_sum(a);
  EXPECT_TRUE(a.equal(torch::full({5}, 3.0f)));

  torch::Tensor m = torch::tensor({static_cast<float>(r), -static_cast<float>(r)});
  comm->all_reduce_max(m);
  EXPECT_TRUE(m.equal(torch::tensor({1.0f, 0.0f})));

  // Muon's flat bf16 update: each rank fills its own slice, the sum is exact.
  torch::Tensor flat = torch::zeros({6}, torch::kBFloat16);
  flat.slice(0, 3 * r, 3 * r + 3).fill_(0.1 * (r + 1));
  comm->all_reduce_sum(flat);
  torch::Tensor want = torch::cat({torch::full({3}, 0.1), torch::full({3}, 0.2)}).to(torch::kBFloat16);
  EXPECT_TRUE(flat.equal(want));

  torch::Tensor sums = torch::tensor({1e15 + r, 0.5}, torch::kFloat64);  // eval's float64 sums
  comm->all_reduce_sum(sums);
  EXPECT_EQ(sums[0].item<double>(), 2e15 + 1);

  // Two buckets in flight at once, waited in reverse order.
  torch::Tensor b1 = torch::full({1000}, 1.0f * r), b2 = torch::full({7}, 2.0f);
  auto w1 = comm->all_reduce_sum_async(b1);
  auto w2 = comm->all_reduce_sum_async(b2);
  w2->wait();
  w1->wait();
  EXPECT_TRUE(b1.equal(torch::full({1000}, 1.0f)));
  EXPECT_TRUE(b2.equal(torch::full({7}, 4.0f)));

  // A non-contiguous view is reduced in place through its staging copy.
  torch::Tensor base = torch::arange(6, torch::kFloat32).view({2, 3});
  torch::Tensor view = base.t();
  comm->all_reduce_sum(view);
  EXPECT_TRUE(base.equal(2 * torch::arange(6, torch::kFloat32).view({2, 3})));

  torch::Tensor p = torch::full({2, 2}, static_cast<float>(10 * r));
  comm->broadcast(p, /*root=*/1);
  EXPECT_TRUE(p.equal(torch::full({2, 2}, 10.0f)));
  EXPECT_THROW(comm->broadcast(p, 2), pgolf::Error);
  comm->barrier();
}

TEST(C10dWorker, PeerExits) {
  if (!testing::is_rank_worker()) GTEST_SKIP() << "runs as a spawned rank";
  TorchrunEnv env = read_torchrun_env();
  C10dComm comm(env, "gloo", std::chrono::seconds(20));
  if (comm.rank() == 1) std::_Exit(0);  // dies without a word, as a crashed rank would
  torch::Tensor t = torch::ones({4});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(comm.all_reduce_sum(t), pgolf::Error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
}

}  // namespace
}  // namespace pgolf::dist
