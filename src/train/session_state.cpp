// Checkpoint <-> session state (see loop.h): weights, optimiser and averaging state, the loader
// position and the CPU RNG state, so a resumed run continues exactly where it stopped.
#include <ATen/CPUGeneratorImpl.h>

#include "pgolf/core/error.h"
#include "pgolf/data/loader.h"
#include "pgolf/train/loop.h"
#include "pgolf/train/progress.h"
#include "pgolf/train/weights.h"

namespace pgolf::train {

Checkpoint make_checkpoint(Session& s, int64_t step, double train_ms) {
  Checkpoint c;
  c.step = step;
  c.elapsed_ms = train_ms;
  add_with_prefix(c.tensors, "model/", file_state_dict(s.model));  // RECORD_BANKS: banks
  add_with_prefix(c.tensors, "optim/", s.optim->state_tensors());
  c.state["optim"] = s.optim->state_meta();
  if (s.averager) {
    add_with_prefix(c.tensors, "avg/", s.averager->state_tensors());
    c.state["avg"] = s.averager->state_meta();
  }
  c.tensors.emplace_back("rng/cpu", at::detail::getDefaultCPUGenerator().get_state());
  c.state["loader"] = s.loader->state();
  if (s.model->has_loops()) c.state["looping"] = s.model->looping();  // ENABLE_LOOPING_AT
  c.state["rank"] = s.comm.rank();
  c.state["world_size"] = s.comm.world_size();
  return c;
}

namespace {

void restore_unchecked(Session& s, const Checkpoint& c) {
  const int world = c.state.value("world_size", 1);
  PGOLF_CHECK_INPUT(world == s.comm.world_size(),
                    "checkpoint was written by " << world << " ranks, this run has "
                                                 << s.comm.world_size()
                                                 << "; resume with the same WORLD_SIZE");
  load_file_state_dict(s.model, with_prefix(c.tensors, "model/"));
  s.optim->load_state(with_prefix(c.tensors, "optim/"), c.state.at("optim"));
  if (s.averager) {
    PGOLF_CHECK_INPUT(c.state.contains("avg"),
                      "checkpoint has no SWA/EMA state but this run averages weights");
    s.averager->load_state(with_prefix(c.tensors, "avg/"), c.state.at("avg"));
  }
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  for (const auto& [name, t] : c.tensors)
    if (name == "rng/cpu") gen.set_state(t);
  s.loader->restore(c.state.at("loader"));
  // A run with loops resumes in the form it stopped in (the switch never goes back).
  set_session_looping(s, c.state.value("looping", false), "resumed in the other form");
}

}  // namespace

// A checkpoint's JSON state and tensors come from a file: a missing key, a wrong type or a tensor
// LibTorch rejects (e.g. an RNG state of the wrong size) is an input error, not a crash.
void restore_checkpoint(Session& s, const Checkpoint& c) {
  try {
    restore_unchecked(s, c);
  } catch (const nlohmann::json::exception& e) {
    PGOLF_FAIL_INPUT("checkpoint of step " << c.step << ": malformed state (" << e.what() << ")");
  } catch (const c10::Error& e) {
    PGOLF_FAIL_INPUT("checkpoint of step " << c.step << " does not fit this run ("
                                           << e.what_without_backtrace() << ")");
  }
}

}  // namespace pgolf::train
