// Tensor dictionaries on disk (see tensor_io.h). torch::pickle_save writes the same zip layout as
// torch.save (archive/data.pkl + archive/data/<n>); load_archive reads either, as
// torch::pickle_load does, and knows the bytes behind each storage.
#include "pgolf/core/tensor_io.h"

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "pgolf/core/error.h"
#include "pgolf/core/files.h"
#include "pgolf/core/pickle_compat.h"

namespace pgolf::core {
namespace {

// Walks the opcodes of a pickle (protocols 0-5) without executing them and fails when an argument
// runs past the end or a memo index is implausible: LibTorch's Unpickler sizes a string from its
// declared length before reading it and its memo table from the index a PUT names, so a 2 KB file
// made it allocate 4-6 GB (found by tests/fuzz). Picklers number memo entries 0, 1, 2, ... (an
// optimised pickle may skip some), so an index is at most the pickle's length.
void check_pickle(const char* p, size_t n, const std::string& what) {
  size_t i = 0;
  uint64_t memo = 0;  // highest memo index put so far, plus one
  const auto put = [&](uint64_t id) {
    PGOLF_CHECK_INPUT(id < n, what << ": corrupt pickle (memo index " << id << " in a pickle of "
                                   << n << " bytes, at offset " << i << ")");
    memo = std::max(memo, id + 1);
  };
  const auto get = [&](uint64_t id) {
    PGOLF_CHECK_INPUT(id < memo, what << ": corrupt pickle (memo index " << id << " of "
                                      << memo << " entries, at offset " << i << ")");
  };
  const auto need = [&](uint64_t k) {
    PGOLF_CHECK_INPUT(k <= n - i, what << ": corrupt pickle (an argument of " << k
                                       << " bytes at offset " << i << " runs past its end)");
  };
  const auto le = [&](int bytes) {
    need(static_cast<uint64_t>(bytes));
    uint64_t v = 0;
    for (int b = bytes - 1; b >= 0; --b) v = (v << 8) | static_cast<unsigned char>(p[i + b]);
    i += static_cast<size_t>(bytes);
    return v;
  };
  const auto line = [&]() {
    const void* nl = std::memchr(p + i, '\n', n - i);
    PGOLF_CHECK_INPUT(nl != nullptr, what << ": corrupt pickle (unterminated line at offset " << i
                                          << ")");
    i = static_cast<size_t>(static_cast<const char*>(nl) - p) + 1;
  };
  while (i < n) {
    const auto op = static_cast<unsigned char>(p[i++]);
    switch (op) {
      case '.': return;  // STOP
      case '(': case '0': case '1': case '2': case 'N': case 'Q': case 'R': case 'a': case 'b':
      case 'd': case '}': case 'e': case 'l': case ']': case 'o': case 's': case 't': case ')':
      case 'u': case 0x81: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8f:
      case 0x90: case 0x91: case 0x92: case 0x93: case 0x97: case 0x98:
        break;  // no argument
      case 'p': {  // PUT: a decimal index on its line
        const size_t start = i;
        line();
        put(std::strtoull(std::string(p + start, i - 1 - start).c_str(), nullptr, 10));
        break;
      }
      case 'g': {  // GET
        const size_t start = i;
        line();
        get(std::strtoull(std::string(p + start, i - 1 - start).c_str(), nullptr, 10));
        break;
      }
      case 'h': get(le(1)); break;  // BINGET
      case 'j': get(le(4)); break;  // LONG_BINGET
      case 0x94: put(memo); break;  // MEMOIZE
      case 'q': put(le(1)); break;  // BINPUT
      case 'r': put(le(4)); break;  // LONG_BINPUT
      case 'F': case 'I': case 'L': case 'P': case 'S': case 'V':
        line();
        break;
      case 'c': case 'i':  // GLOBAL, INST: module and name lines
        line();
        line();
        break;
      case 'K': case 0x80: case 0x82: le(1); break;
      case 'M': case 0x83: le(2); break;
      case 'J': case 0x84: le(4); break;
      case 'G': case 0x95: le(8); break;  // BINFLOAT; FRAME (its length only announces bytes)
      case 'U': case 'C': case 0x8a: case 0x8c: { const uint64_t k = le(1); need(k); i += k; break; }
      case 'T': case 'X': case 'B': case 0x8b: { const uint64_t k = le(4); need(k); i += k; break; }
      case 0x8d: case 0x8e: case 0x96: { const uint64_t k = le(8); need(k); i += k; break; }
      default:
        PGOLF_FAIL_INPUT(what << ": corrupt pickle (unknown opcode 0x" << std::hex << int{op}
                              << std::dec << " at offset " << i - 1 << ")");
    }
  }
  PGOLF_FAIL_INPUT(what << ": corrupt pickle (no STOP opcode)");
}

// The record's declared size must fit the archive (torch.save stores records uncompressed), so
// that reading it never allocates more than the file holds.
void check_record_size(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name,
                       size_t archive_bytes, const std::string& what) {
  const size_t size = reader.getRecordSize(name);
  PGOLF_CHECK_INPUT(size <= archive_bytes, what << ": corrupt archive (record " << name
                                                << " declares " << size << " bytes, the file has "
                                                << archive_bytes << ")");
}

}  // namespace

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

Archive load_archive(const std::vector<char>& bytes, const std::string& what) {
  PGOLF_CHECK_INPUT(!bytes.empty(), what << ": empty file, expected a torch.save archive");
  Archive out;
  try {
    // What torch::pickle_load does (archive "data", records "data/<key>"), with our own record
    // reader so that the bytes behind every storage are known.
    caffe2::serialize::PyTorchStreamReader reader(
        std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(),
                                                               static_cast<off_t>(bytes.size())));
    check_record_size(reader, "data.pkl", bytes.size(), what);
    auto [pickle, pickle_size] = reader.getRecord("data.pkl");
    check_pickle(static_cast<const char*>(pickle.get()), pickle_size, what);
    // Python's torch.save(module.state_dict()) pickles an OrderedDict LibTorch cannot build.
    const std::string plain =
        plain_dict_pickle(static_cast<const char*>(pickle.get()), pickle_size, what);
    const char* data = plain.data();
    const size_t total = plain.size();
    size_t pos = 0;
    auto read = [&](char* buf, size_t n) -> size_t {
      n = std::min(n, total - pos);
      if (n > 0) std::memcpy(buf, data + pos, n);
      pos += n;
      return n;
    };
    auto read_record = [&](const std::string& key) {
      check_record_size(reader, "data/" + key, bytes.size(), what);
      auto record = reader.getRecord("data/" + key);
      out.record_bytes[std::get<0>(record).get()] = std::get<1>(record);
      return std::move(std::get<0>(record));
    };
    torch::jit::Unpickler unpickler(read, /*type_resolver=*/nullptr, /*obj_loader=*/nullptr,
                                    read_record, /*device=*/std::nullopt);
    unpickler.set_version(reader.version());
    out.value = unpickler.parse_ivalue();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    PGOLF_FAIL_INPUT(what << ": not a readable torch.save archive ("
                          << e.what_without_backtrace() << ")");
  } catch (const std::exception& e) {
    PGOLF_FAIL_INPUT(what << ": not a readable torch.save archive (" << e.what() << ")");
  }
  return out;
}

void Archive::check_tensor(const torch::Tensor& t, const std::string& what,
                           const std::string& name) const {
  PGOLF_CHECK_INPUT(t.defined() && t.device().is_cpu() && t.has_storage(),
                    what << ": entry '" << name << "' is not a CPU tensor with storage");
  // The dtypes pgolf and the reference write. LibTorch implements few ops for the others (Int5,
  // UInt3, float8, quantized, ...), so a corrupt archive naming one would fail later, deep inside.
  switch (t.scalar_type()) {
    case torch::kFloat: case torch::kDouble: case torch::kHalf: case torch::kBFloat16:
    case torch::kByte: case torch::kChar: case torch::kShort: case torch::kInt: case torch::kLong:
    case torch::kBool:
      break;
    default:
      PGOLF_FAIL_INPUT(what << ": entry '" << name << "' has dtype " << t.scalar_type()
                            << ", which pgolf does not read");
  }
  size_t bytes = t.storage().nbytes();
  const auto it = record_bytes.find(t.storage().data_ptr().get());
  if (it != record_bytes.end()) {
    bytes = std::min(bytes, it->second);
  } else {
    PGOLF_CHECK_INPUT(bytes == 0, what << ": entry '" << name << "' has storage not read from "
                                       << "the archive's records");
  }
  const int64_t item = static_cast<int64_t>(t.element_size());
  const int64_t capacity = item > 0 ? static_cast<int64_t>(bytes) / item : 0;
  int64_t last = t.storage_offset();  // index of the last element reached, overflow-checked
  bool ok = last >= 0;
  bool empty = false;
  for (int64_t d = 0; d < t.dim() && ok; ++d) {
    const int64_t size = t.size(d), stride = t.stride(d);
    ok = size >= 0 && stride >= 0;
    if (size == 0) empty = true;
    int64_t reach = 0;
    if (ok && size > 0) {
      ok = !__builtin_mul_overflow(size - 1, stride, &reach) &&
           !__builtin_add_overflow(last, reach, &last);
    }
  }
  PGOLF_CHECK_INPUT(ok && (empty || last < capacity),
                    what << ": entry '" << name << "' (shape " << t.sizes() << ", strides "
                         << t.strides() << ", offset " << t.storage_offset()
                         << ") reaches past the " << capacity << " elements its record holds; "
                         << "the archive is corrupt");
  // Reach alone lets an expanded (stride-0) tensor of 10^9 elements sit on one stored value, and
  // the first contiguous() then allocates all of them: every element must have bytes of its own.
  PGOLF_CHECK_INPUT(empty || t.numel() <= capacity,
                    what << ": entry '" << name << "' (shape " << t.sizes() << ", strides "
                         << t.strides() << ") has " << t.numel() << " elements but its record "
                         << "holds " << capacity << "; expanded (stride-0) or overlapping tensors "
                         << "are not read");
}

NamedTensors tensors_from_bytes(const std::vector<char>& bytes, const std::string& what) {
  const Archive archive = load_archive(bytes, what);
  const torch::IValue& value = archive.value;
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
    archive.check_tensor(item.value().toTensor(), what, name);
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
