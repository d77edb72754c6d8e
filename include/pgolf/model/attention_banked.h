// Attention of the 1.0611 record's banked GPT (CausalSelfAttention there): the projection weights
// come from the GPT's banks per call; the module owns q_gain and the optional head gate. Pieces,
// each off by default and usable alone (docs/frontier.md §2):
//  * partial RoPE (ROPE_DIMS): rotate-half on the first rope_dims dims of each head;
//  * XSA (XSA_LAST_N): y_h -= (y_h . v^) v^, v^ the token's own normalised KV-group value;
//  * head gates: ATTN_OUT_GATE (2 sigmoid(W src[:w])), GATED_ATTN (sigmoid(W x)), SPARSE_ATTN_GATE
//    (sigmoid(s W x[:w])), at most one, applied before the output projection;
//  * varlen attention: causal attention restricted to the segments of cu_seqlens (the record's
//    flash_attn_varlen_func on a packed row).
// State-dict names: attn.q_gain, attn.attn_gate_w (dense/sparse gate), attn.attn_gate_proj.weight.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "pgolf/model/frontier_ops.h"
#include "pgolf/model/layers.h"

namespace pgolf::model {

// Test-time adapters (the record's forward_ttt): low-rank deltas added to q, k, v (from the normed
// attention input), to the attention output (from that same input) and to the MLP output (from
// its normed input), per virtual layer slot, and to the head's logits (from the final norm).
enum class AdapterSite { kQ, kK, kV, kOut, kMlp };
class BankedAdapters {
 public:
  virtual ~BankedAdapters() = default;
  // Delta of `site` in virtual layer `slot` for x (B,T,in); undefined: no adapter there.
  virtual torch::Tensor delta(int64_t slot, AdapterSite site, const torch::Tensor& x) const = 0;
  virtual torch::Tensor head_delta(const torch::Tensor& h) const = 0;
};
// The adapters of one block call (none by default).
struct AdapterHook {
  const BankedAdapters* adapters = nullptr;
  int64_t slot = 0;
  // base + delta(x), or base when there is no adapter at `site`.
  torch::Tensor add(AdapterSite site, const torch::Tensor& base, const torch::Tensor& x) const {
    if (adapters == nullptr) return base;
    const auto d = adapters->delta(slot, site, x);
    return d.defined() ? base + d : base;
  }
};

struct BankedAttentionOptions {
  int64_t dim = 512, num_heads = 8, num_kv_heads = 4;
  double qk_gain_init = 5.0;
  int64_t rope_dims = 0;  // 0 = the whole head
  bool xsa = false;
  int64_t gate_window = 12;
  bool attn_out_gate = false, attn_out_gate_src_q = false;
  bool gated_attn = false;
  double gated_attn_init_std = 0.01;
  bool sparse_attn_gate = false;
  double sparse_attn_gate_init_std = 0.0, sparse_attn_gate_scale = 1.0;
  int64_t layer = 0;  // physical layer: names the calibration taps (linear_tap.h)
};

// partial_rotary and exclusive_self_attention: model/frontier_ops.h.

// Segment index (N) int64 of every position of a packed row of N tokens: position t lies in
// segment i when cu[i] <= t < cu[i+1]. cu_seqlens int32/int64, starting at 0, non-decreasing,
// padded with N (zero-length trailing segments, ignored).
torch::Tensor segment_ids(const torch::Tensor& cu_seqlens, int64_t n);

// A packed row's documents (VARLEN_ATTN): the segment of every position (the CPU mask) and the
// boundaries with the longest segment (the CUDA flash-attention varlen kernel).
struct Segments {
  torch::Tensor ids;         // (T) int64, segment_ids
  torch::Tensor cu_seqlens;  // int32 on the row's device
  int64_t max_len = 0;
  bool defined() const { return ids.defined(); }
};
Segments make_segments(const torch::Tensor& cu_seqlens, int64_t n);

// flash-attention varlen (cuda/varlen_attention.cpp, CUDA builds only) on q (N,H,D), k/v
// (N,Hkv,D): supported for CUDA bf16/fp16 tensors; the result is (N,H,D).
bool flash_varlen_supported(const torch::Tensor& q);
torch::Tensor flash_varlen_attention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, const torch::Tensor& cu_seqlens,
                                     int64_t max_len);

// Causal attention on q (B,T,H,D), k/v (B,T,Hkv,D) within `seg` when defined (B must be 1): the
// flash varlen kernel where supported, else banked_causal_attention's mask (exactly equivalent).
torch::Tensor varlen_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const Segments& seg);

// Causal attention with scale 1/sqrt(D) on q (B,T,H,D), k/v (B,T,Hkv,D), query head h reading KV
// head h / (H/Hkv). `segments` (T) int64 (defined: B must be 1): attention only within a segment.
// Returns (B,T,H,D).
torch::Tensor banked_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& segments);

// The record's _build_cu_seqlens: documents start at `bos` positions (0 added when absent), each
// cut into pieces of at most max_doc_len (0: no cut); boundaries padded with total_len to a
// multiple of bucket. Returns cu_seqlens int32 and the longest piece.
std::pair<torch::Tensor, int64_t> build_cu_seqlens(std::vector<int64_t> bos, int64_t total_len,
                                                   int64_t max_doc_len, int64_t bucket);

class BankedAttentionImpl : public torch::nn::Module {
 public:
  explicit BankedAttentionImpl(const BankedAttentionOptions& opts);
  // x (B,T,dim) the normed block input; q_w (dim,dim), k_w/v_w (Hkv*D,dim), out_w (dim,dim);
  // cos/sin (1,T,1,r/2); `segments` as banked_causal_attention; `hook`: TTT adapters.
  // Returns (B,T,dim).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& q_w, const torch::Tensor& k_w,
                        const torch::Tensor& v_w, const torch::Tensor& out_w,
                        const torch::Tensor& cos, const torch::Tensor& sin,
                        const Segments& segments, const AdapterHook& hook = {});
  const BankedAttentionOptions& options() const { return opts_; }

  torch::Tensor q_gain;        // (H)
  torch::Tensor attn_gate_w;   // (H, dim) dense or (H, gate_window) sparse
  CastedLinear attn_gate_proj{nullptr};  // (H, gate_window), output gate

 private:
  torch::Tensor head_gate(const torch::Tensor& x, const torch::Tensor& q_raw);  // (B,T,H) or {}
  BankedAttentionOptions opts_;
  int64_t head_dim_;
};
TORCH_MODULE(BankedAttention);

}  // namespace pgolf::model
