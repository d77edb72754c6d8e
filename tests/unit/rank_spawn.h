// Multi-process test helper: re-runs this test binary as N ranks of a loopback world with the
// torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), each running one
// gtest filter, and collects their exit codes under a deadline (stragglers are killed).
// Worker tests (PGOLF_RANK_WORKER_TEST) are registered only inside those ranks: a plain run of the
// binary neither runs nor skips them.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace pgolf::testing {

constexpr const char* kWorkerEnv = "PGOLF_RANK_WORKER";

// True inside a process started by run_ranks.
inline bool is_rank_worker() { return std::getenv(kWorkerEnv) != nullptr; }

struct WorkerTest : ::testing::Test {
  explicit WorkerTest(void (*body)()) : body_(body) {}
  void TestBody() override { body_(); }
  void (*body_)();
};

// Registers suite.name running `body`, in a rank process only (see PGOLF_RANK_WORKER_TEST).
inline bool register_worker_test(const char* suite, const char* name, const char* file, int line,
                                 void (*body)()) {
  if (!is_rank_worker()) return false;
  ::testing::RegisterTest(suite, name, nullptr, nullptr, file, line,
                          [body]() -> WorkerTest* { return new WorkerTest(body); });
  return true;
}

// PGOLF_RANK_WORKER_TEST(Suite, Name) { body }: a test that exists only in the processes that
// run_ranks starts (their filter names it Suite.Name).
#define PGOLF_RANK_WORKER_TEST(suite, name)                                                  \
  void suite##_##name##_worker_body();                                                     \
  [[maybe_unused]] const bool suite##_##name##_worker_registered =                         \
      ::pgolf::testing::register_worker_test(#suite, #name, __FILE__, __LINE__,            \
                                             &suite##_##name##_worker_body);               \
  void suite##_##name##_worker_body()

// A TCP port that was free a moment ago on 127.0.0.1.
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

// Exit code per rank; -1 for a rank killed at the deadline or by a signal.
inline std::vector<int> run_ranks(int world, const std::string& gtest_filter, int timeout_s,
                                  const std::map<std::string, std::string>& extra_env = {}) {
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    std::map<std::string, std::string> vars = extra_env;
    vars["RANK"] = std::to_string(r);
    vars["LOCAL_RANK"] = std::to_string(r);
    vars["WORLD_SIZE"] = std::to_string(world);
    vars["LOCAL_WORLD_SIZE"] = std::to_string(world);
    vars["MASTER_ADDR"] = "127.0.0.1";
    vars["MASTER_PORT"] = std::to_string(port);
    vars[kWorkerEnv] = "1";
    // Built before fork: only async-signal-safe calls happen in the child.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      std::string kv(*e);
      if (!vars.count(kv.substr(0, kv.find('=')))) env_strings.push_back(kv);
    }
    for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe", filter = "--gtest_filter=" + gtest_filter;
    char* argv[] = {exe.data(), filter.data(), nullptr};
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execve(exe.c_str(), argv, envp.data());
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes(world, -1);
  std::vector<bool> done(world, pids.size() != static_cast<size_t>(world));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (int r = 0; r < world; ++r) {
      if (done[r]) continue;
      int status = 0;
      if (::waitpid(pids[r], &status, WNOHANG) == pids[r]) {
        done[r] = true;
        codes[r] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      } else {
        all = false;
      }
    }
    if (all) return codes;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int r = 0; r < world; ++r) {
    if (done[r]) continue;
    ::kill(pids[r], SIGKILL);
    ::waitpid(pids[r], nullptr, 0);
  }
  return codes;
}

}  // namespace pgolf::testing
