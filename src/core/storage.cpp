#include "wick/core/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "wick/core/error.h"

namespace wick {

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
  constexpr size_t kAlign = 64;
  if (nbytes > (size_t(1) << 62))
    throw Error(detail::concat("Storage::allocate: ", nbytes, " bytes is more than wick allows"));
  size_t rounded = (nbytes + kAlign - 1) / kAlign * kAlign;
  if (rounded == 0) rounded = kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
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
  if (!owner_) std::free(data_);
}

}  // namespace wick
