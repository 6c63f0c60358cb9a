// Reading and writing PyTorch checkpoint files (what torch.save writes).
//
//   wick::Value ckpt = wick::load("checkpoint.pt");       // any torch.save file
//   wick::Tensor w = ckpt["model_state_dict"]["fc1.weight"].as_tensor();
//
//   wick::Dict sd(/*ordered=*/true);
//   sd.set("weight", w);
//   wick::save(sd, "weights.pt");                             // torch.load reads it back
//
// wick::load and wick::save are these functions under shorter names; a model's
// state_dict, an optimizer's state_dict and a general checkpoint dict are all
// Values, so the recipe's `torch.save(model.state_dict(), PATH)` is
// `wick::save(model.state_dict(), PATH)`.
//
// load() reads the zip format of PyTorch 1.6 to 2.x (and the older legacy
// format), in every pickle protocol torch.save writes (2 to 5). Storages saved from a GPU (`cuda:0`
// location tags) load to the CPU. By default the file is memory-mapped and tensors are views into
// it, so opening a multi-GB checkpoint costs a header parse; pages are read when touched, and
// writing to a tensor never changes the file (copy-on-write). Tensors that shared a storage in
// Python share one here: views, slices with offsets and tied entries stay views of one storage.
//
// Nothing in the file is executed: the pickle is interpreted by a small
// machine that knows only tensors, storages, OrderedDicts and plain values, as
// torch.load(weights_only=True) does; anything else is a wick::FormatError
// naming what was found and where. A whole pickled module (torch.save(model))
// is refused with a message saying to save model.state_dict() instead, unless
// LoadOptions::extract_state_dict asks for its state_dict.
//
// TorchScript archives (torch.jit.save, and libtorch's torch::save of a module
// or an optimizer) load as the state_dict they hold: a module's parameters and
// buffers with the dotted names Module.state_dict() gives, an optimizer's
// state in PyTorch's optimizer state_dict layout. Their code is never run;
// only the declarations of which attributes are parameters and buffers are
// read from it.
//
// save() writes the zip format as torch.save does, so that torch.load (also
// with weights_only=True) returns the same structure, keys, types, dtypes,
// shapes, bytes and storage sharing. It is crash-safe: the file is written under
// a temporary name in the same directory, synced and renamed over the target,
// so an error or a crash leaves the previous file intact.
//
// For tools that look at files rather than load them: detect_format() tells a
// file's container by its content, version_records() lists an archive's small
// version records, and verify() checks a file completely (structure, every
// record's CRC-32) and names the first problem with its record and offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wick/core/dtype.h"
#include "wick/core/value.h"

namespace wick::io {

struct LoadOptions {
  /// Map the file and make tensors views of it. When false, every storage is
  /// read into memory, so the file may change or disappear afterwards.
  bool mmap = true;
  /// Check every record's CRC-32 against the archive (torch itself does not).
  /// With mmap, this reads every page of the file.
  bool verify_crc = false;
  /// Convert every floating-point tensor (float16/32/64, bfloat16, float8) to this
  /// dtype. Views of one storage stay views of one converted storage.
  std::optional<DType> floating_dtype;
  /// The deepest nesting of lists, tuples and dicts accepted.
  size_t max_depth = 1000;
  /// Read a pickled whole model (torch.save(model)) as its state_dict. The
  /// objects of classes outside the allow-list become Object records instead
  /// of an error; nothing is constructed or called, and calling any global
  /// outside the allow-list is still refused. Every nn.Module record (one with
  /// `_parameters`, `_buffers` and `_modules`) is replaced by the state_dict
  /// Module.state_dict() would give: parameters, persistent buffers, then
  /// submodules, with dotted names. Other objects stay records (Object).
  bool extract_state_dict = false;
};

/// Loads a file written by torch.save (zip or legacy format) or by save().
/// Throws wick::FormatError for malformed or unsupported content, wick::Error
/// when the file cannot be read.
Value load(const std::string& path, const LoadOptions& options = {});

/// Loads a checkpoint held in memory. Tensors get their own storages (the
/// bytes are copied), so `bytes` may be freed afterwards; `mmap` is ignored.
Value load_bytes(std::span<const std::byte> bytes, const LoadOptions& options = {});

/// Which torch version's archive layout save() reproduces, byte for byte.
enum class ZipLayout {
  /// PyTorch 2.7+: data.pkl, .format_version, .storage_alignment, byteorder,
  /// data/0, data/1, ... in numeric order, version.
  Torch2,
  /// PyTorch 1.13: data.pkl, data/<key> sorted as strings, version.
  Torch1_13,
};

struct SaveOptions {
  ZipLayout layout = ZipLayout::Torch2;
  /// fsync the file and its directory before returning. Turning this off
  /// keeps the atomic rename but not durability across a power loss.
  bool fsync = true;
  /// Cast every floating-point tensor (float16/32/64, bfloat16, float8) to this dtype
  /// while writing. One storage is converted at a time, just before it is
  /// written, so a cast save of a memory-mapped checkpoint needs memory for
  /// its largest storage only. Views of one storage stay views of one storage.
  std::optional<DType> floating_dtype = std::nullopt;
  /// Called as tensor data is written, with the bytes of tensor data written
  /// so far and in all (at least every 64 MiB, and once at the end).
  std::function<void(uint64_t done, uint64_t total)> progress = nullptr;
};

/// Saves `value` to `path` as torch.save does. The archive's folder name is
/// the file name without its last extension, as in torch. Tensors are saved
/// with their whole storage, shared storages once. Throws wick::Error for
/// values torch could not save either (a list containing itself, one storage
/// viewed with two dtypes, strings that are not UTF-8).
void save(const Value& value, const std::string& path, const SaveOptions& options = {});

/// Deletes the temporary files of the saves (save, save_safetensors) in
/// progress in this process, so that a program ended by a signal leaves no
/// partial file behind; targets are never touched. Only calls unlink(2), so a
/// signal handler may call it - and must then end the process, since those
/// saves cannot complete. `wick convert` does this on SIGINT and SIGTERM.
void remove_unfinished_saves() noexcept;

/// The bytes save() would write, with `prefix` as the archive's folder name
/// (torch uses "archive" when saving to a buffer).
std::vector<std::byte> save_bytes(const Value& value, const SaveOptions& options = {},
                                  std::string_view prefix = "archive");

/// A checkpoint file's container format.
enum class Format {
  PtZip,        ///< torch.save's zip archive (PyTorch 1.6 and later)
  PtLegacy,     ///< torch.save's legacy stream (_use_new_zipfile_serialization=False)
  Safetensors,  ///< Hugging Face's safetensors
};

/// "pt-zip", "pt-legacy" or "safetensors".
std::string_view format_name(Format format);

/// Tells a file's format from its first bytes (not its name). Throws
/// wick::FormatError "not a PyTorch or safetensors checkpoint" for anything
/// else, wick::Error when the file cannot be read.
Format detect_format(const std::string& path);

/// The small version records a file carries, as (name, text) in file order:
/// for a zip archive its top-level text records (`.format_version`,
/// `.storage_alignment`, `byteorder`, `version`, whichever exist), trailing
/// newline removed; for the legacy format its `magic` number (hex) and
/// `protocol version`; nothing for safetensors. Throws like detect_format, and
/// wick::FormatError when the container itself is malformed.
std::vector<std::pair<std::string, std::string>> version_records(const std::string& path);

/// The first problem verify() found.
struct VerifyProblem {
  /// The record (zip) or tensor (safetensors) at fault, when there is one.
  std::string record;
  /// Byte offset in the file of the record's data, when known.
  std::optional<uint64_t> offset;
  /// What is wrong, e.g. "CRC-32 mismatch (stored 0x1a2b3c4d, computed 0x5e6f7081)".
  std::string message;

  /// "record 'archive/data/3' (offset 4160): <message>", or the message alone.
  std::string str() const;
};

/// What verify() found.
struct VerifyResult {
  /// The detected format; empty when the file is none of the three.
  std::optional<Format> format;
  /// Records in a zip archive (0 for the other formats).
  size_t records = 0;
  /// Tensor leaves (flatten()'s paths), and the bytes their elements occupy.
  size_t tensors = 0;
  uint64_t nbytes = 0;
  /// True when every record's CRC-32 was checked (zip archives).
  bool crc_checked = false;
  /// The first problem, or empty when the file is sound.
  std::optional<VerifyProblem> problem;

  bool ok() const { return !problem; }
};

/// Checks a checkpoint completely without copying tensor data (the file is
/// memory-mapped; legacy files are read): for a zip archive every record's
/// local header and CRC-32, then everything load() checks (the pickle, every
/// storage record present and of the right size, every tensor inside its
/// storage); for safetensors the header, dtypes, shapes and data ranges.
/// A malformed file is a problem in the result, not an exception; throws
/// wick::Error only when the file cannot be opened or read.
VerifyResult verify(const std::string& path);

}  // namespace wick::io

namespace wick {
using io::load;
using io::save;
}  // namespace wick
