// mailsift::fleet::redis — the node-local mirror of a large Redis scope (redis.mirror_scopes,
// docs/fleet.md "Local mirror of large scopes"), and the FuzzyRecord blob encoding it shares with
// redis_store.cc.
//
// Owns: ScopeMirror, one scope's token counts (store::TokenTable), class totals, fuzzy records
// and their band index, built from the scope's hashes and kept current by applying the entries
// of its change stream `chg:{S}` (written by the store's Lua scripts, atomically with each
// write). Entries carry ABSOLUTE values (a token field's new count, a class's new total, a whole
// record, a removed record id), so applying an entry twice, or applying it to a state that
// already contains it, changes nothing: that is what makes "note the stream ID, scan the hashes
// (not atomic), replay from the ID" exact (redis_store.cc, load_mirror).
//
// Failure semantics: apply() / load_*() return false on a malformed entry or field (the caller
// drops the mirror and reloads); nothing throws except std::bad_alloc.
// Thread-safety: none; the store guards each mirror with a shared_mutex.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/store.h"
#include "store/token_table.h"

namespace mailsift::fleet::redis {

// Blob of `fz:rec:{S}` values: version byte 1, class byte, added_unix, digest, reporter, bands,
// signature (little-endian u64s, strings length-prefixed).
std::string encode_fuzzy_record(const store::FuzzyRecord& r);
bool decode_fuzzy_record(std::string_view blob, store::FuzzyRecord& r);

// A stream entry ID "<ms>-<seq>", ordered numerically (string order is wrong: "9-0" > "10-0").
struct StreamId {
  uint64_t ms = 0, seq = 0;
  static bool parse(std::string_view text, StreamId& out);
  std::string str() const { return std::to_string(ms) + "-" + std::to_string(seq); }
  auto operator<=>(const StreamId&) const = default;
};

struct StreamEntry {
  StreamId id;
  std::vector<std::pair<std::string, std::string>> fields;
};

class ScopeMirror {
 public:
  // Loading from the hashes: `tot` ("h"/"s" -> n), one `tok` field ("<hex16>h|s" -> n), one
  // `fz:rec` field (record id -> blob).
  void set_total(char cls, uint64_t n);
  bool load_token_field(std::string_view field, std::string_view value);
  bool load_record(const std::string& id, std::string_view blob);

  // One change-stream entry (op "t" token counts, "a" record put, "r" record removed, "i" the
  // marker a load writes). Idempotent. false: malformed or unknown op.
  bool apply(const StreamEntry& e);

  store::ClassTotals totals() const { return totals_; }
  void lookup(std::span<const uint64_t> tokens, store::TokenCounts* out) const {
    tokens_.lookup_many(tokens, out);
  }
  // For each band of `bands` (sorted, unique), every record id having it counts one shared band
  // (as the SMEMBERS path does); the matching records are copied into `records`.
  void candidates(std::span<const uint64_t> bands, std::map<std::string, int>& shared,
                  std::map<std::string, store::FuzzyRecord>& records) const;

  size_t token_fields() const { return token_fields_; }
  size_t record_count() const { return records_.size(); }
  // Approximate heap use: the token table's slots plus records and band index.
  size_t memory_bytes() const;

 private:
  void put_record(const std::string& id, store::FuzzyRecord rec);
  void remove_record(const std::string& id);

  store::TokenTable tokens_;
  size_t token_fields_ = 0;  // non-zero (token, class) fields, as HLEN of `tok` would say
  store::ClassTotals totals_;
  std::unordered_map<std::string, store::FuzzyRecord> records_;
  std::unordered_map<uint64_t, std::vector<std::string>> bands_;  // band -> record ids
  size_t record_bytes_ = 0;
};

}  // namespace mailsift::fleet::redis
