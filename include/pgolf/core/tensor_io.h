// Ordered name -> tensor dictionaries on disk, in the format of Python's torch.save (a zip archive
// holding a pickled dict), so Python can torch.load our files and we can read its state dicts.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace pgolf::core {

// Insertion-ordered, like a Python state_dict.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Bytes of a torch.save-compatible archive of the dict {name: tensor} (tensors are saved
// contiguous, on the CPU, in their own dtype).
std::vector<char> tensors_to_bytes(const NamedTensors& tensors);
// Parses torch.save / pickle_save bytes holding a dict (or OrderedDict) of str -> Tensor.
// `what` names the source in errors (file path, "artifact", ...).
NamedTensors tensors_from_bytes(const std::vector<char>& bytes, const std::string& what);

// tensors_to_bytes written atomically (temp file + rename).
void save_tensors(const std::string& path, const NamedTensors& tensors);
// Reads a file written by save_tensors or by Python `torch.save(state_dict, path)`.
NamedTensors load_tensors(const std::string& path);

// A torch.save archive unpickled like torch::pickle_load, remembering how many bytes each storage
// really read: LibTorch sizes a storage by the element count in the pickle, not by the record it
// reads, so a corrupt archive can declare more than it holds (found by tests/fuzz).
struct Archive {
  torch::IValue value;
  std::unordered_map<const void*, size_t> record_bytes;  // storage data pointer -> bytes read
  // Input error unless `t` is a CPU tensor whose sizes, strides and offset stay inside the bytes
  // its storage read. `what` and `name` name the source and the entry in the message.
  void check_tensor(const torch::Tensor& t, const std::string& what,
                    const std::string& name) const;
};
// Input error naming `what` when `bytes` is not a readable torch.save/pickle_save archive.
Archive load_archive(const std::vector<char>& bytes, const std::string& what);

// Lookup by name; nullptr when absent.
const torch::Tensor* find_tensor(const NamedTensors& tensors, const std::string& name);

}  // namespace pgolf::core
