// Image files: JPEG and PNG decoded to RGB tensors, as PIL's
// Image.open(path).convert('RGB') followed by torchvision's pil_to_tensor.
//
//   wick::Tensor img = wick::data::read_image("cat.jpg");   // uint8 [3, H, W]
//   img = wick::data::resize(img, 256);                     // wick/data/transforms.h
//
// The format is chosen by the file's first bytes, never by its name. Every
// kind of PNG becomes 8-bit RGB the way PIL's convert('RGB') makes it: grey is
// repeated into the three channels, palette indices are looked up, alpha (and
// palette or tRNS transparency) is dropped without blending, and 16-bit
// samples keep their high byte (PIL does that for 16-bit colour; for 16-bit
// grey PIL clips instead, wick keeps the high byte there too). Gamma and
// colour profiles are ignored, as PIL ignores them. JPEGs are decoded by
// libjpeg-turbo with its defaults (the library PIL uses); greyscale becomes
// RGB, CMYK and YCCK JPEGs are refused. docs/images.md has the details.
//
// Damaged and hostile files are ordinary input: a wick::FormatError names the
// file and what is wrong (empty, not an image, an unsupported format named by
// its magic bytes, truncated, a bad PNG CRC, corrupt JPEG data), and images
// of more than kMaxImagePixels pixels are refused before any pixel memory is
// allocated.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "wick/core/tensor.h"

namespace wick::data {

/// The largest image (width * height) read_image and decode_image accept:
/// 2^28 pixels, 768 MiB of RGB.
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

/// The decodable formats, and the ones recognised only to be refused by name.
enum class ImageFormat { Unknown, JPEG, PNG, GIF, BMP, TIFF, WebP };

/// The format `bytes` announce by their magic bytes ("\xFF\xD8\xFF" for JPEG,
/// "\x89PNG\r\n\x1A\n" for PNG, ...).
ImageFormat image_format(std::span<const uint8_t> bytes);

/// "JPEG", "PNG", "GIF", ...; "unknown" for Unknown.
const char* format_name(ImageFormat format);

/// Decodes a JPEG or PNG held in memory to uint8 [3, H, W] (RGB, contiguous).
/// `name` stands for the source in error messages (a path, a URL).
/// Throws wick::FormatError naming `name` and the problem.
Tensor decode_image(std::span<const uint8_t> bytes, std::string_view name = "<memory>");

/// Reads the file at `path` and decodes it with decode_image. Throws
/// wick::Error naming the path when the file cannot be read, and what
/// decode_image throws when it cannot be decoded.
Tensor read_image(const std::string& path);

}  // namespace wick::data
