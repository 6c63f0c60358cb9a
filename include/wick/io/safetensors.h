// Reading and writing safetensors files (Hugging Face's format).
//
//   auto f = wick::io::load_safetensors("model.safetensors");
//   wick::Tensor w = f.tensors.at("fc1.weight").as_tensor();
//   for (const auto& [key, value] : f.metadata) std::cout << key << " = " << value << "\n";
//
//   wick::io::save_safetensors(f.tensors, "copy.safetensors", {{"format", "pt"}});
//
// A safetensors file is an 8-byte header length, a JSON header naming each
// tensor's dtype, shape and byte range, and the tensors' bytes back to back.
// Loading checks the header as the reference implementation does (sizes,
// dtypes, shapes, ranges that tile the data exactly, no trailing bytes) and
// throws wick::FormatError naming the rule and the tensor. With mmap (the
// default) tensors are views into the file. Every dtype wick has is supported
// except complex128, which the format cannot hold.
//
// Saving writes what the reference writer (safetensors 0.8) writes: tensors
// ordered by dtype (widest first) then name, compact JSON with __metadata__
// first, the header padded with spaces to a multiple of 8 bytes. Unlike the
// Python binding, non-contiguous tensors and tensors sharing memory are saved
// (each as its own contiguous copy of its elements). Saves are atomic, as for
// wick::io::save.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "wick/core/value.h"
#include "wick/io/serialize.h"

namespace wick::io {

/// The contents of a safetensors file.
struct SafetensorsFile {
  /// Name -> tensor, in name order.
  Dict tensors;
  /// The `__metadata__` entries, in file order.
  std::vector<std::pair<std::string, std::string>> metadata;
};

/// Loads a safetensors file. Only `mmap`, `verify_crc` (ignored: the format
/// has no checksums) and `floating_dtype` of the options apply.
SafetensorsFile load_safetensors(const std::string& path, const LoadOptions& options = {});

/// Loads safetensors bytes held in memory; tensors get their own storages.
SafetensorsFile load_safetensors_bytes(std::span<const std::byte> bytes,
                                       const LoadOptions& options = {});

/// Saves a dict of str -> tensor (or Parameter) with optional metadata.
/// Of the options, `fsync`, `floating_dtype` (each tensor is cast as it is
/// written) and `progress` apply. Throws wick::Error for other keys or values
/// and for complex128 tensors.
void save_safetensors(const Dict& tensors, const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {},
                      const SaveOptions& options = {});

/// The bytes save_safetensors would write.
std::vector<std::byte> save_safetensors_bytes(
    const Dict& tensors, const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace wick::io
