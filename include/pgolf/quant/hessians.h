// GPTQ calibration Hessians (the 1.0611 record's collect_hessians): H = X^T X of the input of
// every linear whose weight QUANT_SCHEME=gptq quantises, summed over the calibration forwards
// (eval mode, no grad, forward_logits) and divided by their count, fp32, on CPU. The inputs come
// from the models' calibration taps (model/linear_tap.h): the attention input for c_q/c_k/c_v,
// the pre-projection attention output for attn.proj, the MLP input for mlp.fc, the activation
// for mlp.proj, the final norm's output for a tied tok_emb, and every CastedLinear by its
// state-dict name. A layer visited several times per forward (depth recurrence) adds each visit.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/model/linear_tap.h"

namespace pgolf::quant {

// The names gptq_mixed_quantize runs GPTQ on in `flat` (an unbanked state dict), in its order:
// float tensors above passthrough_max_numel that are not int8 gate rows.
std::vector<std::string> gptq_weight_names(const core::NamedTensors& flat,
                                           const config::QuantConfig& cfg);

// The sink that accumulates the Hessians of `wanted` weight names during calibration forwards.
class HessianCollector : public model::LinearInputSink {
 public:
  // `targets`: (name, weight) of the tensors to calibrate (gptq_weight_names of the unbanked
  // state dict); an input's width must equal its weight's columns. `model`: its CastedLinear
  // modules are named "<module path>.weight", as are its Embedding tables (see finish()).
  HessianCollector(const torch::nn::Module& model, const core::NamedTensors& targets);

  void add(std::initializer_list<std::string> names, const torch::Tensor& x) override;
  void add_module(const torch::nn::Module* module, const torch::Tensor& x) override;

  // H / n_forwards on CPU, in `wanted` order. A wanted embedding table that no forward read as
  // a linear input (an untied tok_emb, bigram.embed) gets the identity: its rows are looked up,
  // so each row's rounding error counts alone and GPTQ reduces to SDClip rounding; those names
  // are returned in `identity`. Any other wanted name that no forward reached is an input error.
  core::NamedTensors finish(int64_t n_forwards, std::vector<std::string>* identity = nullptr) const;

 private:
  std::map<std::string, torch::Tensor> h_;   // name -> (cols, cols) fp32 sum, on x's device
  std::map<std::string, int64_t> cols_;      // wanted name -> weight columns
  std::vector<std::string> wanted_;
  std::unordered_map<const torch::nn::Module*, std::string> linear_names_;
  std::map<std::string, bool> is_embedding_;
};

// Calibration forwards: `forward(ids)` runs the model on batch `batch(i)` ((B,T) int64, on the
// model's device), for i in [0, n). Runs them under a HessianCollector with no grad (the caller
// puts the model in eval mode) and returns finish(n).
core::NamedTensors collect_hessians(const torch::nn::Module& model,
                                    const std::function<void(const torch::Tensor&)>& forward,
                                    const std::function<torch::Tensor(int64_t)>& batch, int64_t n,
                                    const core::NamedTensors& targets,
                                    std::vector<std::string>* identity = nullptr);

}  // namespace pgolf::quant
