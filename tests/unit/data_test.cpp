// Unit tests for pgolf::data: shard round trip and every corruption rejected, the token stream and
// per-rank slicing against a naive model of the reference (reference-spec §2.4), resume state,
// validation truncation (§2.5), the encode pipeline, and the loader against golden batches.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/data/encode.h"
#include "pgolf/data/loader.h"
#include "pgolf/data/shard.h"

namespace pgolf::data {
namespace {

std::string make_temp_dir() {
  std::string tmpl = ::testing::TempDir() + "/pgolf_data_XXXXXX";
  char* dir = ::mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

// Runs `fn`, expects a pgolf input error whose message contains every needle.
template <class Fn>
void expect_input_error(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning " << needles[0];
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
    for (const auto& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << n << "\"";
  }
}

// Raw bytes of a shard whose header fields are given explicitly.
std::string raw_shard(int32_t magic, int32_t version, int32_t count, size_t token_bytes) {
  std::string bytes(1024 + token_bytes, '\0');
  auto put = [&](size_t off, int32_t v) { std::memcpy(&bytes[off], &v, 4); };
  put(0, magic);
  put(4, version);
  put(8, count);
  return bytes;
}

// ---- shards -----------------------------------------------------------------------------------

TEST(ShardTest, RoundTripKeepsTokensAndHeader) {
  const std::string path = make_temp_dir() + "/s.bin";
  std::vector<uint16_t> toks = {1, 0, 65535, 1023, 7, 42};
  write_shard(path, toks);
  EXPECT_EQ(core::file_size(path), 1024u + 2 * toks.size());
  EXPECT_TRUE(core::glob_sorted(path + ".tmp.*").empty()) << "temporary file left behind";
  ShardReader r(path);
  EXPECT_EQ(r.num_tokens(), 6);
  EXPECT_EQ(r.header_word(0), 20240520);
  EXPECT_EQ(r.header_word(1), 1);
  EXPECT_EQ(r.header_word(2), 6);
  for (int w = 3; w < 256; ++w) ASSERT_EQ(r.header_word(w), 0) << "word " << w;
  EXPECT_EQ(read_shard(path), toks);
  const auto bytes = core::read_file(path);  // little-endian on disk
  EXPECT_EQ(bytes[1024 + 4], 0xFF);
  EXPECT_EQ(bytes[1024 + 6], 0xFF);
  EXPECT_EQ(bytes[1024 + 7], 0x03);
  const auto st = shard_stats(r, 1);
  EXPECT_EQ(st.min_id, 0);
  EXPECT_EQ(st.max_id, 65535);
  EXPECT_EQ(st.bos_count, 1);
}

TEST(ShardTest, EmptyShardIsValid) {
  const std::string path = make_temp_dir() + "/e.bin";
  write_shard(path, std::vector<uint16_t>{});
  EXPECT_EQ(ShardReader(path).num_tokens(), 0);
}

TEST(ShardTest, RejectsEveryCorruption) {
  const std::string dir = make_temp_dir();
  auto write = [&](const std::string& name, const std::string& bytes) {
    core::write_file_atomic(dir + "/" + name, bytes);
    return dir + "/" + name;
  };
  const auto magic = write("magic.bin", raw_shard(20240521, 1, 2, 4));
  expect_input_error([&] { ShardReader r(magic); }, {magic, "magic", "20240520", "20240521"});
  const auto version = write("version.bin", raw_shard(20240520, 2, 2, 4));
  expect_input_error([&] { ShardReader r(version); }, {version, "version", "expected 1", "2"});
  const auto extra = write("extra.bin", raw_shard(20240520, 1, 2, 6));
  expect_input_error([&] { ShardReader r(extra); }, {extra, "1028", "1030", "2 extra"});
  const auto short_file = write("short.bin", raw_shard(20240520, 1, 100, 10));
  expect_input_error([&] { ShardReader r(short_file); },
                     {short_file, "short file", "100 tokens", "1224", "1034"});
  const auto header = write("header.bin", std::string(1000, '\0'));
  expect_input_error([&] { read_shard_info(header); }, {header, "truncated header", "1000"});
  const auto negative = write("negative.bin", raw_shard(20240520, 1, -5, 0));
  expect_input_error([&] { ShardReader r(negative); }, {negative, "-5"});
  expect_input_error([&] { ShardReader r(dir + "/missing.bin"); }, {dir + "/missing.bin"});
}

TEST(ShardTest, WriterRejectsTooManyTokens) {
  const uint16_t t = 0;
  expect_input_error([&] { write_shard("/tmp/never.bin", &t, int64_t{1} << 31); },
                     {"2147483648", "2147483647"});
}

// ---- token stream and loader --------------------------------------------------------------------

// Shards whose tokens encode (file, index) so every token is distinguishable.
std::vector<std::string> make_shards(const std::string& dir, const std::vector<int>& sizes) {
  std::vector<std::string> files;
  for (size_t f = 0; f < sizes.size(); ++f) {
    std::vector<uint16_t> toks(sizes[f]);
    for (int i = 0; i < sizes[f]; ++i) toks[i] = static_cast<uint16_t>(1000 * (f + 1) + i);
    files.push_back(dir + "/" + shard_file_name("train", f));
    write_shard(files.back(), toks);
  }
  return files;
}

// Naive model of the reference stream: the concatenation of all files, repeated forever.
struct NaiveStream {
  std::vector<int64_t> all;
  int64_t pos = 0;
  explicit NaiveStream(const std::vector<std::string>& files) {
    for (const auto& f : files)
      for (uint16_t t : read_shard(f)) all.push_back(t);
  }
  std::vector<int64_t> take(int64_t n) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < n; ++i) out.push_back(all[(pos + i) % all.size()]);
    pos += n;
    return out;
  }
};

std::vector<int64_t> to_vec(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

TEST(TokenStreamTest, TakeConcatenatesAcrossFilesAndWrapsForever) {
  const auto files = make_shards(make_temp_dir(), {5, 0, 3, 4});  // an empty file is skipped
  TokenStream stream(files);
  NaiveStream naive(files);
  for (int64_t n : {2, 3, 1, 7, 12, 0, 25, 4}) EXPECT_EQ(to_vec(stream.take(n)), naive.take(n));
}

TEST(TokenStreamTest, RejectsAllEmptyFiles) {
  const auto files = make_shards(make_temp_dir(), {0, 0});
  expect_input_error([&] { TokenStream s(files); }, {"0 tokens", files[0]});
}

// Issue #10: a shard truncated under a running stream is an input error naming it (the stream
// reads with pread; through the memory map this was a SIGBUS).
TEST(TokenStreamTest, ShardShrinkingWhileOpenIsAnInputError) {
  const auto files = make_shards(make_temp_dir(), {5000});
  TokenStream stream(files);
  stream.take(10);
  ASSERT_EQ(::truncate(files[0].c_str(), 1024 + 2 * 100), 0);
  expect_input_error([&] { stream.take(1000); }, {files[0], "shrank while in use", "5000 tokens"});
}

TEST(TokenLoaderTest, SlicesDisjointSpansPerRank) {
  const auto files = make_shards(make_temp_dir(), {50, 40, 30});
  const int world = 4;
  const int64_t global = 32, seq = 4;  // local = 8 tokens = 2 x 4 per rank, span 9
  NaiveStream naive(files);
  std::vector<DistributedTokenLoader> loaders;
  for (int r = 0; r < world; ++r) loaders.emplace_back(files, r, world);
  for (int step = 0; step < 10; ++step) {  // 10 x 36 tokens: wraps past 120 tokens
    const auto chunk = naive.take(world * 9);
    for (int r = 0; r < world; ++r) {
      auto [x, y] = loaders[r].next_batch(global, seq, 1);
      ASSERT_EQ(x.sizes(), (std::vector<int64_t>{2, 4}));
      ASSERT_EQ(x.dtype(), torch::kInt64);
      std::vector<int64_t> span(chunk.begin() + r * 9, chunk.begin() + (r + 1) * 9);
      EXPECT_EQ(to_vec(x), std::vector<int64_t>(span.begin(), span.end() - 1)) << "rank " << r;
      EXPECT_EQ(to_vec(y), std::vector<int64_t>(span.begin() + 1, span.end())) << "rank " << r;
    }
  }
  for (int r = 0; r < world; ++r) EXPECT_EQ(loaders[r].state().tokens_consumed, 10 * 36);
}

TEST(TokenLoaderTest, OneRankEightMicroStepsEqualsEightRanks) {
  const auto files = make_shards(make_temp_dir(), {300, 170});
  const int64_t global = 128, seq = 8;  // local = 16 for both layouts
  DistributedTokenLoader single(files, 0, 1);
  std::vector<DistributedTokenLoader> ranks;
  for (int r = 0; r < 8; ++r) ranks.emplace_back(files, r, 8);
  for (int step = 0; step < 6; ++step) {
    for (int r = 0; r < 8; ++r) {
      auto [x1, y1] = single.next_batch(global, seq, 8);
      auto [x8, y8] = ranks[r].next_batch(global, seq, 1);
      ASSERT_TRUE(torch::equal(x1, x8)) << "step " << step << " micro/rank " << r;
      ASSERT_TRUE(torch::equal(y1, y8)) << "step " << step << " micro/rank " << r;
    }
  }
}

TEST(TokenLoaderTest, StateRoundTripResumesExactly) {
  const auto files = make_shards(make_temp_dir(), {37, 23});
  DistributedTokenLoader a(files, 1, 2);
  for (int i = 0; i < 3; ++i) a.next_batch(24, 4, 1);
  const auto saved = loader_state_from_json(loader_state_to_json(a.state()));
  DistributedTokenLoader b(files, 1, 2);
  b.restore(saved);
  for (int i = 0; i < 5; ++i) {
    auto [xa, ya] = a.next_batch(24, 4, 1);
    auto [xb, yb] = b.next_batch(24, 4, 1);
    ASSERT_TRUE(torch::equal(xa, xb) && torch::equal(ya, yb)) << "batch " << i;
  }
  auto bad = saved;
  bad.num_files = 3;
  expect_input_error([&] { b.restore(bad); }, {"3 shard files", "2 match"});
  bad = saved;
  bad.position = 99;
  expect_input_error([&] { b.restore(bad); }, {"position 99"});
  expect_input_error([&] { loader_state_from_json({{"position", 1}}); }, {"file_index"});
}

TEST(TokenLoaderTest, RejectsBatchThatIsNotWholeSequences) {
  const auto files = make_shards(make_temp_dir(), {100});
  DistributedTokenLoader l(files, 0, 2);
  expect_input_error([&] { l.next_batch(20, 4, 1); }, {"10 tokens per rank", "seq_len 4"});
  expect_input_error([&] { DistributedTokenLoader bad(files, 2, 2); }, {"rank 2"});
}

TEST(ResolveFilesTest, SortsAndReportsMissingPattern) {
  const std::string dir = make_temp_dir();
  make_shards(dir, {1, 1, 1});
  auto files = resolve_files(dir, "fineweb_train_*.bin");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  EXPECT_EQ(resolve_files("/elsewhere", dir + "/fineweb_train_*.bin"), files);
  expect_input_error([&] { resolve_files(dir, "fineweb_val_*.bin"); }, {dir, "fineweb_val_*"});
}

// ---- validation ---------------------------------------------------------------------------------

TEST(ValidationTest, TruncatesToWholeSequencesPlusOne) {
  const auto files = make_shards(make_temp_dir(), {10, 7});  // N = 17
  NaiveStream naive(files);
  auto t4 = load_validation_tokens(files, 4);  // usable 16 -> 17 tokens
  EXPECT_EQ(to_vec(t4), naive.all);
  auto t5 = load_validation_tokens(files, 5);  // usable 15 -> 16 tokens
  EXPECT_EQ(to_vec(t5), std::vector<int64_t>(naive.all.begin(), naive.all.begin() + 16));
  auto t16 = load_validation_tokens(files, 16);
  EXPECT_EQ(t16.numel(), 17);
  expect_input_error([&] { load_validation_tokens(files, 17); }, {"TRAIN_SEQ_LEN=17", "17 tokens"});
}

// Issue #17: ids outside the vocabulary are named (file, token offset, id) when a shard is opened,
// not left to fail inside the embedding; the check spans more than one read chunk (65536 tokens).
TEST(TokenIdCheckTest, IdOutsideVocabularyNamesFileOffsetAndId) {
  const std::string dir = make_temp_dir();
  std::vector<uint16_t> good(70000, 5), bad = good;
  bad[66000] = 1500;
  write_shard(dir + "/fineweb_train_000000.bin", good);
  write_shard(dir + "/fineweb_train_000001.bin", bad);
  const std::vector<std::string> files = {dir + "/fineweb_train_000000.bin",
                                          dir + "/fineweb_train_000001.bin"};
  check_token_ids(ShardReader(files[0]), 1024);  // in range: no error
  check_token_ids(ShardReader(files[1]), 1501);
  check_token_ids(ShardReader(files[1]), 1024, /*count=*/66000);  // the bad id is not in range
  expect_input_error([&] { check_token_ids(ShardReader(files[1]), 1024); },
                     {files[1], "token id 1500", "token offset 66000", "[0, 1024)"});
  // The stream checks each shard when it opens it: shard 1 on the first take past shard 0.
  TokenStream stream(files, 1024);
  stream.take(70000);
  expect_input_error([&] { stream.take(1); }, {files[1], "token offset 66000"});
  TokenStream unchecked(files);  // vocab_size 0: no check (inspection tools)
  unchecked.take(140000);
  // Validation tokens are checked as they are read.
  expect_input_error([&] { load_validation_tokens({files[1]}, 64, 1024); },
                     {files[1], "token id 1500", "token offset 66000"});
  EXPECT_EQ(load_validation_tokens({files[1]}, 64, 1501).numel(), 69952 + 1);
}

// ---- encode -------------------------------------------------------------------------------------

// Byte-level stand-in for SentencePiece: id = byte + 4 (the reference's byte260 layout).
std::vector<std::vector<int>> byte_encoder(const std::vector<std::string>& docs) {
  std::vector<std::vector<int>> out;
  for (const auto& d : docs) {
    out.emplace_back();
    for (unsigned char c : d) out.back().push_back(c + 4);
  }
  return out;
}

std::vector<uint16_t> doc_tokens(const std::string& doc) {
  std::vector<uint16_t> t = {1};
  for (unsigned char c : doc) t.push_back(static_cast<uint16_t>(c + 4));
  return t;
}

TEST(EncodeTest, TextDocumentsToValAndTrainShards) {
  const std::string dir = make_temp_dir();
  core::write_file_atomic(dir + "/in.txt",
                          std::string("\n\nalpha\nbeta\r\n\n \t\ngamma\n\n\ndelta"));
  DocumentReader docs(dir + "/in.txt", DocFormat::kAuto);
  EncodeOptions o;
  o.output_dir = dir + "/out";
  o.num_val_docs = 1;
  o.shard_size = 5;
  o.vocab_size = 260;
  o.batch_docs = 2;
  const auto st = encode_documents(docs, byte_encoder, o);
  EXPECT_EQ(st.docs_total, 3);
  EXPECT_EQ(st.docs_val, 1);
  EXPECT_EQ(st.docs_train, 2);
  // val: BOS "alpha\nbeta" = 11 tokens -> shards of 5, 5, 1 (flushed at the split change)
  auto val = resolve_files(o.output_dir, "fineweb_val_*.bin");
  ASSERT_EQ(val.size(), 3u);
  EXPECT_EQ(val[0], o.output_dir + "/fineweb_val_000000.bin");
  std::vector<uint16_t> got;
  for (const auto& f : val)
    for (uint16_t t : read_shard(f)) got.push_back(t);
  EXPECT_EQ(got, doc_tokens("alpha\nbeta"));
  EXPECT_EQ(read_shard(val[2]).size(), 1u);
  // train: BOS gamma BOS delta = 12 tokens -> 5, 5, 2; documents straddle shards
  auto train = resolve_files(o.output_dir, "fineweb_train_*.bin");
  ASSERT_EQ(train.size(), 3u);
  got.clear();
  for (const auto& f : train)
    for (uint16_t t : read_shard(f)) got.push_back(t);
  auto expect = doc_tokens("gamma");
  for (uint16_t t : doc_tokens("delta")) expect.push_back(t);
  EXPECT_EQ(got, expect);
  EXPECT_EQ(st.tokens_val + st.tokens_train, 23);
  EXPECT_EQ(st.files.size(), 6u);
  // Existing shards are only replaced on request.
  DocumentReader again(dir + "/in.txt", DocFormat::kText);
  expect_input_error([&] { encode_documents(again, byte_encoder, o); }, {"--overwrite"});
  o.overwrite = true;
  o.shard_size = 1000;
  DocumentReader third(dir + "/in.txt", DocFormat::kText);
  encode_documents(third, byte_encoder, o);
  EXPECT_EQ(resolve_files(o.output_dir, "fineweb_*.bin").size(), 2u) << "stale shards left";
}

TEST(EncodeTest, JsonlTextFieldAndErrors) {
  const std::string dir = make_temp_dir();
  core::write_file_atomic(dir + "/in.jsonl",
                          std::string("{\"text\": \"a\\n\\nb\", \"id\": 1}\n\n{\"text\": \"\"}\n"));
  DocumentReader docs(dir + "/in.jsonl", DocFormat::kAuto);
  EXPECT_EQ(docs.format(), DocFormat::kJsonl);
  EXPECT_EQ(read_documents(docs, 0), (std::vector<std::string>{"a\n\nb", ""}));
  core::write_file_atomic(dir + "/bad.jsonl", std::string("{\"text\": \"x\"}\n{\"body\": 1}\n"));
  DocumentReader bad(dir + "/bad.jsonl", DocFormat::kAuto);
  expect_input_error([&] { read_documents(bad, 0); }, {"bad.jsonl:2", "\"text\""});
  core::write_file_atomic(dir + "/broken.jsonl", std::string("{\"text\": \n"));
  DocumentReader broken(dir + "/broken.jsonl", DocFormat::kJsonl);
  expect_input_error([&] { read_documents(broken, 0); }, {"broken.jsonl:1", "invalid JSON"});
  // Ids outside the vocab are rejected with the document index ('~' is byte 126, id 130).
  core::write_file_atomic(dir + "/hi.txt", std::string("ok\n\n~"));
  DocumentReader hi(dir + "/hi.txt", DocFormat::kText);
  EncodeOptions o;
  o.output_dir = dir + "/out";
  o.vocab_size = 130;
  expect_input_error([&] { encode_documents(hi, byte_encoder, o); },
                     {"document 1", "id 130", "[0, 130)"});
  expect_input_error([&] { parse_doc_format("csv"); }, {"csv"});
}

// Issue 17 item 14: invalid UTF-8 is an error naming file, line and offset, or (asked for)
// replaced by U+FFFD and counted.
TEST(EncodeTest, InvalidUtf8IsAnErrorOrAnExplicitReplacement) {
  EXPECT_EQ(invalid_utf8_offset("plain ascii"), std::string::npos);
  EXPECT_EQ(invalid_utf8_offset("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::string::npos);
  EXPECT_EQ(invalid_utf8_offset("ab\xff"), 2u);
  EXPECT_EQ(invalid_utf8_offset("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("x\xed\xa0\x80"), 1u);     // a surrogate
  EXPECT_EQ(invalid_utf8_offset("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("\xe2\x82"), 0u);          // truncated
  std::string s = "a\xff" "b\xe2\x82" "c\xe2\x82\xac";  // split: b and c are hex digits
  EXPECT_EQ(replace_invalid_utf8(s), 2);  // \xff, then the truncated \xe2\x82 as one
  EXPECT_EQ(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xe2\x82\xac");

  const std::string dir = make_temp_dir();
  core::write_file_atomic(dir + "/bad.txt", std::string("good line\n\nok \xff here\nend\n"));
  DocumentReader strict(dir + "/bad.txt", DocFormat::kText);
  expect_input_error([&] { read_documents(strict, 0); },
                     {"bad.txt:3: invalid UTF-8 at byte 4 of the line (file offset 14, byte 0xff)",
                      "--replace-invalid-utf8"});
  DocumentReader lenient(dir + "/bad.txt", DocFormat::kText, /*replace_invalid_utf8=*/true);
  EXPECT_EQ(read_documents(lenient, 0),
            (std::vector<std::string>{"good line", "ok \xef\xbf\xbd here\nend"}));
  EXPECT_EQ(lenient.invalid_utf8_replaced(), 1);
  core::write_file_atomic(dir + "/bad.jsonl", std::string("{\"text\": \"x\xfe" "\"}\n"));
  DocumentReader jsonl(dir + "/bad.jsonl", DocFormat::kAuto);
  expect_input_error([&] { read_documents(jsonl, 0); }, {"bad.jsonl:1: invalid UTF-8 at byte 12"});
}

// ---- golden: the reference's own batches and validation truncation ------------------------------

std::vector<std::string> golden_case_dirs() {
  std::vector<std::string> roots;
  if (const char* r = std::getenv("PGOLF_GOLDEN_ROOT")) roots.push_back(r);
  if (const char* extra = std::getenv("PGOLF_GOLDEN_DIRS")) {
    std::stringstream ss(extra);
    for (std::string d; std::getline(ss, d, ':');)
      if (!d.empty()) roots.push_back(d);
  }
  std::vector<std::string> dirs;
  for (const auto& r : roots)  // r/<case>/ or r/<set>/<case>/ (tests/golden/cases/seed/...)
    for (const char* pattern : {"/*/manifest.json", "/*/*/manifest.json"})
      for (const auto& m : core::glob_sorted(r + pattern))
        dirs.push_back(m.substr(0, m.size() - std::string("/manifest.json").size()));
  return dirs;
}

torch::Tensor golden_int_tensor(const std::string& dir, const nlohmann::json& meta) {
  const auto blob = core::read_file(dir + "/tensors.bin");
  const auto offset = meta.at("offset").get<size_t>();
  const auto shape = meta.at("shape").get<std::vector<int64_t>>();
  const auto dtype = meta.at("dtype").get<std::string>() == "int64" ? torch::kInt64 : torch::kInt32;
  auto t = torch::empty(shape, dtype);
  std::memcpy(t.data_ptr(), blob.data() + offset, meta.at("nbytes").get<size_t>());
  return t.to(torch::kInt64);
}

TEST(TokenLoaderGoldenTest, ReproducesReferenceBatchesAndValidationTokens) {
  int checked = 0;
  for (const auto& dir : golden_case_dirs()) {
    const auto m = nlohmann::json::parse(core::read_text_file(dir + "/manifest.json"));
    const auto& cfg = m.at("config");
    const auto& tensors = m.at("tensors");
    if (m.at("kind") == "train_steps" && tensors.contains("batches_x")) {
      const int world = cfg.at("world_size"), accum = cfg.at("grad_accum_steps");
      const auto bx = golden_int_tensor(dir, tensors.at("batches_x"));
      const auto by = golden_int_tensor(dir, tensors.at("batches_y"));
      DistributedTokenLoader loader({dir + "/" + cfg.at("train_files").get<std::string>()}, 0,
                                    world);
      for (int64_t s = 0; s < bx.size(0); ++s) {
        for (int64_t k = 0; k < accum; ++k) {
          auto [x, y] =
              loader.next_batch(cfg.at("train_batch_tokens"), cfg.at("train_seq_len"), accum);
          ASSERT_TRUE(torch::equal(x, bx[s][k]) && torch::equal(y, by[s][k]))
              << dir << ": step " << s << " micro-step " << k;
        }
      }
      ++checked;
    }
    if (tensors.contains("val_tokens_used") || m.at("scalars").contains("val_tokens_used")) {
      const std::string val = dir + "/" + cfg.value("val_files", std::string("val.bin"));
      auto got = load_validation_tokens({val}, cfg.at("train_seq_len"));
      EXPECT_EQ(got.numel(), m.at("scalars").at("val_tokens_used").get<int64_t>()) << dir;
      if (tensors.contains("val_tokens_used")) {
        EXPECT_TRUE(torch::equal(got, golden_int_tensor(dir, tensors.at("val_tokens_used"))))
            << dir;
      }
      ++checked;
    }
  }
  std::cout << "golden loader/validation checks: " << checked << "\n";
  EXPECT_GT(checked, 0) << "no golden train_steps/eval_bpb case (PGOLF_GOLDEN_ROOT): a missing "
                           "kind fails";
}

}  // namespace
}  // namespace pgolf::data
