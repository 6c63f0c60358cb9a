// Internal to the `wick` program: what the subcommands share.
//
// Each subcommand lives in its own file and registers itself with add_<name>,
// which returns the function main() runs when that subcommand was given.
// Failures are exceptions caught in main: FileError (exit 2, names the file)
// and UsageError (exit 2, points at --help).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "wick/core/error.h"
#include "wick/core/tensor.h"
#include "wick/core/value.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"
#include "wick/io/sharded.h"

namespace wick::cli {

constexpr int kExitOk = 0;
constexpr int kExitNegative = 1;  // diff found differences, verify found a problem
constexpr int kExitError = 2;     // bad usage, unreadable or malformed file

/// A file that cannot be read, is malformed, or cannot be written: printed as
/// `wick: error: <file>: <problem>`.
struct FileError : std::runtime_error {
  FileError(std::string file, const std::string& problem);
  std::string file;
};

/// Bad usage found after parsing: `wick: error: <problem> (see 'wick <cmd> --help')`.
struct UsageError : std::runtime_error {
  UsageError(std::string command, const std::string& problem)
      : std::runtime_error(problem), command(std::move(command)) {}
  std::string command;
};

/// Runs `f`, turning a wick::Error (or std::bad_alloc) into a FileError about `file`.
template <class F>
auto about(const std::string& file, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw FileError(file, e.what());
  } catch (const std::bad_alloc&) {
    throw FileError(file, "out of memory");
  }
}

/// A checkpoint as the subcommands see it: its leaves by dotted name.
struct Checkpoint {
  io::Format format;
  /// Tensors and non-tensor leaves in order: io::flatten for torch files;
  /// for safetensors the tensors (name order), then each metadata entry as a
  /// str named `__metadata__.<key>`; for a sharded checkpoint the tensors,
  /// shard after shard (io::load_sharded).
  std::vector<std::pair<std::string, Value>> entries;
  /// The file read, or for a sharded checkpoint its first shard (none when
  /// the index names no shard).
  std::string file;
  /// A sharded checkpoint's index and shards (their tensors follow one
  /// another in `entries`); empty for one file.
  std::string index;
  std::vector<io::Shard> shards;
  std::optional<uint64_t> total_size;
};

/// True when `path` is a directory or an index file (a name ending in
/// .json): a checkpoint that io::resolve_checkpoint finds.
bool names_a_checkpoint_set(const std::string& path);

/// Opens `path` (memory-mapped) and flattens it: a file, or a directory or
/// index file (a directory without an index is the one file it holds).
/// Throws FileError.
Checkpoint read_checkpoint(const std::string& path);

/// The formats' names, each once in order of first appearance, joined by
/// "+" ("safetensors", "pt-zip+safetensors"); "none" for no format.
std::string formats_str(const std::vector<io::Format>& formats);

/// "[6, 3, 5, 5]".
std::string shape_str(const Shape& s);
/// "242.2 KiB" (binary units, one decimal; "512 B" below 1 KiB).
std::string human_bytes(uint64_t n);

/// A subcommand: its parser, and what runs when it was given (returns the
/// exit code).
struct Command {
  CLI::App* app;
  std::function<int()> run;
};
Command add_inspect(CLI::App& app);
Command add_verify(CLI::App& app);
Command add_diff(CLI::App& app);
Command add_convert(CLI::App& app);
Command add_bench(CLI::App& app);

}  // namespace wick::cli
