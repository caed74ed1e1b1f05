// ARC validation (RFC 8617 §5.2) and sealing (§5.1) on top of the DKIM internals.
#include "arc/arc.h"
#include "core/ascii.h"

#include <map>
#include <optional>

#include "dkim/internal.h"

namespace mailsift::arc {

const char* to_string(ChainStatus cv) {
  switch (cv) {
    case ChainStatus::kNone:
      return "none";
    case ChainStatus::kPass:
      return "pass";
    case ChainStatus::kFail:
      return "fail";
  }
  return "?";
}

namespace {

using namespace dkim::detail;
using dkim::Algorithm;
using dkim::Status;

enum class Kind { kAar, kAms, kAs };

std::optional<Kind> arc_kind(std::string_view name) {
  if (iequals(name, "ARC-Authentication-Results"))
    return Kind::kAar;
  if (iequals(name, "ARC-Message-Signature"))
    return Kind::kAms;
  if (iequals(name, "ARC-Seal"))
    return Kind::kAs;
  return std::nullopt;
}

std::optional<int> parse_instance(std::string_view v, int max) {
  auto n = parse_uint(v);
  if (!n || *n < 1 || *n > max)
    return std::nullopt;
  return static_cast<int>(*n);
}

std::string_view field_value(const HeaderField& f) {
  size_t colon = f.raw.find(':');
  return colon == std::string_view::npos ? std::string_view() : f.raw.substr(colon + 1);
}

// The AAR starts with "i=N;" (RFC 8617 §4.1.1); the rest is an RFC 8601 payload.
std::optional<int> aar_instance(const HeaderField& f, int max, std::string* authserv_id) {
  std::string_view v = field_value(f);
  size_t semi = v.find(';');
  if (semi == std::string_view::npos)
    return std::nullopt;
  std::string_view first = trim_fws(v.substr(0, semi));
  size_t eq = first.find('=');
  if (eq == std::string_view::npos || trim_fws(first.substr(0, eq)) != "i")
    return std::nullopt;
  if (authserv_id != nullptr) {
    std::string_view rest = v.substr(semi + 1);
    size_t end = rest.find(';');
    *authserv_id = std::string(trim_fws(rest.substr(0, end)));
  }
  return parse_instance(trim_fws(first.substr(eq + 1)), max);
}

struct ArcSet {
  const HeaderField* aar = nullptr;
  const HeaderField* ams = nullptr;
  const HeaderField* as = nullptr;
  std::vector<Tag> ams_tags, as_tags;
  std::string authserv_id;
};

// Collects sets by instance. Returns an error reason on a malformed or duplicate member.
std::string collect_sets(const Message& msg, int max, std::map<int, ArcSet>& sets) {
  for (const auto& f : msg.headers) {
    auto kind = arc_kind(f.name);
    if (!kind)
      continue;
    if (*kind == Kind::kAar) {
      std::string id;
      auto i = aar_instance(f, max, &id);
      if (!i)
        return "malformed ARC-Authentication-Results instance";
      ArcSet& s = sets[*i];
      if (s.aar != nullptr)
        return "duplicate ARC-Authentication-Results i=" + std::to_string(*i);
      s.aar = &f;
      s.authserv_id = std::move(id);
      continue;
    }
    const char* what = *kind == Kind::kAms ? "ARC-Message-Signature" : "ARC-Seal";
    auto tags = parse_tag_list(field_value(f));
    if (!tags)
      return std::string("malformed ") + what + ": " + tags.error().message;
    const Tag* it = find_tag(*tags, "i");
    auto i = it ? parse_instance(it->value, max) : std::nullopt;
    if (!i)
      return std::string(what) + " without a valid i=";
    ArcSet& s = sets[*i];
    const HeaderField*& slot = *kind == Kind::kAms ? s.ams : s.as;
    if (slot != nullptr)
      return std::string("duplicate ") + what + " i=" + std::to_string(*i);
    slot = &f;
    (*kind == Kind::kAms ? s.ams_tags : s.as_tags) = std::move(*tags);
  }
  return "";
}

Result<Algorithm> arc_algorithm(const std::vector<Tag>& tags) {
  const Tag* a = find_tag(tags, "a");
  if (a == nullptr)
    return Error::malformed("missing a=");
  auto alg = parse_algorithm(a->value);
  // RFC 8617 §4.1.2: SHA-256 only; rsa-sha1 is not acceptable in ARC.
  if (!alg || *alg == Algorithm::kRsaSha1)
    return Error::malformed("unsupported a=" + std::string(a->value));
  return *alg;
}

bool bad_time(const std::vector<Tag>& tags) {
  const Tag* t = find_tag(tags, "t");
  return t != nullptr && !parse_uint(t->value);
}

// The ARC-Seal's own fields: a, b, cv, d, i, s (t optional, h= forbidden).
struct SealCore {
  Algorithm alg = Algorithm::kUnknown;
  std::string b, domain, selector, cv;
};

Result<SealCore> parse_seal(const std::vector<Tag>& tags) {
  SealCore s;
  auto alg = arc_algorithm(tags);
  if (!alg)
    return alg.error();
  s.alg = *alg;
  for (const char* req : {"b", "cv", "d", "s"}) {
    if (find_tag(tags, req) == nullptr)
      return Error::malformed(std::string("ARC-Seal without ") + req + "=");
  }
  if (find_tag(tags, "h") != nullptr)
    return Error::malformed("ARC-Seal with h=");
  if (bad_time(tags))
    return Error::malformed("bad t=");
  auto b = base64_decode(find_tag(tags, "b")->value);
  if (!b || b->empty())
    return Error::malformed("ARC-Seal b= is not base64");
  s.b = std::move(*b);
  s.domain = ascii_lower(find_tag(tags, "d")->value);
  s.selector = std::string(find_tag(tags, "s")->value);
  if (!valid_domain(s.domain) || !valid_domain(s.selector))
    return Error::malformed("bad d= or s=");
  s.cv = std::string(find_tag(tags, "cv")->value);
  if (s.cv != "none" && s.cv != "pass" && s.cv != "fail")
    return Error::malformed("bad cv=");
  return s;
}

Result<SigCore> parse_ams(const std::vector<Tag>& tags, const HeaderField* field) {
  auto alg = arc_algorithm(tags);
  if (!alg)
    return alg.error();
  auto core = parse_sig_core(tags);
  if (!core)
    return core.error();
  // Without c= the AMS is read as relaxed/relaxed, as the draft-era ARC implementations (dkimpy,
  // OpenARC) and the ValiMail suite (ams_fields_c_na) do; RFC 8617 signers always write c=.
  if (find_tag(tags, "c") == nullptr)
    core->header_canon = core->body_canon = Canon::kRelaxed;
  if (bad_time(tags))
    return Error::malformed("bad t=");
  for (const auto& h : core->signed_headers) {
    if (h == "arc-seal")
      return Error::malformed("AMS h= includes ARC-Seal");
  }
  core->field = field;
  return core;
}

// AS(i) signs AAR(k), AMS(k), AS(k) for k = 1..i in relaxed form, AS(i) without b= and CRLF.
std::string seal_input(const std::map<int, ArcSet>& sets, int upto) {
  std::string data;
  for (int k = 1; k <= upto; ++k) {
    const ArcSet& s = sets.at(k);
    append_canon_header(data, s.aar->raw, Canon::kRelaxed, true);
    append_canon_header(data, s.ams->raw, Canon::kRelaxed, true);
    if (k < upto)
      append_canon_header(data, s.as->raw, Canon::kRelaxed, true);
    else
      append_canon_header(data, strip_b_value(s.as->raw), Canon::kRelaxed, false);
  }
  return data;
}

ChainResult fail(ChainResult r, std::string reason, bool temporary = false) {
  r.cv = ChainStatus::kFail;
  r.reason = std::move(reason);
  r.temporary = temporary;
  return r;
}

}  // namespace

ChainResult validate(std::string_view raw, dns::Resolver& resolver,
                     const ValidateOptions& options) {
  ChainResult r;
  Message msg = parse_message(raw);
  std::map<int, ArcSet> sets;
  // Instances are parsed up to a generous bound so that "too many sets" is reported as such.
  std::string err = collect_sets(msg, 1000, sets);
  if (!err.empty())
    return fail(r, err);
  if (sets.empty()) {
    r.reason = "no ARC sets";
    return r;
  }
  int n = sets.rbegin()->first;
  r.instances = n;
  if (n > options.max_instances)
    return fail(r, "more than " + std::to_string(options.max_instances) + " ARC sets");
  for (int i = 1; i <= n; ++i) {
    auto it = sets.find(i);
    if (it == sets.end())
      return fail(r, "ARC set " + std::to_string(i) + " missing");
    const ArcSet& s = it->second;
    if (s.aar == nullptr || s.ams == nullptr || s.as == nullptr)
      return fail(r, "ARC set " + std::to_string(i) + " incomplete");
  }
  // Parse every AS and AMS first: any malformed member fails the chain.
  std::vector<SealCore> seals(n + 1);
  std::vector<SigCore> amss(n + 1);
  for (int i = 1; i <= n; ++i) {
    ArcSet& s = sets[i];
    auto seal = parse_seal(s.as_tags);
    if (!seal)
      return fail(r, "ARC-Seal i=" + std::to_string(i) + ": " + seal.error().message);
    seals[i] = std::move(*seal);
    auto ams = parse_ams(s.ams_tags, s.ams);
    if (!ams)
      return fail(r, "ARC-Message-Signature i=" + std::to_string(i) + ": " + ams.error().message);
    amss[i] = std::move(*ams);
    InstanceInfo info;
    info.instance = i;
    info.ams_domain = amss[i].domain;
    info.seal_domain = seals[i].domain;
    info.authserv_id = s.authserv_id;
    r.sets.push_back(std::move(info));
  }
  // cv= rules (§5.2 steps 2-3): the newest must not record a failure; i=1 says none, others pass.
  if (seals[n].cv == "fail")
    return fail(r, "chain already failed (cv=fail at i=" + std::to_string(n) + ")");
  for (int i = 1; i <= n; ++i) {
    if (seals[i].cv != (i == 1 ? "none" : "pass"))
      return fail(r, "ARC-Seal i=" + std::to_string(i) + " has cv=" + seals[i].cv);
  }
  // One batch of key lookups for all AMS and AS.
  std::vector<dns::Query> queries;
  std::map<std::string, size_t> index;
  auto want = [&](const std::string& sel, const std::string& dom) {
    std::string name = ascii_lower(key_query_name(sel, dom));
    auto [it, inserted] = index.emplace(name, queries.size());
    if (inserted)
      queries.push_back({name, dns::RType::kTXT});
    return it->second;
  };
  std::vector<size_t> ams_q(n + 1), as_q(n + 1);
  for (int i = 1; i <= n; ++i) {
    ams_q[i] = want(amss[i].selector, amss[i].domain);
    as_q[i] = want(seals[i].selector, seals[i].domain);
  }
  std::vector<dns::Answer> answers = resolver.resolve_many(queries);
  std::vector<std::optional<KeyLookup>> keys(queries.size());
  auto key = [&](size_t q) -> const KeyLookup& {
    if (!keys[q])
      keys[q] = q < answers.size() ? key_from_answer(answers[q])
                                   : KeyLookup{Status::kTempError, "no answer", {}};
    return *keys[q];
  };
  BodyHashCache bodies(msg);
  auto verify_ams = [&](int i, std::string& reason) {
    Status st = check_key(key(ams_q[i]), amss[i].alg, options.min_rsa_bits, reason);
    if (st == Status::kPass)
      st = verify_core(msg, amss[i], key(ams_q[i]).record, bodies, reason, nullptr);
    r.sets[i - 1].ams = st;
    return st;
  };
  std::string reason;
  Status newest = verify_ams(n, reason);
  if (newest != Status::kPass)
    return fail(r, "ARC-Message-Signature i=" + std::to_string(n) + ": " + reason,
                newest == Status::kTempError);
  r.oldest_pass = n;
  for (int i = n - 1; i >= 1; --i) {
    std::string ignored;
    if (verify_ams(i, ignored) != Status::kPass)
      break;
    r.oldest_pass = i;
  }
  for (int i = n; i >= 1; --i) {
    Status st = check_key(key(as_q[i]), seals[i].alg, options.min_rsa_bits, reason);
    if (st == Status::kPass &&
        !verify_signature(key(as_q[i]).record.key, seals[i].alg, seal_input(sets, i), seals[i].b)) {
      st = Status::kFail;
      reason = "signature mismatch";
    }
    if (st != Status::kPass)
      return fail(r, "ARC-Seal i=" + std::to_string(i) + ": " + reason, st == Status::kTempError);
  }
  r.cv = ChainStatus::kPass;
  r.reason = "chain of " + std::to_string(n) + " verified";
  return r;
}

Result<SealedFields> seal(std::string_view raw, const dkim::SigningKey& key,
                          const SealOptions& options, std::string_view authserv_id,
                          std::string_view ar_text, int64_t now, const ChainResult& chain) {
  if (!key.pkey())
    return Error::config("no sealing key");
  if (options.domain.empty() || options.selector.empty() || authserv_id.empty())
    return Error::config("sealing needs a domain, a selector and an authserv-id");
  Message msg = parse_message(raw);
  std::map<int, ArcSet> sets;
  std::string err = collect_sets(msg, 1000, sets);
  int n = sets.empty() ? 1 : sets.rbegin()->first + 1;
  if (n > 50)
    return Error::permanent("ARC chain already has 50 sets");
  // What this hop records: a chain it could not validate as a whole is fail.
  std::string cv = n == 1 ? "none" : "pass";
  bool covers_chain = n > 1;
  if (!err.empty() || chain.cv == ChainStatus::kFail || (n > 1 && chain.cv != ChainStatus::kPass)) {
    cv = n == 1 && err.empty() && chain.cv == ChainStatus::kNone ? "none" : "fail";
    covers_chain = false;
  }
  for (int i = 1; covers_chain && i < n; ++i) {
    auto it = sets.find(i);
    covers_chain = it != sets.end() && it->second.aar && it->second.ams && it->second.as;
  }
  if (n > 1 && !covers_chain)
    cv = "fail";
  Algorithm alg = key.ed25519() ? Algorithm::kEd25519Sha256 : Algorithm::kRsaSha256;
  std::string inst = std::to_string(n);
  std::string ts = std::to_string(now);

  SealedFields out;
  std::string text(trim_fws(ar_text));
  out.authentication_results = "ARC-Authentication-Results: i=" + inst + "; " +
                               std::string(authserv_id) + (text.empty() ? "; none" : "; " + text) +
                               "\r\n";

  // AMS over the message as it will be (the new AAR on top), relaxed/relaxed.
  std::string base(msg.owned ? std::string_view(*msg.owned) : raw);
  std::string with_aar = out.authentication_results + base;
  Message m2 = parse_message(with_aar);
  std::vector<std::string> names;
  for (const auto& h : options.headers.empty() ? dkim::default_signed_headers() : options.headers) {
    std::string l = ascii_lower(h);
    if (l == "arc-seal")
      continue;  // RFC 8617 §4.1.2: never in the AMS
    bool listed = false;
    for (const auto& x : names)
      listed |= x == l;
    if (listed)
      continue;
    for (const auto& f : m2.headers) {
      if (iequals(f.name, l))
        names.push_back(l);
    }
  }
  std::string bh = base64_encode(digest(Hash::kSha256, canon_body(m2.body, Canon::kRelaxed)));
  std::string h = "h=";
  for (size_t i = 0; i < names.size(); ++i)
    h += (i ? ":" : "") + names[i];
  // Tags in alphabetical order, lower case, as the ARC test suite's signers write them.
  auto ams_tags = [&](const std::string& b) {
    return std::vector<std::string>{std::string("a=") + dkim::to_string(alg),
                                    "b=" + b,
                                    "bh=" + bh,
                                    "c=relaxed/relaxed",
                                    "d=" + options.domain,
                                    h,
                                    "i=" + inst,
                                    "s=" + options.selector,
                                    "t=" + ts};
  };
  std::string ams_unsigned = fold_tags("ARC-Message-Signature", ams_tags(""), false);
  auto ams_sig = sign_data(key, alg, header_hash_input(m2, names, Canon::kRelaxed, ams_unsigned));
  if (!ams_sig)
    return ams_sig.error();
  out.message_signature =
      fold_tags("ARC-Message-Signature", ams_tags(base64_encode(*ams_sig)), false);

  auto as_tags = [&](const std::string& b) {
    return std::vector<std::string>{std::string("a=") + dkim::to_string(alg),
                                    "b=" + b,
                                    "cv=" + cv,
                                    "d=" + options.domain,
                                    "i=" + inst,
                                    "s=" + options.selector,
                                    "t=" + ts};
  };
  std::string data;
  for (int k = 1; covers_chain && k < n; ++k) {
    const ArcSet& s = sets.at(k);
    append_canon_header(data, s.aar->raw, Canon::kRelaxed, true);
    append_canon_header(data, s.ams->raw, Canon::kRelaxed, true);
    append_canon_header(data, s.as->raw, Canon::kRelaxed, true);
  }
  append_canon_header(data, out.authentication_results, Canon::kRelaxed, true);
  append_canon_header(data, out.message_signature, Canon::kRelaxed, true);
  append_canon_header(data, fold_tags("ARC-Seal", as_tags(""), false), Canon::kRelaxed, false);
  auto as_sig = sign_data(key, alg, data);
  if (!as_sig)
    return as_sig.error();
  out.seal = fold_tags("ARC-Seal", as_tags(base64_encode(*as_sig)), false);
  return out;
}

}  // namespace mailsift::arc
