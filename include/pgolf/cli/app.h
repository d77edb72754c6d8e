// The pgolf command line: subcommands, exit codes (0 ok, 1 runtime failure, 2 bad input or
// configuration or not implemented, 3 over the byte budget) and error printing.
#pragma once

namespace pgolf::cli {

int run(int argc, char** argv);

}  // namespace pgolf::cli
