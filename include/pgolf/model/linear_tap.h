// Calibration taps: the C++ form of the records' forward hooks (collect_hessians in the 1.0611
// record, collect_hessians_from_tokens in 1.1147). While a LinearInputSink is installed on the
// calling thread, the models hand it the input of every linear whose weight the GPTQ export
// quantises: CastedLinear modules report themselves (the sink names them), the banked GPT reports
// its bank slices by state-dict name, and a tied head reports the final norm's output as
// tok_emb.weight's input. Nothing is recorded (one thread-local load per linear) without a sink.
#pragma once

#include <initializer_list>
#include <string>

#include <torch/torch.h>

namespace pgolf::model {

class LinearInputSink {
 public:
  virtual ~LinearInputSink() = default;
  // x (..., in): the input shared by the linears whose weights are `names` (c_q, c_k and c_v
  // read one input; it is accumulated once and shared).
  virtual void add(std::initializer_list<std::string> names, const torch::Tensor& x) = 0;
  // x (..., in): the input of `module` (a CastedLinear); the sink maps modules to names and
  // ignores the ones it does not know.
  virtual void add_module(const torch::nn::Module* module, const torch::Tensor& x) = 0;
};

// The calling thread's sink, or null.
LinearInputSink* linear_tap();

// Installs `sink` on this thread for the scope; restores the previous one after.
class ScopedLinearTap {
 public:
  explicit ScopedLinearTap(LinearInputSink* sink);
  ~ScopedLinearTap();
  ScopedLinearTap(const ScopedLinearTap&) = delete;
  ScopedLinearTap& operator=(const ScopedLinearTap&) = delete;

 private:
  LinearInputSink* previous_;
};

// State-dict name of a banked layer's weight: "blocks.<layer>.<suffix>" (suffix "attn.c_q.weight").
std::string layer_weight_name(int64_t layer, const char* suffix);

}  // namespace pgolf::model
