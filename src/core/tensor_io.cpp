// Tensor dictionaries on disk (see tensor_io.h). torch::pickle_save writes the same zip layout as
// torch.save (archive/data.pkl + archive/data/<n>), and torch::pickle_load reads either.
#include "pgolf/core/tensor_io.h"

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"

namespace pgolf::core {

std::vector<char> tensors_to_bytes(const NamedTensors& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : tensors) {
    PGOLF_CHECK(t.defined(), "tensor '" << name << "' is undefined; cannot save it");
    PGOLF_CHECK(!dict.contains(name), "tensor name '" << name << "' appears twice");
    // Detach and copy so views/storages shared with the live model are not written whole.
    dict.insert(name, t.detach().to(torch::kCPU).contiguous().clone());
  }
  return torch::pickle_save(dict);
}

NamedTensors tensors_from_bytes(const std::vector<char>& bytes, const std::string& what) {
  PGOLF_CHECK_INPUT(!bytes.empty(), what << ": empty file, expected a torch.save archive");
  torch::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    PGOLF_FAIL_INPUT(what << ": not a readable torch.save/pickle archive of tensors ("
                          << e.what() << ")");
  }
  PGOLF_CHECK_INPUT(value.isGenericDict(), what << ": expected a dict of name -> tensor, found "
                                                << value.tagKind());
  NamedTensors out;
  for (const auto& item : value.toGenericDict()) {
    PGOLF_CHECK_INPUT(item.key().isString(),
                      what << ": expected string keys, found a " << item.key().tagKind() << " key");
    const std::string name = item.key().toStringRef();
    PGOLF_CHECK_INPUT(item.value().isTensor(), what << ": entry '" << name
                                                    << "' is a " << item.value().tagKind()
                                                    << ", expected a tensor");
    out.emplace_back(name, item.value().toTensor());
  }
  return out;
}

void save_tensors(const std::string& path, const NamedTensors& tensors) {
  const auto bytes = tensors_to_bytes(tensors);
  write_file_atomic(path, bytes.data(), bytes.size());
}

NamedTensors load_tensors(const std::string& path) {
  const auto raw = read_file(path);
  return tensors_from_bytes(std::vector<char>(raw.begin(), raw.end()), path);
}

const torch::Tensor* find_tensor(const NamedTensors& tensors, const std::string& name) {
  for (const auto& kv : tensors)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

}  // namespace pgolf::core
