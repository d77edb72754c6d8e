// SIGINT/SIGTERM/SIGHUP handling: the first signal asks the loop to checkpoint and stop at the next
// step boundary (all ranks agree through an all-reduce), or abandons the final export/score; a
// second one exits immediately (removing the temporary file being written, if any).
#pragma once

namespace pgolf::train {

void install_stop_signal_handlers();
bool stop_requested();
int stop_signal();       // the signal number received, 0 if none
void request_stop(int sig);  // as if `sig` had arrived (another rank's signal); keeps a first one
void reset_stop_request();  // for tests

}  // namespace pgolf::train
