// Test helper for tests/crash: a process that saves a checkpoint over an
// existing file, for wick_crash_tests to kill with SIGKILL or to run with a
// file-size limit or on a full file system.
//
//   crash_saver once pt|safetensors SOURCE TARGET
//       loads SOURCE and saves it over TARGET.
//   crash_saver loop pt|safetensors SOURCE_A SOURCE_B TARGET
//       loads both, then saves B, A, B, A, ... over TARGET until killed.
//   crash_saver full pt|safetensors OLD NEW TARGET
//       copies the file OLD to TARGET, saves the checkpoint NEW over it and
//       expects the save to fail with a wick::Error; then checks that TARGET is
//       still byte for byte OLD, that verify() passes and that nothing else is
//       left in TARGET's directory. Used where only this process sees TARGET
//       (a tmpfs mounted in a private mount namespace).
//
// Just before the (first) save it writes "R" to stdout, so that the driver can
// time its kill from the start of the save rather than from process start.
// Exit status: 0 saved (full: the failure was clean), 1 full: the failure was
// not clean, 2 the save threw wick::Error (message on stderr), 3 anything else.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <variant>

#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"

namespace {

using Checkpoint = std::variant<wick::Value, wick::io::SafetensorsFile>;

Checkpoint load(const std::string& format, const std::string& path) {
  if (format == "pt") return wick::load(path);
  return wick::io::load_safetensors(path);
}

void save(const Checkpoint& c, const std::string& path) {
  if (auto* v = std::get_if<wick::Value>(&c)) return wick::save(*v, path);
  const auto& f = std::get<wick::io::SafetensorsFile>(c);
  wick::io::save_safetensors(f.tensors, path, f.metadata);
}

void ready() {
  // A raw write: the driver may kill us right after it, with nothing buffered.
  (void)!::write(STDOUT_FILENO, "R", 1);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The "full" mode: returns 0 when the failed save left everything as it was.
int full(const std::string& format, const std::string& old_path, const std::string& new_path,
         const std::string& target) {
  namespace fs = std::filesystem;
  fs::copy_file(old_path, target, fs::copy_options::overwrite_existing);
  Checkpoint c = load(format, new_path);
  try {
    save(c, target);
    std::cerr << "crash_saver: the save of " << new_path << " over " << target << " succeeded\n";
    return 1;
  } catch (const wick::Error& e) {
    std::cerr << "wick::Error: " << e.what() << "\n";
  }
  int status = 0;
  if (slurp(target) != slurp(old_path)) {
    std::cerr << "crash_saver: " << target << " no longer holds the old checkpoint\n";
    status = 1;
  }
  if (auto r = wick::io::verify(target); !r.ok()) {
    std::cerr << "crash_saver: verify " << target << ": " << r.problem->str() << "\n";
    status = 1;
  }
  for (const auto& entry : fs::directory_iterator(fs::path(target).parent_path())) {
    if (entry.path() != fs::path(target)) {
      std::cerr << "crash_saver: left behind: " << entry.path().string() << "\n";
      status = 1;
    }
  }
  return status;
}

int run(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "", format = argc > 2 ? argv[2] : "";
  bool known = format == "pt" || format == "safetensors";
  if (known && mode == "once" && argc == 5) {
    Checkpoint c = load(format, argv[3]);
    ready();
    save(c, argv[4]);
    return 0;
  }
  if (known && mode == "loop" && argc == 6) {
    Checkpoint a = load(format, argv[3]), b = load(format, argv[4]);
    ready();
    // Bounded, and stops when the driver is gone, so a stray saver cannot
    // run for ever.
    for (int i = 0; i < 100000 && ::getppid() != 1; ++i) save(i % 2 ? a : b, argv[5]);
    return 0;
  }
  if (known && mode == "full" && argc == 6) return full(format, argv[3], argv[4], argv[5]);
  std::cerr << "usage: crash_saver once pt|safetensors SOURCE TARGET\n"
               "       crash_saver loop pt|safetensors SOURCE_A SOURCE_B TARGET\n"
               "       crash_saver full pt|safetensors OLD NEW TARGET\n";
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const wick::Error& e) {
    std::cerr << "wick::Error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "crash_saver: " << e.what() << "\n";
    return 3;
  }
}
