// Fuzz target: token shards (src/data/shard.cpp, the loader's reads in src/data/loader.cpp). The
// input is a whole shard file: header checks, the mapped reader, pread reads, the token stream
// across two copies of the file (wrapping), and the validation split.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_util.h"
#include "pgolf/data/loader.h"
#include "pgolf/data/shard.h"

using namespace pgolf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  const std::string& path = file.set(data, size);
  fuzz::expect_success_or_error("read_shard_info", [&] { data::read_shard_info(path); });
  fuzz::expect_success_or_error("ShardReader", [&] {
    data::ShardReader r(path);
    data::shard_stats(r, /*bos_id=*/1);
    const int64_t n = r.num_tokens(), k = std::min<int64_t>(n, 64);
    std::vector<uint16_t> buf(static_cast<size_t>(k));
    r.read_tokens(0, k, buf.data());
    r.read_tokens(n - k, k, buf.data());
    data::read_shard(path);
  });
  fuzz::expect_success_or_error("TokenStream", [&] {
    data::TokenStream s({path, path});
    const int64_t n = data::read_shard_info(path).num_tokens;
    s.take(std::min<int64_t>(2 * n + 3, 5000));  // crosses both files and wraps
    const auto st = s.state();
    s.skip(7);
    s.restore(st);
    s.take(5);
  });
  fuzz::expect_success_or_error("DistributedTokenLoader", [&] {
    data::DistributedTokenLoader loader({path}, /*rank=*/1, /*world_size=*/2);
    loader.next_batch(/*global_tokens=*/32, /*seq_len=*/4, /*grad_accum_steps=*/2);
  });
  fuzz::expect_success_or_error("load_validation_tokens",
                                [&] { data::load_validation_tokens({path, path}, 4); });
  return 0;
}
