// SWA and EMA (see averaging.h), following the reference loops of PR #180 (SWA) and the 11-layer
// records (EMA).
#include "pgolf/optim/averaging.h"

#include "pgolf/core/error.h"

namespace pgolf::optim {
namespace {

// `state` must list the same names in the same order as `mine`.
void check_same_names(const core::NamedTensors& mine, const core::NamedTensors& state,
                      const std::string& what) {
  PGOLF_CHECK(mine.size() == state.size(),
              what << ": " << state.size() << " tensors given, " << mine.size() << " tracked");
  for (size_t i = 0; i < mine.size(); ++i)
    PGOLF_CHECK(mine[i].first == state[i].first && mine[i].second.sizes() == state[i].second.sizes(),
                what << ": tensor " << i << " is '" << state[i].first << "' "
                     << state[i].second.sizes() << ", expected '" << mine[i].first << "' "
                     << mine[i].second.sizes());
}

}  // namespace

Swa::Swa(double start_frac, int64_t every) : start_frac_(start_frac), every_(every) {
  PGOLF_CHECK_INPUT(every > 0, "SWA_EVERY: expected > 0, found " << every);
}

bool Swa::after_step(int64_t step, double lr_scale, const core::NamedTensors& state) {
  if (!due(step, lr_scale)) return false;
  add(state);
  return count_ == 1;
}

void Swa::add(const core::NamedTensors& state) {
  torch::NoGradGuard no_grad;
  if (count_ == 0) {
    sum_.clear();
    for (const auto& [name, t] : state)
      sum_.emplace_back(name, t.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true));
  } else {
    check_same_names(sum_, state, "SWA snapshot");
    // Summed in each tensor's dtype (bf16 embeddings sum in bf16, as in the reference).
    for (size_t i = 0; i < sum_.size(); ++i) sum_[i].second.add_(state[i].second.detach().cpu());
  }
  ++count_;
}

core::NamedTensors Swa::averaged(const core::NamedTensors& current) const {
  if (count_ <= 1) return {};
  check_same_names(sum_, current, "SWA apply");
  core::NamedTensors out;
  for (size_t i = 0; i < sum_.size(); ++i) {
    const torch::Tensor& cur = current[i].second;
    out.emplace_back(sum_[i].first,
                     (sum_[i].second / count_).to(cur.device(), cur.scalar_type()));
  }
  return out;
}

std::string Swa::apply_line() const {
  return "swa:applying averaged " + std::to_string(count_) + " checkpoints";
}

nlohmann::json Swa::state_meta() const {
  return {{"type", "swa"}, {"count", count_}, {"start_frac", start_frac_}, {"every", every_}};
}

void Swa::load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) {
  PGOLF_CHECK_INPUT(meta.value("type", std::string()) == "swa",
                    "SWA state: expected meta type 'swa', found " << meta.dump());
  const int64_t count = meta.value("count", int64_t{0});
  PGOLF_CHECK_INPUT(count >= 0 && (count == 0) == tensors.empty(),
                    "SWA state: count " << count << " with " << tensors.size() << " tensors");
  count_ = count;
  sum_.clear();
  for (const auto& [name, t] : tensors) sum_.emplace_back(name, t.cpu().clone());
}

Ema::Ema(double decay, const core::NamedTensors& initial) : decay_(decay) {
  PGOLF_CHECK_INPUT(decay > 0 && decay < 1, "EMA_DECAY: expected in (0, 1), found " << decay);
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : initial)
    shadow_.emplace_back(name, t.detach().to(torch::kFloat32, /*non_blocking=*/false,
                                             /*copy=*/true));
}

void Ema::update(const core::NamedTensors& state) {
  torch::NoGradGuard no_grad;
  check_same_names(shadow_, state, "EMA update");
  for (size_t i = 0; i < shadow_.size(); ++i)
    shadow_[i].second.mul_(decay_).add_(state[i].second.detach().to(torch::kFloat32),
                                        1.0 - decay_);
}

core::NamedTensors Ema::averaged(const core::NamedTensors& current) const {
  check_same_names(shadow_, current, "EMA apply");
  core::NamedTensors out;
  for (size_t i = 0; i < shadow_.size(); ++i) {
    const torch::Tensor& cur = current[i].second;
    out.emplace_back(shadow_[i].first, shadow_[i].second.to(cur.device(), cur.scalar_type(),
                                                            /*non_blocking=*/false,
                                                            /*copy=*/true));
  }
  return out;
}

nlohmann::json Ema::state_meta() const { return {{"type", "ema"}, {"decay", decay_}}; }

void Ema::load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) {
  PGOLF_CHECK_INPUT(meta.value("type", std::string()) == "ema",
                    "EMA state: expected meta type 'ema', found " << meta.dump());
  PGOLF_CHECK_INPUT(tensors.size() == shadow_.size(), "EMA state: " << tensors.size()
                                                     << " tensors, the model has " << shadow_.size());
  for (size_t i = 0; i < shadow_.size(); ++i)
    PGOLF_CHECK_INPUT(tensors[i].first == shadow_[i].first &&
                          tensors[i].second.sizes() == shadow_[i].second.sizes(),
                      "EMA state: tensor " << i << " is '" << tensors[i].first << "' "
                                           << tensors[i].second.sizes() << ", expected '"
                                           << shadow_[i].first << "' " << shadow_[i].second.sizes());
  for (size_t i = 0; i < shadow_.size(); ++i)
    shadow_[i].second = tensors[i].second.to(shadow_[i].second.device(), torch::kFloat32,
                                              /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace pgolf::optim
