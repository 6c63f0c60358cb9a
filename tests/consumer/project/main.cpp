// A user's first wick program: a tensor, a gradient, a sum, and an image
// decoded from memory (which links libpng and libjpeg through wick).
#include <wick/wick.h>

#include <cstdint>
#include <cstdio>

// A 2x1 PNG: one red pixel, one blue.
const uint8_t kPng[] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
                        0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
                        0x08, 0x02, 0x00, 0x00, 0x00, 0x7b, 0x40, 0xe8, 0xdd, 0x00, 0x00, 0x00,
                        0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0x00, 0x04,
                        0xff, 0x01, 0x07, 0x00, 0x01, 0xff, 0xe2, 0x23, 0x9e, 0x59, 0x00, 0x00,
                        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

int main() {
  wick::Tensor t = wick::arange(1, 5, 1, wick::DType::Float32).view({2, 2});  // 1 2; 3 4
  wick::Tensor w = wick::ones({2, 2}, {.requires_grad = true});
  wick::Tensor total = (t * w).sum();
  total.backward();                                     // d total / d w == t
  wick::Tensor image = wick::data::decode_image(kPng);  // uint8 [3, 1, 2]
  std::printf("wick %s sum=%g grad_sum=%g png=%lldx%lldx%lld red=%d\n", WICK_VERSION_STRING,
              total.item<double>(), w.grad().sum().item<double>(), (long long)image.size(0),
              (long long)image.size(1), (long long)image.size(2),
              int(image[0][0][0].item<uint8_t>()));
  return 0;
}
