// Subcommand registration. Each cmd_<name>.cpp defines one register function that adds its
// CLI11 subcommand and returns the action to run when that subcommand was chosen.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "pgolf/config/resolve.h"

namespace pgolf::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitOverBudget = 3;

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// --config FILE (repeatable) plus one --flag per configuration field (design.md §3).
struct ConfigOptions {
  std::vector<std::string> files;
  std::map<std::string, std::string> values;      // leaf -> raw text
  std::map<std::string, CLI::Option*> options;    // leaf -> option (to see which were given)
  bool strict_env = false;  // --strict-env (or PGOLF_STRICT_ENV=1): look-alike env names are errors
};
void add_config_options(CLI::App* sub, ConfigOptions& opts);
// defaults < files < env < flags, then validated for `world_size` ranks. Environment variables
// that look like knobs but are not (config/suggest.h) are warnings, errors when strict.
config::Resolved resolve_config(const ConfigOptions& opts, int world_size);

Command register_train(CLI::App& app);
Command register_eval(CLI::App& app);
Command register_export(CLI::App& app);
Command register_data(CLI::App& app);
Command register_config(CLI::App& app);
Command register_info(CLI::App& app);
Command register_bench(CLI::App& app);
Command register_launch(CLI::App& app);
Command register_report(CLI::App& app);   // and compare: cmd_report.cpp
Command register_compare(CLI::App& app);
Command register_record(CLI::App& app);

// The command line as given (for command.sh in run directories).
const std::vector<std::string>& raw_argv();

}  // namespace pgolf::cli
