// wick: the command-line companion of the library, for looking at, checking,
// comparing and converting checkpoints without writing a program.
//
// Exit codes: 0 success (equal, sound); 1 a negative answer from diff or
// verify; 2 bad usage or a file that cannot be read or is malformed, with one
// line on stderr: `wick: error: ...`. Every exception ends here, so the
// program never dies of one.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "wick/version.h"

namespace {

using namespace wick::cli;

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int error(const std::string& message) {
  std::cout.flush();
  std::cerr << "wick: error: " << one_line(message) << "\n";
  return kExitError;
}

int run(int argc, char** argv) {
  CLI::App app{"wick " WICK_VERSION_STRING
               ": look at, check, compare and convert PyTorch and safetensors\n"
               "checkpoints without writing code or installing PyTorch.",
               "wick"};
  app.set_version_flag("--version", "wick " WICK_VERSION_STRING);
  app.require_subcommand(0, 1);
  const Command commands[] = {add_inspect(app), add_verify(app), add_diff(app), add_convert(app),
                              add_bench(app)};
  app.footer(
      "Exit status: 0 success; 1 diff found differences or verify found a problem;\n"
      "2 bad usage or an unreadable or malformed file. 'wick <command> --help' for more.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string where = "wick";
    for (const Command& c : commands)
      if (c.app->parsed()) where += " " + c.app->get_name();
    return error(e.what() + (" (see '" + where + " --help')"));
  }
  for (const Command& c : commands)
    if (c.app->parsed()) return c.run();
  std::cout << app.help();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const FileError& e) {
    return error(wick::printable(e.file) + ": " + e.what());
  } catch (const UsageError& e) {
    return error(std::string(e.what()) + " (see 'wick " + e.command + " --help')");
  } catch (const std::bad_alloc&) {
    return error("out of memory");
  } catch (const std::exception& e) {
    return error(e.what());
  } catch (...) {
    return error("unexpected failure");
  }
}
