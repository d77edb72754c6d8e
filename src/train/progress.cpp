// The progress-driven switches (see progress.h).
#include "pgolf/train/progress.h"

#include "pgolf/core/log.h"
#include "pgolf/optim/schedule.h"

namespace pgolf::train {

bool looping_due(bool has_loops, double frac, double enable_looping_at) {
  return has_loops && frac >= enable_looping_at;
}

bool set_session_looping(Session& s, bool on, const std::string& why) {
  if (!s.model->has_loops() || s.model->looping() == on) return false;
  s.model->set_looping(on);
  if (s.step) s.step->invalidate(why);
  return true;
}

std::string index_list(const std::vector<int64_t>& layers) {
  std::string out = "[";
  for (size_t i = 0; i < layers.size(); ++i) out += (i ? ", " : "") + std::to_string(layers[i]);
  return out + "]";
}

std::string layer_lists(Session& s) {
  if (!s.model->has_loops()) return "";
  const auto& layers = s.model->banked()->layers();
  return "encoder:" + index_list(layers.encoder) + " decoder:" + index_list(layers.decoder);
}

void apply_progress(Session& s, int64_t step, double elapsed_ms, double cap_ms) {
  const auto& t = s.cfg.train;
  const auto& o = s.cfg.optim;
  const double frac = optim::training_frac(step, elapsed_ms, t.iterations, cap_ms);
  if (o.wd_taper_start_frac < 1.0)
    s.optim->set_muon_wd_scale(
        optim::wd_taper_mul(frac, o.wd_taper_start_frac, o.wd_taper_final_mult));
  if (s.model->looping() || !looping_due(s.model->has_loops(), frac, t.enable_looping_at)) return;
  set_session_looping(s, true, "depth recurrence switched on");
  s.log.line(core::format("layer_loop:enabled step:%lld frac:%.3f %s", static_cast<long long>(step),
                          frac, layer_lists(s).c_str()));
}

std::vector<bool> warmup_forms(const Session& s) {
  if (s.model->has_loops()) return {false, true};
  return {false};
}

}  // namespace pgolf::train
