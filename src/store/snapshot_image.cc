#include "store/snapshot_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

namespace mailsift::store {
namespace {

constexpr char kMagic[8] = {'m', 's', 'n', 'a', 'p', 's', 'h', 't'};

// Native byte order and layout: an image is a cache for the machine that wrote it, never shipped.
struct Header {
  char magic[8];
  uint32_t format;     // TokenTable::kImageFormat
  uint32_t slot_size;  // bytes per slot, as written
  int64_t store_id;
  int64_t scope;
  int64_t journal_seq;
  uint64_t journal_row_hash;
  uint64_t slot_count;
  uint64_t used;
  uint32_t has_zero;
  uint32_t zero_ham;
  uint32_t zero_spam;
  uint32_t reserved;
  uint64_t checksum;  // XXH3-64 of this header (checksum field zero) followed by the slots
};
static_assert(sizeof(Header) == 88);

constexpr size_t kSlotSize = 16;

// Moves all n bytes with read(2) or write(2), retrying short transfers and EINTR.
template <typename Io, typename Buf>
bool transfer_all(Io io, int fd, Buf* buf, size_t n) {
  auto* p = reinterpret_cast<std::conditional_t<std::is_const_v<Buf>, const char*, char*>>(buf);
  while (n > 0) {
    ssize_t r = io(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool read_full(int fd, void* buf, size_t n) {
  return transfer_all(::read, fd, buf, n);
}

bool write_full(int fd, const void* buf, size_t n) {
  return transfer_all(::write, fd, buf, n);
}

uint64_t checksum(Header h, const void* slots, size_t bytes) {
  h.checksum = 0;
  XXH3_state_t* state = XXH3_createState();
  if (!state)
    return 0;
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, &h, sizeof h);
  XXH3_64bits_update(state, slots, bytes);
  uint64_t sum = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return sum;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

}  // namespace

std::string snapshot_image_path(const std::string& db_path, int64_t scope) {
  return fmt::format("{}-scope-{}.snap", db_path, scope);
}

std::optional<ImagePosition> read_snapshot_image(const std::string& path,
                                                 const SnapshotImageKey& key, TokenTable& out) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0)
    return std::nullopt;
  struct stat st {};
  Header h{};
  if (::fstat(f.fd, &st) != 0 || !read_full(f.fd, &h, sizeof h))
    return std::nullopt;
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.format != TokenTable::kImageFormat ||
      h.slot_size != kSlotSize || h.store_id != key.store_id || h.scope != key.scope ||
      h.slot_count > (uint64_t{1} << 40) / kSlotSize ||
      static_cast<uint64_t>(st.st_size) != sizeof h + h.slot_count * kSlotSize) {
    return std::nullopt;
  }
  const uint64_t want = h.checksum;
  bool ok = out.load_image(h.slot_count, h.used, h.has_zero != 0, {h.zero_ham, h.zero_spam},
                           [&](void* dst, size_t bytes) {
                             return read_full(f.fd, dst, bytes) && checksum(h, dst, bytes) == want;
                           });
  if (!ok)
    return std::nullopt;
  return ImagePosition{h.journal_seq, h.journal_row_hash};
}

bool write_snapshot_image(const std::string& path, const SnapshotImageKey& key,
                          const ImagePosition& at, const TokenTable& table) {
  static std::atomic<uint64_t> counter{0};
  const TokenTable::ImageView v = table.image();
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.format = TokenTable::kImageFormat;
  h.slot_size = kSlotSize;
  h.store_id = key.store_id;
  h.scope = key.scope;
  h.journal_seq = at.seq;
  h.journal_row_hash = at.row_hash;
  h.slot_count = v.slot_count;
  h.used = v.used;
  h.has_zero = v.has_zero ? 1 : 0;
  h.zero_ham = v.zero.ham;
  h.zero_spam = v.zero.spam;
  const size_t bytes = v.slot_count * kSlotSize;
  h.checksum = checksum(h, v.slots, bytes);
  if (h.checksum == 0)
    return false;
  // Unique per process and call: concurrent writers never share a temporary file.
  std::string tmp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter.fetch_add(1));
  bool ok;
  {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
    ok = f.fd >= 0 && write_full(f.fd, &h, sizeof h) && write_full(f.fd, v.slots, bytes);
    if (f.fd >= 0 && ::close(f.fd) != 0)
      ok = false;
    f.fd = -1;
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) == 0)
    return true;
  ::unlink(tmp.c_str());
  return false;
}

std::string seal_snapshot_image(std::string bytes) {
  if (bytes.size() < sizeof(Header))
    return bytes;
  Header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  h.checksum = checksum(h, bytes.data() + sizeof h, bytes.size() - sizeof h);
  std::memcpy(bytes.data(), &h, sizeof h);
  return bytes;
}

}  // namespace mailsift::store
