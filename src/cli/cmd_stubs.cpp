// Subcommands whose implementation lands in later issues are registered here (so --help lists
// them) with a register function that returns not_implemented(name, issue), exit 2. Each moves to
// its own cmd_<name>.cpp when implemented; at present every subcommand is implemented.
#include "pgolf/cli/commands.h"
