// SWA/EMA behind the Averager interface (see averager.h).
#include "pgolf/train/averager.h"

#include "pgolf/optim/averaging.h"

namespace pgolf::train {
namespace {

class SwaAverager final : public Averager {
 public:
  SwaAverager(double start_frac, int64_t every) : swa_(start_frac, every) {}
  bool acts_at(int64_t step, double lr_scale) const override { return swa_.due(step, lr_scale); }
  bool after_step(int64_t step, double lr_scale, const core::NamedTensors& state) override {
    return swa_.after_step(step, lr_scale, state);
  }
  core::NamedTensors averaged(const core::NamedTensors& cur) const override {
    return swa_.averaged(cur);
  }
  std::string apply_line() const override { return swa_.apply_line(); }
  int64_t count() const override { return swa_.count(); }
  core::NamedTensors state_tensors() const override { return swa_.state_tensors(); }
  nlohmann::json state_meta() const override { return swa_.state_meta(); }
  void load_state(const core::NamedTensors& t, const nlohmann::json& m) override {
    swa_.load_state(t, m);
  }

 private:
  optim::Swa swa_;
};

class EmaAverager final : public Averager {
 public:
  EmaAverager(double decay, const core::NamedTensors& initial) : ema_(decay, initial) {}
  bool after_step(int64_t step, double, const core::NamedTensors& state) override {
    ema_.update(state);
    ++count_;
    return false;
  }
  bool acts_at(int64_t, double) const override { return true; }
  core::NamedTensors averaged(const core::NamedTensors& cur) const override {
    return ema_.averaged(cur);
  }
  std::string apply_line() const override { return ema_.apply_line(); }
  int64_t count() const override { return count_; }
  core::NamedTensors state_tensors() const override { return ema_.state_tensors(); }
  nlohmann::json state_meta() const override {
    auto m = ema_.state_meta();
    m["updates"] = count_;
    return m;
  }
  void load_state(const core::NamedTensors& t, const nlohmann::json& m) override {
    ema_.load_state(t, m);
    count_ = m.value("updates", int64_t{0});
  }

 private:
  optim::Ema ema_;
  int64_t count_ = 0;
};

}  // namespace

std::unique_ptr<Averager> make_averager(const config::TrainConfig& cfg,
                                        const core::NamedTensors& initial_state) {
  if (cfg.swa_enabled) return std::make_unique<SwaAverager>(cfg.swa_start_frac, cfg.swa_every);
  if (cfg.ema_decay > 0) return std::make_unique<EmaAverager>(cfg.ema_decay, initial_state);
  return nullptr;
}

}  // namespace pgolf::train
