// Cross-field validation: every violation is listed, then reported at once (exit code 2). Choice
// knobs are enums the parser already checked (choices.h); only their combinations are checked here.
#include <algorithm>
#include <utility>
#include <string>
#include <vector>

#include "pgolf/config/names.h"
#include "pgolf/config/resolve.h"
#include "pgolf/core/error.h"

namespace pgolf::config {
namespace {

#define PGOLF_REQUIRE(cond, text) \
  do {                            \
    if (!(cond)) errs.push_back(text); \
  } while (0)

void check_banked(const ModelConfig& m, std::vector<std::string>& errs);

// VE_ENABLED, VE_DIM, VE_LAYERS and ROPE_TRAIN_SEQ_LEN (the PR #180 GPT's March-record knobs).
void check_value_embeddings(const ModelConfig& m, std::vector<std::string>& errs) {
  const auto s = [](auto v) { return std::to_string(v); };
  PGOLF_REQUIRE(m.rope_train_seq_len >= 0,
                "rope_train_seq_len: expected >= 0 (0 off), found " + s(m.rope_train_seq_len));
  if (!m.ve_enabled) return;
  PGOLF_REQUIRE(m.ve_dim >= 1, "ve_dim: expected >= 1, found " + s(m.ve_dim));
  try {
    const auto layers = parse_layer_list("ve_layers", m.ve_layers, m.num_layers);
    PGOLF_REQUIRE(!layers.empty(),
                  "ve_layers: expected at least one layer index with ve_enabled=1, found '" +
                      m.ve_layers + "'");
  } catch (const Error& e) {
    errs.push_back(e.what());
  }
}

void check_frontier_quant(const QuantConfig& q, std::vector<std::string>& errs) {
  const auto s = [](auto v) { return std::to_string(v); };
  for (const auto& [key, bits] : {std::pair<const char*, int64_t>{"matrix_bits", q.matrix_bits},
                                  {"embed_bits", q.embed_bits},
                                  {"lqer_factor_bits", q.lqer_factor_bits}})
    PGOLF_REQUIRE(bits >= 2 && bits <= 8,
                  std::string(key) + ": expected 2..8 (int8 codes), found " + s(bits));
  for (const auto& [key, k] : {std::pair<const char*, double>{"matrix_clip_sigmas",
                                                              q.matrix_clip_sigmas},
                               {"attn_clip_sigmas", q.attn_clip_sigmas},
                               {"mlp_clip_sigmas", q.mlp_clip_sigmas},
                               {"embed_clip_sigmas", q.embed_clip_sigmas}})
    PGOLF_REQUIRE(k > 0, std::string(key) + ": expected > 0, found " + s(k));
  PGOLF_REQUIRE(q.hessian_clip_lambda >= 0,
                "hessian_clip_lambda: expected >= 0, found " + s(q.hessian_clip_lambda));
  PGOLF_REQUIRE(q.lqer_rank >= 1, "lqer_rank: expected >= 1, found " + s(q.lqer_rank));
  PGOLF_REQUIRE(q.lqer_top_k >= 1, "lqer_top_k: expected >= 1, found " + s(q.lqer_top_k));
  PGOLF_REQUIRE(q.lqer_asym_group >= 1,
                "lqer_asym_group: expected >= 1, found " + s(q.lqer_asym_group));
  PGOLF_REQUIRE(q.gptq_calibration_batches >= 1,
                "gptq_calibration_batches: expected >= 1, found " + s(q.gptq_calibration_batches));
  PGOLF_REQUIRE(q.gptq_calib_samples >= 1,
                "gptq_calib_samples: expected >= 1, found " + s(q.gptq_calib_samples));
  PGOLF_REQUIRE(q.gptq_batch_size >= 1,
                "gptq_batch_size: expected >= 1, found " + s(q.gptq_batch_size));
  PGOLF_REQUIRE(q.gptq_temperature > 0,
                "gptq_temperature: expected > 0, found " + s(q.gptq_temperature));
  PGOLF_REQUIRE(q.target_mb >= 0, "target_mb: expected >= 0 (0 off), found " + s(q.target_mb));
  PGOLF_REQUIRE(q.target_mb == 0 || q.quant_scheme == QuantScheme::kGptq,
                std::string("target_mb needs quant_scheme=gptq (it prunes GPTQ codes), found '") +
                    choice_name(q.quant_scheme) + "'");
  PGOLF_REQUIRE(!q.lqer_enabled || q.quant_scheme == QuantScheme::kGptq,
                std::string("lqer_enabled needs quant_scheme=gptq (it corrects GPTQ's error), "
                            "found '") + choice_name(q.quant_scheme) + "'");
}

void check_model(const ModelConfig& m, std::vector<std::string>& errs) {
  const auto s = [](auto v) { return std::to_string(v); };
  PGOLF_REQUIRE(m.vocab_size > 0 && m.vocab_size <= 65536,
                "vocab_size: expected 1..65536 (tokens are uint16), found " + s(m.vocab_size));
  PGOLF_REQUIRE(m.num_layers >= 1, "num_layers: expected >= 1, found " + s(m.num_layers));
  PGOLF_REQUIRE(m.model_dim >= 1, "model_dim: expected >= 1, found " + s(m.model_dim));
  PGOLF_REQUIRE(m.tied_embed_init_std >= 0,
                "tied_embed_init_std: expected >= 0, found " + s(m.tied_embed_init_std));
  PGOLF_REQUIRE(m.num_heads >= 1, "num_heads: expected >= 1, found " + s(m.num_heads));
  PGOLF_REQUIRE(m.num_kv_heads >= 1, "num_kv_heads: expected >= 1, found " + s(m.num_kv_heads));
  if (m.num_heads >= 1) {
    PGOLF_REQUIRE(m.model_dim % m.num_heads == 0,
                  "model_dim " + s(m.model_dim) + " is not divisible by num_heads " + s(m.num_heads));
    if (m.model_dim % m.num_heads == 0)
      PGOLF_REQUIRE((m.model_dim / m.num_heads) % 2 == 0,
                    "head_dim = model_dim/num_heads = " + s(m.model_dim / m.num_heads) +
                        " must be even for RoPE");
  }
  if (m.num_kv_heads >= 1)
    PGOLF_REQUIRE(m.num_heads % m.num_kv_heads == 0, "num_heads " + s(m.num_heads) +
                                                         " is not divisible by num_kv_heads " +
                                                         s(m.num_kv_heads));
  PGOLF_REQUIRE(m.mlp_mult > 0, "mlp_mult: expected > 0, found " + s(m.mlp_mult));
  PGOLF_REQUIRE(m.logit_softcap > 0, "logit_softcap: expected > 0, found " + s(m.logit_softcap));
  PGOLF_REQUIRE(m.rope_base > 0, "rope_base: expected > 0, found " + s(m.rope_base));
  PGOLF_REQUIRE(m.bigram_vocab_size == 0 || m.bigram_vocab_size >= 2,
                "bigram_vocab_size: expected 0 (off) or >= 2, found " + s(m.bigram_vocab_size));
  PGOLF_REQUIRE(m.bigram_dim >= 1, "bigram_dim: expected >= 1, found " + s(m.bigram_dim));
  PGOLF_REQUIRE(m.ortho_init || m.ortho_init_gain == OrthoInitGain::kOne,
                std::string("ortho_init_gain=") + choice_name(m.ortho_init_gain) +
                    " needs ortho_init=1");
  if (m.attention == Attention::kMla)
    PGOLF_REQUIRE(m.kv_rank >= 1, "kv_rank: expected >= 1 with attention=mla, found " +
                                      s(m.kv_rank));
  check_banked(m, errs);
}

// The banked GPT's knobs (model/gpt_banked.h): ranges, and that nothing else uses them.
void check_banked(const ModelConfig& m, std::vector<std::string>& errs) {
  const auto s = [](auto v) { return std::to_string(v); };
  const bool any = m.skip_gates_enabled || m.num_loops != 0 || m.parallel_start_layer != 0 ||
                   m.smear_gate_enabled || m.attn_out_gate_enabled || m.gated_attn_enabled ||
                   m.sparse_attn_gate_enabled || m.parallel_residual_start >= 0 ||
                   m.parallel_lanes != ParallelLanes::kRouted;
  const int64_t head_dim = m.num_heads >= 1 ? m.model_dim / m.num_heads : 0;
  // Both GPTs: XSA, partial RoPE and LN scale (model/frontier_ops.h).
  PGOLF_REQUIRE(m.rope_dims >= 0 && m.rope_dims <= head_dim && m.rope_dims % 2 == 0,
                "rope_dims: expected an even number in 0..head_dim (" + s(head_dim) +
                    "), found " + s(m.rope_dims));
  PGOLF_REQUIRE(m.xsa_last_n >= 0 && m.xsa_last_n <= m.num_layers,
                "xsa_last_n: expected 0..num_layers (" + s(m.num_layers) + "), found " +
                    s(m.xsa_last_n));
  PGOLF_REQUIRE(!m.record_banks || (!m.param_banks && m.attention == Attention::kGqa &&
                                     !m.gated_mlp),
                "record_banks: the 1.1122 record's banks of the PR #180 GPT need param_banks=0, "
                "attention=gqa, gated_mlp=0");
  if (!m.param_banks) {
    PGOLF_REQUIRE(!any, "skip_gates_enabled, num_loops, "
                        "parallel_start_layer, parallel_lanes, parallel_residual_start, "
                        "smear_gate_enabled and the "
                        "attention gates need "
                        "param_banks=1 (the 1.0611 record's GPT)");
    check_value_embeddings(m, errs);
    return;
  }
  PGOLF_REQUIRE(!m.ve_enabled && m.rope_train_seq_len == 0,
                "ve_enabled and rope_train_seq_len are the PR #180 GPT's (the March records): set "
                "them off with param_banks=1");
  PGOLF_REQUIRE(m.bigram_vocab_size == 0, "param_banks=1: bigram_vocab_size must be 0");
  PGOLF_REQUIRE(!m.smear_gate, "param_banks=1: set smear_gate=0 (use smear_gate_enabled)");
  PGOLF_REQUIRE(m.activation == Activation::kLeakyRelu2,
                "param_banks=1: activation must be leaky_relu2");
  PGOLF_REQUIRE(m.unet_skips && !m.gated_mlp && m.attention == Attention::kGqa,
                "param_banks=1: needs unet_skips=1, gated_mlp=0, attention=gqa");
  PGOLF_REQUIRE(m.num_loops >= 0, "num_loops: expected >= 0, found " + s(m.num_loops));
  if (m.num_loops > 0)
    PGOLF_REQUIRE(0 <= m.loop_start && m.loop_start <= m.loop_end && m.loop_end < m.num_layers,
                  "loop_start..loop_end: expected 0 <= start <= end < num_layers, found " +
                      s(m.loop_start) + ".." + s(m.loop_end));
  PGOLF_REQUIRE(m.parallel_start_layer >= 0,
                "parallel_start_layer: expected >= 0, found " + s(m.parallel_start_layer));
  PGOLF_REQUIRE(m.parallel_residual_start >= -1 && m.parallel_residual_start < m.num_layers,
                "parallel_residual_start: expected -1 (off) or a layer 0..num_layers-1, found " +
                    s(m.parallel_residual_start));
  PGOLF_REQUIRE(m.parallel_residual_start < 0 || m.parallel_start_layer == 0,
                "parallel_residual_start (GPT-J) and parallel_start_layer (two lanes) are "
                "mutually exclusive");
  PGOLF_REQUIRE(m.parallel_lanes != ParallelLanes::kNone || m.parallel_start_layer == 0,
                "parallel_lanes=none registers no lane tensors: needs parallel_start_layer=0, "
                "found " + s(m.parallel_start_layer));
  PGOLF_REQUIRE(m.parallel_lanes != ParallelLanes::kLaneMerge ||
                    m.parallel_start_layer < m.num_layers,
                "parallel_lanes=lane_merge: parallel_start_layer must be < num_layers (" +
                    s(m.num_layers) + "), found " + s(m.parallel_start_layer));
  PGOLF_REQUIRE(m.parallel_lanes == ParallelLanes::kRouted ||
                    m.parallel_final_lane == ParallelFinalLane::kMean,
                "parallel_final_lane picks a routed lane: needs parallel_lanes=routed, found " +
                    std::string(choice_name(m.parallel_lanes)));
  const bool gates = m.smear_gate_enabled || m.attn_out_gate_enabled || m.sparse_attn_gate_enabled;
  if (gates)
    PGOLF_REQUIRE(m.gate_window >= 1 && m.gate_window <= m.model_dim,
                  "gate_window: expected 1..model_dim, found " + s(m.gate_window));
  PGOLF_REQUIRE(int(m.attn_out_gate_enabled) + int(m.gated_attn_enabled) +
                        int(m.sparse_attn_gate_enabled) <= 1,
                "attn_out_gate_enabled, gated_attn_enabled and sparse_attn_gate_enabled are "
                "mutually exclusive");
}

void check_train(const Config& c, int world, std::vector<std::string>& errs) {
  const auto s = [](auto v) { return std::to_string(v); };
  const TrainConfig& t = c.train;
  const int accum = grad_accum_steps(world);
  PGOLF_REQUIRE(accum > 0, "WORLD_SIZE " + s(world) + " must divide 8 (grad_accum_steps = 8/world)");
  PGOLF_REQUIRE(t.train_seq_len >= 1, "train_seq_len: expected >= 1, found " + s(t.train_seq_len));
  int64_t unit = 0;  // overflow-checked: a wrapped product of 0 would be a division by zero
  const bool unit_fits =
      !__builtin_mul_overflow(static_cast<int64_t>(world) * accum, t.train_seq_len, &unit);
  PGOLF_REQUIRE(unit_fits, "train_seq_len " + s(t.train_seq_len) + " is too large");
  if (accum > 0 && t.train_seq_len >= 1 && unit_fits) {
    PGOLF_REQUIRE(t.train_batch_tokens > 0 && t.train_batch_tokens % unit == 0,
                  "train_batch_tokens " + s(t.train_batch_tokens) +
                      " is not a positive multiple of world_size*grad_accum_steps*train_seq_len = " +
                      s(world) + "*" + s(accum) + "*" + s(t.train_seq_len) + " = " + s(unit));
    PGOLF_REQUIRE(t.val_batch_size / (static_cast<int64_t>(world) * accum) >= t.train_seq_len,
                  "val_batch_size " + s(t.val_batch_size) +
                      " gives less than one sequence per rank and micro-step (needs >= " +
                      s(unit) + ")");
  }
  PGOLF_REQUIRE(t.iterations >= 0, "iterations: expected >= 0, found " + s(t.iterations));
  PGOLF_REQUIRE(t.warmup_steps >= 0, "warmup_steps: expected >= 0, found " + s(t.warmup_steps));
  PGOLF_REQUIRE(t.warmdown_iters >= 0,
                "warmdown_iters: expected >= 0, found " + s(t.warmdown_iters));
  PGOLF_REQUIRE(t.swa_start_frac >= 0 && t.swa_start_frac <= 1,
                "swa_start_frac: expected in [0,1], found " + s(t.swa_start_frac));
  PGOLF_REQUIRE(t.swa_every >= 1, "swa_every: expected >= 1, found " + s(t.swa_every));
  PGOLF_REQUIRE(t.train_log_every >= 1,
                "train_log_every: expected >= 1, found " + s(t.train_log_every));
  PGOLF_REQUIRE(t.val_loss_every >= 0, "val_loss_every: expected >= 0, found " + s(t.val_loss_every));
  PGOLF_REQUIRE(t.ema_decay >= 0 && t.ema_decay < 1,
                "ema_decay: expected 0 (off) or in (0,1), found " + s(t.ema_decay));
  PGOLF_REQUIRE(t.late_qat_frac >= 0 && t.late_qat_frac <= 1,
                "late_qat_frac: expected in [0,1], found " + s(t.late_qat_frac));
  PGOLF_REQUIRE(!(t.swa_enabled && t.ema_decay > 0),
                "swa_enabled and ema_decay > 0 are both set: choose one averaging method");
  PGOLF_REQUIRE(t.checkpoint_every >= 0,
                "checkpoint_every: expected >= 0, found " + s(t.checkpoint_every));
  PGOLF_REQUIRE(t.threads >= 0, "threads: expected >= 0, found " + s(t.threads));
  PGOLF_REQUIRE(t.dist_timeout_seconds >= 1 && t.dist_timeout_seconds <= 86400,
                "dist_timeout_seconds: expected 1..86400, found " + s(t.dist_timeout_seconds));
  PGOLF_REQUIRE(t.warmdown_frac >= 0 && t.warmdown_frac <= 1,
                "warmdown_frac: expected in [0,1], found " + s(t.warmdown_frac));
  PGOLF_REQUIRE(t.min_lr >= 0 && t.min_lr <= 1, "min_lr: expected in [0,1], found " + s(t.min_lr));
  PGOLF_REQUIRE(t.gptq_reserve_seconds >= 0 &&
                    (t.max_wallclock_seconds <= 0 || t.gptq_reserve_seconds < t.max_wallclock_seconds),
                "gptq_reserve_seconds: expected >= 0 and below max_wallclock_seconds (" +
                    s(t.max_wallclock_seconds) + "), found " + s(t.gptq_reserve_seconds));
  PGOLF_REQUIRE(t.enable_looping_at >= 0 && t.enable_looping_at <= 1,
                "enable_looping_at: expected in [0,1], found " + s(t.enable_looping_at));
  PGOLF_REQUIRE(!c.model.param_banks || t.late_qat_frac == 0,
                "late_qat_frac: late QAT is not available for the banked GPT (param_banks=1)");
}

// Learning rates and decays may be 0 (a frozen group) but never negative; momenta and betas are
// averaging weights in [0,1).
void check_optim(const OptimConfig& o, std::vector<std::string>& errs) {
  const auto s = [](auto v) { return std::to_string(v); };
  const std::pair<const char*, double> non_negative[] = {
      {"embed_lr", o.embed_lr},         {"head_lr", o.head_lr},
      {"tied_embed_lr", o.tied_embed_lr}, {"matrix_lr", o.matrix_lr},
      {"scalar_lr", o.scalar_lr},       {"muon_weight_decay", o.muon_weight_decay},
      {"weight_decay", o.weight_decay}};
  for (const auto& [key, v] : non_negative)
    PGOLF_REQUIRE(v >= 0, std::string(key) + ": expected >= 0, found " + s(v));
  const std::pair<const char*, double> unit[] = {
      {"muon_momentum", o.muon_momentum}, {"muon_momentum_warmup_start", o.muon_momentum_warmup_start},
      {"beta1", o.beta1}, {"beta2", o.beta2}};
  for (const auto& [key, v] : unit)
    PGOLF_REQUIRE(v >= 0 && v < 1, std::string(key) + ": expected in [0,1), found " + s(v));
  PGOLF_REQUIRE(o.muon_momentum_warmup_steps >= 0,
                "muon_momentum_warmup_steps: expected >= 0, found " + s(o.muon_momentum_warmup_steps));
  PGOLF_REQUIRE(o.wd_taper_start_frac >= 0,
                "wd_taper_start_frac: expected >= 0 (>= 1: off), found " + s(o.wd_taper_start_frac));
  PGOLF_REQUIRE(o.wd_taper_final_mult >= 0,
                "wd_taper_final_mult: expected >= 0, found " + s(o.wd_taper_final_mult));
}

// The frontier evaluation's knobs (issue 21): the banked GPT's, and each one's own range.
void check_frontier_eval(const Config& c, std::vector<std::string>& errs) {
  const auto& e = c.eval;
  const bool frontier_ttt = e.ttt_mode != TttMode::kLora;
  PGOLF_REQUIRE(!c.model.varlen_attn || c.model.param_banks,
                "varlen_attn: needs param_banks=1 (the banked GPT takes cu_seqlens)");
  PGOLF_REQUIRE(!frontier_ttt || c.model.param_banks,
                "ttt_mode=doc_lora|chunk_sgd: needs param_banks=1 (the banked GPT)");
  PGOLF_REQUIRE(!e.phased_ttt_enabled || e.ttt_mode == TttMode::kDocLora,
                "phased_ttt_enabled: phases belong to ttt_mode=doc_lora");
  PGOLF_REQUIRE(e.ttt_lora_alpha >= 0 && e.ttt_weight_decay >= 0 && e.ttt_grad_steps >= 1 &&
                    e.ttt_freeze_blocks >= 0,
                "ttt_lora_alpha, ttt_weight_decay, ttt_freeze_blocks: expected >= 0; "
                "ttt_grad_steps >= 1");
  PGOLF_REQUIRE(e.ttt_beta1 < 1 && e.ttt_beta2 < 1, "ttt_beta1, ttt_beta2: expected < 1 (< 0: BETA1/2)");
  PGOLF_REQUIRE(e.phased_ttt_prefix_docs >= 0 && e.phased_ttt_num_phases >= 1,
                "phased_ttt_prefix_docs: expected >= 0; phased_ttt_num_phases >= 1");
  PGOLF_REQUIRE(e.global_ttt_lr >= 0 && e.global_ttt_momentum >= 0 && e.global_ttt_epochs >= 0 &&
                    e.global_ttt_chunk_tokens >= 1 && e.global_ttt_batch_seqs >= 1 &&
                    e.global_ttt_warmup_chunks >= 0 && e.global_ttt_grad_clip >= 0,
                "global_ttt_*: lr, momentum, epochs, warmup_chunks, grad_clip >= 0; chunk_tokens, "
                "batch_seqs >= 1");
}

void check_rest(const Config& c, std::vector<std::string>& errs) {
  const auto s = [](auto v) { return std::to_string(v); };
  PGOLF_REQUIRE(c.eval.eval_stride >= 0, "eval_stride: expected >= 0, found " + s(c.eval.eval_stride));
  PGOLF_REQUIRE(c.eval.eval_batch_seqs >= 1,
                "eval_batch_seqs: expected >= 1, found " + s(c.eval.eval_batch_seqs));
  PGOLF_REQUIRE(c.eval.ttt_lora_rank >= 1, "ttt_lora_rank: expected >= 1");
  PGOLF_REQUIRE(c.eval.ttt_chunk_size >= 1, "ttt_chunk_size: expected >= 1");
  PGOLF_REQUIRE(c.eval.ttt_eval_seq_len >= c.eval.ttt_chunk_size,
                "ttt_eval_seq_len " + s(c.eval.ttt_eval_seq_len) + " must be >= ttt_chunk_size " +
                    s(c.eval.ttt_chunk_size));
  PGOLF_REQUIRE(c.eval.ttt_batch_size >= 1, "ttt_batch_size: expected >= 1");
  check_frontier_eval(c, errs);
  check_frontier_quant(c.quant, errs);
  PGOLF_REQUIRE(c.quant.intn_clip_quantile > 0 && c.quant.intn_clip_quantile <= 1,
                "intn_clip_quantile: expected in (0,1], found " + s(c.quant.intn_clip_quantile));
  PGOLF_REQUIRE(c.quant.intn_scale_stat != IntnScaleStat::kQuantile ||
                    c.quant.intn_scale_floor == IntnScaleFloor::kInvClip,
                "intn_scale_stat=quantile floors its scales at 1/clip (PR #354): set "
                "intn_scale_floor=inv_clip");
  PGOLF_REQUIRE(c.quant.gptq_clip_search == GptqClipSearch::kSdclip ||
                    c.quant.quant_scheme == QuantScheme::kGptq,
                "gptq_clip_search=percentile5 acts only under quant_scheme=gptq; found "
                "quant_scheme=" + std::string(choice_name(c.quant.quant_scheme)));
  PGOLF_REQUIRE(c.quant.zstd_level >= 1 && c.quant.zstd_level <= 22,
                "zstd_level: expected 1..22, found " + s(c.quant.zstd_level));
  PGOLF_REQUIRE(c.quant.prune_pct >= 0 && c.quant.prune_pct < 1,
                "prune_pct: expected in [0,1), found " + s(c.quant.prune_pct));
  for (const auto& cat : split_list(c.quant.int_cats)) {
    TensorCategory parsed;
    if (!parse_choice(cat, parsed)) errs.push_back(choice_error<TensorCategory>("int_cats", cat));
  }
  PGOLF_REQUIRE(c.optim.muon_backend_steps >= 1, "muon_backend_steps: expected >= 1");
  PGOLF_REQUIRE(c.optim.grad_clip_norm >= 0, "grad_clip_norm: expected >= 0");
  PGOLF_REQUIRE(c.optim.adam_eps > 0, "adam_eps: expected > 0");
  check_optim(c.optim, errs);
  PGOLF_REQUIRE(c.eval.ttt_lora_lr >= 0, "ttt_lora_lr: expected >= 0, found " + s(c.eval.ttt_lora_lr));
  PGOLF_REQUIRE(c.quant.prune_min_numel >= 0,
                "prune_min_numel: expected >= 0, found " + s(c.quant.prune_min_numel));
  PGOLF_REQUIRE(c.quant.passthrough_max_numel >= 0,
                "passthrough_max_numel: expected >= 0, found " + s(c.quant.passthrough_max_numel));
  PGOLF_REQUIRE(c.quant.code_bytes >= -1,
                "code_bytes: expected -1 (measure) or >= 0, found " + s(c.quant.code_bytes));
}

}  // namespace

std::vector<std::string> validate(const Config& cfg, int world_size) {
  std::vector<std::string> errs;
  check_model(cfg.model, errs);
  check_train(cfg, world_size, errs);
  check_rest(cfg, errs);
  return errs;
}

void check_valid(const Config& cfg, int world_size) {
  const auto errs = validate(cfg, world_size);
  if (errs.empty()) return;
  std::string msg = std::to_string(errs.size()) + " inconsistent setting(s):";
  for (const auto& e : errs) msg += "\n  - " + e;
  throw Error(ErrorKind::kInput, msg, "fix the values above; `pgolf config --dump` shows sources");
}

std::vector<int64_t> parse_layer_list(const std::string& key, const std::string& text,
                                      int64_t num_layers) {
  std::vector<int64_t> out;
  for (const auto& item : split_list(text)) {
    int64_t layer = -1;
    PGOLF_CHECK_INPUT(parse_value(item, layer) && layer >= 0 && layer < num_layers,
                      key << ": expected comma-separated layer indices in 0.." << num_layers - 1
                          << ", found '" << item << "' in '" << text << "'");
    PGOLF_CHECK_INPUT(std::find(out.begin(), out.end(), layer) == out.end(),
                      key << ": layer " << layer << " is listed twice in '" << text << "'");
    out.push_back(layer);
  }
  return out;
}

}  // namespace pgolf::config
