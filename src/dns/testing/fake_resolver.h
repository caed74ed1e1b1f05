// FakeResolver: an in-memory zone for hermetic tests of DNS-using checks. Names are matched
// case-insensitively without trailing dot; an unknown name answers NXDOMAIN, a known name without
// records of the asked type answers NODATA. set_failure() makes a name answer SERVFAIL/TIMEOUT/...
// `lookups()` counts queries so tests can check lookup limits.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dns/resolver.h"

namespace mailsift::dns::testing {

class FakeResolver : public Resolver {
 public:
  void add(std::string name, RType type, std::string value, uint32_t ttl = 300) {
    auto& e = zone_[norm(name)];
    if (type == RType::kMX) {
      // "10 mx.example.com"
      auto sp = value.find(' ');
      MxRecord mx{static_cast<uint16_t>(std::stoi(value.substr(0, sp))),
                  norm(value.substr(sp + 1))};
      e.mx.push_back(std::move(mx));
    } else {
      e.records[type].push_back(std::move(value));
    }
    e.ttl = ttl;
  }
  void add_name(std::string name) { zone_[norm(name)]; }  // exists, no records (NODATA)
  void set_failure(std::string name, Rcode rcode) { failures_[norm(name)] = rcode; }
  size_t lookups() const { return lookups_; }

  std::vector<Answer> resolve_many(std::span<const Query> queries) override {
    std::vector<Answer> out;
    out.reserve(queries.size());
    for (const auto& q : queries)
      out.push_back(one(q));
    return out;
  }

 private:
  struct Entry {
    std::map<RType, std::vector<std::string>> records;
    std::vector<MxRecord> mx;
    uint32_t ttl = 300;
  };
  static std::string norm(std::string s) {
    while (!s.empty() && s.back() == '.')
      s.pop_back();
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }
  Answer one(const Query& q) {
    ++lookups_;
    Answer a;
    auto name = norm(q.name);
    if (auto f = failures_.find(name); f != failures_.end()) {
      a.rcode = f->second;
      return a;
    }
    auto it = zone_.find(name);
    if (it == zone_.end()) {
      a.rcode = Rcode::kNxDomain;
      return a;
    }
    a.ttl = it->second.ttl;
    if (q.type == RType::kMX) {
      a.mx = it->second.mx;
    } else if (auto r = it->second.records.find(q.type); r != it->second.records.end()) {
      a.records = r->second;
    }
    return a;
  }
  std::map<std::string, Entry> zone_;
  std::map<std::string, Rcode> failures_;
  size_t lookups_ = 0;
};

}  // namespace mailsift::dns::testing
