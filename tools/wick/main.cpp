// wick: the command-line companion of the library, for looking at and
// converting checkpoints without writing a program.
//
// Exit codes: 0 success, 1 the operation failed (bad file, I/O error),
// 2 bad usage. Errors are one line on stderr: `wick: error: ...`.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "wick/wick.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Subcommands that are designed but not written yet; named in --help so that
// nobody has to guess, and refused with a clear message when used.
struct Planned {
  const char* name;
  const char* summary;
};
constexpr Planned kPlanned[] = {
    {"inspect", "list a checkpoint's entries: names, dtypes, shapes, sizes"},
    {"convert", "convert between PyTorch (.pt/.pth) and safetensors files"},
    {"diff", "compare two checkpoints entry by entry"},
    {"verify", "check that a checkpoint is well formed and loadable"},
};

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int error(const std::string& message, int code) {
  std::cerr << "wick: error: " << one_line(message) << "\n";
  return code;
}

std::string planned_footer() {
  std::string s = "Planned subcommands (not implemented yet):\n";
  for (const Planned& p : kPlanned) {
    s += "  ";
    s += p.name;
    s += std::string(10 - std::string(p.name).size(), ' ');
    s += p.summary;
    s += "\n";
  }
  return s;
}

int run(int argc, char** argv) {
  CLI::App app{"wick " WICK_VERSION_STRING
               ": the command-line tool of the wick library, which reads, trains and writes\n"
               "neural networks whose checkpoints are PyTorch's own files.",
               "wick"};
  app.set_version_flag("--version", "wick " WICK_VERSION_STRING);
  app.footer(planned_footer());
  // Words that are not options are checked below, to name planned subcommands.
  app.allow_extras();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return error(e.what() + std::string(" (see 'wick --help')"), kExitUsage);
  }

  const std::vector<std::string> rest = app.remaining();
  if (!rest.empty()) {
    for (const Planned& p : kPlanned) {
      if (rest.front() == p.name) {
        return error("'" + rest.front() + "' is planned but not implemented yet", kExitUsage);
      }
    }
    const char* what = rest.front().starts_with('-') ? "unknown option" : "unknown command";
    return error(std::string(what) + " '" + rest.front() + "' (see 'wick --help')", kExitUsage);
  }

  std::cout << app.help();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const wick::Error& e) {
    return error(e.what(), kExitFailure);
  } catch (const std::exception& e) {
    return error(e.what(), kExitFailure);
  }
}
