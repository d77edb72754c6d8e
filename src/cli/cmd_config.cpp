// `pgolf config --dump`: the resolved configuration as JSON with the source of every value.
#include <cstdlib>
#include <iostream>

#include "pgolf/cli/commands.h"

namespace pgolf::cli {

Command register_config(CLI::App& app) {
  auto* sub = app.add_subcommand("config", "print the resolved configuration");
  auto opts = std::make_shared<ConfigOptions>();
  auto dump = std::make_shared<bool>(false);
  auto world = std::make_shared<int>(0);
  add_config_options(sub, *opts);
  sub->add_flag("--dump", *dump, "print resolved JSON with the source of every value");
  sub->add_option("--world-size", *world, "check divisibility for this many ranks (default: "
                                          "WORLD_SIZE or 1)");
  return {sub, [opts, dump, world]() {
            int ws = *world;
            if (ws <= 0) ws = std::getenv("WORLD_SIZE") ? std::atoi(std::getenv("WORLD_SIZE")) : 1;
            auto resolved = resolve_config(*opts, ws);
            if (*dump) {
              std::cout << config::dump(resolved).dump(2) << std::endl;
            } else {
              std::cout << config::to_json(resolved.cfg).dump(2) << std::endl;
            }
            return kExitOk;
          }};
}

}  // namespace pgolf::cli
