#include "auth/auth_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "arc/arc.h"
#include "auth/authres.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "dns/cares_resolver.h"
#include "dnsbl/dnsbl.h"
#include "dnsbl/iprev.h"
#include "mime/message.h"
#include "spf/spf.h"

namespace mailsift::auth {
namespace {

using scan::Symbol;

std::string upper_token(std::string_view s) {
  std::string out;
  for (unsigned char c : s)
    out += std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

Result<scan::ActionFloor::Kind> parse_floor(std::string_view v, bool allow_reject) {
  if (v == "spam_folder")
    return scan::ActionFloor::kSpamFolder;
  if (v == "none")
    return scan::ActionFloor::kNone;
  if (v == "reject" && allow_reject)
    return scan::ActionFloor::kReject;
  return Error::config(fmt::format("unknown DMARC action \"{}\" (spam_folder, none{})", v,
                                   allow_reject ? ", reject" : ""));
}

// Deterministic per message, uniform over messages: DMARC pct sampling without a hidden RNG
// (the same message gets the same treatment on every node and on rescans).
int draw_from_digest(std::string_view digest) {
  uint32_t h = 2166136261u;
  for (char c : digest)
    h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return static_cast<int>(h % 100);
}

}  // namespace

Result<AuthOptions> AuthOptions::from_config(const Config& c) {
  AuthOptions o;
  o.authserv_id = c.get_string("auth.authserv_id");
  if (o.authserv_id.empty()) {
    o.authserv_id = c.get_string("server.node_name");
    if (o.authserv_id.empty()) {
      char host[256] = {0};
      if (gethostname(host, sizeof host - 1) == 0)
        o.authserv_id = host;
    }
    if (o.authserv_id.empty())
      o.authserv_id = "localhost";
  }
  o.spf = c.get_bool("auth.spf");
  o.dkim = c.get_bool("auth.dkim");
  o.arc = c.get_bool("auth.arc");
  o.dmarc = c.get_bool("auth.dmarc");
  o.iprev = c.get_bool("auth.iprev");
  o.tempfail_on_dns_error = c.get_bool("auth.tempfail_on_dns_error");
  auto reject = parse_floor(c.get_string("auth.dmarc_reject_action"), true);
  if (!reject)
    return reject.error();
  o.dmarc_reject = *reject;
  auto quarantine = parse_floor(c.get_string("auth.dmarc_quarantine_action"), false);
  if (!quarantine)
    return quarantine.error();
  o.dmarc_quarantine = *quarantine;
  auto lists = dnsbl::lists_from_config(c);
  if (!lists)
    return lists.error();
  o.lists = *lists;
  return o;
}

AuthCheck::AuthCheck(AuthOptions options, std::unique_ptr<dns::Resolver> resolver,
                     std::function<int64_t()> now_unix)
    : options_(std::move(options)), resolver_(std::move(resolver)), now_(std::move(now_unix)) {}

std::vector<scan::SymbolInfo> AuthCheck::symbols() const {
  return {
      {"R_SPF_ALLOW", "SPF: the client IP is authorised for the MAIL FROM domain"},
      {"R_SPF_FAIL", "SPF: the MAIL FROM domain says this client IP must not send its mail (-all)"},
      {"R_SPF_SOFTFAIL",
       "SPF: the MAIL FROM domain says this client IP is probably not its (~all)"},
      {"R_SPF_NEUTRAL", "SPF: the MAIL FROM domain makes no assertion about this IP (?all)"},
      {"R_SPF_NA", "SPF: no SPF record, or no client IP to check"},
      {"R_SPF_DNSFAIL", "SPF: a DNS failure prevented the check (temperror)"},
      {"R_SPF_PERMFAIL", "SPF: the domain's SPF record is broken (permerror)"},
      {"R_DKIM_ALLOW", "DKIM: a signature verified"},
      {"R_DKIM_REJECT", "DKIM: a signature failed to verify (altered message or wrong key)"},
      {"R_DKIM_TEMPFAIL", "DKIM: a key could not be fetched (DNS failure)"},
      {"R_DKIM_PERMFAIL", "DKIM: a signature or its key record is unusable (permerror)"},
      {"R_DKIM_NA", "DKIM: the message is not signed"},
      {"DKIM_WEAK_ALGO",
       "DKIM: a signature uses rsa-sha1 or a short key (RFC 8301): not relied on"},
      {"ARC_ALLOW", "ARC: the forwarding chain validates"},
      {"ARC_REJECT", "ARC: the forwarding chain is broken"},
      {"ARC_NA", "ARC: no ARC chain"},
      {"DMARC_POLICY_ALLOW", "DMARC: the From domain is aligned with a passing SPF or DKIM"},
      {"DMARC_POLICY_REJECT",
       "DMARC: the From domain asks to reject unaligned mail; mapped by auth.dmarc_reject_action"},
      {"DMARC_POLICY_QUARANTINE",
       "DMARC: the From domain asks to quarantine unaligned mail; mapped by "
       "auth.dmarc_quarantine_action"},
      {"DMARC_POLICY_SOFTFAIL",
       "DMARC: not aligned, but the domain's policy is none (or sampled out)"},
      {"DMARC_NA", "DMARC: the From domain publishes no DMARC record"},
      {"DMARC_DNSFAIL", "DMARC: a DNS failure prevented the check (temperror)"},
      {"DMARC_BAD_POLICY", "DMARC: broken record, or no single From domain (permerror)"},
      {"IPREV_PASS", "iprev: the client IP's PTR name resolves back to it"},
      {"IPREV_FAIL", "iprev: the client IP has no PTR, or its name does not resolve back"},
      {"IPREV_TEMPFAIL", "iprev: a DNS failure prevented the check"},
      {"RBL_<LIST>", "the client IP is on a DNS blocklist (name from dnsbl.lists)"},
      {"URIBL_<LIST>", "a domain linked from the message is on a URI blocklist"},
      {"DBL_<LIST>", "the sender's domain (MAIL FROM, From, HELO) is on a domain blocklist"},
      {"RBL_RESOLVER_PROBLEM",
       "a blocklist refused us or our resolver rewrites answers: not a listing"},
  };
}

Status AuthCheck::run(scan::ScanTask& task, std::vector<Symbol>& out) {
  const scan::Envelope& env = *task.envelope;
  const std::string_view raw = task.message.raw;
  const int64_t now = now_();
  dns::Resolver& dns = *resolver_;
  std::vector<MethodResult> ar;
  std::vector<std::string> temporary;  // what failed for DNS reasons

  // ---- SPF ----
  spf::Result spf_result = spf::Result::kNone;
  std::string spf_domain;
  if (options_.spf) {
    if (env.client_ip.empty()) {
      out.push_back({"R_SPF_NA", 0, "SPF: not checked", "no client IP in the request"});
      ar.push_back({"spf", "none", "", "no client IP", {}});
    } else {
      spf::Verdict v =
          spf::verify(dns, {env.client_ip, env.helo, env.mail_from, options_.authserv_id, now});
      const spf::Outcome& o = v.mailfrom;
      spf_result = o.result;
      spf_domain = o.domain;
      std::string detail = o.domain.empty()
                               ? o.problem
                               : fmt::format("{} {}{}{}", o.domain, spf::to_string(o.result),
                                             o.mechanism.empty() ? "" : " by " + o.mechanism,
                                             o.problem.empty() ? "" : ": " + o.problem);
      switch (o.result) {
        case spf::Result::kPass:
          out.push_back({"R_SPF_ALLOW", options_.spf_allow, "SPF pass", detail});
          break;
        case spf::Result::kFail:
          out.push_back({"R_SPF_FAIL", options_.spf_fail, "SPF fail",
                         detail + (o.explanation.empty() ? "" : " (" + o.explanation + ")")});
          break;
        case spf::Result::kSoftFail:
          out.push_back({"R_SPF_SOFTFAIL", options_.spf_softfail, "SPF softfail", detail});
          break;
        case spf::Result::kNeutral:
          out.push_back({"R_SPF_NEUTRAL", 0, "SPF neutral", detail});
          break;
        case spf::Result::kNone:
          out.push_back({"R_SPF_NA", 0, "SPF none", detail});
          break;
        case spf::Result::kTempError:
          out.push_back({"R_SPF_DNSFAIL", 0, "SPF temperror", detail});
          temporary.push_back("spf");
          break;
        case spf::Result::kPermError:
          out.push_back({"R_SPF_PERMFAIL", 0, "SPF permerror", detail});
          break;
      }
      MethodResult m{"spf", spf::to_string(o.result), "", "", {}};
      if (!o.problem.empty())
        m.reason = o.problem;
      std::string mailfrom = env.mail_from.empty() ? "postmaster@" + env.helo : env.mail_from;
      m.properties.push_back({"smtp", "mailfrom", mailfrom});
      if (!env.helo.empty())
        m.properties.push_back({"smtp", "helo", env.helo});
      ar.push_back(std::move(m));
    }
  }

  // ---- DKIM ----
  std::vector<dmarc::DkimSignature> dkim_for_dmarc;
  if (options_.dkim) {
    auto sigs = dkim::verify(raw, dns, now);
    if (sigs.empty()) {
      out.push_back({"R_DKIM_NA", 0, "DKIM: not signed", ""});
      ar.push_back({"dkim", "none", "", "", {}});
    }
    std::vector<std::string> pass, fail, temp, perm, weak;
    for (const auto& s : sigs) {
      const bool ok = s.result == dkim::Status::kPass;
      dkim_for_dmarc.push_back({s.domain, ok && !s.weak});
      std::string who = s.domain + (s.selector.empty() ? "" : "/" + s.selector);
      switch (s.result) {
        case dkim::Status::kPass:
          (s.weak ? weak : pass).push_back(who);
          break;
        case dkim::Status::kFail:
          fail.push_back(who + ": " + s.reason);
          break;
        case dkim::Status::kTempError:
          temp.push_back(who + ": " + s.reason);
          break;
        case dkim::Status::kPermError:
          perm.push_back(who + ": " + s.reason);
          break;
        default:
          break;
      }
      if (s.weak && s.result == dkim::Status::kPass)
        weak.back() += " (" + s.reason + ")";
      MethodResult m{"dkim",
                     dkim::to_string(s.result),
                     s.result == dkim::Status::kPass ? "" : s.reason,
                     s.weak ? "weak: " + std::string(dkim::to_string(s.algorithm)) : "",
                     {}};
      m.properties.push_back({"header", "d", s.domain});
      m.properties.push_back({"header", "s", s.selector});
      m.properties.push_back({"header", "a", dkim::to_string(s.algorithm)});
      m.properties.push_back({"header", "b", s.header_b});
      ar.push_back(std::move(m));
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v)
        s += (s.empty() ? "" : "; ") + x;
      return s;
    };
    if (!pass.empty())
      out.push_back({"R_DKIM_ALLOW", options_.dkim_allow, "DKIM pass", join(pass)});
    if (!fail.empty())
      out.push_back({"R_DKIM_REJECT", options_.dkim_reject, "DKIM fail", join(fail)});
    if (!temp.empty()) {
      out.push_back({"R_DKIM_TEMPFAIL", 0, "DKIM temperror", join(temp)});
      temporary.push_back("dkim");
    }
    if (!perm.empty())
      out.push_back({"R_DKIM_PERMFAIL", 0, "DKIM permerror", join(perm)});
    if (!weak.empty())
      out.push_back({"DKIM_WEAK_ALGO", 0, "DKIM weak signature", join(weak)});
  }

  // ---- ARC ----
  if (options_.arc) {
    arc::ChainResult chain = arc::validate(raw, dns);
    switch (chain.cv) {
      case arc::ChainStatus::kNone:
        out.push_back({"ARC_NA", 0, "ARC: no chain", ""});
        break;
      case arc::ChainStatus::kPass:
        out.push_back({"ARC_ALLOW", options_.arc_allow, "ARC pass",
                       fmt::format("{} instance(s), sealed by {}", chain.instances,
                                   chain.sets.empty() ? "" : chain.sets.back().seal_domain)});
        break;
      case arc::ChainStatus::kFail:
        out.push_back(
            {"ARC_REJECT", chain.temporary ? 0 : options_.arc_reject, "ARC fail", chain.reason});
        if (chain.temporary)
          temporary.push_back("arc");
        break;
    }
    MethodResult m{"arc",
                   arc::to_string(chain.cv),
                   chain.cv == arc::ChainStatus::kFail ? chain.reason : "",
                   "",
                   {}};
    if (chain.instances > 0)
      m.properties.push_back({"header", "oldest-pass", std::to_string(chain.oldest_pass)});
    ar.push_back(std::move(m));
  }

  // ---- DMARC ----
  if (options_.dmarc) {
    std::vector<std::string> from_fields;
    for (const auto* h : task.message.headers("From"))
      from_fields.emplace_back(h->raw_value);
    auto from_domain = dmarc::author_domain(from_fields);
    if (!from_domain) {
      out.push_back({"DMARC_BAD_POLICY", 0, "DMARC permerror", from_domain.error().message});
      ar.push_back({"dmarc", "permerror", from_domain.error().message, "", {}});
    } else {
      dmarc::Input in;
      in.header_from_domain = *from_domain;
      in.spf_result = spf_result;
      in.spf_domain = spf_domain;
      in.dkim = dkim_for_dmarc;
      in.random_draw = draw_from_digest(task.digest);
      dmarc::Outcome o = dmarc::evaluate(dns, in);
      std::string detail = fmt::format("{}: {}{}", *from_domain, dmarc::to_string(o.result),
                                       o.problem.empty() ? "" : " (" + o.problem + ")");
      if (o.result == dmarc::Result::kPass) {
        out.push_back({"DMARC_POLICY_ALLOW", options_.dmarc_allow, "DMARC pass",
                       detail + " aligned via " + o.aligned_via});
      } else if (o.result == dmarc::Result::kFail) {
        detail += fmt::format(", p={} ({}), pct={}{}", dmarc::to_string(o.policy),
                              o.applied_policy_source, o.pct, o.sampled_out ? ", sampled out" : "");
        auto apply = [&](scan::ActionFloor::Kind kind, const char* what) {
          const char* mapped = kind == scan::ActionFloor::kReject       ? "reject"
                               : kind == scan::ActionFloor::kSpamFolder ? "spam folder"
                                                                        : "no action";
          detail += fmt::format("; the domain asks to {}, our policy: {}", what, mapped);
          if (kind > task.floor.kind) {
            task.floor.kind = kind;
            task.floor.reason = fmt::format("DMARC policy of {} ({})", *from_domain, what);
          }
        };
        if (o.disposition == dmarc::Policy::kReject) {
          apply(options_.dmarc_reject, "reject");
          out.push_back({"DMARC_POLICY_REJECT", options_.dmarc_reject_score,
                         "DMARC fail, policy reject", detail});
        } else if (o.disposition == dmarc::Policy::kQuarantine) {
          apply(options_.dmarc_quarantine, "quarantine");
          out.push_back({"DMARC_POLICY_QUARANTINE", options_.dmarc_quarantine_score,
                         "DMARC fail, policy quarantine", detail});
        } else {
          out.push_back({"DMARC_POLICY_SOFTFAIL", 0, "DMARC fail, policy none", detail});
        }
        task.annotations["dmarc"] =
            fmt::format("fail {} {}", *from_domain, dmarc::to_string(o.disposition));
      } else if (o.result == dmarc::Result::kNone) {
        out.push_back({"DMARC_NA", 0, "DMARC none", detail});
      } else if (o.result == dmarc::Result::kTempError) {
        out.push_back({"DMARC_DNSFAIL", 0, "DMARC temperror", detail});
        temporary.push_back("dmarc");
      } else {
        out.push_back({"DMARC_BAD_POLICY", 0, "DMARC permerror", detail});
      }
      MethodResult m{"dmarc",
                     dmarc::to_string(o.result),
                     o.problem,
                     o.result == dmarc::Result::kFail || o.result == dmarc::Result::kPass
                         ? fmt::format("p={} dis={}", dmarc::to_string(o.policy),
                                       dmarc::to_string(o.disposition))
                         : "",
                     {}};
      m.properties.push_back({"header", "from", *from_domain});
      ar.push_back(std::move(m));
    }
  }

  // ---- iprev ----
  if (options_.iprev && !env.client_ip.empty()) {
    dnsbl::Iprev r = dnsbl::check_iprev(dns, env.client_ip);
    MethodResult m{"iprev", dnsbl::to_string(r.status), r.detail, r.name, {}};
    m.properties.push_back({"policy", "iprev", r.ip});
    ar.push_back(std::move(m));
    switch (r.status) {
      case dnsbl::IprevStatus::kPass:
        out.push_back({"IPREV_PASS", 0, "iprev pass", r.name});
        break;
      case dnsbl::IprevStatus::kTempError:
        out.push_back({"IPREV_TEMPFAIL", 0, "iprev temperror", r.detail});
        break;
      default:
        out.push_back({"IPREV_FAIL", options_.iprev_fail, "iprev fail", r.detail});
        break;
    }
  }

  // ---- DNS blocklists ----
  if (!options_.lists.empty()) {
    std::vector<dnsbl::Listing> listings;
    if (!env.client_ip.empty())
      listings = dnsbl::check_ip(dns, options_.lists, env.client_ip);
    std::vector<std::string> urls;
    for (const auto& u : task.message.urls)
      urls.push_back(u.url);
    for (auto& l : dnsbl::check_urls(dns, options_.lists, urls))
      listings.push_back(std::move(l));
    std::vector<std::string> domains;
    if (auto d = mime::address_domain(env.mail_from); !d.empty())
      domains.emplace_back(d);
    if (const auto* f = task.message.header("From")) {
      std::string a = mime::extract_address(f->value);
      if (auto d = mime::address_domain(a); !d.empty())
        domains.emplace_back(d);
    }
    if (!env.helo.empty())
      domains.push_back(env.helo);
    for (auto& l : dnsbl::check_domains(dns, options_.lists, domains))
      listings.push_back(std::move(l));
    std::set<std::string> seen;
    for (const auto& l : listings) {
      const dnsbl::ListSpec* spec = nullptr;
      for (const auto& s : options_.lists)
        if (s.name == l.list)
          spec = &s;
      const char* prefix =
          !spec || spec->kind == dnsbl::Kind::kIp || spec->kind == dnsbl::Kind::kIp4 ? "RBL_"
          : spec->kind == dnsbl::Kind::kUrl                                          ? "URIBL_"
                                                                                     : "DBL_";
      if (l.outcome == dnsbl::Outcome::kListed) {
        std::string name = prefix + upper_token(l.list);
        if (!seen.insert(name).second)
          continue;
        out.push_back({name, l.score, "on blocklist " + l.zone,
                       fmt::format("{} listed ({}{})", l.item, fmt::join(l.codes, ","),
                                   l.name.empty() ? "" : " " + l.name)});
      } else if (l.outcome == dnsbl::Outcome::kBlocked || l.outcome == dnsbl::Outcome::kRewritten) {
        if (!seen.insert("RBL_RESOLVER_PROBLEM/" + l.list).second)
          continue;
        out.push_back({"RBL_RESOLVER_PROBLEM", 0, "blocklist unusable: " + l.zone,
                       fmt::format("{} ({}): {}", l.list, dnsbl::to_string(l.outcome), l.detail)});
      }
    }
  }

  task.annotations["authentication-results"] =
      render_authentication_results(options_.authserv_id, ar);
  if (!temporary.empty() && options_.tempfail_on_dns_error) {
    std::string what;
    for (const auto& t : temporary)
      what += (what.empty() ? "" : ", ") + t;
    return Error::temporary("DNS failure during " + what);
  }
  return Ok{};
}

Result<std::unique_ptr<scan::Check>> make_auth_check(const Config& config) {
  auto options = AuthOptions::from_config(config);
  if (!options)
    return options.error();
  auto dns_options = dns::cares_options_from_config(config);
  if (!dns_options)
    return dns_options.error();
  auto resolver = dns::CaresResolver::create(*dns_options);
  if (!resolver)
    return resolver.error();
  return std::unique_ptr<scan::Check>(
      std::make_unique<AuthCheck>(std::move(*options), std::move(*resolver), [] {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      }));
}

}  // namespace mailsift::auth
