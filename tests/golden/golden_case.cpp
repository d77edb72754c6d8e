// Golden case loader and comparison helpers (see golden_case.h).
#include "golden_case.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <ATen/Context.h>

namespace pgolf::golden {
namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// PGOLF_GOLDEN_ROOT (default: the in-tree tests/golden/cases, compiled in) and the colon-separated
// PGOLF_GOLDEN_DIRS.
std::vector<std::string> roots() {
  std::vector<std::string> out;
  const char* root = std::getenv("PGOLF_GOLDEN_ROOT");
  out.push_back(root && *root ? root : PGOLF_GOLDEN_CASES_DIR);
  if (const char* extra = std::getenv("PGOLF_GOLDEN_DIRS")) {
    std::stringstream ss(extra);
    std::string item;
    while (std::getline(ss, item, ':'))
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Case folders at or under `dir`: a folder holding manifest.json is a case; any other folder is
// searched (a few levels: cases/<set>/<case>), so a new set folder needs no code.
void collect(const std::string& dir, std::vector<std::string>& out, int depth = 0) {
  if (exists(dir + "/manifest.json")) {
    out.push_back(dir);
    return;
  }
  if (depth >= 3) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subs;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (is_dir(dir + "/" + name)) subs.push_back(dir + "/" + name);
  }
  ::closedir(d);
  for (const auto& sub : subs) collect(sub, out, depth + 1);
}

torch::ScalarType dtype_of(const std::string& s) {
  if (s == "float32") return torch::kFloat32;
  if (s == "float64") return torch::kFloat64;
  if (s == "float16") return torch::kFloat16;
  if (s == "bfloat16") return torch::kBFloat16;
  if (s == "int64") return torch::kInt64;
  if (s == "int32") return torch::kInt32;
  if (s == "int16") return torch::kInt16;
  if (s == "int8") return torch::kInt8;
  if (s == "uint8") return torch::kUInt8;
  if (s == "bool") return torch::kBool;
  throw std::runtime_error("golden: unknown dtype " + s);
}

std::string index_str(int64_t flat, torch::IntArrayRef shape) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i) s += (i ? "," : "") + std::to_string(idx[i]);
  return s + "]";
}

::testing::AssertionResult shape_check(const std::string& name, const torch::Tensor& a,
                                       const torch::Tensor& b) {
  if (a.sizes() != b.sizes()) {
    std::ostringstream os;
    os << name << ": shape " << a.sizes() << " != expected " << b.sizes();
    return ::testing::AssertionFailure() << os.str();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

GoldenCase::GoldenCase(std::string dir) : dir_(std::move(dir)) {
  std::ifstream in(dir_ + "/manifest.json");
  if (!in.good()) throw std::runtime_error(dir_ + "/manifest.json: cannot open");
  manifest_ = nlohmann::json::parse(in);
}

std::string GoldenCase::root() const {
  const size_t slash = dir_.find_last_of('/');
  return slash == std::string::npos ? "." : dir_.substr(0, slash);
}

bool GoldenCase::has(const std::string& name) const {
  return manifest_.contains("tensors") && manifest_["tensors"].contains(name);
}

std::vector<std::string> GoldenCase::tensor_names() const {
  std::vector<std::pair<int64_t, std::string>> v;
  for (auto it = manifest_["tensors"].begin(); it != manifest_["tensors"].end(); ++it)
    v.emplace_back(it->at("offset").get<int64_t>(), it.key());
  std::sort(v.begin(), v.end());
  std::vector<std::string> out;
  for (auto& p : v) out.push_back(p.second);
  return out;
}

torch::Tensor GoldenCase::tensor(const std::string& name) const {
  if (!has(name)) throw std::runtime_error(dir_ + ": no tensor '" + name + "' in manifest");
  if (!blob_) {
    std::ifstream in(dir_ + "/tensors.bin", std::ios::binary);
    blob_ = std::make_shared<std::vector<uint8_t>>((std::istreambuf_iterator<char>(in)),
                                                   std::istreambuf_iterator<char>());
  }
  const auto& t = manifest_["tensors"][name];
  const auto offset = t.at("offset").get<int64_t>();
  const auto nbytes = t.at("nbytes").get<int64_t>();
  std::vector<int64_t> shape = t.at("shape").get<std::vector<int64_t>>();
  if (offset + nbytes > static_cast<int64_t>(blob_->size()))
    throw std::runtime_error(dir_ + ": tensor " + name + " beyond tensors.bin");
  auto dtype = dtype_of(t.at("dtype").get<std::string>());
  auto out = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  if (out.nbytes() != static_cast<size_t>(nbytes))
    throw std::runtime_error(dir_ + ": tensor " + name + " nbytes mismatch");
  std::memcpy(out.data_ptr(), blob_->data() + offset, static_cast<size_t>(nbytes));
  if (t.value("logical_dtype", "") == "float32") out = out.to(torch::kFloat32);
  return out;
}

double GoldenCase::scalar(const std::string& name) const {
  if (!has_scalar(name)) throw std::runtime_error(dir_ + ": no scalar '" + name + "'");
  return manifest_["scalars"][name].get<double>();
}

bool GoldenCase::has_scalar(const std::string& name) const {
  return manifest_.contains("scalars") && manifest_["scalars"].contains(name);
}

std::vector<GoldenCase> discover(const std::string& kind) {
  std::vector<std::string> dirs;
  for (const auto& r : roots()) {
    // A folder named but absent is a mistake (a typo in PGOLF_GOLDEN_DIRS), not "no cases".
    if (!is_dir(r)) throw std::runtime_error("golden: case folder '" + r + "' does not exist");
    collect(r, dirs);
  }
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  std::vector<GoldenCase> out;
  for (const auto& d : dirs) {
    GoldenCase c(d);
    if (kind.empty() || c.kind() == kind) out.push_back(std::move(c));
  }
  return out;
}

std::vector<GoldenCase> discover_in(const std::string& root) {
  std::vector<std::string> dirs;
  collect(root, dirs);
  std::sort(dirs.begin(), dirs.end());
  std::vector<GoldenCase> out;
  for (const auto& d : dirs) out.emplace_back(d);
  return out;
}

GoldenCase find_case(const std::string& name, const std::string& near_dir) {
  const size_t slash = near_dir.find_last_of('/');
  const std::string sibling = (slash == std::string::npos ? "." : near_dir.substr(0, slash)) + "/" + name;
  if (exists(sibling + "/manifest.json")) return GoldenCase(sibling);
  for (auto& c : discover())
    if (c.name() == name) return c;
  throw std::runtime_error("golden: case '" + name + "' not found near " + near_dir);
}

::testing::AssertionResult all_close_abs(const std::string& name, const torch::Tensor& actual,
                                         const torch::Tensor& expected, double atol) {
  auto s = shape_check(name, actual, expected);
  if (!s) return s;
  // Device option: results computed on the GPU are compared on the host.
  auto a = actual.to(torch::kCPU, torch::kFloat64).flatten();
  auto b = expected.to(torch::kCPU, torch::kFloat64).flatten();
  auto diff = (a - b).abs();
  if (diff.numel() == 0) return ::testing::AssertionSuccess();
  const double max_abs = diff.max().item<double>();
  if (max_abs <= atol) return ::testing::AssertionSuccess();
  const double max_rel = (diff / b.abs().clamp_min(1e-30)).max().item<double>();
  const int64_t first = (diff > atol).nonzero()[0][0].item<int64_t>();
  std::ostringstream os;
  os << name << ": max abs err " << max_abs << " > " << atol << " (max rel " << max_rel
     << "); first offending index " << index_str(first, actual.sizes()) << " got "
     << a[first].item<double>() << " expected " << b[first].item<double>();
  return ::testing::AssertionFailure() << os.str();
}

::testing::AssertionResult rel_frobenius(const std::string& name, const torch::Tensor& actual,
                                         const torch::Tensor& expected, double rtol) {
  auto s = shape_check(name, actual, expected);
  if (!s) return s;
  auto a = actual.to(torch::kCPU, torch::kFloat64), b = expected.to(torch::kCPU, torch::kFloat64);
  const double num = (a - b).norm().item<double>(), den = b.norm().item<double>();
  const double rel = den > 0 ? num / den : num;
  if (rel <= rtol) return ::testing::AssertionSuccess();
  const int64_t first = (a - b).abs().flatten().argmax().item<int64_t>();
  std::ostringstream os;
  os << name << ": relative Frobenius error " << rel << " > " << rtol << "; max abs err "
     << (a - b).abs().max().item<double>() << " at " << index_str(first, actual.sizes());
  return ::testing::AssertionFailure() << os.str();
}

::testing::AssertionResult exactly_equal(const std::string& name, const torch::Tensor& actual,
                                         const torch::Tensor& expected) {
  auto s = shape_check(name, actual, expected);
  if (!s) return s;
  if (actual.scalar_type() != expected.scalar_type())
    return ::testing::AssertionFailure() << name << ": dtype " << actual.scalar_type()
                                         << " != expected " << expected.scalar_type();
  auto ne = actual.cpu().ne(expected.cpu()).flatten();
  if (!ne.any().item<bool>()) return ::testing::AssertionSuccess();
  const int64_t first = ne.nonzero()[0][0].item<int64_t>();
  std::ostringstream os;
  os << name << ": " << ne.sum().item<int64_t>() << " of " << ne.numel()
     << " elements differ; first at " << index_str(first, actual.sizes()) << " got "
     << actual.cpu().flatten()[first].to(torch::kFloat64).item<double>() << " expected "
     << expected.cpu().flatten()[first].to(torch::kFloat64).item<double>();
  return ::testing::AssertionFailure() << os.str();
}

std::string Target::name() const {
  return device.str() + (bf16 ? "/bf16" : "/fp32") + (fused_kernels ? "+fused" : "") +
         (cuda_graphs ? "+graphs" : "");
}

const Target& target() {
  static const Target t = [] {
    Target r;
    const char* dev = std::getenv("PGOLF_GOLDEN_DEVICE");
    const char* dt = std::getenv("PGOLF_GOLDEN_DTYPE");
    const std::string d = dev && *dev ? dev : "cpu";
    const std::string ty = dt && *dt ? dt : "fp32";
    if (ty != "fp32" && ty != "bf16") {
      r.malformed = true;
      r.why = "PGOLF_GOLDEN_DTYPE: expected fp32 | bf16, found '" + ty + "'";
      return r;
    }
    r.bf16 = ty == "bf16";
    const auto flag = [](const char* name) {
      const char* v = std::getenv(name);
      return v != nullptr && std::string(v) == "1";
    };
    r.fused_kernels = flag("PGOLF_GOLDEN_FUSED_KERNELS");
    r.cuda_graphs = flag("PGOLF_GOLDEN_CUDA_GRAPHS");
    if (d != "cpu" && d.rfind("cuda", 0) != 0) {
      r.malformed = true;
      r.why = "PGOLF_GOLDEN_DEVICE: expected cpu | cuda | cuda:N, found '" + d + "'";
      return r;
    }
    try {
      r.device = torch::Device(d);
    } catch (const std::exception& e) {
      r.malformed = true;
      r.why = "PGOLF_GOLDEN_DEVICE: '" + d + "' is not a device (" + e.what() + ")";
      return r;
    }
    if ((r.fused_kernels || r.cuda_graphs) && !r.device.is_cuda()) {
      r.malformed = true;
      r.why = "PGOLF_GOLDEN_FUSED_KERNELS / PGOLF_GOLDEN_CUDA_GRAPHS need PGOLF_GOLDEN_DEVICE=cuda";
      return r;
    }
    if (r.device.is_cuda()) {
      const int64_t n = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
      const int64_t want = r.device.has_index() ? r.device.index() : 0;
      if (want >= n) {
        r.available = false;
        r.why = "PGOLF_GOLDEN_DEVICE=" + d + " but this machine has " + std::to_string(n) +
                " CUDA device(s); the golden case was NOT checked on the GPU";
        return r;
      }
      r.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(want));
      // As train::configure_device: TF32 only with the bf16 policy, so fp32 keeps fp32 bounds.
      at::globalContext().setAllowTF32CuBLAS(r.bf16);
      at::globalContext().setAllowTF32CuDNN(r.bf16);
    }
    return r;
  }();
  return t;
}

double tolerance(double fp32_tol, double bf16_tol) { return target().bf16 ? bf16_tol : fp32_tol; }

torch::Tensor on_target(const torch::Tensor& t) { return t.to(target().device); }

config::ModelConfig model_config(const nlohmann::json& c) {
  config::ModelConfig m;
  m.vocab_size = c.at("vocab_size").get<int64_t>();
  m.num_layers = c.at("num_layers").get<int64_t>();
  m.model_dim = c.at("model_dim").get<int64_t>();
  m.num_heads = c.at("num_heads").get<int64_t>();
  m.num_kv_heads = c.at("num_kv_heads").get<int64_t>();
  m.mlp_mult = c.at("mlp_mult").get<double>();
  m.tie_embeddings = c.at("tie_embeddings").get<bool>();
  // Only init_stats depends on it; eval cases load weights. Default: the reference's.
  m.tied_embed_init_std = c.value("tied_embed_init_std", m.tied_embed_init_std);
  m.logit_softcap = c.at("logit_softcap").get<double>();
  m.rope_base = c.at("rope_base").get<double>();
  m.qk_gain_init = c.at("qk_gain_init").get<double>();
  m.bigram_vocab_size = c.value("bigram_vocab_size", int64_t{0});
  m.bigram_dim = c.value("bigram_dim", int64_t{128});
  m.smear_gate = true;
  m.unet_skips = true;
  return m;
}

}  // namespace pgolf::golden
