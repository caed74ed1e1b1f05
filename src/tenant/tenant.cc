#include "tenant/tenant.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/ascii.h"

namespace mailsift::tenant {
namespace {

bool valid_reseller_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

template <typename T>
void inherit(Sourced<T>& out, const std::optional<T>& v, Level level, const std::string& id) {
  if (v) {
    out.value = *v;
    out.from = Provenance{level, id};
  }
}

}  // namespace

Clock system_clock() {
  return [] {
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  };
}

const char* to_string(Level l) {
  switch (l) {
    case Level::kGlobal:
      return "global";
    case Level::kReseller:
      return "reseller";
    case Level::kDomain:
      return "domain";
    case Level::kUser:
      return "user";
  }
  return "?";
}

std::optional<Level> level_from_string(std::string_view s) {
  for (auto l : {Level::kGlobal, Level::kReseller, Level::kDomain, Level::kUser})
    if (s == to_string(l))
      return l;
  return std::nullopt;
}

const char* to_string(SpamAction a) {
  switch (a) {
    case SpamAction::kFolder:
      return "folder";
    case SpamAction::kTagSubject:
      return "tag_subject";
    case SpamAction::kReject:
      return "reject";
  }
  return "?";
}

std::optional<SpamAction> spam_action_from_string(std::string_view s) {
  for (auto a : {SpamAction::kFolder, SpamAction::kTagSubject, SpamAction::kReject})
    if (s == to_string(a))
      return a;
  return std::nullopt;
}

const char* to_string(ListKind k) {
  return k == ListKind::kBlock ? "block" : "allow";
}

std::optional<ListKind> list_kind_from_string(std::string_view s) {
  if (s == "block")
    return ListKind::kBlock;
  if (s == "allow")
    return ListKind::kAllow;
  return std::nullopt;
}

Status validate(const PolicyOverrides& p) {
  auto score = [](const char* name, const std::optional<double>& v) -> Status {
    if (v && (!std::isfinite(*v) || *v < -1000 || *v > 1000))
      return Error::malformed(fmt::format("{} must be a number in [-1000, 1000]", name));
    return Ok{};
  };
  if (auto s = score("spam_score", p.spam_score); !s)
    return s;
  return score("reject_score", p.reject_score);
}

PolicyDefaults PolicyDefaults::from_config(const Config& config) {
  PolicyDefaults d;
  d.spam_score = config.get_double("actions.add_header");
  d.reject_score = config.get_double("actions.reject");
  d.rewrite_subject = config.get_double("actions.rewrite_subject");
  d.tempfail_on_error = config.get_bool("actions.tempfail_on_error");
  d.spam_action = config.get_bool("actions.reject_enabled")            ? SpamAction::kReject
                  : config.get_bool("actions.rewrite_subject_enabled") ? SpamAction::kTagSubject
                                                                       : SpamAction::kFolder;
  d.learning_enabled = config.get_bool("tenant.learning_enabled");
  return d;
}

std::string Provenance::describe() const {
  return fmt::format("{}:{}", to_string(level), id);
}

std::string EffectivePolicy::describe() const {
  return fmt::format("spam_action={}({}) spam_score={}({}) reject_score={}({}) learning={}({})",
                     to_string(spam_action.value), spam_action.from.describe(), spam_score.value,
                     spam_score.from.describe(), reject_score.value, reject_score.from.describe(),
                     learning_enabled.value ? "on" : "off", learning_enabled.from.describe());
}

Status add_reseller(TenantStore& s, const Clock& clock, std::string_view id,
                    std::string_view name) {
  std::string rid = ascii_lower(id);
  if (!valid_reseller_id(rid))
    return Error::malformed(
        fmt::format("reseller id '{}' must be 1-64 characters of a-z 0-9 . _ -", id));
  if (name.size() > 256)
    return Error::malformed("reseller name longer than 256 bytes");
  return s.add_reseller(Reseller{rid, std::string(name.empty() ? rid : name), clock()});
}

Status add_domain(TenantStore& s, const Clock& clock, std::string_view name,
                  std::string_view reseller) {
  auto p = parse_list_entry(name);
  if (!p || p->type != EntryType::kDomain || name.find('@') != std::string_view::npos)
    return Error::malformed(fmt::format("'{}' is not a domain name", name));
  return s.add_domain(Domain{p->value, ascii_lower(reseller), clock()});
}

Status add_user(TenantStore& s, const Clock& clock, std::string_view address) {
  auto p = parse_list_entry(address);
  if (!p || p->type != EntryType::kAddress)
    return Error::malformed(fmt::format("'{}' is not a mailbox address", address));
  std::string domain = p->value.substr(p->value.rfind('@') + 1);
  return s.add_user(User{p->value, domain, clock()});
}

Result<EffectivePolicy> effective_policy(TenantStore& s, const PolicyDefaults& d,
                                         std::string_view user_address) {
  EffectivePolicy e;
  e.spam_action.value = d.spam_action;
  e.spam_score.value = d.spam_score;
  e.reject_score.value = d.reject_score;
  e.learning_enabled.value = d.learning_enabled;
  e.rewrite_subject = d.rewrite_subject;
  e.tempfail_on_error = d.tempfail_on_error;

  std::string address = normalise_address(user_address);
  auto user = s.get_user(address);
  if (!user)
    return user.error();
  std::string domain_name = address.substr(address.rfind('@') + 1);
  if (address.find('@') == std::string::npos)
    domain_name = address;  // a bare domain: resolve the domain level only
  auto domain = s.get_domain(domain_name);
  if (!domain)
    return domain.error();

  struct Step {
    Level level;
    std::string id;
  };
  std::vector<Step> chain;
  if (*domain) {
    e.domain = (*domain)->name;
    e.reseller = (*domain)->reseller;
    chain.push_back({Level::kReseller, e.reseller});
    chain.push_back({Level::kDomain, e.domain});
  }
  if (*user) {
    e.user = (*user)->address;
    chain.push_back({Level::kUser, e.user});
  }
  for (const Step& step : chain) {
    auto p = s.get_policy(step.level, step.id);
    if (!p)
      return p.error();
    inherit(e.spam_action, p->spam_action, step.level, step.id);
    inherit(e.spam_score, p->spam_score, step.level, step.id);
    inherit(e.reject_score, p->reject_score, step.level, step.id);
    inherit(e.learning_enabled, p->learning_enabled, step.level, step.id);
  }
  return e;
}

Result<ListEntry> add_list_entry(TenantStore& s, const Clock& clock, Level level,
                                 std::string_view owner, ListKind kind, std::string_view entry_text,
                                 std::string_view created_by, std::string_view note,
                                 std::optional<int64_t> expires_at) {
  if (level == Level::kGlobal)
    return Error::malformed("list entries belong to a reseller, domain or user");
  auto pattern = parse_list_entry(entry_text);
  if (!pattern)
    return pattern.error();
  if (note.size() > 1024)
    return Error::malformed("note longer than 1024 bytes");
  ListEntry e;
  e.level = level;
  e.owner = ascii_lower(owner);
  e.kind = kind;
  e.pattern = *pattern;
  e.created_at = clock();
  e.created_by = std::string(created_by);
  e.note = std::string(note);
  e.expires_at = expires_at;
  return s.add_list_entry(e);
}

Result<ListDecision> match(TenantStore& s, std::string_view user_address, const SenderFacts& facts,
                           int64_t now, bool ignore_domain_allows) {
  std::string address = normalise_address(user_address);
  std::string domain_name = address.substr(address.rfind('@') + 1);
  auto domain = s.get_domain(domain_name);
  if (!domain)
    return domain.error();
  std::vector<std::pair<Level, std::string>> owners = {{Level::kUser, address},
                                                       {Level::kDomain, domain_name}};
  if (*domain)
    owners.push_back({Level::kReseller, (*domain)->reseller});

  ListDecision out;
  for (const auto& [level, owner] : owners) {
    auto entries = s.list_entries(level, owner);
    if (!entries)
      return entries.error();
    std::vector<ListMatch> here;
    for (auto& e : *entries) {
      if (e.expires_at && *e.expires_at <= now)
        continue;
      std::string what = match_pattern(e.pattern, facts);
      if (!what.empty())
        here.push_back(ListMatch{std::move(e), std::move(what)});
    }
    std::stable_sort(here.begin(), here.end(), [](const ListMatch& a, const ListMatch& b) {
      if (a.entry.kind != b.entry.kind)
        return a.entry.kind == ListKind::kBlock;
      return a.entry.id < b.entry.id;
    });
    for (auto& m : here)
      out.matches.push_back(std::move(m));
  }
  for (size_t i = 0; i < out.matches.size(); ++i) {
    const ListEntry& e = out.matches[i].entry;
    bool domain_based = e.pattern.type == EntryType::kAddress ||
                        e.pattern.type == EntryType::kDomain ||
                        e.pattern.type == EntryType::kDomainTree;
    if (ignore_domain_allows && e.kind == ListKind::kAllow && domain_based)
      continue;
    // Most specific level first; within it block sorts before allow: the first candidate decides.
    out.deciding = i;
    break;
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    return {};
  return hex(md, len);
}

Result<IssuedKey> create_api_key(TenantStore& s, const Clock& clock, Role role,
                                 std::string_view reseller, std::string_view label) {
  IssuedKey out;
  out.record.role = role;
  out.record.label = std::string(label);
  out.record.created_at = clock();
  if (role == Role::kReseller) {
    out.record.reseller = ascii_lower(reseller);
    auto r = s.get_reseller(out.record.reseller);
    if (!r)
      return r.error();
    if (!*r)
      return Error::permanent(fmt::format("no reseller '{}'", reseller));
  }
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return Error::temporary("the system random generator failed");
  out.key = "msk_" + hex(bytes, sizeof bytes);
  out.record.hash = sha256_hex(out.key);
  if (out.record.hash.empty())
    return Error::temporary("SHA-256 failed");
  if (auto st = s.add_api_key(out.record); !st)
    return st.error();
  return out;
}

std::string Principal::describe() const {
  return role == Role::kAdmin ? std::string("admin") : "reseller:" + reseller;
}

Result<Principal> authenticate(TenantStore& s, std::string_view key) {
  if (key.empty() || key.size() > 256)
    return Error::permanent("unknown API key");
  auto rec = s.find_api_key(sha256_hex(key));
  if (!rec)
    return rec.error();
  if (!*rec)
    return Error::permanent("unknown API key");
  return Principal{(*rec)->role, (*rec)->reseller};
}

Result<Access> authorize(TenantStore& s, const Principal& who, const Target& target) {
  std::string owner_reseller;
  switch (target.level) {
    case Level::kGlobal:
      return who.role == Role::kAdmin ? Access::kAllowed : Access::kForbidden;
    case Level::kReseller: {
      auto r = s.get_reseller(ascii_lower(target.id));
      if (!r)
        return r.error();
      if (!*r)
        return Access::kNotFound;
      owner_reseller = (*r)->id;
      break;
    }
    case Level::kDomain: {
      auto d = s.get_domain(ascii_lower(target.id));
      if (!d)
        return d.error();
      if (!*d)
        return Access::kNotFound;
      owner_reseller = (*d)->reseller;
      break;
    }
    case Level::kUser: {
      auto u = s.get_user(normalise_address(target.id));
      if (!u)
        return u.error();
      if (!*u)
        return Access::kNotFound;
      auto d = s.get_domain((*u)->domain);
      if (!d)
        return d.error();
      if (!*d)
        return Access::kNotFound;
      owner_reseller = (*d)->reseller;
      break;
    }
  }
  if (who.role == Role::kAdmin || owner_reseller == who.reseller)
    return Access::kAllowed;
  return Access::kNotFound;
}

}  // namespace mailsift::tenant
