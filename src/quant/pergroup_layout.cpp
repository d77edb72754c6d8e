// Role groups, entry routing and the torch.save remainder of the pergroup artifact
// (pergroup_layout.h), following the record's _serialize_pergroup / _deserialize_pergroup.
#include "pgolf/quant/pergroup_layout.h"

#include "pgolf/quant/container.h"

#include <algorithm>
#include <cctype>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "pgolf/core/error.h"

namespace pgolf::quant {

const std::vector<std::string>& group_order() {
  static const std::vector<std::string> k = {
      "_tok_emb.weight.q", "attn.c_k.weight.q",  "attn.c_q.weight.q", "attn.c_v.weight.q",
      "attn.proj.weight.q", "mlp.fc.weight.q", "mlp.proj.weight.q"};
  return k;
}

bool is_simsort_group(const std::string& key) {
  return key == "_tok_emb.weight.q" || key == "attn.c_q.weight.q" || key == "mlp.fc.weight.q";
}

namespace {

bool in_groups(const std::string& key) {
  const auto& g = group_order();
  return std::find(g.begin(), g.end(), key) != g.end();
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// "blocks.<i>.<rest>" -> (i, rest); layer -1 when the name is not of that form.
std::pair<int64_t, std::string> split_layer(const std::string& name) {
  const std::string head = "blocks.";
  if (name.rfind(head, 0) != 0) return {-1, ""};
  const auto dot = name.find('.', head.size());
  const std::string idx = name.substr(head.size(), dot == std::string::npos ? std::string::npos
                                                                            : dot - head.size());
  if (!all_digits(idx) || idx.size() > 9) return {-1, ""};
  return {std::stoll(idx), dot == std::string::npos ? "" : name.substr(dot + 1)};
}

}  // namespace

GroupedCodes group_codes(const QuantResult& quant) {
  core::NamedTensors sorted = quant.w;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  GroupedCodes g;
  for (const auto& [name, t] : sorted) {
    bool routed = false;
    if (t.scalar_type() == torch::kInt8) {
      const auto [layer, rest] = split_layer(name);
      if (layer >= 0 && in_groups(rest)) {
        g.groups[rest].emplace_back(layer, t);
        routed = true;
      } else if (layer < 0 && in_groups("_" + name)) {
        g.groups["_" + name] = {{0, t}};
        routed = true;
      }
    }
    if (!routed) g.remainder.emplace_back(name, t);
  }
  for (auto& [key, list] : g.groups)
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  return g;
}

namespace {

torch::Tensor owned(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).contiguous();
  const bool whole = c.storage_offset() == 0 && c.storage().nbytes() == c.nbytes();
  return whole ? c : c.clone();
}

}  // namespace

std::vector<char> remainder_bytes(const QuantResult& quant, const GroupedCodes& g) {
  c10::Dict<std::string, at::Tensor> r;
  for (const auto& [name, t] : g.remainder) r.insert(name, owned(t));
  c10::impl::GenericDict m(c10::StringType::get(), c10::AnyType::get());
  for (const auto& [name, e] : quant.meta) {
    if (e.quantized()) {  // the seed schemes' {"type": "int6"} form
      c10::Dict<std::string, std::string> d;
      d.insert("type", e.kind);
      m.insert(name, d);
    } else {
      m.insert(name, e.kind);
    }
  }
  c10::impl::GenericDict s(c10::StringType::get(), c10::AnyType::get());
  for (const auto& key : group_order()) {
    const auto it = g.groups.find(key);
    if (it == g.groups.end()) continue;
    c10::impl::GenericList shapes(c10::AnyType::get());
    for (const auto& [layer, t] : it->second) {
      std::vector<c10::IValue> dims;
      for (const auto d : t.sizes()) dims.emplace_back(d);
      shapes.push_back(c10::ivalue::Tuple::create(std::move(dims)));
    }
    s.insert(key, shapes);
  }
  c10::impl::GenericDict top(c10::StringType::get(), c10::AnyType::get());
  top.insert(std::string("r"), r);
  top.insert(std::string("m"), m);
  top.insert(std::string("s"), s);
  return torch_save_bytes(top);
}

namespace {

c10::impl::GenericDict field(const c10::impl::GenericDict& top, const char* key,
                             const std::string& what) {
  const auto it = top.find(c10::IValue(std::string(key)));
  PGOLF_CHECK_INPUT(it != top.end() && it->value().isGenericDict(),
                    what << ": pergroup remainder has no dict \"" << key << "\"");
  return it->value().toGenericDict();
}

Shapes parse_shapes(const c10::IValue& v, const std::string& what, const std::string& key) {
  PGOLF_CHECK_INPUT(v.isList(), what << ": shapes of group '" << key << "' are not a list");
  Shapes out;
  for (const auto& item : v.toListRef()) {
    PGOLF_CHECK_INPUT(item.isTuple() || item.isList(),
                      what << ": a shape of group '" << key << "' is not a tuple");
    std::vector<int64_t> dims;
    const auto elems = item.isTuple() ? item.toTupleRef().elements().vec() : item.toListRef().vec();
    for (const auto& d : elems) {
      PGOLF_CHECK_INPUT(d.isInt() && d.toInt() >= 0,
                        what << ": a shape of group '" << key << "' has a non-integer dimension");
      dims.push_back(d.toInt());
    }
    out.push_back(std::move(dims));
  }
  return out;
}

}  // namespace

Remainder parse_remainder(const std::vector<char>& bytes, const std::string& what) {
  const core::Archive archive = core::load_archive(bytes, what);
  PGOLF_CHECK_INPUT(archive.value.isGenericDict(),
                    what << ": pergroup remainder is not a dict {\"r\", \"m\", \"s\"}");
  const auto top = archive.value.toGenericDict();
  Remainder out;
  for (const auto& item : field(top, "r", what)) {
    PGOLF_CHECK_INPUT(item.key().isString() && item.value().isTensor(),
                      what << ": pergroup remainder \"r\" must map names to tensors");
    archive.check_tensor(item.value().toTensor(), what, item.key().toStringRef());
    out.r.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  for (const auto& item : field(top, "m", what)) {
    PGOLF_CHECK_INPUT(item.key().isString(), what << ": pergroup meta has a non-string key");
    const auto& v = item.value();
    std::string kind;
    if (v.isString()) {
      kind = v.toStringRef();
    } else if (v.isGenericDict()) {
      const auto d = v.toGenericDict();
      const auto it = d.find(c10::IValue(std::string("type")));
      PGOLF_CHECK_INPUT(it != d.end() && it->value().isString(),
                        what << ": meta of '" << item.key().toStringRef() << "' has no \"type\"");
      kind = it->value().toStringRef();
    } else {
      PGOLF_FAIL_INPUT(what << ": meta of '" << item.key().toStringRef()
                            << "' is neither a string nor {\"type\": ...}");
    }
    out.m.emplace_back(item.key().toStringRef(), MetaEntry{kind});
  }
  for (const auto& item : field(top, "s", what)) {
    PGOLF_CHECK_INPUT(item.key().isString(), what << ": pergroup shapes have a non-string key");
    out.s.emplace_back(item.key().toStringRef(),
                       parse_shapes(item.value(), what, item.key().toStringRef()));
  }
  return out;
}

}  // namespace pgolf::quant
