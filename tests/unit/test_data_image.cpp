// wick::data::decode_image and read_image without Python: PNGs written here
// (zlib for the data, CRC-32 for the chunks) and JPEGs written by libjpeg
// decode to the pixels they were made from; every prefix of a file, flipped
// bytes, huge declared sizes and files that are not images are refused with a
// FormatError, never a crash. tests/vision compares with PIL itself. Also the
// image transforms' properties and argument errors.
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "wick/core/error.h"
#include "wick/data/image.h"
#include "wick/data/transforms.h"

using namespace wick;
using Bytes = std::vector<uint8_t>;

namespace {

void put32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void chunk(Bytes& png, const char* type, const Bytes& data) {
  put32(png, uint32_t(data.size()));
  const size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put32(png, uint32_t(crc32(0, png.data() + start, uInt(png.size() - start))));
}

// A PNG of `rows` (each row's samples, big-endian for 16 bits, no filter byte).
Bytes make_png(uint32_t width, uint32_t height, uint8_t depth, uint8_t color,
               const std::vector<Bytes>& rows, const Bytes& palette = {}, const Bytes& trns = {}) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  Bytes ihdr;
  put32(ihdr, width);
  put32(ihdr, height);
  ihdr.insert(ihdr.end(), {depth, color, 0, 0, 0});
  chunk(png, "IHDR", ihdr);
  if (!palette.empty()) chunk(png, "PLTE", palette);
  if (!trns.empty()) chunk(png, "tRNS", trns);
  Bytes raw;
  for (const Bytes& r : rows) {
    raw.push_back(0);
    raw.insert(raw.end(), r.begin(), r.end());
  }
  uLongf size = compressBound(uLong(raw.size()));
  Bytes z(size);
  EXPECT_EQ(compress(z.data(), &size, raw.data(), uLong(raw.size())), Z_OK);
  z.resize(size);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}

// A JPEG of interleaved RGB (3 components) or grey (1) pixels.
Bytes make_jpeg(int width, int height, int components, const Bytes& pixels, int quality = 100) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = JDIMENSION(width);
  c.image_height = JDIMENSION(height);
  c.input_components = components;
  c.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  for (int i = 0; i < c.num_components; ++i) c.comp_info[i].h_samp_factor = 1;  // 4:4:4
  for (int i = 0; i < c.num_components; ++i) c.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row =
        const_cast<uint8_t*>(pixels.data()) + size_t(c.next_scanline) * width * components;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes b(out, out + size);
  std::free(out);
  return b;
}

// Smooth pixels (JPEG keeps them within a few levels), [height][width][channels].
Bytes smooth(int width, int height, int channels) {
  Bytes p;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) p.push_back(uint8_t((x * 7 + y * 5 + c * 60) % 200 + 20));
  return p;
}

uint8_t at(const Tensor& img, int64_t c, int64_t y, int64_t x) {
  return img.data<uint8_t>()[(c * img.size(1) + y) * img.size(2) + x];
}

std::string error_of(const Bytes& bytes, std::string_view name = "test.img") {
  try {
    data::decode_image(bytes, name);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(DataImage, PngKindsDecodeToTheirPixels) {
  const uint32_t w = 5, h = 3;
  std::vector<Bytes> rgb, grey, rgba, rgb16, pal, bits;
  for (uint32_t y = 0; y < h; ++y) {
    Bytes r, g, a, r16, p, b(1, 0);
    for (uint32_t x = 0; x < w; ++x) {
      const uint8_t v = uint8_t(40 * x + 70 * y);
      r.insert(r.end(), {v, uint8_t(255 - v), uint8_t(x)});
      g.push_back(v);
      a.insert(a.end(), {v, uint8_t(v / 2), 9, uint8_t(17 * x)});
      r16.insert(r16.end(), {v, 0xff, uint8_t(v + 1), 0x00, 7, 0x80});  // high bytes v, v+1, 7
      p.push_back(uint8_t((x + y) % 3));
      b[0] |= uint8_t(((x + y) & 1) << (7 - x));  // 1-bit grey
    }
    rgb.push_back(r), grey.push_back(g), rgba.push_back(a), rgb16.push_back(r16);
    pal.push_back(p), bits.push_back(b);
  }
  const Bytes palette = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  const Tensor t_rgb = data::decode_image(make_png(w, h, 8, 2, rgb));
  const Tensor t_grey = data::decode_image(make_png(w, h, 8, 0, grey));
  const Tensor t_rgba = data::decode_image(make_png(w, h, 8, 6, rgba));
  const Tensor t_16 = data::decode_image(make_png(w, h, 16, 2, rgb16));
  const Tensor t_pal = data::decode_image(make_png(w, h, 8, 3, pal, palette, {0, 128}));
  const Tensor t_bits = data::decode_image(make_png(w, h, 1, 0, bits));
  for (const Tensor* t : {&t_rgb, &t_grey, &t_rgba, &t_16, &t_pal, &t_bits}) {
    ASSERT_EQ(t->dtype(), DType::UInt8);
    ASSERT_EQ(t->sizes(), Shape({3, h, w}));
    ASSERT_TRUE(t->is_contiguous());
  }
  for (uint32_t y = 0; y < h; ++y) {
    for (uint32_t x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(at(t_rgb, c, y, x), rgb[y][3 * x + c]);
        EXPECT_EQ(at(t_grey, c, y, x), grey[y][x]) << "grey is repeated";
        EXPECT_EQ(at(t_rgba, c, y, x), rgba[y][4 * x + c]) << "alpha is dropped, not blended";
        EXPECT_EQ(at(t_16, c, y, x), rgb16[y][6 * x + 2 * c]) << "16-bit keeps the high byte";
        EXPECT_EQ(at(t_pal, c, y, x), palette[3 * pal[y][x] + c]) << "tRNS is dropped";
        EXPECT_EQ(at(t_bits, c, y, x), ((x + y) & 1) ? 255 : 0);
      }
    }
  }
}

TEST(DataImage, JpegDecodesCloseToItsPixels) {
  const int w = 19, h = 11;
  for (int components : {3, 1}) {
    const Bytes pixels = smooth(w, h, components);
    const Tensor t = data::decode_image(make_jpeg(w, h, components, pixels));
    ASSERT_EQ(t.sizes(), Shape({3, h, w}));
    int worst = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c)
          worst = std::max(
              worst,
              std::abs(int(at(t, c, y, x)) -
                       int(pixels[size_t((y * w + x) * components + (components == 3 ? c : 0))])));
    EXPECT_LE(worst, 8) << components << " components at quality 100";
  }
}

TEST(DataImage, EveryPrefixAndFlippedBytesAreRefusedOrDecoded) {
  const Bytes png = make_png(6, 4, 8, 2, std::vector<Bytes>(4, smooth(6, 1, 3)));
  const Bytes jpeg = make_jpeg(24, 16, 3, smooth(24, 16, 3), 90);
  for (const Bytes* file : {&png, &jpeg}) {
    for (size_t n = 0; n < file->size(); ++n) {
      const Bytes prefix(file->begin(), file->begin() + std::ptrdiff_t(n));
      EXPECT_NE(error_of(prefix), "")
          << "a prefix of " << n << " of " << file->size() << " bytes decoded";
    }
    std::mt19937 rng(42);
    for (int i = 0; i < 300; ++i) {
      Bytes damaged = *file;
      damaged[rng() % damaged.size()] ^= uint8_t(1 + rng() % 255);
      try {
        const Tensor t = data::decode_image(damaged);
        EXPECT_EQ(t.size(0), 3);
      } catch (const FormatError&) {
      }
    }
  }
  EXPECT_NE(error_of(Bytes(png.begin(), png.end() - 12)).find("truncated PNG"), std::string::npos);
  EXPECT_NE(error_of(Bytes(jpeg.begin(), jpeg.begin() + std::ptrdiff_t(jpeg.size() / 2)))
                .find("truncated JPEG"),
            std::string::npos);
}

TEST(DataImage, BadCrcHugeSizesAndNonImagesAreNamed) {
  Bytes png = make_png(2, 2, 8, 0, {{1, 2}, {3, 4}});
  Bytes bad = png;
  bad[29] ^= 1;  // IHDR's CRC
  EXPECT_NE(error_of(bad, "bad.png").find("bad.png: corrupt PNG: IHDR: CRC error"),
            std::string::npos)
      << error_of(bad, "bad.png");
  // An ancillary chunk with a bad CRC is refused too.
  Bytes text = png;
  Bytes t = {'a', 0, 'b'};
  Bytes with_text(png.begin(), png.begin() + 33);
  chunk(with_text, "tEXt", t);
  with_text.back() ^= 1;
  with_text.insert(with_text.end(), png.begin() + 33, png.end());
  EXPECT_NE(error_of(with_text).find("tEXt: CRC error"), std::string::npos) << error_of(with_text);

  const Bytes huge = make_png(100000, 100000, 8, 2, {});
  EXPECT_NE(error_of(huge, "huge.png")
                .find("huge.png: PNG image of 100000 x 100000 pixels "
                      "(10000000000) is larger than the 268435456"),
            std::string::npos)
      << error_of(huge);
  Bytes jpeg = make_jpeg(8, 8, 3, smooth(8, 8, 3));
  for (size_t i = 0; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0) {  // SOF0: height and width at +5
      jpeg[i + 5] = 0xfd, jpeg[i + 6] = 0xe8, jpeg[i + 7] = 0xfd, jpeg[i + 8] = 0xe8;  // 65000
      break;
    }
  }
  EXPECT_NE(error_of(jpeg).find("JPEG image of 65000 x 65000 pixels"), std::string::npos)
      << error_of(jpeg);

  EXPECT_NE(error_of({}, "zero.jpg").find("zero.jpg: empty file"), std::string::npos);
  const std::string text_file = "hello, world\n";
  EXPECT_NE(error_of(Bytes(text_file.begin(), text_file.end()), "a.jpg")
                .find("a.jpg: not a JPEG or PNG image (the file starts with bytes 68 65 6c"),
            std::string::npos);
  EXPECT_NE(error_of({'G', 'I', 'F', '8', '9', 'a', 1, 0}).find("GIF images are not supported"),
            std::string::npos);
  EXPECT_EQ(data::image_format(Bytes{'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'}),
            data::ImageFormat::WebP);
}

TEST(DataImage, ReadImageNamesThePath) {
  const auto dir = std::filesystem::temp_directory_path() / "wick_test_data_image";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "two.png").string();
  const Bytes png = make_png(2, 1, 8, 2, {{1, 2, 3, 4, 5, 6}});
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
  EXPECT_EQ(data::read_image(path).sizes(), Shape({3, 1, 2}));
  for (const std::string& p : {(dir / "missing.png").string(), dir.string()}) {
    try {
      data::read_image(p);
      ADD_FAILURE() << p << " was read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p + ": "), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(DataTransforms, ResizeKeepsConstantsAndCropIsAView) {
  for (auto mode : {data::Interpolation::Bilinear, data::Interpolation::Bicubic}) {
    const Tensor img = full({2, 3, 17, 29}, 77, {.dtype = DType::UInt8});
    for (auto [h, w] : {std::pair{5, 8}, {40, 33}, {17, 30}}) {
      const Tensor r = data::resize(img, h, w, mode);
      ASSERT_EQ(r.sizes(), Shape({2, 3, h, w}));
      for (uint8_t v : r.to_vector<uint8_t>()) ASSERT_EQ(v, 77);
      const Tensor f = data::resize(img.to(DType::Float64), h, w, mode);
      for (double v : f.to_vector<double>()) ASSERT_NEAR(v, 77, 1e-9);
    }
  }
  const Tensor img = zeros({3, 300, 400}, {.dtype = DType::UInt8});
  EXPECT_EQ(data::resize(img, 256).sizes(), Shape({3, 256, 341}));
  EXPECT_EQ(data::resize(img.transpose(1, 2), 256).sizes(), Shape({3, 341, 256}));
  const Tensor crop = data::center_crop(img, 224, 224);
  EXPECT_EQ(crop.sizes(), Shape({3, 224, 224}));
  EXPECT_EQ(crop.data<uint8_t>(), img.data<uint8_t>() + 38 * 400 + 88) << "a view at (38, 88)";
  EXPECT_THROW(data::resize(zeros({5}), 2, 2), ShapeError);
  EXPECT_THROW(data::resize(zeros({3, 4, 4}), 0, 2), ShapeError);
  EXPECT_THROW(data::resize(zeros({3, 4, 4}, {.dtype = DType::Int32}), 2, 2), DTypeError);
  EXPECT_THROW(data::center_crop(zeros({4}), 2, 2), ShapeError);
}
