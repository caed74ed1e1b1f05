#include "doctor/bounce_checks.h"

#include <fmt/format.h>

#include <map>
#include <string_view>

#include "dnsbl/iprev.h"
#include "doctor/doctor.h"

namespace mailsift::doctor {
namespace {

bounce::LiveCheck from_finding(const Finding& f) {
  return {f.check, to_string(f.status), f.message, f.publish, f.remove};
}

// The findings of `report` that answer a "kind:" check: "spf" → spf, "dkim" → dkim:<selector>,
// "dmarc" → dmarc; the "cluster" and "domain" findings explain why a check could not run.
void add_findings(const Report& report, std::string_view kind,
                  std::vector<bounce::LiveCheck>& out) {
  bool any = false;
  for (const auto& f : report.findings) {
    std::string_view c = f.check;
    bool match = kind == "dkim" ? c.substr(0, 5) == "dkim:" : c == kind;
    if (!match)
      continue;
    out.push_back(from_finding(f));
    any = true;
  }
  if (any || kind == "dmarc")
    return;
  for (const auto& f : report.findings) {
    if (f.check != "cluster" && f.check != "domain")
      continue;
    bounce::LiveCheck c = from_finding(f);
    c.check = std::string(kind);
    c.message = fmt::format("not checked: {}", f.message);
    out.push_back(std::move(c));
    return;
  }
  // A cluster was found but it lists nothing to check (no DKIM selectors configured).
  out.push_back({std::string(kind),
                 "warn",
                 fmt::format("not checked: the cluster {} lists no {} to check", report.cluster,
                             kind == "dkim" ? "DKIM selectors" : "records"),
                 {},
                 {}});
}

bounce::LiveCheck iprev(dns::Resolver& resolver, const std::string& ip) {
  auto res = dnsbl::check_iprev(resolver, ip);
  bounce::LiveCheck c{"ptr:" + ip, "pass", "", {}, {}};
  switch (res.status) {
    case dnsbl::IprevStatus::kPass:
      c.message = fmt::format("{} has PTR {} which resolves back to it", ip, res.name);
      break;
    case dnsbl::IprevStatus::kTempError:
      c.status = "temperror";
      c.message = "could not check (temporary): " + res.detail;
      break;
    case dnsbl::IprevStatus::kFail: {
      c.status = "fail";
      std::string names;
      for (const auto& n : res.ptr_names)
        names += (names.empty() ? "" : ", ") + n;
      c.message = fmt::format("{} has PTR {} but it does not resolve back to {} (iprev fail)", ip,
                              names, ip);
      break;
    }
    case dnsbl::IprevStatus::kPermError:
      c.status = "fail";
      c.message =
          fmt::format("{} has no PTR record (iprev permerror): many receivers reject it", ip);
      break;
  }
  return c;
}

}  // namespace

void run_bounce_checks(bounce::Report& report, dns::Resolver& resolver, const Clusters& clusters,
                       const std::string& cluster) {
  std::map<std::string, Report> diagnosed;  // one diagnose() per domain of this report
  Options options;
  options.cluster = cluster;
  for (auto& r : report.recipients) {
    r.advice.live.clear();
    for (const auto& check : r.advice.checks) {
      const size_t colon = check.find(':');
      if (colon == std::string::npos)
        continue;
      const std::string kind = check.substr(0, colon), arg = check.substr(colon + 1);
      if (kind == "spf" || kind == "dkim" || kind == "dmarc") {
        auto it = diagnosed.find(arg);
        if (it == diagnosed.end())
          it = diagnosed.emplace(arg, diagnose(resolver, clusters, arg, options)).first;
        add_findings(it->second, kind, r.advice.live);
      } else if (kind == "ptr") {
        r.advice.live.push_back(iprev(resolver, arg));
      }
    }
  }
}

}  // namespace mailsift::doctor
