// AnyGPT (see any_gpt.h): one switch per call between the two GPTs.
#include "pgolf/model/any_gpt.h"

#include "pgolf/core/error.h"

namespace pgolf::model {

AnyGPT::AnyGPT(const config::ModelConfig& cfg) {
  if (cfg.param_banks)
    banked_ = BankedGPT(cfg);
  else
    gpt_ = GPT(cfg);
}

AnyGPT::AnyGPT(GPT gpt) : gpt_(std::move(gpt)) {}
AnyGPT::AnyGPT(BankedGPT banked) : banked_(std::move(banked)) {}

GPT& AnyGPT::gpt() {
  PGOLF_CHECK(gpt_, "AnyGPT: the PR #180 GPT was asked for, but this model is "
                        << (banked_ ? "the banked GPT" : "empty"));
  return gpt_;
}

BankedGPT& AnyGPT::banked() {
  PGOLF_CHECK(banked_, "AnyGPT: the banked GPT was asked for, but this model is "
                           << (gpt_ ? "the PR #180 GPT" : "empty"));
  return banked_;
}

torch::nn::Module& AnyGPT::module() const {
  PGOLF_CHECK(gpt_ || banked_, "AnyGPT: no model");
  // ptr(): the holders' const operator* would give a const module.
  if (banked_) return *banked_.ptr();
  return *gpt_.ptr();
}

namespace {
// The PR #180 GPT has no segment-restricted attention: refuse rather than attend densely.
void check_no_segments_for_gpt(const torch::Tensor& cu_seqlens) {
  PGOLF_CHECK_INPUT(!cu_seqlens.defined(),
                    "VARLEN_ATTN=1: the PR #180 GPT (PARAM_BANKS=0) cannot restrict attention to "
                    "documents (cu_seqlens); use PARAM_BANKS=1 or VARLEN_ATTN=0");
}
}  // namespace

torch::Tensor AnyGPT::forward(const torch::Tensor& ids, const torch::Tensor& targets,
                              const torch::Tensor& cu_seqlens) {
  if (banked_) return banked_->forward(ids, targets, cu_seqlens);
  check_no_segments_for_gpt(cu_seqlens);
  return gpt()->forward(ids, targets);
}

torch::Tensor AnyGPT::forward_logits(const torch::Tensor& ids, const torch::Tensor& cu_seqlens) {
  if (banked_) return banked_->forward_logits(ids, cu_seqlens);
  check_no_segments_for_gpt(cu_seqlens);
  return gpt()->forward_logits(ids);
}

std::vector<torch::Tensor> AnyGPT::parameters() const { return module().parameters(); }

core::NamedTensors AnyGPT::state_dict() const {
  return banked_ ? banked_->state_dict() : gpt_->state_dict();
}

void AnyGPT::load_state_dict(const core::NamedTensors& tensors, bool strict) {
  if (banked_)
    banked_->load_state_dict(tensors, strict);
  else
    gpt()->load_state_dict(tensors, strict);
}

int64_t AnyGPT::count_params() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void AnyGPT::bf16_round_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters()) p.copy_(p.to(torch::kBFloat16).to(p.scalar_type()));
}

void AnyGPT::train(bool on) { module().train(on); }

void AnyGPT::to(const torch::Device& device) { module().to(device); }

void AnyGPT::set_dtype_policy(DtypePolicy policy) {
  if (gpt_) return gpt_->set_dtype_policy(policy);
  PGOLF_CHECK_INPUT(policy != DtypePolicy::kReference,
                    "dtype=reference is the PR #180 record's bf16 arrangement; the banked GPT "
                    "(param_banks=1) trains with dtype=fp32 or dtype=bf16 (bf16 autocast, as the "
                    "1.0611 record)");
}

void AnyGPT::set_qat(const QatSettings& qat) {
  if (gpt_) return gpt_->set_qat(qat);
  PGOLF_CHECK_INPUT(!qat.clip_of, "late QAT (late_qat_frac) is not available for the banked GPT "
                         "(param_banks=1)");
}

bool AnyGPT::has_loops() const { return banked_ && banked_->config().num_loops > 0; }

bool AnyGPT::looping() const { return has_loops() && banked_->looping(); }

void AnyGPT::set_looping(bool on) {
  if (has_loops()) banked_->set_looping(on);
}

const config::ModelConfig& AnyGPT::config() const {
  return banked_ ? banked_->config() : gpt_->config();
}

}  // namespace pgolf::model
