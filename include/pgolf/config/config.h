// Typed configuration. Defaults equal the primary record's Hyperparameters (PR #180,
// reference-spec §10.1). Every field has one leaf name used everywhere: struct field `num_kv_heads`,
// JSON `{"model": {"num_kv_heads": 4}}` (or flat `{"num_kv_heads": 4}`), env `NUM_KV_HEADS`, flag
// `--num-kv-heads`. The single field table lives in fields.h. Choice knobs are enums with one table
// of names each (choices.h), parsed at the configuration boundary.
#pragma once

#include <cstdint>
#include <string>

#include "pgolf/config/choices.h"

namespace pgolf::config {

struct DataConfig {
  std::string data_path = "./data/datasets/fineweb10B_sp1024";  // DATA_PATH: shard folder
  std::string train_files = "fineweb_train_*.bin";  // TRAIN_FILES: glob, relative to data_path
  std::string val_files = "fineweb_val_*.bin";      // VAL_FILES: glob, relative to data_path
  std::string tokenizer_path = "./data/tokenizers/fineweb_1024_bpe.model";  // TOKENIZER_PATH
  Loader loader = Loader::kStream;  // LOADER: the training loader (data/train_loader.h)
};

struct ModelConfig {
  int64_t vocab_size = 1024;           // VOCAB_SIZE: must equal the tokenizer's vocab
  int64_t num_layers = 10;             // NUM_LAYERS: transformer blocks
  int64_t model_dim = 512;             // MODEL_DIM: width; divisible by num_heads
  int64_t num_heads = 8;               // NUM_HEADS: query heads
  int64_t num_kv_heads = 4;            // NUM_KV_HEADS: KV heads; divides num_heads
  double mlp_mult = 3.0;               // MLP_MULT: hidden = int(mlp_mult * model_dim)
  bool tie_embeddings = true;          // TIE_EMBEDDINGS: tied input/output embedding
  double rope_base = 10000.0;          // ROPE_BASE
  double logit_softcap = 30.0;         // LOGIT_SOFTCAP: c in c*tanh(z/c); > 0
  double qk_gain_init = 1.5;           // QK_GAIN_INIT: per-head q_gain init
  double tied_embed_init_std = 0.005;  // TIED_EMBED_INIT_STD
  int64_t bigram_vocab_size = 10240;   // BIGRAM_VOCAB_SIZE: hash buckets; 0 disables BigramHash
  int64_t bigram_dim = 128;            // BIGRAM_DIM: table width (no proj when == model_dim)
  BigramHash bigram_hash = BigramHash::kXor;  // BIGRAM_HASH
  bool smear_gate = true;              // SMEAR_GATE: SmearGate after the embedding norm
  bool smear_bos_mask = false;         // SMEAR_BOS_MASK: zero the smear at BOS (later records' fix)
  bool unet_skips = true;              // UNET_SKIPS: encoder/decoder skip connections
  Activation activation = Activation::kRelu2;  // ACTIVATION
  bool gated_mlp = false;              // GATED_MLP: proj(act(gate x) * up x) (PR #354)
  Attention attention = Attention::kGqa;  // ATTENTION
  int64_t kv_rank = 128;               // KV_RANK: MLA latent width (ATTENTION=mla only)
  bool mla_latent_norm = true;         // MLA_LATENT_NORM: RMSNorm on the MLA latent; 0: PR #354
  bool ortho_init = true;              // ORTHO_INIT: orthogonal init of big linears; 0: baseline
  OrthoInitGain ortho_init_gain = OrthoInitGain::kOne;  // ORTHO_INIT_GAIN
  // The 1.0611 record's GPT (docs/frontier.md; model/gpt_banked.h). The knobs below need it.
  bool param_banks = false;            // PARAM_BANKS: banked GPT (qo/kv/mlp_up/mlp_down_bank)
  int64_t xsa_last_n = 0;              // XSA_LAST_N: exclusive self-attention in the last N layers
  int64_t rope_dims = 0;               // ROPE_DIMS: rotary on the first N head dims; 0 = all
  bool ln_scale = false;               // LN_SCALE: normed block inputs * 1/sqrt(layer+1)
  // xsa_last_n, rope_dims, ln_scale and these also build into the PR #180 GPT (March records).
  bool ve_enabled = false;             // VE_ENABLED: value embeddings added to v in VE_LAYERS
  int64_t ve_dim = 128;                // VE_DIM: value-embedding table width
  std::string ve_layers = "9,10";      // VE_LAYERS: comma-separated layer indices
  int64_t rope_train_seq_len = 0;      // ROPE_TRAIN_SEQ_LEN: NTK base rescale above it; 0 off
  bool record_banks = false;           // RECORD_BANKS: weights files in the 1.1122 record's banks
  bool skip_gates_enabled = false;     // SKIP_GATES_ENABLED: sigmoid-gated U-Net skips
  int64_t num_loops = 0;               // NUM_LOOPS: extra passes over LOOP_START..LOOP_END
  int64_t loop_start = 0;              // LOOP_START: first looped layer
  int64_t loop_end = 0;                // LOOP_END: last looped layer (inclusive)
  int64_t parallel_start_layer = 0;    // PARALLEL_START_LAYER: routed two lanes from here; 0 off
  ParallelFinalLane parallel_final_lane = ParallelFinalLane::kMean;  // PARALLEL_FINAL_LANE
  ParallelLanes parallel_lanes = ParallelLanes::kRouted;  // PARALLEL_LANES: routed|lane_merge|none
  bool smear_gate_enabled = false;     // SMEAR_GATE_ENABLED: input-dependent SmearGate, BOS-fixed
  int64_t gate_window = 12;            // GATE_WINDOW: input dims of the smear/attention gates
  bool attn_out_gate_enabled = false;  // ATTN_OUT_GATE_ENABLED: 2*sigmoid per-head output gate
  AttnOutGateSrc attn_out_gate_src = AttnOutGateSrc::kProj;  // ATTN_OUT_GATE_SRC
  bool gated_attn_enabled = false;     // GATED_ATTN_ENABLED: dense sigmoid head gate
  double gated_attn_init_std = 0.01;   // GATED_ATTN_INIT_STD
  bool sparse_attn_gate_enabled = false;   // SPARSE_ATTN_GATE_ENABLED: gate on x[:GATE_WINDOW]
  double sparse_attn_gate_init_std = 0.0;  // SPARSE_ATTN_GATE_INIT_STD: 0 = zero init
  double sparse_attn_gate_scale = 1.0;     // SPARSE_ATTN_GATE_SCALE
  int64_t parallel_residual_start = -1;    // PARALLEL_RESIDUAL_START: GPT-J blocks from here; -1 off
  bool varlen_attn = false;  // VARLEN_ATTN: attention within each BOS-delimited document (banked)
};

struct OptimConfig {
  double embed_lr = 0.6;                     // EMBED_LR: embedding lr when untied
  double head_lr = 0.008;                    // HEAD_LR: head lr when untied
  double tied_embed_lr = 0.03;               // TIED_EMBED_LR: tok_emb and bigram.embed lr
  double matrix_lr = 0.02;                   // MATRIX_LR: Muon lr
  double scalar_lr = 0.02;                   // SCALAR_LR: control tensors lr
  double muon_momentum = 0.99;               // MUON_MOMENTUM: final Muon momentum
  int64_t muon_backend_steps = 5;            // MUON_BACKEND_STEPS: Newton-Schulz iterations
  double muon_momentum_warmup_start = 0.92;  // MUON_MOMENTUM_WARMUP_START
  int64_t muon_momentum_warmup_steps = 1500; // MUON_MOMENTUM_WARMUP_STEPS
  double muon_weight_decay = 0.04;           // MUON_WEIGHT_DECAY: hard-coded 0.04 in the reference
  MuonNsCoeffs muon_ns_coeffs = MuonNsCoeffs::kExact;  // MUON_NS_COEFFS
  MuonForm muon_form = MuonForm::kPr180;  // MUON_FORM
  bool muon_row_normalize = false;           // MUON_ROW_NORMALIZE: MuonEq-R
  MuonNsDtype muon_ns_dtype = MuonNsDtype::kBf16;  // MUON_NS_DTYPE
  bool muon_sharded = false;  // MUON_SHARDED: reduce-scatter grads, NS per rank share, all-gather
  double beta1 = 0.9;                        // BETA1
  double beta2 = 0.95;                       // BETA2
  double adam_eps = 1e-8;                    // ADAM_EPS
  double weight_decay = 0.04;                // WEIGHT_DECAY: AdamW decay (tok and scalar groups)
  double embed_wd = -1.0;                    // EMBED_WD: tok group decay; < 0: WEIGHT_DECAY
  double adam_wd = -1.0;                     // ADAM_WD: scalar group decay; < 0: WEIGHT_DECAY
  double grad_clip_norm = 0.3;               // GRAD_CLIP_NORM: 0 disables
  bool aux_proj_adam = false;  // AUX_PROJ_ADAM: bigram.proj, ve_shared.proj in the scalar AdamW
  double wd_taper_start_frac = 1.0;          // WD_TAPER_START_FRAC: Muon WD taper from here; 1 off
  double wd_taper_final_mult = 0.5;          // WD_TAPER_FINAL_MULT: Muon WD multiplier at the end
};

struct TrainConfig {
  int64_t seed = 42;                     // SEED
  std::string run_id;                    // RUN_ID: run directory name (empty: generated)
  std::string out_dir = "runs";          // OUT_DIR: parent folder of run directories
  int64_t iterations = 20000;            // ITERATIONS: max steps
  int64_t warmdown_iters = 3000;         // WARMDOWN_ITERS
  double warmdown_frac = 0.0;            // WARMDOWN_FRAC: warmdown as a training fraction; 0 off
  double min_lr = 0.0;                   // MIN_LR: floor of the warmdown LR multiplier
  double gptq_reserve_seconds = 0.0;     // GPTQ_RESERVE_SECONDS: cut from the wallclock cap
  double enable_looping_at = 0.0;        // ENABLE_LOOPING_AT: training fraction; loops on after
  int64_t warmup_steps = 20;             // WARMUP_STEPS: warm-up steps, undone afterwards
  int64_t train_batch_tokens = 786432;   // TRAIN_BATCH_TOKENS: global tokens per step
  int64_t train_seq_len = 2048;          // TRAIN_SEQ_LEN
  double max_wallclock_seconds = 600.0;  // MAX_WALLCLOCK_SECONDS: <= 0 disables the cap
  int64_t val_loss_every = 500;          // VAL_LOSS_EVERY: 0 = only at the end
  int64_t train_log_every = 100;         // TRAIN_LOG_EVERY
  int64_t val_batch_size = 524288;       // VAL_BATCH_SIZE: tokens per global eval batch
  bool swa_enabled = true;               // SWA_ENABLED
  double swa_start_frac = 0.4;           // SWA_START_FRAC: collect when lr multiplier < this
  int64_t swa_every = 50;                // SWA_EVERY
  double ema_decay = 0.0;                // EMA_DECAY: > 0 enables EMA (0.997 in the 11L records)
  double late_qat_frac = 0.0;            // LATE_QAT_FRAC: wallclock fraction that starts QAT; 0 off
  int64_t checkpoint_every = 0;          // CHECKPOINT_EVERY: steps; 0 = only on signal/end
  Device device = Device::kAuto;  // DEVICE
  Dtype dtype = Dtype::kAuto;  // DTYPE
  int64_t threads = 0;                   // THREADS: intra-op threads; 0 = auto (free cores / ranks)
  bool cuda_graphs = false;              // CUDA_GRAPHS: capture the training step (CUDA only)
  bool fused_kernels = false;            // FUSED_KERNELS: pgolf's CUDA kernels (CUDA only)
  DistBackend dist_backend = DistBackend::kAuto;  // DIST_BACKEND
  double dist_timeout_seconds = 600;     // DIST_TIMEOUT_SECONDS: rendezvous and collectives
};

struct EvalConfig {
  int64_t eval_stride = 64;              // EVAL_STRIDE: sliding stride; 0 or >= seq_len: standard
  int64_t eval_batch_seqs = 32;          // EVAL_BATCH_SEQS: windows per forward
  SlidingMode sliding_mode = SlidingMode::kReference;  // SLIDING_MODE
  bool ttt_enabled = false;              // TTT_ENABLED: TTT-LoRA eval (PR #289)
  int64_t ttt_lora_rank = 8;             // TTT_LORA_RANK
  double ttt_lora_lr = 0.01;             // TTT_LORA_LR
  int64_t ttt_chunk_size = 256;          // TTT_CHUNK_SIZE: targets per score-then-update chunk
  int64_t ttt_eval_seq_len = 1024;       // TTT_EVAL_SEQ_LEN: context window
  int64_t ttt_batch_size = 64;           // TTT_BATCH_SIZE: documents per batch
  // The frontier's TTT (issue 21; eval/ttt_doc.h, eval/ttt_sgd.h). Defaults keep PR #289's TTT.
  TttMode ttt_mode = TttMode::kLora;     // TTT_MODE
  double ttt_lora_alpha = 0.0;           // TTT_LORA_ALPHA: adapter output * alpha/rank; 0: * 1
  bool ttt_warm_start_a = false;         // TTT_WARM_START_A: keep A across batches, reset B only
  double ttt_weight_decay = 0.0;         // TTT_WEIGHT_DECAY: decoupled (AdamW) / L2 (SGD)
  double ttt_beta1 = -1.0;               // TTT_BETA1: < 0: BETA1
  double ttt_beta2 = -1.0;               // TTT_BETA2: < 0: BETA2
  int64_t ttt_grad_steps = 1;            // TTT_GRAD_STEPS: updates per chunk
  bool ttt_k_lora = false;               // TTT_K_LORA
  bool ttt_o_lora = false;               // TTT_O_LORA
  bool ttt_mlp_lora = false;             // TTT_MLP_LORA
  TttOptimizer ttt_optimizer = TttOptimizer::kAdam;  // TTT_OPTIMIZER
  int64_t ttt_freeze_blocks = 0;         // TTT_FREEZE_BLOCKS: chunk_sgd leaves blocks 0..N-1
  bool phased_ttt_enabled = false;       // PHASED_TTT_ENABLED: global SGD on scored prefixes
  int64_t phased_ttt_prefix_docs = 2000;  // PHASED_TTT_PREFIX_DOCS
  int64_t phased_ttt_num_phases = 1;     // PHASED_TTT_NUM_PHASES
  double global_ttt_lr = 0.001;          // GLOBAL_TTT_LR: peak of the cosine over chunks
  double global_ttt_momentum = 0.9;      // GLOBAL_TTT_MOMENTUM
  int64_t global_ttt_epochs = 1;         // GLOBAL_TTT_EPOCHS
  int64_t global_ttt_chunk_tokens = 32768;  // GLOBAL_TTT_CHUNK_TOKENS
  int64_t global_ttt_batch_seqs = 32;    // GLOBAL_TTT_BATCH_SEQS
  double global_ttt_warmup_start_lr = 0.0;  // GLOBAL_TTT_WARMUP_START_LR
  int64_t global_ttt_warmup_chunks = 0;  // GLOBAL_TTT_WARMUP_CHUNKS
  double global_ttt_grad_clip = 1.0;     // GLOBAL_TTT_GRAD_CLIP: total-norm clip; 0 off
  bool global_ttt_respect_doc_boundaries = true;  // GLOBAL_TTT_RESPECT_DOC_BOUNDARIES
};

struct QuantConfig {
  QuantScheme quant_scheme = QuantScheme::kMixed;  // QUANT_SCHEME
  std::string int_cats = "mlp,attn,bigram";  // INT_CATS: categories quantised to int5/int6
  double prune_pct = 0.03;               // PRUNE_PCT: magnitude-pruning quantile; 0 disables
  int64_t prune_min_numel = 65536;       // PRUNE_MIN_NUMEL: prune 2-D tensors with numel > this
  int64_t passthrough_max_numel = 8192;  // PASSTHROUGH_MAX_NUMEL: fp16 passthrough at or below
  PassthroughDtype passthrough_dtype = PassthroughDtype::kFp16;  // PASSTHROUGH_DTYPE
  bool passthrough_bf16_round = false;   // PASSTHROUGH_BF16_ROUND: fp16-keep tensors via bf16
  std::string control_tensor_name_patterns =
      "attn_scale,attn_scales,mlp_scale,mlp_scales,resid_mix,resid_mixes,q_gain,skip_weight,"
      "skip_weights,smear,bigram.scale";  // CONTROL_TENSOR_NAME_PATTERNS
  std::string fp16_keep_name_patterns = "tok_emb,blocks.8.attn.c_k";  // FP16_KEEP_NAME_PATTERNS
  int64_t zstd_level = 22;               // ZSTD_LEVEL
  Compressor compressor = Compressor::kZstd;  // COMPRESSOR
  IntnScaleFloor intn_scale_floor = IntnScaleFloor::kFp16Tiny;  // INTN_SCALE_FLOOR
  IntnScaleStat intn_scale_stat = IntnScaleStat::kMax;  // INTN_SCALE_STAT
  double intn_clip_quantile = 0.9999984;  // INTN_CLIP_QUANTILE: q of INTN_SCALE_STAT=quantile
  int64_t code_bytes = -1;               // CODE_BYTES: override code byte count; -1 = measure
  // QUANT_SCHEME=gptq (the 1.0611 record's gptq_mixed_quantize; quant/gptq.h). Defaults are that
  // record's run values; they act only under that scheme (LQER and the gate path stay off).
  int64_t matrix_bits = 6;               // MATRIX_BITS: GPTQ code bits of matrices, 2..8
  int64_t embed_bits = 7;                // EMBED_BITS: GPTQ code bits of tok_emb, 2..8
  double matrix_clip_sigmas = 12.85;     // MATRIX_CLIP_SIGMAS: SDClip k (other matrices); > 0
  double attn_clip_sigmas = 13.0;        // ATTN_CLIP_SIGMAS: SDClip k of .attn. matrices
  double mlp_clip_sigmas = 11.5;         // MLP_CLIP_SIGMAS: SDClip k of .mlp. matrices
  double embed_clip_sigmas = 14.0;       // EMBED_CLIP_SIGMAS: SDClip k of tok_emb
  double hessian_clip_lambda = 0.0;      // HESSIAN_CLIP_LAMBDA: Hessian-aware SDClip; 0 off
  GptqClipSearch gptq_clip_search = GptqClipSearch::kSdclip;  // GPTQ_CLIP_SEARCH
  bool gated_attn_quant_gate = false;    // GATED_ATTN_QUANT_GATE: attn_gate_w as int8 rows
  bool lqer_enabled = false;             // LQER_ENABLED: low-rank fix of the top-k errors
  int64_t lqer_rank = 4;                 // LQER_RANK: >= 1
  int64_t lqer_top_k = 3;                // LQER_TOP_K: tensors corrected; >= 1
  int64_t lqer_factor_bits = 4;          // LQER_FACTOR_BITS: symmetric factor bits, 2..8
  bool lqer_asym_enabled = true;         // LQER_ASYM_ENABLED: INT2 A / INT4 grouped B
  int64_t lqer_asym_group = 64;          // LQER_ASYM_GROUP: B group size; >= 1
  bool byte_shuffle = false;             // BYTE_SHUFFLE: BSHF stride-2 shuffle (brotli, lzma)
  // GPTQ calibration (train/calibration.h): training batches inside GPTQ_RESERVE_SECONDS (1.0611),
  // or sequences sampled from the trained model after the cap (1.1147/1.1063's AR self-gen).
  int64_t gptq_calibration_batches = 16; // GPTQ_CALIBRATION_BATCHES: training batches; >= 1
  bool gptq_ar_selfgen = false;          // GPTQ_AR_SELFGEN: calibrate on self-generated text
  int64_t gptq_calib_samples = 64;       // GPTQ_CALIB_SAMPLES: AR sequences; >= 1
  double gptq_temperature = 0.8;         // GPTQ_TEMPERATURE: AR sampling temperature; > 0
  int64_t gptq_batch_size = 8;           // GPTQ_BATCH_SIZE: AR sequences generated together
  double target_mb = 0.0;                // TARGET_MB: selective +-1 pruning to fit (MiB); 0 off
};

struct Config {
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  TrainConfig train;
  EvalConfig eval;
  QuantConfig quant;
};

}  // namespace pgolf::config
