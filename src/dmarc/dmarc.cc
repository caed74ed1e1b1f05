#include "dmarc/dmarc.h"

#include <libpsl.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/ascii.h"

namespace mailsift::dmarc {
namespace {

bool is_wsp(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string normalize_domain(std::string_view d) {
  std::string out = ascii_lower(trim(d));
  while (!out.empty() && out.back() == '.')
    out.pop_back();
  return out;
}

std::optional<Policy> parse_policy(std::string_view v) {
  std::string s = ascii_lower(v);
  if (s == "none")
    return Policy::kNone;
  if (s == "quarantine")
    return Policy::kQuarantine;
  if (s == "reject")
    return Policy::kReject;
  return std::nullopt;
}

std::optional<Alignment> parse_alignment(std::string_view v) {
  std::string s = ascii_lower(v);
  if (s == "r")
    return Alignment::kRelaxed;
  if (s == "s")
    return Alignment::kStrict;
  return std::nullopt;
}

template <typename T>
std::optional<T> parse_uint(std::string_view v, T max) {
  if (v.empty() || v.size() > 10)
    return std::nullopt;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n > static_cast<uint64_t>(max))
    return std::nullopt;
  return static_cast<T>(n);
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; a URI needs a scheme and a rest.
bool valid_uri(std::string_view u) {
  auto colon = u.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 >= u.size())
    return false;
  if (!std::isalpha(static_cast<unsigned char>(u[0])))
    return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = u[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
      return false;
  }
  for (char c : u) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return false;
  }
  return true;
}

bool uri_list(std::string_view v, std::vector<std::string>& out) {
  size_t start = 0;
  bool all_valid = true;
  while (start <= v.size()) {
    auto comma = v.find(',', start);
    std::string_view u =
        trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
    if (valid_uri(u)) {
      out.emplace_back(u);
    } else {
      all_valid = false;
    }
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return all_valid;
}

// Colon-separated options from a fixed alphabet (fo=, rf=).
bool option_list(std::string_view v, std::initializer_list<std::string_view> allowed) {
  if (v.empty())
    return false;
  size_t start = 0;
  while (true) {
    auto colon = v.find(':', start);
    std::string s = ascii_lower(
        trim(v.substr(start, colon == std::string_view::npos ? v.npos : colon - start)));
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
      return false;
    if (colon == std::string_view::npos)
      return true;
    start = colon + 1;
  }
}

std::vector<std::pair<std::string, std::string_view>> split_tags(std::string_view txt) {
  std::vector<std::pair<std::string, std::string_view>> tags;
  size_t start = 0;
  while (start <= txt.size()) {
    auto semi = txt.find(';', start);
    std::string_view part =
        trim(txt.substr(start, semi == std::string_view::npos ? txt.npos : semi - start));
    if (!part.empty()) {
      auto eq = part.find('=');
      if (eq == std::string_view::npos) {
        tags.emplace_back(ascii_lower(part), std::string_view{});  // malformed: no value
      } else {
        tags.emplace_back(ascii_lower(trim(part.substr(0, eq))), trim(part.substr(eq + 1)));
      }
    }
    if (semi == std::string_view::npos)
      break;
    start = semi + 1;
  }
  return tags;
}

const psl_ctx_t* psl() {
  // The newer of libpsl's built-in list and the system list (/usr/share/publicsuffix), loaded
  // once; psl_latest() returns NULL only when neither is available.
  static const psl_ctx_t* ctx = [] {
    const psl_ctx_t* c = psl_latest(nullptr);
    return c ? c : psl_builtin();
  }();
  return ctx;
}

bool usable_domain(const std::string& d) {
  if (d.empty() || d.size() > 253 || d.front() == '[' || d.front() == '.')
    return false;
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0)
        return false;
      label = 0;
    } else if (++label > 63 || static_cast<unsigned char>(c) <= 0x20 || c == '@') {
      return false;
    }
  }
  return label > 0;
}

bool aligned(const std::string& id, const std::string& from, Alignment mode) {
  std::string a = normalize_domain(id);
  if (a.empty())
    return false;
  if (mode == Alignment::kStrict)
    return a == from;
  return organizational_domain(a) == organizational_domain(from);
}

struct Lookup {
  enum { kFound, kNone, kTemp, kPerm } state = kNone;
  std::string text;
  std::string problem;
};

Lookup discover(dns::Resolver& resolver, const std::string& domain) {
  Lookup l;
  std::string name = "_dmarc." + domain;
  auto a = resolver.resolve(name, dns::RType::kTXT);
  if (a.temporary_failure()) {
    l.state = Lookup::kTemp;
    l.problem = "DNS " + std::string(dns::to_string(a.rcode)) + " on TXT " + name;
    return l;
  }
  std::vector<std::string> found;
  for (const auto& r : a.records) {
    if (is_dmarc_record(r))
      found.push_back(r);
  }
  if (found.empty()) {
    l.problem = "no DMARC record at " + name;
    return l;
  }
  if (found.size() > 1) {
    l.state = Lookup::kPerm;
    l.problem = "several DMARC records at " + name;
    return l;
  }
  l.state = Lookup::kFound;
  l.text = found.front();
  return l;
}

// RFC 9091 §2.7: a domain is non-existent when A, AAAA and MX all answer NXDOMAIN or NODATA. A
// temporary failure on any of them counts as existing (sp/p apply, the weaker assumption).
bool domain_exists(dns::Resolver& resolver, const std::string& domain) {
  std::vector<dns::Query> qs = {
      {domain, dns::RType::kA}, {domain, dns::RType::kAAAA}, {domain, dns::RType::kMX}};
  for (const auto& a : resolver.resolve_many(qs)) {
    if (a.temporary_failure() || !a.empty())
      return true;
  }
  return false;
}

Policy one_step_lower(Policy p) {
  return p == Policy::kReject ? Policy::kQuarantine : Policy::kNone;
}

}  // namespace

const char* to_string(Result result) {
  switch (result) {
    case Result::kNone:
      return "none";
    case Result::kPass:
      return "pass";
    case Result::kFail:
      return "fail";
    case Result::kTempError:
      return "temperror";
    case Result::kPermError:
      return "permerror";
  }
  return "?";
}

const char* to_string(Policy policy) {
  switch (policy) {
    case Policy::kNone:
      return "none";
    case Policy::kQuarantine:
      return "quarantine";
    case Policy::kReject:
      return "reject";
  }
  return "?";
}

bool is_dmarc_record(std::string_view txt) {
  auto tags = split_tags(txt.substr(0, std::min<size_t>(txt.size(), 64)));
  return !tags.empty() && tags.front().first == "v" && tags.front().second == "DMARC1";
}

mailsift::Result<Record> parse_record(std::string_view txt) {
  auto tags = split_tags(txt);
  if (tags.empty() || tags.front().first != "v" || tags.front().second != "DMARC1")
    return Error::permanent("not a DMARC record (v=DMARC1 must come first)");
  Record rec;
  bool p_valid = false, sp_invalid = false, rua_valid = false;
  std::vector<std::string> seen;
  for (size_t i = 1; i < tags.size(); ++i) {
    const std::string& tag = tags[i].first;
    std::string_view value = tags[i].second;
    if (std::find(seen.begin(), seen.end(), tag) != seen.end()) {
      rec.warnings.push_back("duplicate " + tag + "= ignored");
      continue;
    }
    seen.push_back(tag);
    auto bad = [&] {
      rec.warnings.push_back("invalid " + tag + "=" + std::string(value.substr(0, 64)));
    };
    if (tag == "v") {
      bad();
    } else if (tag == "p") {
      if (auto p = parse_policy(value)) {
        rec.p = *p;
        p_valid = true;
      } else {
        bad();
      }
    } else if (tag == "sp" || tag == "np") {
      if (auto p = parse_policy(value)) {
        (tag == "sp" ? rec.sp : rec.np) = *p;
      } else {
        bad();
        if (tag == "sp")
          sp_invalid = true;
      }
    } else if (tag == "adkim" || tag == "aspf") {
      if (auto a = parse_alignment(value)) {
        (tag == "adkim" ? rec.adkim : rec.aspf) = *a;
      } else {
        bad();
      }
    } else if (tag == "pct") {
      if (auto n = parse_uint<int>(value, 100)) {
        rec.pct = *n;
      } else {
        bad();
      }
    } else if (tag == "rua" || tag == "ruf") {
      auto& list = tag == "rua" ? rec.rua : rec.ruf;
      if (!uri_list(value, list))
        bad();
      if (tag == "rua" && !list.empty())
        rua_valid = true;
    } else if (tag == "fo") {
      if (option_list(value, {"0", "1", "d", "s"})) {
        rec.fo = std::string(value);
      } else {
        bad();
      }
    } else if (tag == "rf") {
      if (option_list(value, {"afrf"})) {
        rec.rf = std::string(value);
      } else {
        bad();
      }
    } else if (tag == "ri") {
      if (auto n = parse_uint<uint32_t>(value, UINT32_MAX)) {
        rec.ri = *n;
      } else {
        bad();
      }
    }
    // Unknown tags are ignored (§6.3).
  }
  // §6.6.3 step 6: no valid p= (or a bad sp=) is usable only as p=none when rua= is valid.
  if (!p_valid || sp_invalid) {
    if (!rua_valid)
      return Error::permanent("no valid p= (or invalid sp=) and no valid rua=");
    rec.p = Policy::kNone;
    rec.sp.reset();
    rec.warnings.push_back("treated as p=none (invalid or missing p=/sp=, valid rua=)");
  }
  return rec;
}

std::string organizational_domain(std::string_view domain) {
  std::string d = normalize_domain(domain);
  if (d.empty())
    return d;
  const char* reg = psl() ? psl_registrable_domain(psl(), d.c_str()) : nullptr;
  return reg ? std::string(reg) : d;
}

Outcome evaluate(dns::Resolver& resolver, const Input& input) {
  Outcome out;
  std::string from = normalize_domain(input.header_from_domain);
  if (!usable_domain(from)) {
    out.result = Result::kPermError;
    out.problem = "RFC5322.From domain '" + input.header_from_domain + "' is not usable";
    return out;
  }
  out.org_domain = organizational_domain(from);

  Lookup l = discover(resolver, from);
  out.record_domain = from;
  if (l.state == Lookup::kNone && out.org_domain != from) {
    l = discover(resolver, out.org_domain);
    out.record_domain = out.org_domain;
  }
  switch (l.state) {
    case Lookup::kTemp:
      out.result = Result::kTempError;
      out.problem = l.problem;
      return out;
    case Lookup::kPerm:
      out.result = Result::kPermError;
      out.problem = l.problem;
      return out;
    case Lookup::kNone:
      out.record_domain.clear();
      out.problem = l.problem;
      return out;
    case Lookup::kFound:
      break;
  }
  out.record = l.text;
  auto rec = parse_record(l.text);
  if (!rec) {
    out.result = Result::kPermError;
    out.problem = rec.error().message;
    return out;
  }
  out.pct = rec->pct;

  // Policy: p at the From domain itself; for a subdomain found via the org domain sp (np when the
  // From domain does not exist), each falling back to the more general one.
  out.policy = rec->p;
  out.applied_policy_source = "p";
  if (out.record_domain != from) {
    if (rec->np && !domain_exists(resolver, from)) {
      out.policy = *rec->np;
      out.applied_policy_source = "np";
    } else if (rec->sp) {
      out.policy = *rec->sp;
      out.applied_policy_source = "sp";
    }
  }

  bool dkim_ok = std::any_of(input.dkim.begin(), input.dkim.end(), [&](const DkimSignature& s) {
    return s.pass && aligned(s.domain, from, rec->adkim);
  });
  bool spf_ok =
      input.spf_result == spf::Result::kPass && aligned(input.spf_domain, from, rec->aspf);
  if (dkim_ok || spf_ok) {
    out.result = Result::kPass;
    out.aligned_via = dkim_ok ? "dkim" : "spf";
    return out;
  }
  out.result = Result::kFail;
  out.problem = "no aligned SPF or DKIM pass for " + from;
  // §6.6.4: a message outside the pct sample gets the next policy down.
  out.sampled_out = input.random_draw >= rec->pct;
  out.disposition = out.sampled_out ? one_step_lower(out.policy) : out.policy;
  return out;
}

// --- RFC5322.From ---------------------------------------------------------------------------

namespace {

// Splits a From field body into mailbox strings at top-level commas, dropping comments and
// group names; returns the addr-spec of each mailbox (angle-addr content when present).
std::vector<std::string> mailboxes(std::string_view v) {
  std::vector<std::string> out;
  std::string cur, angle;
  bool in_quote = false, in_angle = false, had_angle = false;
  int comment = 0;
  auto flush = [&] {
    std::string a = had_angle ? angle : std::string(trim(cur));
    if (!trim(a).empty())
      out.push_back(std::string(trim(a)));
    cur.clear();
    angle.clear();
    had_angle = false;
  };
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (comment > 0) {
      if (c == '\\' && i + 1 < v.size()) {
        ++i;
      } else if (c == '(') {
        ++comment;
      } else if (c == ')') {
        --comment;
      }
      continue;
    }
    if (in_quote) {
      if (c == '\\' && i + 1 < v.size()) {
        (in_angle ? angle : cur).push_back(v[++i]);
      } else if (c == '"') {
        in_quote = false;
        (in_angle ? angle : cur).push_back(c);
      } else {
        (in_angle ? angle : cur).push_back(c);
      }
      continue;
    }
    if (c == '"') {
      in_quote = true;
      (in_angle ? angle : cur).push_back(c);
    } else if (c == '(') {
      comment = 1;
    } else if (c == '<' && !in_angle) {
      in_angle = true;
      had_angle = true;
      angle.clear();
    } else if (c == '>' && in_angle) {
      in_angle = false;
    } else if (in_angle) {
      if (!is_wsp(c))
        angle.push_back(c);
    } else if (c == ':') {
      cur.clear();  // group name: "undisclosed-recipients:" or "team: a@x, b@y;"
    } else if (c == ',' || c == ';') {
      flush();
    } else {
      cur.push_back(c);
    }
  }
  flush();
  return out;
}

}  // namespace

mailsift::Result<std::string> author_domain(std::span<const std::string> from_fields) {
  if (from_fields.empty())
    return Error::malformed("no From header field");
  if (from_fields.size() > 1)
    return Error::malformed("several From header fields");
  std::string domain;
  for (const auto& box : mailboxes(from_fields.front())) {
    // An addr-spec without "@" (e.g. a display name only) is not an address.
    auto at = box.rfind('@');
    if (at == std::string::npos)
      continue;
    std::string d = normalize_domain(box.substr(at + 1));
    if (d.empty() || !usable_domain(d))
      return Error::permanent("From address '" + box + "' has no usable domain");
    if (!domain.empty() && d != domain)
      return Error::permanent("From has several author domains");
    domain = d;
  }
  if (domain.empty())
    return Error::malformed("no address in the From header field");
  return domain;
}

}  // namespace mailsift::dmarc
