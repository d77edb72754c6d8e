// Per-document adapters of the frontier TTT (see doc_lora.h; BatchedTTTLoRA of the 1.0611 record).
#include "pgolf/eval/doc_lora.h"

#include <cmath>

#include "pgolf/core/error.h"

namespace pgolf::eval {
namespace {

double bound_of(const BatchedLora& l) { return 1.0 / std::sqrt(static_cast<double>(l.a.size(2))); }

// A drawn from the default CPU generator (then moved), B zero; both leaves that require grad.
BatchedLora make_adapter(int64_t batch, int64_t in, int64_t out, int64_t rank, double scale,
                         torch::Device device) {
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  BatchedLora l;
  l.a = torch::empty({batch, rank, in}, torch::kFloat32).uniform_(-bound, bound).to(device);
  l.b = torch::zeros({batch, out, rank}, torch::TensorOptions(torch::kFloat32).device(device));
  l.a.set_requires_grad(true);
  l.b.set_requires_grad(true);
  l.scale = scale;
  return l;
}

}  // namespace

DocLora::DocLora(const model::BankedGPTImpl& model, int64_t batch, const DocLoraOptions& opts,
                 torch::Device device)
    : opts_(opts), batch_(batch) {
  PGOLF_CHECK_INPUT(opts.rank > 0, "TTT_LORA_RANK must be positive, found " << opts.rank);
  PGOLF_CHECK(batch > 0, "DocLora: batch " << batch);
  const auto& c = model.config();
  const int64_t d = c.model_dim, kv = c.num_kv_heads * (c.model_dim / c.num_heads);
  const int64_t slots = model.num_slots(), r = opts.rank;
  const double scale = opts.alpha > 0 ? opts.alpha / static_cast<double>(r) : 1.0;
  auto one = [&](int64_t in, int64_t out) { return make_adapter(batch, in, out, r, scale, device); };
  // The record's construction order (its A draws): head, q*, v*, k*, mlp*, o*.
  head_ = one(d, c.vocab_size);
  for (int64_t s = 0; s < slots; ++s) q_.push_back(one(d, d));
  for (int64_t s = 0; s < slots; ++s) v_.push_back(one(d, kv));
  if (opts.k)
    for (int64_t s = 0; s < slots; ++s) k_.push_back(one(d, kv));
  if (opts.mlp)
    for (int64_t s = 0; s < slots; ++s) mlp_.push_back(one(d, d));
  if (opts.o)
    for (int64_t s = 0; s < slots; ++s) o_.push_back(one(d, d));
}

torch::Tensor DocLora::delta(int64_t slot, model::AdapterSite site, const torch::Tensor& x) const {
  const std::vector<BatchedLora>* set = nullptr;
  switch (site) {
    case model::AdapterSite::kQ: set = &q_; break;
    case model::AdapterSite::kK: set = &k_; break;
    case model::AdapterSite::kV: set = &v_; break;
    case model::AdapterSite::kOut: set = &o_; break;
    case model::AdapterSite::kMlp: set = &mlp_; break;
  }
  if (set->empty()) return {};
  PGOLF_CHECK(slot >= 0 && slot < static_cast<int64_t>(set->size()),
              "DocLora: slot " << slot << " outside " << set->size() << " adapters");
  return (*set)[static_cast<size_t>(slot)].forward(x);
}

void DocLora::reset() {
  torch::NoGradGuard no_grad;
  auto one = [&](BatchedLora& l) {
    if (!opts_.warm_start_a) l.a.uniform_(-bound_of(l), bound_of(l));
    l.b.zero_();
  };
  one(head_);
  for (auto* set : {&q_, &v_, &k_, &mlp_, &o_})
    for (auto& l : *set) one(l);
}

std::vector<torch::Tensor> DocLora::parameters() const {
  std::vector<torch::Tensor> out{head_.a, head_.b};
  for (const auto* set : {&q_, &v_, &k_, &mlp_, &o_})
    for (const auto& l : *set) {
      out.push_back(l.a);
      out.push_back(l.b);
    }
  return out;
}

}  // namespace pgolf::eval
