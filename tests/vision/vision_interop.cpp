// The C++ side of vision_test.py: runs one data-layer image function on a
// file and saves the result for the script to compare with PIL/torchvision.
//
//   vision_interop decode IMAGE OUT.pt            read_image
//   vision_interop resize IN.pt OUT.pt H W MODE   resize to [H, W] (MODE bilinear|bicubic)
//   vision_interop resize_short IN.pt OUT.pt N MODE   shorter side to N
//   vision_interop center_crop IN.pt OUT.pt H W
//   vision_interop normalize IN.pt OUT.pt         to_float, then ImageNet mean/std
//
// IN.pt holds a bare tensor. Errors go to stderr with exit status 2.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "wick/wick.h"

using namespace wick;

static data::Interpolation mode(const std::string& m) {
  if (m == "bilinear") return data::Interpolation::Bilinear;
  if (m == "bicubic") return data::Interpolation::Bicubic;
  throw Error("unknown interpolation " + m);
}

int main(int argc, char** argv) {
  try {
    if (argc < 4) throw Error("usage: vision_interop COMMAND IN OUT [ARGS...]");
    const std::string cmd = argv[1], in = argv[2], out = argv[3];
    auto arg = [&](int i) { return std::stoll(argv[i]); };
    Tensor result;
    if (cmd == "decode") {
      result = data::read_image(in);
    } else {
      Tensor x = wick::load(in).as_tensor();
      if (cmd == "resize" && argc == 7)
        result = data::resize(x, arg(4), arg(5), mode(argv[6]));
      else if (cmd == "resize_short" && argc == 6)
        result = data::resize(x, arg(4), mode(argv[5]));
      else if (cmd == "center_crop" && argc == 6)
        result = data::center_crop(x, arg(4), arg(5)).contiguous();
      else if (cmd == "normalize" && argc == 4)
        result = data::normalize(data::to_float(x), {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
      else
        throw Error("bad command line for " + cmd);
    }
    wick::save(result, out);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vision_interop: %s\n", e.what());
    return 2;
  }
}
