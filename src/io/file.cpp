// Sources (mapped, pread, memory) and the crash-safe AtomicFile.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <thread>

#include "core/thread_pool.h"
#include "io/file.h"
#include "wick/core/error.h"
#include "wick/io/serialize.h"

namespace wick::io::detail {

namespace {
std::string os_error(const std::string& what, const std::string& path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

// Big reads from the page cache are split across threads: one core copies at
// ~1-2 GB/s, well below what memory can do. Returns false (with errno set) on a
// failed call, true otherwise; `done` gets the bytes moved.
constexpr size_t kChunk = size_t(8) << 20;

template <class Call>
bool parallel_io(size_t n, Call call, size_t& done) {
  size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<ssize_t> got(chunks, 0);
  std::vector<int> err(chunks, 0);
  wick::detail::parallel_for(0, int64_t(chunks), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      size_t off = size_t(i) * kChunk, len = std::min(kChunk, n - off), moved = 0;
      while (moved < len) {
        ssize_t r = call(off + moved, len - moved);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          err[size_t(i)] = r < 0 ? errno : 0;
          break;
        }
        moved += size_t(r);
      }
      got[size_t(i)] = ssize_t(moved);
    }
  });
  done = 0;
  for (size_t i = 0; i < chunks; ++i) {
    done += size_t(got[i]);
    if (size_t(got[i]) != std::min(kChunk, n - i * kChunk)) {
      errno = err[i];
      return false;
    }
  }
  return true;
}
}  // namespace

std::shared_ptr<Storage> allocate_storage(size_t nbytes) {
  if (nbytes < (size_t(4) << 20)) return Storage::allocate(nbytes);
  void* p = ::mmap(nullptr, nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error(wick::detail::concat("out of memory allocating ", nbytes, " bytes"));
  ::madvise(p, nbytes, MADV_HUGEPAGE);  // advisory: fine if THP is off
  std::shared_ptr<void> owner(p, [nbytes](void* q) { ::munmap(q, nbytes); });
  return Storage::borrow(p, nbytes, std::move(owner));
}

Source Source::map(const std::string& path) {
  Source s;
  s.mapped_ = MappedFile::open(path);
  s.name_ = path;
  s.size_ = s.mapped_->size();
  s.data_ = s.mapped_->data();
  return s;
}

Source Source::file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(os_error("cannot open", path));
  Source s;
  s.fd_ = std::shared_ptr<int>(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(os_error("cannot stat", path));
  if (!S_ISREG(st.st_mode)) throw Error("cannot load '" + path + "': not a regular file");
  s.name_ = path;
  s.size_ = uint64_t(st.st_size);
  return s;
}

Source Source::memory(std::span<const std::byte> bytes, std::string name) {
  Source s;
  s.name_ = std::move(name);
  s.size_ = bytes.size();
  s.data_ = bytes.data();
  return s;
}

void Source::check_range(uint64_t offset, uint64_t n, std::string_view what) const {
  if (offset > size_ || n > size_ - offset)
    throw FormatError(wick::detail::concat(name_, ": ", what, " at [", offset, ", ", offset, " + ",
                                           n, ") is outside the file (", size_,
                                           " bytes); the file is truncated or corrupt"));
}

void Source::read(uint64_t offset, void* dst, size_t n, std::string_view what) const {
  check_range(offset, n, what);
  if (n == 0) return;
  if (data_) {
    std::memcpy(dst, data_ + offset, n);
    return;
  }
  auto* p = static_cast<char*>(dst);
  int fd = *fd_;
  size_t done = 0;
  bool ok = parallel_io(
      n, [&](size_t off, size_t len) { return ::pread(fd, p + off, len, off_t(offset + off)); },
      done);
  if (!ok && errno) throw Error(os_error("cannot read", name_));
  if (!ok)
    throw FormatError(
        wick::detail::concat(name_, ": ", what, ": the file became shorter while reading"));
}

// ---- AtomicFile ---------------------------------------------------------------

namespace {
// Failures name the file being saved first: the temporary name alone would
// leave a user guessing which save failed. Uses errno.
std::string save_error(const std::string& path, const std::string& step) {
  return "cannot save '" + path + "': " + step + " failed: " + std::strerror(errno);
}
}  // namespace

namespace {
// Saving through a symbolic link replaces the file it points to, as writing
// into it (torch.save) would, not the link: `latest.pt -> run3/ckpt.pt` stays a
// link. A link that points nowhere yet names the file to create.
std::string follow_links(std::string path) {
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
    std::string target(size_t(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0 || size_t(n) >= target.size()) return path;
    target.resize(size_t(n));
    size_t slash = path.rfind('/');
    path = target.starts_with('/') || slash == std::string::npos
               ? target
               : path.substr(0, slash + 1) + target;
  }
  throw Error("cannot save '" + path + "': too many levels of symbolic links");
}
}  // namespace

namespace {
// The temporary files of the saves in progress, for remove_unfinished_saves()
// in a signal handler: fixed slots of plain chars, each published by an
// atomic state, so the handler reads them without locks or allocation.
constexpr int kSlots = 16;
enum : int { kFree, kTaken, kReady };
struct Slot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX];
};
Slot g_unfinished[kSlots];

// Returns the slot now holding `path`, or -1 when all are taken or the path
// is too long (that save is then not removed on a signal).
int remember_unfinished(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (g_unfinished[i].state.compare_exchange_strong(expected, kTaken)) {
      std::memcpy(g_unfinished[i].path, path.c_str(), path.size() + 1);
      g_unfinished[i].state.store(kReady);
      return i;
    }
  }
  return -1;
}

void forget_unfinished(int slot) {
  if (slot >= 0) g_unfinished[slot].state.store(kFree);
}

// Blocks every signal while the temporary file and its slot change together,
// so that a handler never sees a file without its slot or a slot naming
// another process's file.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};
}  // namespace

AtomicFile::AtomicFile(const std::string& path) : AtomicFile(follow_links(path), 0) {}

AtomicFile::AtomicFile(const std::string& path, int) : path_(path) {
  // A unique name in the target's directory, so that rename() is atomic. The
  // mode 0666 lets the umask decide permissions, as for any new file.
  static std::atomic<uint64_t> counter{0};
  auto now = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_ = wick::detail::concat(dir, ".", base, ".tmp-", ::getpid(), "-", now % 1000000007, "-",
                                 counter++);
    SignalsBlocked blocked;
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) slot_ = remember_unfinished(temp_);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) throw Error(os_error("cannot create a temporary file next to", path));
  // Replacing a file keeps its permission bits, as writing into it would: a
  // private (0600) checkpoint must not become readable by others.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::fchmod(fd_, st.st_mode & 07777);
  buffer_.reserve(size_t(1) << 20);
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  SignalsBlocked blocked;
  ::unlink(temp_.c_str());
  forget_unfinished(slot_);
}

void AtomicFile::put(const char* p, size_t n) {
  // One sequential writer: buffered writes to one file serialize on its inode
  // lock, so splitting them across threads only adds contention.
  while (n > 0) {
    ssize_t w = ::write(fd_, p, std::min(n, size_t(1) << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      throw Error(save_error(path_, "writing the temporary file '" + temp_ + "'"));
    }
    p += w;
    n -= size_t(w);
  }
}

void AtomicFile::flush() {
  put(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t n) {
  if (buffer_.size() + n <= buffer_.capacity()) {
    buffer_.insert(buffer_.end(), static_cast<const char*>(data),
                   static_cast<const char*>(data) + n);
    return;
  }
  flush();
  if (n < buffer_.capacity() / 2) {
    buffer_.insert(buffer_.end(), static_cast<const char*>(data),
                   static_cast<const char*>(data) + n);
    return;
  }
  put(static_cast<const char*>(data), n);
}

void AtomicFile::commit(bool sync) {
  flush();
  if (sync && ::fsync(fd_) != 0)
    throw Error(save_error(path_, "fsync of the temporary file '" + temp_ + "'"));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0)
    throw Error(save_error(path_, "closing the temporary file '" + temp_ + "'"));
  // Renaming over an old file frees its pages and blocks right away, which for
  // a big checkpoint takes as long as writing it. Holding the old file open
  // moves that work to the last close, done on a short-lived thread.
  // (O_NONBLOCK: opening a FIFO found at the path must not wait for a writer.)
  int old = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  {
    SignalsBlocked blocked;
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      int e = errno;
      if (old >= 0) ::close(old);
      errno = e;
      throw Error(save_error(path_, "renaming the temporary file '" + temp_ + "' onto it"));
    }
    forget_unfinished(slot_);
  }
  committed_ = true;
  // The save has succeeded: if no thread can be started, close here.
  if (old >= 0) {
    try {
      std::thread([old] { ::close(old); }).detach();
    } catch (const std::system_error&) {
      ::close(old);
    }
  }
  if (sync) {
    // The rename itself is only durable once the directory is synced.
    size_t slash = path_.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
}

}  // namespace wick::io::detail

namespace wick::io {

void remove_unfinished_saves() noexcept {
  for (auto& slot : detail::g_unfinished)
    if (slot.state.load() == detail::kReady) ::unlink(slot.path);
}

}  // namespace wick::io
