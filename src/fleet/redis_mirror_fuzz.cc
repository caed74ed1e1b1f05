// libFuzzer target: change-stream entries and hash fields (redis_mirror.h) as a mirror would
// read them from Redis. Input: entries separated by 0x1e, fields and values by 0x1f (field,
// value, field, value...). Checks the property the mirror's load depends on: applying an entry a
// second time changes nothing. Also decodes the whole input as a FuzzyRecord blob and as a token
// field. Seeds in corpus/redis_mirror/.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/redis_mirror.h"

namespace {

using mailsift::fleet::redis::ScopeMirror;
using mailsift::fleet::redis::StreamEntry;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t at = 0;;) {
    const size_t next = s.find(sep, at);
    out.push_back(
        s.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
    if (next == std::string_view::npos)
      return out;
    at = next + 1;
  }
}

struct State {
  mailsift::store::ClassTotals totals;
  size_t fields, records;
  std::vector<mailsift::store::TokenCounts> counts;
  bool operator==(const State&) const = default;
};

State state(const ScopeMirror& m, const std::vector<uint64_t>& probe) {
  State s{m.totals(), m.token_fields(), m.record_count(), {}};
  s.counts.resize(probe.size());
  m.lookup(probe, s.counts.data());
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  mailsift::store::FuzzyRecord rec;
  (void)mailsift::fleet::redis::decode_fuzzy_record(raw, rec);
  mailsift::fleet::redis::StreamId id;
  (void)mailsift::fleet::redis::StreamId::parse(raw, id);

  ScopeMirror m;
  std::vector<uint64_t> probe;
  uint64_t seq = 0;
  for (std::string_view text : split(raw, '\x1e')) {
    StreamEntry e{{1, seq++}, {}};
    const auto parts = split(text, '\x1f');
    for (size_t i = 0; i + 1 < parts.size(); i += 2)
      e.fields.emplace_back(std::string(parts[i]), std::string(parts[i + 1]));
    if (parts.size() == 2)
      (void)m.load_token_field(parts[0], parts[1]);
    // Probe the tokens the entry names (hex16 each in field "k").
    for (const auto& [f, v] : e.fields)
      if (f == "k")
        for (size_t i = 0; i + 16 <= v.size() && probe.size() < 256; i += 16) {
          uint64_t t = 0;
          if (std::from_chars(v.data() + i, v.data() + i + 16, t, 16).ec == std::errc())
            probe.push_back(t);
        }
    if (!m.apply(e))
      continue;
    const State once = state(m, probe);
    if (!m.apply(e) || !(state(m, probe) == once))
      __builtin_trap();  // an entry applied twice changed the mirror
  }
  std::map<std::string, int> shared;
  std::map<std::string, mailsift::store::FuzzyRecord> records;
  m.candidates(std::vector<uint64_t>{0, 1, 2}, shared, records);
  (void)m.memory_bytes();
  return 0;
}
