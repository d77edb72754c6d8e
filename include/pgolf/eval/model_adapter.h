// The GPT of pgolf::model as the standard and sliding evaluators' LogitsFn (the TTT view of the
// GPT is GptLoraModel in gpt_lora.h).
#pragma once

#include "pgolf/eval/bpb.h"
#include "pgolf/model/gpt.h"

namespace pgolf::eval {

// forward_logits under the model's dtype policy (ComputeScope on the ids' device).
LogitsFn gpt_logits_fn(model::GPT gpt);

}  // namespace pgolf::eval
