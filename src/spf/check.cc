// check_host() evaluation (RFC 7208 §4–§6) on top of the record layer.
#include <algorithm>
#include <cctype>
#include <optional>

#include "core/ascii.h"
#include "spf/record.h"
#include "spf/spf.h"

namespace mailsift::spf {
namespace {

constexpr int kMaxDnsTerms = 10;     // §4.6.4
constexpr int kMaxVoidLookups = 2;   // §4.6.4
constexpr size_t kMaxMxNames = 10;   // §4.6.4: more is a permerror
constexpr size_t kMaxPtrNames = 10;  // §4.6.4: the rest are ignored

std::string strip_dot(std::string s) {
  while (!s.empty() && s.back() == '.')
    s.pop_back();
  return s;
}

// `name` equals `domain` or is a subdomain of it (case-insensitive).
bool within(const std::string& name, const std::string& domain) {
  std::string n = ascii_lower(strip_dot(name)), d = ascii_lower(strip_dot(domain));
  if (d.empty())
    return false;
  return n == d || (n.size() > d.size() && n.ends_with(d) && n[n.size() - d.size() - 1] == '.');
}

// §4.3: the identity must be a multi-label domain name we could query; otherwise "none".
bool usable_identity(const std::string& domain) {
  std::string d = strip_dot(domain);
  return !d.empty() && d.front() != '[' && d.find('.') != std::string::npos && is_queryable_name(d);
}

struct Eval {
  Result result = Result::kNeutral;
  std::string mechanism;
  std::string explanation;
  std::string problem;
};

Eval error(Result r, std::string problem) {
  return Eval{r, {}, {}, std::move(problem)};
}

class Evaluator {
 public:
  Evaluator(dns::Resolver& resolver, MacroContext base)
      : resolver_(resolver), base_(std::move(base)) {}

  // check_host(<ip>, <domain>, <sender>). `want_exp`: compute the explanation of a fail (only the
  // outermost evaluation and its redirects; an include's exp= is never used, §6.2).
  Eval check(const std::string& domain, bool want_exp) {
    MacroContext ctx = base_;
    ctx.domain = strip_dot(domain);
    ctx.validated_ptr = [this, d = ctx.domain] { return p_macro(d); };

    dns::Answer txt = query(ctx.domain, dns::RType::kTXT);
    if (txt.temporary_failure())
      return error(Result::kTempError,
                   "DNS " + std::string(dns::to_string(txt.rcode)) + " on TXT " + ctx.domain);
    std::vector<std::string> records;
    for (auto& r : txt.records) {
      if (is_spf_record(r))
        records.push_back(r);
    }
    if (records.empty())
      return error(Result::kNone, "no SPF record at " + ctx.domain);
    if (records.size() > 1)
      return error(Result::kPermError, "several SPF records at " + ctx.domain);
    auto rec = parse_record(records.front());
    if (!rec)
      return error(Result::kPermError, rec.error().message + " (" + ctx.domain + ")");

    Eval out;
    bool matched = false;
    for (const auto& m : rec->mechanisms) {
      if (m.uses_dns() && ++lookups_ > kMaxDnsTerms)
        return error(Result::kPermError, "more than 10 DNS-querying terms");
      std::optional<Eval> failure;
      bool hit = match(m, ctx, failure);
      if (failure)
        return *failure;
      if (hit) {
        matched = true;
        out.mechanism = m.text;
        switch (m.qualifier) {
          case Qualifier::kPass:
            out.result = Result::kPass;
            break;
          case Qualifier::kFail:
            out.result = Result::kFail;
            break;
          case Qualifier::kSoftFail:
            out.result = Result::kSoftFail;
            break;
          case Qualifier::kNeutral:
            out.result = Result::kNeutral;
            break;
        }
        break;
      }
    }
    if (!matched && rec->redirect) {
      // §6.1: redirect counts as a DNS term; the target's result (and explanation) is ours, and a
      // target without a record is a permerror.
      if (++lookups_ > kMaxDnsTerms)
        return error(Result::kPermError, "more than 10 DNS-querying terms");
      auto target = expand(*rec->redirect, ctx, false);
      if (!target)
        return error(Result::kPermError, target.error().message);
      Eval sub = check(*target, want_exp);
      if (sub.result == Result::kNone)
        return error(Result::kPermError, "redirect=" + *target + " has no SPF record");
      return sub;
    }
    if (!matched)
      out.result = Result::kNeutral;  // §4.7
    if (out.result == Result::kFail && want_exp)
      out.explanation = explain(rec->exp, ctx);
    return out;
  }

  int lookups() const { return lookups_; }
  int voids() const { return voids_; }

 private:
  dns::Answer query(const std::string& name, dns::RType type) {
    if (!is_queryable_name(name)) {
      // A name DNS cannot carry (empty or over-long label) does not exist (§4.3, 4.8).
      dns::Answer a;
      a.rcode = dns::Rcode::kNxDomain;
      return a;
    }
    return resolver_.resolve(name, type);
  }

  // Records a void answer; false when the void limit is now exceeded.
  bool note_void(const dns::Answer& a) {
    if (a.rcode == dns::Rcode::kNxDomain || (a.rcode == dns::Rcode::kNoError && a.empty()))
      ++voids_;
    return voids_ <= kMaxVoidLookups;
  }

  std::optional<Eval> target_of(const Mechanism& m, const MacroContext& ctx, std::string& target) {
    if (m.domain_spec.empty()) {
      target = ctx.domain;
      return std::nullopt;
    }
    auto t = expand(m.domain_spec, ctx, false);
    if (!t)
      return error(Result::kPermError, t.error().message);
    target = std::move(*t);
    return std::nullopt;
  }

  static std::optional<Eval> dns_failure(const dns::Answer& a, const std::string& name,
                                         dns::RType type) {
    if (!a.temporary_failure())
      return std::nullopt;
    return error(Result::kTempError, "DNS " + std::string(dns::to_string(a.rcode)) + " on " +
                                         dns::to_string(type) + " " + name);
  }

  bool address_match(const dns::Answer& a, int cidr4, int cidr6) const {
    for (const auto& r : a.records) {
      auto addr = parse_address_exact(r, base_.client.v6);
      if (addr && in_network(base_.client, *addr, base_.client.v6 ? cidr6 : cidr4))
        return true;
    }
    return false;
  }

  dns::RType address_type() const { return base_.client.v6 ? dns::RType::kAAAA : dns::RType::kA; }

  bool match(const Mechanism& m, const MacroContext& ctx, std::optional<Eval>& failure) {
    auto void_check = [&](const dns::Answer& a) {
      if (!note_void(a))
        failure = error(Result::kPermError, "more than 2 void DNS lookups");
    };
    std::string target;
    switch (m.kind) {
      case MechanismKind::kAll:
        return true;
      case MechanismKind::kIp4:
      case MechanismKind::kIp6:
        return in_network(base_.client, m.network,
                          m.kind == MechanismKind::kIp4 ? m.cidr4 : m.cidr6);
      case MechanismKind::kInclude: {
        if ((failure = target_of(m, ctx, target)))
          return false;
        Eval sub = check(target, false);
        switch (sub.result) {
          case Result::kPass:
            return true;
          case Result::kFail:
          case Result::kSoftFail:
          case Result::kNeutral:
            return false;
          case Result::kTempError:
            failure = sub;
            return false;
          case Result::kNone:
            failure = error(Result::kPermError, "include:" + target + " has no SPF record");
            return false;
          case Result::kPermError:
            failure = sub;
            return false;
        }
        return false;
      }
      case MechanismKind::kA: {
        if ((failure = target_of(m, ctx, target)))
          return false;
        auto a = query(target, address_type());
        if ((failure = dns_failure(a, target, address_type())))
          return false;
        void_check(a);
        return !failure && address_match(a, m.cidr4, m.cidr6);
      }
      case MechanismKind::kExists: {
        if ((failure = target_of(m, ctx, target)))
          return false;
        auto a = query(target, dns::RType::kA);  // always A, whatever the client family (§5.7)
        if ((failure = dns_failure(a, target, dns::RType::kA)))
          return false;
        void_check(a);
        return !failure && !a.records.empty();
      }
      case MechanismKind::kMx: {
        if ((failure = target_of(m, ctx, target)))
          return false;
        auto mx = query(target, dns::RType::kMX);
        if ((failure = dns_failure(mx, target, dns::RType::kMX)))
          return false;
        void_check(mx);
        if (failure)
          return false;
        if (mx.mx.size() > kMaxMxNames) {
          failure = error(Result::kPermError, "more than 10 MX names for " + target);
          return false;
        }
        std::vector<dns::MxRecord> hosts = mx.mx;
        std::stable_sort(hosts.begin(), hosts.end(),
                         [](const auto& x, const auto& y) { return x.preference < y.preference; });
        std::vector<dns::Query> qs;
        for (const auto& h : hosts) {
          // A null MX ("." / "") names no host (RFC 7505).
          if (is_queryable_name(h.host))
            qs.push_back({h.host, address_type()});
        }
        if (qs.empty())
          return false;
        auto answers = resolver_.resolve_many(qs);
        std::optional<Eval> temp;
        for (size_t k = 0; k < answers.size(); ++k) {
          if (address_match(answers[k], m.cidr4, m.cidr6))
            return true;
          if (!temp)
            temp = dns_failure(answers[k], qs[k].name, qs[k].type);
        }
        // No host matched; if one could not be resolved the answer is unknown (§5).
        failure = temp;
        return false;
      }
      case MechanismKind::kPtr: {
        if ((failure = target_of(m, ctx, target)))
          return false;
        const auto& names = validated_names();
        if (ptr_void_) {
          void_check(ptr_void_answer_);  // every ptr term that meets an empty PTR set counts
          if (failure)
            return false;
        }
        return std::any_of(names.begin(), names.end(),
                           [&](const std::string& n) { return within(n, target); });
      }
    }
    return false;
  }

  // §5.5: the client's PTR names (first 10) whose A/AAAA records include the client. DNS errors
  // make the mechanism not match (or skip that name); they are not temperrors.
  const std::vector<std::string>& validated_names() {
    if (validated_)
      return *validated_;
    validated_.emplace();
    std::string rev = dns::reverse_ip(to_text(base_.client));
    auto ptr = resolver_.resolve(rev + (base_.client.v6 ? ".ip6.arpa" : ".in-addr.arpa"),
                                 dns::RType::kPTR);
    if (ptr.rcode == dns::Rcode::kNxDomain || (ptr.rcode == dns::Rcode::kNoError && ptr.empty())) {
      ptr_void_ = true;
      ptr_void_answer_ = ptr;
    }
    if (ptr.temporary_failure())
      return *validated_;
    std::vector<dns::Query> qs;
    for (const auto& n : ptr.records) {
      if (qs.size() == kMaxPtrNames)
        break;
      std::string name = strip_dot(n);
      if (is_queryable_name(name))
        qs.push_back({name, address_type()});
    }
    if (qs.empty())
      return *validated_;
    auto answers = resolver_.resolve_many(qs);
    for (size_t k = 0; k < answers.size(); ++k) {
      if (address_match(answers[k], 32, 128))
        validated_->push_back(qs[k].name);
    }
    return *validated_;
  }

  // %{p} (§7.3): a validated name equal to the domain, else one under it, else any, else
  // "unknown".
  std::string p_macro(const std::string& domain) {
    const auto& names = validated_names();
    for (const auto& n : names) {
      if (ascii_lower(n) == ascii_lower(domain))
        return n;
    }
    for (const auto& n : names) {
      if (within(n, domain))
        return n;
    }
    return names.empty() ? "unknown" : names.front();
  }

  // §6.2: the exp= text, or the default when it is missing, unreachable, ambiguous, non-ASCII or
  // syntactically broken. Its lookup counts against no limit.
  std::string explain(const std::optional<std::string>& exp, const MacroContext& ctx) {
    if (!exp)
      return kDefaultExplanation;
    auto target = expand(*exp, ctx, false);
    if (!target)
      return kDefaultExplanation;
    auto txt = query(*target, dns::RType::kTXT);
    if (txt.rcode != dns::Rcode::kNoError || txt.records.size() != 1)
      return kDefaultExplanation;
    const std::string& text = txt.records.front();
    for (unsigned char c : text) {
      if (c < 0x20 || c > 0x7e)
        return kDefaultExplanation;
    }
    auto expanded = expand(text, ctx, true);
    return expanded ? *expanded : kDefaultExplanation;
  }

  dns::Resolver& resolver_;
  MacroContext base_;
  int lookups_ = 0;
  int voids_ = 0;
  std::optional<std::vector<std::string>> validated_;
  bool ptr_void_ = false;
  dns::Answer ptr_void_answer_;
};

Outcome run(dns::Resolver& resolver, const Request& req, std::string local, std::string domain,
            const char* identity) {
  Outcome out;
  out.identity = identity;
  if (local.empty())
    local = "postmaster";  // §4.3
  out.domain = strip_dot(domain);
  auto client = parse_address(req.client_ip);
  if (!client) {
    out.problem = "client address '" + req.client_ip + "' is not an IP address";
    return out;
  }
  if (!usable_identity(out.domain)) {
    out.problem = "'" + out.domain + "' is not a usable domain name";
    return out;
  }
  MacroContext base;
  base.local_part = local;
  base.sender_domain = out.domain;
  base.sender = local + "@" + out.domain;
  base.client = *client;
  base.helo = req.helo;
  base.receiver = req.receiver;
  base.now = req.now;
  Evaluator ev(resolver, std::move(base));
  Eval e = ev.check(out.domain, true);
  out.result = e.result;
  out.mechanism = std::move(e.mechanism);
  out.explanation = std::move(e.explanation);
  out.problem = std::move(e.problem);
  out.dns_lookups = ev.lookups();
  out.void_lookups = ev.voids();
  return out;
}

}  // namespace

const char* to_string(Result result) {
  switch (result) {
    case Result::kNone:
      return "none";
    case Result::kNeutral:
      return "neutral";
    case Result::kPass:
      return "pass";
    case Result::kFail:
      return "fail";
    case Result::kSoftFail:
      return "softfail";
    case Result::kTempError:
      return "temperror";
    case Result::kPermError:
      return "permerror";
  }
  return "?";
}

Outcome check_host(dns::Resolver& resolver, const Request& request) {
  std::string from = request.mail_from;
  if (from.size() >= 2 && from.front() == '<' && from.back() == '>')
    from = from.substr(1, from.size() - 2);
  if (from.empty())
    return run(resolver, request, "postmaster", request.helo, "mailfrom");
  auto at = from.rfind('@');
  if (at == std::string::npos)
    return run(resolver, request, "postmaster", from, "mailfrom");
  return run(resolver, request, from.substr(0, at), from.substr(at + 1), "mailfrom");
}

Outcome check_helo(dns::Resolver& resolver, const Request& request) {
  return run(resolver, request, "postmaster", request.helo, "helo");
}

Verdict verify(dns::Resolver& resolver, const Envelope& envelope) {
  Verdict v;
  v.helo = check_helo(resolver, envelope);
  std::string from = envelope.mail_from;
  if (from == "<>")
    from.clear();
  if (from.empty()) {
    v.mailfrom = v.helo;
    v.mailfrom.identity = "mailfrom";
  } else {
    v.mailfrom = check_host(resolver, envelope);
  }
  return v;
}

}  // namespace mailsift::spf
