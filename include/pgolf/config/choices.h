// The choice knobs' enums and their one table each (choice.h). Names are the JSON/env spellings;
// the first entry is not necessarily the default (config.h sets defaults).
#pragma once

#include "pgolf/config/choice.h"

namespace pgolf::config {

#define PGOLF_CHOICE(E, ...)                                \
  template <>                                               \
  struct Choice<E> {                                        \
    static constexpr ChoiceValue<E> values[] = {__VA_ARGS__}; \
  }

enum class BigramHash { kXor, kMult };
PGOLF_CHOICE(BigramHash,
             {BigramHash::kXor, "xor",
              "PR #180: XOR of scaled ids, bucket V-1 reserved for position 0, zero table, learned "
              "scale 0.05, proj in Muon"},
             {BigramHash::kMult, "mult",
              "PR #354: (prev*1000003 + cur) mod V with prev = 0 at position 0, table N(0,0.02) "
              "as bigram.table, zero-init proj even when widths match, no scale, table and proj "
              "in the tok AdamW group"});

enum class Activation { kRelu2, kLeakyRelu2 };
PGOLF_CHOICE(Activation, {Activation::kRelu2, "relu2", "relu(x)^2"},
             {Activation::kLeakyRelu2, "leaky_relu2", "leaky_relu(x, 0.5)^2"});

enum class Attention { kGqa, kMla };
PGOLF_CHOICE(Attention, {Attention::kGqa, "gqa", "grouped-query attention"},
             {Attention::kMla, "mla", "low-rank latent keys/values of width KV_RANK"});

enum class OrthoInitGain { kOne, kInvSqrtDim };
PGOLF_CHOICE(OrthoInitGain,
             {OrthoInitGain::kOne, "one",
              "gain 1 on linears with both dims >= 64, then bigram.proj x 1/sqrt(2L)"},
             {OrthoInitGain::kInvSqrtDim, "inv_sqrt_dim",
              "PR #354: gain model_dim^-0.5 on every non-zero-init linear, any size"});

enum class ParallelFinalLane { kMean, kAttn, kMlp };
PGOLF_CHOICE(ParallelFinalLane, {ParallelFinalLane::kMean, "mean", ""},
             {ParallelFinalLane::kAttn, "attn", ""}, {ParallelFinalLane::kMlp, "mlp", ""});

// Which two-lane form PARALLEL_START_LAYER runs, and which lane tensors the banked GPT registers.
enum class ParallelLanes { kRouted, kLaneMerge, kNone };
PGOLF_CHOICE(ParallelLanes,
             {ParallelLanes::kRouted, "routed",
              "1.0611 (PR #1204, #1530): lane_j = r_j lane_j + p_0j attn + p_1j mlp with "
              "parallel_resid_lambdas (init 1.1) and parallel_post_lambdas (init 1), both "
              "registered whatever parallel_start_layer says"},
             {ParallelLanes::kLaneMerge, "lane_merge",
              "1.0822 / 1.0897 (PR #1477, #1334): attention updates lane 0, the MLP lane 1, "
              "output lane_merge*lane0 + (1-lane_merge)*lane1, scalar lane_merge (init 0.5, scalar "
              "AdamW group) registered when parallel_start_layer > 0"},
             {ParallelLanes::kNone, "none",
              "no lane tensors (1.0810, GPT-J only); needs parallel_start_layer=0"});

enum class AttnOutGateSrc { kProj, kQ };
PGOLF_CHOICE(AttnOutGateSrc, {AttnOutGateSrc::kProj, "proj", "the attention input"},
             {AttnOutGateSrc::kQ, "q", "the raw q projection"});

enum class MuonNsCoeffs { kExact, kBf16, kPolarExpress };
PGOLF_CHOICE(MuonNsCoeffs,
             {MuonNsCoeffs::kExact, "exact", "the coefficients as torch 2.x applies them"},
             {MuonNsCoeffs::kBf16, "bf16",
              "rounded to bf16 as torch 1.13 on CPU does (the golden vectors)"},
             {MuonNsCoeffs::kPolarExpress, "polar_express",
              "the 5 per-iteration tuples of PR #1787 (X = aX + (bA + cA^2)X, per-matrix norm)"});

enum class MuonForm { kPr180, kBanked };
PGOLF_CHOICE(MuonForm,
             {MuonForm::kPr180, "pr180",
              "fp32 momentum of the fp32 grad, sqrt(rows/cols) scale on the bf16 update"},
             {MuonForm::kBanked, "banked",
              "the 1.0611 record: grad cast to bf16, bf16 momentum and Nesterov update, scale in "
              "the step size, 3-D banks orthogonalised per matrix"});

enum class MuonNsDtype { kBf16, kFp32, kBf16Native };
PGOLF_CHOICE(MuonNsDtype, {MuonNsDtype::kBf16, "bf16", "the reference"},
             {MuonNsDtype::kFp32, "fp32",
              "keeps runs that differ only in float summation order (e.g. 1 vs N ranks) within "
              "rounding of each other"},
             {MuonNsDtype::kBf16Native, "bf16_native",
              "bf16 with the CPU's own bf16 GEMM (what the reference's bf16 matmuls run on a CPU) "
              "instead of fp32 products rounded once to bf16"});

enum class Device { kAuto, kCpu, kCuda };
PGOLF_CHOICE(Device, {Device::kAuto, "auto", "CUDA when available"}, {Device::kCpu, "cpu", ""},
             {Device::kCuda, "cuda", "an error when CUDA is not available"});

enum class Dtype { kAuto, kFp32, kBf16, kReference };
PGOLF_CHOICE(Dtype,
             {Dtype::kAuto, "auto", "bf16 on CUDA and on CPUs with native bf16 matmul, else fp32"},
             {Dtype::kFp32, "fp32", ""}, {Dtype::kBf16, "bf16", "bf16 autocast"},
             {Dtype::kReference, "reference",
              "the record's arrangement: bf16 embedding lookups, no autocast"});

enum class DistBackend { kAuto, kGloo, kNccl };
PGOLF_CHOICE(DistBackend, {DistBackend::kAuto, "auto", "nccl on CUDA, else gloo"},
             {DistBackend::kGloo, "gloo", ""}, {DistBackend::kNccl, "nccl", ""});

enum class SlidingMode { kReference, kExact };
PGOLF_CHOICE(SlidingMode,
             {SlidingMode::kReference, "reference",
              "the record's window filter (final targets re-scored per tail window)"},
             {SlidingMode::kExact, "exact", "every target scored once"});

enum class QuantScheme { kMixed, kInt8, kInt6, kInt6Clip31, kGptqLite, kGptq };
PGOLF_CHOICE(QuantScheme, {QuantScheme::kMixed, "mixed", "PR #180: int5 MLP, int6 INT_CATS"},
             {QuantScheme::kInt8, "int8", "baseline"},
             {QuantScheme::kInt6, "int6", "every INT_CATS category int6"},
             {QuantScheme::kInt6Clip31, "int6_clip31", "row-quantile clip, q in [-31,31]"},
             {QuantScheme::kGptqLite, "gptq_lite", "best of five row clips by MSE"},
             {QuantScheme::kGptq, "gptq",
              "the 1.0611 record: full-Hessian GPTQ with SDClip on tensors above "
              "PASSTHROUGH_MAX_NUMEL (the record: 65536), fp16 below; needs calibration Hessians"});

// GPTQ_CLIP_SEARCH: the gptq scheme's row scales. percentile5 is the 1.1122 record's
// (gptq_quantize_weight / mixed_quantize_int6): INT_CATS matrices run the GPTQ pass once per row
// clip {q .999, .9995, .9999, .99999 of |w|, row max} with s = fp16(max(clip/c, 1/c)) and keep the
// least-MSE codes; other tensors above PASSTHROUGH_MAX_NUMEL are int8 (row quantile 0.9999984).
enum class GptqClipSearch { kSdclip, kPercentile5 };
PGOLF_CHOICE(GptqClipSearch, {GptqClipSearch::kSdclip, "sdclip", "the 1.0611 record: k * std(row)"},
             {GptqClipSearch::kPercentile5, "percentile5",
              "the 1.1122 record: best of five row clips by MSE; non-INT_CATS tensors int8"});

enum class PassthroughDtype { kFp16, kFp32 };
PGOLF_CHOICE(PassthroughDtype, {PassthroughDtype::kFp16, "fp16", ""},
             {PassthroughDtype::kFp32, "fp32", "exact, as PR #354's export"});

enum class Compressor { kZstd, kZlib, kLzma, kBrotli, kPergroup };
PGOLF_CHOICE(Compressor, {Compressor::kZstd, "zstd", ""}, {Compressor::kZlib, "zlib", ""},
             {Compressor::kLzma, "lzma", "xz preset 9"},
             {Compressor::kBrotli, "brotli", "quality 11"},
             {Compressor::kPergroup, "pergroup",
              "the 1.0611 record's layout: int8 codes grouped by role, rows similarity-sorted, "
              "transposed, `lrzip -z -L 9` per group, brotli remainder; needs the lrzip program"});

enum class IntnScaleFloor { kFp16Tiny, kInvClip };
PGOLF_CHOICE(IntnScaleFloor, {IntnScaleFloor::kFp16Tiny, "fp16_tiny", "PR #180, smear9"},
             {IntnScaleFloor::kInvClip, "inv_clip", "1/clip, e.g. 1/31: PR #289, 11L-a"});

enum class IntnScaleStat { kMax, kQuantile };
PGOLF_CHOICE(IntnScaleStat, {IntnScaleStat::kMax, "max", "row max"},
             {IntnScaleStat::kQuantile, "quantile",
              "PR #354: row quantile INTN_CLIP_QUANTILE of |w|, values beyond it clipped, scale "
              "max(clip/c, 1/c); needs INTN_SCALE_FLOOR=inv_clip"});

enum class TttMode { kLora, kDocLora, kChunkSgd };
PGOLF_CHOICE(TttMode,
             {TttMode::kLora, "lora", "PR #289: c_q/c_v/head adapters, documents split by rank"},
             {TttMode::kDocLora, "doc_lora",
              "the 1.0734-1.0611 records (PARAM_BANKS=1): length-sorted document batches claimed "
              "across ranks, adapters per virtual layer, optional global SGD phases"},
             {TttMode::kChunkSgd, "chunk_sgd",
              "the 1.1194/1.0828 records: score a chunk (sliding windows), then full-model SGD"});

enum class TttOptimizer { kAdam, kSgd };
PGOLF_CHOICE(TttOptimizer, {TttOptimizer::kAdam, "adam", "AdamW, eps 1e-10"},
             {TttOptimizer::kSgd, "sgd", "momentum TTT_BETA1"});

enum class Loader { kStream, kShuffled, kCoprime, kDocpack };
PGOLF_CHOICE(Loader, {Loader::kStream, "stream", "the reference: one sequential stream, rank slices"},
             {Loader::kShuffled, "shuffled",
              "1.0856-1.0798: per rank, its shards' seq_len windows at a random phase, in random "
              "order"},
             {Loader::kCoprime, "coprime",
              "1.1122/1.0979: windows from 8 -> 32 shards per batch, coprime-stride walks"},
             {Loader::kDocpack, "docpack",
              "1.0734 on: packed rows from BOS-aligned spans with cu_seqlens (for VARLEN_ATTN)"});

#undef PGOLF_CHOICE

}  // namespace pgolf::config
