// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/) with pgolf's own
// writers, so the seeds are exactly what pgolf produces; tests/fuzz/make_corpus.sh runs it. Seeds
// are tiny on purpose (libFuzzer mutates small inputs far faster). Regression seeds for findings
// are added by hand next to these and are never overwritten.
//   fuzz_gen_corpus OUT_DIR
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "pgolf/data/shard.h"
#include "pgolf/quant/container.h"
#include "pgolf/quant/quantize.h"
#include "pgolf/train/checkpoint.h"
#include "seed_models.h"

using namespace pgolf;

namespace {

void put(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void shards(const std::string& dir) {
  data::write_shard(dir + "/ten_tokens.bin", {1, 2, 3, 4, 5, 1, 7, 1023, 65535, 0});
  data::write_shard(dir + "/empty.bin", std::vector<uint16_t>{});
  data::write_shard(dir + "/one_token.bin", std::vector<uint16_t>{1});
  std::string ok = slurp(dir + "/ten_tokens.bin");
  put(dir + "/short_body.bin", ok.substr(0, ok.size() - 4));
  put(dir + "/short_header.bin", ok.substr(0, 100));
  std::string magic = ok;
  magic[0] = 0x21;
  put(dir + "/bad_magic.bin", magic);
}

void artifacts(const std::string& dir) {
  const auto cfg = fuzz::seed_quant_config();
  const auto q = quant::quantize_state_dict(fuzz::seed_state_dict(), cfg);
  quant::CompressOptions zstd;
  zstd.level = 3;
  const auto put_blob = [&](const std::string& name, const std::vector<char>& b) {
    put(dir + "/" + name, std::string(b.begin(), b.end()));
  };
  put_blob("mixed_zstd.ptz", quant::encode_artifact(q, zstd));
  quant::CompressOptions no_sum = zstd;
  no_sum.checksum = false;  // the reference's frames carry no checksum
  put_blob("mixed_zstd_nochecksum.ptz", quant::encode_artifact(q, no_sum));
  quant::CompressOptions zlib;
  zlib.codec = quant::Codec::kZlib;
  zlib.level = 9;
  put_blob("mixed_zlib.ptz", quant::encode_artifact(q, zlib));
  put_blob("mixed_raw.pt", quant::serialize_quant(q));  // uncompressed: straight to the parser
  auto cfg8 = cfg;
  cfg8.quant_scheme = config::QuantScheme::kInt8;
  put_blob("int8_raw.pt", quant::serialize_quant(quant::quantize_state_dict(
                              fuzz::seed_state_dict(), cfg8)));
}

void checkpoints(const std::string& dir) {
  train::Checkpoint c;
  c.step = 3;
  c.elapsed_ms = 12.5;
  c.state = {{"loader", {{"file_index", 1}, {"position", 7}, {"num_files", 2},
                         {"tokens_consumed", 99}}},
             {"optim", {{"step", 3}}},
             {"world_size", 1}};
  c.tensors = {{"model/w", torch::randn({2, 3})},
               {"optim/m", torch::ones({3}, torch::kBFloat16)},
               {"rng/cpu", torch::zeros({4}, torch::kUInt8)}};
  train::save_checkpoint(dir + "/checkpoint.pt", c);
  core::save_tensors(dir + "/state_dict.pt", {{"w", torch::arange(4)}});
}

void configs(const std::string& dir, const std::string& src) {
  put(dir + "/smoke_cpu.json", slurp(src + "/configs/smoke_cpu.json"));
  put(dir + "/empty_object.json", "{}");
  put(dir + "/flat.json", "{\"num_layers\": 2, \"model_dim\": 64.0, \"tie_embeddings\": 1}\n");
  put(dir + "/comments.json",
      "// a comment\n{\"_comment\": \"x\", \"train\": {\"iterations\": 5 /* c */}}\n");
  put(dir + "/bad_types.json",
      "{\"model\": {\"num_layers\": \"nine\", \"rope_base\": [1]}, \"nope\": null}");
  put(dir + "/array.json", "[1, 2, 3]");
}

void tokenizers(const std::string& dir, const std::string& fuzz_dir) {
  const std::string model = slurp(fuzz_dir + "/tiny_sp.model");
  const std::string unigram = slurp(fuzz_dir + "/tiny_sp_unigram.model");
  put(dir + "/bytes_bpe", std::string(1, '\0') + model);
  put(dir + "/bytes_unigram", std::string(1, '\0') + unigram);
  for (const char* p : {"model", "empty", "dir", "fifo", "link", "dangling", "missing"})
    put(dir + "/path_" + std::string(p), std::string("\x01") + p);
  put(dir + "/path_nul", std::string("\x01mo\0del", 7));
  put(dir + "/path_dev_zero", "\x01../../dev/zero");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_gen_corpus OUT_DIR\n";
    return 2;
  }
  const std::string out = argv[1];
  const std::string fuzz_dir = PGOLF_FUZZ_DIR;
  const std::string src = fuzz_dir + "/../..";
  for (const char* t : {"shard", "artifact", "checkpoint", "config", "tokenizer"})
    ::mkdir((out + "/" + t).c_str(), 0755);
  shards(out + "/shard");
  artifacts(out + "/artifact");
  checkpoints(out + "/checkpoint");
  configs(out + "/config", src);
  tokenizers(out + "/tokenizer", fuzz_dir);
  std::cout << "seed corpus written to " << out << "\n";
  return 0;
}
