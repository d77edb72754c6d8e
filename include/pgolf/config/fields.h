// The one field table: for_each_field(cfg, visitor) visits every configuration field with its
// section, leaf name and help text. It drives env parsing, CLI flags, JSON read/write, the dump and
// the uniqueness tests. Env name = upper-case leaf; flag = --leaf-with-dashes.
#pragma once

#include "pgolf/config/config.h"

namespace pgolf::config {

// visitor(const char* section, const char* name, T& field, const char* help), T in
// {int64_t, double, bool, std::string} or a choice enum (choices.h; the allowed values and their
// help come from its table, not from `help`). Works for Config and const Config.
template <class C, class V>
void for_each_field(C& c, V&& v) {
  v("data", "data_path", c.data.data_path, "shard folder");
  v("data", "train_files", c.data.train_files, "glob, relative to data_path");
  v("data", "val_files", c.data.val_files, "glob, relative to data_path");
  v("data", "tokenizer_path", c.data.tokenizer_path, "");
  v("data", "loader", c.data.loader, "the training loader");
  v("model", "vocab_size", c.model.vocab_size, "must equal the tokenizer's vocab");
  v("model", "num_layers", c.model.num_layers, "transformer blocks");
  v("model", "model_dim", c.model.model_dim, "width; divisible by num_heads");
  v("model", "num_heads", c.model.num_heads, "query heads");
  v("model", "num_kv_heads", c.model.num_kv_heads, "KV heads; divides num_heads");
  v("model", "mlp_mult", c.model.mlp_mult, "hidden = int(mlp_mult * model_dim)");
  v("model", "tie_embeddings", c.model.tie_embeddings, "tied input/output embedding");
  v("model", "rope_base", c.model.rope_base, "");
  v("model", "logit_softcap", c.model.logit_softcap, "c in c*tanh(z/c); > 0");
  v("model", "qk_gain_init", c.model.qk_gain_init, "per-head q_gain init");
  v("model", "tied_embed_init_std", c.model.tied_embed_init_std, "");
  v("model", "bigram_vocab_size", c.model.bigram_vocab_size, "hash buckets; 0 disables BigramHash");
  v("model", "bigram_dim", c.model.bigram_dim, "table width (no proj when == model_dim)");
  v("model", "bigram_hash", c.model.bigram_hash, "hash of the (previous, current) token pair");
  v("model", "smear_gate", c.model.smear_gate, "SmearGate after the embedding norm");
  v("model", "smear_bos_mask", c.model.smear_bos_mask,
    "zero the smear at BOS (later records' fix)");
  v("model", "unet_skips", c.model.unet_skips, "encoder/decoder skip connections");
  v("model", "activation", c.model.activation, "MLP activation");
  v("model", "gated_mlp", c.model.gated_mlp,
    "gated MLP proj(act(gate x) * up x), keys mlp.gate/up/proj, all in Muon (PR #354's "
    "'SmearGate MLP'); 0: proj(act(fc x))");
  v("model", "attention", c.model.attention, "key/value path");
  v("model", "kv_rank", c.model.kv_rank, "MLA latent width (ATTENTION=mla only)");
  v("model", "mla_latent_norm", c.model.mla_latent_norm,
    "RMSNorm on the MLA latent (pgolf's formulation); 0: raw latent as PR #354's script");
  v("model", "ortho_init", c.model.ortho_init, "orthogonal init of big linears; 0: baseline");
  v("model", "ortho_init_gain", c.model.ortho_init_gain, "gain of the orthogonal init");
  v("model", "param_banks", c.model.param_banks,
    "the 1.0611 record's GPT: weights in banks qo_bank, kv_bank, mlp_up_bank, mlp_down_bank "
    "(its state-dict keys), LeakyReLU(0.5)^2 MLP, U-Net skips, parallel_*_lambdas; needs "
    "bigram_vocab_size=0, smear_gate=0, activation=leaky_relu2; the knobs below need it, except "
    "xsa_last_n, rope_dims, ln_scale (both GPTs) and ve_*, rope_train_seq_len (PR #180 GPT only)");
  v("model", "xsa_last_n", c.model.xsa_last_n,
    "exclusive self-attention in the last N layers: y_h -= (y_h . v^) v^ with v^ the token's own "
    "normalised KV-group value (PR #287)");
  v("model", "rope_dims", c.model.rope_dims,
    "rotary on the first N dims of each head (pairs i, i+N/2), the rest position-free; 0 = all "
    "(PR #315)");
  v("model", "ln_scale", c.model.ln_scale,
    "attention and MLP inputs (after RMSNorm) times 1/sqrt(layer+1) (PR #315)");
  v("model", "ve_enabled", c.model.ve_enabled,
    "value embeddings (PR #374's VE128): ve_shared (embed vocab x ve_dim, proj to the kv width, "
    "scale) times ve_layer_scales[i] is added to v in each of ve_layers (PR #180 GPT only)");
  v("model", "ve_dim", c.model.ve_dim, "value-embedding table width");
  v("model", "ve_layers", c.model.ve_layers,
    "layers that get the value embedding, comma-separated indices in 0..num_layers-1");
  v("model", "rope_train_seq_len", c.model.rope_train_seq_len,
    "NTK-aware RoPE: a forward of T > this tokens uses base * (T/this)^(r/(r-2)), r the rotated "
    "dims (the March records' Rotary, train_seq_len=1024); 0 off (PR #180 GPT only)");
  v("model", "record_banks", c.model.record_banks,
    "PR #180 GPT, the 1.1122 record's banked layout: final_model.pt, checkpoints' model/ tensors "
    "and the export read/write qo_bank (2L,d,d: c_q then attn.proj), kv_bank (2L,kv,d: c_k then "
    "c_v), mlp_up_bank, mlp_down_bank in the record's key order (loading takes either form); "
    "bigram.proj and ve_shared.proj keep the plain orthogonal init (no 1/sqrt(2L))");
  v("model", "skip_gates_enabled", c.model.skip_gates_enabled,
    "decoder skip x = lerp(w*skip, x, sigmoid(skip_gates)), skip_gates zero-init (PR #1218)");
  v("model", "num_loops", c.model.num_loops,
    "depth recurrence: layers loop_start..loop_end run num_loops+1 times (shared weights) when "
    "looping is active; virtual list split in half into encoder/decoder (PR #1493)");
  v("model", "loop_start", c.model.loop_start, "first looped layer");
  v("model", "loop_end", c.model.loop_end, "last looped layer (inclusive)");
  v("model", "parallel_start_layer", c.model.parallel_start_layer,
    "decoder layers >= this run as routed two-lane parallel residuals (parallel_resid_lambdas, "
    "parallel_post_lambdas); 0 off (PR #1204, #1530)");
  v("model", "parallel_final_lane", c.model.parallel_final_lane,
    "final hidden of the parallel lanes");
  v("model", "parallel_lanes", c.model.parallel_lanes,
    "the two-lane form of parallel_start_layer and the lane tensors registered");
  v("model", "smear_gate_enabled", c.model.smear_gate_enabled,
    "new SmearGate on the token embedding before its norm: x_t += smear_lambda * "
    "sigmoid(smear_gate x_t[:gate_window]) * x_{t-1}, zero at BOS (PR #1667, BOS fix #1851)");
  v("model", "gate_window", c.model.gate_window, "input dims of the smear and attention gates");
  v("model", "attn_out_gate_enabled", c.model.attn_out_gate_enabled,
    "per-head output gate y_h *= 2 sigmoid(attn_gate_proj src[:gate_window]) (PR #1667)");
  v("model", "attn_out_gate_src", c.model.attn_out_gate_src, "input of the per-head output gate");
  v("model", "gated_attn_enabled", c.model.gated_attn_enabled,
    "dense head gate y_h *= sigmoid(attn_gate_w x) (PR #1736)");
  v("model", "gated_attn_init_std", c.model.gated_attn_init_std, "attn_gate_w init std (dense)");
  v("model", "sparse_attn_gate_enabled", c.model.sparse_attn_gate_enabled,
    "head gate y_h *= sigmoid(scale * attn_gate_w x[:gate_window]) (PR #1787); the three gates "
    "are mutually exclusive");
  v("model", "sparse_attn_gate_init_std", c.model.sparse_attn_gate_init_std, "0 = zero init");
  v("model", "sparse_attn_gate_scale", c.model.sparse_attn_gate_scale, "");
  v("model", "varlen_attn", c.model.varlen_attn,
    "attention restricted to each document's causal prefix (cu_seqlens from BOS) in training, "
    "evaluation and TTT (PARAM_BANKS=1)");
  v("model", "parallel_residual_start", c.model.parallel_residual_start,
    "GPT-J parallel residual in layers >= this: x + attn_scale*attn(n(x)) + mlp_scale*mlp(n(x)), "
    "both sublayers reading the same input (PR #1412, #1493); -1 off");
  v("optim", "embed_lr", c.optim.embed_lr, "embedding lr when untied");
  v("optim", "head_lr", c.optim.head_lr, "head lr when untied");
  v("optim", "tied_embed_lr", c.optim.tied_embed_lr, "tok_emb and bigram.embed lr");
  v("optim", "matrix_lr", c.optim.matrix_lr, "Muon lr");
  v("optim", "scalar_lr", c.optim.scalar_lr, "control tensors lr");
  v("optim", "muon_momentum", c.optim.muon_momentum, "final Muon momentum");
  v("optim", "muon_backend_steps", c.optim.muon_backend_steps, "Newton-Schulz iterations");
  v("optim", "muon_momentum_warmup_start", c.optim.muon_momentum_warmup_start, "");
  v("optim", "muon_momentum_warmup_steps", c.optim.muon_momentum_warmup_steps, "");
  v("optim", "muon_weight_decay", c.optim.muon_weight_decay, "hard-coded 0.04 in the reference");
  v("optim", "muon_ns_coeffs", c.optim.muon_ns_coeffs, "Newton-Schulz coefficients");
  v("optim", "muon_form", c.optim.muon_form, "Muon update form");
  v("optim", "muon_row_normalize", c.optim.muon_row_normalize,
    "MuonEq-R: each row of the Nesterov update divided by its L2 norm before Newton-Schulz "
    "(PR #1285)");
  v("optim", "muon_ns_dtype", c.optim.muon_ns_dtype,
    "precision of Newton-Schulz and of the summed Muon update");
  v("optim", "muon_sharded", c.optim.muon_sharded,
    "Parallel Muon: reduce-scatter the matrix grads, momentum and Newton-Schulz on each rank's "
    "share, all-gather the updates");
  v("optim", "beta1", c.optim.beta1, "");
  v("optim", "beta2", c.optim.beta2, "");
  v("optim", "adam_eps", c.optim.adam_eps, "");
  v("optim", "weight_decay", c.optim.weight_decay, "AdamW decay (tok and scalar groups)");
  v("optim", "embed_wd", c.optim.embed_wd, "AdamW decay of the tok group; < 0: weight_decay");
  v("optim", "adam_wd", c.optim.adam_wd, "AdamW decay of the scalar group; < 0: weight_decay");
  v("optim", "grad_clip_norm", c.optim.grad_clip_norm, "0 disables");
  v("optim", "aux_proj_adam", c.optim.aux_proj_adam,
    "bigram.proj and ve_shared.proj in the scalar AdamW group, not Muon (the banked records' "
    "Muon steps only the banks)");
  v("optim", "wd_taper_start_frac", c.optim.wd_taper_start_frac,
    "Muon weight decay x (1 + (WD_TAPER_FINAL_MULT - 1) * progress) after this training "
    "fraction, progress linear 0..1 to the end (PR #1729); >= 1 off");
  v("optim", "wd_taper_final_mult", c.optim.wd_taper_final_mult,
    "Muon weight decay multiplier at the end of the taper (PR #1729: 0.5)");
  v("train", "seed", c.train.seed, "");
  v("train", "run_id", c.train.run_id, "run directory name (empty: generated)");
  v("train", "out_dir", c.train.out_dir, "parent folder of run directories");
  v("train", "iterations", c.train.iterations, "max steps");
  v("train", "warmdown_iters", c.train.warmdown_iters, "");
  v("train", "warmdown_frac", c.train.warmdown_frac,
    "warmdown over the last fraction of training (PR #1493 on): lr multiplier "
    "max((1 - frac) / WARMDOWN_FRAC, MIN_LR) once frac >= 1 - WARMDOWN_FRAC, frac = elapsed / "
    "(cap - GPTQ_RESERVE_SECONDS), or step / iterations without a cap; 0: WARMDOWN_ITERS");
  v("train", "min_lr", c.train.min_lr,
    "floor of the warmdown lr multiplier, in [0,1] (PR #1787: 0.1)");
  v("train", "gptq_reserve_seconds", c.train.gptq_reserve_seconds,
    "training time held back for GPTQ calibration inside the cap: training stops at "
    "max_wallclock_seconds minus this, and schedules use that shorter cap (PR #1060 on)");
  v("train", "enable_looping_at", c.train.enable_looping_at,
    "training fraction (as WARMDOWN_FRAC measures it) at which depth recurrence (num_loops) "
    "switches on; 0 = from the first step (PR #1493: 0.35)");
  v("train", "warmup_steps", c.train.warmup_steps, "warm-up steps, undone afterwards");
  v("train", "train_batch_tokens", c.train.train_batch_tokens, "global tokens per step");
  v("train", "train_seq_len", c.train.train_seq_len, "");
  v("train", "max_wallclock_seconds", c.train.max_wallclock_seconds, "<= 0 disables the cap");
  v("train", "val_loss_every", c.train.val_loss_every, "0 = only at the end");
  v("train", "train_log_every", c.train.train_log_every, "");
  v("train", "val_batch_size", c.train.val_batch_size, "tokens per global eval batch");
  v("train", "swa_enabled", c.train.swa_enabled, "");
  v("train", "swa_start_frac", c.train.swa_start_frac, "collect when lr multiplier < this");
  v("train", "swa_every", c.train.swa_every, "");
  v("train", "ema_decay", c.train.ema_decay, "> 0 enables EMA (0.997 in the 11L records)");
  v("train", "late_qat_frac", c.train.late_qat_frac, "wallclock fraction that starts QAT; 0 off");
  v("train", "checkpoint_every", c.train.checkpoint_every, "steps; 0 = only on signal/end");
  v("train", "device", c.train.device, "compute device");
  v("train", "dtype", c.train.dtype, "compute dtype policy");
  v("train", "threads", c.train.threads,
    "intra-op threads; 0 = auto: the cores not busy with other work (1-minute load average), "
    "shared by the ranks on this host, at least 1");
  v("train", "cuda_graphs", c.train.cuda_graphs, "capture the training step (CUDA only)");
  v("train", "fused_kernels", c.train.fused_kernels, "pgolf's CUDA kernels (CUDA only)");
  v("train", "dist_backend", c.train.dist_backend, "process-group backend");
  v("train", "dist_timeout_seconds", c.train.dist_timeout_seconds,
    "how long the rendezvous and any collective wait for the other ranks before failing (torch's "
    "default 600); a rank that hangs without dying holds the others this long");
  v("eval", "eval_stride", c.eval.eval_stride, "sliding stride; 0 or >= seq_len: standard");
  v("eval", "eval_batch_seqs", c.eval.eval_batch_seqs, "windows per forward");
  v("eval", "sliding_mode", c.eval.sliding_mode, "sliding-window target filter");
  v("eval", "ttt_enabled", c.eval.ttt_enabled, "TTT-LoRA eval (PR #289)");
  v("eval", "ttt_lora_rank", c.eval.ttt_lora_rank, "");
  v("eval", "ttt_lora_lr", c.eval.ttt_lora_lr, "");
  v("eval", "ttt_chunk_size", c.eval.ttt_chunk_size, "targets per score-then-update chunk");
  v("eval", "ttt_eval_seq_len", c.eval.ttt_eval_seq_len, "context window");
  v("eval", "ttt_batch_size", c.eval.ttt_batch_size, "documents per batch");
  v("eval", "ttt_mode", c.eval.ttt_mode, "test-time training recipe");
  v("eval", "ttt_lora_alpha", c.eval.ttt_lora_alpha,
    "adapter outputs scaled by alpha/rank (the 1.0634 record: 144); 0 = unscaled (PR #289)");
  v("eval", "ttt_warm_start_a", c.eval.ttt_warm_start_a,
    "doc_lora: A kept across document batches of a phase, only B zeroed");
  v("eval", "ttt_weight_decay", c.eval.ttt_weight_decay, "doc_lora adapter weight decay");
  v("eval", "ttt_beta1", c.eval.ttt_beta1, "TTT Adam beta1; < 0 = BETA1");
  v("eval", "ttt_beta2", c.eval.ttt_beta2, "TTT Adam beta2; < 0 = BETA2");
  v("eval", "ttt_grad_steps", c.eval.ttt_grad_steps, "doc_lora updates per chunk");
  v("eval", "ttt_k_lora", c.eval.ttt_k_lora, "doc_lora adapters on K");
  v("eval", "ttt_o_lora", c.eval.ttt_o_lora, "doc_lora adapters on the attention output");
  v("eval", "ttt_mlp_lora", c.eval.ttt_mlp_lora, "doc_lora adapters on the MLP output");
  v("eval", "ttt_optimizer", c.eval.ttt_optimizer, "doc_lora adapter optimiser");
  v("eval", "ttt_freeze_blocks", c.eval.ttt_freeze_blocks, "chunk_sgd: blocks 0..N-1 frozen");
  v("eval", "phased_ttt_enabled", c.eval.phased_ttt_enabled,
    "doc_lora: after each phase's prefix of documents is scored, full-model SGD on exactly those");
  v("eval", "phased_ttt_prefix_docs", c.eval.phased_ttt_prefix_docs, "");
  v("eval", "phased_ttt_num_phases", c.eval.phased_ttt_num_phases, "");
  v("eval", "global_ttt_lr", c.eval.global_ttt_lr,
    "full-model SGD (phases and chunk_sgd): peak lr of a cosine over the chunks");
  v("eval", "global_ttt_momentum", c.eval.global_ttt_momentum, "");
  v("eval", "global_ttt_epochs", c.eval.global_ttt_epochs, "");
  v("eval", "global_ttt_chunk_tokens", c.eval.global_ttt_chunk_tokens, "");
  v("eval", "global_ttt_batch_seqs", c.eval.global_ttt_batch_seqs, "");
  v("eval", "global_ttt_warmup_start_lr", c.eval.global_ttt_warmup_start_lr, "");
  v("eval", "global_ttt_warmup_chunks", c.eval.global_ttt_warmup_chunks, "");
  v("eval", "global_ttt_grad_clip", c.eval.global_ttt_grad_clip, "total-norm clip; 0 off");
  v("eval", "global_ttt_respect_doc_boundaries", c.eval.global_ttt_respect_doc_boundaries,
    "phase SGD attends within documents (cu_seqlens)");
  v("quant", "quant_scheme", c.quant.quant_scheme, "export quantisation scheme");
  v("quant", "int_cats", c.quant.int_cats, "categories quantised to int5/int6");
  v("quant", "prune_pct", c.quant.prune_pct, "magnitude-pruning quantile; 0 disables");
  v("quant", "prune_min_numel", c.quant.prune_min_numel, "prune 2-D tensors with numel > this");
  v("quant", "passthrough_max_numel", c.quant.passthrough_max_numel,
    "fp16 passthrough at or below");
  v("quant", "passthrough_dtype", c.quant.passthrough_dtype,
    "storage of float tensors at or below PASSTHROUGH_MAX_NUMEL (mixed, int6, int6_clip31, "
    "gptq_lite)");
  v("quant", "passthrough_bf16_round", c.quant.passthrough_bf16_round,
    "round FP16_KEEP_NAME_PATTERNS tensors (tok_emb) to bf16 before the fp16 cast, as the "
    "record's bf16 tables are stored: three zero low mantissa bits, a smaller artifact");
  v("quant", "control_tensor_name_patterns", c.quant.control_tensor_name_patterns,
    "substrings marking control tensors (fp32, scalar lr)");
  v("quant", "fp16_keep_name_patterns", c.quant.fp16_keep_name_patterns, "");
  v("quant", "zstd_level", c.quant.zstd_level, "");
  v("quant", "compressor", c.quant.compressor, "artifact compressor");
  v("quant", "intn_scale_floor", c.quant.intn_scale_floor,
    "floor of the row-max int5/int6 scales (mixed, int6)");
  v("quant", "intn_scale_stat", c.quant.intn_scale_stat,
    "statistic of the int5/int6 row scales (mixed, int6)");
  v("quant", "intn_clip_quantile", c.quant.intn_clip_quantile,
    "q in (0,1] of INTN_SCALE_STAT=quantile (torch.quantile, linear interpolation)");
  v("quant", "code_bytes", c.quant.code_bytes, "override code byte count; -1 = measure");
  v("quant", "matrix_bits", c.quant.matrix_bits, "GPTQ code bits of matrices (gptq), 2..8");
  v("quant", "embed_bits", c.quant.embed_bits, "GPTQ code bits of tok_emb (gptq), 2..8");
  v("quant", "matrix_clip_sigmas", c.quant.matrix_clip_sigmas,
    "SDClip: row scale = k * std(row) / (2^(bits-1) - 1); k of matrices outside the groups below");
  v("quant", "attn_clip_sigmas", c.quant.attn_clip_sigmas, "SDClip k of .attn. matrices");
  v("quant", "mlp_clip_sigmas", c.quant.mlp_clip_sigmas, "SDClip k of .mlp. matrices");
  v("quant", "embed_clip_sigmas", c.quant.embed_clip_sigmas, "SDClip k of tok_emb");
  v("quant", "hessian_clip_lambda", c.quant.hessian_clip_lambda,
    "Hessian-aware SDClip (1.0835 record): k * (1 + lambda (r - 1)) with r the row's "
    "diag(H)-weighted mean |w| over its mean; 0 off");
  v("quant", "gptq_clip_search", c.quant.gptq_clip_search,
    "GPTQ row scales (gptq): sdclip (1.0611) or percentile5 (1.1122: five row clips, least "
    "MSE; tensors outside INT_CATS int8)");
  v("quant", "gated_attn_quant_gate", c.quant.gated_attn_quant_gate,
    "attn_gate_w (32..8192 entries) as int8 rows with fp16 row-max/127 scales (gptq)");
  v("quant", "lqer_enabled", c.quant.lqer_enabled,
    "LQER (gptq): rank-r SVD of the quantisation error of the LQER_TOP_K GPTQ tensors with the "
    "largest error norm, stored as quantised factors");
  v("quant", "lqer_rank", c.quant.lqer_rank, "");
  v("quant", "lqer_top_k", c.quant.lqer_top_k, "");
  v("quant", "lqer_factor_bits", c.quant.lqer_factor_bits,
    "bits of the symmetric factors (per-row scales)");
  v("quant", "lqer_asym_enabled", c.quant.lqer_asym_enabled,
    "A as INT2 with one scale, B as INT4 in groups of LQER_ASYM_GROUP; the symmetric form where "
    "B's size does not divide by the group");
  v("quant", "lqer_asym_group", c.quant.lqer_asym_group, "");
  v("quant", "byte_shuffle", c.quant.byte_shuffle,
    "stride-2 byte shuffle with the BSHF header before brotli or lzma (the 1.0835 records)");
  v("quant", "gptq_calibration_batches", c.quant.gptq_calibration_batches,
    "gptq: training batches (TRAIN_BATCH_TOKENS / (ranks * accumulation) tokens each, random "
    "windows of the rank's shards) whose linear inputs give the Hessians; inside the cap");
  v("quant", "gptq_ar_selfgen", c.quant.gptq_ar_selfgen,
    "gptq: calibrate on GPTQ_CALIB_SAMPLES sequences sampled from the trained model (seeded by "
    "SEED, no training data, after the cap; the 1.1147 record) instead of training batches");
  v("quant", "gptq_calib_samples", c.quant.gptq_calib_samples, "AR self-generated sequences");
  v("quant", "gptq_temperature", c.quant.gptq_temperature, "AR sampling temperature");
  v("quant", "gptq_batch_size", c.quant.gptq_batch_size, "AR sequences generated together");
  v("quant", "target_mb", c.quant.target_mb,
    "gptq: zero +-1 codes in order of row scale^2 until code + artifact bytes <= TARGET_MB MiB "
    "(the 1.1147 record's selective pruning; 15.9 there); 0 off");
}

}  // namespace pgolf::config
