#include "doctor/doctor.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/ascii.h"
#include "dkim/internal.h"
#include "dmarc/dmarc.h"
#include "dnsbl/domains.h"
#include "dnsbl/iprev.h"
#include "spf/spf.h"

namespace mailsift::doctor {
namespace {

using dns::Answer;
using dns::RType;

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty())
      out += sep;
    out += s;
  }
  return out;
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ')
      ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ')
      ++j;
    if (j > i)
      out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_spf_record(std::string_view txt) {
  if (txt.size() < 6 || ascii_lower(txt.substr(0, 6)) != "v=spf1")
    return false;
  return txt.size() == 6 || txt[6] == ' ';
}

const char* rcode_text(const Answer& a) {
  return dns::to_string(a.rcode);
}

std::string temp_message(std::string_view what, const Answer& a) {
  return fmt::format("could not check (temporary): {} lookup failed ({})", what, rcode_text(a));
}

// ---- MX -------------------------------------------------------------------------------------

std::string mx_line(std::string_view domain, int pref, std::string_view host) {
  return fmt::format("{}. IN MX {} {}.", domain, pref, host);
}

std::vector<std::string> cluster_mx_lines(std::string_view domain, const Cluster& c) {
  std::vector<std::string> out;
  for (size_t i = 0; i < c.mx.size(); ++i)
    out.push_back(mx_line(domain, static_cast<int>(10 * (i + 1)), c.mx[i]));
  return out;
}

Finding check_mx(std::string_view domain, const Cluster& c, const Answer& a) {
  Finding f{"mx", Status::kPass, "", {}, {}};
  if (a.temporary_failure()) {
    f.status = Status::kTempError;
    f.message = temp_message("MX", a);
    return f;
  }
  if (a.rcode == dns::Rcode::kNxDomain || a.mx.empty()) {
    f.status = Status::kFail;
    f.message = a.rcode == dns::Rcode::kNxDomain
                    ? fmt::format("{} does not exist (NXDOMAIN): no mail can reach it", domain)
                    : fmt::format("{} has no MX record: mail goes to its A record, not cluster {}",
                                  domain, c.name);
    f.publish = cluster_mx_lines(domain, c);
    return f;
  }
  std::set<std::string> found;
  std::vector<std::string> foreign;
  for (const auto& m : a.mx) {
    found.insert(m.host);
    if (std::find(c.mx.begin(), c.mx.end(), m.host) == c.mx.end())
      foreign.push_back(mx_line(domain, m.preference, m.host.empty() ? "" : m.host));
  }
  std::vector<std::string> missing;
  for (size_t i = 0; i < c.mx.size(); ++i)
    if (!found.contains(c.mx[i]))
      missing.push_back(mx_line(domain, static_cast<int>(10 * (i + 1)), c.mx[i]));
  if (!foreign.empty()) {
    f.status = Status::kFail;
    f.message = fmt::format(
        "MX has {} host(s) outside cluster {} (stale or foreign: mail delivered there bypasses "
        "the cluster)",
        foreign.size(), c.name);
    f.remove = foreign;
    f.publish = missing;
  } else if (!missing.empty()) {
    f.status = Status::kWarn;
    f.message = fmt::format("MX points only at cluster {} but lacks {} of its {} hosts", c.name,
                            missing.size(), c.mx.size());
    f.publish = missing;
  } else {
    f.message =
        fmt::format("MX points at cluster {}'s {} host(s) and nothing else", c.name, c.mx.size());
  }
  return f;
}

// ---- SPF ------------------------------------------------------------------------------------

std::vector<std::string> cluster_spf_terms(const Cluster& c) {
  if (!c.spf_include.empty())
    return {"include:" + c.spf_include};
  std::vector<std::string> out;
  for (const auto& n : c.outbound)
    out.push_back((n.v6 ? "ip6:" : "ip4:") + n.text);
  return out;
}

// The existing record with the cluster's terms inserted before its "all" / redirect (or a new
// record ending in -all when there is none).
std::string recommended_spf(const Cluster& c, std::string_view existing) {
  auto terms = cluster_spf_terms(c);
  if (existing.empty())
    return "v=spf1 " + join(terms, " ") + " -all";
  auto tokens = split_ws(existing);
  size_t at = tokens.size();
  for (size_t i = 1; i < tokens.size(); ++i) {
    std::string t = ascii_lower(tokens[i]);
    std::string_view core = t;
    if (!core.empty() && std::string_view("+-~?").find(core.front()) != std::string_view::npos)
      core.remove_prefix(1);
    if (core == "all" || t.rfind("redirect=", 0) == 0) {
      at = i;
      break;
    }
  }
  std::vector<std::string> out(tokens.begin(), tokens.begin() + static_cast<long>(at));
  for (const auto& t : terms)
    if (std::none_of(tokens.begin(), tokens.end(),
                     [&](const auto& x) { return ascii_lower(x) == t; }))
      out.push_back(t);
  out.insert(out.end(), tokens.begin() + static_cast<long>(at), tokens.end());
  if (at == tokens.size())
    out.push_back("-all");
  return join(out, " ");
}

std::string txt_line(std::string_view name, std::string_view value) {
  return fmt::format("{}. IN TXT {}", name, txt_rdata(value));
}

Finding check_spf(dns::Resolver& r, std::string_view domain, const Cluster& c, const Answer& txt,
                  Report& report) {
  Finding f{"spf", Status::kPass, "", {}, {}};
  if (txt.temporary_failure()) {
    f.status = Status::kTempError;
    f.message = temp_message("TXT", txt);
    return f;
  }
  std::vector<std::string> records;
  for (const auto& t : txt.records)
    if (is_spf_record(t))
      records.push_back(t);
  if (records.empty()) {
    f.status = Status::kFail;
    f.message = "no SPF record: receivers cannot tell the cluster's IPs may send for " +
                std::string(domain);
    f.publish = {txt_line(domain, recommended_spf(c, ""))};
    return f;
  }
  if (records.size() > 1) {
    f.status = Status::kFail;
    f.message =
        fmt::format("{} SPF records: every receiver's SPF check is permerror; publish exactly one",
                    records.size());
    for (const auto& rec : records)
      f.remove.push_back(txt_line(domain, rec));
    f.publish = {txt_line(domain, recommended_spf(c, records.front()))};
    return f;
  }
  // check_host for the first and last address of every outbound network: the record is
  // evaluated as receivers do (includes, macros, limits), not matched as text.
  std::vector<std::string> ips;
  for (const auto& n : c.outbound) {
    for (const auto& ip : {n.first, n.last})
      if (std::find(ips.begin(), ips.end(), ip) == ips.end())
        ips.push_back(ip);
  }
  std::vector<std::string> not_pass, temp, perm;
  int lookups = 0, voids = 0;
  for (const auto& ip : ips) {
    spf::Request req;
    req.client_ip = ip;
    req.helo = std::string(domain);
    req.mail_from = "postmaster@" + std::string(domain);
    auto o = spf::check_host(r, req);
    lookups = std::max(lookups, o.dns_lookups);
    voids = std::max(voids, o.void_lookups);
    switch (o.result) {
      case spf::Result::kPass:
        break;
      case spf::Result::kTempError:
        temp.push_back(fmt::format("{}: {}", ip, o.problem));
        break;
      case spf::Result::kPermError:
        perm.push_back(o.problem);
        break;
      default:
        not_pass.push_back(fmt::format(
            "{} gets spf={}{}", ip, spf::to_string(o.result),
            o.mechanism.empty() ? " (no mechanism matched)" : " (" + o.mechanism + ")"));
    }
  }
  report.spf_lookups = lookups;
  report.spf_void_lookups = voids;
  const std::string counts = fmt::format("{}/10 DNS lookups, {}/2 void", lookups, voids);
  if (!perm.empty()) {
    f.status = Status::kFail;
    f.message = fmt::format("SPF record is broken (permerror: {}); {}", perm.front(), counts);
    // Over the limit: the cluster alone, the customer re-adds others without extra lookups.
    f.publish = {txt_line(domain, recommended_spf(c, ""))};
    f.remove = {txt_line(domain, records.front())};
    return f;
  }
  if (!not_pass.empty()) {
    f.status = Status::kFail;
    f.message = fmt::format("SPF does not authorise cluster {}: {}; {}", c.name,
                            join(not_pass, ", "), counts);
    std::string fixed = recommended_spf(c, records.front());
    if (fixed != records.front())
      f.publish = {txt_line(domain, fixed)};
    else
      f.message += " (the cluster's term is present: the included record itself lacks the IP)";
    return f;
  }
  if (!temp.empty()) {
    f.status = Status::kTempError;
    f.message = "could not check (temporary): " + join(temp, "; ");
    return f;
  }
  f.message = fmt::format("SPF authorises all {} checked outbound address(es) of cluster {}; {}",
                          ips.size(), c.name, counts);
  if (lookups >= 9) {
    f.status = Status::kWarn;
    f.message += " (close to the limit of 10: one more include breaks SPF)";
  }
  return f;
}

// ---- DKIM -----------------------------------------------------------------------------------

Finding check_dkim(dns::Resolver& r, std::string_view domain, const Selector& s) {
  Finding f{"dkim:" + s.name, Status::kPass, "", {}, {}};
  const std::string name = s.name + "._domainkey." + std::string(domain);
  if (!s.key) {
    f.status = Status::kFail;
    f.message = "signing key " + s.key_file + " not loaded";
    return f;
  }
  const std::string want = s.key->dns_record();
  const std::string publish = txt_line(name, want);
  // A CNAME delegation to the provider's zone is followed (resolvers usually do it for us; a
  // stub answer with the CNAME alone is chased here).
  std::string at = name;
  std::string via;
  Answer a;
  for (int hop = 0; hop < 8; ++hop) {
    a = r.resolve(at, RType::kTXT);
    if (a.temporary_failure()) {
      f.status = Status::kTempError;
      f.message = temp_message("TXT " + at, a);
      return f;
    }
    if (!a.records.empty())
      break;
    Answer cn = r.resolve(at, RType::kCNAME);
    if (cn.temporary_failure()) {
      f.status = Status::kTempError;
      f.message = temp_message("CNAME " + at, cn);
      return f;
    }
    if (cn.records.empty())
      break;
    at = cn.records.front();
    via += " -> " + at;
  }
  if (a.records.empty()) {
    f.status = Status::kFail;
    f.message =
        fmt::format("no DKIM key published at {}{}: mail signed with selector {} fails DKIM", name,
                    via, s.name);
    f.publish = {publish};
    return f;
  }
  if (a.records.size() > 1) {
    f.status = Status::kFail;
    f.message = fmt::format("{} TXT records at {}{}: receivers may use either", a.records.size(),
                            name, via);
    for (const auto& t : a.records)
      f.remove.push_back(txt_line(at, t));
    f.publish = {publish};
    return f;
  }
  auto parsed = dkim::detail::parse_key_record(a.records.front());
  if (!parsed) {
    f.status = Status::kFail;
    f.message =
        fmt::format("key record at {}{} is unusable: {}", name, via, parsed.error().message);
    f.remove = {txt_line(at, a.records.front())};
    f.publish = {publish};
    return f;
  }
  if (parsed->revoked || !parsed->key.pkey ||
      EVP_PKEY_eq(parsed->key.pkey.get(), s.key->pkey()) != 1) {
    f.status = Status::kFail;
    f.message =
        fmt::format("key published at {}{} {} the signing key {}: signatures fail", name, via,
                    parsed->revoked ? "is revoked, not" : "does not match", s.key_file);
    f.remove = {txt_line(at, a.records.front())};
    f.publish = {publish};
    return f;
  }
  const std::string kind = s.key->ed25519() ? "ed25519" : fmt::format("rsa {} bits", s.key->bits());
  if (parsed->testing) {
    f.status = Status::kWarn;
    f.message = fmt::format("key at {}{} matches ({}) but has t=y: receivers ignore failures", name,
                            via, kind);
    f.remove = {txt_line(at, a.records.front())};
    f.publish = {publish};
    return f;
  }
  f.message =
      fmt::format("key at {}{} is published and matches the signing key ({})", name, via, kind);
  return f;
}

// ---- DMARC ----------------------------------------------------------------------------------

struct Tag {
  std::string name, value;
};
std::vector<Tag> dmarc_tags(std::string_view txt) {
  std::vector<Tag> out;
  size_t i = 0;
  while (i <= txt.size()) {
    size_t j = txt.find(';', i);
    if (j == std::string_view::npos)
      j = txt.size();
    std::string_view part = txt.substr(i, j - i);
    auto trim = [](std::string_view v) {
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
      return v;
    };
    part = trim(part);
    if (!part.empty()) {
      auto eq = part.find('=');
      if (eq == std::string_view::npos)
        out.push_back({ascii_lower(part), ""});
      else
        out.push_back(
            {ascii_lower(trim(part.substr(0, eq))), std::string(trim(part.substr(eq + 1)))});
    }
    i = j + 1;
  }
  return out;
}
std::string dmarc_text(const std::vector<Tag>& tags) {
  std::vector<std::string> parts;
  for (const auto& t : tags)
    parts.push_back(t.value.empty() && t.name == "v" ? t.name : t.name + "=" + t.value);
  return join(parts, "; ");
}

std::string recommended_dmarc(const Cluster* c) {
  std::string rec = "v=DMARC1; p=quarantine";
  if (c != nullptr && !c->dmarc_rua.empty())
    rec += "; rua=" + c->dmarc_rua;
  return rec;
}

Finding check_dmarc(dns::Resolver& r, std::string_view domain, const Cluster* c) {
  Finding f{"dmarc", Status::kPass, "", {}, {}};
  const std::string org = dmarc::organizational_domain(domain);
  const std::string name = "_dmarc." + std::string(domain);
  const std::string publish = txt_line(name, recommended_dmarc(c));
  std::string found_at = name;
  Answer a = r.resolve(name, RType::kTXT);
  auto dmarc_records = [](const Answer& ans) {
    std::vector<std::string> out;
    for (const auto& t : ans.records)
      if (dmarc::is_dmarc_record(t))
        out.push_back(t);
    return out;
  };
  if (a.temporary_failure()) {
    f.status = Status::kTempError;
    f.message = temp_message("TXT " + name, a);
    return f;
  }
  auto recs = dmarc_records(a);
  bool inherited = false;
  if (recs.empty() && org != domain && !org.empty()) {
    found_at = "_dmarc." + org;
    Answer o = r.resolve(found_at, RType::kTXT);
    if (o.temporary_failure()) {
      f.status = Status::kTempError;
      f.message = temp_message("TXT " + found_at, o);
      return f;
    }
    recs = dmarc_records(o);
    inherited = true;
  }
  if (recs.empty()) {
    f.status = Status::kFail;
    f.message = fmt::format("no DMARC record at {}{}: spoofed mail from {} is not rejected", name,
                            org != domain ? " nor at _dmarc." + org : "", domain);
    f.publish = {publish};
    return f;
  }
  if (recs.size() > 1) {
    f.status = Status::kFail;
    f.message = fmt::format("{} DMARC records at {}: receivers ignore them all (permerror)",
                            recs.size(), found_at);
    for (const auto& t : recs)
      f.remove.push_back(txt_line(found_at, t));
    f.publish = {txt_line(found_at, recommended_dmarc(c))};
    return f;
  }
  auto rec = dmarc::parse_record(recs.front());
  if (!rec) {
    f.status = Status::kFail;
    f.message = fmt::format("DMARC record at {} is unusable: {}", found_at, rec.error().message);
    f.remove = {txt_line(found_at, recs.front())};
    f.publish = {txt_line(found_at, recommended_dmarc(c))};
    return f;
  }
  const dmarc::Policy policy = inherited ? rec->sp.value_or(rec->p) : rec->p;
  std::vector<std::string> issues;
  auto tags = dmarc_tags(recs.front());
  auto set_tag = [&tags](const std::string& n, const std::string& v) {
    for (auto& t : tags)
      if (t.name == n) {
        t.value = v;
        return;
      }
    tags.push_back({n, v});
  };
  auto drop_tag = [&tags](const std::string& n) {
    std::erase_if(tags, [&](const Tag& t) { return t.name == n; });
  };
  if (policy == dmarc::Policy::kNone) {
    issues.push_back(fmt::format("{}=none: monitoring only, spoofed mail is still delivered",
                                 inherited && rec->sp ? "sp" : "p"));
    if (inherited && rec->sp)
      drop_tag("sp");
    else
      set_tag("p", "quarantine");
  }
  if (!inherited && rec->p != dmarc::Policy::kNone && rec->sp == dmarc::Policy::kNone) {
    issues.push_back("sp=none leaves subdomains unprotected");
    drop_tag("sp");
  }
  if (rec->pct < 100) {
    issues.push_back(
        fmt::format("pct={}: the policy applies to {}% of failing mail only", rec->pct, rec->pct));
    drop_tag("pct");
  }
  if (!rec->warnings.empty()) {
    issues.push_back("invalid tags ignored: " + join(rec->warnings, "; "));
  }
  // External report addresses must consent (RFC 7489 §7.1), else reports are dropped.
  for (const auto& list : {rec->rua, rec->ruf}) {
    for (const auto& uri : list) {
      if (ascii_lower(uri).rfind("mailto:", 0) != 0)
        continue;
      std::string addr = uri.substr(7);
      addr = addr.substr(0, addr.find('!'));
      auto at = addr.rfind('@');
      if (at == std::string::npos)
        continue;
      std::string host = ascii_lower(addr.substr(at + 1));
      if (dmarc::organizational_domain(host) == org)
        continue;
      const std::string auth = std::string(domain) + "._report._dmarc." + host;
      Answer ra = r.resolve(auth, RType::kTXT);
      if (ra.temporary_failure())
        continue;  // advisory only: do not fail the finding on it
      if (dmarc_records(ra).empty()) {
        issues.push_back(
            fmt::format("{} has not authorised reports for {} ({} missing)", host, domain, auth));
        f.publish.push_back(txt_line(auth, "v=DMARC1"));
      }
    }
  }
  const std::string summary = fmt::format(
      "p={}{}{} pct={} adkim={} aspf={}{}", dmarc::to_string(rec->p),
      rec->sp ? std::string(" sp=") + dmarc::to_string(*rec->sp) : "",
      inherited ? fmt::format(" (inherited from {}: policy {} applies)", found_at,
                              dmarc::to_string(policy))
                : "",
      rec->pct, rec->adkim == dmarc::Alignment::kStrict ? "s" : "r",
      rec->aspf == dmarc::Alignment::kStrict ? "s" : "r",
      rec->rua.empty() ? ", no rua (no aggregate reports)" : ", rua=" + join(rec->rua, ","));
  if (issues.empty()) {
    f.message = "DMARC " + summary;
    return f;
  }
  f.status = Status::kWarn;
  f.message = "DMARC " + summary + ": " + join(issues, "; ");
  std::string fixed = dmarc_text(tags);
  if (fixed != recs.front()) {
    f.remove.push_back(txt_line(found_at, recs.front()));
    f.publish.insert(f.publish.begin(), txt_line(found_at, fixed));
  }
  return f;
}

// ---- PTR ------------------------------------------------------------------------------------

Finding check_ptr(dns::Resolver& r, const Cluster& c, const Network& n) {
  const std::string& ip = n.first;
  Finding f{"ptr:" + ip, Status::kPass, "", {}, {}};
  auto res = dnsbl::check_iprev(r, ip);
  const std::string rev = dns::reverse_ip(ip) + (n.v6 ? ".ip6.arpa" : ".in-addr.arpa");
  const auto want = c.ptr.find(ip);
  const char* rr = n.v6 ? "AAAA" : "A";
  switch (res.status) {
    case dnsbl::IprevStatus::kPass:
      f.message = fmt::format("{} has PTR {} which resolves back to it", ip, res.name);
      if (want != c.ptr.end() && want->second != res.name) {
        f.status = Status::kWarn;
        f.message += fmt::format(" (clusters file expects {})", want->second);
        f.remove = {fmt::format("{}. IN PTR {}.", rev, res.name)};
        f.publish = {fmt::format("{}. IN PTR {}.", rev, want->second)};
      }
      return f;
    case dnsbl::IprevStatus::kTempError:
      f.status = Status::kTempError;
      f.message = "could not check (temporary): " + res.detail;
      return f;
    case dnsbl::IprevStatus::kFail: {
      f.status = Status::kFail;
      const std::string name = want != c.ptr.end() ? want->second : res.name;
      f.message = fmt::format("{} has PTR {} but it does not resolve back to {} (iprev fail)", ip,
                              join(res.ptr_names, ", "), ip);
      if (want != c.ptr.end() &&
          std::find(res.ptr_names.begin(), res.ptr_names.end(), name) == res.ptr_names.end())
        f.publish.push_back(fmt::format("{}. IN PTR {}.", rev, name));
      f.publish.push_back(fmt::format("{}. IN {} {}", name, rr, ip));
      return f;
    }
    case dnsbl::IprevStatus::kPermError:
      break;
  }
  f.status = Status::kFail;
  f.message = fmt::format("{} has no PTR record (iprev permerror): many receivers reject it", ip);
  if (want == c.ptr.end()) {
    f.message += "; set its name under ptr in the clusters file to get the records to publish";
    return f;
  }
  f.publish.push_back(fmt::format("{}. IN PTR {}.", rev, want->second));
  Answer fwd = r.resolve(want->second, n.v6 ? RType::kAAAA : RType::kA);
  if (fwd.temporary_failure() ||
      std::find(fwd.records.begin(), fwd.records.end(), ip) == fwd.records.end())
    f.publish.push_back(fmt::format("{}. IN {} {}", want->second, rr, ip));
  return f;
}

}  // namespace

const char* to_string(Status s) {
  switch (s) {
    case Status::kPass:
      return "pass";
    case Status::kWarn:
      return "warn";
    case Status::kTempError:
      return "temperror";
    case Status::kFail:
      return "fail";
  }
  return "fail";
}

std::string txt_rdata(std::string_view value) {
  std::string out;
  size_t i = 0;
  do {
    std::string_view chunk = value.substr(i, 255);
    if (!out.empty())
      out += ' ';
    out += '"';
    for (char ch : chunk) {
      if (ch == '"' || ch == '\\')
        out += '\\';
      out += ch;
    }
    out += '"';
    i += 255;
  } while (i < value.size());
  return out;
}

Report diagnose(dns::Resolver& resolver, const Clusters& clusters, std::string_view domain_in,
                const Options& options) {
  Report rep;
  std::string domain = ascii_lower(domain_in);
  while (!domain.empty() && domain.back() == '.')
    domain.pop_back();
  rep.domain = domain;
  auto add = [&rep](Finding f) {
    rep.status = std::max(rep.status, f.status);
    rep.findings.push_back(std::move(f));
  };
  if (dnsbl::normalize_domain(domain) != domain) {
    add({"domain", Status::kFail, "'" + domain + "' is not a domain name", {}, {}});
    return rep;
  }
  Answer mx = resolver.resolve(domain, RType::kMX);
  std::vector<dns::MxRecord> mx_sorted = mx.mx;
  std::stable_sort(mx_sorted.begin(), mx_sorted.end(),
                   [](const auto& a, const auto& b) { return a.preference < b.preference; });
  for (const auto& m : mx_sorted)
    rep.mx_found.push_back(fmt::format("{} {}", m.preference, m.host.empty() ? "." : m.host));
  mx.mx = mx_sorted;

  const Cluster* cluster = nullptr;
  if (!options.cluster.empty()) {
    cluster = clusters.find(options.cluster);
    if (cluster == nullptr) {
      std::vector<std::string> names;
      for (const auto& c : clusters.clusters)
        names.push_back(c.name);
      add({"cluster",
           Status::kFail,
           fmt::format("no cluster named '{}' (known: {})", options.cluster, join(names, ", ")),
           {},
           {}});
    } else {
      rep.cluster_source = "option";
    }
  } else if (mx.temporary_failure()) {
    add({"cluster",
         Status::kTempError,
         "could not check (temporary): cannot tell the cluster, MX lookup failed (" +
             std::string(rcode_text(mx)) + ")",
         {},
         {}});
  } else {
    // The cluster with the most of the domain's MX hosts; a tie is not a decision.
    size_t best = 0;
    std::vector<const Cluster*> best_clusters;
    for (const auto& c : clusters.clusters) {
      size_t n = 0;
      for (const auto& m : mx.mx)
        n += std::count(c.mx.begin(), c.mx.end(), m.host);
      if (n == 0)
        continue;
      if (n > best) {
        best = n;
        best_clusters = {&c};
      } else if (n == best) {
        best_clusters.push_back(&c);
      }
    }
    if (best_clusters.size() == 1) {
      cluster = best_clusters.front();
      rep.cluster_source = "mx";
    } else {
      std::string found =
          rep.mx_found.empty()
              ? (mx.rcode == dns::Rcode::kNxDomain ? "the domain does not exist" : "no MX records")
              : "MX found: " + join(rep.mx_found, ", ");
      std::string why = best_clusters.empty() ? "its MX points at no known cluster"
                                              : "its MX points at several clusters equally";
      add({"cluster",
           Status::kFail,
           fmt::format("cannot tell which cluster {} belongs to: {} ({}); use --cluster", domain,
                       why, found),
           {},
           {}});
    }
  }
  if (cluster != nullptr) {
    rep.cluster = cluster->name;
    add(check_mx(domain, *cluster, mx));
    Answer txt = resolver.resolve(domain, RType::kTXT);
    add(check_spf(resolver, domain, *cluster, txt, rep));
    for (const auto& s : cluster->dkim)
      add(check_dkim(resolver, domain, s));
  }
  add(check_dmarc(resolver, domain, cluster));
  if (cluster != nullptr)
    for (const auto& n : cluster->outbound)
      if (n.single())
        add(check_ptr(resolver, *cluster, n));
  return rep;
}

std::string render_text(const Report& r) {
  std::string out = fmt::format(
      "domain {}: cluster {}\n", r.domain,
      r.cluster.empty()
          ? std::string("unknown")
          : r.cluster + (r.cluster_source == "mx" ? " (from its MX)" : " (from --cluster)"));
  if (!r.mx_found.empty())
    out += "MX found: " + join(r.mx_found, ", ") + "\n";
  for (const auto& f : r.findings) {
    std::string label = f.status == Status::kTempError ? "TEMP" : to_string(f.status);
    std::transform(label.begin(), label.end(), label.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    out += fmt::format("{:<5} {:<18} {}\n", label, f.check, f.message);
    for (const auto& l : f.remove)
      out += "        remove:  " + l + "\n";
    for (const auto& l : f.publish)
      out += "        publish: " + l + "\n";
  }
  out += fmt::format("status: {}\n", r.status == Status::kTempError
                                         ? "could not check everything (temporary DNS failure)"
                                         : to_string(r.status));
  return out;
}

std::string render_json(const Report& r) {
  nlohmann::ordered_json j;
  j["domain"] = r.domain;
  j["cluster"] = r.cluster.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.cluster);
  j["cluster_source"] = r.cluster_source.empty() ? nlohmann::ordered_json()
                                                 : nlohmann::ordered_json(r.cluster_source);
  j["status"] = to_string(r.status);
  j["mx_found"] = r.mx_found;
  if (r.spf_lookups >= 0) {
    j["spf_dns_lookups"] = r.spf_lookups;
    j["spf_void_lookups"] = r.spf_void_lookups;
  }
  auto& fs = j["findings"] = nlohmann::ordered_json::array();
  for (const auto& f : r.findings) {
    nlohmann::ordered_json o;
    o["check"] = f.check;
    o["status"] = to_string(f.status);
    o["message"] = f.message;
    o["publish"] = f.publish;
    o["remove"] = f.remove;
    fs.push_back(std::move(o));
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<dns::CaresOptions> resolver_options(const Config& config) {
  auto o = dns::cares_options_from_config(config);
  if (!o)
    return o.error();
  const std::string& own = config.get_string("doctor.dns_servers");
  if (!own.empty()) {
    auto servers = dns::parse_server_list(own);
    if (!servers)
      return Error::config("doctor.dns_servers: " + servers.error().message);
    o->servers = std::move(*servers);
  }
  return o;
}

Result<LiveSetup> open_live(const Config& config, bool clusters_required) {
  LiveSetup setup;
  if (const std::string& file = config.get_string("doctor.clusters_file"); !file.empty()) {
    auto loaded = load_clusters_file(file);
    if (!loaded)
      return loaded.error();
    setup.clusters = std::move(loaded).value();
  } else if (clusters_required) {
    return Error::config("set doctor.clusters_file (see docs/doctor.md)");
  }
  auto options = resolver_options(config);
  if (!options)
    return options.error();
  auto created = dns::CaresResolver::create(*options);
  if (!created)
    return created.error();
  setup.resolver = std::move(created).value();
  return setup;
}

}  // namespace mailsift::doctor
