// `pgolf train [--config F...] [--flags] [--resume RUN_DIR]`: resolves the configuration, joins the
// process group (torchrun environment or single process), creates the run directory and trains.
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/cli/memory_check.h"
#include "pgolf/core/error.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/files.h"
#include "pgolf/core/runtime.h"
#include "pgolf/dist/comm.h"
#include "pgolf/submission.h"
#if !PGOLF_SUBMISSION
#include "pgolf/report/charts.h"
#endif
#include "pgolf/train/checkpoint.h"
#include "pgolf/train/device_setup.h"
#include "pgolf/train/signals.h"
#include "pgolf/train/trainer.h"
#include "pgolf/version.h"

namespace pgolf::cli {
namespace {

struct TrainArgs {
  ConfigOptions config;
  std::string resume;
  bool no_final = false;
  bool allow_over_budget = false;
  bool overwrite = false;
  std::vector<std::string> argv;
};

// Rank 0's value of `s` on every rank (s must be shorter than 256 bytes).
std::string agree_string(dist::Comm& comm, const std::string& s) {
  if (comm.world_size() == 1) return s;
  torch::Tensor t = torch::zeros({256}, torch::kUInt8);
  std::memcpy(t.data_ptr(), s.data(), std::min<size_t>(s.size(), 255));
  comm.broadcast(t, 0);
  return std::string(static_cast<const char*>(t.data_ptr()));
}

// Standalone SVG charts and report.html in the run directory (rank 0), also after a failed or
// stopped run, whose curves matter most; a report problem never changes the run's outcome.
void write_run_report(const dist::Comm& comm, const train::RunDir& dir) {
  if (comm.rank() != 0) return;
#if !PGOLF_SUBMISSION  // a submission build has no report code
  try {
    report::write_run_charts(dir.path);
  } catch (const std::exception& e) {
    std::cerr << "warning: run report not written: " << e.what() << std::endl;
  }
#endif
}

int run_train(TrainArgs& a) {
  const auto env = dist::read_torchrun_env();
  config::Resolved resolved;
  train::RunDir dir;
  train::RunLock lock;  // global rank 0 holds the run folder's lock (see run_dir.cpp)
  train::TrainOptions opts;
  if (!a.resume.empty()) {
    // Locked before open_run_dir cleans temporary files: they may be another live run's.
    if (env.rank == 0) lock = train::RunLock(train::RunDir{a.resume});
    // The run's own resolved config is the base; flags/env given now may still override it.
    dir = train::open_run_dir(a.resume);
    a.config.files.insert(a.config.files.begin(), dir.config_json());
    opts.resume = true;
  }
  resolved = resolve_config(a.config, env.world_size);
  const auto& cfg = resolved.cfg;
  core::configure_threads(dist::threads_per_rank(static_cast<int>(cfg.train.threads), env));
  const bool use_cuda = train::wants_cuda(cfg.train.device);
  check_memory_fits(cfg, env.world_size, env.local_world_size, env.local_rank, use_cuda);
  auto comm = dist::make_comm(cfg.train.dist_backend, use_cuda, cfg.train.dist_timeout_seconds);
  if (a.resume.empty()) {
    std::string run_id = cfg.train.run_id;
    if (run_id.empty()) {
      // Every rank must agree on the generated id: rank 0 picks, the store shares it.
      run_id = agree_string(*comm, train::new_run_id());
    }
    dir = train::create_run_dir(cfg.train.out_dir, run_id);
    if (comm->rank() == 0) {
      lock = train::RunLock(dir);
      train::prepare_new_run(dir, a.overwrite);
      write_run_metadata(dir, config::dump(resolved), a.argv,
                         a.config.files.empty() ? std::string() : a.config.files.back());
    }
  } else if (comm->rank() == 0) {
    train::record_resume(dir, config::dump(resolved), a.argv);
  }
  core::Logger log(comm->rank() == 0);
  log.open(dir.log(), dir.metrics());
  if (comm->rank() == 0) std::cout << dir.log() << std::endl;
  opts.finalize = !a.no_final;
  opts.allow_over_budget = a.allow_over_budget;
  // Code bytes count the source tree this binary was built from (PGOLF_SOURCE_DIR overrides).
  const char* src = std::getenv("PGOLF_SOURCE_DIR");
  opts.code_root = src ? src : PGOLF_SOURCE_DIR;
  if (!a.config.files.empty()) opts.config_path = a.config.files.back();
  // A resume counts the first run's config, not the run's config.json it layers on.
  if (opts.resume) opts.config_path = train::resumed_code_config(dir, opts.config_path);
  train::TrainSummary summary;
  try {
    summary = train::run_training(cfg, *comm, log, dir, opts);
  } catch (...) {
    write_run_report(*comm, dir);
    throw;
  }
  write_run_report(*comm, dir);
  if (summary.interrupted) return 128 + train::stop_signal();  // shell convention for signals
  return kExitOk;
}

}  // namespace

Command register_train(CLI::App& app) {
  auto* sub = app.add_subcommand("train", "train a model; export and score it at the end");
  auto a = std::make_shared<TrainArgs>();
  add_config_options(sub, a->config);
  auto* resume =
      sub->add_option("--resume", a->resume,
                      "continue the run in this run directory from its checkpoint")
          ->check(CLI::ExistingDirectory);
  sub->add_flag("--overwrite", a->overwrite,
                "start a new run in a RUN_ID folder that holds an earlier run, deleting its "
                "checkpoint, logs and artifacts")
      ->excludes(resume);
  sub->add_flag("--no-final", a->no_final, "skip the export and final score after training");
  sub->add_flag("--allow-over-budget", a->allow_over_budget,
                "do not fail when the artifact exceeds 16,000,000 bytes");
  return {sub, [a]() {
            a->argv = raw_argv();
            return run_train(*a);
          }};
}

}  // namespace pgolf::cli
