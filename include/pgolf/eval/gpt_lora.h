// The GPT as an eval::LoraModel for TTT-LoRA: per-document adapters on c_q, c_v and the head are
// passed to GPT::forward_logits as a model::LoraSet.
#pragma once

#include "pgolf/eval/lora.h"
#include "pgolf/model/gpt.h"

namespace pgolf::eval {

class GptLoraModel final : public LoraModel {
 public:
  GptLoraModel(model::GPT gpt, model::DtypePolicy policy, c10::DeviceType device)
      : gpt_(std::move(gpt)), policy_(policy), device_(device) {}
  LoraShapes lora_shapes() const override;
  torch::Tensor logits(const torch::Tensor& ids, const LoraState& lora) override;

 private:
  model::GPT gpt_;
  model::DtypePolicy policy_;
  c10::DeviceType device_;
};

}  // namespace pgolf::eval
