// QUANT_SCHEME=gptq: the 1.0611 record's gptq_mixed_quantize / dequantize_mixed over an unbanked
// state dict (_unbank_state_dict), with the record's result keys and meta strings, so the artifact
// reads both ways:
//   attn_gate_w, 32..8192 entries, GATED_ATTN_QUANT_GATE   -> name.gq int8, name.gs fp16 rows
//                                                            "gate_int8_row"
//   non-float, or numel <= PASSTHROUGH_MAX_NUMEL (65536)   -> name (fp16 if float)
//                                                            "passthrough (float16)"
//   the rest: GPTQ with SDClip, int EMBED_BITS for tok_emb, -> name.q int8, name.scale fp16 rows
//   int MATRIX_BITS otherwise; k by tok_emb/.mlp./.attn.     "gptq (intN)"
//   LQER_ENABLED: the LQER_TOP_K GPTQ tensors with the     -> name.lqA_a/.lqAs_a/.lqB_a/.lqBs_a
//   largest |W - deq(W)|_F get rank-LQER_RANK factors,      "...+lqer_asym", or .lqA/.lqAs/
//   asymmetric when B's size divides LQER_ASYM_GROUP        .lqB/.lqBs "...+lqer"
#pragma once

#include <string>
#include <vector>

#include "pgolf/config/config.h"
#include "pgolf/core/tensor_io.h"
#include "pgolf/quant/quantize.h"

namespace pgolf::quant {

// Which of the paths above a tensor takes (the one rule, for the export and its calibration).
// kInt8 (GPTQ_CLIP_SEARCH=percentile5, the 1.1122 record): a float tensor above
// PASSTHROUGH_MAX_NUMEL whose category is not in INT_CATS -> name.q / name.scale of
// quantize_clip_quantile(t, 127, 0.9999984), "int8 (row quantile)"; INT_CATS 2-D ones kGptq with
// gptq_quantize_percentile at MATRIX_BITS.
enum class GptqRoute { kGate, kPassthrough, kGptq, kInt8 };
GptqRoute gptq_route(const std::string& name, const torch::Tensor& t,
                     const config::QuantConfig& cfg);
// SDClip's k of a GPTQ'd tensor: EMBED_CLIP_SIGMAS (tok_emb), MLP_ (.mlp.), ATTN_ (.attn.), else
// MATRIX_CLIP_SIGMAS (the export's rule; the size estimate reads it too).
double gptq_clip_sigmas(const std::string& name, const config::QuantConfig& cfg);

// Meta strings of this scheme ("passthrough (float16)", "gate_int8_row", "gptq (int6)+lqer", ...).
bool is_gptq_kind(const std::string& kind);
// The result entries a tensor of that kind needs (name.q, name.scale, name.lqA_a, ...).
std::vector<std::string> gptq_entries(const std::string& name, const std::string& kind);
// True when `meta` holds this scheme's strings (the dequantiser to use).
bool is_gptq_meta(const Meta& meta);

// `hessians`: name -> (cols, cols) fp32 input Hessian of every GPTQ'd weight; a missing one is an
// input error naming the tensor.
QuantResult gptq_mixed_quantize(const core::NamedTensors& state_dict,
                                const core::NamedTensors& hessians,
                                const config::QuantConfig& cfg);

// dequantize_mixed against `template_sd` (flat names): q * scale per row (+ A B for LQER), gate
// rows gq * gs, passthrough cast back; every result cast to the template's dtype.
core::NamedTensors dequantize_gptq(const QuantResult& quant, const core::NamedTensors& template_sd,
                                   const std::string& what);

// The record's bank layout: qo_bank (2L,d,d) -> blocks.i.attn.c_q / .proj, kv_bank (2L,kv,d) ->
// c_k / c_v, mlp_up_bank (L,h,d) -> mlp.fc, mlp_down_bank (L,d,h) -> mlp.proj; others unchanged.
// The per-layer tensors are views into the banks.
bool is_banked(const core::NamedTensors& sd);
core::NamedTensors unbank_state_dict(const core::NamedTensors& sd);
// Inverse, in the order of `banked_template` (its banks give L and the shapes).
core::NamedTensors rebank_state_dict(const core::NamedTensors& flat,
                                     const core::NamedTensors& banked_template,
                                     const std::string& what);
// The PR #180 GPT's per-layer state dict (blocks.i.attn.c_q/c_k/c_v/proj, mlp.fc/proj) in the
// 1.1122 record's layout (RECORD_BANKS): the four banks (copies) right after the top-level
// skip_weights (else first), as the record's GPT registers them, the other keys in their order.
// An input error naming `what` when a layer's matrix is missing or shapes differ.
core::NamedTensors bank_state_dict(const core::NamedTensors& flat, const std::string& what);

}  // namespace pgolf::quant
