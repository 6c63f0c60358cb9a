// What the subcommands share: reading a checkpoint's entries, formatting.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli.h"

namespace wick::cli {

namespace {

// The error line names the file first; library messages often name it too
// ("<file>: ...", "cannot open '<file>': ...").
std::string without_file(const std::string& file, std::string problem) {
  if (problem.starts_with(file + ": ")) problem.erase(0, file.size() + 2);
  if (size_t at = problem.find(" '" + file + "'"); at != std::string::npos)
    problem.erase(at, file.size() + 3);
  return problem;
}

}  // namespace

FileError::FileError(std::string f, const std::string& problem)
    : std::runtime_error(without_file(f, problem)), file(std::move(f)) {}

bool names_a_checkpoint_set(const std::string& path) {
  std::error_code ec;
  return path.ends_with(".json") || std::filesystem::is_directory(path, ec);
}

Checkpoint read_checkpoint(const std::string& path) {
  return about(path, [&] {
    Checkpoint c{io::Format::Safetensors, {}, path, {}, {}, {}};
    if (names_a_checkpoint_set(path)) {
      io::CheckpointFiles files = io::resolve_checkpoint(path);
      c.file = files.shards.empty() ? "" : files.shards.front();
      if (!files.index.empty()) {
        io::ShardedCheckpoint s = io::load_sharded(path);
        for (const auto& [name, t] : s.tensors) c.entries.emplace_back(name.as_string(), t);
        if (!s.shards.empty()) c.format = s.shards.front().format;
        c.index = s.index;
        c.shards = std::move(s.shards);
        c.total_size = s.total_size;
        return c;
      }
    }
    c.format = io::detect_format(c.file);
    if (c.format != io::Format::Safetensors) {
      c.entries = leaves(io::load(c.file));
      return c;
    }
    io::SafetensorsFile f = io::load_safetensors(c.file);
    for (const auto& [name, t] : f.tensors) c.entries.emplace_back(name.as_string(), t);
    for (const auto& [key, value] : f.metadata)
      c.entries.emplace_back("__metadata__." + key, Value(value));
    return c;
  });
}

std::string formats_str(const std::vector<io::Format>& formats) {
  std::string out;
  for (size_t i = 0; i < formats.size(); ++i)
    if (std::find(formats.begin(), formats.begin() + i, formats[i]) == formats.begin() + i)
      out += (out.empty() ? "" : "+") + std::string(io::format_name(formats[i]));
  return out.empty() ? "none" : out;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string human_bytes(uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(n) / 1024;
  size_t u = 0;
  // Round first, so that 1023.96 KiB prints as 1.0 MiB rather than 1024.0 KiB.
  while (v >= 1023.95 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace wick::cli
