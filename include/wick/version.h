// The version of wick these headers belong to.
//
//   #if WICK_VERSION >= 100  // 0.1.0 or later
//   std::cout << "wick " << WICK_VERSION_STRING << "\n";
//
// Kept in step with `project(wick VERSION ...)` in CMakeLists.txt; the build
// refuses to configure when the two differ.
#pragma once

#define WICK_VERSION_MAJOR 0
#define WICK_VERSION_MINOR 1
#define WICK_VERSION_PATCH 0
/// "MAJOR.MINOR.PATCH".
#define WICK_VERSION_STRING "0.1.0"
/// MAJOR * 10000 + MINOR * 100 + PATCH, for preprocessor comparisons.
#define WICK_VERSION (WICK_VERSION_MAJOR * 10000 + WICK_VERSION_MINOR * 100 + WICK_VERSION_PATCH)
