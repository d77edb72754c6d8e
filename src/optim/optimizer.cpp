// Optimizer base (see optimizer.h).
#include "pgolf/optim/optimizer.h"

#include <set>

#include "pgolf/core/error.h"

namespace pgolf::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  std::set<std::string> seen;
  for (auto& g : groups_) {
    PGOLF_CHECK(g.names.size() == g.params.size(),
                "optimizer group '" << g.label << "': " << g.names.size() << " names for "
                                    << g.params.size() << " params");
    for (size_t i = 0; i < g.params.size(); ++i) {
      PGOLF_CHECK(g.params[i].defined(), "optimizer group '" << g.label << "': param "
                                                             << g.names[i] << " is undefined");
      PGOLF_CHECK(seen.insert(g.names[i]).second,
                  "optimizer: param " << g.names[i] << " appears twice");
    }
    g.lr = g.base_lr;
  }
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

void Optimizer::set_lr_scale(double scale) {
  for (auto& g : groups_) g.lr = g.base_lr * scale;
}

int64_t Optimizer::num_params() const {
  int64_t n = 0;
  for (const auto& g : groups_)
    for (const auto& p : g.params) n += p.numel();
  return n;
}

const torch::Tensor& Optimizer::param_named(const std::string& name, const std::string& what) const {
  for (const auto& g : groups_)
    for (size_t i = 0; i < g.names.size(); ++i)
      if (g.names[i] == name) return g.params[i];
  PGOLF_FAIL_INPUT(what << ": state for unknown parameter '" << name << "'");
}

torch::Tensor checked_state(const core::NamedTensors& tensors, const std::string& name,
                            const torch::Tensor& like, const std::string& what) {
  const torch::Tensor* t = core::find_tensor(tensors, name);
  PGOLF_CHECK_INPUT(t != nullptr, what << ": missing tensor '" << name << "'");
  PGOLF_CHECK_INPUT(t->sizes() == like.sizes(), what << ": tensor '" << name << "' has shape "
                                                     << t->sizes() << ", expected "
                                                     << like.sizes());
  PGOLF_CHECK_INPUT(t->scalar_type() == like.scalar_type(),
                    what << ": tensor '" << name << "' has dtype " << t->scalar_type()
                         << ", expected " << like.scalar_type());
  return t->to(like.device(), /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace pgolf::optim
