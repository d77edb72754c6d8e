// make_step_graph() for builds without the CUDA sources (see step_graph.h): always the eager step.
#include "pgolf/train/step_graph.h"

#ifndef PGOLF_WITH_CUDA
namespace pgolf::train {

std::unique_ptr<StepGraph> make_step_graph(const torch::Device&, std::vector<torch::Tensor>,
                                           StepFns, LogFn log) {
  if (log) log("cuda_graphs: off (this pgolf was built without CUDA sources); eager steps");
  return nullptr;
}

}  // namespace pgolf::train
#endif
