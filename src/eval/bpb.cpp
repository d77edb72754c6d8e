// LUT/token checks, per-token NLL and float64 sums shared by all evaluators (reference-spec §3.3).
#include "pgolf/eval/bpb.h"

#include <cmath>

#include "pgolf/core/error.h"

namespace pgolf::eval {

torch::Tensor as_token_stream(const torch::Tensor& tokens, const char* what) {
  PGOLF_CHECK_INPUT(tokens.defined() && tokens.dim() == 1,
                    what << ": expected a 1-D token tensor, found "
                         << (tokens.defined() ? tokens.sizes() : torch::IntArrayRef{}));
  const auto type = tokens.scalar_type();
  PGOLF_CHECK_INPUT(torch::isIntegralType(type, /*includeBool=*/false),
                    what << ": expected integer token ids, found dtype " << type);
  return tokens.to(torch::kCPU, torch::kInt64).contiguous();
}

void validate_luts(const ByteLuts& luts, const char* what) {
  PGOLF_CHECK_INPUT(
      luts.base_bytes.defined() && luts.has_leading_space.defined() && luts.is_boundary.defined(),
      what << ": byte LUTs missing (expected base_bytes, has_leading_space, is_boundary)");
  PGOLF_CHECK_INPUT(luts.base_bytes.dim() == 1 && luts.base_bytes.numel() > 0,
                    what << ": base_bytes: expected a non-empty 1-D tensor, found shape "
                         << luts.base_bytes.sizes());
  PGOLF_CHECK_INPUT(
      luts.base_bytes.scalar_type() == torch::kInt16,
      what << ": base_bytes: expected int16, found " << luts.base_bytes.scalar_type());
  const torch::Tensor* flags[] = {&luts.has_leading_space, &luts.is_boundary};
  const char* names[] = {"has_leading_space", "is_boundary"};
  for (int i = 0; i < 2; ++i) {
    PGOLF_CHECK_INPUT(flags[i]->scalar_type() == torch::kBool, what << ": " << names[i]
                                                                    << ": expected bool, found "
                                                                    << flags[i]->scalar_type());
    PGOLF_CHECK_INPUT(flags[i]->sizes() == luts.base_bytes.sizes(),
                      what << ": " << names[i] << ": expected shape " << luts.base_bytes.sizes()
                           << " (as base_bytes), found " << flags[i]->sizes());
  }
}

void check_ids_in_luts(const torch::Tensor& tokens, const ByteLuts& luts, const char* what) {
  if (tokens.numel() == 0) return;
  const int64_t lo = tokens.min().item<int64_t>();
  const int64_t hi = tokens.max().item<int64_t>();
  PGOLF_CHECK_INPUT(lo >= 0 && hi < luts.size(),
                    what << ": token ids must lie in [0, " << luts.size()
                         << ") (the byte LUT size), found range [" << lo << ", " << hi << "]");
}

double sum_bytes(const ByteLuts& luts, const torch::Tensor& prev, const torch::Tensor& tgt,
                 const torch::Tensor& scored) {
  torch::Tensor bytes = tokenizer::count_bytes(luts, prev, tgt).to(torch::kInt64);
  if (scored.defined()) bytes = bytes.masked_fill(scored.logical_not(), 0);
  return static_cast<double>(bytes.sum().item<int64_t>());
}

void ByteSource::validate(int64_t n, const char* what) const {
  if (!has_sidecar()) {
    validate_luts(luts, what);
    return;
  }
  PGOLF_CHECK_INPUT(sidecar.dim() == 1 && !torch::isFloatingType(sidecar.scalar_type()),
                    what << ": byte sidecar: expected a 1-D integer tensor, found "
                         << sidecar.scalar_type() << " " << sidecar.sizes());
  PGOLF_CHECK_INPUT(sidecar.numel() >= n, what << ": byte sidecar holds " << sidecar.numel()
                                               << " entries, expected one per token (" << n << ")");
}

double ByteSource::sum(const torch::Tensor& prev, const torch::Tensor& tgt,
                       const torch::Tensor& tgt_pos, const torch::Tensor& scored) const {
  if (!has_sidecar()) return sum_bytes(luts, prev, tgt, scored);
  torch::Tensor bytes = sidecar.index_select(0, tgt_pos.reshape(-1)).view(tgt_pos.sizes());
  bytes = bytes.to(torch::kInt64);
  if (scored.defined()) bytes = bytes.masked_fill(scored.logical_not(), 0);
  return static_cast<double>(bytes.sum().item<int64_t>());
}

torch::Tensor per_token_nll(const torch::Tensor& logits, const torch::Tensor& targets) {
  PGOLF_CHECK(logits.dim() == 3 && targets.dim() == 2 && logits.size(0) == targets.size(0) &&
                  logits.size(1) == targets.size(1),
              "per_token_nll: expected logits (B,T,V) and targets (B,T), found "
                  << logits.sizes() << " and " << targets.sizes());
  const int64_t vocab = logits.size(2);
  const torch::Tensor flat = logits.reshape({-1, vocab}).to(torch::kFloat32);
  const torch::Tensor nll = torch::nn::functional::cross_entropy(
      flat, targets.reshape(-1).to(flat.device()),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  return nll.view(targets.sizes());
}

void BpbSums::all_reduce(const DistContext& dist) {
  if (!dist.all_reduce_sum || dist.world <= 1) return;
  torch::Tensor packed = torch::tensor({nll, tokens, bytes}, torch::kFloat64);
  dist.all_reduce_sum(packed);
  PGOLF_CHECK(packed.numel() == 3,
              "eval all-reduce returned " << packed.numel() << " values, expected 3");
  const torch::Tensor cpu = packed.to(torch::kCPU);
  nll = cpu[0].item<double>();
  tokens = cpu[1].item<double>();
  bytes = cpu[2].item<double>();
}

double BpbSums::loss() const { return tokens > 0 ? nll / tokens : 0.0; }

double BpbSums::bpb() const {
  if (tokens <= 0 || bytes <= 0) return 0.0;
  return loss() / std::log(2.0) * (tokens / bytes);
}

}  // namespace pgolf::eval
