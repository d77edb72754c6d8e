// The per-document adapters of the 1.0734-1.0611 records' TTT (BatchedTTTLoRA there): one
// batched LoRA per virtual layer slot on Q and V, optionally on K, the attention output and the
// MLP output, plus one on the head; row b of every adapter belongs to document b of the batch.
// Outputs are scaled by alpha/rank. Construction draws every A from the default CPU generator in
// the record's order (head, then q, v, k, mlp, o of every slot; U(-1/sqrt(in), 1/sqrt(in))), so
// torch::manual_seed(s) before it reproduces the record's adapters for the same seed.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "pgolf/eval/lora.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf::eval {

struct DocLoraOptions {
  int64_t rank = 8;        // TTT_LORA_RANK
  double alpha = 0.0;      // TTT_LORA_ALPHA: scale alpha/rank; 0: scale 1
  bool k = false, o = false, mlp = false;  // TTT_K_LORA, TTT_O_LORA, TTT_MLP_LORA
  bool warm_start_a = false;               // TTT_WARM_START_A: reset() keeps A
};

class DocLora final : public model::BankedAdapters {
 public:
  // Adapters for `batch` documents on `model` (its slot count, widths and vocabulary), on `device`.
  DocLora(const model::BankedGPTImpl& model, int64_t batch, const DocLoraOptions& opts,
          torch::Device device);

  torch::Tensor delta(int64_t slot, model::AdapterSite site, const torch::Tensor& x) const override;
  torch::Tensor head_delta(const torch::Tensor& h) const override { return head_.forward(h); }

  // Per batch: B zeroed; A redrawn (default generator) unless warm_start_a.
  void reset();
  int64_t batch() const { return batch_; }
  // Every A and B in construction order (leaf tensors that require grad).
  std::vector<torch::Tensor> parameters() const;

 private:
  DocLoraOptions opts_;
  int64_t batch_;
  BatchedLora head_;
  std::vector<BatchedLora> q_, v_, k_, mlp_, o_;  // one per slot; k_/mlp_/o_ empty when off
};

}  // namespace pgolf::eval
