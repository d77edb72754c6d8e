// `pgolf launch --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P]
// -- train ...`: torchrun's job for hosts without it. Starts N ranks of this same binary running
// the given subcommand (or, with --exec, any program) under the torchrun environment.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/core/error.h"
#include "pgolf/dist/launcher.h"

namespace pgolf::cli {
namespace {

struct LaunchArgs {
  dist::LaunchOptions opts;
  bool exec = false;
  std::vector<std::string> command;
};

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  PGOLF_CHECK(n > 0, "launch: cannot resolve /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

int run_launch(const LaunchArgs& a) {

  PGOLF_CHECK_INPUT(!a.command.empty(),
                    "launch: nothing to run; usage: pgolf launch --nproc-per-node N -- train ...");
  std::vector<std::string> argv;
  if (!a.exec) {
    PGOLF_CHECK_INPUT(a.command[0] != "launch", "launch: cannot launch `launch`");
    argv.push_back(self_exe());
  }
  argv.insert(argv.end(), a.command.begin(), a.command.end());
  const dist::LaunchOptions o = dist::resolved_launch_options(a.opts);
  return dist::launch_ranks(o, argv, std::cerr).exit_code;
}

}  // namespace

Command register_launch(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "launch", "start N local ranks with the torchrun environment: launch [opts] -- train ...");
  auto a = std::make_shared<LaunchArgs>();
  auto& o = a->opts;
  sub->add_option("--nproc-per-node", o.nproc_per_node, "ranks on this node")->capture_default_str();
  sub->add_option("--nnodes", o.nnodes, "nodes in the world")->capture_default_str();
  sub->add_option("--node-rank", o.node_rank, "this node's index")->capture_default_str();
  sub->add_option("--master-addr", o.master_addr,
                  "rank 0's host (default 127.0.0.1; required with --nnodes > 1)");
  sub->add_option("--master-port", o.master_port,
                  "rendezvous port (default: a free port, or 29500 with --nnodes > 1)");
  sub->add_option("--grace-seconds", o.grace_seconds,
                  "after a rank fails: seconds between SIGTERM and SIGKILL to the others")
      ->capture_default_str();
  sub->add_flag("--exec", a->exec,
                "the command is a program to run (like torchrun --no-python), not a pgolf "
                "subcommand");
  sub->add_option("command", a->command, "pgolf subcommand and its arguments (after --)");
  sub->prefix_command();
  return {sub, [a, sub]() {
            // The words after `--` are taken verbatim from the command line (CLI11 may reorder
            // option-like words); without `--` only plain words are accepted.
            const auto& argv = raw_argv();
            auto launch = std::find(argv.begin(), argv.end(), "launch");
            auto dashes = std::find(launch, argv.end(), "--");
            if (dashes != argv.end()) {
              a->command.assign(dashes + 1, argv.end());
            } else {
              PGOLF_CHECK_INPUT(sub->remaining().empty(),
                                "launch: put the command after --, as in pgolf launch "
                                "--nproc-per-node 2 -- train --config F");
            }
            return run_launch(*a);
          }};
}

}  // namespace pgolf::cli
