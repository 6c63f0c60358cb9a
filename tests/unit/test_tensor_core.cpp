// Tensor core: layout, views sharing storage, copies, conversions, factories.
#include <gtest/gtest.h>

#include "wick/core/random.h"
#include "wick/core/tensor.h"

using namespace wick;

TEST(TensorCore, FactoriesHaveSizesStridesAndDtype) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.sizes(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_TRUE(z.is_contiguous());
  Tensor f = full({2}, 7, {.dtype = DType::Int64});
  EXPECT_EQ(f.at({1}).to<int64_t>(), 7);
  EXPECT_EQ(arange(5).dtype(), DType::Int64);
  EXPECT_EQ(arange(0.0, 1.0, 0.25).numel(), 4);
  EXPECT_EQ(arange(0.0, 1.0, 0.25).dtype(), DType::Float32);
  EXPECT_EQ(scalar_tensor(2.5).dim(), 0);
}

TEST(TensorCore, StorageIs64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = empty({n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.storage()->data()) % 64, 0u);
  }
}

TEST(TensorCore, ViewsShareStorage) {
  Tensor x = arange(12, DType::Float32).view({3, 4});
  Tensor t = x.t();
  EXPECT_EQ(t.storage(), x.storage());
  EXPECT_EQ(t.sizes(), (Shape{4, 3}));
  EXPECT_EQ(t.strides(), (Shape{1, 4}));
  EXPECT_FALSE(t.is_contiguous());
  t.select(0, 1).fill_(-1.0);  // column 1 of x
  EXPECT_EQ(x.at({2, 1}).to<float>(), -1.0f);
  Tensor s = x.slice(1, 1, 4, 2);
  EXPECT_EQ(s.sizes(), (Shape{3, 2}));
  EXPECT_EQ(s.storage_offset(), 1);
  EXPECT_EQ(s.at({1, 1}).to<float>(), 7.0f);
  Tensor e = arange(3, DType::Float32).view({3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides(), (Shape{1, 0}));
  EXPECT_EQ(e.at({2, 3}).to<float>(), 2.0f);
  EXPECT_EQ(x.unsqueeze(1).sizes(), (Shape{3, 1, 4}));
  EXPECT_EQ(x.unsqueeze(1).squeeze().sizes(), (Shape{3, 4}));
  EXPECT_EQ(x.flatten().sizes(), (Shape{12}));
  EXPECT_EQ(x.permute({1, 0}).strides(), (Shape{1, 4}));
  EXPECT_EQ(x.narrow(0, 1, 2).at({0, 0}).to<float>(), 4.0f);
}

TEST(TensorCore, ViewThatNeedsCopyIsRefusedReshapeCopies) {
  Tensor x = arange(12, DType::Float32).view({3, 4}).t();
  EXPECT_THROW(x.view({12}), ShapeError);
  Tensor r = x.reshape({12});
  EXPECT_NE(r.storage(), x.storage());
  EXPECT_EQ(r.at({1}).to<float>(), 4.0f);
  EXPECT_EQ(x.view({4, 3}).storage(), x.storage()) << "same sizes is a view";
  EXPECT_THROW(x.view({5, -1}), ShapeError);
}

TEST(TensorCore, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3}, {.dtype = DType::Float64});
  dst.copy_(tensor<int64_t>({1, 2, 3}));
  EXPECT_EQ(dst.at({1, 2}).to<double>(), 3.0);
  EXPECT_THROW(dst.copy_(zeros({4})), ShapeError);
}

TEST(TensorCore, BadIndicesThrow) {
  Tensor x = zeros({2, 3});
  EXPECT_THROW(x.select(2, 0), IndexError);
  EXPECT_THROW(x.select(0, 2), IndexError);
  EXPECT_THROW(x.at({0, 3}), IndexError);
  EXPECT_THROW(x.narrow(1, 2, 2), IndexError);
  EXPECT_THROW(zeros({int64_t(1) << 40, int64_t(1) << 40}), ShapeError);
  EXPECT_THROW(zeros({-1}), ShapeError);
}

TEST(TensorCore, RandomIsSeededAndInRange) {
  manual_seed(42);
  Tensor a = rand({1000});
  manual_seed(42);
  Tensor b = rand({1000});
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  for (float v : a.to_vector<float>()) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LT(v, 1.0f);
  }
  Tensor r = randint(3, 7, {1000});
  for (int64_t v : r.to_vector<int64_t>()) {
    EXPECT_GE(v, 3);
    EXPECT_LT(v, 7);
  }
}

TEST(TensorCore, SetDataRepointsEveryHandle) {
  wick::Tensor p = wick::zeros({2, 3}, {.requires_grad = true});
  wick::Tensor alias = p;
  p.set_grad(wick::ones({2, 3}));
  wick::Tensor src = wick::arange(6, wick::DType::Float64).view({3, 2});
  p.set_data(src);
  EXPECT_EQ(alias.sizes(), wick::Shape({3, 2}));
  EXPECT_EQ(alias.dtype(), wick::DType::Float64);
  EXPECT_EQ(alias.storage(), src.storage());
  EXPECT_TRUE(alias.requires_grad());
  EXPECT_FALSE(alias.grad().defined());  // [2, 3] float32 gradient no longer fits
  p.set_data(wick::zeros({3}, {.dtype = wick::DType::Int64}));
  EXPECT_FALSE(p.requires_grad());
  wick::Tensor y = wick::ones({2}, {.requires_grad = true}).exp();
  EXPECT_THROW(y.set_data(wick::ones({2})), wick::Error);
  EXPECT_THROW(p.set_data(wick::Tensor()), wick::Error);
}

TEST(TensorCore, EmptyTensorsWhoseStridesWouldOverflowAreRefused) {
  // No elements, but a stride of 2^80: refused rather than overflowing.
  const int64_t big = int64_t(1) << 40;
  EXPECT_THROW(empty({0, big, big}), ShapeError);
  EXPECT_THROW(zeros({big, big, 0}), ShapeError);
  Tensor ok = empty({0, big});
  EXPECT_EQ(ok.numel(), 0);
  EXPECT_EQ(ok.strides(), (Shape{big, 1}));
}

TEST(TensorCore, ErrorMessagesEscapeControlCharacters) {
  // A key from a hostile file must not be able to drive the user's terminal;
  // newlines and tabs (used by load_state_dict's messages) stay.
  const std::string raw =
      "key 'a\x1b[2Jb' bad\n\tnext\x7f end \xc2\x9b"
      "1m \xc3\xa9";
  EXPECT_EQ(std::string(Error(raw).what()),
            "key 'a\\x1b[2Jb' bad\n\tnext\\x7f end \\u009b1m \xc3\xa9");
  EXPECT_EQ(std::string(FormatError("plain").what()), "plain");
}
