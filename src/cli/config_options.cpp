// One CLI flag per configuration field, generated from the field table; values are parsed by the
// same strict parsers as the environment so flags and env behave identically.
#include <cstdlib>

#include "pgolf/cli/commands.h"
#include "pgolf/config/fields.h"

namespace pgolf::cli {

void add_config_options(CLI::App* sub, ConfigOptions& opts) {
  sub->add_option("--config,-c", opts.files, "JSON config file(s), applied in order")
      ->check(CLI::ExistingFile);
  config::Config defaults;
  config::for_each_field(defaults, [&](const char* sec, const char* leaf, auto&, const char* help) {
    const std::string flag = "--" + config::flag_name(leaf);
    std::string text = std::string(help) + " [env " + config::env_name(leaf) + "]";
    opts.options[leaf] = sub->add_option(flag, opts.values[leaf], text)->group(
        std::string("Config: ") + sec);
  });
}

config::Resolved resolve_config(const ConfigOptions& opts, int world_size) {
  config::Layers layers;
  layers.files = opts.files;
  layers.env = config::process_env();
  for (const auto& [leaf, opt] : opts.options)
    if (opt->count() > 0) layers.flags.emplace_back(leaf, opts.values.at(leaf));
  return config::resolve(layers, world_size);
}

}  // namespace pgolf::cli
