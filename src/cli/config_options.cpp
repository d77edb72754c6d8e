// One CLI flag per configuration field, generated from the field table; values are parsed by the
// same strict parsers as the environment so flags and env behave identically.
#include <cstdlib>
#include <iostream>

#include "pgolf/cli/commands.h"
#include "pgolf/config/fields.h"
#include "pgolf/config/resolve.h"
#include "pgolf/config/suggest.h"
#include "pgolf/core/error.h"

namespace pgolf::cli {

void add_config_options(CLI::App* sub, ConfigOptions& opts) {
  sub->add_option("--config,-c", opts.files, "JSON config file(s), applied in order")
      ->check(CLI::ExistingFile);
  sub->add_flag("--strict-env", opts.strict_env,
                "environment variables that look like knobs but are not one (NUM_LAYER) are "
                "errors, not warnings (for sweeps) [env PGOLF_STRICT_ENV=1]");
  config::Config defaults;
  config::for_each_field(defaults, [&](const char* sec, const char* leaf, auto& field,
                                       const char* help) {
    const std::string flag = "--" + config::flag_name(leaf);
    const std::string text =
        config::field_help(field, help) + " [env " + config::env_name(leaf) + "]";
    opts.options[leaf] = sub->add_option(flag, opts.values[leaf], text)->group(
        std::string("Config: ") + sec);
  });
}

namespace {

bool env_true(const std::map<std::string, std::string>& env, const char* name) {
  const auto it = env.find(name);
  bool on = false;
  return it != env.end() && config::parse_value(it->second, on) && on;
}

// Warns about (or, strict, refuses) environment variables that look like knobs. Rank 0 only
// warns, so that 8 ranks do not print 8 copies.
void check_env_names(const std::map<std::string, std::string>& env, bool strict) {
  const auto warnings = config::env_name_warnings(env);
  if (warnings.empty()) return;
  if (strict || env_true(env, "PGOLF_STRICT_ENV")) {
    std::string msg = std::to_string(warnings.size()) + " unknown environment variable(s):";
    for (const auto& w : warnings) msg += "\n  - " + w;
    throw Error(ErrorKind::kInput, msg,
                "fix or unset them (--strict-env / PGOLF_STRICT_ENV=1 makes these errors)");
  }
  const auto rank = env.find("RANK");
  if (rank != env.end() && rank->second != "0") return;
  for (const auto& w : warnings) std::cerr << "warning: " << w << std::endl;
}

}  // namespace

config::Resolved resolve_config(const ConfigOptions& opts, int world_size) {
  config::Layers layers;
  layers.files = opts.files;
  layers.env = config::process_env();
  check_env_names(layers.env, opts.strict_env);
  for (const auto& [leaf, opt] : opts.options)
    if (opt->count() > 0) layers.flags.emplace_back(leaf, opts.values.at(leaf));
  return config::resolve(layers, world_size);
}

}  // namespace pgolf::cli
