// The pure parts of TTT_MODE=doc_lora (see ttt_doc.h): length-sorted document batches and their
// processing order, the phase boundaries, and the options from the configuration.
#include <algorithm>
#include <numeric>

#include "pgolf/eval/ttt_doc.h"

namespace pgolf::eval {

DocBatches doc_batches(const std::vector<Document>& docs, int64_t batch_size) {
  std::vector<int64_t> idx(docs.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return docs[static_cast<size_t>(a)].length < docs[static_cast<size_t>(b)].length;
  });
  DocBatches out;
  for (size_t i = 0; i < idx.size(); i += static_cast<size_t>(batch_size))
    out.batches.emplace_back(idx.begin() + static_cast<std::ptrdiff_t>(i),
                             idx.begin() + static_cast<std::ptrdiff_t>(
                                               std::min(idx.size(), i + batch_size)));
  auto longest = [&](size_t b) {
    int64_t m = 0;
    for (int64_t d : out.batches[b]) m = std::max(m, docs[static_cast<size_t>(d)].length);
    return m;
  };
  out.order.resize(out.batches.size());
  std::iota(out.order.begin(), out.order.end(), 0);
  std::stable_sort(out.order.begin(), out.order.end(), [&](int64_t a, int64_t b) {
    return longest(static_cast<size_t>(a)) > longest(static_cast<size_t>(b));
  });
  return out;
}

std::vector<int64_t> phase_boundaries(int64_t num_docs, int64_t prefix_docs, int64_t num_phases) {
  const int64_t prefix = std::max<int64_t>(0, std::min(num_docs, prefix_docs));
  const int64_t n = std::max<int64_t>(1, num_phases);
  std::vector<int64_t> out;
  for (int64_t p = 0; p < n; ++p) out.push_back(prefix * (p + 1) / n);
  return out;
}

DocTttOptions doc_ttt_options(const config::Config& cfg) {
  const auto& e = cfg.eval;
  DocTttOptions o;
  o.lora = {e.ttt_lora_rank, e.ttt_lora_alpha, e.ttt_k_lora, e.ttt_o_lora, e.ttt_mlp_lora,
            e.ttt_warm_start_a};
  o.lr = e.ttt_lora_lr;
  o.chunk_size = e.ttt_chunk_size;
  o.eval_seq_len = e.ttt_eval_seq_len;
  o.batch_size = e.ttt_batch_size;
  o.grad_steps = e.ttt_grad_steps;
  o.optimizer = e.ttt_optimizer;
  o.beta1 = e.ttt_beta1 >= 0 ? e.ttt_beta1 : cfg.optim.beta1;
  o.beta2 = e.ttt_beta2 >= 0 ? e.ttt_beta2 : cfg.optim.beta2;
  o.weight_decay = e.ttt_weight_decay;
  o.phased = e.phased_ttt_enabled;
  o.prefix_docs = e.phased_ttt_prefix_docs;
  o.num_phases = e.phased_ttt_num_phases;
  o.global = global_sgd_options(e, cfg.train.train_seq_len);
  o.global.freeze_blocks = 0;  // the phases train every parameter
  return o;
}

}  // namespace pgolf::eval
