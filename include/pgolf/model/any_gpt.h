// The model a run trains and scores: the PR #180 GPT (model/gpt.h) or, with PARAM_BANKS=1, the
// 1.0611 record's banked GPT (model/gpt_banked.h). Sessions, checkpoints, export and eval talk
// to this one type; it forwards each call to the model it holds. Pointer-like (`m->forward`),
// as the GPT holder it stands in for, so call sites read the same for both models.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/model/dtype.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf::model {

class AnyGPT {
 public:
  AnyGPT() = default;  // empty
  // Builds (and initialises from the global generator) the model cfg.param_banks selects.
  explicit AnyGPT(const config::ModelConfig& cfg);
  explicit AnyGPT(GPT gpt);
  explicit AnyGPT(BankedGPT banked);

  AnyGPT* operator->() { return this; }
  const AnyGPT* operator->() const { return this; }
  explicit operator bool() const { return gpt_ || banked_; }

  bool is_banked() const { return static_cast<bool>(banked_); }
  // The held model; an internal error when it is the other kind.
  GPT& gpt();
  BankedGPT& banked();
  torch::nn::Module& module() const;

  // Mean cross-entropy (fp32) and soft-capped logits (B,T,V), as both GPTs define them.
  // cu_seqlens (VARLEN_ATTN, one packed row): attention within each segment; the banked GPT's
  // only (an input error naming VARLEN_ATTN for the PR #180 GPT). Undefined: dense causal.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& targets,
                        const torch::Tensor& cu_seqlens = {});
  torch::Tensor forward_logits(const torch::Tensor& ids, const torch::Tensor& cu_seqlens = {});

  std::vector<torch::Tensor> parameters() const;
  core::NamedTensors state_dict() const;
  void load_state_dict(const core::NamedTensors& tensors, bool strict = true);
  int64_t count_params() const;
  // The records' bf16 round trip of the initial values (model/init.h).
  void bf16_round_parameters();

  void train(bool on = true);
  void eval() { train(false); }
  void to(const torch::Device& device);

  // kFp32 and kBf16 (autocast) for both; kReference (the PR #180 record's bf16 tables) is the
  // PR #180 GPT's only: an input error for the banked GPT.
  void set_dtype_policy(DtypePolicy policy);
  // Late QAT exists for the PR #180 GPT only; clearing it (default settings) is always allowed.
  void set_qat(const QatSettings& qat);

  // Depth recurrence (NUM_LOOPS > 0, banked GPT): the looped layer lists in use. False and a
  // no-op otherwise.
  bool has_loops() const;
  bool looping() const;
  void set_looping(bool on);

  const config::ModelConfig& config() const;

 private:
  GPT gpt_{nullptr};
  BankedGPT banked_{nullptr};
};

}  // namespace pgolf::model
