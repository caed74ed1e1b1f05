// mailsift::doctor clusters — the provider's mail clusters as the domain doctor knows them.
//
// Owns: the clusters file (TOML, named by doctor.clusters_file; format in docs/doctor.md):
// per cluster its name, MX hosts, outbound IPs/networks (IPv4/IPv6 CIDR), the SPF include and
// DMARC report address to recommend, PTR names of the outbound IPs, and DKIM selectors with the
// PEM private key each signs with. parse_clusters() reads the text only (fuzzed);
// load_clusters_file() also loads every key file (paths relative to the clusters file).
//
// Failure semantics: nothing throws. A file that cannot be read, bad TOML, a missing or wrongly
// typed field, a bad address/network, a duplicate cluster name or an unreadable / non-PEM /
// unsupported key file is a kConfig error naming the cluster and field: the doctor refuses to
// run on a half-understood configuration rather than report wrong findings.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dkim/dkim.h"

namespace mailsift::doctor {

// One outbound entry: a single address ("192.0.2.10", prefix 32/128) or a network.
struct Network {
  std::string text;   // as canonicalised: "192.0.2.0/28", "2001:db8::10"
  std::string first;  // first address of the network (the address itself for a single IP)
  std::string last;   // last address
  int prefix = 32;
  bool v6 = false;
  bool single() const { return prefix == (v6 ? 128 : 32); }
};
// "192.0.2.0/28", "2001:db8::/64", "192.0.2.10". Host bits set in a network are an error.
Result<Network> parse_network(std::string_view text);

struct Selector {
  std::string name;      // "c1" -> c1._domainkey.<domain>
  std::string key_file;  // PEM private key (as written in the file; resolved by the loader)
  std::optional<dkim::SigningKey> key;  // loaded by load_clusters_file()
};

struct Cluster {
  std::string name;
  std::vector<std::string> mx;    // host names, lower case, no trailing dot, in preference order
  std::vector<Network> outbound;  // sending IPs and networks
  std::string spf_include;        // e.g. "_spf.cluster1.example.net"; "" = recommend ip4:/ip6:
  std::string dmarc_rua;          // e.g. "mailto:dmarc@example.net"; "" = no rua in advice
  std::map<std::string, std::string> ptr;  // outbound IP -> the PTR name it should have
  std::vector<Selector> dkim;
};

struct Clusters {
  std::vector<Cluster> clusters;
  const Cluster* find(std::string_view name) const;
};

// Parses the TOML text; key files are not read (Selector::key stays empty).
Result<Clusters> parse_clusters(std::string_view toml_text);
// Reads and parses `path`, then loads every selector's key (relative paths from the file's dir).
Result<Clusters> load_clusters_file(const std::string& path);

}  // namespace mailsift::doctor
