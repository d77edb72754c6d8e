// TokenStream / DistributedTokenLoader / load_validation_tokens, behaving like the reference's
// classes of the same names (reference-spec §2.4, §2.5), plus a resumable stream position.
#include "pgolf/data/loader.h"

#include <algorithm>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/data/sidecar.h"

namespace pgolf::data {
namespace {

void widen(const uint16_t* src, int64_t n, int64_t* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// Tokens [first, first + n) of `shard` widened into dst, read in bounded chunks through pread so
// that a shard truncated on disk is an input error naming it (see ShardReader::read_tokens).
void read_widened(const ShardReader& shard, int64_t first, int64_t n, int64_t* dst) {
  constexpr int64_t kChunk = int64_t{1} << 16;
  std::vector<uint16_t> buf(static_cast<size_t>(std::min(n, kChunk)));
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(n - done, kChunk);
    shard.read_tokens(first + done, k, buf.data());
    widen(buf.data(), k, dst + done);
    done += k;
  }
}

}  // namespace

void check_token_ids(const ShardReader& shard, int64_t vocab_size, int64_t count) {
  if (vocab_size <= 0) return;
  const int64_t n = count < 0 ? shard.num_tokens() : std::min(count, shard.num_tokens());
  constexpr int64_t kChunk = int64_t{1} << 16;
  std::vector<uint16_t> buf(static_cast<size_t>(std::min(std::max<int64_t>(n, 1), kChunk)));
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(n - done, kChunk);
    shard.read_tokens(done, k, buf.data());
    const uint16_t top = *std::max_element(buf.begin(), buf.begin() + k);
    if (top >= vocab_size) {  // rare: find the first offender only now
      const int64_t i = std::find_if(buf.begin(), buf.begin() + k,
                                     [&](uint16_t id) { return id >= vocab_size; }) -
                        buf.begin();
      PGOLF_FAIL_INPUT("shard " << shard.path() << ": token id " << buf[static_cast<size_t>(i)]
                                << " at token offset " << done + i << " (byte "
                                << kShardHeaderBytes + 2 * (done + i)
                                << ") is outside the vocabulary [0, " << vocab_size
                                << ") of VOCAB_SIZE=" << vocab_size
                                << "; the shard was encoded with another tokenizer or is corrupt");
    }
    done += k;
  }
}

nlohmann::json loader_state_to_json(const LoaderState& s) {
  return {{"file_index", s.file_index},
          {"position", s.position},
          {"num_files", s.num_files},
          {"tokens_consumed", s.tokens_consumed}};
}

LoaderState loader_state_from_json(const nlohmann::json& j) {
  LoaderState s;
  for (const char* key : {"file_index", "position", "num_files"}) {
    const bool present = j.is_object() && j.contains(key);
    PGOLF_CHECK_INPUT(present && j.at(key).is_number_integer(),
                      "loader state: expected an integer \"" << key << "\", found "
                          << (present ? j.at(key).type_name() : "none"));
  }
  s.file_index = j.at("file_index").get<int64_t>();
  s.position = j.at("position").get<int64_t>();
  s.num_files = j.at("num_files").get<int64_t>();
  if (j.contains("tokens_consumed")) {
    PGOLF_CHECK_INPUT(j.at("tokens_consumed").is_number_integer(),
                      "loader state: \"tokens_consumed\" is not an integer");
    s.tokens_consumed = j.at("tokens_consumed").get<int64_t>();
  }
  return s;
}

std::vector<std::string> resolve_files(const std::string& data_path,
                                       const std::string& glob_pattern) {
  std::string pattern = glob_pattern;
  if (!glob_pattern.empty() && glob_pattern[0] != '/' && !data_path.empty()) {
    pattern = data_path + (data_path.back() == '/' ? "" : "/") + glob_pattern;
  }
  // A byte sidecar (fineweb_val_bytes_*.bin, matched by the default fineweb_val_*.bin) is never
  // read as tokens: it pairs with a token shard instead (sidecar.h).
  std::vector<std::string> files;
  int64_t sidecars = 0;
  for (auto& f : core::glob_sorted(pattern)) {
    if (is_byte_sidecar(f)) {
      ++sidecars;
    } else {
      files.push_back(std::move(f));
    }
  }
  PGOLF_CHECK_INPUT(!files.empty(), "no files match " << pattern << " (DATA_PATH=" << data_path
                                                      << ", pattern " << glob_pattern << ")"
                                                      << (sidecars > 0 ? "; only byte sidecars "
                                                          "(*_bytes_*), which are not token shards"
                                                                       : ""));
  return files;
}

// ---- TokenStream ------------------------------------------------------------------------------

TokenStream::TokenStream(std::vector<std::string> files, int64_t vocab_size)
    : files_(std::move(files)), vocab_size_(vocab_size), ids_checked_(files_.size(), false) {
  PGOLF_CHECK_INPUT(!files_.empty(), "token stream: no shard files given");
  int64_t total = 0;
  for (const auto& f : files_) {
    sizes_.push_back(read_shard_info(f).num_tokens);
    total += sizes_.back();
  }
  PGOLF_CHECK_INPUT(total > 0, "token stream: all " << files_.size() << " shards (first "
                                                    << files_[0] << ") hold 0 tokens");
  open_file(0);
}

void TokenStream::open_file(size_t index) {
  if (index != file_index_ || current_.tokens() == nullptr) {
    current_ = ShardReader(files_[index]);
    PGOLF_CHECK_INPUT(current_.num_tokens() == sizes_[index],
                      "shard " << files_[index] << " changed while in use: it had " << sizes_[index]
                               << " tokens, now " << current_.num_tokens());
    if (!ids_checked_[index]) {  // once per file: the stream wraps around to files it has seen
      check_token_ids(current_, vocab_size_);
      ids_checked_[index] = true;
    }
  }
  file_index_ = index;
  pos_ = 0;
}

// Same loop as the reference take(): use what is left of the current file, move to the next
// file (wrapping to 0) only when the current one is exhausted and more tokens are needed.
template <class Sink>
void TokenStream::consume(int64_t n, Sink&& sink) {
  PGOLF_CHECK(n >= 0, "token stream: cannot take " << n << " tokens");
  int64_t remaining = n;
  while (remaining > 0) {
    const int64_t avail = sizes_[file_index_] - pos_;
    if (avail <= 0) {
      open_file((file_index_ + 1) % files_.size());
      continue;
    }
    const int64_t k = std::min(remaining, avail);
    sink(pos_, k);
    pos_ += k;
    remaining -= k;
  }
  consumed_ += n;
}

void TokenStream::take(int64_t n, int64_t* out) {
  consume(n, [this, &out](int64_t pos, int64_t k) {
    read_widened(current_, pos, k, out);
    out += k;
  });
}

torch::Tensor TokenStream::take(int64_t n) {
  auto t = torch::empty({n}, torch::kInt64);
  take(n, t.data_ptr<int64_t>());
  return t;
}

void TokenStream::skip(int64_t n) {
  consume(n, [](int64_t, int64_t) {});
}

LoaderState TokenStream::state() const {
  return {static_cast<int64_t>(file_index_), pos_, static_cast<int64_t>(files_.size()), consumed_};
}

void TokenStream::restore(const LoaderState& s) {
  PGOLF_CHECK_INPUT(s.num_files == static_cast<int64_t>(files_.size()),
                    "loader state was saved for " << s.num_files << " shard files, but "
                                                  << files_.size() << " match now");
  PGOLF_CHECK_INPUT(
      s.file_index >= 0 && s.file_index < s.num_files,
      "loader state: file_index " << s.file_index << " outside [0, " << s.num_files << ")");
  const int64_t size = sizes_[static_cast<size_t>(s.file_index)];
  PGOLF_CHECK_INPUT(s.position >= 0 && s.position <= size,
                    "loader state: position " << s.position << " outside [0, " << size << "] of "
                                              << files_[s.file_index]);
  open_file(static_cast<size_t>(s.file_index));
  pos_ = s.position;
  consumed_ = s.tokens_consumed;
}

// ---- DistributedTokenLoader -------------------------------------------------------------------

DistributedTokenLoader::DistributedTokenLoader(std::vector<std::string> files, int rank,
                                               int world_size, int64_t vocab_size)
    : rank_(rank), world_size_(world_size), stream_(std::move(files), vocab_size) {
  PGOLF_CHECK_INPUT(
      world_size >= 1 && rank >= 0 && rank < world_size,
      "token loader: rank " << rank << " outside [0, world_size=" << world_size << ")");
}

std::pair<torch::Tensor, torch::Tensor> DistributedTokenLoader::next_batch(
    int64_t global_tokens, int64_t seq_len, int64_t grad_accum_steps) {
  const auto tokens = next_span(global_tokens, seq_len, grad_accum_steps);
  const int64_t local = tokens.numel() - 1;
  auto x = tokens.narrow(0, 0, local).view({-1, seq_len});  // (local/seq_len, seq_len)
  auto y = tokens.narrow(0, 1, local).view({-1, seq_len});  // (local/seq_len, seq_len)
  return {x, y};
}

torch::Tensor DistributedTokenLoader::next_span(int64_t global_tokens, int64_t seq_len,
                                                int64_t grad_accum_steps) {
  PGOLF_CHECK_INPUT(global_tokens > 0 && seq_len > 0 && grad_accum_steps > 0,
                    "next_batch: global_tokens " << global_tokens << ", seq_len " << seq_len
                                                 << ", grad_accum_steps " << grad_accum_steps
                                                 << " must all be positive");
  const int64_t local = global_tokens / (world_size_ * grad_accum_steps);
  PGOLF_CHECK_INPUT(local > 0 && local % seq_len == 0,
                    "next_batch: " << global_tokens << " tokens / (world_size " << world_size_
                                   << " * grad_accum_steps " << grad_accum_steps << ") = " << local
                                   << " tokens per rank, expected a positive multiple "
                                   << "of seq_len " << seq_len);
  const int64_t span = local + 1;  // the last token of a span is only a target
  // Equivalent to taking world_size spans and slicing out ours, without copying the others.
  stream_.skip(rank_ * span);
  auto tokens = stream_.take(span);
  stream_.skip((world_size_ - 1 - rank_) * span);
  return tokens;
}

// ---- validation -------------------------------------------------------------------------------

torch::Tensor load_validation_tokens(const std::vector<std::string>& files, int64_t seq_len,
                                     int64_t vocab_size) {
  PGOLF_CHECK_INPUT(!files.empty(), "validation: no shard files given");
  PGOLF_CHECK_INPUT(seq_len > 0, "validation: seq_len must be positive, found " << seq_len);
  int64_t total = 0;
  for (const auto& f : files) total += read_shard_info(f).num_tokens;
  const int64_t usable = total > 0 ? ((total - 1) / seq_len) * seq_len : 0;
  PGOLF_CHECK_INPUT(usable > 0, "validation split is too short for TRAIN_SEQ_LEN="
                                    << seq_len << ": " << files.size() << " file(s) hold " << total
                                    << " tokens, need at least " << seq_len + 1);
  auto out = torch::empty({usable + 1}, torch::kInt64);
  int64_t* dst = out.data_ptr<int64_t>();
  int64_t filled = 0;
  for (size_t i = 0; i < files.size() && filled < usable + 1; ++i) {
    ShardReader shard(files[i]);
    const int64_t k = std::min(shard.num_tokens(), usable + 1 - filled);
    check_token_ids(shard, vocab_size, k);  // before training, not after it in the final eval
    read_widened(shard, 0, k, dst + filled);
    filled += k;
  }
  PGOLF_CHECK(filled == usable + 1, "validation: read " << filled << " tokens, expected "
                                                        << usable + 1
                                                        << " (did a shard change on disk?)");
  return out;
}

}  // namespace pgolf::data
