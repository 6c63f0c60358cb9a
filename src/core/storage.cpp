#include "wick/core/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/storage_cache.h"
#include "wick/core/error.h"

namespace wick {

namespace {

constexpr size_t kAlign = 64;

size_t rounded_size(size_t nbytes) {
  const size_t rounded = (nbytes + kAlign - 1) / kAlign * kAlign;
  return rounded == 0 ? kAlign : rounded;
}

// Freed heap blocks kept for reuse, by size. A training loop frees and
// allocates the same sizes every step (gradients, activations, columns); if
// those blocks went back to malloc, its heap trimming could return their pages
// to the kernel at the end of one step and the next step would fault them in
// again, which costs several microseconds a page on a virtual machine and,
// depending on the order of allocations, a large part of a small step. Kept
// here, they stay mapped. Bounded: blocks up to kMaxBlock bytes, kMaxCached
// bytes in all; the rest is freed as before. Builds with AddressSanitizer
// keep nothing, so that a use after free is still caught.
class BlockCache {
 public:
  static constexpr size_t kMaxBlock = detail::kStorageCacheMaxBlock;
  static constexpr size_t kMaxCached = detail::kStorageCacheMaxBytes;

  void* take(size_t rounded) {
    if (!kEnabled || rounded > kMaxBlock) return nullptr;
    std::lock_guard lock(mutex_);
    auto it = free_.find(rounded);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= rounded;
    return p;
  }

  /// Keeps `p` (rounded bytes) for a later take(); false when it is not kept.
  bool give(void* p, size_t rounded) {
    if (!kEnabled || rounded > kMaxBlock) return false;
    std::lock_guard lock(mutex_);
    if (cached_ + rounded > kMaxCached) return false;
    free_[rounded].push_back(p);
    cached_ += rounded;
    return true;
  }

 private:
#if defined(__SANITIZE_ADDRESS__)
  static constexpr bool kEnabled = false;
#else
  static constexpr bool kEnabled = true;
#endif
  friend size_t detail::storage_cache_bytes();
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// Never destroyed: storages may still be freed during static destruction.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache;
  return *cache;
}

}  // namespace

size_t detail::storage_cache_bytes() {
  BlockCache& c = block_cache();
  std::lock_guard lock(c.mutex_);
  return c.cached_;
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error("cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("cannot map '" + path + "': not a regular file");
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = size_t(st.st_size);
  if (m->size_ > 0) {
    void* p = ::mmap(nullptr, m->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw Error("cannot map '" + path + "': " + std::strerror(e));
    }
    m->data_ = static_cast<std::byte*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return m;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  // Round up to the alignment (aligned_alloc requires a multiple); allocate at
  // least one block so data() is never null.
  if (nbytes > (size_t(1) << 62))
    throw Error(detail::concat("Storage::allocate: ", nbytes, " bytes is more than wick allows"));
  const size_t rounded = rounded_size(nbytes);
  void* p = block_cache().take(rounded);
  if (!p) p = std::aligned_alloc(kAlign, rounded);
  if (!p)
    throw Error(detail::concat("Storage::allocate: out of memory allocating ", nbytes, " bytes"));
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = static_cast<std::byte*>(p);
  s->nbytes_ = nbytes;
  return s;
}

std::shared_ptr<Storage> Storage::from_mapped(std::shared_ptr<MappedFile> file, size_t offset,
                                              size_t nbytes) {
  if (!file) throw Error("Storage::from_mapped: null file");
  if (offset > file->size() || nbytes > file->size() - offset)
    throw Error(detail::concat("Storage::from_mapped: region [", offset, ", ", offset, " + ",
                               nbytes, ") is outside '", file->path(), "' (", file->size(),
                               " bytes)"));
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = file->data() + offset;
  s->nbytes_ = nbytes;
  s->owner_ = file;
  s->file_ = std::move(file);
  return s;
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes, std::shared_ptr<void> owner) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = static_cast<std::byte*>(data);
  s->nbytes_ = nbytes;
  s->owner_ = owner ? std::move(owner) : std::shared_ptr<void>(s.get(), [](void*) {});
  return s;
}

Storage::~Storage() {
  if (owner_) return;
  if (!block_cache().give(data_, rounded_size(nbytes_))) std::free(data_);
}

}  // namespace wick
