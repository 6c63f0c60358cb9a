// Crash safety of wick's saves: a save killed with SIGKILL at any
// moment, or stopped by a full disk, never costs the previous checkpoint.
//
// The saves run in crash_saver (a separate process, so it can be killed); this
// driver prepares an old and a new checkpoint, starts crash_saver over a copy
// of the old one, kills it after a seeded random delay and checks that the
// target is then exactly the old or exactly the new checkpoint.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "wick/core/random.h"
#include "wick/core/tensor.h"
#include "wick/io/safetensors.h"
#include "wick/io/serialize.h"

namespace fs = std::filesystem;
using namespace wick;
using Clock = std::chrono::steady_clock;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// ---- checkpoints ----------------------------------------------------------------

// A general checkpoint (.pt) or a flat dict of tensors (.safetensors) of about
// rows * 1 KiB, with several dtypes and, for .pt, a view sharing a storage.
Dict make_tensors(uint64_t seed, int64_t rows) {
  manual_seed(seed);
  Dict sd(/*ordered=*/true);
  Tensor w = randn({rows, 256});
  sd.set("fc1.weight", w);
  sd.set("fc1.bias", randn({rows}));
  sd.set("head.weight", randn({10, 256}, {.dtype = DType::Float64}));
  sd.set("bn.num_batches_tracked", full({}, int64_t(seed), {.dtype = DType::Int64}));
  return sd;
}

Value make_pt(uint64_t seed, int64_t rows) {
  Dict model = make_tensors(seed, rows);
  Dict ckpt;
  ckpt.set("epoch", int64_t(seed));
  ckpt.set("loss", 1.0 / double(seed + 1));
  ckpt.set("note", "checkpoint " + std::to_string(seed));
  ckpt.set("first_row", model.at("fc1.weight").as_tensor().narrow(0, 0, 1));
  ckpt.set("model_state_dict", model);
  return ckpt;
}

// The tensors and values of a file, as flatten() lists them.
std::vector<std::pair<std::string, Value>> contents(const std::string& format,
                                                    const fs::path& path) {
  if (format == "pt") return leaves(load(path.string()));
  return leaves(Value(io::load_safetensors(path.string()).tensors));
}

// Equal tensors (dtype, shape, elements bitwise) and equal other values.
void expect_same_contents(const std::vector<std::pair<std::string, Value>>& got,
                          const std::vector<std::pair<std::string, Value>>& want,
                          const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& [path, v] = got[i];
    ASSERT_EQ(path, want[i].first) << what;
    const Value& w = want[i].second;
    ASSERT_EQ(v.kind(), w.kind()) << what << ": " << path;
    if (!v.is_tensor()) {
      EXPECT_EQ(v.repr(), w.repr()) << what << ": " << path;
      continue;
    }
    Tensor a = v.as_tensor().contiguous(), b = w.as_tensor().contiguous();
    ASSERT_EQ(a.dtype(), b.dtype()) << what << ": " << path;
    ASSERT_EQ(a.sizes(), b.sizes()) << what << ": " << path;
    EXPECT_EQ(std::memcmp(a.data_ptr(), b.data_ptr(), size_t(a.nbytes())), 0)
        << what << ": " << path << " has other elements";
  }
}

// ---- processes --------------------------------------------------------------------

// What a child does between fork and exec; only async-signal-safe calls.
struct Setup {
  rlim_t file_size_limit = RLIM_INFINITY;
  const char* tmpfs = nullptr;  // mount a 1 MiB tmpfs here, in a new mount namespace
};

struct Proc {
  pid_t pid = -1;
  int out = -1, err = -1;   // read ends of the child's stdout and stderr
  std::string setup_error;  // set when the child could not be set up (pid is reaped)
};

Proc spawn(const std::vector<std::string>& args, const Setup& setup = {}) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out[2], err[2], status[2];
  if (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) || ::pipe2(status, O_CLOEXEC)) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {};
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    // A failed step is reported as {step, errno} on the status pipe, which
    // a successful exec closes.
    auto fail = [&](int step) {
      int report[2] = {step, errno};
      (void)!::write(status[1], report, sizeof report);
      ::_exit(127);
    };
    if (::dup2(out[1], STDOUT_FILENO) < 0 || ::dup2(err[1], STDERR_FILENO) < 0) fail(0);
    if (setup.file_size_limit != RLIM_INFINITY) {
      // Ignoring SIGXFSZ makes write() fail with EFBIG instead of killing us.
      ::signal(SIGXFSZ, SIG_IGN);
      struct rlimit lim {};
      if (::getrlimit(RLIMIT_FSIZE, &lim) != 0) fail(1);
      lim.rlim_cur = setup.file_size_limit;
      if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) fail(1);
    }
    if (setup.tmpfs) {
      if (::unshare(CLONE_NEWNS) != 0) fail(2);
      if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(3);
      if (::mount("tmpfs", setup.tmpfs, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0) fail(4);
    }
    ::execv(argv[0], argv.data());
    fail(5);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(status[1]);
  Proc p{pid, out[0], err[0], ""};
  int report[2];
  ssize_t n = ::read(status[0], report, sizeof report);
  ::close(status[0]);
  if (pid < 0) {
    p.setup_error = std::string("fork: ") + std::strerror(errno);
  } else if (n == sizeof report) {
    static const char* steps[] = {"dup2",
                                  "setrlimit(RLIMIT_FSIZE)",
                                  "unshare(CLONE_NEWNS)",
                                  "making the mounts private",
                                  "mount -t tmpfs",
                                  "exec"};
    p.setup_error = std::string(steps[report[0]]) + " failed: " + std::strerror(report[1]);
    ::waitpid(pid, nullptr, 0);
    p.pid = -1;
  }
  return p;
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) s.append(buf, size_t(n));
  return s;
}

// Waits for the child; returns its wait status and stderr.
std::pair<int, std::string> finish(Proc& p) {
  std::string err = read_all(p.err);
  int status = 0;
  while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(p.out);
  ::close(p.err);
  return {status, err};
}

// Waits (at most a minute) for the "R" crash_saver writes before saving.
bool wait_ready(const Proc& p) {
  pollfd fd{p.out, POLLIN, 0};
  if (::poll(&fd, 1, 60000) != 1) return false;
  char c = 0;
  return ::read(p.out, &c, 1) == 1 && c == 'R';
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// ---- the fixture ------------------------------------------------------------------

class CrashSafety : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    format_ = GetParam();
    // Parameterized test names contain '/'.
    std::string leaf = std::string("crash-") + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(leaf.begin(), leaf.end(), '/', '-');
    dir_ = fs::path(WICK_CRASH_WORK_DIR) / leaf;
    fs::remove_all(dir_);
    for (const char* sub : {"old", "new", "work"}) fs::create_directories(dir_ / sub);
    name_ = format_ == "pt" ? "ckpt.pt" : "ckpt.safetensors";
    // The old checkpoint is small, the new one a few MiB, so that a save takes
    // long enough to be killed in the middle, and a 1 MiB limit stops it.
    write_checkpoint(1, 64, dir_ / "old" / name_);
    write_checkpoint(2, kNewRows, dir_ / "new" / name_);
    old_bytes_ = slurp(dir_ / "old" / name_);
    new_bytes_ = slurp(dir_ / "new" / name_);
    ASSERT_NE(old_bytes_, new_bytes_);
    old_contents_ = contents(format_, dir_ / "old" / name_);
    new_contents_ = contents(format_, dir_ / "new" / name_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void write_checkpoint(uint64_t seed, int64_t rows, const fs::path& path) {
    if (format_ == "pt")
      save(make_pt(seed, rows), path.string());
    else
      io::save_safetensors(make_tensors(seed, rows), path.string(),
                           {{"seed", std::to_string(seed)}});
  }

  fs::path target() const { return dir_ / "work" / name_; }

  // Files in work/ other than the target: temporary files of killed savers,
  // which must be named after the target and the saver's process id. Removes
  // them and returns how many there were.
  int remove_leftovers(pid_t pid) {
    int n = 0;
    std::string prefix = "." + name_ + ".tmp-" + std::to_string(pid) + "-";
    for (const auto& entry : fs::directory_iterator(dir_ / "work")) {
      std::string file = entry.path().filename().string();
      if (file == name_) continue;
      EXPECT_EQ(file.rfind(prefix, 0), 0u) << "unexpected file " << entry.path();
      fs::remove(entry.path());
      ++n;
    }
    return n;
  }

  // Checks that the target is exactly the old or the new checkpoint; returns
  // true for the new one.
  bool check_target(const std::string& what) {
    std::string bytes = slurp(target());
    bool is_old = bytes == old_bytes_, is_new = bytes == new_bytes_;
    EXPECT_TRUE(is_old || is_new) << what << ": the target (" << bytes.size()
                                  << " bytes) is neither the old (" << old_bytes_.size()
                                  << " bytes) nor the new checkpoint (" << new_bytes_.size()
                                  << " bytes)";
    io::VerifyResult r = io::verify(target().string());
    EXPECT_TRUE(r.ok()) << what << ": " << (r.problem ? r.problem->str() : "");
    expect_same_contents(contents(format_, target()), is_new ? new_contents_ : old_contents_, what);
    return is_new;
  }

  std::vector<std::string> saver(const std::string& mode, std::vector<std::string> files) const {
    std::vector<std::string> args = {WICK_CRASH_SAVER, mode, format_};
    args.insert(args.end(), files.begin(), files.end());
    return args;
  }

#ifdef WICK_CRASH_SANITIZED
  static constexpr int64_t kNewRows = 4096;  // 4 MiB of float32
#else
  static constexpr int64_t kNewRows = 8192;  // 8 MiB of float32
#endif
  std::string format_, name_, old_bytes_, new_bytes_;
  fs::path dir_;
  std::vector<std::pair<std::string, Value>> old_contents_, new_contents_;
};

// ---- SIGKILL ----------------------------------------------------------------------

TEST_P(CrashSafety, SigkillDuringSaveLeavesOldOrNew) {
  const int kills = format_ == "pt" ? 100 : 60;
  const int loop_kills = format_ == "pt" ? 30 : 20;
  std::string old_ref = (dir_ / "old" / name_).string(), new_ref = (dir_ / "new" / name_).string();

  // How long the saver takes to start and to save, unkilled; each run must
  // leave exactly the new checkpoint.
  std::vector<double> startup, saving;
  for (int i = 0; i < 5; ++i) {
    fs::copy_file(old_ref, target(), fs::copy_options::overwrite_existing);
    auto t0 = Clock::now();
    Proc p = spawn(saver("once", {new_ref, target().string()}));
    ASSERT_EQ(p.setup_error, "");
    ASSERT_TRUE(wait_ready(p));
    auto t1 = Clock::now();
    auto [status, err] = finish(p);
    auto t2 = Clock::now();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status) << "\n" << err;
    ASSERT_TRUE(check_target("unkilled save"));
    ASSERT_EQ(remove_leftovers(p.pid), 0);
    startup.push_back(std::chrono::duration<double>(t1 - t0).count());
    saving.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  // The median run: the machine is shared and fsync times vary, so the
  // slowest run would put most kills after the end of the save.
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double start_s = median(startup), save_s = median(saving);

  std::mt19937_64 rng(format_ == "pt" ? 20240801 : 20240802);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int old_n = 0, new_n = 0, finished = 0, temps = 0;
  auto one = [&](bool loop, int i) {
    fs::copy_file(old_ref, target(), fs::copy_options::overwrite_existing);
    Proc p = loop ? spawn(saver("loop", {old_ref, new_ref, target().string()}))
                  : spawn(saver("once", {new_ref, target().string()}));
    ASSERT_EQ(p.setup_error, "");
    // One kill in ten lands while the process is still starting; the others
    // from the start of the save to a little past its end (loops: past
    // several saves).
    double u = unit(rng);
    if (!loop && i % 10 == 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(u * start_s));
    } else {
      ASSERT_TRUE(wait_ready(p)) << "crash_saver did not start";
      std::this_thread::sleep_for(std::chrono::duration<double>(u * save_s * (loop ? 4.0 : 1.3)));
    }
    ::kill(p.pid, SIGKILL);
    auto [status, err] = finish(p);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << err;
      ++finished;
    } else {
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << describe(status);
    }
    std::string what = std::string(loop ? "loop" : "once") + " kill " + std::to_string(i);
    if (check_target(what))
      ++new_n;
    else
      ++old_n;
    temps += remove_leftovers(p.pid);
  };
  for (int i = 0; i < kills && !HasFatalFailure(); ++i) one(false, i);
  int once_old = old_n, once_new = new_n, once_temps = temps, once_finished = finished;
  for (int i = 0; i < loop_kills && !HasFatalFailure(); ++i) one(true, i);

  std::cout << "[ crash    ] " << format_ << ": startup " << int(start_s * 1000) << " ms, save "
            << int(save_s * 1000) << " ms (" << new_bytes_.size() / 1024 << " KiB)\n"
            << "[ crash    ] " << format_ << ": " << kills << " single saves killed: " << once_old
            << " old, " << once_new << " new (" << once_finished
            << " had finished before the kill), " << once_temps << " left a temporary file\n"
            << "[ crash    ] " << format_ << ": " << loop_kills
            << " save loops killed: " << old_n - once_old << " old, " << new_n - once_new
            << " new, " << temps - once_temps << " left a temporary file\n";
  // Both outcomes, and kills that left a temporary file behind, prove that
  // kills landed before, during and after the rename. Counted over single
  // saves and loops together: how they split depends on the machine's speed
  // (under ASan, fewer single saves are caught mid-write).
  EXPECT_GE(old_n, 5);
  EXPECT_GE(new_n, 5);
  EXPECT_GE(temps, 5);
}

// ---- in-process failures and permissions -----------------------------------------

TEST_P(CrashSafety, FailedSaveLeavesNoTemporaryFile) {
  // A value the format cannot hold fails while the temporary file is being
  // written: the exception must remove it and leave the old file as it was.
  fs::copy_file(dir_ / "old" / name_, target());
  Value self_list = Value::list({1, 2});
  self_list.as_list().push_back(self_list);
  Dict not_tensors;
  not_tensors.set("w", randn({4}));
  not_tensors.set("epoch", 3);
  if (format_ == "pt")
    EXPECT_THROW(save(self_list, target().string()), Error);
  else
    EXPECT_THROW(io::save_safetensors(not_tensors, target().string()), Error);
  self_list.as_list().clear();  // break the cycle
  EXPECT_EQ(slurp(target()), old_bytes_);
  EXPECT_EQ(remove_leftovers(::getpid()), 0);
}

TEST_P(CrashSafety, SaveKeepsPermissions) {
  // Replacing a private checkpoint must not make it readable by others.
  fs::copy_file(dir_ / "old" / name_, target());
  for (auto perms : {fs::perms::owner_read | fs::perms::owner_write,
                     fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read}) {
    fs::permissions(target(), perms);
    write_checkpoint(3, 8, target());
    EXPECT_EQ(fs::status(target()).permissions(), perms);
    EXPECT_EQ(remove_leftovers(::getpid()), 0);
  }
}

// ---- full disk --------------------------------------------------------------------

TEST_P(CrashSafety, FileSizeLimitFailsCleanly) {
  // 1 MiB holds the old checkpoint but not the new one; the saver copies the
  // old file over the target, then tries to save the new one over it.
  std::string old_ref = (dir_ / "old" / name_).string(), new_ref = (dir_ / "new" / name_).string();
  ASSERT_LT(old_bytes_.size(), size_t(1) << 20);
  ASSERT_GT(new_bytes_.size(), size_t(1) << 20);
  Proc p = spawn(saver("full", {old_ref, new_ref, target().string()}),
                 {.file_size_limit = rlim_t(1) << 20});
  ASSERT_EQ(p.setup_error, "");
  auto [status, err] = finish(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status) << "\n" << err;
  EXPECT_NE(err.find("wick::Error: "), std::string::npos) << err;
  EXPECT_NE(err.find("'" + target().string() + "'"), std::string::npos)
      << "the message does not name the target: " << err;
  EXPECT_NE(err.find(std::strerror(EFBIG)), std::string::npos) << err;
  // Checked here too, not only by the saver.
  EXPECT_EQ(slurp(target()), old_bytes_);
  EXPECT_TRUE(io::verify(target().string()).ok());
  EXPECT_EQ(remove_leftovers(p.pid), 0);
  std::cout << "[ crash    ] " << format_ << " over RLIMIT_FSIZE: " << err;
}

TEST_P(CrashSafety, FullTmpfsFailsCleanly) {
  // A 1 MiB tmpfs mounted over disk/ in the saver's own mount namespace (only
  // it sees the mount, so it checks the result itself: target unchanged,
  // verify passes, nothing left in the directory).
  std::string old_ref = (dir_ / "old" / name_).string(), new_ref = (dir_ / "new" / name_).string();
  fs::path disk = dir_ / "disk";
  fs::create_directories(disk);
  std::string mount_point = disk.string(), target_path = (disk / name_).string();
  Proc p = spawn(saver("full", {old_ref, new_ref, target_path}), {.tmpfs = mount_point.c_str()});
  if (!p.setup_error.empty())
    GTEST_SKIP() << "cannot mount a tmpfs for the full-disk test (" << p.setup_error
                 << "; needs root or CAP_SYS_ADMIN); the RLIMIT_FSIZE test covers a failed write";
  auto [status, err] = finish(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status) << "\n" << err;
  EXPECT_NE(err.find("wick::Error: "), std::string::npos) << err;
  EXPECT_NE(err.find("'" + target_path + "'"), std::string::npos)
      << "the message does not name the target: " << err;
  EXPECT_NE(err.find(std::strerror(ENOSPC)), std::string::npos) << err;
  // The mount went away with the saver's namespace.
  EXPECT_TRUE(fs::is_empty(disk));
  std::cout << "[ crash    ] " << format_ << " on a full tmpfs: " << err;
}

INSTANTIATE_TEST_SUITE_P(Formats, CrashSafety, ::testing::Values("pt", "safetensors"),
                         [](const auto& info) { return info.param; });

}  // namespace
