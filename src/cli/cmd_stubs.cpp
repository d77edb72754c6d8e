// Subcommands whose implementation lands in later issues. They are registered (so --help lists
// them) but say plainly that they are not implemented and exit 2. Each moves to its own
// cmd_<name>.cpp when implemented.
#include "pgolf/cli/commands.h"

namespace pgolf::cli {
namespace {

Command stub(CLI::App& app, const char* name, const char* what, int issue) {
  auto* sub = app.add_subcommand(name, what);
  sub->allow_extras();
  return {sub, [name, issue]() { return not_implemented(name, issue); }};
}

}  // namespace

Command register_launch(CLI::App& app) {
  return stub(app, "launch", "start N local ranks (issue #7)", 7);
}

}  // namespace pgolf::cli
