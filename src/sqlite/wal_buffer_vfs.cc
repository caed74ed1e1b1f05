// The WAL write-coalescing VFS shim (wal_buffer_vfs.h).
//
// WAL file format (https://sqlite.org/fileformat2.html#walformat): a 32-byte header (page size
// big-endian at byte 8), then frames of a 24-byte header (page number, then "database size
// after commit", non-zero only in a transaction's last frame) and one page. The shim buffers
// writes that start at a frame boundary and continue contiguously, walks the frame headers as
// they arrive, and writes the buffer out as soon as it holds a complete commit frame. Anything
// else (the WAL header, checksum rewrites of earlier frames, a write that does not continue the
// buffer) first writes the buffer out, then goes straight to the file.
#include "sqlite/wal_buffer_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mailsift::sqlite {
namespace {

constexpr int64_t kWalHeader = 32;
constexpr int64_t kFrameHeader = 24;
constexpr size_t kBufferMax = size_t{4} << 20;  // one commit of up to ~1000 4 KiB pages

struct File {
  sqlite3_file base;
  sqlite3_file* real;  // the default VFS's file, allocated right after this struct
  bool wal;
  unsigned char* buf;
  size_t len;
  int64_t start;       // file offset of buf[0]
  int64_t page_size;   // from the WAL header; 0 = not known yet
  int64_t next_frame;  // file offset of the next frame header not yet examined
  int64_t commit_end;  // file offset where a buffered commit frame ends; 0 = none
};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

File* as_file(sqlite3_file* f) {
  return reinterpret_cast<File*>(f);
}

// The unix VFS writes at most 128 KiB - 1 per call (it masks the length with 0x1ffff and
// reports a short write as SQLITE_FULL): write the buffer in 64 KiB pieces.
constexpr size_t kWriteChunk = 64 * 1024;

int flush(File* f) {
  if (f->len == 0)
    return SQLITE_OK;
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->len && rc == SQLITE_OK; done += kWriteChunk) {
    const size_t n = std::min(kWriteChunk, f->len - done);
    rc = f->real->pMethods->xWrite(f->real, f->buf + done, static_cast<int>(n),
                                   f->start + static_cast<int64_t>(done));
  }
  // On error the frames are dropped: SQLite gets the error for this transaction and ignores
  // frames after the last valid commit frame when it next reads the WAL.
  f->len = 0;
  f->commit_end = 0;
  return rc;
}

// The page size from the WAL header in the file (written by whoever started this WAL).
int64_t read_page_size(File* f) {
  unsigned char h[kWalHeader];
  if (f->real->pMethods->xRead(f->real, h, sizeof h, 0) != SQLITE_OK)
    return 0;
  const uint32_t ps = be32(h + 8);
  // 65536 is stored as 1 (file format); anything else must be a power of two in range.
  if (ps == 1)
    return 65536;
  if (ps < 512 || ps > 32768 || (ps & (ps - 1)) != 0)
    return 0;
  return ps;
}

bool at_frame_boundary(const File* f, int64_t ofst) {
  return f->page_size > 0 && ofst >= kWalHeader &&
         (ofst - kWalHeader) % (kFrameHeader + f->page_size) == 0;
}

int x_close(sqlite3_file* p) {
  File* f = as_file(p);
  int rc = flush(f);
  const int rc2 = f->real->pMethods->xClose(f->real);
  std::free(f->buf);
  f->buf = nullptr;
  return rc != SQLITE_OK ? rc : rc2;
}

int x_read(sqlite3_file* p, void* out, int amt, sqlite3_int64 ofst) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK)
    return rc;
  return f->real->pMethods->xRead(f->real, out, amt, ofst);
}

int x_write(sqlite3_file* p, const void* data, int amt, sqlite3_int64 ofst) {
  File* f = as_file(p);
  if (!f->wal || f->buf == nullptr)
    return f->real->pMethods->xWrite(f->real, data, amt, ofst);
  const bool continues = f->len > 0 && ofst == f->start + static_cast<int64_t>(f->len);
  if (!continues) {
    if (int rc = flush(f); rc != SQLITE_OK)
      return rc;
    if (ofst == 0 && amt >= 12) {  // the WAL header: remember the page size
      const uint32_t ps = be32(static_cast<const unsigned char*>(data) + 8);
      f->page_size = ps == 1 ? 65536 : ps;
    }
    if (f->page_size == 0 && ofst >= kWalHeader)
      f->page_size = read_page_size(f);
    if (!at_frame_boundary(f, ofst) || static_cast<size_t>(amt) > kBufferMax)
      return f->real->pMethods->xWrite(f->real, data, amt, ofst);
    f->start = ofst;
    f->next_frame = ofst;
  } else if (f->len + static_cast<size_t>(amt) > kBufferMax) {
    // A very large transaction: write what is buffered (no commit frame among it yet).
    if (int rc = flush(f); rc != SQLITE_OK)
      return rc;
    if (!at_frame_boundary(f, ofst) || static_cast<size_t>(amt) > kBufferMax)
      return f->real->pMethods->xWrite(f->real, data, amt, ofst);
    f->start = ofst;
    f->next_frame = ofst;
  }
  std::memcpy(f->buf + f->len, data, static_cast<size_t>(amt));
  f->len += static_cast<size_t>(amt);
  const int64_t end = f->start + static_cast<int64_t>(f->len);
  // Examine every frame header now fully buffered.
  while (f->next_frame >= f->start && f->next_frame + kFrameHeader <= end) {
    const unsigned char* h = f->buf + (f->next_frame - f->start);
    if (be32(h + 4) != 0)
      f->commit_end = f->next_frame + kFrameHeader + f->page_size;
    f->next_frame += kFrameHeader + f->page_size;
  }
  if (f->commit_end != 0 && end >= f->commit_end)
    return flush(f);
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* p, sqlite3_int64 size) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK)
    return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* p, int flags) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK)
    return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* p, sqlite3_int64* size) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK)
    return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* p, int lock) {
  return as_file(p)->real->pMethods->xLock(as_file(p)->real, lock);
}
int x_unlock(sqlite3_file* p, int lock) {
  return as_file(p)->real->pMethods->xUnlock(as_file(p)->real, lock);
}
int x_check_reserved_lock(sqlite3_file* p, int* out) {
  return as_file(p)->real->pMethods->xCheckReservedLock(as_file(p)->real, out);
}
int x_file_control(sqlite3_file* p, int op, void* arg) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK)
    return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}
int x_sector_size(sqlite3_file* p) {
  return as_file(p)->real->pMethods->xSectorSize(as_file(p)->real);
}
int x_device_characteristics(sqlite3_file* p) {
  return as_file(p)->real->pMethods->xDeviceCharacteristics(as_file(p)->real);
}
int x_shm_map(sqlite3_file* p, int page, int size, int extend, void volatile** out) {
  return as_file(p)->real->pMethods->xShmMap(as_file(p)->real, page, size, extend, out);
}
int x_shm_lock(sqlite3_file* p, int offset, int n, int flags) {
  return as_file(p)->real->pMethods->xShmLock(as_file(p)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* p) {
  as_file(p)->real->pMethods->xShmBarrier(as_file(p)->real);
}
int x_shm_unmap(sqlite3_file* p, int del) {
  return as_file(p)->real->pMethods->xShmUnmap(as_file(p)->real, del);
}
int x_fetch(sqlite3_file* p, sqlite3_int64 ofst, int amt, void** out) {
  File* f = as_file(p);
  if (f->real->pMethods->iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  if (int rc = flush(f); rc != SQLITE_OK)
    return rc;
  return f->real->pMethods->xFetch(f->real, ofst, amt, out);
}
int x_unfetch(sqlite3_file* p, sqlite3_int64 ofst, void* ptr) {
  File* f = as_file(p);
  if (f->real->pMethods->iVersion < 3)
    return SQLITE_OK;
  return f->real->pMethods->xUnfetch(f->real, ofst, ptr);
}

const sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

size_t real_offset() {
  return (sizeof(File) + 7) & ~size_t{7};
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* p, int flags, int* out_flags) {
  File* f = as_file(p);
  std::memset(f, 0, sizeof(File));
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(p) + real_offset());
  const int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite calls xClose only when pMethods is set; the real file cleaned up after itself
    // unless it set its own pMethods, which must then be closed.
    if (f->real->pMethods != nullptr)
      f->real->pMethods->xClose(f->real);
    f->base.pMethods = nullptr;
    return rc;
  }
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (f->wal)
    f->buf = static_cast<unsigned char*>(std::malloc(kBufferMax));  // nullptr: pass through
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

// Every other VFS call goes to the default VFS with its own pointer.
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_real->xDelete(g_real, name, sync_dir);
}
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) {
  return g_real->xDlOpen(g_real, name);
}
void x_dl_error(sqlite3_vfs*, int n, char* out) {
  g_real->xDlError(g_real, n, out);
}
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return g_real->xDlSym(g_real, h, sym);
}
void x_dl_close(sqlite3_vfs*, void* h) {
  g_real->xDlClose(g_real, h);
}
int x_randomness(sqlite3_vfs*, int n, char* out) {
  return g_real->xRandomness(g_real, n, out);
}
int x_sleep(sqlite3_vfs*, int us) {
  return g_real->xSleep(g_real, us);
}
int x_current_time(sqlite3_vfs*, double* out) {
  return g_real->xCurrentTime(g_real, out);
}
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError(g_real, n, out);
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}

const char* register_once() {
  g_real = sqlite3_vfs_find(nullptr);
  if (g_real == nullptr || g_real->iVersion < 2 || g_real->xCurrentTimeInt64 == nullptr)
    return nullptr;
  g_vfs = sqlite3_vfs{};
  g_vfs.iVersion = 2;
  g_vfs.szOsFile = static_cast<int>(real_offset()) + g_real->szOsFile;
  g_vfs.mxPathname = g_real->mxPathname;
  g_vfs.zName = "mailsift-walbuf";
  g_vfs.xOpen = x_open;
  g_vfs.xDelete = x_delete;
  g_vfs.xAccess = x_access;
  g_vfs.xFullPathname = x_full_pathname;
  g_vfs.xDlOpen = x_dl_open;
  g_vfs.xDlError = x_dl_error;
  g_vfs.xDlSym = x_dl_sym;
  g_vfs.xDlClose = x_dl_close;
  g_vfs.xRandomness = x_randomness;
  g_vfs.xSleep = x_sleep;
  g_vfs.xCurrentTime = x_current_time;
  g_vfs.xGetLastError = x_get_last_error;
  g_vfs.xCurrentTimeInt64 = x_current_time_int64;
  if (sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0) != SQLITE_OK)
    return nullptr;
  return g_vfs.zName;
}

}  // namespace

const char* wal_buffer_vfs_name() {
  static const char* name = register_once();
  return name;
}

}  // namespace mailsift::sqlite
