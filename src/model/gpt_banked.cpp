// The banked GPT of the 1.0611 record (see gpt_banked.h; its GPT._forward_hidden).
#include "pgolf/model/gpt_banked.h"

#include <algorithm>

#include "pgolf/core/error.h"
#include "pgolf/model/block.h"
#include "pgolf/model/fused.h"
#include "pgolf/model/gpt.h"
#include "pgolf/model/state_dict.h"
#include "pgolf/model/linear_tap.h"

namespace pgolf::model {

namespace F = torch::nn::functional;

VirtualLayers virtual_layers(int64_t num_layers, int64_t num_loops, int64_t loop_start,
                             int64_t loop_end) {
  VirtualLayers out;
  std::vector<int64_t> all;
  if (num_loops <= 0) {
    for (int64_t i = 0; i < num_layers; ++i) (i < num_layers / 2 ? out.encoder : out.decoder).push_back(i);
    return out;
  }
  PGOLF_CHECK_INPUT(0 <= loop_start && loop_start <= loop_end && loop_end < num_layers,
                    "loop_start..loop_end: expected 0 <= start <= end < num_layers (" << num_layers
                                                                                      << "), found "
                                                                                      << loop_start << ".." << loop_end);
  for (int64_t i = 0; i < loop_start; ++i) all.push_back(i);
  for (int64_t r = 0; r <= num_loops; ++r)
    for (int64_t i = loop_start; i <= loop_end; ++i) all.push_back(i);
  for (int64_t i = loop_end + 1; i < num_layers; ++i) all.push_back(i);
  const size_t half = all.size() / 2;
  out.encoder.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(half));
  out.decoder.assign(all.begin() + static_cast<std::ptrdiff_t>(half), all.end());
  return out;
}

torch::Tensor smear_gate_v2(const torch::Tensor& x, const torch::Tensor& ids,
                            const torch::Tensor& gate_w, const torch::Tensor& lambda) {
  const int64_t T = x.size(1), w = gate_w.size(1);
  if (T < 2) return x;
  const auto dt = x.scalar_type();
  const auto cur = x.narrow(1, 1, T - 1), prev = x.narrow(1, 0, T - 1);  // (B,T-1,dim)
  const auto g = lambda.to(dt) * torch::sigmoid(F::linear(cur.narrow(-1, 0, w), gate_w.to(dt)));
  // BOS fix (PR #1851): a document's first token never receives the previous document's last.
  const auto not_bos = (ids.narrow(1, 1, T - 1) != kBosId).to(dt).unsqueeze(-1);
  return torch::cat({x.narrow(1, 0, 1), cur + g * prev * not_bos}, 1);
}

BankedGPTImpl::BankedGPTImpl(const config::ModelConfig& cfg)
    : cfg_(cfg),
      layers_(virtual_layers(cfg.num_layers, cfg.num_loops, cfg.loop_start, cfg.loop_end)),
      rotary_(cfg.rope_dims > 0 ? cfg.rope_dims : cfg.model_dim / std::max<int64_t>(cfg.num_heads, 1),
              cfg.rope_base) {
  PGOLF_CHECK_INPUT(cfg.logit_softcap > 0, "logit_softcap must be > 0, found " << cfg.logit_softcap);
  PGOLF_CHECK_INPUT(cfg.num_layers >= 1 && cfg.num_heads >= 1 && cfg.num_kv_heads >= 1 &&
                        cfg.model_dim % cfg.num_heads == 0,
                    "banked GPT: num_layers, num_heads, num_kv_heads must be >= 1 and divide "
                    "model_dim");
  const int64_t L = cfg.num_layers, d = cfg.model_dim, hid = mlp_hidden(cfg);
  const int64_t kv = cfg.num_kv_heads * (d / cfg.num_heads);
  qo_bank = register_parameter("qo_bank", torch::empty({2 * L, d, d}));
  kv_bank = register_parameter("kv_bank", torch::empty({2 * L, kv, d}));
  mlp_up_bank = register_parameter("mlp_up_bank", torch::empty({L, hid, d}));
  mlp_down_bank = register_parameter("mlp_down_bank", torch::empty({L, d, hid}));
  const int64_t n_skip = static_cast<int64_t>(std::min(layers_.encoder.size(), layers_.decoder.size()));
  skip_weights = register_parameter("skip_weights", torch::ones({n_skip, d}));
  if (cfg.skip_gates_enabled) skip_gates = register_parameter("skip_gates", torch::zeros({n_skip, d}));
  // Routed: registered whatever PARALLEL_START_LAYER says, as in the 1.0611 record (its state
  // dict has them). lane_merge: a 0-d scalar, only with lanes on, as in PR #1477 / #1334.
  if (cfg.parallel_lanes == config::ParallelLanes::kRouted) {
    parallel_post_lambdas = register_parameter("parallel_post_lambdas", torch::ones({L, 2, 2}));
    parallel_resid_lambdas = register_parameter("parallel_resid_lambdas", torch::full({L, 2}, 1.1));
  } else if (cfg.parallel_lanes == config::ParallelLanes::kLaneMerge && cfg.parallel_start_layer > 0) {
    lane_merge = register_parameter("lane_merge", torch::full({}, 0.5));
  }
  if (cfg.smear_gate_enabled) smear_lambda = register_parameter("smear_lambda", torch::zeros({1}));
  tok_emb = register_module("tok_emb", torch::nn::Embedding(cfg.vocab_size, d));
  BankedAttentionOptions a;
  a.dim = d;
  a.num_heads = cfg.num_heads;
  a.num_kv_heads = cfg.num_kv_heads;
  a.qk_gain_init = cfg.qk_gain_init;
  a.rope_dims = cfg.rope_dims;
  a.gate_window = cfg.gate_window;
  a.attn_out_gate = cfg.attn_out_gate_enabled;
  a.attn_out_gate_src_q = cfg.attn_out_gate_src == config::AttnOutGateSrc::kQ;
  a.gated_attn = cfg.gated_attn_enabled;
  a.gated_attn_init_std = cfg.gated_attn_init_std;
  a.sparse_attn_gate = cfg.sparse_attn_gate_enabled;
  a.sparse_attn_gate_init_std = cfg.sparse_attn_gate_init_std;
  a.sparse_attn_gate_scale = cfg.sparse_attn_gate_scale;
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < L; ++i) {
    a.xsa = i >= L - cfg.xsa_last_n;
    block_list_.push_back(BankedBlock(a, i, cfg.ln_scale));
    const int64_t gptj_from = cfg.parallel_residual_start;  // -1: off
    block_list_.back()->set_gptj(gptj_from >= 0 && i >= gptj_from);
    blocks->push_back(block_list_.back());
  }
  if (!cfg.tie_embeddings)
    lm_head = register_module("lm_head", CastedLinear(d, cfg.vocab_size, /*zero_init=*/true));
  if (cfg.smear_gate_enabled)
    smear_gate = register_module("smear_gate", CastedLinear(cfg.gate_window, 1, /*zero_init=*/true));
  init_weights();
}

void BankedGPTImpl::init_weights() {
  torch::NoGradGuard no_grad;
  namespace I = torch::nn::init;
  if (cfg_.tie_embeddings) I::normal_(tok_emb->weight, 0.0, cfg_.tied_embed_init_std);
  const int64_t n = cfg_.num_layers;
  for (int64_t i = 0; i < n; ++i) {
    I::orthogonal_(qo_bank[i]);
    qo_bank[n + i].zero_();  // out projections
    I::orthogonal_(kv_bank[i]);
    I::orthogonal_(kv_bank[n + i]);
  }
  for (int64_t i = 0; i < n; ++i) {
    I::orthogonal_(mlp_up_bank[i]);
    mlp_down_bank[i].zero_();
  }
  for (const auto& m : modules(/*include_self=*/false))
    if (auto lin = std::dynamic_pointer_cast<CastedLinearImpl>(m); lin && lin->zero_init())
      lin->weight.zero_();  // lm_head, smear_gate, attn_gate_proj
}

LayerWeights BankedGPTImpl::weights(int64_t i) const {
  const int64_t n = cfg_.num_layers;
  return {qo_bank[i], kv_bank[i], kv_bank[n + i], qo_bank[n + i], mlp_up_bank[i], mlp_down_bank[i]};
}

torch::Tensor BankedGPTImpl::skip_into(const torch::Tensor& x, const torch::Tensor& skip,
                                       size_t idx) const {
  const auto i = static_cast<int64_t>(idx);
  const auto scaled = skip_weights[i].to(x.scalar_type()).view({1, 1, -1}) * skip;
  if (!skip_gates.defined()) return x + scaled;
  const auto g = torch::sigmoid(skip_gates[i].to(x.scalar_type())).view({1, 1, -1});
  return torch::lerp(scaled, x, g);  // scaled + g * (x - scaled)
}

torch::Tensor BankedGPTImpl::decoder(torch::Tensor x, const torch::Tensor& x0,
                                     std::vector<torch::Tensor> skips,
                                     const std::vector<int64_t>& order, const BankedContext& ctx) {
  const int64_t psl = cfg_.parallel_start_layer;
  const size_t n_skip = static_cast<size_t>(skip_weights.size(0));
  torch::Tensor lane0, lane1;
  BankedContext c = ctx;  // c.hook.slot: the virtual layer slot of each call
  for (size_t idx = 0; idx < order.size(); ++idx) {
    const int64_t i = order[idx];
    c.hook.slot = ctx.hook.slot + static_cast<int64_t>(idx);
    const bool take_skip = idx < n_skip && !skips.empty();
    if (psl > 0 && i >= psl) {
      // Routed (1.0611): split, then the skip enters lane 0. lane_merge (PR #1477): the first
      // parallel layer's skip enters x before the split (both lanes), later ones lane 0.
      const bool merge = lane_merge.defined(), split_now = !lane0.defined();
      if (split_now && merge && take_skip) x = skip_into(x, skips.back(), idx);
      if (split_now) lane0 = lane1 = x;
      if (take_skip && !(split_now && merge)) lane0 = skip_into(lane0, skips.back(), idx);
      auto& block = block_list_[static_cast<size_t>(i)];
      std::tie(lane0, lane1) =
          merge ? block->forward_lanes(lane0, lane1, x0, weights(i), c)
                : block->forward_parallel(lane0, lane1, x0, weights(i), c,
                                          parallel_resid_lambdas[i], parallel_post_lambdas[i]);
    } else {
      if (take_skip) x = skip_into(x, skips.back(), idx);
      x = block_list_[static_cast<size_t>(i)](x, x0, weights(i), c);
      if (trace_) trace_->block_calls.emplace_back(i, x.detach());
    }
    if (take_skip) skips.pop_back();
  }
  if (!lane0.defined()) return x;
  if (lane_merge.defined()) {
    const auto m = lane_merge.to(lane0.scalar_type());
    return m * lane0 + (1.0 - m) * lane1;
  }
  if (cfg_.parallel_final_lane == config::ParallelFinalLane::kAttn) return lane0;
  if (cfg_.parallel_final_lane == config::ParallelFinalLane::kMlp) return lane1;
  return 0.5 * (lane0 + lane1);
}

torch::Tensor BankedGPTImpl::hidden(const torch::Tensor& ids, const torch::Tensor& cu_seqlens,
                                    const BankedAdapters* adapters) {
  PGOLF_CHECK(ids.dim() == 2 && ids.size(1) >= 1 && ids.scalar_type() == torch::kInt64,
              "GPT: expected int64 ids of shape (B,T), found " << ids.scalar_type() << " "
                                                                << ids.sizes());
  const int64_t T = ids.size(1);
  auto x = torch::embedding(tok_emb->weight, ids);  // (B,T,dim)
  if (smear_gate) x = smear_gate_v2(x, ids, smear_gate->weight, smear_lambda);
  x = fused::rms_norm(x);
  const auto x0 = x;
  BankedContext ctx;
  auto [cos, sin] = rotary_.tables(T, x.device(), torch::kFloat32, /*faithful=*/false);
  ctx.cos = cos.view({1, T, 1, -1});  // positions along the whole (packed) row, as the record
  ctx.sin = sin.view({1, T, 1, -1});
  if (cu_seqlens.defined()) ctx.segments = make_segments(cu_seqlens, T);
  ctx.hook.adapters = adapters;
  const int64_t half = cfg_.num_layers / 2;
  std::vector<int64_t> enc = layers_.encoder, dec = layers_.decoder;
  if (!looping_) {
    enc.clear();
    dec.clear();
    for (int64_t i = 0; i < cfg_.num_layers; ++i) (i < half ? enc : dec).push_back(i);
  }
  std::vector<torch::Tensor> skips;
  for (const int64_t i : enc) {
    x = block_list_[static_cast<size_t>(i)](x, x0, weights(i), ctx);
    if (trace_) trace_->block_calls.emplace_back(i, x.detach());
    skips.push_back(x);
    ++ctx.hook.slot;
  }
  x = decoder(x, x0, std::move(skips), dec, ctx);
  const auto out = fused::rms_norm(x);  // final_norm
  if (trace_) {
    trace_->final_norm_in = x.detach();
    trace_->final_norm_out = out.detach();
  }
  return out;
}

torch::Tensor BankedGPTImpl::head_logits(const torch::Tensor& ids, const torch::Tensor& cu_seqlens,
                                         const BankedAdapters* adapters) {
  const auto h = hidden(ids, cu_seqlens, adapters);
  if (adapters != nullptr) return head_logits_of(h) + adapters->head_delta(h);
  return head_logits_of(h);
}

torch::Tensor BankedGPTImpl::head_logits_of(const torch::Tensor& h) {
  if (lm_head) return lm_head(h);
  // Tied: the final norm's output is tok_emb's input as the head (the record's final_norm hook).
  if (auto* tap = linear_tap()) tap->add({"tok_emb.weight"}, h);
  return F::linear(h, tok_emb->weight.to(h.scalar_type()));
}

torch::Tensor BankedGPTImpl::forward_logits(const torch::Tensor& ids, const torch::Tensor& cu_seqlens,
                                            const BankedAdapters* adapters) {
  const double cap = cfg_.logit_softcap;
  return cap * torch::tanh(head_logits(ids, cu_seqlens, adapters) / cap);
}

torch::Tensor BankedGPTImpl::forward(const torch::Tensor& ids, const torch::Tensor& targets,
                                     const torch::Tensor& cu_seqlens) {
  PGOLF_CHECK(targets.sizes() == ids.sizes(), "GPT: targets " << targets.sizes()
                                                              << " do not match ids " << ids.sizes());
  return fused::softcap_cross_entropy(head_logits(ids, cu_seqlens, nullptr), targets,
                                      cfg_.logit_softcap,
                                      /*mean=*/true);
}

core::NamedTensors BankedGPTImpl::state_dict() const { return named_state(*this); }

void BankedGPTImpl::load_state_dict(const core::NamedTensors& tensors, bool strict) {
  load_named_state(*this, tensors, strict);
}

}  // namespace pgolf::model
