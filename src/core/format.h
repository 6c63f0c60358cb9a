// Internal: number formatting shared by tensor printing and the io value tree.
#pragma once

#include <string>

namespace wick::detail {

/// Python's repr of a float: the shortest digits that read back to the same
/// double, in exponent form below 1e-4 and from 1e16 on; a whole number keeps
/// its ".0" when `dot_zero` (Python's float repr) and drops it otherwise
/// (the parts of a complex repr).
std::string python_float_repr(double v, bool dot_zero);

}  // namespace wick::detail
