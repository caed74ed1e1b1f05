// mailsift::tenant list entries — parsing and matching block/allow-list patterns.
//
// Owns: the text syntax of one list entry and its canonical form, and the pure match of one
// entry against a sender (address, domains) and client IP. No storage, no clock: fuzzed
// (list_entry_fuzz.cc) and used by every TenantStore backend through tenant.h.
//
// Syntax (case-insensitive; surrounding spaces and <> around addresses are ignored):
//   user@example.com     kAddress    that envelope/header sender address exactly
//   @example.com         kDomain     senders whose domain is exactly example.com
//   example.com          kDomain     same
//   *.example.com        kDomainTree example.com and every subdomain (a.example.com, ...)
//   .example.com         kDomainTree same
//   192.0.2.7 / 2001:db8::1          kIp    that client IP (IPv4-mapped IPv6 counts as IPv4)
//   192.0.2.0/24 / 2001:db8::/32     kCidr  the client IP is inside that network; the canonical
//                                           form has the host bits cleared (192.0.2.9/24 ->
//                                           192.0.2.0/24)
// Domains must be LDH labels (IDNs in A-label form; "_" allowed), 1..253 bytes, no empty label,
// last label not all digits; a dot is not required (intranet names).
//
// Failure semantics: parse_list_entry returns kMalformed with a message that names the problem;
// it never throws and reads at most kMaxEntryBytes bytes.
// SECURITY: parses untrusted text from the HTTP API and CLI.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::tenant {

inline constexpr size_t kMaxEntryBytes = 512;

enum class EntryType { kAddress, kDomain, kDomainTree, kIp, kCidr };
const char* to_string(EntryType t);
std::optional<EntryType> entry_type_from_string(std::string_view s);

// A parsed, canonical pattern.
struct ListPattern {
  EntryType type = EntryType::kAddress;
  std::string value;  // canonical text: lower-case address/domain (no "*." / "@"), IP, or CIDR
  bool operator==(const ListPattern&) const = default;
};

Result<ListPattern> parse_list_entry(std::string_view text);
// The pattern as a user writes it ("*.example.com" for kDomainTree, else value); re-parses to
// the same pattern.
std::string display(const ListPattern& p);

// An IP address in 16 bytes (IPv4 as IPv4-mapped IPv6), for prefix matching.
struct IpAddr {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;
};
// Accepts IPv4, IPv6, IPv4-mapped IPv6 ("::ffff:192.0.2.1" is IPv4), and "[v6]".
std::optional<IpAddr> parse_ip(std::string_view text);

// The sender facts a pattern is matched against. `domains` are every sender domain the caller
// wants checked (e.g. the envelope MAIL FROM domain and the header From domain), lower-case or
// not; the address's own domain is included automatically.
struct SenderFacts {
  std::string address;               // "" or "<>" = null sender (matches no address pattern)
  std::vector<std::string> domains;  // extra sender domains
  std::string client_ip;             // "" = unknown (matches no IP pattern)
};

// What matched: "" for no match, else a short text naming the input that matched
// ("address bob@x.test", "domain mail.x.test", "ip 192.0.2.7").
std::string match_pattern(const ListPattern& pattern, const SenderFacts& facts);

// Lower-cases and strips "<>" / spaces; "" for the null sender.
std::string normalise_address(std::string_view raw);

}  // namespace mailsift::tenant
