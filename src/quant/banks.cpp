// The 1.0611 record's _unbank_state_dict / _rebank_state_dict (gptq_mixed.h): GPTQ, its Hessians
// and the per-group layout work on per-layer matrices; the model keeps them in four banks.
#include <set>

#include "pgolf/core/error.h"
#include "pgolf/quant/gptq_mixed.h"

namespace pgolf::quant {
namespace {

struct BankPart {
  const char* bank;
  const char* first;   // suffix of slices 0..L-1
  const char* second;  // suffix of slices L..2L-1 (nullptr: the bank has L slices)
};
constexpr BankPart kBanks[] = {{"qo_bank", "attn.c_q.weight", "attn.proj.weight"},
                               {"kv_bank", "attn.c_k.weight", "attn.c_v.weight"},
                               {"mlp_up_bank", "mlp.fc.weight", nullptr},
                               {"mlp_down_bank", "mlp.proj.weight", nullptr}};

const BankPart* bank_of(const std::string& key) {
  for (const auto& b : kBanks)
    if (key == b.bank) return &b;
  return nullptr;
}

std::string layer_key(int64_t i, const char* suffix) {
  return "blocks." + std::to_string(i) + "." + suffix;
}

}  // namespace

bool is_banked(const core::NamedTensors& sd) { return core::find_tensor(sd, "qo_bank") != nullptr; }

core::NamedTensors unbank_state_dict(const core::NamedTensors& sd) {
  const auto* qo = core::find_tensor(sd, "qo_bank");
  PGOLF_CHECK_INPUT(qo && qo->dim() == 3 && qo->size(0) % 2 == 0,
                    "unbank: expected a qo_bank of shape (2L, d, d)");
  const int64_t n = qo->size(0) / 2;
  core::NamedTensors out;
  for (const auto& [key, t] : sd) {
    const auto* b = bank_of(key);
    if (!b) {
      out.emplace_back(key, t);
      continue;
    }
    const int64_t want = b->second ? 2 * n : n;
    PGOLF_CHECK_INPUT(t.dim() == 3 && t.size(0) == want, "unbank: '" << key << "' has shape "
                                                             << t.sizes() << ", expected " << want
                                                             << " slices (L = " << n << ")");
    for (int64_t i = 0; i < n; ++i) {
      out.emplace_back(layer_key(i, b->first), t[i]);
      if (b->second) out.emplace_back(layer_key(i, b->second), t[n + i]);
    }
  }
  return out;
}

core::NamedTensors rebank_state_dict(const core::NamedTensors& flat,
                                     const core::NamedTensors& banked_template,
                                     const std::string& what) {
  const auto get = [&](const std::string& key) -> const torch::Tensor& {
    const auto* t = core::find_tensor(flat, key);
    PGOLF_CHECK_INPUT(t, what << ": no tensor '" << key << "' to rebank");
    return *t;
  };
  core::NamedTensors out;
  for (const auto& [key, t] : banked_template) {
    const auto* b = bank_of(key);
    if (!b) {
      out.emplace_back(key, get(key));
      continue;
    }
    const int64_t n = b->second ? t.size(0) / 2 : t.size(0);
    std::vector<torch::Tensor> parts;
    for (int64_t i = 0; i < n; ++i) parts.push_back(get(layer_key(i, b->first)));
    if (b->second)
      for (int64_t i = 0; i < n; ++i) parts.push_back(get(layer_key(i, b->second)));
    auto bank = torch::stack(parts);
    PGOLF_CHECK_INPUT(bank.sizes() == t.sizes(), what << ": rebanked '" << key << "' has shape "
                                                      << bank.sizes() << ", expected "
                                                      << t.sizes());
    out.emplace_back(key, bank);
  }
  return out;
}

core::NamedTensors bank_state_dict(const core::NamedTensors& flat, const std::string& what) {
  int64_t n = 0;
  while (core::find_tensor(flat, layer_key(n, kBanks[0].first))) ++n;
  PGOLF_CHECK_INPUT(n > 0, what << ": no 'blocks.0.attn.c_q.weight' to bank (RECORD_BANKS needs "
                                   "the PR #180 GPT's per-layer matrices)");
  std::set<std::string> member;
  core::NamedTensors banks;
  for (const auto& b : kBanks) {
    std::vector<torch::Tensor> parts;
    for (const char* suffix : {b.first, b.second}) {
      if (!suffix) continue;
      for (int64_t i = 0; i < n; ++i) {
        const std::string key = layer_key(i, suffix);
        const auto* t = core::find_tensor(flat, key);
        PGOLF_CHECK_INPUT(t && t->dim() == 2, what << ": no 2-D '" << key << "' for " << b.bank
                                                    << " (L = " << n << ")");
        PGOLF_CHECK_INPUT(parts.empty() || t->sizes() == parts.front().sizes(),
                          what << ": '" << key << "' has shape " << t->sizes() << ", "
                               << b.bank << " slices are " << parts.front().sizes());
        parts.push_back(*t);
        member.insert(key);
      }
    }
    banks.emplace_back(b.bank, torch::stack(parts));
  }
  const bool after_skips = core::find_tensor(flat, "skip_weights") != nullptr;
  core::NamedTensors out;
  if (!after_skips) out = banks;
  for (const auto& [key, t] : flat) {
    if (member.count(key)) continue;
    out.emplace_back(key, t);
    if (key == "skip_weights") out.insert(out.end(), banks.begin(), banks.end());
  }
  return out;
}

}  // namespace pgolf::quant
