// Sharded checkpoints in Hugging Face's layout: a directory of shard files
// and an index naming the shard of every tensor.
//
//   auto ckpt = wick::io::load_sharded("llama/");   // or ".../model.safetensors.index.json"
//   wick::Tensor w = ckpt.tensors.at("model.embed_tokens.weight").as_tensor();
//
//   wick::io::save_sharded(ckpt.tensors, "copy/", wick::io::parse_size("2GB"));
//   // copy/model-00001-of-00003.safetensors ... and copy/model.safetensors.index.json
//
// The index is JSON: {"metadata": {"total_size": N, ...}, "weight_map":
// {"<tensor name>": "<shard file name>", ...}}, with shard names relative to
// the index's directory. Shards are safetensors files (model.safetensors.index.json,
// model-00001-of-00003.safetensors, ...) or torch.save files of a dict of
// str -> tensor (pytorch_model.bin.index.json, pytorch_model-00001-of-00003.bin, ...);
// each is read by load_safetensors or load (memory-mapped by default), told
// by its content. docs/formats.md §9 describes the layout and every check.
//
// Loading is strict: the index and the shards must agree exactly. A key the
// index names but its shard lacks, a key found in a shard other than the one
// the index names (a key in two shards is one of these), a key in a shard that
// the index does not list, a missing shard, and a shard name that is absolute
// or has a `..` component are each a wick::FormatError naming the index, the
// shard and the key. The index's metadata.total_size is reported, never
// checked: writers in the wild compute it in different ways.
//
// Saving writes what transformers' save_pretrained writes for safetensors:
// shards of at most max_shard_size bytes of tensor data, each a crash-safe
// save, and the index last; everything in one file named model.safetensors,
// without an index, when it fits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wick/core/value.h"
#include "wick/io/serialize.h"

namespace wick::io {

/// The files of a checkpoint, found by resolve_checkpoint().
struct CheckpointFiles {
  /// The index file, or empty for a checkpoint in one file.
  std::string index;
  /// The shards, in load order (by name, as bytes), as paths (the index's
  /// directory joined with the names the index gives), or the one file.
  std::vector<std::string> shards;
  /// The shard names as the index gives them (the file itself without an index).
  std::vector<std::string> names;
  /// The index's metadata.total_size, when it is a non-negative integer.
  std::optional<uint64_t> total_size;
};

/// Finds a checkpoint's files. `path` may be
/// - an index file (a name ending in `.json`): parsed and checked (valid
///   JSON, weight_map an object of str -> str, safe shard names);
/// - a directory: the first of model.safetensors.index.json,
///   model.safetensors, pytorch_model.bin.index.json and pytorch_model.bin
///   found in it (a wick::Error listing them when there is none);
/// - any other file: the checkpoint itself.
/// Does not look at the shards. Throws wick::FormatError for a malformed
/// index, wick::Error when a file cannot be read.
CheckpointFiles resolve_checkpoint(const std::string& path);

/// One shard of a loaded checkpoint.
struct Shard {
  /// The shard's name in the index (its file name when there is no index).
  std::string name;
  /// The path it was read from.
  std::string path;
  Format format;
  /// How many tensors it holds: ShardedCheckpoint::tensors lists each
  /// shard's tensors together, shard after shard.
  size_t tensors = 0;
};

/// A checkpoint loaded from all its shards.
struct ShardedCheckpoint {
  /// The index file, or empty for a checkpoint in one file.
  std::string index;
  std::vector<Shard> shards;
  /// Name -> tensor: the shards in load order, and each shard's tensors in
  /// its own order (a torch file's dict order, safetensors' name order). For
  /// transformers' .bin shards this is the model's state_dict order.
  Dict tensors{/*ordered=*/true};
  /// The index's metadata.total_size, when given (see resolve_checkpoint).
  std::optional<uint64_t> total_size;
};

/// Loads every shard of the checkpoint at `path` (resolve_checkpoint) into
/// one dict and checks it against the index. A torch file must hold a dict
/// of str -> tensor. `options` apply to every shard. Throws
/// wick::FormatError naming the index, the shard and the key.
ShardedCheckpoint load_sharded(const std::string& path, const LoadOptions& options = {});

/// What verify_sharded() found.
struct ShardedVerifyResult {
  CheckpointFiles files;
  /// The formats of the shards checked, in load order.
  std::vector<Format> formats;
  /// Tensors in all the shards checked, and the bytes their elements occupy.
  size_t tensors = 0;
  uint64_t nbytes = 0;
  /// True when every shard is a zip archive whose CRC-32s were all checked.
  bool crc_checked = false;
  /// The first problem, naming the index or shard file and the key; empty
  /// when the checkpoint is sound.
  std::optional<std::string> problem;

  bool ok() const { return !problem; }
};

/// Checks a checkpoint (as load_sharded reads it) completely: the index,
/// then each shard in load order with verify() and against the index. A
/// malformed index or shard is a problem in the result; throws wick::Error
/// only when `path` or the index cannot be opened or read.
ShardedVerifyResult verify_sharded(const std::string& path);

/// The name of shard `index` (1-based) of `count`, as transformers gives
/// it: shard_name(1, 3) is "model-00001-of-00003.safetensors".
std::string shard_name(size_t index, size_t count);

/// What save_sharded() wrote.
struct SavedShards {
  /// The index file, or empty when everything went into model.safetensors.
  std::string index;
  /// The shards' paths, in order.
  std::vector<std::string> shards;
  /// Bytes of tensor data in all (after any cast): the index's total_size.
  uint64_t total_size = 0;
};

/// Saves a dict of str -> tensor into directory `dir` (created if missing)
/// as safetensors shards of at most `max_shard_size` bytes of tensor data:
/// tensors go into shards in the dict's order, a new shard starting when the
/// next tensor would not fit (a tensor larger than the limit gets a shard of
/// its own). Each shard has metadata {"format": "pt"}. With several shards,
/// they are named shard_name(i, n) and model.safetensors.index.json is
/// written last, as json.dumps(index, indent=2, sort_keys=True) + "\n";
/// with one, it is model.safetensors and no index is written.
///
/// Each file is saved atomically (as save_safetensors). An index left by an
/// earlier save is removed before the first shard is written, so that an
/// interrupted save never leaves an index over a mix of old and new shards;
/// once the save is complete, shards of earlier saves (model-NNNNN-of-NNNNN.safetensors)
/// and, for a sharded save, an earlier model.safetensors are removed. Nothing
/// else in `dir` is touched. Of the options, `fsync`, `floating_dtype`
/// (shards are filled by the cast sizes) and `progress` (over all shards)
/// apply. Throws wick::Error before writing anything for a dict
/// save_safetensors would refuse or a zero max_shard_size.
SavedShards save_sharded(const Dict& tensors, const std::string& dir, uint64_t max_shard_size,
                         const SaveOptions& options = {});

/// Parses a size as transformers' max_shard_size takes it: a whole number
/// of bytes ("1024"), or a whole number followed by a unit, in any case:
/// KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024). "2GB" is
/// 2000000000, "100MiB" 104857600. Throws wick::Error naming the text for
/// anything else (empty, signs, fractions, spaces, other units, overflow).
uint64_t parse_size(std::string_view text);

}  // namespace wick::io
