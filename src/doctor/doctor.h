// mailsift::doctor — the domain doctor: is a customer domain's live DNS right for the provider
// cluster it is hosted on?
//
// Owns: choosing the cluster (given, or the one the domain's MX points at), the checks (MX, SPF
// evaluated with src/spf's check_host for every outbound IP, DKIM key published and equal to the
// signing key, DMARC present and sane with src/dmarc's parser and libpsl's organisational domain,
// iprev of every outbound IP with src/dnsbl), each as a Finding with the exact record(s) to
// publish, and rendering the report as text or JSON. All DNS goes through dns::Resolver.
//
// Failure semantics: diagnose() never throws and never fails as a call: DNS trouble is a finding.
// A temporary DNS failure (SERVFAIL, REFUSED, timeout, unparsable answer) on a lookup that decides
// a check gives Status::kTempError ("could not check (temporary)"), never pass. An unknown
// --cluster name is a finding (fail), as is a domain whose MX matches no cluster.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "dns/cares_resolver.h"
#include "dns/resolver.h"
#include "doctor/clusters.h"

namespace mailsift::doctor {

// Ordered by severity: the overall status is the highest.
enum class Status { kPass, kWarn, kTempError, kFail };
// "pass", "warn", "temperror", "fail".
const char* to_string(Status s);

struct Finding {
  std::string check;  // "cluster", "mx", "spf", "dkim:<selector>", "dmarc", "ptr:<ip>"
  Status status = Status::kPass;
  std::string message;               // one line
  std::vector<std::string> publish;  // warn/fail: zone-file lines to publish
  std::vector<std::string> remove;   // warn/fail: zone-file lines to remove (stale MX, extra SPF)
};

struct Report {
  std::string domain;
  std::string cluster;                // "" when it could not be determined
  std::string cluster_source;         // "option" (--cluster), "mx" or ""
  std::vector<std::string> mx_found;  // "10 mx1.example.net", as published
  int spf_lookups = -1;  // DNS-querying terms counted by check_host (max over IPs); -1 unknown
  int spf_void_lookups = -1;
  std::vector<Finding> findings;
  Status status = Status::kPass;  // worst finding
};

struct Options {
  std::string cluster;  // --cluster; "" = from MX
};

Report diagnose(dns::Resolver& resolver, const Clusters& clusters, std::string_view domain,
                const Options& options = {});

// Human text (several lines, ends with "status: ...") and one JSON object (no newline).
// The doctor's resolver settings: dns.* with doctor.dns_servers, when set, replacing the servers.
Result<dns::CaresOptions> resolver_options(const Config& config);

// What the CLI's live checks (`mailsift doctor`, `mailsift bounce --live`) run on: the clusters
// file (doctor.clusters_file) and a c-ares resolver with resolver_options(). With
// clusters_required, an unset clusters file is a config error; otherwise the set is empty.
struct LiveSetup {
  Clusters clusters;
  std::unique_ptr<dns::Resolver> resolver;
};
Result<LiveSetup> open_live(const Config& config, bool clusters_required);

std::string render_text(const Report& r);
std::string render_json(const Report& r);

// The TXT record text of `value` in zone-file syntax: quoted, split into 255-octet strings.
std::string txt_rdata(std::string_view value);

}  // namespace mailsift::doctor
