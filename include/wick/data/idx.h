// IDX files: the format of MNIST and Fashion-MNIST (and other datasets by
// LeCun et al.), gzip-compressed or raw.
//
//   wick::Tensor images = wick::data::load_idx("train-images-idx3-ubyte.gz");
//   // uint8 [60000, 28, 28]
//
// An IDX file is a big-endian header — two zero bytes, a type code (0x08 uint8,
// 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number
// of dimensions, then each dimension as a 32-bit integer — followed by the
// elements in row-major order. Files starting with gzip's magic bytes are
// inflated on the fly; the declared dims are checked against the data before
// anything is allocated for it (for gzip, the output never grows past the
// declared size), so a malformed or truncated file throws wick::FormatError
// naming the file, the problem and the byte offset, never crashes.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "wick/core/tensor.h"

namespace wick::data {

/// Reads an IDX file, gzip or raw (detected by its first bytes), into a tensor
/// with the file's dims and dtype. Throws wick::Error when the file cannot be
/// opened, wick::FormatError when its content is malformed or truncated.
Tensor load_idx(const std::string& path);

/// Parses IDX bytes already in memory (gzip or raw). `name` stands for the
/// file in error messages.
Tensor parse_idx(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace wick::data
