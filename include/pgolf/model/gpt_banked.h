// The 1.0611 record's GPT (PARAM_BANKS=1; records/track_10min_16mb/2026-04-27_..._1.0611): every
// layer's matrices in four banks (qo_bank (2L,d,d): q then out; kv_bank (2L,kv,d): k then v;
// mlp_up_bank (L,h,d); mlp_down_bank (L,d,h)), tok_emb -> [SmearGate] -> RMSNorm -> U-Net of
// BankedBlocks over a virtual layer list (depth recurrence) -> [two-lane parallel decoder] ->
// final RMSNorm -> tied/untied head -> 30 tanh(z/30). Packed rows attend within cu_seqlens
// segments. State-dict keys and order are the record's (qo_bank, kv_bank, mlp_up_bank,
// mlp_down_bank, skip_weights, skip_gates, parallel_post_lambdas, parallel_resid_lambdas,
// smear_lambda, tok_emb.weight, blocks.N..., lm_head.weight, smear_gate.weight), so weights move
// both ways. PARALLEL_LANES: lane_merge (PR #1477) registers the scalar lane_merge in the lambdas'
// place instead, none (PR #1493) neither.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/model/block_banked.h"
#include "pgolf/model/layers.h"

namespace pgolf::model {

// Depth recurrence's layer lists: without loops (num_loops 0) range(L/2) and range(L/2, L);
// with loops [0..start-1] + [start..end] x (num_loops+1) + [end+1..L-1], cut at half its length.
struct VirtualLayers {
  std::vector<int64_t> encoder, decoder;
};
VirtualLayers virtual_layers(int64_t num_layers, int64_t num_loops, int64_t loop_start,
                             int64_t loop_end);

// The new SmearGate (SMEAR_GATE_ENABLED): x_t += lambda * sigmoid(gate_w x_t[:w]) * x_{t-1}
// for t >= 1, the x_{t-1} term dropped where ids_t is BOS. x (B,T,dim), gate_w (1,w), lambda (1).
torch::Tensor smear_gate_v2(const torch::Tensor& x, const torch::Tensor& ids,
                            const torch::Tensor& gate_w, const torch::Tensor& lambda);

// Activations of one forward, for tests: each sequential block call's output with its layer,
// and the final norm's input and output.
struct BankedTrace {
  std::vector<std::pair<int64_t, torch::Tensor>> block_calls;
  torch::Tensor final_norm_in, final_norm_out;
};

class BankedGPTImpl : public torch::nn::Module {
 public:
  // Builds and initialises as the record's _init_weights (orthogonal banks, zero out/down
  // matrices and gates); looping starts inactive.
  explicit BankedGPTImpl(const config::ModelConfig& cfg);

  // Soft-capped logits (B,T,V). cu_seqlens (optional, B must be 1): a packed row. `adapters`
  // (TTT): low-rank deltas per virtual layer slot (encoder calls, then decoder calls) and head.
  torch::Tensor forward_logits(const torch::Tensor& ids, const torch::Tensor& cu_seqlens = {},
                               const BankedAdapters* adapters = nullptr);
  // Virtual layer slots of one forward (the adapters' slot count): 2 lists when looping, else L.
  int64_t num_slots() const {
    return looping_ ? static_cast<int64_t>(layers_.encoder.size() + layers_.decoder.size())
                    : cfg_.num_layers;
  }
  // Mean fp32 cross-entropy over all positions.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& targets,
                        const torch::Tensor& cu_seqlens = {});

  // The record's looping_active: the virtual layer lists are used only when on.
  void set_looping(bool on) { looping_ = on; }
  bool looping() const { return looping_; }
  const VirtualLayers& layers() const { return layers_; }
  void set_trace(BankedTrace* trace) { trace_ = trace; }

  core::NamedTensors state_dict() const;
  void load_state_dict(const core::NamedTensors& tensors, bool strict = true);
  const config::ModelConfig& config() const { return cfg_; }

  torch::Tensor qo_bank, kv_bank, mlp_up_bank, mlp_down_bank;
  torch::Tensor skip_weights, skip_gates;  // skip_gates: SKIP_GATES_ENABLED only
  torch::Tensor parallel_post_lambdas, parallel_resid_lambdas;  // (L,2,2), (L,2): routed only
  torch::Tensor lane_merge;  // 0-d, PARALLEL_LANES=lane_merge with PARALLEL_START_LAYER > 0 only
  torch::Tensor smear_lambda;  // (1), SMEAR_GATE_ENABLED only
  torch::nn::Embedding tok_emb{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  CastedLinear lm_head{nullptr};     // untied only
  CastedLinear smear_gate{nullptr};  // (1, gate_window), SMEAR_GATE_ENABLED only

 private:
  void init_weights();
  LayerWeights weights(int64_t layer) const;
  torch::Tensor hidden(const torch::Tensor& ids, const torch::Tensor& cu_seqlens,
                       const BankedAdapters* adapters);
  torch::Tensor decoder(torch::Tensor x, const torch::Tensor& x0, std::vector<torch::Tensor> skips,
                        const std::vector<int64_t>& order, const BankedContext& ctx);
  torch::Tensor skip_into(const torch::Tensor& x, const torch::Tensor& skip, size_t idx) const;
  torch::Tensor head_logits(const torch::Tensor& ids, const torch::Tensor& cu_seqlens,
                            const BankedAdapters* adapters);
  torch::Tensor head_logits_of(const torch::Tensor& h);  // pre-softcap logits of final-norm h

  config::ModelConfig cfg_;
  VirtualLayers layers_;
  std::vector<BankedBlock> block_list_;
  Rotary rotary_;
  bool looping_ = false;
  BankedTrace* trace_ = nullptr;
};
TORCH_MODULE(BankedGPT);

}  // namespace pgolf::model
