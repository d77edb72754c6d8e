// Replay driver for the fuzz targets in the normal (gcc) build, registered in ctest with label
// `fuzz`: runs LLVMFuzzerTestOneInput on every seed of the corpus and on a fixed number of
// deterministic mutations of each (bit flips, interesting values, truncations, insertions,
// deletions, splices with other seeds). A finding aborts the process (fuzz_util.h); the handler
// below then names the input and saves it for a regression seed.
//   <target>_fuzz [--mutations N] [--seed S] [--max-len BYTES] CORPUS_DIR_OR_FILE...
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// What is running now, for the crash handler (written before every input).
char g_label[512] = "startup";
const Bytes* g_input = nullptr;
char g_save_path[600] = "";

void write_str(const char* s) { (void)!::write(2, s, std::strlen(s)); }

void on_crash(int sig) {
  write_str("\nFINDING: ");
  write_str(strsignal(sig));
  write_str(" while running ");
  write_str(g_label);
  write_str("\n");
  if (g_input != nullptr && g_save_path[0] != '\0') {
    const int fd = ::open(g_save_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, g_input->data(), g_input->size());
      ::close(fd);
      write_str("input saved to ");
      write_str(g_save_path);
      write_str(" (add it to the corpus once fixed)\n");
    }
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void run_one(const Bytes& input, const std::string& label) {
  std::snprintf(g_label, sizeof(g_label), "%s (%zu bytes)", label.c_str(), input.size());
  g_input = &input;
  LLVMFuzzerTestOneInput(input.data(), input.size());
  g_input = nullptr;
}

Bytes read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A position biased towards the first and last 64 bytes, where headers and zip directories live.
size_t pick_pos(std::mt19937_64& rng, size_t size) {
  const size_t r = rng() % 4;
  if (r == 0 && size > 64) return rng() % 64;
  if (r == 1 && size > 64) return size - 1 - rng() % 64;
  return rng() % size;
}

// One deterministic mutation of `in`; `other` is another seed for splices.
Bytes mutate(const Bytes& in, const Bytes& other, std::mt19937_64& rng, std::string& how) {
  static const uint32_t kInteresting[] = {0u, 1u, 0x7Fu, 0x80u, 0xFFu, 0x7FFFu, 0xFFFFu,
                                          0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 1024u, 20240520u};
  Bytes b = in;
  const int kind = static_cast<int>(rng() % 9);
  if (b.empty() && kind != 5 && kind != 8) {
    b.push_back(static_cast<uint8_t>(rng()));
    how = "grow empty";
    return b;
  }
  switch (kind) {
    case 0: {  // flip one bit
      const size_t p = pick_pos(rng, b.size());
      b[p] ^= static_cast<uint8_t>(1u << (rng() % 8));
      how = "bit flip at " + std::to_string(p);
      break;
    }
    case 1: {  // random bytes
      const int n = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < n; ++i) b[pick_pos(rng, b.size())] = static_cast<uint8_t>(rng());
      how = std::to_string(n) + " random bytes";
      break;
    }
    case 2: {  // an interesting 1/2/4-byte little-endian value
      const uint32_t v = kInteresting[rng() % (sizeof(kInteresting) / sizeof(kInteresting[0]))];
      const size_t width = size_t{1} << (rng() % 3);
      const size_t p = pick_pos(rng, b.size());
      for (size_t i = 0; i < width && p + i < b.size(); ++i)
        b[p + i] = static_cast<uint8_t>(v >> (8 * i));
      how = "value " + std::to_string(v) + " x" + std::to_string(width) + " at " + std::to_string(p);
      break;
    }
    case 3: {  // truncate
      const size_t n = rng() % 2 ? rng() % b.size() : b.size() - 1 - rng() % std::min<size_t>(b.size(), 16);
      b.resize(n);
      how = "truncate to " + std::to_string(n);
      break;
    }
    case 4: {  // delete a range
      const size_t p = rng() % b.size();
      const size_t n = 1 + rng() % std::min<size_t>(b.size() - p, 64);
      b.erase(b.begin() + static_cast<long>(p), b.begin() + static_cast<long>(p + n));
      how = "delete " + std::to_string(n) + " at " + std::to_string(p);
      break;
    }
    case 5: {  // insert random bytes
      const size_t p = b.empty() ? 0 : rng() % (b.size() + 1);
      const size_t n = 1 + rng() % 32;
      Bytes ins(n);
      for (auto& c : ins) c = static_cast<uint8_t>(rng());
      b.insert(b.begin() + static_cast<long>(p), ins.begin(), ins.end());
      how = "insert " + std::to_string(n) + " at " + std::to_string(p);
      break;
    }
    case 6: {  // duplicate a range
      const size_t p = rng() % b.size();
      const size_t n = 1 + rng() % std::min<size_t>(b.size() - p, 256);
      Bytes dup(b.begin() + static_cast<long>(p), b.begin() + static_cast<long>(p + n));
      b.insert(b.begin() + static_cast<long>(p), dup.begin(), dup.end());
      how = "duplicate " + std::to_string(n) + " at " + std::to_string(p);
      break;
    }
    case 7: {  // overwrite a range with bytes of another seed
      if (other.empty()) return mutate(in, other, rng, how);
      const size_t p = rng() % b.size(), q = rng() % other.size();
      const size_t n = 1 + rng() % std::min<size_t>({b.size() - p, other.size() - q, 64});
      std::copy_n(other.begin() + static_cast<long>(q), n, b.begin() + static_cast<long>(p));
      how = "overwrite " + std::to_string(n) + " at " + std::to_string(p) + " from another seed";
      break;
    }
    default: {  // splice: a prefix of this seed and a suffix of another
      const size_t p = b.empty() ? 0 : rng() % (b.size() + 1);
      const size_t q = other.empty() ? 0 : rng() % (other.size() + 1);
      b.resize(p);
      b.insert(b.end(), other.begin() + static_cast<long>(q), other.end());
      how = "splice " + std::to_string(p) + " + other[" + std::to_string(q) + ":]";
      break;
    }
  }
  return b;
}

int usage() {
  std::cerr << "usage: <target>_fuzz [--mutations N] [--seed S] [--max-len BYTES] "
               "CORPUS_DIR_OR_FILE...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 200;
  uint64_t seed = 1;
  size_t max_len = size_t{1} << 20;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--mutations" || a == "--seed" || a == "--max-len") && i + 1 < argc) {
      const unsigned long long v = std::stoull(argv[++i]);
      if (a == "--mutations") mutations = static_cast<long>(v);
      if (a == "--seed") seed = v;
      if (a == "--max-len") max_len = static_cast<size_t>(v);
    } else if (!a.empty() && a[0] == '-') {
      return usage();
    } else {
      paths.emplace_back(a);
    }
  }
  if (paths.empty()) return usage();
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);

  std::vector<fs::path> files;
  for (const auto& p : paths) {
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::cerr << "no such corpus file or folder: " << p << "\n";
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << "empty corpus\n";
    return 2;
  }
  std::vector<Bytes> seeds;
  for (const auto& f : files) {
    seeds.push_back(read_all(f));
    if (seeds.back().size() > max_len) seeds.back().resize(max_len);
  }

  const std::string target = fs::path(argv[0]).filename().string();
  std::snprintf(g_save_path, sizeof(g_save_path), "%s",
                (fs::current_path() / ("finding-" + target + ".bin")).string().c_str());
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) std::signal(sig, on_crash);

  long runs = 0;
  for (size_t i = 0; i < seeds.size(); ++i) {
    run_one(seeds[i], "seed " + files[i].filename().string());
    ++runs;
  }
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::mt19937_64 rng(seed * 1000003u + i);
    for (long m = 0; m < mutations; ++m) {
      const Bytes& other = seeds[rng() % seeds.size()];
      std::string how;
      Bytes b = mutate(seeds[i], other, rng, how);
      // Stack a second mutation on a third of the inputs.
      if (rng() % 3 == 0) {
        std::string how2;
        b = mutate(b, other, rng, how2);
        how += ", then " + how2;
      }
      if (b.size() > max_len) b.resize(max_len);
      run_one(b, "seed " + files[i].filename().string() + " mutation " + std::to_string(m) +
                     " (" + how + ")");
      ++runs;
    }
  }
  std::cout << target << ": " << seeds.size() << " seeds, " << runs
            << " inputs (seeds + deterministic mutations, seed " << seed << "): no findings\n";
  return 0;
}
