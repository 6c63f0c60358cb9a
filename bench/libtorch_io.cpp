// The libtorch (C++ frontend, 1.13) peer of `wick bench io`'s .pt rows: what a
// C++ user of libtorch calls to write and read a torch.save-compatible file,
// torch::pickle_save and torch::pickle_load (both work on a byte buffer; the
// file write and read are part of the timed work).
//
//   libtorch_io save PATH REF   load the state_dict in REF (untimed; the file
//                               `wick bench io --save-reference` writes), then
//                               save it to PATH
//   libtorch_io load PATH       load PATH (run in a fresh process)
//
// Prints one JSON object: the seconds of the save or load and, for load, the
// resident memory it added at its peak (VmHWM after minus VmRSS before).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

long long status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::stoll(line.substr(n)) * 1024;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 2 ? argv[1] : "";
  if (cmd == "save" && argc == 4) {
    const std::string path = argv[2];
    std::ifstream ref(argv[3], std::ios::binary);
    std::vector<char> ref_bytes((std::istreambuf_iterator<char>(ref)),
                                std::istreambuf_iterator<char>());
    torch::IValue sd = torch::pickle_load(ref_bytes);
    std::remove(path.c_str());  // a new file, as `wick bench io` writes
    auto t0 = Clock::now();
    std::vector<char> bytes = torch::pickle_save(sd);
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    std::printf("{\"seconds\":%.9f,\"bytes\":%zu}\n", seconds_since(t0), bytes.size());
    return 0;
  }
  if (cmd == "load" && argc == 3) {
    const long long before = status_bytes("VmRSS:");
    auto t0 = Clock::now();
    std::ifstream f(argv[2], std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    torch::IValue v = torch::pickle_load(bytes);
    double dt = seconds_since(t0);
    const long long peak = status_bytes("VmHWM:");
    double check = 0;
    for (const auto& item : v.toGenericDict())
      check += item.value().toTensor()[0][0].item<double>();
    std::printf("{\"seconds\":%.9f,\"peak_rss_added\":%lld,\"check\":%g}\n", dt, peak - before,
                check);
    return 0;
  }
  std::fprintf(stderr, "usage: libtorch_io save PATH REF | load PATH\n");
  return 2;
}
