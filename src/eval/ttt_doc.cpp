// TTT_MODE=doc_lora (see ttt_doc.h; eval_val_ttt_phased of the 1.0611 record). Score first: each
// chunk's NLL is summed from the forward whose loss then updates the adapters, and a phase's SGD
// trains only on documents whose every target has been scored.
#include "pgolf/eval/ttt_doc.h"

#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>
#include <thread>

#include "pgolf/core/error.h"

namespace pgolf::eval {

namespace {

// A counter shared by the ranks of one host (flock on a file), or a plain one in one process.
class SharedCounter {
 public:
  explicit SharedCounter(std::string path) : path_(std::move(path)) {}
  int64_t add(int64_t delta) {  // returns the value after adding
    if (path_.empty()) return value_ += delta;
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT, 0600);
    PGOLF_CHECK(fd >= 0, "TTT claim file " << path_ << ": cannot open");
    ::flock(fd, LOCK_EX);
    int64_t v = 0;
    if (::pread(fd, &v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) v = 0;
    v += delta;
    const bool ok = ::pwrite(fd, &v, sizeof v, 0) == static_cast<ssize_t>(sizeof v);
    ::flock(fd, LOCK_UN);
    ::close(fd);
    PGOLF_CHECK(ok, "TTT claim file " << path_ << ": cannot write");
    return v;
  }

 private:
  std::string path_;
  int64_t value_ = 0;
};

std::unique_ptr<torch::optim::Optimizer> make_opt(const DocLora& lora, const DocTttOptions& o) {
  if (o.optimizer == config::TttOptimizer::kSgd)
    return std::make_unique<torch::optim::SGD>(
        lora.parameters(),
        torch::optim::SGDOptions(o.lr).momentum(o.beta1).weight_decay(o.weight_decay));
  return std::make_unique<torch::optim::AdamW>(
      lora.parameters(), torch::optim::AdamWOptions(o.lr)
                             .betas(std::make_tuple(o.beta1, o.beta2))
                             .eps(o.adam_eps)
                             .weight_decay(o.weight_decay));
}

struct Chunk {
  torch::Tensor x, y, pos, scored;  // (B,C) ids, ids, target stream index, bool
  int64_t offset = 0;               // the full chunk's place in the context (training slice)
  torch::Tensor train_mask;         // (B) float: 1 where the document has a later chunk
};

Chunk build_chunk(const torch::Tensor& tokens, const std::vector<Document>& docs, int64_t ci,
                  const DocTttOptions& o) {
  const auto full = ttt_chunk_window(ci, (ci + 1) * o.chunk_size, o.chunk_size, o.eval_seq_len);
  const int64_t B = static_cast<int64_t>(docs.size()), C = full.win_len;
  Chunk c{torch::zeros({B, C}, torch::kInt64), torch::zeros({B, C}, torch::kInt64),
          torch::zeros({B, C}, torch::kInt64), torch::zeros({B, C}, torch::kBool), full.chunk_offset,
          torch::zeros({B}, torch::kFloat32)};
  for (int64_t b = 0; b < B; ++b) {
    const Document& d = docs[static_cast<size_t>(b)];
    const int64_t nc = ttt_num_chunks(d.length - 1, o.chunk_size);
    if (ci >= nc) continue;
    if (ci < nc - 1) c.train_mask[b] = 1.0;
    const auto w = ttt_chunk_window(ci, d.length - 1, o.chunk_size, o.eval_seq_len);
    const int64_t from = d.start + w.win_start;
    c.x[b].slice(0, 0, w.win_len).copy_(tokens.slice(0, from, from + w.win_len));
    c.y[b].slice(0, 0, w.win_len).copy_(tokens.slice(0, from + 1, from + w.win_len + 1));
    c.pos[b].slice(0, 0, w.win_len).copy_(torch::arange(from + 1, from + w.win_len + 1));
    c.scored[b].slice(0, w.chunk_offset, w.chunk_offset + w.chunk_len).fill_(true);
  }
  return c;
}

struct Sums {
  torch::Tensor nll;  // float64 scalar on the device
  BpbSums local;
  int64_t step = 0;   // scoring steps so far on this rank
};

torch::Tensor chunk_nll(model::BankedGPTImpl& m, const Chunk& c, const DocLora& lora,
                        const DocTttOptions& o) {
  return per_token_nll(m.forward_logits(c.x.to(o.device), {}, &lora), c.y);
}

// One batch: chunk by chunk, score then (documents with a later chunk) update the adapters.
void run_batch(model::BankedGPTImpl& m, const torch::Tensor& tokens, const ByteSource& bytes,
               const std::vector<Document>& docs, DocLora& lora, const DocTttOptions& o,
               Sums& sums) {
  auto opt = make_opt(lora, o);
  int64_t max_nc = 0;
  for (const auto& d : docs) max_nc = std::max(max_nc, ttt_num_chunks(d.length - 1, o.chunk_size));
  for (int64_t ci = 0; ci < max_nc; ++ci) {
    const Chunk c = build_chunk(tokens, docs, ci, o);
    const bool needs_train = c.train_mask.sum().item<double>() > 0;
    torch::Tensor nll;
    {
      torch::AutoGradMode grad_mode(needs_train);
      nll = chunk_nll(m, c, lora, o);  // (B,C) fp32
    }
    const auto scored = c.scored.to(nll.device());
    sums.nll += nll.detach().to(torch::kFloat64).masked_fill(scored.logical_not(), 0.0).sum();
    sums.local.tokens += static_cast<double>(c.scored.sum().item<int64_t>());
    sums.local.bytes += bytes.sum(c.x, c.y, c.pos, c.scored);
    const auto idx = (c.pos - 1).masked_select(c.scored);
    if (o.per_target_nll != nullptr)
      o.per_target_nll->index_put_(
          {idx}, nll.detach().to(torch::kCPU, torch::kFloat64).masked_select(c.scored));
    if (o.score_step != nullptr) o.score_step->index_fill_(0, idx, sums.step);
    ++sums.step;
    if (!needs_train) continue;
    const auto mask = c.train_mask.to(nll.device());
    for (int64_t g = 0; g < o.grad_steps; ++g) {
      if (g > 0) nll = chunk_nll(m, c, lora, o);
      const auto per_doc = nll.slice(1, c.offset, c.offset + o.chunk_size).mean(1);
      opt->zero_grad();
      (per_doc * mask).sum().backward();
      opt->step();
    }
  }
}

std::string list_str(const std::vector<int64_t>& v) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

void add_log(const DocTttOptions& o, const std::string& line) {
  if (o.log != nullptr) o.log->push_back(line);
}

}  // namespace

namespace {

// The phase machinery: which scored documents a phase trains on, and when it runs.
struct Phases {
  std::vector<int64_t> bounds;
  size_t current = 0;
  bool done = true;
  SharedCounter prefix_done;
  SharedCounter batches_done;  // multi-rank: batches every rank has finished (after their pause)
  std::string pause_file;      // multi-rank: the pause flag all ranks see
  bool pause_local = false;
  torch::Tensor scored;  // (num_docs) float64: 1 once a document is fully scored (this rank)

  bool pause_seen() const { return !pause_file.empty() && ::access(pause_file.c_str(), F_OK) == 0; }
  bool pause_requested(int64_t prefix) {
    if (prefix >= bounds[current]) {
      pause_local = true;
      if (!pause_file.empty()) ::close(::open(pause_file.c_str(), O_WRONLY | O_CREAT, 0600));
    }
    return pause_local || pause_seen();
  }
};

// The documents a phase trains on: every rank's scored documents in (batch, position) order, the
// first bounds[current] of them. Doubles as the ranks' barrier (one all-reduce).
std::vector<int64_t> phase_docs(Phases& ph, const DocBatches& db, const DistContext& dist) {
  torch::Tensor all = ph.scored.clone();
  if (dist.world > 1 && dist.all_reduce_sum) dist.all_reduce_sum(all);
  std::vector<int64_t> out;
  const auto* f = all.data_ptr<double>();
  for (const auto& batch : db.batches)
    for (int64_t d : batch)
      if (f[d] > 0 && static_cast<int64_t>(out.size()) < ph.bounds[ph.current]) out.push_back(d);
  return out;
}

void ranks_barrier(const DistContext& dist) {
  if (dist.world <= 1 || !dist.all_reduce_sum) return;
  torch::Tensor z = torch::zeros({1}, torch::kFloat64);
  dist.all_reduce_sum(z);
}

// What one evaluation shares between its batches, its phases and its ranks.
struct DocRun {
  model::BankedGPTImpl& m;
  const torch::Tensor& tokens;
  const std::vector<Document>& docs;
  const DocBatches& db;
  const DocTttOptions& o;
  const DistContext& dist;
  Phases& ph;
  std::unique_ptr<DocLora>& reusable;
};

// Phase ph.current, on every rank together: the base trains on exactly the first
// bounds[current] scored documents, then the adapters start afresh on the updated base.
void run_phase(DocRun& r) {
  Phases& ph = r.ph;
  const auto chosen = phase_docs(ph, r.db, r.dist);
  std::vector<torch::Tensor> parts;
  for (int64_t d : chosen) {
    const auto& doc = r.docs[static_cast<size_t>(d)];
    parts.push_back(r.tokens.slice(0, doc.start, doc.start + doc.length));
  }
  const std::string tag = std::to_string(ph.current + 1) + "/" + std::to_string(ph.bounds.size());
  add_log(r.o, "ttpp: phase:" + tag + " pd:" + std::to_string(ph.prefix_done.add(0)) +
                   " gd:" + std::to_string(chosen.size()));
  GlobalSgdOptions g = r.o.global;
  g.bos_id = r.o.bos_id;
  g.device = r.o.device;
  global_sgd(r.m, parts.empty() ? r.tokens.slice(0, 0, 0) : torch::cat(parts), g, r.dist, r.o.log);
  r.reusable = std::make_unique<DocLora>(r.m, r.o.batch_size, r.o.lora, r.o.device);
  ++ph.current;
  ph.pause_local = false;
  if (ph.current >= ph.bounds.size()) {
    ph.done = true;
  } else if (r.dist.rank == 0 && !ph.pause_file.empty()) {
    ::unlink(ph.pause_file.c_str());
  }
  ranks_barrier(r.dist);  // the flag is gone for everyone
  add_log(r.o, "ttpr: phase:" + std::to_string(ph.current) + "/" + std::to_string(ph.bounds.size()));
}

// A rank whose claims ran out while phases remain: a batch still running on another rank may
// trigger one, and a phase's collectives need every rank. Join each such phase; leave once every
// batch is done and no pause is pending (a rank raises the flag before it counts its batch done,
// so "all done, no flag" is final).
void join_pending_phases(DocRun& r, int64_t queue) {
  Phases& ph = r.ph;
  if (r.dist.world <= 1 || ph.pause_file.empty()) return;
  while (!ph.done) {
    if (ph.pause_seen()) {
      run_phase(r);
    } else if (ph.batches_done.add(0) >= queue) {
      if (!ph.pause_seen()) return;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

// Rank 0 zeroes the shared counters and clears the flag, then every rank starts together.
void reset_claims(const DocTttOptions& o, const Phases& ph, const DistContext& dist) {
  if (o.claim_file.empty()) return;
  if (dist.rank == 0) {
    for (const std::string& f : {o.claim_file, o.claim_file + ".prefix", o.claim_file + ".done"}) {
      const int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      PGOLF_CHECK(fd >= 0, "TTT claim file " << f << ": cannot create");
      ::close(fd);
    }
    ::unlink(ph.pause_file.c_str());
  }
  torch::Tensor z = torch::zeros({1}, torch::kFloat64);
  if (dist.all_reduce_sum) dist.all_reduce_sum(z);
}

Phases make_phases(int64_t n, const DocTttOptions& o) {
  const bool shared = !o.claim_file.empty();
  Phases ph{phase_boundaries(n, o.phased ? o.prefix_docs : 0, o.num_phases), 0, true,
            SharedCounter(shared ? o.claim_file + ".prefix" : ""),
            SharedCounter(shared ? o.claim_file + ".done" : ""),
            shared ? o.claim_file + ".pause" : "", false, torch::zeros({n}, torch::kFloat64)};
  ph.done = ph.bounds.back() == 0;
  if (o.phased)
    add_log(o, "ttt_phased: total_docs:" + std::to_string(n) + " prefix_docs:" +
                   std::to_string(ph.bounds.back()) + " suffix_docs:" +
                   std::to_string(n - ph.bounds.back()) + " num_phases:" +
                   std::to_string(ph.bounds.size()) + " boundaries:" + list_str(ph.bounds));
  return ph;
}

void init_records(const DocTttOptions& o, int64_t num_targets) {
  if (o.per_target_nll != nullptr)
    *o.per_target_nll =
        torch::full({num_targets}, std::numeric_limits<double>::quiet_NaN(), torch::kFloat64);
  if (o.score_step != nullptr) *o.score_step = torch::full({num_targets}, -1, torch::kInt64);
}

// One claimed batch: adapters (the reusable set, or a short batch's own, as the record), then
// chunk by chunk score and update. Returns the batch's size.
int64_t score_batch(DocRun& r, const ByteSource& bytes, const std::vector<int64_t>& batch,
                    Sums& sums) {
  std::vector<Document> bdocs;
  for (int64_t d : batch) bdocs.push_back(r.docs[static_cast<size_t>(d)]);
  const int64_t bsz = static_cast<int64_t>(bdocs.size());
  std::unique_ptr<DocLora> own;
  DocLora* lora = r.reusable.get();
  if (bsz == r.reusable->batch()) {
    r.reusable->reset();
  } else {
    own = std::make_unique<DocLora>(r.m, bsz, r.o.lora, r.o.device);
    lora = own.get();
  }
  run_batch(r.m, r.tokens, bytes, bdocs, *lora, r.o, sums);
  return bsz;
}

}  // namespace

EvalResult eval_ttt_doc(model::BankedGPTImpl& m, const torch::Tensor& val_tokens,
                        const ByteSource& bytes, const DocTttOptions& o,
                        const DistContext& dist) {
  PGOLF_CHECK_INPUT(o.chunk_size > 0 && o.eval_seq_len >= o.chunk_size && o.batch_size > 0 &&
                        o.grad_steps >= 1,
                    "doc_lora TTT: expected TTT_CHUNK_SIZE > 0, TTT_EVAL_SEQ_LEN >= it, "
                    "TTT_BATCH_SIZE > 0 and TTT_GRAD_STEPS >= 1");
  PGOLF_CHECK_INPUT(dist.world == 1 || !o.claim_file.empty(),
                    "doc_lora TTT on " << dist.world << " ranks needs a claim file");
  const torch::Tensor tokens = as_token_stream(val_tokens, "validation tokens");
  bytes.validate(tokens.numel(), "eval_ttt_doc");
  m.eval();
  for (auto& p : m.parameters()) p.set_requires_grad(false);
  const std::vector<Document> docs = find_documents(tokens, o.bos_id);
  const int64_t n = static_cast<int64_t>(docs.size());
  const DocBatches db = doc_batches(docs, o.batch_size);
  const int64_t queue = static_cast<int64_t>(db.order.size());
  Phases ph = make_phases(n, o);
  init_records(o, tokens.numel() - 1);
  reset_claims(o, ph, dist);
  SharedCounter claims(o.claim_file);
  ProgressReporter progress(o.progress, "ttt_doc", "documents", n);
  Sums sums{torch::zeros({}, torch::TensorOptions(torch::kFloat64).device(o.device)), {}, 0};
  auto reusable = std::make_unique<DocLora>(m, o.batch_size, o.lora, o.device);
  DocRun run{m, tokens, docs, db, o, dist, ph, reusable};
  int64_t local_docs = 0, local_batches = 0;
  while (true) {
    progress.poll();
    const int64_t qi = claims.add(1) - 1;
    if (qi >= queue) break;
    const auto& batch = db.batches[static_cast<size_t>(db.order[static_cast<size_t>(qi)])];
    const int64_t bsz = score_batch(run, bytes, batch, sums);
    local_docs += bsz;
    ++local_batches;
    if (progress.due(local_batches - 1, false)) {
      sums.local.nll = sums.nll.item<double>();
      progress.report(local_docs, sums.local);
    }
    if (ph.done) continue;
    for (int64_t d : batch) ph.scored[d] = 1.0;
    const bool pause = ph.pause_requested(ph.prefix_done.add(bsz));
    ph.batches_done.add(1);  // after the flag: join_pending_phases relies on this order
    if (pause) run_phase(run);
  }
  join_pending_phases(run, queue);
  sums.local.nll = sums.nll.item<double>();
  EvalResult r;
  r.method = "ttt_doc";
  r.units = n;
  r.local_units = local_docs;
  r.local_batches = local_batches;
  finish_result(r, sums.local, dist, progress);
  r.settings = {{"lora_rank", o.lora.rank},   {"lora_alpha", o.lora.alpha},
                {"lora_lr", o.lr},            {"chunk_size", o.chunk_size},
                {"eval_seq_len", o.eval_seq_len}, {"batch_size", o.batch_size},
                {"phased", o.phased},         {"phase_boundaries", ph.bounds},
                {"byte_sidecar", bytes.has_sidecar()}, {"world_size", dist.world}};
  return r;
}

}  // namespace pgolf::eval
