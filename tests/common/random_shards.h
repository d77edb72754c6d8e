// Random-token train/val shards for the training unit tests (#include "common/random_shards.h"),
// and the in-repo dev tokenizer they name.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "pgolf/data/shard.h"

namespace pgolf::testing_common {

// The dev sp1024 model, committed under tests/data (see the README there).
inline std::string dev_tokenizer_path() {
  const char* dir = std::getenv("PGOLF_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/dev_sp1024.model";
}

// One train shard of 40,000 and one val shard of 4,097 random ids 2..1023 drawn from `seed`, in
// TempDir()/folder; with bos_every > 0 every bos_every-th token is BOS (1). Callers make it once
// per binary (a function-local static).
inline std::string write_random_shards(const std::string& folder, uint64_t seed,
                                       int64_t bos_every = 0) {
  // Tiny tensors: one intra-op thread (OpenMP threads on a busy 2-core box cost ~30x here).
  torch::set_num_threads(1);
  const std::string d = ::testing::TempDir() + "/" + folder;
  std::filesystem::create_directories(d);
  torch::manual_seed(seed);
  for (const auto& [name, n] : {std::pair<std::string, int64_t>{"fineweb_train_000000.bin", 40000},
                                {"fineweb_val_000000.bin", 4097}}) {
    torch::Tensor t = torch::randint(2, 1024, {n}, torch::kInt32);
    std::vector<uint16_t> toks(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      toks[static_cast<size_t>(i)] = bos_every > 0 && i % bos_every == 0
                                         ? uint16_t{1}
                                         : static_cast<uint16_t>(t[i].item<int32_t>());
    data::write_shard(d + "/" + name, toks);
  }
  return d;
}

}  // namespace pgolf::testing_common
