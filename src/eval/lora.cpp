// Per-document LoRA adapters for TTT (see lora.h; BatchedLinearLoRA of the 2026-03-17_LoRA_TTT
// record).
#include "pgolf/eval/lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "pgolf/core/error.h"

namespace pgolf::eval {

torch::Tensor BatchedLora::forward(const torch::Tensor& x) const {
  // (B,T,in) @ (B,in,r) -> (B,T,r); @ (B,r,out) -> (B,T,out)
  const auto dtype = x.scalar_type();
  const auto d = torch::bmm(torch::bmm(x, a.transpose(1, 2).to(dtype)), b.transpose(1, 2).to(dtype));
  return scale == 1.0 ? d : d * scale;
}

std::vector<torch::Tensor> LoraState::parameters() const {
  std::vector<torch::Tensor> out{head.a, head.b};
  for (const BatchedLora& l : q) {
    out.push_back(l.a);
    out.push_back(l.b);
  }
  for (const BatchedLora& l : v) {
    out.push_back(l.a);
    out.push_back(l.b);
  }
  return out;
}

namespace {

// A rows drawn per document; B zero. Both become leaf tensors on `device` that require grad.
BatchedLora make_one(int64_t in, int64_t out, int64_t rank, std::vector<at::Generator>& gens,
                     torch::Device device) {
  const int64_t batch = static_cast<int64_t>(gens.size());
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  torch::Tensor a = torch::empty({batch, rank, in}, torch::kFloat32);
  for (int64_t i = 0; i < batch; ++i) a[i].uniform_(-bound, bound, gens[static_cast<size_t>(i)]);
  BatchedLora l;
  l.a = a.to(device).set_requires_grad(true);
  l.b = torch::zeros({batch, out, rank}, torch::TensorOptions(torch::kFloat32).device(device))
            .set_requires_grad(true);
  return l;
}

}  // namespace

LoraState make_lora(const LoraShapes& shapes, int64_t rank, const std::vector<uint64_t>& row_seeds,
                    torch::Device device) {
  PGOLF_CHECK_INPUT(rank > 0, "TTT_LORA_RANK must be positive, found " << rank);
  PGOLF_CHECK(!row_seeds.empty(), "make_lora: no rows");
  PGOLF_CHECK(
      shapes.model_dim > 0 && shapes.vocab_size > 0 && shapes.q_out.size() == shapes.v_out.size(),
      "make_lora: bad shapes (model_dim " << shapes.model_dim << ", vocab " << shapes.vocab_size
                                          << ", " << shapes.q_out.size() << " q / "
                                          << shapes.v_out.size() << " v blocks)");
  torch::NoGradGuard no_grad;
  std::vector<at::Generator> gens;
  gens.reserve(row_seeds.size());
  for (uint64_t s : row_seeds) gens.push_back(at::make_generator<at::CPUGeneratorImpl>(s));
  LoraState st;
  st.head = make_one(shapes.model_dim, shapes.vocab_size, rank, gens, device);
  for (int64_t out : shapes.q_out)
    st.q.push_back(make_one(shapes.model_dim, out, rank, gens, device));
  for (int64_t out : shapes.v_out)
    st.v.push_back(make_one(shapes.model_dim, out, rank, gens, device));
  return st;
}

}  // namespace pgolf::eval
