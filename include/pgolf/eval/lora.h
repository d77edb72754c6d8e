// Per-document LoRA adapters for test-time training (PR #289, record 2026-03-17_LoRA_TTT) and the
// model interface the TTT driver needs. Each batch row (one document) has its own rank-r adapters
// on the output head and on c_q / c_v of every block; the model wires them into its forward.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace pgolf::eval {

// Low-rank delta with independent weights per batch row: delta W_b = B_b A_b.
struct BatchedLora {
  torch::Tensor a;  // (batch, rank, in)  down-projection, U(-1/sqrt(in), 1/sqrt(in)) at creation
  torch::Tensor b;  // (batch, out, rank) up-projection, zero at creation (so the delta starts at 0)
  double scale = 1.0;  // alpha / rank (TTT_LORA_ALPHA, the 1.0634 record on); 1: PR #289

  // x (batch, T, in) -> (batch, T, out) = scale * x A^T B^T, in x's dtype.
  torch::Tensor forward(const torch::Tensor& x) const;
};

// Adapter sizes a model needs: head maps model_dim -> vocab_size; q_out / v_out per block.
struct LoraShapes {
  int64_t model_dim = 0;
  int64_t vocab_size = 0;
  std::vector<int64_t> q_out;  // c_q output width of each block
  std::vector<int64_t> v_out;  // c_v output width of each block
};

// All adapters of one document batch.
struct LoraState {
  BatchedLora head;
  std::vector<BatchedLora> q;  // one per block
  std::vector<BatchedLora> v;  // one per block

  int64_t batch() const { return head.a.defined() ? head.a.size(0) : 0; }
  // head.a, head.b, q[0].a, q[0].b, …, v[0].a, v[0].b, … (leaf tensors that require grad)
  std::vector<torch::Tensor> parameters() const;
};

// Fresh adapters for row_seeds.size() rows on `device` (fp32). Row i's A matrices are drawn from a
// CPU generator seeded with row_seeds[i] (head, then q of every block, then v), so a document's
// adapters do not depend on which batch or rank it lands in.
LoraState make_lora(const LoraShapes& shapes, int64_t rank, const std::vector<uint64_t>& row_seeds,
                    torch::Device device);

// What the TTT driver needs from a model.
class LoraModel {
 public:
  virtual ~LoraModel() = default;
  virtual LoraShapes lora_shapes() const = 0;
  // Softcapped logits (B,T,V) for ids (B,T) with the adapters applied as in the reference: in block
  // i, with n the attention-norm output, q = c_q(n) + lora.q[i].forward(n) and v = c_v(n) +
  // lora.v[i].forward(n); with h the final-norm output, logits = softcap(head(h) +
  // lora.head.forward(h)). Row b uses row b of every adapter. Must be differentiable with respect
  // to the adapter tensors (base weights may be frozen) and causal: position t may depend only on
  // ids[:, :t+1].
  virtual torch::Tensor logits(const torch::Tensor& ids, const LoraState& lora) = 0;
};

}  // namespace pgolf::eval
