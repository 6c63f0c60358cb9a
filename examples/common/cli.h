// Shared by the example programs: command-line parsing whose errors exit 2,
// and the error reporting of main().
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>

#include "wick/core/error.h"

namespace examples {

/// Parses the command line. Returns the exit status when the program should
/// stop: 0 after --help, 2 after a usage error (CLI11 has printed it).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

/// Runs `body`, turning exceptions into a message on stderr: "PROGRAM: error:
/// ..." and exit status 2 for wick::Error (bad input: a file, a shape, a
/// key), 1 for anything else. `progress_bar`: the program may have left a
/// progress bar's line open on a terminal, which is ended first.
inline int run_main(const char* program, const std::function<int()>& body,
                    bool progress_bar = false) {
  const char* newline = progress_bar && isatty(STDERR_FILENO) ? "\n" : "";
  try {
    return body();
  } catch (const wick::Error& e) {
    std::fprintf(stderr, "%s%s: error: %s\n", newline, program, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s%s: internal error: %s\n", newline, program, e.what());
    return 1;
  }
}

}  // namespace examples
