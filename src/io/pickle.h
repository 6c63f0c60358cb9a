// Internal: the pickle subset of torch checkpoints (docs/formats.md §2).
//
// The unpickler is a stack machine over a byte span that understands only the
// opcodes torch.save emits (pickle protocols 2 to 5) and resolves only the
// globals of torch's weights-only allow-list to built-in handlers; it never
// calls anything by name. The pickler writes protocol 2 exactly as Python's
// pickler does for the same objects, so a wick-saved file is byte-identical to
// torch's where the value trees agree.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wick/core/dtype.h"
#include "wick/core/storage.h"
#include "wick/core/value.h"

namespace wick::io::detail {

/// A storage named by a persistent id: ('storage', class, key, location, numel[, view]).
struct StorageRef {
  std::string key;
  std::string location;
  /// The dtype of the storage class; nullopt for torch.storage.UntypedStorage,
  /// whose numel counts bytes.
  std::optional<DType> dtype;
  int64_t numel = 0;
  /// numel * element size (bytes for untyped storages), overflow-checked.
  int64_t nbytes = 0;
};

/// Returns the bytes of a storage; must be exactly ref.nbytes long. Called
/// once per distinct key.
using StorageResolver = std::function<std::shared_ptr<Storage>(const StorageRef&)>;

/// What a global outside the allow-list becomes.
enum class Records : uint8_t {
  /// An error (torch.save files: the weights-only subset).
  None,
  /// A TorchScript archive's classes (`__torch__.*`) become Object records,
  /// and torch.jit._pickle's list builders are allowed.
  TorchScript,
  /// Any class becomes an Object record (whole pickled models, on request).
  /// Calling anything outside the allow-list is still an error.
  Any,
};

struct UnpickleOptions {
  /// Deepest nesting of lists, tuples and dicts, and of MARKs.
  size_t max_depth = 1000;
  /// Most memo entries (each BINPUT adds at most one).
  size_t max_memo = size_t(1) << 24;
  /// Name of the pickle in error messages ("data.pkl").
  std::string what = "pickle";
  Records records = Records::None;
};

/// Unpickles `data`. Throws wick::FormatError naming `options.what`, the opcode
/// and its byte offset on anything malformed or outside the allowed subset.
/// `end`, when given, receives the offset just past STOP (legacy files hold
/// several pickles back to back).
Value unpickle(std::span<const std::byte> data, const StorageResolver& resolve,
               const UnpickleOptions& options = {}, size_t* end = nullptr);

/// One storage a pickle refers to, in first-use order (keys "0", "1", ...).
struct PickledStorage {
  std::shared_ptr<Storage> storage;
  DType dtype;
  int64_t numel;  // elements of dtype written (the whole storage)
};

/// Pickles `v` as torch.save does (protocol 2), appending every distinct
/// storage its tensors use to `storages`. Throws wick::Error for values torch
/// could not save either (cycles, one storage viewed with two dtypes, ...).
std::string pickle(const Value& v, std::vector<PickledStorage>& storages);

/// True when `s` is valid UTF-8 (surrogate code points allowed, as Python's
/// surrogatepass does).
bool valid_utf8(std::string_view s);

/// For a global wick refuses ("numpy.core.multiarray._reconstruct"), what
/// typically writes it and what to save instead; empty when not known.
std::string_view writer_hint(std::string_view global);

}  // namespace wick::io::detail
