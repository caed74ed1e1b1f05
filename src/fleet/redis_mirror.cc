// ScopeMirror: see redis_mirror.h.
#include "fleet/redis_mirror.h"

#include <algorithm>
#include <charconv>

namespace mailsift::fleet::redis {
namespace {

using store::Class;
using store::FuzzyRecord;
using store::TokenCounts;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool u64(uint64_t& v) {
    if (d_.size() - pos_ < 8)
      return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t{static_cast<unsigned char>(d_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return true;
  }
  bool str(std::string& s) {
    uint64_t n;
    if (!u64(n) || d_.size() - pos_ < n)
      return false;
    s.assign(d_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool byte(char& c) {
    if (pos_ >= d_.size())
      return false;
    c = d_[pos_++];
    return true;
  }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

bool parse_u64(std::string_view s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_hex16(std::string_view s, uint64_t& v) {
  if (s.size() != 16)
    return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + 16, v, 16);
  return ec == std::errc() && p == s.data() + 16;
}

uint32_t clamp32(uint64_t v) {
  return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX));
}

std::vector<uint64_t> sorted_unique(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

std::string encode_fuzzy_record(const FuzzyRecord& r) {
  std::string out;
  out.push_back(1);
  out.push_back(r.cls == Class::kHam ? 'h' : 's');
  put_u64(out, static_cast<uint64_t>(r.added_unix));
  put_str(out, r.message_digest);
  put_str(out, r.reporter);
  put_u64(out, r.bands.size());
  for (uint64_t b : r.bands)
    put_u64(out, b);
  put_u64(out, r.signature.size());
  for (uint32_t s : r.signature)
    put_u64(out, s);
  return out;
}

bool decode_fuzzy_record(std::string_view blob, FuzzyRecord& r) {
  Reader rd(blob);
  char version, cls;
  uint64_t added, n;
  if (!rd.byte(version) || version != 1 || !rd.byte(cls) || !rd.u64(added) ||
      !rd.str(r.message_digest) || !rd.str(r.reporter) || !rd.u64(n) || n > blob.size())
    return false;
  r.cls = cls == 'h' ? Class::kHam : Class::kSpam;
  r.added_unix = static_cast<int64_t>(added);
  r.bands.resize(n);
  for (auto& b : r.bands)
    if (!rd.u64(b))
      return false;
  if (!rd.u64(n) || n > blob.size())
    return false;
  r.signature.resize(n);
  for (auto& s : r.signature) {
    uint64_t v;
    if (!rd.u64(v))
      return false;
    s = static_cast<uint32_t>(v);
  }
  return true;
}

bool StreamId::parse(std::string_view text, StreamId& out) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos)
    return false;
  return parse_u64(text.substr(0, dash), out.ms) && parse_u64(text.substr(dash + 1), out.seq);
}

void ScopeMirror::set_total(char cls, uint64_t n) {
  (cls == 'h' ? totals_.ham_messages : totals_.spam_messages) = n;
}

bool ScopeMirror::load_token_field(std::string_view field, std::string_view value) {
  uint64_t token, n;
  if (field.size() != 17 || (field[16] != 'h' && field[16] != 's') ||
      !parse_hex16(field.substr(0, 16), token) || !parse_u64(value, n))
    return false;
  TokenCounts c = tokens_.get(token);
  uint32_t& slot = field[16] == 'h' ? c.ham : c.spam;
  const bool was = slot != 0;
  slot = clamp32(n);
  token_fields_ += (slot != 0) - was;
  tokens_.set(token, c);
  return true;
}

bool ScopeMirror::load_record(const std::string& id, std::string_view blob) {
  FuzzyRecord rec;
  if (!decode_fuzzy_record(blob, rec))
    return false;
  put_record(id, std::move(rec));
  return true;
}

void ScopeMirror::put_record(const std::string& id, FuzzyRecord rec) {
  remove_record(id);
  for (uint64_t b : sorted_unique(rec.bands))
    bands_[b].push_back(id);
  record_bytes_ += id.size() + rec.message_digest.size() + rec.reporter.size() +
                   rec.bands.size() * 8 * 3 + rec.signature.size() * 4 + 160;
  records_.emplace(id, std::move(rec));
}

void ScopeMirror::remove_record(const std::string& id) {
  auto it = records_.find(id);
  if (it == records_.end())
    return;
  for (uint64_t b : sorted_unique(it->second.bands)) {
    auto band = bands_.find(b);
    if (band == bands_.end())
      continue;
    std::erase(band->second, id);
    if (band->second.empty())
      bands_.erase(band);
  }
  const FuzzyRecord& rec = it->second;
  record_bytes_ -=
      std::min(record_bytes_, id.size() + rec.message_digest.size() + rec.reporter.size() +
                                  rec.bands.size() * 8 * 3 + rec.signature.size() * 4 + 160);
  records_.erase(it);
}

bool ScopeMirror::apply(const StreamEntry& e) {
  auto field = [&](std::string_view name) -> const std::string* {
    for (const auto& [f, v] : e.fields)
      if (f == name)
        return &v;
    return nullptr;
  };
  const std::string* op = field("o");
  if (!op)
    return false;
  if (*op == "i")
    return true;
  if (*op == "t") {
    // Token fields of one class set to their new counts, and that class's new total.
    const std::string *c = field("c"), *k = field("k"), *v = field("v"), *n = field("n");
    if (!c || !k || !v || !n || c->size() != 1 || (k->size() % 16) != 0)
      return false;
    uint64_t total;
    if (!parse_u64(*n, total))
      return false;
    std::string_view vals = *v;
    std::string f(17, (*c)[0]);
    for (size_t i = 0; i < k->size(); i += 16) {
      const size_t comma = vals.find(',');
      const std::string_view one = vals.substr(0, comma);
      vals = comma == std::string_view::npos ? std::string_view() : vals.substr(comma + 1);
      f.replace(0, 16, *k, i, 16);
      if (!load_token_field(f, one))
        return false;
    }
    set_total((*c)[0], total);
    return true;
  }
  if (*op == "a") {
    const std::string *id = field("i"), *blob = field("r");
    return id && blob && load_record(*id, *blob);
  }
  if (*op == "r") {
    const std::string* id = field("i");
    if (!id)
      return false;
    remove_record(*id);
    return true;
  }
  return false;
}

void ScopeMirror::candidates(std::span<const uint64_t> bands, std::map<std::string, int>& shared,
                             std::map<std::string, FuzzyRecord>& records) const {
  for (uint64_t b : bands) {
    auto it = bands_.find(b);
    if (it == bands_.end())
      continue;
    for (const std::string& id : it->second)
      ++shared[id];
  }
  for (const auto& [id, n] : shared)
    if (auto it = records_.find(id); it != records_.end())
      records.emplace(id, it->second);
}

size_t ScopeMirror::memory_bytes() const {
  return tokens_.memory_bytes() + record_bytes_ + bands_.size() * 64;
}

}  // namespace mailsift::fleet::redis
