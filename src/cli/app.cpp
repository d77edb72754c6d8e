// Top-level CLI: registers every subcommand, parses, runs the chosen one and maps errors to exit
// codes. Library code throws; only this file decides what the user sees on failure.
#include "pgolf/cli/app.h"

#include <csignal>
#include <iostream>

#include <c10/util/Exception.h>

#include "pgolf/cli/commands.h"
#include "pgolf/core/error.h"
#include "pgolf/core/runtime.h"
#include "pgolf/dist/error_file.h"

namespace pgolf::cli {

namespace {
std::vector<std::string> g_argv;
}  // namespace

const std::vector<std::string>& raw_argv() { return g_argv; }

int run(int argc, char** argv) {
  g_argv.assign(argv, argv + argc);
  // Past a file-size limit (ulimit -f) a write must fail with EFBIG and a clear error, like a full
  // disk, instead of the default SIGXFSZ killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"pgolf: train, export and evaluate Parameter Golf language models (LibTorch)"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "print version, LibTorch version and CUDA availability");

  std::vector<Command> commands = {register_train(app),  register_eval(app),   register_export(app),
                                   register_data(app),   register_config(app), register_info(app),
                                   register_bench(app),  register_launch(app),
                                   register_report(app), register_compare(app), register_record(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  }
  if (show_version) {
    std::cout << core::version_string() << std::endl;
    return kExitOk;
  }
  try {
    for (auto& cmd : commands)
      if (cmd.app->parsed()) return cmd.run();
    std::cout << app.help() << std::endl;
    return kExitOk;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "hint: " << e.hint() << "\n";
    dist::write_error_file(e.what());  // for torchrun / pgolf launch: which rank failed first
    if (std::getenv("PGOLF_DEBUG") && !e.where().empty()) std::cerr << "at " << e.where() << "\n";
    switch (e.kind()) {
      case ErrorKind::kInput: return kExitBadInput;
      case ErrorKind::kBudget: return kExitOverBudget;
      default: return kExitFailure;
    }
  } catch (const c10::Error& e) {
    std::cerr << "error (LibTorch): " << e.what_without_backtrace() << "\n";
    dist::write_error_file(e.what_without_backtrace());
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    dist::write_error_file(e.what());
    return kExitFailure;
  }
}

}  // namespace pgolf::cli
