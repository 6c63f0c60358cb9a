// wick inspect FILE [--json]: a checkpoint's format, version records, tensors
// and other values, as an aligned table or one JSON document. FILE may be a
// sharded checkpoint (a directory or an index file).
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli.h"

namespace wick::cli {

namespace {

using json = nlohmann::ordered_json;

struct Table {
  std::vector<std::vector<std::string>> rows;  // rows[0] is the header
  std::vector<bool> right;                     // right-aligned columns
};

// Columns two spaces apart, padded to their widest cell, except that the first
// column is `first_width` wide (shared by the tables of one listing) and the
// last is not padded when left-aligned.
void print(const Table& t, size_t first_width) {
  std::vector<size_t> width(t.right.size(), 0);
  for (const auto& row : t.rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  width[0] = first_width;
  for (const auto& row : t.rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      size_t pad = width[c] - std::min(width[c], row[c].size());
      if (c) line += "  ";
      if (t.right[c]) line.append(pad, ' ');
      line += row[c];
      if (!t.right[c] && c + 1 < row.size()) line.append(pad, ' ');
    }
    std::cout << line << "\n";
  }
}

json value_json(const Value& v) {
  switch (v.kind()) {
    case ValueKind::None:
      return nullptr;
    case ValueKind::Bool:
      return v.as_bool();
    case ValueKind::Int:
      return v.as_int();
    case ValueKind::Float: {
      double d = v.as_float();
      if (std::isnan(d)) return "nan";
      if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
      return d;
    }
    case ValueKind::String:
      return v.as_string();
    case ValueKind::Bytes: {
      static const char* digits = "0123456789abcdef";
      std::string hex;
      for (unsigned char c : v.as_bytes()) {
        hex += digits[c >> 4];
        hex += digits[c & 15];
      }
      return {{"bytes", hex}};
    }
    case ValueKind::Dict:
      return json::object();  // only empty containers are leaves
    case ValueKind::Object:
      return {{"object", v.as_object().type}};
    default:
      return json::array();
  }
}

struct Totals {
  uint64_t tensors = 0, numel = 0, nbytes = 0, values = 0;
};

int run(const std::string& path, bool as_json) {
  Checkpoint c = read_checkpoint(path);
  // A sharded checkpoint shows its first shard's records.
  std::vector<std::pair<std::string, std::string>> versions;
  if (!c.file.empty()) versions = about(c.file, [&] { return io::version_records(c.file); });
  std::vector<io::Format> formats{c.format};
  if (!c.index.empty()) {
    formats.clear();
    for (const io::Shard& s : c.shards) formats.push_back(s.format);
  }
  std::string format = formats_str(formats);
  // The shard of each entry (entries list each shard's tensors together).
  std::vector<const io::Shard*> shard_of;
  for (const io::Shard& s : c.shards) shard_of.insert(shard_of.end(), s.tensors, &s);
  Totals tot;
  for (const auto& [name, v] : c.entries) {
    if (!v.is_tensor()) {
      tot.values += 1;
      continue;
    }
    tot.tensors += 1;
    tot.numel += uint64_t(v.as_tensor().numel());
    tot.nbytes += uint64_t(v.as_tensor().nbytes());
  }

  if (as_json) {
    json doc = {{"file", path}, {"format", format}, {"versions", json::object()}};
    for (const auto& [k, text] : versions) doc["versions"][k] = text;
    json tensors = json::array(), values = json::array();
    for (size_t i = 0; i < c.entries.size(); ++i) {
      const auto& [name, v] = c.entries[i];
      if (v.is_tensor()) {
        const Tensor& t = v.as_tensor();
        tensors.push_back({{"name", name},
                           {"dtype", dtype_name(t.dtype())},
                           {"shape", t.sizes()},
                           {"numel", t.numel()},
                           {"nbytes", t.nbytes()}});
        if (!c.index.empty()) tensors.back()["shard"] = shard_of[i]->name;
      } else {
        values.push_back({{"name", name}, {"type", v.type_name()}, {"value", value_json(v)}});
      }
    }
    doc["tensors"] = std::move(tensors);
    doc["values"] = std::move(values);
    doc["totals"] = {{"tensors", tot.tensors},
                     {"numel", tot.numel},
                     {"nbytes", tot.nbytes},
                     {"values", tot.values}};
    if (!c.index.empty()) {
      doc["index"] = c.index;
      doc["total_size"] = c.total_size ? json(*c.total_size) : json(nullptr);
      json shards = json::array();
      for (const io::Shard& s : c.shards)
        shards.push_back({{"name", s.name},
                          {"file", s.path},
                          {"format", io::format_name(s.format)},
                          {"tensors", s.tensors}});
      doc["shards"] = std::move(shards);
    }
    // Names from a file need not be UTF-8; they must not stop the output.
    std::cout << doc.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }

  Table tensors{{{"name", "dtype", "shape", "elements", "bytes"}},
                {false, false, false, true, true}};
  Table values{{{"value", "type", "value"}}, {false, false, false}};
  size_t name_width = 5;  // "value"
  for (const auto& [name, v] : c.entries) {
    std::string n = printable(name);
    name_width = std::max(name_width, n.size());
    if (v.is_tensor()) {
      const Tensor& t = v.as_tensor();
      tensors.rows.push_back({n, std::string(dtype_name(t.dtype())), shape_str(t.sizes()),
                              std::to_string(t.numel()), std::to_string(t.nbytes())});
    } else {
      values.rows.push_back({n, v.type_name(), printable(v.repr())});
    }
  }
  std::cout << "file: " << printable(path) << "\n";
  std::cout << "format: " << format;
  for (size_t i = 0; i < versions.size(); ++i)
    std::cout << (i ? ", " : "  (") << versions[i].first << ": " << versions[i].second;
  std::cout << (versions.empty() ? "" : ")") << "\n";
  if (!c.index.empty()) {
    std::cout << "shards: " << c.shards.size() << " (index " << printable(c.index);
    if (c.total_size) std::cout << ", total_size " << *c.total_size;
    std::cout << ")\n";
  }
  if (tot.tensors) print(tensors, name_width);
  if (tot.values) print(values, name_width);
  std::cout << "totals: " << tot.tensors << " tensors, " << tot.numel << " elements, " << tot.nbytes
            << " bytes (" << human_bytes(tot.nbytes) << "); " << tot.values << " values\n";
  return kExitOk;
}

}  // namespace

Command add_inspect(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "inspect", "list a checkpoint's format, version records, tensors and other values");
  cmd->footer(
      "Lists a checkpoint's format (pt-zip, pt-legacy or safetensors, told by content),\n"
      "the version records it carries, every tensor by dotted path with its dtype,\n"
      "shape, element count and bytes (elements x element size), every other value\n"
      "(Python's repr), and totals. Safetensors metadata entries are listed as str\n"
      "values named __metadata__.<key>.\n"
      "FILE may be a sharded checkpoint: a directory (model.safetensors.index.json,\n"
      "model.safetensors, pytorch_model.bin.index.json or pytorch_model.bin in it) or an\n"
      "index file (*.json). Its shards are listed as one checkpoint, after a line\n"
      "'shards: N (index PATH, total_size N)'; --json adds index, total_size, shards\n"
      "[{name, file, format, tensors}] and each tensor's shard.\n");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("FILE", *path,
                  "the checkpoint (.pt, .pth, .bin, .safetensors, ..., a directory or an index)")
      ->required();
  cmd->add_flag("--json", *as_json,
                "print one JSON document: {file, format, versions, tensors: [{name, dtype, "
                "shape, numel, nbytes}], values: [{name, type, value}], totals}");
  return {cmd, [=] { return run(*path, *as_json); }};
}

}  // namespace wick::cli
