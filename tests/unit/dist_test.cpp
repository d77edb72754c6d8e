// dist: LocalComm, the torchrun environment contract, and a real 2-rank Gloo world on loopback
// (this binary re-executed as two ranks, see rank_spawn.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <csignal>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <map>
#include <optional>

#include "pgolf/core/error.h"
#include "pgolf/dist/c10d_comm.h"
#include "pgolf/dist/comm.h"
#include "pgolf/dist/error_file.h"
#include "pgolf/dist/launcher.h"
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

  // One rank: reduce-scatter and all-gather are copies; mismatched chunks are refused.
  torch::Tensor whole = torch::arange(6, torch::kFloat32).view({3, 2});
  torch::Tensor out = torch::zeros({3, 2});
  comm.reduce_scatter_sum(whole, out);
  EXPECT_TRUE(out.equal(whole));
  torch::Tensor gathered = torch::zeros({3, 2});
  comm.all_gather(whole, gathered);
  EXPECT_TRUE(gathered.equal(whole));
  torch::Tensor wrong = torch::zeros({2, 2});
  EXPECT_THROW(comm.reduce_scatter_sum(whole, wrong), pgolf::Error);
  torch::Tensor wrong_dtype = torch::zeros({3, 2}, torch::kBFloat16);
  EXPECT_THROW(comm.all_gather(whole, wrong_dtype), pgolf::Error);
}

TEST(TorchrunEnvTest, AbsentMeansSingleProcess) {
  EnvGuard g(kNoTorchrun);
  const TorchrunEnv env = read_torchrun_env();
  EXPECT_FALSE(env.present);
  auto comm = make_comm(config::DistBackend::kAuto, /*use_cuda=*/false);
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
  auto comm = make_comm(config::DistBackend::kGloo, false);
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
  config::DistBackend b = config::DistBackend::kAuto;
  EXPECT_FALSE(config::parse_choice("mpi", b));  // DIST_BACKEND is parsed at the config boundary
}

// ---- 2-rank Gloo world. The C10dWorker tests run only inside ranks started by run_ranks.

TEST(C10dCommTest, GlooTwoRanksCollectives) {
  EXPECT_EQ(testing::run_ranks(2, "C10dWorker.Collectives", /*timeout_s=*/60),
            std::vector<int>({0, 0}));
}

TEST(C10dCommTest, PeerExitSurfacesAsErrorNotHang) {
  EXPECT_EQ(testing::run_ranks(2, "C10dWorker.PeerExits", /*timeout_s=*/60),
            std::vector<int>({0, 0}));
}

PGOLF_RANK_WORKER_TEST(C10dWorker, Collectives) {
  auto comm = make_comm(config::DistBackend::kGloo, /*use_cuda=*/false);
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

  // Reduce-scatter: rank r gets the sum of chunk r (rows 2r, 2r+1); all-gather puts them back.
  torch::Tensor rows = torch::arange(12, torch::kFloat32).view({4, 3}) + 100.0f * r;
  torch::Tensor chunk = torch::zeros({2, 3});
  comm->reduce_scatter_sum(rows, chunk);
  torch::Tensor both = 2 * torch::arange(12, torch::kFloat32).view({4, 3}) + 100.0f;
  EXPECT_TRUE(chunk.equal(both.narrow(0, 2 * r, 2)));
  torch::Tensor gathered = torch::zeros({4, 3});
  comm->all_gather(chunk, gathered);
  EXPECT_TRUE(gathered.equal(both));
  // bf16 (the Muon update's dtype) and a non-contiguous output staged through a copy.
  torch::Tensor upd = torch::full({3}, 0.5 * (r + 1)).to(torch::kBFloat16);
  torch::Tensor all_upd = torch::zeros({6}, torch::kBFloat16);
  comm->all_gather(upd, all_upd);
  EXPECT_TRUE(all_upd.equal(torch::tensor({0.5, 0.5, 0.5, 1.0, 1.0, 1.0}).to(torch::kBFloat16)));
  torch::Tensor strided_out = torch::zeros({3, 2}).t();  // (2, 3), not contiguous
  comm->reduce_scatter_sum(rows, strided_out);
  EXPECT_TRUE(strided_out.equal(both.narrow(0, 2 * r, 2)));
  torch::Tensor bad = torch::zeros({3, 3});
  EXPECT_THROW(comm->reduce_scatter_sum(rows, bad), pgolf::Error);

  torch::Tensor p = torch::full({2, 2}, static_cast<float>(10 * r));
  comm->broadcast(p, /*root=*/1);
  EXPECT_TRUE(p.equal(torch::full({2, 2}, 10.0f)));
  EXPECT_THROW(comm->broadcast(p, 2), pgolf::Error);
  comm->barrier();
}

PGOLF_RANK_WORKER_TEST(C10dWorker, PeerExits) {
  TorchrunEnv env = read_torchrun_env();
  C10dComm comm(env, "gloo", std::chrono::seconds(20));
  if (comm.rank() == 1) std::_Exit(0);  // dies without a word, as a crashed rank would
  torch::Tensor t = torch::ones({4});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(comm.all_reduce_sum(t), pgolf::Error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
}

// ---- The rank launcher (pgolf launch), driven with /bin/sh children.

LaunchOptions one_node(int nproc, double grace = 5.0) {
  LaunchOptions o;
  o.nproc_per_node = nproc;
  o.grace_seconds = grace;
  return resolved_launch_options(o);
}

std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script}; }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(LauncherTest, RankEnvironmentFollowsTorchrun) {
  LaunchOptions o;
  o.nproc_per_node = 4;
  o.nnodes = 2;
  o.node_rank = 1;
  o.master_addr = "node0";
  o = resolved_launch_options(o);
  EXPECT_EQ(o.master_port, 29500);
  auto env = rank_environment(o, 2);
  EXPECT_EQ(env["RANK"], "6");
  EXPECT_EQ(env["WORLD_SIZE"], "8");
  EXPECT_EQ(env["LOCAL_RANK"], "2");
  EXPECT_EQ(env["LOCAL_WORLD_SIZE"], "4");
  EXPECT_EQ(env["MASTER_ADDR"], "node0");
  EXPECT_EQ(env["MASTER_PORT"], "29500");
}

TEST(LauncherTest, ResolvesDefaultsAndRejectsBadOptions) {
  const LaunchOptions single = one_node(2);
  EXPECT_EQ(single.master_addr, "127.0.0.1");
  EXPECT_GT(single.master_port, 0);
  auto bad = [](auto edit) {
    LaunchOptions o;
    edit(o);
    EXPECT_THROW(resolved_launch_options(o), pgolf::Error);
  };
  bad([](LaunchOptions& o) { o.nproc_per_node = 0; });
  bad([](LaunchOptions& o) { o.nnodes = 2; });  // no --master-addr
  bad([](LaunchOptions& o) { o.node_rank = 1; });
  bad([](LaunchOptions& o) { o.master_port = 70000; });
  bad([](LaunchOptions& o) { o.grace_seconds = -1; });
  std::ostringstream log;
  EXPECT_THROW(launch_ranks(single, {"/nonexistent/program"}, log), pgolf::Error);
  EXPECT_THROW(launch_ranks(single, {"no-such-program-on-path"}, log), pgolf::Error);
  EXPECT_EQ(launch_ranks(one_node(1), {"true"}, log).exit_code, 0);  // found on PATH
}

TEST(LauncherTest, EveryRankGetsTheTorchrunEnvironment) {
  const auto dir = std::filesystem::temp_directory_path() / ("pgolf_launch_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  EnvGuard g({{"RANK", "9"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});  // must not leak through
  const LaunchOptions o = one_node(3);
  std::ostringstream log;
  const auto res = launch_ranks(
      o, sh("echo $RANK $WORLD_SIZE $LOCAL_RANK $LOCAL_WORLD_SIZE $MASTER_ADDR $MASTER_PORT "
            "${TORCHELASTIC_USE_AGENT_STORE:-none} > " + dir.string() + "/r$RANK"),
      log);
  EXPECT_EQ(res.exit_code, 0);
  EXPECT_EQ(res.failed_rank, -1);
  EXPECT_EQ(res.exit_codes, std::vector<int>({0, 0, 0}));
  for (int r = 0; r < 3; ++r) {
    const std::string want = std::to_string(r) + " 3 " + std::to_string(r) + " 3 127.0.0.1 " +
                             std::to_string(o.master_port) + " none\n";
    EXPECT_EQ(read_file(dir / ("r" + std::to_string(r))), want);
  }
  std::filesystem::remove_all(dir);
}

TEST(LauncherTest, FirstFailureStopsTheOthersAndSetsTheExitCode) {
  std::ostringstream log;
  // Rank 1 fails; ranks 0 and 2 would sleep for a minute but get SIGTERM.
  const auto res = launch_ranks(one_node(3), sh("[ $RANK = 1 ] && exit 3; exec sleep 60"), log);
  EXPECT_EQ(res.exit_code, 3);
  EXPECT_EQ(res.failed_rank, 1);
  EXPECT_EQ(res.exit_codes, std::vector<int>({128 + SIGTERM, 3, 128 + SIGTERM}));
  EXPECT_NE(log.str().find("first failure: rank 1 (local rank 1"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("with exit code 3, no error message"), std::string::npos) << log.str();
}

TEST(LauncherTest, TheEarliestErrorFileNamesTheCause) {
  // Rank 0 fails first (its error file says when) but exits last, as a rank does whose peers
  // notice its broken connection before it has finished exiting; rank 1 exits after rank 0's
  // file exists and writes none.
  const std::string script =
      "D=$(dirname $TORCHELASTIC_ERROR_FILE); F=$TORCHELASTIC_ERROR_FILE; "
      "if [ $RANK = 0 ]; then trap '' TERM; "
      "printf '{\"message\":{\"message\":\"boom\",\"extraInfo\":{\"timestamp_ns\":\"%s\"}}}' "
      "$(date +%s%N) > $F.tmp; mv $F.tmp $F; "
      "while [ ! -e $D/done1 ]; do sleep 0.01; done; sleep 0.2; exit 2; fi; "
      "while [ ! -e $D/rank0.json ]; do sleep 0.01; done; touch $D/done1; exit 1";
  std::ostringstream log;
  const auto res = launch_ranks(one_node(2), sh(script), log);
  EXPECT_EQ(res.exit_codes, std::vector<int>({2, 1}));
  EXPECT_EQ(res.failed_rank, 0);
  EXPECT_EQ(res.exit_code, 2);
  EXPECT_NE(log.str().find("first failure: rank 0 (local rank 0"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("with exit code 2: boom"), std::string::npos) << log.str();
}

TEST(ErrorFileTest, WritesAndReadsTorchrunsFormat) {
  const std::string path = ::testing::TempDir() + "/pgolf_error.json";
  std::remove(path.c_str());
  EXPECT_FALSE(read_error_file(path).has_value());
  {
    EnvGuard g({{"TORCHELASTIC_ERROR_FILE", path}});
    write_error_file("shard x: bad magic");
  }
  const auto e = read_error_file(path);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message, "shard x: bad magic");
  EXPECT_GT(e->time_ns, int64_t{1600000000} * 1000000000);
  // What torchrun's @record writes for a Python rank: seconds only.
  std::ofstream(path) << R"({"message": {"message": "ValueError: x", "extraInfo": )"
                      << R"({"py_callstack": "Traceback...", "timestamp": "1700000000"}}})";
  const auto py = read_error_file(path);
  ASSERT_TRUE(py.has_value());
  EXPECT_EQ(py->message, "ValueError: x");
  EXPECT_EQ(py->time_ns, int64_t{1700000000} * 1000000000);
  std::ofstream(path) << "not json";
  EXPECT_FALSE(read_error_file(path).has_value());
  {
    EnvGuard g({{"TORCHELASTIC_ERROR_FILE", std::nullopt}});
    write_error_file("nowhere");  // no file named: nothing happens
  }
  std::remove(path.c_str());
}

TEST(LauncherTest, RanksIgnoringSigtermAreKilledAfterTheGracePeriod) {
  std::ostringstream log;
  // Rank 0 fails once rank 1 ignores SIGTERM (files in the launcher's error-file folder).
  const auto res = launch_ranks(
      one_node(2, /*grace=*/0.2),
      sh("D=$(dirname $TORCHELASTIC_ERROR_FILE); if [ $RANK = 0 ]; then "
         "while [ ! -e $D/ready1 ]; do sleep 0.01; done; exit 5; fi; "
         "trap '' TERM; touch $D/ready1; exec sleep 60"),
      log);
  EXPECT_EQ(res.exit_code, 5);
  EXPECT_EQ(res.failed_rank, 0);
  EXPECT_EQ(res.exit_codes, std::vector<int>({5, 128 + SIGKILL}));
  EXPECT_NE(log.str().find("SIGKILL"), std::string::npos) << log.str();
}

TEST(LauncherTest, ASignalToTheLauncherIsForwardedOnce) {
  const auto dir = std::filesystem::temp_directory_path() / ("pgolf_sig_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // Each rank counts the SIGINTs it gets, then exits 7 once it has seen one and a short quiet spell.
  const std::string script = "n=0; trap 'n=$((n+1))' INT; touch " + dir.string() +
                             "/ready$RANK; while [ $n = 0 ]; do sleep 0.05; done; sleep 0.3; "
                             "echo $n > " + dir.string() + "/count$RANK; exit 7";
  std::thread sender([&] {
    for (int i = 0; i < 3000; ++i) {  // the handler is installed once the ranks are running
      if (std::filesystem::exists(dir / "ready0") && std::filesystem::exists(dir / "ready1")) {
        ::kill(::getpid(), SIGINT);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::ostringstream log;
  const auto res = launch_ranks(one_node(2), sh(script), log);
  sender.join();
  EXPECT_EQ(res.exit_code, 7);
  EXPECT_EQ(res.exit_codes, std::vector<int>({7, 7}));
  EXPECT_EQ(read_file(dir / "count0"), "1\n");
  EXPECT_EQ(read_file(dir / "count1"), "1\n");
  EXPECT_NE(log.str().find("forwarding SIGINT to 2 rank(s)"), std::string::npos) << log.str();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgolf::dist
