// JPEG through libjpeg-turbo, PNG through libpng (docs/images.md).
//
// Both libraries report errors through a callback that must not return. The
// callbacks here longjmp back to a setjmp in a small function that owns no
// C++ objects (longjmp over a C++ destructor is undefined, and an exception
// thrown through the libraries' C frames is not safe either): such a function
// returns false, and its C++ caller turns the saved message into a
// wick::FormatError. Each decoder runs in two such steps, the header and
// then the pixels, so that the pixel tensor is allocated in C++ between them,
// after the size has been checked.
#include "wick/data/image.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstring>
#include <memory>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "wick/core/error.h"

namespace wick::data {

namespace {

bool starts_with(std::span<const uint8_t> b, std::string_view magic, size_t at = 0) {
  if (b.size() < at + magic.size()) return false;
  return std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
}

[[noreturn]] void fail(std::string_view name, const std::string& what) {
  throw FormatError(detail::concat(name, ": ", what));
}

void check_pixels(std::string_view name, const char* format, uint64_t width, uint64_t height) {
  if (width == 0 || height == 0)
    fail(name, detail::concat(format, " image of ", width, " x ", height, " pixels is empty"));
  // Each side fits in 32 bits, so the product does not overflow 64.
  if (width * height > uint64_t(kMaxImagePixels))
    fail(name,
         detail::concat(format, " image of ", width, " x ", height, " pixels (", width * height,
                        ") is larger than the ", kMaxImagePixels, " pixels wick decodes"));
}

// [H, W, 3] -> [3, H, W], contiguous.
Tensor to_chw(const Tensor& hwc) {
  return hwc.permute({2, 0, 1}).contiguous();
}

// ---- JPEG ------------------------------------------------------------------

// More scans than any encoder writes; a hostile progressive file can ask for
// millions, each a pass over the whole image.
constexpr int kMaxJpegScans = 1000;

struct JpegState {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
  bool truncated;
  bool created;
  int scans;
};

JpegState* jpeg_state(j_common_ptr cinfo) {
  // err is the first thing libjpeg reaches; cinfo->client_data points back.
  return static_cast<JpegState*>(cinfo->client_data);
}

void jpeg_on_error(j_common_ptr cinfo) {
  JpegState* s = jpeg_state(cinfo);
  (*cinfo->err->format_message)(cinfo, s->message);
  std::longjmp(s->jump, 1);
}

// Warnings that mean damaged data end the decode; libjpeg would otherwise fill
// the rest of the image with grey and carry on. Trace messages count scans.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  JpegState* s = jpeg_state(cinfo);
  const int code = cinfo->err->msg_code;
  if (level < 0) {
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
        code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL) {
      s->truncated = code == JWRN_JPEG_EOF;
      (*cinfo->err->format_message)(cinfo, s->message);
      std::longjmp(s->jump, 1);
    }
  } else if (code == JTRC_SOS && ++s->scans > kMaxJpegScans) {
    std::snprintf(s->message, sizeof s->message, "more than %d scans", kMaxJpegScans);
    std::longjmp(s->jump, 1);
  }
}

// Step 1: the header. No C++ objects live here (see the top of the file).
bool jpeg_read_header_step(JpegState* s, const uint8_t* data, size_t size) {
  if (setjmp(s->jump)) return false;
  s->cinfo.err = jpeg_std_error(&s->err);
  s->err.error_exit = jpeg_on_error;
  s->err.emit_message = jpeg_on_message;
  s->cinfo.client_data = s;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  jpeg_mem_src(&s->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s->cinfo, TRUE);
  return true;
}

// Step 2: every scanline into `out` ([H, W, 3]).
bool jpeg_read_pixels_step(JpegState* s, uint8_t* out) {
  if (setjmp(s->jump)) return false;
  s->cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&s->cinfo);
  const size_t stride = size_t(s->cinfo.output_width) * 3;
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    JSAMPROW row = out + size_t(s->cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&s->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&s->cinfo);
  return true;
}

struct JpegGuard {
  JpegState* s;
  ~JpegGuard() {
    if (s->created) jpeg_destroy_decompress(&s->cinfo);
  }
};

Tensor decode_jpeg(std::span<const uint8_t> bytes, std::string_view name) {
  JpegState s{};
  JpegGuard guard{&s};
  auto error = [&]() {
    fail(name, s.truncated ? detail::concat("truncated JPEG (libjpeg: ", s.message, ")")
                           : detail::concat("corrupt JPEG: ", s.message));
  };
  if (!jpeg_read_header_step(&s, bytes.data(), bytes.size())) error();
  const uint64_t width = s.cinfo.image_width, height = s.cinfo.image_height;
  check_pixels(name, "JPEG", width, height);
  const J_COLOR_SPACE space = s.cinfo.jpeg_color_space;
  if (space != JCS_GRAYSCALE && space != JCS_YCbCr && space != JCS_RGB)
    fail(name, space == JCS_CMYK || space == JCS_YCCK
                   ? std::string("CMYK JPEGs are not supported (convert the image to RGB)")
                   : detail::concat("JPEG colour space ", int(space), " is not supported"));
  // Coefficient buffers of progressive files are bounded by the pixel count;
  // this bounds everything else libjpeg allocates.
  s.cinfo.mem->max_memory_to_use = 64L * kMaxImagePixels;
  Tensor hwc = empty({int64_t(height), int64_t(width), 3}, {.dtype = DType::UInt8});
  if (!jpeg_read_pixels_step(&s, hwc.data<uint8_t>())) error();
  if (s.cinfo.output_width != width || s.cinfo.output_height != height ||
      s.cinfo.output_components != 3)
    fail(name, detail::concat("libjpeg decoded ", s.cinfo.output_width, " x ",
                              s.cinfo.output_height, " x ", s.cinfo.output_components,
                              " from a header of ", width, " x ", height));
  return to_chw(hwc);
}

// ---- PNG -------------------------------------------------------------------

struct PngState {
  png_structp png;
  png_infop info;
  const uint8_t* data;
  size_t size, pos;
  std::jmp_buf jump;
  char message[256];
  bool truncated;
};

void png_on_error(png_structp png, png_const_charp message) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", message);
  std::longjmp(s->jump, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // ancillary oddities: PIL ignores them too

void png_read_bytes(png_structp png, png_bytep out, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) {
    s->truncated = true;
    png_error(png, "the file ends early");
  }
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

// Step 1: signature and IHDR (and the chunks before IDAT).
bool png_read_header_step(PngState* s) {
  if (setjmp(s->jump)) return false;
  s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_on_error, png_on_warning);
  if (!s->png) {
    std::snprintf(s->message, sizeof s->message, "libpng cannot start");
    return false;
  }
  s->info = png_create_info_struct(s->png);
  if (!s->info) png_error(s->png, "out of memory");
  png_set_read_fn(s->png, s, png_read_bytes);
  // A bad CRC is an error in every chunk, ancillary ones included.
  png_set_crc_action(s->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_read_info(s->png, s->info);
  return true;
}

// Step 2: transforms to 8-bit RGB (PIL's convert('RGB')), then every row.
bool png_read_pixels_step(PngState* s, png_bytep* rows, size_t row_bytes) {
  if (setjmp(s->jump)) return false;
  png_structp png = s->png;
  png_infop info = s->info;
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_strip_16(png);
  // palette_to_rgb turns a palette's tRNS into alpha, which goes too.
  if ((color & PNG_COLOR_MASK_ALPHA) ||
      (color == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, info, PNG_INFO_tRNS)))
    png_set_strip_alpha(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
      png_get_rowbytes(png, info) != row_bytes)
    png_error(png, "libpng did not convert the image to 8-bit RGB");
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

struct PngGuard {
  PngState* s;
  ~PngGuard() {
    if (s->png) png_destroy_read_struct(&s->png, s->info ? &s->info : nullptr, nullptr);
  }
};

Tensor decode_png(std::span<const uint8_t> bytes, std::string_view name) {
  PngState s{};
  s.data = bytes.data();
  s.size = bytes.size();
  PngGuard guard{&s};
  auto error = [&]() {
    fail(name, s.truncated ? detail::concat("truncated PNG (", s.message, " at byte ", s.size, ")")
                           : detail::concat("corrupt PNG: ", s.message));
  };
  if (!png_read_header_step(&s)) error();
  const uint64_t width = png_get_image_width(s.png, s.info);
  const uint64_t height = png_get_image_height(s.png, s.info);
  check_pixels(name, "PNG", width, height);
  Tensor hwc = empty({int64_t(height), int64_t(width), 3}, {.dtype = DType::UInt8});
  std::vector<png_bytep> rows(height);
  for (uint64_t y = 0; y < height; ++y) rows[y] = hwc.data<uint8_t>() + y * width * 3;
  if (!png_read_pixels_step(&s, rows.data(), width * 3)) error();
  return to_chw(hwc);
}

std::string hex_start(std::span<const uint8_t> bytes) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
    std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", bytes[i]);
    out += buf;
  }
  return out;
}

}  // namespace

ImageFormat image_format(std::span<const uint8_t> b) {
  if (starts_with(b, "\xFF\xD8\xFF")) return ImageFormat::JPEG;
  if (starts_with(b, "\x89PNG\r\n\x1A\n")) return ImageFormat::PNG;
  if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return ImageFormat::GIF;
  if (starts_with(b, "BM")) return ImageFormat::BMP;
  if (starts_with(b, std::string_view("II*\0", 4)) || starts_with(b, std::string_view("MM\0*", 4)))
    return ImageFormat::TIFF;
  if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) return ImageFormat::WebP;
  return ImageFormat::Unknown;
}

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::JPEG:
      return "JPEG";
    case ImageFormat::PNG:
      return "PNG";
    case ImageFormat::GIF:
      return "GIF";
    case ImageFormat::BMP:
      return "BMP";
    case ImageFormat::TIFF:
      return "TIFF";
    case ImageFormat::WebP:
      return "WebP";
    case ImageFormat::Unknown:
      break;
  }
  return "unknown";
}

Tensor decode_image(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.empty()) fail(name, "empty file (0 bytes), not an image");
  switch (const ImageFormat format = image_format(bytes)) {
    case ImageFormat::JPEG:
      return decode_jpeg(bytes, name);
    case ImageFormat::PNG:
      return decode_png(bytes, name);
    case ImageFormat::Unknown:
      fail(name, detail::concat("not a JPEG or PNG image (the file starts with bytes ",
                                hex_start(bytes), ")"));
    default:
      fail(name, detail::concat(format_name(format),
                                " images are not supported (wick reads JPEG and PNG)"));
  }
}

Tensor read_image(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  WICK_CHECK(f, path, ": cannot open the image file (", std::strerror(errno), ")");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, std::fclose);
  struct stat st {};
  WICK_CHECK(::fstat(::fileno(f), &st) == 0 && S_ISREG(st.st_mode), path,
             ": not a regular file, cannot read it as an image");
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  WICK_CHECK(std::fread(bytes.data(), 1, bytes.size(), f) == bytes.size(), path,
             ": cannot read the image file (", std::strerror(errno), ")");
  return decode_image(bytes, path);
}

}  // namespace wick::data
