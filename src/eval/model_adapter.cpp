// GPT adapters for the evaluators (see model_adapter.h).
#include "pgolf/eval/model_adapter.h"

#include <utility>

#include "pgolf/core/error.h"
#include "pgolf/model/dtype.h"

namespace pgolf::eval {

LogitsFn gpt_logits_fn(model::GPT gpt) {
  return [gpt](const torch::Tensor& ids) mutable {
    model::ComputeScope scope(gpt->dtype_policy(), ids.device().type());
    return gpt->forward_logits(ids);
  };
}

LoraShapes GptLoraModel::lora_shapes() const {
  const config::ModelConfig& cfg = gpt_->config();
  PGOLF_CHECK_INPUT(
      cfg.attention == "gqa",
      "TTT-LoRA adapts c_q and c_v, which need ATTENTION=gqa, found '" << cfg.attention << "'");
  const int64_t head_dim = cfg.model_dim / cfg.num_heads;
  LoraShapes s;
  s.model_dim = cfg.model_dim;
  s.vocab_size = cfg.vocab_size;
  s.q_out.assign(static_cast<size_t>(cfg.num_layers), cfg.num_heads * head_dim);
  s.v_out.assign(static_cast<size_t>(cfg.num_layers), cfg.num_kv_heads * head_dim);
  return s;
}

torch::Tensor GptLoraModel::logits(const torch::Tensor& ids, const LoraState& lora) {
  model::LoraSet set;
  set.head = {lora.head.a, lora.head.b};
  for (const BatchedLora& l : lora.q) set.q.push_back({l.a, l.b});
  for (const BatchedLora& l : lora.v) set.v.push_back({l.a, l.b});
  model::ComputeScope scope(gpt_->dtype_policy(), ids.device().type());
  return gpt_->forward_logits(ids, &set);
}

}  // namespace pgolf::eval
