// wick bench seed-net | model | io: how fast wick trains and runs the
// recipe's network and torchvision's models, and how fast it writes and reads
// checkpoints. Each prints one JSON object; bench/compare_pytorch.py runs them
// next to PyTorch and libtorch.
//
// Figures are wall-clock. The work is what a PyTorch user's loop does: every
// training step computes the loss, all gradients and the SGD-momentum update.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.h"
#include "seed_net.h"  // tests/seed_net.h: the recipe's Net, as the tests check it against PyTorch
#include "wick/wick.h"

namespace wick::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Mean seconds of one call of `step` over `steps` calls, after `warmup`
/// untimed ones; `last` receives the last call's result.
template <class Step>
double mean_seconds(int64_t warmup, int64_t steps, Step&& step, Tensor& last) {
  for (int64_t i = 0; i < warmup; ++i) step();
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < steps; ++i) last = step();
  return seconds_since(t0) / double(steps);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ---- seed-net ----------------------------------------------------------------

struct SeedNetOptions {
  int64_t batch = 4;
  int threads = 0;  // 0: leave wick's default
  int64_t steps = 100;
  int64_t warmup = 10;
};

int run_seed_net(const SeedNetOptions& o) {
  if (o.batch < 1) throw UsageError("bench seed-net", "--batch must be at least 1");
  if (o.steps < 1) throw UsageError("bench seed-net", "--steps must be at least 1");
  if (o.threads < 0)
    throw UsageError("bench seed-net", "--threads must not be negative (0: wick's default)");
  if (o.threads > 0) set_num_threads(o.threads);
  manual_seed(0);
  testing::SeedNet net;
  optim::SGD opt(net.parameters(), {.lr = 0.01, .momentum = 0.9});
  Tensor images = randn({o.batch, 3, 32, 32});
  Tensor labels = randint(0, 10, {o.batch});

  auto train_step = [&] {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(net(images), labels);
    loss.backward();
    opt.step();
    return loss;
  };
  net.train();
  Tensor loss, out;
  const double train_s = mean_seconds(o.warmup, o.steps, train_step, loss);
  net.eval();
  double infer_s = 0;
  {
    NoGradGuard no_grad;
    infer_s = mean_seconds(
        o.warmup, o.steps, [&] { return net(images); }, out);
  }
  const double checksum = out.sum().item<double>();

  nlohmann::ordered_json j;
  j["benchmark"] = "seed-net";
  j["batch"] = o.batch;
  j["threads"] = get_num_threads();
  j["steps"] = o.steps;
  j["warmup"] = o.warmup;
  j["train_step_us"] = train_s * 1e6;
  j["infer_us"] = infer_s * 1e6;
  j["images_per_s"] = double(o.batch) / train_s;
  j["infer_images_per_s"] = double(o.batch) / infer_s;
  // Printed so that no step's result is dead: the last loss and output.
  j["last_loss"] = loss.item<double>();
  j["output_sum"] = checksum;
  std::cout << j.dump() << "\n";
  return kExitOk;
}

// ---- model -------------------------------------------------------------------

struct ModelOptions {
  std::string arch = "resnet18";
  int64_t batch = 1;
  int64_t size = 224;
  int threads = 0;  // 0: leave wick's default
  int64_t steps = 10;
  int64_t warmup = 2;
  bool train = false;
};

int run_model(const ModelOptions& o) {
  if (o.batch < 1) throw UsageError("bench model", "--batch must be at least 1");
  if (o.size < 1) throw UsageError("bench model", "--size must be at least 1");
  if (o.steps < 1) throw UsageError("bench model", "--steps must be at least 1");
  if (o.warmup < 0) throw UsageError("bench model", "--warmup must not be negative");
  if (o.threads < 0)
    throw UsageError("bench model", "--threads must not be negative (0: wick's default)");
  if (o.threads > 0) set_num_threads(o.threads);
  manual_seed(0);
  std::unique_ptr<nn::Module> net = models::create(o.arch);  // throws for an unknown name
  Tensor images = randn({o.batch, 3, o.size, o.size});
  Tensor labels = randint(0, 1000, {o.batch});

  nlohmann::ordered_json j;
  j["benchmark"] = "model";
  j["arch"] = o.arch;
  j["batch"] = o.batch;
  j["size"] = o.size;
  j["threads"] = get_num_threads();
  j["steps"] = o.steps;
  j["warmup"] = o.warmup;

  net->eval();
  Tensor out;
  {
    NoGradGuard no_grad;
    const double infer_s = mean_seconds(
        o.warmup, o.steps, [&] { return (*net)(images); }, out);
    j["infer_us"] = infer_s * 1e6;
    j["infer_images_per_s"] = double(o.batch) / infer_s;
  }
  j["output_sum"] = out.sum().item<double>();  // so that no forward is dead
  if (o.train) {
    optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
    auto train_step = [&] {
      opt.zero_grad();
      Tensor loss = nn::functional::cross_entropy((*net)(images), labels);
      loss.backward();
      opt.step();
      return loss;
    };
    net->train();
    Tensor loss;
    const double train_s = mean_seconds(o.warmup, o.steps, train_step, loss);
    j["train_step_us"] = train_s * 1e6;
    j["images_per_s"] = double(o.batch) / train_s;
    j["last_loss"] = loss.item<double>();
  }
  std::cout << j.dump() << "\n";
  return kExitOk;
}

// ---- io --------------------------------------------------------------------------

struct IoOptions {
  int64_t mib = 256;
  std::string dir;
  int rounds = 3;
  bool fsync = false;
  bool mapped_only = false;
  // Write the state_dict to this .pt file and stop.
  std::string save_reference;
  // Internal: load this file in this fresh process and print "seconds peak".
  std::string load_child;
};

// `mib` MiB of float32 as 2048x2048 tensors; a remainder below 16 MiB is one
// tensor of fewer rows. The one definition of the benchmark's state_dict: the
// PyTorch and libtorch sides of bench/compare_pytorch.py load it from the file
// --save-reference writes.
Dict state_dict(int64_t mib) {
  Dict d;  // a plain dict: libtorch's pickle_load (1.13) cannot read an OrderedDict
  const int64_t cols = 2048, per = 2048 * cols;
  int64_t left = mib * (int64_t(1) << 20) / 4;
  for (int i = 0; left > 0; ++i) {
    int64_t rows = std::min(per, left) / cols;
    left -= rows * cols;
    Tensor t = empty({rows, cols});
    float* p = t.data<float>();
    for (int64_t k = 0; k < rows * cols; ++k) p[k] = float(k % 1000) * 0.001f + float(i);
    d.set("layer" + std::to_string(i) + ".weight", t);
  }
  return d;
}

// A field of /proc/self/status in bytes (VmRSS, VmHWM).
int64_t status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::stoll(line.substr(n)) * 1024;
  return -1;
}

bool is_safetensors(const std::string& path) {
  return path.ends_with(".safetensors");
}

// Runs in a fresh process (so the peak is the load's, not that of building
// and saving the state_dict): the seconds of a copying load and the resident
// memory it added at its peak.
int run_load_child(const std::string& path) {
  // Start the high-water mark from here (Linux 4.0+: "5" resets VmHWM).
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const int64_t before = status_bytes("VmRSS:");
  io::LoadOptions o;
  o.mmap = false;
  auto t0 = Clock::now();
  double check = 0;
  Dict tensors =
      is_safetensors(path) ? io::load_safetensors(path, o).tensors : io::load(path, o).as_dict();
  double dt = seconds_since(t0);
  const int64_t peak = status_bytes("VmHWM:");
  // The bytes were really copied: read one from each tensor.
  for (const auto& [k, v] : tensors) check += double(v.as_tensor().data<float>()[0]);
  std::printf("%.9f %lld %g\n", dt, static_cast<long long>(peak - before), check);
  return kExitOk;
}

// Reads the whole file once. The first read of a file just written is several
// times slower than later ones (seen for files torch.save wrote as well), and
// the PyTorch side of the comparison reads its file once before timing too.
void warm(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> buf(1 << 24);
  while (f.read(buf.data(), std::streamsize(buf.size())) || f.gcount() > 0) {
  }
}

// Runs `wick bench io --load-child path` and returns {seconds, peak bytes}.
std::pair<double, int64_t> load_in_child(const std::string& path) {
  warm(path);
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("bench io: pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("bench io: fork failed");
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const char* args[] = {"wick", "bench", "io", "--load-child", path.c_str(), nullptr};
    execv("/proc/self/exe", const_cast<char* const*>(args));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  double dt = 0;
  long long peak = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
      std::sscanf(out.c_str(), "%lf %lld", &dt, &peak) != 2)
    throw FileError(path, "the loading child process failed");
  return {dt, peak};
}

double mapped_open_s(const std::string& path) {
  io::LoadOptions o;  // mmap
  auto t0 = Clock::now();
  // The result lives until after the clock is read: unmapping is not timed.
  if (is_safetensors(path)) {
    io::SafetensorsFile f = io::load_safetensors(path, o);
    return seconds_since(t0);
  }
  Value v = io::load(path, o);
  return seconds_since(t0);
}

int run_io(const IoOptions& o) {
  if (!o.load_child.empty()) return run_load_child(o.load_child);
  if (o.mib < 1) throw UsageError("bench io", "--mib must be at least 1");
  if (!o.save_reference.empty()) {
    about(o.save_reference, [&] { io::save(Value(state_dict(o.mib)), o.save_reference); });
    return kExitOk;
  }
  if (o.rounds < 1) throw UsageError("bench io", "--rounds must be at least 1");
  const bool own_dir = o.dir.empty();
  fs::path dir = own_dir ? fs::temp_directory_path() / ("wick-bench-io-" + std::to_string(getpid()))
                         : fs::path(o.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(dir.string(), ec.message());
  const std::string pt = (dir / "bench.pt").string();
  const std::string st = (dir / "bench.safetensors").string();

  Dict sd = state_dict(o.mib);
  const double mib = double(o.mib);
  io::SaveOptions so;
  so.fsync = o.fsync;

  nlohmann::ordered_json j;
  j["benchmark"] = "io";
  j["mib"] = o.mib;
  j["tensors"] = sd.size();
  j["rounds"] = o.rounds;
  j["fsync"] = o.fsync;
  std::vector<double> pt_save, st_save, pt_load, st_load, pt_map, st_map;
  int64_t pt_peak = 0, st_peak = 0;
  auto timed_save = [&](const std::string& path, bool safetensors) {
    fs::remove(path);  // a new file each time, as for torch.save in the comparison
    auto t0 = Clock::now();
    about(path, [&] {
      if (safetensors)
        io::save_safetensors(sd, path, {}, so);
      else
        io::save(Value(sd), path, so);
    });
    return seconds_since(t0);
  };
  if (o.mapped_only) {
    about(pt, [&] { io::save(Value(sd), pt, so); });
  }
  // Alternating the formats round by round spreads other load on the machine
  // over both.
  for (int r = 0; r < o.rounds; ++r) {
    if (!o.mapped_only) {
      pt_save.push_back(timed_save(pt, false));
      st_save.push_back(timed_save(st, true));
      auto [pt_s, pt_b] = load_in_child(pt);
      auto [st_s, st_b] = load_in_child(st);
      pt_load.push_back(pt_s);
      st_load.push_back(st_s);
      pt_peak = std::max(pt_peak, pt_b);
      st_peak = std::max(st_peak, st_b);
      st_map.push_back(about(st, [&] { return mapped_open_s(st); }));
    }
    pt_map.push_back(about(pt, [&] { return mapped_open_s(pt); }));
  }
  j["pt_file_bytes"] = fs::file_size(pt);
  if (!o.mapped_only) {
    j["st_file_bytes"] = fs::file_size(st);
    j["pt_save_s"] = median(pt_save);
    j["pt_save_mib_per_s"] = mib / median(pt_save);
    j["pt_load_s"] = median(pt_load);
    j["pt_load_mib_per_s"] = mib / median(pt_load);
    j["pt_load_peak_rss_added_mib"] = double(pt_peak) / (1 << 20);
    j["st_save_s"] = median(st_save);
    j["st_save_mib_per_s"] = mib / median(st_save);
    j["st_load_s"] = median(st_load);
    j["st_load_mib_per_s"] = mib / median(st_load);
    j["st_load_peak_rss_added_mib"] = double(st_peak) / (1 << 20);
    j["st_mapped_open_ms"] = median(st_map) * 1e3;
  }
  j["pt_mapped_open_ms"] = median(pt_map) * 1e3;

  fs::remove(pt, ec);
  fs::remove(st, ec);
  if (own_dir) fs::remove(dir, ec);
  std::cout << j.dump() << "\n";
  return kExitOk;
}

}  // namespace

Command add_bench(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("bench", "measure training, inference and checkpoint speed");
  cmd->require_subcommand(1);
  cmd->footer(
      "Each benchmark prints one JSON object. bench/compare_pytorch.py runs them\n"
      "next to PyTorch and libtorch and prints a table.\n");

  auto net = std::make_shared<SeedNetOptions>();
  CLI::App* seed = cmd->add_subcommand(
      "seed-net", "training step and inference time of the recipe's Net on 3x32x32 images");
  seed->footer(
      "A training step is zero_grad, forward, cross_entropy, backward and\n"
      "SGD(lr=0.01, momentum=0.9).step(); inference is forward in eval mode without\n"
      "gradients. After --warmup of each, --steps of each are timed; the JSON has\n"
      "the mean train_step_us and infer_us, and images_per_s of training.\n");
  seed->add_option("--batch", net->batch, "images per step (default 4)");
  seed->add_option("--threads", net->threads, "threads for every kernel (default: wick's)");
  seed->add_option("--steps", net->steps, "timed steps (default 100)");
  seed->add_option("--warmup", net->warmup, "untimed steps first (default 10)");

  auto model = std::make_shared<ModelOptions>();
  CLI::App* model_cmd = cmd->add_subcommand(
      "model", "inference (and training step) time of a torchvision model by builder name");
  model_cmd->footer(
      "Builds --arch as models::create does (1000 classes, random weights) and\n"
      "times forward in eval mode without gradients on a random [batch, 3, size,\n"
      "size] batch; with --train also the training step: zero_grad, forward,\n"
      "cross_entropy, backward and SGD(lr=0.01, momentum=0.9).step() in train\n"
      "mode. After --warmup of each, --steps of each are timed; the JSON has the\n"
      "mean infer_us (and train_step_us).\n");
  model_cmd->add_option("--arch", model->arch, "torchvision builder name (default resnet18)");
  model_cmd->add_option("--batch", model->batch, "images per step (default 1)");
  model_cmd->add_option("--size", model->size, "image height and width (default 224)");
  model_cmd->add_option("--threads", model->threads, "threads for every kernel (default: wick's)");
  model_cmd->add_option("--steps", model->steps, "timed steps (default 10)");
  model_cmd->add_option("--warmup", model->warmup, "untimed steps first (default 2)");
  model_cmd->add_flag("--train", model->train, "also time the training step");

  auto io = std::make_shared<IoOptions>();
  CLI::App* io_cmd = cmd->add_subcommand(
      "io", "save, copying-load and mapped-open speed for .pt and safetensors files");
  io_cmd->footer(
      "Builds a state_dict of --mib MiB of 2048x2048 float32 tensors and, over\n"
      "--rounds, saves it as a new .pt and .safetensors file in --dir, loads each\n"
      "file with copying (in a fresh process, from the page cache, measuring the\n"
      "resident memory the load added at its peak) and opens each mapped. Prints\n"
      "medians. Saves do not fsync unless --fsync (torch.save never does).\n");
  io_cmd->add_option("--mib", io->mib, "size of the state_dict in MiB (default 256)");
  io_cmd->add_option("--dir", io->dir, "where to write the files (default: a temporary directory)");
  io_cmd->add_option("--rounds", io->rounds, "rounds; figures are medians (default 3)");
  io_cmd->add_flag("--fsync", io->fsync, "fsync each saved file");
  io_cmd->add_flag("--mapped-only", io->mapped_only,
                   "only write the .pt file once and time its mapped open");
  io_cmd->add_option("--save-reference", io->save_reference,
                     "only write the state_dict to this .pt file (what other sides load)");
  io_cmd->add_option("--load-child", io->load_child)->group("");

  return {cmd, [=]() -> int {
            if (seed->parsed()) return run_seed_net(*net);
            if (model_cmd->parsed()) return run_model(*model);
            return run_io(*io);
          }};
}

}  // namespace wick::cli
