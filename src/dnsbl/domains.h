// mailsift::dnsbl domain helpers — from URLs found in mail to the names a blocklist is asked about.
//
// Owns: URL host extraction (a tolerant parser for what mail bodies contain, not a full WHATWG URL
// parser), host-name validation, and the registrable domain from the Public Suffix List (libpsl;
// the system list in /usr/share/publicsuffix when present, the library's built-in copy otherwise).
//
// Failure semantics: pure functions that never throw; "" means "nothing usable" (no host, a host
// that is not an ASCII DNS name or IP literal, a public suffix itself). Internationalised hosts
// must already be in A-label (xn--) form: mailsift does not link an IDNA library, so U-label hosts
// are reported as unusable rather than queried wrongly.
#pragma once

#include <string>
#include <string_view>

namespace mailsift::dnsbl {

// "https://user@WWW.Example.COM.:8080/p?q" -> "www.example.com"; also "//host/p", "host/p",
// "mailto:a@host", "[2001:db8::1]" (IPv6 literals are returned without brackets). Percent-encoded
// host octets are decoded; the result is lower case without trailing dots. "" if there is none or
// it is neither a valid ASCII host name nor an IP literal.
std::string url_host(std::string_view url);

// Lower case, trailing dots removed, then validated: labels of [a-z0-9_-], 1..63 octets, at most
// 253 octets, at least two labels. "" when not a host name (IP literals are not host names).
std::string normalize_domain(std::string_view domain);

// The registrable domain (public suffix plus one label): "a.b.example.co.uk" -> "example.co.uk".
// "" for a public suffix itself ("co.uk"), an IP literal or an invalid name.
std::string registrable_domain(std::string_view host);

// True for a textual IPv4 or IPv6 address.
bool is_ip_literal(std::string_view s);

}  // namespace mailsift::dnsbl
