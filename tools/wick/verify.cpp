// wick verify FILE: a full structural check and every CRC-32, with a one-line
// verdict.
#include <iostream>
#include <memory>

#include "cli.h"

namespace wick::cli {

namespace {

int run(const std::string& path) {
  io::VerifyResult r = about(path, [&] { return io::verify(path); });
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
      "A file that cannot be opened exits 2.\n");
  auto path = std::make_shared<std::string>();
  cmd->add_option("FILE", *path, "the checkpoint")->required();
  return {cmd, [=] { return run(*path); }};
}

}  // namespace wick::cli
