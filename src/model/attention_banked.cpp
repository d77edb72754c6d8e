// Attention of the banked GPT (see attention_banked.h; the 1.0611 record's CausalSelfAttention).
#include "pgolf/model/attention_banked.h"

#include <algorithm>
#include <cmath>

#include "pgolf/core/error.h"
#include "pgolf/model/compat.h"
#include "pgolf/model/fused.h"
#include "pgolf/model/fused_rotary.h"
#include "pgolf/model/linear_tap.h"

namespace pgolf::model {

namespace F = torch::nn::functional;

torch::Tensor segment_ids(const torch::Tensor& cu_seqlens, int64_t n) {
  PGOLF_CHECK(cu_seqlens.dim() == 1 && cu_seqlens.numel() >= 2,
              "cu_seqlens: expected a 1-D tensor of >= 2 boundaries, found " << cu_seqlens.sizes());
  const auto cu = cu_seqlens.to(torch::kInt64).cpu();
  PGOLF_CHECK(cu[0].item<int64_t>() == 0 && cu.max().item<int64_t>() == n &&
                  (cu.diff() >= 0).all().item<bool>(),
              "cu_seqlens: expected 0 .. " << n << " non-decreasing, found " << cu);
  const auto pos = torch::arange(n, torch::kInt64);
  // Last boundary <= t; padded boundaries equal n, so no position reaches them.
  return (torch::searchsorted(cu, pos, /*out_int32=*/false, /*right=*/true) - 1)
      .to(cu_seqlens.device());
}

torch::Tensor banked_causal_attention(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v, const torch::Tensor& segments) {
  auto qh = q.transpose(1, 2), kh = k.transpose(1, 2), vh = v.transpose(1, 2);  // (B,H*,T,D)
  if (!segments.defined()) return compat::causal_attention(qh, kh, vh).transpose(1, 2);
  const int64_t T = q.size(1);
  PGOLF_CHECK(q.size(0) == 1 && segments.numel() == T,
              "varlen attention: expected one packed row and " << T << " segment ids, found "
                                                               << q.sizes() << ", " << segments.sizes());
  const int64_t rep = q.size(2) / k.size(2);
  if (rep > 1) {
    kh = kh.repeat_interleave(rep, /*dim=*/1);
    vh = vh.repeat_interleave(rep, /*dim=*/1);
  }
  const auto seg = segments.to(q.device());
  const auto same = seg.unsqueeze(1) == seg.unsqueeze(0);  // (T,T)
  const auto causal = torch::ones({T, T}, torch::dtype(torch::kBool).device(q.device())).tril();
  const auto allowed = same.logical_and(causal);  // true = attend
  return at::scaled_dot_product_attention(qh, kh, vh, allowed, /*dropout_p=*/0.0,
                                          /*is_causal=*/false)
      .transpose(1, 2);
}

Segments make_segments(const torch::Tensor& cu_seqlens, int64_t n) {
  Segments s;
  s.ids = segment_ids(cu_seqlens, n);
  const auto cu = cu_seqlens.to(torch::kCPU, torch::kInt64);
  s.max_len = cu.diff().max().item<int64_t>();
  s.cu_seqlens = cu_seqlens.to(torch::kInt32);
  return s;
}

torch::Tensor varlen_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const Segments& seg) {
  if (!seg.defined() || !flash_varlen_supported(q)) return banked_causal_attention(q, k, v, seg.ids);
  PGOLF_CHECK(q.size(0) == 1, "varlen attention: expected one packed row, found " << q.sizes());
  return flash_varlen_attention(q[0], k[0], v[0], seg.cu_seqlens, seg.max_len).unsqueeze(0);
}

#ifndef PGOLF_WITH_CUDA
// Builds without the CUDA sources: never supported, so varlen_attention always masks.
bool flash_varlen_supported(const torch::Tensor&) { return false; }
torch::Tensor flash_varlen_attention(const torch::Tensor&, const torch::Tensor&,
                                     const torch::Tensor&, const torch::Tensor&, int64_t) {
  PGOLF_FAIL("flash varlen attention: this build has no CUDA sources");
}
#endif

std::pair<torch::Tensor, int64_t> build_cu_seqlens(std::vector<int64_t> bos, int64_t total_len,
                                                   int64_t max_doc_len, int64_t bucket) {
  PGOLF_CHECK(total_len >= 1 && bucket >= 1, "build_cu_seqlens: total_len " << total_len
                                                                           << ", bucket " << bucket);
  if (bos.empty() || bos.front() != 0) bos.insert(bos.begin(), 0);
  bos.push_back(total_len);
  std::vector<int64_t> starts;
  for (size_t i = 0; i + 1 < bos.size(); ++i) {
    PGOLF_CHECK(bos[i] < bos[i + 1], "build_cu_seqlens: BOS positions must increase below "
                                         << total_len);
    for (int64_t p = bos[i]; p < bos[i + 1]; p += (max_doc_len > 0 ? max_doc_len : total_len))
      starts.push_back(p);
  }
  int64_t longest = 0;
  for (size_t i = 0; i < starts.size(); ++i)
    longest = std::max(longest, (i + 1 < starts.size() ? starts[i + 1] : total_len) - starts[i]);
  const int64_t n = static_cast<int64_t>(starts.size()) + 1;
  const int64_t padded = (n + bucket - 1) / bucket * bucket;
  auto cu = torch::full({padded}, total_len, torch::kInt32);
  for (size_t i = 0; i < starts.size(); ++i) cu[static_cast<int64_t>(i)] = starts[i];
  return {cu, longest};
}

BankedAttentionImpl::BankedAttentionImpl(const BankedAttentionOptions& opts) : opts_(opts) {
  PGOLF_CHECK(opts.dim % opts.num_heads == 0 && opts.num_heads % opts.num_kv_heads == 0,
              "attention: dim " << opts.dim << ", heads " << opts.num_heads << ", kv heads "
                                << opts.num_kv_heads << " do not divide evenly");
  PGOLF_CHECK(int(opts.attn_out_gate) + int(opts.gated_attn) + int(opts.sparse_attn_gate) <= 1,
              "attention: the output gate, dense and sparse gates are mutually exclusive");
  head_dim_ = opts.dim / opts.num_heads;
  q_gain = register_parameter("q_gain", torch::full({opts.num_heads}, opts.qk_gain_init));
  torch::NoGradGuard no_grad;
  if (opts.attn_out_gate)
    attn_gate_proj = register_module(
        "attn_gate_proj", CastedLinear(opts.gate_window, opts.num_heads, /*zero_init=*/true));
  if (opts.gated_attn)
    attn_gate_w = register_parameter(
        "attn_gate_w", torch::empty({opts.num_heads, opts.dim}).normal_(0.0, opts.gated_attn_init_std));
  if (opts.sparse_attn_gate) {
    auto w = torch::zeros({opts.num_heads, opts.gate_window});
    if (opts.sparse_attn_gate_init_std > 0) w.normal_(0.0, opts.sparse_attn_gate_init_std);
    attn_gate_w = register_parameter("attn_gate_w", w);
  }
}

torch::Tensor BankedAttentionImpl::head_gate(const torch::Tensor& x, const torch::Tensor& q_raw) {
  const int64_t w = opts_.gate_window;
  if (opts_.attn_out_gate) {
    const auto& src = opts_.attn_out_gate_src_q ? q_raw : x;
    return 2.0 * torch::sigmoid(attn_gate_proj(src.narrow(-1, 0, w)));  // identity at zero init
  }
  if (opts_.gated_attn) return torch::sigmoid(F::linear(x, attn_gate_w.to(x.scalar_type())));
  if (opts_.sparse_attn_gate)
    return torch::sigmoid(opts_.sparse_attn_gate_scale *
                          F::linear(x.narrow(-1, 0, w), attn_gate_w.to(x.scalar_type())));
  return {};
}

torch::Tensor BankedAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& q_w,
                                           const torch::Tensor& k_w, const torch::Tensor& v_w,
                                           const torch::Tensor& out_w, const torch::Tensor& cos,
                                           const torch::Tensor& sin,
                                           const Segments& segments,
                                           const AdapterHook& hook) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = opts_.num_heads, Hkv = opts_.num_kv_heads, D = head_dim_;
  const auto dt = x.scalar_type();
  if (auto* tap = linear_tap())  // c_q, c_k and c_v read the same input (the record's attn hook)
    tap->add({layer_weight_name(opts_.layer, "attn.c_q.weight"),
              layer_weight_name(opts_.layer, "attn.c_k.weight"),
              layer_weight_name(opts_.layer, "attn.c_v.weight")},
             x);
  using S = AdapterSite;  // TTT adapters (none unless the hook holds some)
  const auto q_raw = hook.add(S::kQ, F::linear(x, q_w.to(dt)), x);  // (B,T,H*D)
  auto q = q_raw.reshape({B, T, H, D});
  auto k = hook.add(S::kK, F::linear(x, k_w.to(dt)), x).reshape({B, T, Hkv, D});
  const auto v = hook.add(S::kV, F::linear(x, v_w.to(dt)), x).reshape({B, T, Hkv, D});
  q = fused::rms_norm(q);
  k = fused::rms_norm(k);
  // fused::partial_rotary: the CUDA kernel under FUSED_KERNELS=1, else model::partial_rotary.
  q = fused::partial_rotary(q, cos.to(dt), sin.to(dt), opts_.rope_dims);
  k = fused::partial_rotary(k, cos.to(dt), sin.to(dt), opts_.rope_dims);
  q = q * q_gain.to(dt).view({1, 1, H, 1});
  auto y = varlen_attention(q, k, v, segments);                    // (B,T,H,D)
  if (opts_.xsa) y = exclusive_self_attention(y, v);
  const auto g = head_gate(x, q_raw);                              // (B,T,H)
  if (g.defined()) y = y * g.unsqueeze(-1);
  const auto y_flat = y.reshape({B, T, H * D});
  if (auto* tap = linear_tap())  // attn.proj's input (the record's _last_proj_input)
    tap->add({layer_weight_name(opts_.layer, "attn.proj.weight")}, y_flat);
  return hook.add(S::kOut, F::linear(y_flat, out_w.to(dt)), x);
}

}  // namespace pgolf::model
