// The checkpoint value tree under its io:: names.
//
// Value, Dict and List live in core (wick/core/value.h), since modules and
// optimizers keep their state in them without reading or writing files. These
// aliases keep code written as `wick::io::Value` compiling.
#pragma once

#include "wick/core/value.h"

namespace wick::io {

using wick::Dict;
using wick::List;
using wick::Value;
using Kind = wick::ValueKind;
using wick::kind_name;

/// wick::leaves under its earlier name.
inline std::vector<std::pair<std::string, Value>> flatten(const Value& value) {
  return leaves(value);
}

}  // namespace wick::io
