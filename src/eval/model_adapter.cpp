// GPT logits function for the evaluators (see model_adapter.h).
#include "pgolf/eval/model_adapter.h"

#include "pgolf/model/dtype.h"

namespace pgolf::eval {

LogitsFn gpt_logits_fn(model::GPT gpt) {
  return [gpt](const torch::Tensor& ids) mutable {
    model::ComputeScope scope(gpt->dtype_policy(), ids.device().type());
    return gpt->forward_logits(ids);
  };
}

}  // namespace pgolf::eval
