// A local rank launcher with torchrun's contract (what `pgolf launch` runs): starts one process per
// local rank with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT,
// forwards SIGINT/SIGTERM/SIGHUP to them, and when one rank fails stops the others (SIGTERM, then
// SIGKILL after a grace period) and reports the first failure's exit code.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace pgolf::dist {

struct LaunchOptions {
  int nproc_per_node = 1;   // ranks started on this node
  int nnodes = 1;           // nodes in the world (each runs its own launcher)
  int node_rank = 0;        // this node's index in [0, nnodes)
  std::string master_addr;  // rank 0's host; "" = 127.0.0.1 (single node only)
  int master_port = 0;      // 0 = a free port (single node), 29500 with several nodes
  double grace_seconds = 5.0;  // SIGTERM -> SIGKILL delay when stopping the ranks after a failure
};

// Fills the defaults (address, port) and checks the values; input errors name the option.
LaunchOptions resolved_launch_options(LaunchOptions o);

// The variables set for `local_rank` (o must be resolved).
std::map<std::string, std::string> rank_environment(const LaunchOptions& o, int local_rank);

// A TCP port that was free a moment ago (bound and released on all interfaces).
int free_tcp_port();

struct LaunchResult {
  int exit_code = 0;           // the first failing rank's code (128+signal when killed), else 0
  int failed_rank = -1;        // global rank of the first failure, -1 when every rank succeeded
  std::vector<int> exit_codes;  // per local rank, same encoding
};

// Runs `argv` (argv[0] is a path, or a name looked up on PATH) as every local rank of `o` and waits for all of
// them. Children get their own process group (a terminal's Ctrl-C reaches them once, through
// this launcher) and die with it (PR_SET_PDEATHSIG). Progress and the failure report go to `log`.
LaunchResult launch_ranks(const LaunchOptions& o, std::vector<std::string> argv,
                          std::ostream& log);

// "exit code 2", "killed by signal 9 (SIGKILL)" for an encoded exit code.
std::string describe_exit(int code);

}  // namespace pgolf::dist
