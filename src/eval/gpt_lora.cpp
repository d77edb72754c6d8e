// GPT-backed LoraModel (see gpt_lora.h).
#include "pgolf/eval/gpt_lora.h"

#include "pgolf/core/error.h"

namespace pgolf::eval {

LoraShapes GptLoraModel::lora_shapes() const {
  const auto& c = gpt_->config();
  PGOLF_CHECK_INPUT(c.attention == config::Attention::kGqa,
                    "TTT-LoRA needs attention=gqa (c_q/c_v adapters); found "
                        << config::choice_name(c.attention));
  const int64_t head_dim = c.model_dim / c.num_heads;
  LoraShapes s;
  s.model_dim = c.model_dim;
  s.vocab_size = c.vocab_size;
  s.q_out.assign(static_cast<size_t>(c.num_layers), c.num_heads * head_dim);
  s.v_out.assign(static_cast<size_t>(c.num_layers), c.num_kv_heads * head_dim);
  return s;
}

torch::Tensor GptLoraModel::logits(const torch::Tensor& ids, const LoraState& lora) {
  model::LoraSet set;
  set.head = {lora.head.a, lora.head.b};
  for (const auto& q : lora.q) set.q.push_back({q.a, q.b});
  for (const auto& v : lora.v) set.v.push_back({v.a, v.b});
  model::ComputeScope scope(policy_, device_);
  return gpt_->forward_logits(ids, &set);
}

}  // namespace pgolf::eval
