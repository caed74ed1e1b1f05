#include "dns/wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace mailsift::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr int kMaxPointerJumps = 64;  // more than any legal name needs; stops compression loops
constexpr size_t kMaxNameOctets = 255;
constexpr int kMaxCnameHops = 16;
constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kClassIn = 1;

uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Reads the (possibly compressed) name at `pos`. Returns the name in text form (lower case, no
// trailing dot, "\DDD" for octets that are not printable or would be ambiguous) and sets `next`
// to the octet after the name as it appears at `pos`.
std::optional<std::string> read_name(const uint8_t* buf, size_t len, size_t pos, size_t* next) {
  std::string out;
  size_t wire_octets = 0;
  int jumps = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len)
      return std::nullopt;
    uint8_t l = buf[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= len || ++jumps > kMaxPointerJumps)
        return std::nullopt;
      if (!jumped)
        *next = pos + 2;
      jumped = true;
      pos = ((l & 0x3f) << 8) | buf[pos + 1];
      continue;
    }
    if ((l & 0xc0) != 0)
      return std::nullopt;  // 0x40/0x80: extended label types, obsolete and never valid here
    if (l == 0) {
      if (!jumped)
        *next = pos + 1;
      break;
    }
    wire_octets += l + 1;
    if (wire_octets + 1 > kMaxNameOctets || pos + 1 + l > len)
      return std::nullopt;
    if (!out.empty())
      out += '.';
    for (size_t i = pos + 1; i <= pos + l; ++i) {
      unsigned char c = buf[i];
      if (c >= 'A' && c <= 'Z') {
        out += static_cast<char>(c - 'A' + 'a');
      } else if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
        out += static_cast<char>(c);
      } else {
        char esc[5] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                       static_cast<char>('0' + c % 10), 0};
        out += esc;
      }
    }
    pos += 1 + l;
  }
  return out;
}

struct Rr {
  std::string owner;
  uint16_t type;
  uint16_t rclass;
  uint32_t ttl;
  size_t rdata;  // offset into the packet
  uint16_t rdlen;
};

// Parses `count` RRs starting at *pos; false on any structural error.
bool read_rrs(const uint8_t* buf, size_t len, size_t* pos, int count, std::vector<Rr>* out) {
  for (int i = 0; i < count; ++i) {
    size_t next = 0;
    auto owner = read_name(buf, len, *pos, &next);
    if (!owner || next + 10 > len)
      return false;
    Rr rr{std::move(*owner),     get16(buf + next), get16(buf + next + 2),
          get32(buf + next + 4), next + 10,         get16(buf + next + 8)};
    if (rr.rdata + rr.rdlen > len)
      return false;
    // RFC 2181 §8: a TTL with the top bit set is treated as zero.
    if (rr.ttl & 0x80000000u)
      rr.ttl = 0;
    *pos = rr.rdata + rr.rdlen;
    if (out)
      out->push_back(std::move(rr));
  }
  return true;
}

// A name inside RDATA must end inside the RDATA (compression pointers may point anywhere).
std::optional<std::string> rdata_name(const uint8_t* buf, size_t len, const Rr& rr, size_t at) {
  size_t next = 0;
  auto name = read_name(buf, len, at, &next);
  if (!name || next > rr.rdata + rr.rdlen)
    return std::nullopt;
  return name;
}

Answer formerr() {
  Answer a;
  a.rcode = Rcode::kFormErr;
  return a;
}

}  // namespace

std::string normalize_name(std::string_view name) {
  while (!name.empty() && name.back() == '.')
    name.remove_suffix(1);
  std::string s(name);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

ParsedResponse parse_response(const uint8_t* buf, size_t len, const Query& query) {
  ParsedResponse r;
  if (buf == nullptr || len < kHeaderSize) {
    r.answer = formerr();
    return r;
  }
  const uint16_t flags = get16(buf + 2);
  if (!(flags & 0x8000)) {  // QR clear: not a response
    r.answer = formerr();
    return r;
  }
  switch (flags & 0x000f) {
    case 0:
      r.answer.rcode = Rcode::kNoError;
      break;
    case 1:
      r.answer.rcode = Rcode::kFormErr;
      return r;
    case 2:
      r.answer.rcode = Rcode::kServFail;
      return r;
    case 3:
      r.answer.rcode = Rcode::kNxDomain;
      break;
    case 5:
      r.answer.rcode = Rcode::kRefused;
      return r;
    default:  // NOTIMP and the rest: the server could not answer; as SERVFAIL
      r.answer.rcode = Rcode::kServFail;
      return r;
  }
  const int qdcount = get16(buf + 4), ancount = get16(buf + 6), nscount = get16(buf + 8);
  size_t pos = kHeaderSize;
  for (int i = 0; i < qdcount; ++i) {
    size_t next = 0;
    if (!read_name(buf, len, pos, &next) || next + 4 > len) {
      r.answer = formerr();
      return r;
    }
    pos = next + 4;
  }
  std::vector<Rr> answers, authority;
  if (!read_rrs(buf, len, &pos, ancount, &answers) ||
      !read_rrs(buf, len, &pos, nscount, &authority)) {
    r.answer = formerr();
    return r;
  }

  // Follow the CNAME chain from the query name; records of the asked type owned by any name on the
  // chain are the answer (a resolver sends the chain and the final records together).
  const auto qtype = static_cast<uint16_t>(query.type);
  std::vector<std::string> chain{normalize_name(query.name)};
  uint32_t ttl = UINT32_MAX;
  if (query.type != RType::kCNAME) {
    for (int hop = 0; hop < kMaxCnameHops; ++hop) {
      const Rr* cname = nullptr;
      for (const auto& rr : answers)
        if (rr.type == static_cast<uint16_t>(RType::kCNAME) && rr.rclass == kClassIn &&
            rr.owner == chain.back())
          cname = &rr;
      if (!cname)
        break;
      auto target = rdata_name(buf, len, *cname, cname->rdata);
      if (!target) {
        r.answer = formerr();
        return r;
      }
      if (std::find(chain.begin(), chain.end(), *target) != chain.end())
        break;  // a CNAME loop: what was collected so far is all there is
      ttl = std::min(ttl, cname->ttl);
      chain.push_back(std::move(*target));
    }
  }
  bool any = false;
  for (const auto& rr : answers) {
    if (rr.type != qtype || rr.rclass != kClassIn ||
        std::find(chain.begin(), chain.end(), rr.owner) == chain.end())
      continue;
    const uint8_t* rd = buf + rr.rdata;
    switch (query.type) {
      case RType::kA:
      case RType::kAAAA: {
        const bool v4 = query.type == RType::kA;
        if (rr.rdlen != (v4 ? 4 : 16)) {
          r.answer = formerr();
          return r;
        }
        char text[INET6_ADDRSTRLEN];
        inet_ntop(v4 ? AF_INET : AF_INET6, rd, text, sizeof text);
        r.answer.records.emplace_back(text);
        break;
      }
      case RType::kTXT: {
        // One record = one or more <length><octets> character-strings, joined without separator.
        std::string joined;
        size_t p = 0;
        while (p < rr.rdlen) {
          size_t l = rd[p];
          if (p + 1 + l > rr.rdlen) {
            r.answer = formerr();
            return r;
          }
          joined.append(reinterpret_cast<const char*>(rd + p + 1), l);
          p += 1 + l;
        }
        r.answer.records.push_back(std::move(joined));
        break;
      }
      case RType::kMX: {
        if (rr.rdlen < 3) {
          r.answer = formerr();
          return r;
        }
        auto host = rdata_name(buf, len, rr, rr.rdata + 2);
        if (!host) {
          r.answer = formerr();
          return r;
        }
        r.answer.mx.push_back({get16(rd), std::move(*host)});
        break;
      }
      case RType::kPTR:
      case RType::kCNAME:
      case RType::kNS: {
        auto name = rdata_name(buf, len, rr, rr.rdata);
        if (!name) {
          r.answer = formerr();
          return r;
        }
        r.answer.records.push_back(std::move(*name));
        break;
      }
    }
    ttl = std::min(ttl, rr.ttl);
    any = true;
  }
  if (any) {
    r.answer.ttl = ttl;
    if (r.answer.rcode == Rcode::kNxDomain) {
      // NXDOMAIN for the end of a CNAME chain with records of the asked type cannot happen; if a
      // server says so anyway, the records it sent are the more useful half of the contradiction.
      r.answer.rcode = Rcode::kNoError;
    }
    return r;
  }
  // Negative answer (NXDOMAIN, or NOERROR without records: NODATA): RFC 2308 negative TTL.
  for (const auto& rr : authority) {
    if (rr.type != kTypeSoa)
      continue;
    // SOA RDATA: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM
    size_t next = 0;
    if (!read_name(buf, len, rr.rdata, &next) || !read_name(buf, len, next, &next) ||
        next + 20 > rr.rdata + rr.rdlen)
      break;
    r.negative_ttl = std::min(rr.ttl, get32(buf + next + 16));
    r.has_soa = true;
    break;
  }
  return r;
}

}  // namespace mailsift::dns
