// mailsift::spf record layer — the parts of RFC 7208 that need no DNS: record selection, the term
// grammar (§4.6, §5, §6), macro syntax and expansion (§7) and address/CIDR matching. check.cc
// evaluates what this layer parses; the fuzzer drives it directly.
//
// Owns: Address (client and mechanism addresses, IPv4-mapped IPv6 folded to IPv4 as §5 requires),
// Term/Record (a parsed "v=spf1" record), MacroContext and expand().
//
// Failure semantics: every function is total on arbitrary bytes. A syntax error anywhere in a
// record (including modifiers and macros in unused terms, §4.6) is an Error whose message is the
// permerror "problem"; nothing throws.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mailsift::spf {

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4
};

// Parses a textual IPv4 or IPv6 address; "::ffff:1.2.3.4" becomes the IPv4 address 1.2.3.4.
std::optional<Address> parse_address(std::string_view text);
// Parses without folding IPv4-mapped addresses (ip6: networks are matched as written).
std::optional<Address> parse_address_exact(std::string_view text, bool v6);
// True when `a` lies in `net`/`prefix` (same family only).
bool in_network(const Address& a, const Address& net, int prefix);
// "192.0.2.1" / RFC 5952 text ("2001:db8::1").
std::string to_text(const Address& a);

enum class Qualifier : char { kPass = '+', kFail = '-', kSoftFail = '~', kNeutral = '?' };

enum class MechanismKind { kAll, kInclude, kA, kMx, kPtr, kIp4, kIp6, kExists };

struct Mechanism {
  Qualifier qualifier = Qualifier::kPass;
  MechanismKind kind = MechanismKind::kAll;
  std::string domain_spec;  // unexpanded; empty = the current domain (a, mx, ptr)
  Address network;          // ip4 / ip6
  int cidr4 = 32;           // a, mx, ip4
  int cidr6 = 128;          // a, mx, ip6
  std::string text;         // the term as written, for Outcome::mechanism
  bool uses_dns() const {
    return kind == MechanismKind::kInclude || kind == MechanismKind::kA ||
           kind == MechanismKind::kMx || kind == MechanismKind::kPtr ||
           kind == MechanismKind::kExists;
  }
};

struct Record {
  std::vector<Mechanism> mechanisms;
  std::optional<std::string> redirect;  // domain-spec
  std::optional<std::string> exp;       // domain-spec
};

// §4.5: "v=spf1" (any case) followed by a space or the end of the record.
bool is_spf_record(std::string_view txt);

// Parses a whole record (starting with "v=spf1"). Any syntax error → Error (permerror).
Result<Record> parse_record(std::string_view txt);

// §7.1 domain-spec syntax: a valid macro-string that ends in "." toplabel ["."] or a macro.
// `explanation_letters` allows c, r and t (only legal in explanation text, §7.3).
Status validate_domain_spec(std::string_view spec, bool explanation_letters = false);

// The values macros expand to (§7.3). `p` is computed on demand (it costs DNS lookups).
struct MacroContext {
  std::string sender;                          // s
  std::string local_part;                      // l
  std::string sender_domain;                   // o
  std::string domain;                          // d (the current domain)
  Address client;                              // i, c, v
  std::string helo;                            // h
  std::string receiver;                        // r ("unknown" if empty)
  int64_t now = 0;                             // t
  std::function<std::string()> validated_ptr;  // p; nullptr → "unknown"
};

// Expands a macro-string. `explanation`: the text of an exp= TXT record (c, r, t allowed, spaces
// allowed, no trailing-dot removal); otherwise a domain-spec whose result is a DNS name: the
// trailing dot is removed and the name is cut from the left to 253 octets (§7.3).
Result<std::string> expand(std::string_view spec, const MacroContext& ctx, bool explanation);

// True when the name can be sent as a DNS query: no empty label (a trailing dot is fine), no
// label over 63 octets, at most 253 octets. Names that fail are treated as non-existent (§4.3).
bool is_queryable_name(std::string_view name);

}  // namespace mailsift::spf
