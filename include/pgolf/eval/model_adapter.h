// Adapters from the GPT of pgolf::model to the evaluators' seams: a LogitsFn for the standard and
// sliding evaluators, and a LoraModel for TTT-LoRA (adapters passed as model::LoraSet).
#pragma once

#include "pgolf/eval/bpb.h"
#include "pgolf/eval/lora.h"
#include "pgolf/model/gpt.h"

namespace pgolf::eval {

// forward_logits under the model's dtype policy (ComputeScope on the ids' device).
LogitsFn gpt_logits_fn(model::GPT gpt);

// TTT view of a GPT: q/v adapters on every block's c_q/c_v, head adapter before the softcap.
class GptLoraModel : public LoraModel {
 public:
  explicit GptLoraModel(model::GPT gpt) : gpt_(std::move(gpt)) {}
  LoraShapes lora_shapes() const override;
  torch::Tensor logits(const torch::Tensor& ids, const LoraState& lora) override;

 private:
  model::GPT gpt_;
};

}  // namespace pgolf::eval
