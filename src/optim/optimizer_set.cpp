// OptimizerSet (see optimizer_set.h).
#include "pgolf/optim/optimizer_set.h"

#include <map>
#include <set>

#include "pgolf/core/error.h"
#include "pgolf/optim/schedule.h"

namespace pgolf::optim {
namespace {

ParamGroup make_group(const std::string& label, const std::vector<std::string>& names,
                      const std::map<std::string, torch::Tensor>& by_name, double lr) {
  ParamGroup g;
  g.label = label;
  g.names = names;
  for (const auto& n : names) g.params.push_back(by_name.at(n));
  g.base_lr = lr;
  g.lr = lr;
  return g;
}

}  // namespace

OptimizerSet::OptimizerSet(const core::NamedTensors& named_params, const config::OptimConfig& cfg,
                           const std::vector<std::string>& control_patterns, dist::Comm* comm)
    : plan_(build_param_groups(named_params, cfg, control_patterns)),
      muon_wd_(cfg.muon_weight_decay) {
  std::map<std::string, torch::Tensor> by_name(named_params.begin(), named_params.end());
  AdamWOptions adamw{cfg.beta1, cfg.beta2, cfg.adam_eps, cfg.weight_decay};
  AdamWOptions adam = adamw;
  adam.weight_decay = 0.0;  // the untied head uses plain Adam
  auto add_adam = [&](const std::string& label, const std::vector<std::string>& names, double lr,
                      const AdamWOptions& opts) {
    if (names.empty()) return;
    std::vector<ParamGroup> groups{make_group(label, names, by_name, lr)};
    optimizers_.emplace_back(label, std::make_unique<AdamW>(std::move(groups), opts));
  };
  // EMBED_WD / ADAM_WD (the 1.0979+ records) override WEIGHT_DECAY for their group when >= 0.
  AdamWOptions tok_opts = adamw, scalar_opts = adamw;
  if (cfg.embed_wd >= 0) tok_opts.weight_decay = cfg.embed_wd;
  if (cfg.adam_wd >= 0) scalar_opts.weight_decay = cfg.adam_wd;
  add_adam("tok", plan_.tok, plan_.tok_lr, tok_opts);
  add_adam("head", plan_.head, plan_.head_lr, adam);
  if (!plan_.muon.empty()) {
    std::vector<ParamGroup> groups{make_group("muon", plan_.muon, by_name, plan_.matrix_lr)};
    // Field by field: a positional initialiser silently shifted polar_express, row_normalize and
    // banked one field down when native_gemm was added before them.
    MuonOptions mo;
    mo.backend_steps = cfg.muon_backend_steps;
    mo.nesterov = true;
    mo.weight_decay = cfg.muon_weight_decay;
    mo.bf16_coeffs = cfg.muon_ns_coeffs == config::MuonNsCoeffs::kBf16;
    mo.ns_dtype = cfg.muon_ns_dtype == config::MuonNsDtype::kFp32 ? torch::kFloat32 : torch::kBFloat16;
    mo.native_gemm = cfg.muon_ns_dtype == config::MuonNsDtype::kBf16Native;
    mo.polar_express = cfg.muon_ns_coeffs == config::MuonNsCoeffs::kPolarExpress;
    mo.row_normalize = cfg.muon_row_normalize;
    mo.banked = cfg.muon_form == config::MuonForm::kBanked;
    mo.sharded = cfg.muon_sharded;
    auto muon = std::make_unique<Muon>(std::move(groups), mo, comm);
    muon->set_momentum(cfg.muon_momentum);
    optimizers_.emplace_back("muon", std::move(muon));
  }
  add_adam("scalar", plan_.scalar, plan_.scalar_lr, scalar_opts);
}

void OptimizerSet::set_schedule(double lr_scale, double muon_momentum) {
  for (auto& [label, opt] : optimizers_) {
    opt->set_lr_scale(lr_scale);
    if (auto* m = dynamic_cast<Muon*>(opt.get())) m->set_momentum(muon_momentum);
  }
}

void OptimizerSet::set_muon_wd_scale(double mult) {
  if (auto* m = dynamic_cast<Muon*>(find("muon"))) m->set_weight_decay(muon_wd_ * mult);
}

void OptimizerSet::step() {
  for (auto& [label, opt] : optimizers_) opt->step();
}

void OptimizerSet::zero_grad() {
  for (auto& [label, opt] : optimizers_) opt->zero_grad();
}

Optimizer* OptimizerSet::find(const std::string& label) const {
  for (const auto& [l, opt] : optimizers_)
    if (l == label) return opt.get();
  return nullptr;
}

Muon* OptimizerSet::sharded_muon() const {
  auto* m = dynamic_cast<Muon*>(find("muon"));
  return m && m->sharded_world() ? m : nullptr;
}

std::vector<torch::Tensor> OptimizerSet::params_to_average(
    const std::vector<torch::Tensor>& params) const {
  const Muon* m = sharded_muon();
  if (!m) return params;
  std::set<const c10::TensorImpl*> own;
  for (const auto& g : m->groups())
    for (const auto& p : g.params) own.insert(p.unsafeGetTensorImpl());
  std::vector<torch::Tensor> out;
  for (const auto& p : params)
    if (!own.count(p.unsafeGetTensorImpl())) out.push_back(p);
  return out;
}

torch::Tensor OptimizerSet::grad_total_norm(const std::vector<torch::Tensor>& params) {
  Muon* m = sharded_muon();
  if (!m) return optim::grad_total_norm(params);
  m->reduce_scatter_grads();
  const torch::Tensor rest = optim::grad_total_norm(params_to_average(params));
  const torch::Tensor mine = m->sharded_grad_norm().to(rest.device(), rest.scalar_type());
  return torch::linalg_vector_norm(torch::stack({rest, mine}), 2);
}

void OptimizerSet::clip_grads_with_norm(const std::vector<torch::Tensor>& params,
                                        const torch::Tensor& total,
                                        const torch::Tensor& max_norm) {
  Muon* m = sharded_muon();
  if (!m) return optim::clip_grads_with_norm(params, total, max_norm);
  optim::clip_grads_with_norm(params_to_average(params), total, max_norm);
  torch::NoGradGuard no_grad;
  m->scale_sharded_grads(clip_coefficient(total, max_norm));
}

core::NamedTensors OptimizerSet::state_tensors() const {
  core::NamedTensors out;
  for (const auto& [label, opt] : optimizers_)
    for (auto& [name, t] : opt->state_tensors()) out.emplace_back(label + "/" + name, t);
  return out;
}

nlohmann::json OptimizerSet::state_meta() const {
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [label, opt] : optimizers_) meta[label] = opt->state_meta();
  return meta;
}

void OptimizerSet::load_state(const core::NamedTensors& tensors, const nlohmann::json& meta) {
  for (const auto& [key, t] : tensors) {
    const std::string label = key.substr(0, key.find('/'));
    PGOLF_CHECK_INPUT(key.find('/') != std::string::npos && find(label) != nullptr,
                      "optimizer state: tensor '" << key << "' belongs to no optimizer of this "
                                                     "model (" << describe() << ")");
  }
  for (auto& [label, opt] : optimizers_) {
    PGOLF_CHECK_INPUT(meta.contains(label), "optimizer state: no entry for the '" << label
                                                                                  << "' optimizer");
    core::NamedTensors mine;
    const std::string prefix = label + "/";
    for (const auto& [key, t] : tensors)
      if (key.compare(0, prefix.size(), prefix) == 0) mine.emplace_back(key.substr(prefix.size()), t);
    opt->load_state(mine, meta.at(label));
  }
}

void OptimizerSet::reset() {
  for (auto& [label, opt] : optimizers_) opt->reset();
}

}  // namespace pgolf::optim
