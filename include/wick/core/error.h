// Errors: the one exception family wick throws for bad input.
//
// Every message names the operation and the shapes, dtypes, keys, paths or byte
// offsets involved, so that a user can tell what was wrong and where. Library
// code never prints, exits or aborts on bad input; it throws one of these.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace wick {

/// What printable() escapes, by what the text is.
enum class Printable {
  /// A message of several lines: control characters except newline and tab.
  Message,
  /// Text shown on one line (a key name, a path): every control character.
  Line,
  /// A name that must be read exactly (a global a hostile pickle names): every
  /// byte outside printable ASCII, and the backslash, so that lookalike
  /// letters show as their bytes.
  Ascii,
};

/// `text` made safe to show on a terminal, so that text taken from a file
/// cannot hide or rewrite what is printed around it: control characters (C0
/// and DEL) become \xNN and C1 controls (U+0080-U+009F in UTF-8) \u00NN; in
/// Ascii mode every other byte outside printable ASCII, and the backslash,
/// become \xNN too. Every message and every name wick prints goes through here.
std::string printable(std::string_view text, Printable mode = Printable::Line);

/// Base of every exception wick throws for bad input or unsupported requests.
/// Control characters in the message (say, from a hostile file's key names)
/// are escaped (printable(what, Printable::Message)).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what)
      : std::runtime_error(printable(what, Printable::Message)) {}
};

/// Sizes that do not fit together: broadcasting, matmul, views, state_dict entries.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A dtype an operation does not accept, or two dtypes that do not mix.
class DTypeError : public Error {
 public:
  using Error::Error;
};

/// A dimension or element index outside its range.
class IndexError : public Error {
 public:
  using Error::Error;
};

/// Malformed, truncated or hostile file content (checkpoints, datasets).
class FormatError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream s;
  (s << ... << std::forward<Args>(args));
  return s.str();
}
}  // namespace detail

}  // namespace wick

/// Throws `Kind` (a wick::Error subclass) with the streamed arguments as the
/// message when `cond` is false. The message is only built on failure.
#define WICK_CHECK_AS(Kind, cond, ...)                 \
  do {                                                 \
    if (!(cond)) [[unlikely]]                          \
      throw Kind(::wick::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Throws wick::Error with the streamed arguments when `cond` is false.
#define WICK_CHECK(cond, ...) WICK_CHECK_AS(::wick::Error, cond, __VA_ARGS__)
