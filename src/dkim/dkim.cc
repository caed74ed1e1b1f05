// DKIM verify and sign (RFC 6376 §5, §6; RFC 8463; RFC 8301).
#include "dkim/dkim.h"
#include "core/ascii.h"

#include <cctype>
#include <charconv>
#include <set>

#include "dkim/internal.h"

namespace mailsift::dkim {

const char* to_string(Status status) {
  switch (status) {
    case Status::kPass:
      return "pass";
    case Status::kFail:
      return "fail";
    case Status::kNeutral:
      return "neutral";
    case Status::kPolicy:
      return "policy";
    case Status::kTempError:
      return "temperror";
    case Status::kPermError:
      return "permerror";
  }
  return "?";
}

const char* to_string(Algorithm alg) {
  switch (alg) {
    case Algorithm::kRsaSha256:
      return "rsa-sha256";
    case Algorithm::kRsaSha1:
      return "rsa-sha1";
    case Algorithm::kEd25519Sha256:
      return "ed25519-sha256";
    case Algorithm::kUnknown:
      return "unknown";
  }
  return "?";
}

namespace detail {

Result<Algorithm> parse_algorithm(std::string_view a) {
  std::string l = ascii_lower(a);
  if (l == "rsa-sha256")
    return Algorithm::kRsaSha256;
  if (l == "rsa-sha1")
    return Algorithm::kRsaSha1;
  if (l == "ed25519-sha256")
    return Algorithm::kEd25519Sha256;
  return Error::malformed("unsupported algorithm " + std::string(a));
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253)
    return false;
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0)
        return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return false;
    if (++label > 63)
      return false;
  }
  return label > 0;
}

Hash hash_of(Algorithm alg) {
  return alg == Algorithm::kRsaSha1 ? Hash::kSha1 : Hash::kSha256;
}

constexpr size_t kMaxSignedHeaders = 256;

// Decimal without sign, at most 12 digits (RFC 6376 limits t=/x= to 12, l= to 76 digits; more
// than 12 digits for l= is past any message we accept anyway).
std::optional<int64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 12)
    return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0)
    return std::nullopt;
  return v;
}

Result<SigCore> parse_sig_core(const std::vector<Tag>& tags) {
  SigCore sig;
  for (const char* req : {"a", "b", "bh", "d", "h", "s"}) {
    if (find_tag(tags, req) == nullptr)
      return Error::malformed(std::string("missing ") + req + "=");
  }
  auto alg = parse_algorithm(find_tag(tags, "a")->value);
  if (!alg)
    return alg.error();
  sig.alg = *alg;
  auto b = base64_decode(find_tag(tags, "b")->value);
  auto bh = base64_decode(find_tag(tags, "bh")->value);
  if (!b || b->empty())
    return Error::malformed("b= is not base64");
  if (!bh || bh->empty())
    return Error::malformed("bh= is not base64");
  sig.b = std::move(*b);
  sig.bh = std::move(*bh);
  sig.domain = ascii_lower(find_tag(tags, "d")->value);
  sig.selector = std::string(find_tag(tags, "s")->value);
  if (!valid_domain(sig.domain) || !valid_domain(sig.selector))
    return Error::malformed("bad d= or s=");
  sig.signed_headers = split_colon_list(find_tag(tags, "h")->value);
  // Selection is O(h= names x header fields): bound it. Real signers list a few dozen.
  if (sig.signed_headers.size() > kMaxSignedHeaders)
    return Error::malformed("h= lists more than " + std::to_string(kMaxSignedHeaders) + " fields");
  if (const Tag* c = find_tag(tags, "c")) {
    std::string v = ascii_lower(remove_fws(c->value));
    size_t slash = v.find('/');
    std::string hc = v.substr(0, slash);
    std::string bc = slash == std::string::npos ? "simple" : v.substr(slash + 1);
    auto parse = [](const std::string& s, Canon& out) {
      if (s == "simple")
        out = Canon::kSimple;
      else if (s == "relaxed")
        out = Canon::kRelaxed;
      else
        return false;
      return true;
    };
    if (!parse(hc, sig.header_canon) || !parse(bc, sig.body_canon))
      return Error::malformed("unknown canonicalization " + v);
  }
  if (const Tag* l = find_tag(tags, "l")) {
    auto v = parse_uint(l->value);
    if (!v)
      return Error::malformed("bad l=");
    sig.length = *v;
  }
  return sig;
}

bool BodyHashCache::get(Canon canon, Hash hash, int64_t length, std::string& out,
                        size_t& unsigned_bytes) {
  auto key = std::make_tuple(canon, hash, length);
  auto it = hashes_.find(key);
  if (it == hashes_.end()) {
    auto cit = canon_.find(canon);
    if (cit == canon_.end())
      cit = canon_.emplace(canon, canon_body(msg_.body, canon)).first;
    const std::string& body = cit->second;
    if (length >= 0 && static_cast<uint64_t>(length) > body.size())
      return false;
    size_t n = length >= 0 ? static_cast<size_t>(length) : body.size();
    it = hashes_
             .emplace(key, std::make_pair(digest(hash, std::string_view(body).substr(0, n)),
                                          body.size() - n))
             .first;
  }
  out = it->second.first;
  unsigned_bytes = it->second.second;
  return true;
}

// Key usable for `alg`? Sets reason and returns the status to report otherwise.
Status check_key(const KeyLookup& key, Algorithm alg, unsigned min_bits, std::string& reason) {
  if (key.status != Status::kPass) {
    reason = key.reason;
    return key.status;
  }
  if (key.record.ed25519 != (alg == Algorithm::kEd25519Sha256)) {
    reason = "key type does not match a=";
    return Status::kPermError;
  }
  if (!key.record.ed25519 && key.record.key.bits < min_bits) {
    reason = "rsa key too small (" + std::to_string(key.record.key.bits) + " bits)";
    return Status::kPermError;
  }
  if (!key.record.hashes.empty()) {
    std::string want = alg == Algorithm::kRsaSha1 ? "sha1" : "sha256";
    bool ok = false;
    for (const auto& h : key.record.hashes)
      ok |= h == want;
    if (!ok) {
      reason = "key h= does not allow " + want;
      return Status::kPolicy;
    }
  }
  return Status::kPass;
}

Status verify_core(const Message& msg, const SigCore& sig, const KeyRecord& key,
                   BodyHashCache& bodies, std::string& reason, size_t* unsigned_bytes) {
  std::string bh;
  size_t rest = 0;
  if (!bodies.get(sig.body_canon, hash_of(sig.alg), sig.length, bh, rest)) {
    reason = "l= is longer than the body";
    return Status::kFail;
  }
  if (unsigned_bytes != nullptr)
    *unsigned_bytes = rest;
  if (bh != sig.bh) {
    reason = "body hash mismatch";
    return Status::kFail;
  }
  std::string data = header_hash_input(msg, sig.signed_headers, sig.header_canon, sig.field->raw);
  if (!verify_signature(key.key, sig.alg, data, sig.b)) {
    reason = "signature mismatch";
    return Status::kFail;
  }
  return Status::kPass;
}

}  // namespace detail

using namespace detail;

namespace {

struct Pending {
  SignatureResult result;
  SigCore core;
  bool needs_key = false;
  size_t query = 0;
};

// Parses one DKIM-Signature; on error sets result/reason and returns false.
bool parse_dkim_signature(const HeaderField& field, int64_t now, const VerifyOptions& opt,
                          Pending& p) {
  SignatureResult& r = p.result;
  size_t colon = field.raw.find(':');
  auto tags = parse_tag_list(field.raw.substr(colon + 1));
  if (!tags) {
    r.result = Status::kNeutral;
    r.reason = "signature syntax: " + tags.error().message;
    return false;
  }
  if (const Tag* d = find_tag(*tags, "d"))
    r.domain = ascii_lower(d->value);
  if (const Tag* s = find_tag(*tags, "s"))
    r.selector = std::string(s->value);
  if (const Tag* b = find_tag(*tags, "b"))
    r.header_b = remove_fws(b->value).substr(0, 8);
  if (const Tag* a = find_tag(*tags, "a")) {
    auto alg = parse_algorithm(a->value);
    r.algorithm = alg ? *alg : Algorithm::kUnknown;
  }
  const Tag* v = find_tag(*tags, "v");
  if (v == nullptr || v->value != "1") {
    r.result = Status::kNeutral;
    r.reason = v == nullptr ? "missing v=" : "unsupported version v=" + std::string(v->value);
    return false;
  }
  auto core = parse_sig_core(*tags);
  if (!core) {
    r.result = Status::kNeutral;
    r.reason = "signature syntax: " + core.error().message;
    return false;
  }
  p.core = std::move(*core);
  p.core.field = &field;
  r.weak = p.core.alg == Algorithm::kRsaSha1;
  r.body_length = p.core.length;
  bool from_signed = false;
  for (const auto& h : p.core.signed_headers)
    from_signed |= h == "from";
  if (!from_signed) {
    r.result = Status::kNeutral;
    r.reason = "From is not signed";
    return false;
  }
  // i= must be the domain of d= or a subdomain of it.
  r.identity = "@" + p.core.domain;
  if (const Tag* i = find_tag(*tags, "i")) {
    std::string id = remove_fws(i->value);
    size_t at = id.rfind('@');
    std::string dom = at == std::string::npos ? "" : ascii_lower(id.substr(at + 1));
    if (at == std::string::npos ||
        !(dom == p.core.domain ||
          (dom.size() > p.core.domain.size() && dom.ends_with("." + p.core.domain)))) {
      r.result = Status::kNeutral;
      r.reason = "i= is not within d=";
      return false;
    }
    r.identity = id;
  }
  if (const Tag* q = find_tag(*tags, "q")) {
    bool dns = false;
    for (const auto& m : split_colon_list(q->value))
      dns |= m == "dns/txt";
    if (!dns) {
      r.result = Status::kNeutral;
      r.reason = "unsupported q=";
      return false;
    }
  }
  std::optional<int64_t> t, x;
  if (const Tag* tt = find_tag(*tags, "t")) {
    t = parse_uint(tt->value);
    if (!t) {
      r.result = Status::kNeutral;
      r.reason = "bad t=";
      return false;
    }
  }
  if (const Tag* xt = find_tag(*tags, "x")) {
    x = parse_uint(xt->value);
    if (!x || (t && *x < *t)) {
      r.result = Status::kNeutral;
      r.reason = "bad x= (before t=)";
      return false;
    }
  }
  if (x && *x < now) {
    r.result = Status::kPermError;
    r.reason = "signature expired (x=)";
    return false;
  }
  if (t && *t > now + opt.max_future_skew) {
    r.result = Status::kPermError;
    r.reason = "signature timestamp t= in the future";
    return false;
  }
  return true;
}

}  // namespace

std::vector<SignatureResult> verify(std::string_view raw, dns::Resolver& resolver, int64_t now_unix,
                                    const VerifyOptions& options) {
  Message msg = parse_message(raw);
  std::vector<Pending> sigs;
  std::vector<dns::Query> queries;
  std::map<std::string, size_t> query_index;
  size_t evaluated = 0;
  for (const auto& field : msg.headers) {
    if (!iequals(field.name, "DKIM-Signature"))
      continue;
    Pending p;
    if (evaluated >= options.max_signatures) {
      // Still name it (d=, s=, header.b) so the report says which signature was skipped.
      size_t colon = field.raw.find(':');
      if (auto tags = parse_tag_list(field.raw.substr(colon + 1)); tags.ok()) {
        if (const Tag* d = find_tag(*tags, "d"))
          p.result.domain = ascii_lower(d->value);
        if (const Tag* s = find_tag(*tags, "s"))
          p.result.selector = std::string(s->value);
        if (const Tag* b = find_tag(*tags, "b"))
          p.result.header_b = remove_fws(b->value).substr(0, 8);
      }
      p.result.result = Status::kNeutral;
      p.result.reason =
          "not evaluated: more than " + std::to_string(options.max_signatures) + " signatures";
      sigs.push_back(std::move(p));
      continue;
    }
    ++evaluated;
    if (parse_dkim_signature(field, now_unix, options, p)) {
      std::string name = ascii_lower(key_query_name(p.core.selector, p.core.domain));
      auto [it, inserted] = query_index.emplace(name, queries.size());
      if (inserted)
        queries.push_back({name, dns::RType::kTXT});
      p.needs_key = true;
      p.query = it->second;
    }
    sigs.push_back(std::move(p));
  }
  std::vector<dns::Answer> answers;
  if (!queries.empty())
    answers = resolver.resolve_many(queries);
  BodyHashCache bodies(msg);
  std::vector<SignatureResult> out;
  out.reserve(sigs.size());
  for (auto& p : sigs) {
    SignatureResult& r = p.result;
    if (p.needs_key) {
      KeyLookup key = p.query < answers.size() ? key_from_answer(answers[p.query])
                                               : KeyLookup{Status::kTempError, "no answer", {}};
      r.testing = key.record.testing;
      r.key_bits = key.record.key.bits;
      Status usable = check_key(key, p.core.alg, options.min_rsa_bits, r.reason);
      if (usable != Status::kPass) {
        r.result = usable;
      } else if (key.record.strict &&
                 ascii_lower(r.identity.substr(r.identity.rfind('@') + 1)) != p.core.domain) {
        r.result = Status::kPolicy;
        r.reason = "key t=s forbids an i= subdomain";
      } else {
        r.result = verify_core(msg, p.core, key.record, bodies, r.reason, &r.unsigned_body_bytes);
        if (r.result == Status::kPass) {
          r.reason = r.weak ? "good signature (rsa-sha1 is weak)" : "good signature";
          if (p.core.length >= 0 && r.unsigned_body_bytes > 0)
            r.reason += "; " + std::to_string(r.unsigned_body_bytes) + " body bytes unsigned (l=)";
        }
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

// ---- signing ---------------------------------------------------------------------------------

std::vector<std::string> default_signed_headers() {
  return {"from",
          "reply-to",
          "subject",
          "date",
          "to",
          "cc",
          "message-id",
          "in-reply-to",
          "references",
          "mime-version",
          "content-type",
          "content-transfer-encoding",
          "list-id",
          "list-unsubscribe",
          "list-unsubscribe-post",
          "sender"};
}

namespace {

// h= for `names` as present in `msg`: each name as often as it occurs, over-signed names once
// more. Names listed twice in `names` are merged.
std::vector<std::string> plan_signed_headers(const Message& msg,
                                             const std::vector<std::string>& names,
                                             const std::vector<std::string>& oversign) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& n : names) {
    std::string l = ascii_lower(n);
    if (!seen.insert(l).second)
      continue;
    size_t count = 0;
    for (const auto& h : msg.headers)
      count += iequals(h.name, l);
    for (const auto& o : oversign)
      count += iequals(o, l);
    for (size_t i = 0; i < count; ++i)
      out.push_back(l);
  }
  return out;
}

}  // namespace

Result<std::string> sign(std::string_view raw, const SigningKey& key, const SignOptions& o) {
  if (!key.pkey())
    return Error::config("no signing key");
  if (o.domain.empty() || o.selector.empty())
    return Error::config("signing needs a domain and a selector");
  Message msg = parse_message(raw);
  bool has_from = false;
  for (const auto& h : msg.headers)
    has_from |= iequals(h.name, "from");
  if (!has_from)
    return Error::malformed("message has no From field");
  Algorithm alg = key.ed25519() ? Algorithm::kEd25519Sha256
                                : (o.rsa_sha1 ? Algorithm::kRsaSha1 : Algorithm::kRsaSha256);
  Canon hc = o.relaxed_header ? Canon::kRelaxed : Canon::kSimple;
  Canon bc = o.relaxed_body ? Canon::kRelaxed : Canon::kSimple;
  auto names = plan_signed_headers(msg, o.headers.empty() ? default_signed_headers() : o.headers,
                                   o.oversign);
  std::string body = canon_body(msg.body, bc);
  std::string bh = base64_encode(digest(hash_of(alg), body));

  std::vector<std::string> tags = {"v=1", std::string("a=") + to_string(alg),
                                   std::string("c=") + (o.relaxed_header ? "relaxed" : "simple") +
                                       "/" + (o.relaxed_body ? "relaxed" : "simple"),
                                   "d=" + o.domain, "s=" + o.selector};
  if (!o.identity.empty())
    tags.push_back("i=" + o.identity);
  if (o.timestamp > 0)
    tags.push_back("t=" + std::to_string(o.timestamp));
  if (o.expiration > 0)
    tags.push_back("x=" + std::to_string(o.expiration));
  std::string h = "h=";
  for (size_t i = 0; i < names.size(); ++i)
    h += (i ? ":" : "") + names[i];
  tags.push_back(h);
  if (o.body_length_tag)
    tags.push_back("l=" + std::to_string(body.size()));
  tags.push_back("bh=" + bh);
  // b= goes on its own line, so the unsigned field is a prefix of the signed one (needed for
  // simple header canonicalisation).
  std::string unsigned_field = fold_tags("DKIM-Signature", tags, true);
  unsigned_field.resize(unsigned_field.size() - 2);
  unsigned_field += ";\r\n\tb=";
  std::string data;
  for (const HeaderField* f : select_headers(msg, names)) {
    if (f != nullptr)
      append_canon_header(data, f->raw, hc, true);
  }
  append_canon_header(data, unsigned_field, hc, false);
  auto sig = sign_data(key, alg, data);
  if (!sig)
    return sig.error();
  std::string b = base64_encode(*sig);
  std::string out = unsigned_field;
  for (size_t i = 0; i < b.size(); i += 64) {
    if (i > 0)
      out += "\r\n\t ";  // FWS inside b= is ignored by verifiers
    out.append(b, i, 64);
  }
  out += "\r\n";
  return out;
}

}  // namespace mailsift::dkim
