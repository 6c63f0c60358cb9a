// Checkpoint speed, the C++ half of io_bench.py (which runs torch.save/torch.load
// on the same data in the same run and prints ratios). Not a test: it reports.
//
//   wick_io_bench save PATH MIB [--no-fsync]  build a MIB-sized state_dict, save it
//   wick_io_bench load PATH copy|mmap        load PATH; touch nothing (mmap) or all
//
// Each prints one JSON line: the seconds of one save or load, and the process's
// peak resident memory.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "wick/io/serialize.h"

using namespace wick;
using namespace wick::io;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// VmHWM of this address space; getrusage's ru_maxrss would include the peak
// of the process that forked us (Linux keeps it across exec).
long peak_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// 16 float32 tensors adding up to `mib` MiB, filled with a cheap pattern.
Value state_dict(int64_t mib) {
  Dict d(true);
  int64_t per = mib * (int64_t(1) << 20) / 16 / 4;
  for (int i = 0; i < 16; ++i) {
    Tensor t = empty({per});
    auto* p = t.data<float>();
    for (int64_t k = 0; k < per; ++k) p[k] = float(k % 1000) * 0.001f + float(i);
    d.set("layer" + std::to_string(i) + ".weight", t);
  }
  return Value(d);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: wick_io_bench save PATH MIB [--no-fsync] | load PATH copy|mmap\n";
    return 2;
  }
  std::string cmd = argv[1], path = argv[2];
  try {
    if (cmd == "save") {
      Value v = state_dict(std::stoll(argv[3]));
      SaveOptions o;
      o.fsync = !(argc > 4 && std::string(argv[4]) == "--no-fsync");
      double t0 = now();
      save(v, path, o);
      std::printf("{\"seconds\": %.6f, \"peak_rss_kib\": %ld}\n", now() - t0, peak_rss_kib());
      return 0;
    }
    if (cmd == "load") {
      LoadOptions o;
      o.mmap = std::string(argv[3]) == "mmap";
      double t0 = now();
      Value v = load(path, o);
      double dt = now() - t0;
      // Make sure a copying load really produced the bytes.
      double sum = 0;
      for (const auto& [k, x] : v.as_dict()) sum += double(x.as_tensor().data<float>()[0]);
      std::printf("{\"seconds\": %.6f, \"peak_rss_kib\": %ld, \"check\": %g}\n", dt, peak_rss_kib(),
                  sum);
      return 0;
    }
  } catch (const Error& e) {
    std::cerr << "wick error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
