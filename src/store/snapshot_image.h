// mailsift::store snapshot images — a start-up cache of one scope's TokenTable (internal).
//
// Owns: the file format of `<db>-scope-<id>.snap`, written next to a SQLite store after a
// large scope was loaded from SQL, and read back on the next start instead of re-reading every
// token row (a 400k-token scope takes ~200 ms of SQL stepping and hashing; the image loads in a
// few). An image records the store's identity (a random id kept in the store's meta table), the
// scope id and the `changes` journal position it reflects; the store replays the journal past
// that position, so an image may be stale but never wrong. Images are a cache: SQLite stays the
// only durable copy, and deleting them is always safe.
//
// Failure semantics: reading never fails loudly: a missing, short, foreign, corrupt (XXH3
// checksum) or otherwise unusable file yields std::nullopt and the caller loads from SQL.
// Writing goes to a unique temporary file renamed into place (readers see the old image or the
// new one, never a torn one); it returns false on any I/O error and leaves no temporary behind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/store.h"
#include "store/token_table.h"

namespace mailsift::store {

// Scopes smaller than this load from SQL in a few milliseconds; they get no image file.
inline constexpr size_t kSnapshotImageMinTokens = 50000;

struct SnapshotImageKey {
  int64_t store_id = 0;  // meta 'store_id' of the database the image was taken from
  int64_t scope = 0;     // scopes.id
};

std::string snapshot_image_path(const std::string& db_path, int64_t scope);

// Where in the `changes` journal an image stands: every change up to and including `seq`, and
// a hash of that journal row, so an image from another timeline of the same database (restored
// from a backup, then written past the same seq) is recognised and ignored.
struct ImagePosition {
  int64_t seq = 0;
  uint64_t row_hash = 0;  // 0 when seq is 0 (empty journal)
  bool operator==(const ImagePosition&) const = default;
};

// On success `out` holds the image and the result is its position. Class totals are not
// imaged: they are one SQL row.
std::optional<ImagePosition> read_snapshot_image(const std::string& path,
                                                 const SnapshotImageKey& key, TokenTable& out);

bool write_snapshot_image(const std::string& path, const SnapshotImageKey& key,
                          const ImagePosition& at, const TokenTable& table);

// Fuzzing and tests: `bytes` with its checksum field recomputed (unchanged when shorter than a
// header), so a mutated image reaches the checks behind the checksum.
std::string seal_snapshot_image(std::string bytes);

}  // namespace mailsift::store
