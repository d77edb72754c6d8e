// Signal flags (see signals.h). Only async-signal-safe work happens in the handler.
#include "pgolf/train/signals.h"

#include <csignal>
#include <cstdlib>
#include <unistd.h>

#include "pgolf/core/files.h"

namespace pgolf::train {
namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  if (g_signal != 0) {  // second signal: the user insists; no half-written file stays behind
    core::remove_temp_files_in_flight();
    _exit(128 + sig);
  }
  g_signal = sig;
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A dropped terminal (or ssh session) must not lose the run: SIGHUP checkpoints like SIGTERM.
  sigaction(SIGHUP, &sa, nullptr);
}

bool stop_requested() { return g_signal != 0; }
int stop_signal() { return static_cast<int>(g_signal); }
void request_stop(int sig) {
  if (g_signal == 0) g_signal = sig;
}
void reset_stop_request() { g_signal = 0; }

}  // namespace pgolf::train
