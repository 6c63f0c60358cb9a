// wick verify FILE: a full structural check and every CRC-32, with a one-line
// verdict. FILE may be a sharded checkpoint (a directory or an index file).
#include <iostream>
#include <memory>

#include "cli.h"

namespace wick::cli {

namespace {

// A sharded checkpoint: every shard as verify() checks a file, and the index
// against the shards' keys.
int run_sharded(const std::string& path) {
  io::ShardedVerifyResult r = about(path, [&] { return io::verify_sharded(path); });
  std::cout << printable(path);
  if (!r.ok()) {
    // A problem of the index given as PATH need not name it twice.
    std::string problem = *r.problem;
    if (problem.starts_with(path + ": ")) problem.erase(0, path.size() + 2);
    std::cout << ": FAILED: " << printable(problem) << "\n";
    return kExitNegative;
  }
  std::cout << ": OK (" << r.files.shards.size() << " shards, " << formats_str(r.formats) << ", "
            << r.tensors << " tensors, " << r.nbytes << " bytes";
  if (r.crc_checked) std::cout << ", CRC-32 checked";
  if (r.files.total_size && *r.files.total_size == r.nbytes) std::cout << ", total_size matches";
  if (r.files.total_size && *r.files.total_size != r.nbytes)
    std::cout << ", total_size in the index is " << *r.files.total_size;
  std::cout << ")\n";
  return kExitOk;
}

int run(const std::string& path) {
  std::string file = path;
  if (names_a_checkpoint_set(path)) {
    io::CheckpointFiles files;
    try {
      files = io::resolve_checkpoint(path);
    } catch (const FormatError&) {
      return run_sharded(path);  // a malformed index: reported as a problem
    } catch (const Error& e) {
      throw FileError(path, e.what());
    }
    if (!files.index.empty()) return run_sharded(path);
    file = files.shards.front();  // a directory holding one file is that file
  }
  io::VerifyResult r = about(path, [&] { return io::verify(file); });
  std::cout << printable(path);
  if (!r.ok()) {
    std::cout << ": FAILED: " << printable(r.problem->str()) << "\n";
    return kExitNegative;
  }
  std::cout << ": OK (" << io::format_name(*r.format);
  if (r.format == io::Format::PtZip) std::cout << ", " << r.records << " records";
  std::cout << ", " << r.tensors << " tensors, " << r.nbytes << " bytes";
  if (r.crc_checked) std::cout << ", CRC-32 checked";
  std::cout << ")\n";
  return kExitOk;
}

}  // namespace

Command add_verify(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "verify", "check a checkpoint's whole structure and every CRC-32 (exit 1 on a problem)");
  cmd->footer(
      "Checks everything loading checks, without copying tensor data: for zip\n"
      "archives every record's header and CRC-32, the pickle, every storage record\n"
      "(present, right size) and every tensor's extent; for safetensors the header,\n"
      "dtypes, shapes and data ranges. Prints 'FILE: OK (...)' and exits 0, or\n"
      "'FILE: FAILED: <problem>' naming the record and byte offset and exits 1.\n"
      "A file that cannot be opened exits 2.\n"
      "FILE may be a sharded checkpoint (a directory or an index file): the index is\n"
      "checked, then every shard as a file and against the index (each key in the\n"
      "shard the index names, and nowhere else); a problem names the shard and key.\n");
  auto path = std::make_shared<std::string>();
  cmd->add_option("FILE", *path, "the checkpoint (a file, a directory or an index)")->required();
  return {cmd, [=] { return run(*path); }};
}

}  // namespace wick::cli
