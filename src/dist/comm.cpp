// LocalComm, the torchrun environment contract and the Comm factory (see comm.h).
#include "pgolf/dist/comm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"
#include "pgolf/core/runtime.h"
#include "pgolf/dist/c10d_comm.h"

namespace pgolf::dist {
namespace {

class DoneWork final : public Work {
 public:
  void wait() override {}
};

const char* env_or_null(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

// Integer variable in [lo, hi]; `fallback` when unset.
int env_int(const char* name, int fallback, int64_t lo, int64_t hi) {
  const char* v = env_or_null(name);
  if (!v) return fallback;
  int64_t out = 0;
  PGOLF_CHECK_INPUT(config::parse_value(v, out) && out >= lo && out <= hi,
                    "environment " << name << ": expected an integer in [" << lo << ", " << hi
                                   << "], found '" << v << "'");
  return static_cast<int>(out);
}

}  // namespace

std::unique_ptr<Work> LocalComm::all_reduce_sum_async(torch::Tensor&) {
  return std::make_unique<DoneWork>();
}

void LocalComm::broadcast(torch::Tensor&, int root) {
  PGOLF_CHECK(root == 0, "broadcast: root rank " << root << " does not exist in a 1-rank world");
}

void check_chunks(const torch::Tensor& whole, const torch::Tensor& chunk, int world,
                  const char* what) {
  PGOLF_CHECK(whole.defined() && chunk.defined(), what << ": undefined tensor");
  const bool ok = whole.dim() >= 1 && chunk.dim() == whole.dim() &&
                  whole.scalar_type() == chunk.scalar_type() &&
                  whole.size(0) == chunk.size(0) * world &&
                  whole.sizes().slice(1) == chunk.sizes().slice(1);
  PGOLF_CHECK(ok, what << ": expected a " << world << "-chunk tensor along dim 0 and one chunk "
                       "of the same dtype, found " << whole.sizes() << " " << whole.scalar_type()
                       << " and " << chunk.sizes() << " " << chunk.scalar_type());
}

void LocalComm::reduce_scatter_sum(const torch::Tensor& input, torch::Tensor& output) {
  check_chunks(input, output, 1, "reduce_scatter_sum");
  output.copy_(input);
}

void LocalComm::all_gather(const torch::Tensor& input, torch::Tensor& output) {
  check_chunks(output, input, 1, "all_gather");
  output.copy_(input);
}

TorchrunEnv read_torchrun_env() {
  TorchrunEnv env;
  const bool has_rank = env_or_null("RANK") != nullptr;
  const bool has_world = env_or_null("WORLD_SIZE") != nullptr;
  env.local_rank = env_int("LOCAL_RANK", 0, 0, 1 << 20);
  if (!has_rank && !has_world) return env;
  PGOLF_CHECK_INPUT(has_rank && has_world,
                    "environment: RANK and WORLD_SIZE must be set together (torchrun sets both); "
                    "found only " << (has_rank ? "RANK" : "WORLD_SIZE"));
  env.present = true;
  env.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  env.rank = env_int("RANK", 0, 0, env.world_size - 1);
  env.local_world_size = env_int("LOCAL_WORLD_SIZE", env.world_size, 1, env.world_size);
  PGOLF_CHECK_INPUT(env.local_rank < env.local_world_size,
                    "environment LOCAL_RANK: expected < LOCAL_WORLD_SIZE=" << env.local_world_size
                                                                           << ", found "
                                                                           << env.local_rank);
  if (const char* addr = env_or_null("MASTER_ADDR")) env.master_addr = addr;
  env.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  if (const char* v = env_or_null("TORCHELASTIC_USE_AGENT_STORE"))
    env.agent_store = std::string(v) == "True" || std::string(v) == "1";
  env.restart_count = env_int("TORCHELASTIC_RESTART_COUNT", 0, 0, 1 << 20);
  if (env.world_size > 1) {
    PGOLF_CHECK_INPUT(env_or_null("MASTER_ADDR") && env_or_null("MASTER_PORT"),
                      "environment: WORLD_SIZE=" << env.world_size
                                                 << " needs MASTER_ADDR and MASTER_PORT (the "
                                                    "rendezvous address of rank 0); found "
                                                 << (env_or_null("MASTER_ADDR") ? "" : "no ")
                                                 << "MASTER_ADDR, "
                                                 << (env_or_null("MASTER_PORT") ? "" : "no ")
                                                 << "MASTER_PORT");
  }
  return env;
}

namespace {
std::atomic<int64_t> g_failure_ns{0};
}  // namespace

int64_t failure_time_ns() { return g_failure_ns.load(); }

void note_failure_time() {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  int64_t unset = 0;
  g_failure_ns.compare_exchange_strong(unset, now);
}

int threads_per_rank(int requested, const TorchrunEnv& env) {
  if (requested > 0) return requested;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  double load[1] = {0.0};
  if (getloadavg(load, 1) != 1) load[0] = 0.0;  // unknown: assume an idle host
  return core::auto_threads(cores, env.local_world_size, load[0]);
}

std::unique_ptr<Comm> make_comm(config::DistBackend backend, bool use_cuda,
                                double timeout_seconds) {
  PGOLF_CHECK_INPUT(timeout_seconds >= 1,
                    "DIST_TIMEOUT_SECONDS: expected >= 1, found " << timeout_seconds);
  const TorchrunEnv env = read_torchrun_env();
  if (!env.present || env.world_size == 1) return std::make_unique<LocalComm>(env.local_rank);
  if (backend == config::DistBackend::kAuto)
    backend = (use_cuda && torch::cuda::is_available()) ? config::DistBackend::kNccl
                                                        : config::DistBackend::kGloo;
  // c10d names its process groups as DIST_BACKEND spells them.
  const std::string chosen = config::choice_name(backend);
  return std::make_unique<C10dComm>(
      env, chosen, std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)));
}

}  // namespace pgolf::dist
