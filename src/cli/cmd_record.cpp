// `pgolf record check RECORD_DIR [--baseline BPB]`: a record folder against the challenge's rules
// (see report/record_check.h). Exit 0 when no check fails, 1 when one does, 2 on bad input.
#include <cmath>
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/core/error.h"
#include "pgolf/report/record_check.h"

namespace pgolf::cli {
namespace {

struct RecordArgs {
  std::string dir;
  report::RecordCheckOptions opts;
  bool json = false;
};

int run_record_check(const RecordArgs& a) {
  PGOLF_CHECK_INPUT(!(std::isfinite(a.opts.baseline_bpb) && std::isfinite(a.opts.baseline_nats)),
                    "give --baseline (bpb) or --baseline-nats, not both");
  const auto c = report::check_record_dir(a.dir, a.opts);
  if (a.json)
    std::cout << report::record_check_json(c).dump(2) << std::endl;
  else
    std::cout << report::format_record_check(c);
  return c.passed() ? kExitOk : kExitFailure;
}

}  // namespace

Command register_record(CLI::App& app) {
  auto* sub = app.add_subcommand("record", "record folder tools");
  sub->require_subcommand(1);
  auto* check = sub->add_subcommand(
      "check", "check a record folder: files, submission.json vs logs, bytes, times, significance");
  auto a = std::make_shared<RecordArgs>();
  check->add_option("dir", a->dir, "record folder")->required()->check(CLI::ExistingDirectory);
  check->add_option("--baseline", a->opts.baseline_bpb,
                    "score to beat in bpb (converted to nats with the logs' own loss/bpb ratio)");
  check->add_option("--baseline-nats", a->opts.baseline_nats, "score to beat in nats (val_loss)");
  check->add_option("--margin-nats", a->opts.margin_nats, "required improvement (default 0.005)");
  check->add_option("--alpha", a->opts.alpha, "significance level (default 0.01)");
  check->add_option("--max-train-seconds", a->opts.max_train_seconds, "default 600");
  check->add_option("--max-eval-seconds", a->opts.max_eval_seconds, "default 600");
  check->add_flag("--json", a->json, "print JSON");
  return {sub, [a]() { return run_record_check(*a); }};
}

}  // namespace pgolf::cli
