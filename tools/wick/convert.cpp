// wick convert IN OUT [--dtype NAME] [--max-shard-size SIZE]: rewrite a
// checkpoint as a PyTorch zip archive, as safetensors or as a directory of
// safetensors shards, optionally casting floating-point tensors.
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <unordered_set>

#include "cli.h"
#include "wick/autograd/grad_mode.h"

namespace wick::cli {

namespace {

constexpr uint64_t kProgressAbove = 100'000'000;  // bytes of input

// `\r`-updated bar on stderr: percent done and write speed.
class ProgressBar {
 public:
  void operator()(uint64_t done, uint64_t total) {
    auto now = std::chrono::steady_clock::now();
    bool last = done >= total;
    if (finished_ || (!last && now - shown_ < std::chrono::milliseconds(100))) return;
    shown_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    double fraction = total ? double(done) / double(total) : 1.0;
    int filled = int(fraction * 30);
    std::fprintf(stderr, "\r[%s%s] %3d%%  %.1f MB/s", std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(30 - filled), ' ').c_str(), int(fraction * 100),
                 seconds > 0 ? double(done) / 1e6 / seconds : 0.0);
    if (last) {
      std::fputc('\n', stderr);
      finished_ = true;
    }
    std::fflush(stderr);
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), shown_{};
  bool finished_ = false;
};

bool ends_with_ci(const std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i])
      return false;
  return true;
}

struct Args {
  std::string in, out, dtype, max_shard_size;
  bool extract_state_dict = false;
};

// transformers' default max_shard_size.
constexpr uint64_t kDefaultMaxShardSize = 5'000'000'000;

// SIGINT or SIGTERM during the write: remove the temporary file, then end as
// the signal would have (the handler is reset on entry, and the re-raised
// signal is delivered when the handler returns).
extern "C" void on_interrupt(int sig) {
  io::remove_unfinished_saves();
  ::raise(sig);
}

void clean_up_on_interrupt() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &sa, nullptr);
}

int run(const Args& args) {
  bool known = ends_with_ci(args.out, ".pt") || ends_with_ci(args.out, ".pth") ||
               ends_with_ci(args.out, ".bin") || ends_with_ci(args.out, ".safetensors");
  // A name with a file's extension stays a file (an existing directory of
  // that name is an error when saving), unless it ends in '/'.
  std::error_code ec;
  bool to_dir =
      args.out.ends_with('/') ||
      (!known && (std::filesystem::is_directory(args.out, ec) || !args.max_shard_size.empty()));
  if (!args.max_shard_size.empty() && !to_dir)
    throw UsageError("convert", "--max-shard-size writes a directory, but OUT '" +
                                    printable(args.out) +
                                    "' names a file (end it with '/' for a directory)");
  if (!to_dir && !known)
    throw UsageError("convert",
                     "OUT must end in .pt, .pth, .bin or .safetensors, or be a "
                     "directory: '" +
                         printable(args.out) + "'");
  bool to_safetensors = to_dir || ends_with_ci(args.out, ".safetensors");
  uint64_t max_shard_size = kDefaultMaxShardSize;
  if (!args.max_shard_size.empty()) {
    try {
      max_shard_size = io::parse_size(args.max_shard_size);
    } catch (const Error& e) {
      throw UsageError("convert", std::string("--max-shard-size: ") + e.what());
    }
    if (max_shard_size == 0)
      throw UsageError("convert", "--max-shard-size: the size must be at least 1 byte");
  }
  std::optional<DType> cast;
  if (!args.dtype.empty()) cast = dtype_from_name(args.dtype);
  NoGradGuard no_grad;

  // The input, memory-mapped: a torch value tree, or just tensors
  // (safetensors, or a sharded checkpoint).
  std::vector<std::string> in_files{args.in};
  bool sharded = false;
  if (names_a_checkpoint_set(args.in)) {
    io::CheckpointFiles files = about(args.in, [&] { return io::resolve_checkpoint(args.in); });
    sharded = !files.index.empty();
    in_files = files.shards;
  }
  io::Format format = io::Format::Safetensors;
  if (!sharded) format = about(args.in, [&] { return io::detect_format(in_files.front()); });
  const bool flat = sharded || format == io::Format::Safetensors;
  io::LoadOptions load_options;
  load_options.extract_state_dict = args.extract_state_dict;
  Value tree;
  io::SafetensorsFile st;
  about(args.in, [&] {
    if (sharded)
      st.tensors = io::load_sharded(args.in).tensors;
    else if (format == io::Format::Safetensors)
      st = io::load_safetensors(in_files.front());
    else
      tree = io::load(in_files.front(), load_options);
  });

  io::SaveOptions options;
  options.floating_dtype = cast;
  uint64_t in_size = 0;
  for (const std::string& f : in_files) {
    uint64_t n = std::filesystem::file_size(f, ec);
    if (!ec) in_size += n;
  }
  if (in_size > kProgressAbove && ::isatty(STDERR_FILENO)) options.progress = ProgressBar();
  // For the interruption test (tests/cli): stall once the temporary file is
  // being written, so that the test can signal at a known point.
  if (std::getenv("WICK_TEST_STALL_CONVERT_WRITE"))
    options.progress = [](uint64_t, uint64_t) { ::sleep(30); };
  clean_up_on_interrupt();

  // What is written: tensors by name and (safetensors) metadata; `written`
  // lists every tensor leaf for the summary.
  Dict tensors(/*ordered=*/true);
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<Tensor> written;
  if (flat) {
    for (const auto& [name, t] : st.tensors) {
      tensors.set(name, t);
      written.push_back(t.as_tensor());
    }
    if (!to_dir) metadata = st.metadata;
  } else {
    about(args.in, [&] {
      std::unordered_set<std::string> names;
      for (const auto& [name, v] : leaves(tree)) {
        if (v.is_tensor()) written.push_back(v.as_tensor());
        if (!to_safetensors) continue;
        if (!names.insert(name).second)
          throw FormatError("two entries are named '" + name + "'; safetensors needs unique names");
        if (v.is_tensor())
          tensors.set(name, v);
        else if (to_dir)
          throw FormatError("'" + name + "' is a " + v.type_name() +
                            "; shards hold tensors only (convert to one .safetensors file to "
                            "keep it as metadata)");
        else
          metadata.emplace_back(name, v.repr());
      }
    });
  }

  io::SavedShards saved;
  about(args.out, [&] {
    if (to_dir)
      saved = io::save_sharded(tensors, args.out, max_shard_size, options);
    else if (to_safetensors)
      io::save_safetensors(tensors, args.out, metadata, options);
    else
      io::save(flat ? Value(tensors) : tree, args.out, options);
  });

  uint64_t nbytes = 0;
  for (const Tensor& t : written) {
    DType dt = cast && is_floating_point(t.dtype()) ? *cast : t.dtype();
    nbytes += uint64_t(t.numel() * element_size(dt));
  }
  std::cout << "wrote ";
  if (!to_dir)
    std::cout << printable(args.out) << " (" << (to_safetensors ? "safetensors" : "pt-zip");
  else if (saved.index.empty())
    std::cout << printable(saved.shards.front()) << " (safetensors";
  else
    std::cout << printable(saved.index) << " (safetensors, " << saved.shards.size() << " shards";
  std::cout << ", " << written.size() << " tensors, " << nbytes << " bytes)\n";
  return kExitOk;
}

}  // namespace

Command add_convert(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "convert", "convert between PyTorch (.pt/.pth/.bin) and safetensors files, or cast dtypes");
  cmd->footer(
      "OUT's extension decides the format:\n"
      "  .pt, .pth, .bin  PyTorch's zip format (torch.save); the whole structure and\n"
      "                   storage sharing are kept. From safetensors: an OrderedDict of\n"
      "                   name -> tensor in name order; the safetensors metadata is not\n"
      "                   carried over.\n"
      "  .safetensors     every tensor under its dotted name (model_state_dict.fc1.weight,\n"
      "                   list indices are parts too), written contiguous (views become\n"
      "                   copies: safetensors cannot share). Every other leaf goes into\n"
      "                   __metadata__ as <dotted name> -> Python repr of the value\n"
      "                   (epoch -> \"3\", loss -> \"0.4\", name -> \"'abc'\", None -> \"None\").\n"
      "                   A safetensors input's metadata is copied as it is.\n"
      "--dtype casts floating-point tensors only (float16/32/64, bfloat16 and the float8\n"
      "formats), one storage at a time as it is written, rounding to nearest even\n"
      "(float8_e4m3fn and the fnuz formats turn values beyond their range into NaN).\n"
      "Integer, bool and complex tensors (uint16/32/64, complex32 too) are written as\n"
      "they are. The input is memory-mapped (legacy-format files are\n"
      "read); the output replaces OUT only once it is completely written, and an\n"
      "interrupted convert (SIGINT, SIGTERM) removes its temporary file. A progress\n"
      "bar appears on stderr for inputs over 100 MB when stderr is a terminal.\n"
      "A TorchScript archive (torch.jit.save, libtorch's torch::save) is read as the\n"
      "state_dict it holds. --extract-state-dict reads a pickled whole model\n"
      "(torch.save(model)) as its state_dict: its classes are recorded, never run.\n"
      "Sharded checkpoints (Hugging Face's layout): IN may be a directory or an index\n"
      "file (*.json), read as one checkpoint. OUT is a directory when it ends in '/',\n"
      "or has none of the extensions above and is an existing directory or comes with\n"
      "--max-shard-size: it gets safetensors shards model-00001-of-0000N.safetensors,\n"
      "filled in order up to --max-shard-size (default 5GB) with a new shard when the\n"
      "next tensor would not fit, and model.safetensors.index.json; or\n"
      "model.safetensors alone when everything fits. Shards hold tensors only.\n");
  auto args = std::make_shared<Args>();
  cmd->add_option("IN", args->in, "the checkpoint to read (a file, a directory or an index)")
      ->required();
  cmd->add_option("OUT", args->out,
                  "the file to write (.pt, .pth, .bin or .safetensors), or a directory")
      ->required();
  cmd->add_option("--max-shard-size", args->max_shard_size,
                  "write OUT as a directory of safetensors shards of at most SIZE bytes of "
                  "tensors each (1024, 10KB, 500MB, 2GB, 100MiB, 2GiB)");
  cmd->add_option("--dtype", args->dtype, "cast floating-point tensors to this dtype")
      ->check(CLI::IsMember({"float32", "float64", "float16", "bfloat16", "float8_e4m3fn",
                             "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"}));
  cmd->add_flag("--extract-state-dict", args->extract_state_dict,
                "read a pickled whole model (torch.save(model)) as its state_dict");
  return {cmd, [=] { return run(*args); }};
}

}  // namespace wick::cli
