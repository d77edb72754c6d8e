// The frontier golden kinds build their models the same way: the record's run config
// (configs/frontier_1_0611_model.json, PGOLF_FRONTIER_PRESET) with the case's config.model written
// over it (flat keys; train_seq_len lands in the train section, where it only matters to YaRN, off in
// the record). A case config that does not resolve or validate fails the test that reads it.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "golden_case.h"
#include "pgolf/config/resolve.h"
#include "pgolf/model/gpt_banked.h"

namespace pgolf::golden {

inline config::ModelConfig frontier_case_model(const GoldenCase& gc) {
  const std::string overrides = testing::TempDir() + "/" + gc.name() + ".model.json";
  std::ofstream(overrides) << gc.config().at("model").dump();
  config::Layers layers;
  layers.files = {PGOLF_FRONTIER_PRESET, overrides};
  config::Resolved r;
  const auto errs = config::apply_layers(layers, r);
  std::remove(overrides.c_str());
  for (const auto& e : errs) ADD_FAILURE() << gc.name() << ": case config does not resolve: " << e;
  for (const auto& e : config::validate(r.cfg, /*world_size=*/1))
    ADD_FAILURE() << gc.name() << ": case config invalid: " << e;
  return r.cfg.model;
}

// The case's banked GPT: built from its model_seed, looping as recorded, with its sd.* weights.
inline model::BankedGPT frontier_case_gpt(const GoldenCase& gc) {
  torch::manual_seed(gc.config().at("model_seed").get<int64_t>());
  model::BankedGPT m(frontier_case_model(gc));
  m->set_looping(gc.config().at("looping_active").get<bool>());
  core::NamedTensors sd;
  for (const auto& key : gc.manifest().at("state_dict_keys"))
    sd.emplace_back(key.get<std::string>(), gc.tensor("sd." + key.get<std::string>()));
  m->load_state_dict(sd, /*strict=*/true);
  return m;
}

}  // namespace pgolf::golden
