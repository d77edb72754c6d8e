// Top-level CLI: registers every subcommand, parses, runs the chosen one and maps errors to exit
// codes. Library code throws; only this file decides what the user sees on failure.
#include "pgolf/cli/app.h"

#include <csignal>
#include <iostream>

#include <c10/util/Exception.h>

#include "pgolf/cli/commands.h"
#include "pgolf/config/suggest.h"
#include "pgolf/core/error.h"
#include "pgolf/core/runtime.h"
#include "pgolf/dist/error_file.h"
#include "pgolf/submission.h"

namespace pgolf::cli {

namespace {
std::vector<std::string> g_argv;

std::vector<CLI::App*> subcommands_of(CLI::App* app) {
  return app->get_subcommands([](CLI::App*) { return true; });
}

// "did you mean" lines for a command line CLI11 refused: an unknown subcommand (pgolf trian) or
// an unknown --option of the chosen one (--iteration 5), compared with the known names.
std::vector<std::string> suggestions(CLI::App& root, const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  CLI::App* app = &root;
  bool options_only = false;  // past the subcommand chain: bare words are option values
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) == 0) {
      const std::string name = arg.substr(2, arg.find('=') - 2);
      if (name.empty() || app->get_option_no_throw("--" + name) != nullptr) continue;
      std::vector<std::string> known;
      for (const CLI::Option* o : app->get_options())
        for (const auto& l : o->get_lnames()) known.push_back(l);
      const std::string near = config::closest_name(name, known, config::typo_distance(name));
      if (!near.empty())
        out.push_back("unknown option --" + name + "; did you mean --" + near + "?");
      options_only = true;
      continue;
    }
    if (arg[0] == '-' || options_only) continue;
    std::vector<std::string> names;
    CLI::App* next = nullptr;
    for (CLI::App* sub : subcommands_of(app)) {
      names.push_back(sub->get_name());
      if (sub->get_name() == arg) next = sub;
    }
    if (next != nullptr) {
      app = next;
      continue;
    }
    const std::string near = config::closest_name(arg, names, 2);
    if (!near.empty() && !names.empty())
      out.push_back("unknown command '" + arg + "'; did you mean '" + near + "'?");
    options_only = true;
  }
  return out;
}
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

  std::vector<Command> commands = {register_train(app), register_eval(app), register_export(app)};
#if !PGOLF_SUBMISSION  // a submission build (PGOLF_SUBMISSION=ON) has only train, eval and export
  for (auto* reg : {register_data, register_config, register_info, register_bench, register_launch,
                    register_report, register_compare, register_record})
    commands.push_back(reg(app));
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e) == 0 ? kExitOk : kExitBadInput;
    if (rc != kExitOk)
      for (const auto& s : suggestions(app, g_argv)) std::cerr << s << "\n";
    return rc;
  }
  if (show_version) {
    std::cout << core::version_string() << std::endl;
    return kExitOk;
  }
  try {
    for (auto& cmd : commands)
      if (cmd.app->parsed()) return cmd.run();
    // No subcommand: usage on stderr and a failure, so that a script calling bare `pgolf` by
    // mistake does not pass (`pgolf --help` is the way to ask for it).
    std::cerr << app.help() << std::endl;
    return kExitBadInput;
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
