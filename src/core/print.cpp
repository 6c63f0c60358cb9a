// PyTorch's repr of tensors (torch/_tensor_str.py, default print options) and
// Python's repr of scalars. The aim is byte-for-byte equality with PyTorch 1.13,
// checked by tests/print_cases.py against the real thing.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "wick/core/tensor.h"

#include "core/format.h"

namespace wick {
namespace {

// PyTorch's default print options.
constexpr int64_t kThreshold = 1000;  // more elements than this: summarise
constexpr int64_t kEdgeItems = 3;     // kept at each end of a summarised dim
constexpr int64_t kLineWidth = 80;
constexpr int kPrecision = 4;

// Python's "{:.Nf}" / "{:.Ne}". Python spells non-finite values nan, inf and
// -inf (a negative NaN is still "nan"), unlike printf.
std::string format_double(double v, char conversion, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[400];  // "%.4f" of the largest double needs 315
  std::snprintf(buf, sizeof buf, conversion == 'f' ? "%.*f" : "%.*e", precision, v);
  return buf;
}

std::string pad_left(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

// PyTorch's _Formatter for floating values: one notation and one width shared
// by all elements, decided from the nonzero finite values that are printed.
struct FloatFormatter {
  bool int_mode = true;  // every value is a whole number: print "1." not "1.0000"
  bool sci_mode = false;
  size_t width = 1;

  explicit FloatFormatter(const std::vector<double>& values) {
    double lo = INFINITY, hi = 0;
    for (double v : values) {
      if (!std::isfinite(v) || v == 0) continue;
      lo = std::min(lo, std::fabs(v));
      hi = std::max(hi, std::fabs(v));
      if (v != std::ceil(v)) int_mode = false;
    }
    if (hi == 0) return;  // nothing but zeros, NaNs and infinities
    sci_mode = hi / lo > 1000.0 || hi > 1.0e8 || (!int_mode && lo < 1.0e-4);
    for (double v : values)
      if (std::isfinite(v) && v != 0) width = std::max(width, format(v).size());
  }

  // The element without padding. Whole numbers end in "." (not non-finite ones).
  std::string format(double v) const {
    if (sci_mode) return format_double(v, 'e', kPrecision);
    if (!int_mode) return format_double(v, 'f', kPrecision);
    std::string s = format_double(v, 'f', 0);
    if (std::isfinite(v)) s += '.';
    return s;
  }
  std::string operator()(double v) const { return pad_left(format(v), width); }
};

// Renders the nested brackets of a non-empty tensor. real_ formats floating
// elements (the real parts of complex ones), imag_ the imaginary parts.
class Printer {
 public:
  explicit Printer(const Tensor& t) : t_(t), summarize_(t.numel() > kThreshold) {
    std::vector<int64_t> offsets;
    collect(0, t.storage_offset(), offsets);
    std::vector<double> first, second;
    for (int64_t off : offsets) {
      if (is_complex(t.dtype())) {
        auto c = read<std::complex<double>>(off);
        first.push_back(c.real());
        second.push_back(c.imag());
      } else if (is_floating_point(t.dtype())) {
        first.push_back(read<double>(off));
      } else {
        plain_width_ = std::max(plain_width_, plain(off).size());
      }
    }
    if (is_floating_point(t.dtype()) || is_complex(t.dtype())) real_.emplace(first);
    if (is_complex(t.dtype())) imag_.emplace(second);
  }

  std::string str(int64_t indent) const { return render(0, t_.storage_offset(), indent); }

 private:
  template <class R>
  R read(int64_t off) const {
    return visit_dtype(t_.dtype(), [&]<class T>() {
      return convert_element<R>(reinterpret_cast<const T*>(t_.storage()->data())[off]);
    });
  }

  // Indices of a dim that are printed; -1 stands for the "..." of a summary.
  std::vector<int64_t> shown(int64_t size) const {
    std::vector<int64_t> idx;
    bool cut = summarize_ && size > 2 * kEdgeItems;
    for (int64_t i = 0; i < size; ++i) {
      if (cut && i == kEdgeItems) {
        idx.push_back(-1);
        i = size - kEdgeItems;
      }
      idx.push_back(i);
    }
    return idx;
  }

  // Storage offsets of the printed elements: the formatter sees only those.
  void collect(size_t d, int64_t off, std::vector<int64_t>& out) const {
    if (d == t_.sizes().size()) {
      out.push_back(off);
      return;
    }
    for (int64_t i : shown(t_.sizes()[d]))
      if (i >= 0) collect(d + 1, off + i * t_.strides()[d], out);
  }

  // Integers and bools print as Python's str() does.
  std::string plain(int64_t off) const {
    if (t_.dtype() == DType::Bool) return read<bool>(off) ? "True" : "False";
    if (t_.dtype() == DType::UInt64) return std::to_string(read<uint64_t>(off));
    return std::to_string(read<int64_t>(off));
  }

  std::string element(int64_t off) const {
    if (imag_) {
      auto c = read<std::complex<double>>(off);
      std::string im = (*imag_)(c.imag()) + "j";
      im.erase(0, im.find_first_not_of(' '));
      return (*real_)(c.real()) + (im[0] == '-' || im[0] == '+' ? "" : "+") + im;
    }
    if (real_) return (*real_)(read<double>(off));
    return pad_left(plain(off), plain_width_);
  }

  size_t element_width() const {
    if (imag_) return real_->width + 2 + imag_->width + 1;
    if (real_) return real_->width + 2;
    return plain_width_ + 2;  // the ", " after each element counts
  }

  std::string render(size_t d, int64_t off, int64_t indent) const {
    const size_t ndim = t_.sizes().size();
    if (d == ndim) return element(off);
    const bool innermost = d + 1 == ndim;
    std::string out = "[";
    // The innermost dim wraps at the line width; outer dims put each slice on
    // its own line, with one blank line more per extra dim.
    const int64_t per_line = std::max<int64_t>(1, (kLineWidth - indent) / int64_t(element_width()));
    const std::string margin(size_t(indent + 1), ' ');
    const std::string blank_lines(ndim - d - 1, '\n');
    int64_t k = 0;
    for (int64_t i : shown(t_.sizes()[d])) {
      if (k > 0 && !innermost)
        out.append(",").append(blank_lines).append(margin);
      else if (k > 0 && k % per_line == 0)
        out.append(",\n").append(margin);
      else if (k > 0)
        out.append(", ");
      if (i < 0)
        out += innermost ? " ..." : "...";
      else
        out += innermost ? element(off + i * t_.strides()[d])
                         : render(d + 1, off + i * t_.strides()[d], indent + 1);
      ++k;
    }
    return out + "]";
  }

  const Tensor& t_;
  bool summarize_;
  std::optional<FloatFormatter> real_, imag_;
  size_t plain_width_ = 1;
};

std::string python_tuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

}  // namespace

std::string Tensor::repr() const {
  if (!defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const int64_t indent = int64_t(prefix.size());
  const DType dt = dtype();
  std::vector<std::string> suffixes;
  std::string body = "[]";
  if (numel() == 0) {
    // Nothing to infer the shape or dtype from, so both are spelled out.
    if (dim() != 1) suffixes.push_back("size=" + python_tuple(sizes()));
    if (dt != DType::Float32) suffixes.push_back("dtype=torch." + std::string(dtype_name(dt)));
  } else {
    bool inferable =
        dt == DType::Float32 || dt == DType::Complex64 || dt == DType::Int64 || dt == DType::Bool;
    if (!inferable) suffixes.push_back("dtype=torch." + std::string(dtype_name(dt)));
    body = Printer(*this).str(indent);
  }
  if (std::string fn = grad_fn_name(); !fn.empty())
    suffixes.push_back("grad_fn=<" + fn + ">");
  else if (requires_grad())
    suffixes.push_back("requires_grad=True");

  // A suffix goes on a new line when it would pass the line width. PyTorch
  // measures the last line as two characters longer than it is; so do we, to
  // break where it breaks.
  std::string out = prefix + body;
  size_t newline = out.rfind('\n');
  int64_t last_line =
      int64_t(out.size()) + 1 - (newline == std::string::npos ? -1 : int64_t(newline));
  for (const std::string& s : suffixes) {
    if (last_line + int64_t(s.size()) + 2 > kLineWidth) {
      out += ",\n" + std::string(size_t(indent), ' ') + s;
      last_line = indent + int64_t(s.size());
    } else {
      out += ", " + s;
      last_line += int64_t(s.size()) + 2;
    }
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  return os << t.repr();
}

std::ostream& operator<<(std::ostream& os, const Scalar& s) {
  switch (s.kind()) {
    case Scalar::Kind::Bool:
      return os << (s.to<bool>() ? "True" : "False");
    case Scalar::Kind::Int:
      return os << s.to<int64_t>();
    case Scalar::Kind::Float:
      return os << detail::python_float_repr(s.to<double>(), true);
    case Scalar::Kind::Complex: {
      // Python's complex repr: "2j" for a +0 real part, otherwise "(1+2j)".
      auto c = s.to<std::complex<double>>();
      std::string im = detail::python_float_repr(c.imag(), false);
      if (c.real() == 0 && !std::signbit(c.real())) return os << im << 'j';
      return os << '(' << detail::python_float_repr(c.real(), false) << (im[0] == '-' ? "" : "+")
                << im << "j)";
    }
  }
  return os;
}

// Python's repr of a float: the shortest string that reads back to the same
// double, in exponent form when the decimal point would sit beyond 16 digits
// or more than 4 zeros after the point; "1.0" keeps its ".0" when `dot_zero`.
std::string detail::python_float_repr(double v, bool dot_zero) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  char* end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific).ptr;
  std::string sci(buf, end);  // e.g. "-1.25e+03"
  size_t e = sci.find('e');
  int exp10 = std::stoi(sci.substr(e + 1));
  if (exp10 < -4 || exp10 >= 16) return sci;
  std::string sign = std::signbit(v) ? "-" : "";
  std::string digits;
  for (char c : sci.substr(sign.size(), e - sign.size()))
    if (c != '.') digits += c;
  int point = exp10 + 1;  // digits before the decimal point
  if (point <= 0) return sign + "0." + std::string(size_t(-point), '0') + digits;
  if (size_t(point) >= digits.size())
    return sign + digits + std::string(size_t(point) - digits.size(), '0') + (dot_zero ? ".0" : "");
  return sign + digits.substr(0, size_t(point)) + "." + digits.substr(size_t(point));
}

}  // namespace wick
