// Named-parameter copy (see state_dict.h).
#include "pgolf/model/state_dict.h"

#include <map>
#include <sstream>

#include "pgolf/core/error.h"

namespace pgolf::model {

core::NamedTensors named_state(const torch::nn::Module& module) {
  core::NamedTensors out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  return out;
}

void load_named_state(torch::nn::Module& module, const core::NamedTensors& tensors, bool strict) {
  auto params = module.named_parameters(/*recurse=*/true);
  std::vector<std::string> errors;
  std::map<std::string, const torch::Tensor*> given;
  for (const auto& [name, t] : tensors) {
    if (given.count(name)) errors.push_back("duplicate key '" + name + "'");
    given[name] = &t;
    if (!params.contains(name) && strict) errors.push_back("unexpected key '" + name + "'");
  }
  for (const auto& p : params) {
    auto it = given.find(p.key());
    if (it == given.end()) {
      if (strict) errors.push_back("missing key '" + p.key() + "'");
      continue;
    }
    const auto& src = *it->second;
    if (!src.defined() || src.sizes() != p.value().sizes() || !src.is_floating_point()) {
      std::ostringstream os;
      os << "key '" << p.key() << "': expected float tensor of shape " << p.value().sizes()
         << ", found " << (src.defined() ? std::string(c10::toString(src.scalar_type())) : "undefined")
         << " " << (src.defined() ? src.sizes() : torch::IntArrayRef{});
      errors.push_back(os.str());
    }
  }
  if (!errors.empty()) {
    std::string msg = "state dict does not fit the model (" + std::to_string(errors.size()) +
                      " problem(s)):";
    for (const auto& e : errors) msg += "\n  " + e;
    PGOLF_FAIL_INPUT(msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& p : params) {
    auto it = given.find(p.key());
    if (it != given.end()) p.value().copy_(*it->second);  // copy_ converts dtype and device
  }
}

}  // namespace pgolf::model
