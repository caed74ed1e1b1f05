// mailsift::tenant — resellers, their domains and mailboxes; policy per level; block/allow lists;
// API keys. Documentation for operators: docs/tenants.md.
//
// Owns:
//  - the model reseller -> domain -> user (mailbox) and the TenantStore interface that persists
//    it (backends: memory for tests, SQLite in its own file, WAL, versioned schema);
//  - policy overrides per level and their resolution downward (config defaults -> reseller ->
//    domain -> user) with provenance: effective_policy() says where each value came from;
//  - block/allow-list entries per user, domain and reseller, and match(): every entry that
//    matches a sender, and the deciding one (precedence below);
//  - API keys (admin / reseller; only the SHA-256 of a key is stored) and authorize().
//
// Identifiers: a reseller id is [a-z0-9._-]{1,64}; a domain is its lower-case name; a user is its
// lower-case mailbox address, whose domain must exist. Ids are matched case-insensitively
// (callers may pass any case; everything is lower-cased on the way in).
//
// List precedence (match()): the most specific level that has a matching (unexpired) entry
// decides: user > domain > reseller. At the same level a block entry beats an allow entry
// (fail-closed, see docs/tenants.md). Address and domain allow entries are void for mail that
// fails DMARC for the sender's domain (see list_check.h); IP/CIDR allow entries are not (the
// client IP is not forgeable).
//
// Failure semantics: every store call returns Result. kTemporary: the backend cannot read or
// write (caller retries / tempfails). kPermanent: the operation can never succeed as asked
// (duplicate id, unknown parent, unknown entry). kMalformed: bad identifier or value. A write
// that returned Ok is durable (SQLite: committed, synchronous=FULL). No exceptions escape.
// Thread-safety: backends serialise calls internally; one store may be shared by threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "tenant/list_entry.h"

namespace mailsift::tenant {

// Wall clock in unix seconds; injected so tests control created_at / expiry.
using Clock = std::function<int64_t()>;
Clock system_clock();

enum class Level { kGlobal = 0, kReseller = 1, kDomain = 2, kUser = 3 };
const char* to_string(Level l);  // "global", "reseller", "domain", "user"
std::optional<Level> level_from_string(std::string_view s);

struct Reseller {
  std::string id;
  std::string name;  // display name
  int64_t created_at = 0;
  bool operator==(const Reseller&) const = default;
};
struct Domain {
  std::string name;
  std::string reseller;
  int64_t created_at = 0;
  bool operator==(const Domain&) const = default;
};
struct User {
  std::string address;
  std::string domain;  // derived from address
  int64_t created_at = 0;
  bool operator==(const User&) const = default;
};

// ---- Policy -------------------------------------------------------------------------------

// What happens to mail at or above the spam score. kFolder (default): delivered to the spam
// folder (action "add header"). kTagSubject: also tag the subject. kReject: reject at or above
// the reject score; between spam and reject score it still goes to the spam folder.
enum class SpamAction { kFolder, kTagSubject, kReject };
const char* to_string(SpamAction a);  // "folder", "tag_subject", "reject"
std::optional<SpamAction> spam_action_from_string(std::string_view s);

// One level's own settings; an unset field inherits from the level above.
struct PolicyOverrides {
  std::optional<SpamAction> spam_action;
  std::optional<double> spam_score;    // add-header / spam-folder threshold
  std::optional<double> reject_score;  // reject threshold (only with spam_action = reject)
  std::optional<bool> learning_enabled;
  bool empty() const { return !spam_action && !spam_score && !reject_score && !learning_enabled; }
  bool operator==(const PolicyOverrides&) const = default;
};
// Scores must be finite and in [-1000, 1000]; kMalformed names the field otherwise.
Status validate(const PolicyOverrides& p);

// The global level: from config (actions.*, tenant.learning_enabled).
struct PolicyDefaults {
  SpamAction spam_action = SpamAction::kFolder;
  double spam_score = 6;
  double reject_score = 15;
  bool learning_enabled = true;
  double rewrite_subject = 12;  // passed through to scan::ActionPolicy untouched
  bool tempfail_on_error = true;
  static PolicyDefaults from_config(const Config& config);
};

// Where a value came from: level + id ("config" for the global level).
struct Provenance {
  Level level = Level::kGlobal;
  std::string id = "config";
  std::string describe() const;  // "user:bob@x.test", "global:config"
  bool operator==(const Provenance&) const = default;
};
template <typename T>
struct Sourced {
  T value{};
  Provenance from;
};

struct EffectivePolicy {
  std::string user, domain, reseller;  // the chain that was resolved ("" where unknown)
  Sourced<SpamAction> spam_action;
  Sourced<double> spam_score;
  Sourced<double> reject_score;
  Sourced<bool> learning_enabled;
  double rewrite_subject = 12;  // from defaults
  bool tempfail_on_error = true;
  // "spam_action=reject(domain:x.test) spam_score=6(global:config) ..." for logs/explanations.
  std::string describe() const;
};

// ---- Lists --------------------------------------------------------------------------------

enum class ListKind { kBlock, kAllow };
const char* to_string(ListKind k);  // "block", "allow"
std::optional<ListKind> list_kind_from_string(std::string_view s);

struct ListEntry {
  int64_t id = 0;  // assigned by the store
  Level level = Level::kUser;
  std::string owner;  // reseller id, domain name or user address
  ListKind kind = ListKind::kBlock;
  ListPattern pattern;
  int64_t created_at = 0;
  std::string created_by;  // "admin", "reseller:acme", "cli:root", ...
  std::string note;
  std::optional<int64_t> expires_at;  // unix seconds; expired entries never match
  bool operator==(const ListEntry&) const = default;
};

struct ListMatch {
  ListEntry entry;
  std::string matched;  // what matched, e.g. "domain mail.x.test", "ip 192.0.2.7"
};

// ---- API keys -----------------------------------------------------------------------------

enum class Role { kAdmin, kReseller };
struct ApiKeyRecord {
  std::string hash;  // hex SHA-256 of the key text
  Role role = Role::kAdmin;
  std::string reseller;  // for kReseller
  std::string label;
  int64_t created_at = 0;
  bool operator==(const ApiKeyRecord&) const = default;
};

// What remove_tenant() took with it (docs/tenants.md "Removing tenants and keys").
struct Removal {
  Level level = Level::kUser;
  std::string id;
  std::vector<std::string> domains;  // removed domains (a reseller's; a domain: itself)
  std::vector<std::string> users;    // removed mailboxes
  int64_t list_entries = 0, policies = 0, api_keys = 0;
};

// ---- The store ----------------------------------------------------------------------------

class TenantStore {
 public:
  virtual ~TenantStore() = default;

  // kPermanent if the id exists (add_*) or the parent does not (domain's reseller, user's
  // domain). Records are stored as given after normalisation (see add_* helpers below).
  virtual Status add_reseller(const Reseller& r) = 0;
  virtual Result<std::optional<Reseller>> get_reseller(std::string_view id) = 0;
  virtual Result<std::vector<Reseller>> list_resellers() = 0;  // by id
  virtual Status add_domain(const Domain& d) = 0;
  virtual Result<std::optional<Domain>> get_domain(std::string_view name) = 0;
  // "" = every domain; by name.
  virtual Result<std::vector<Domain>> list_domains(std::string_view reseller) = 0;
  virtual Status add_user(const User& u) = 0;
  virtual Result<std::optional<User>> get_user(std::string_view address) = 0;
  // "" = every user; by address.
  virtual Result<std::vector<User>> list_users(std::string_view domain) = 0;

  // A level's own overrides (empty when none). set replaces them; kPermanent if the owner
  // does not exist; level kGlobal is refused (global comes from config).
  virtual Result<PolicyOverrides> get_policy(Level level, std::string_view id) = 0;
  virtual Status set_policy(Level level, std::string_view id, const PolicyOverrides& p) = 0;

  // Assigns the id (increasing) and returns the stored entry. kPermanent if the owner does not
  // exist, or the same (level, owner, kind, pattern) is already listed (ids are never reused).
  virtual Result<ListEntry> add_list_entry(const ListEntry& e) = 0;
  virtual Result<std::optional<ListEntry>> get_list_entry(int64_t id) = 0;
  // false when there was no such entry.
  virtual Result<bool> remove_list_entry(int64_t id) = 0;
  // One owner's entries, by id (expired ones included).
  virtual Result<std::vector<ListEntry>> list_entries(Level level, std::string_view owner) = 0;

  virtual Status add_api_key(const ApiKeyRecord& k) = 0;  // kPermanent on duplicate hash
  virtual Result<std::optional<ApiKeyRecord>> find_api_key(std::string_view hash) = 0;

  // Removes a reseller, domain or user and everything below it in one transaction: a reseller
  // its domains, their users, the policies and list entries of all of them and its API keys; a
  // domain its users, policies and list entries; a user its policy and list entries. nullopt
  // when there was no such object. kPermanent for the global level.
  virtual Result<std::optional<Removal>> remove_tenant(Level level, std::string_view id) = 0;
  // API keys ("" = all, else one reseller's), by created_at then hash.
  virtual Result<std::vector<ApiKeyRecord>> list_api_keys(std::string_view reseller) = 0;
  // false when there was no such key. Takes effect at the next request (nothing is cached).
  virtual Result<bool> remove_api_key(std::string_view hash) = 0;
};

// "memory:" or "sqlite:/path/tenants.db" (or a bare path = sqlite).
Result<std::unique_ptr<TenantStore>> open_tenant_store(const std::string& uri);
std::unique_ptr<TenantStore> make_memory_tenant_store();
Result<std::unique_ptr<TenantStore>> open_sqlite_tenant_store(const std::string& path);

// ---- Operations over any store (shared by CLI, HTTP API and the scan check) --------------

// Validating constructors: lower-case, check syntax (kMalformed), stamp created_at.
Status add_reseller(TenantStore& s, const Clock& clock, std::string_view id, std::string_view name);
Status add_domain(TenantStore& s, const Clock& clock, std::string_view name,
                  std::string_view reseller);
Status add_user(TenantStore& s, const Clock& clock, std::string_view address);

// Resolves config -> reseller -> domain -> user for a mailbox address. Parts of the chain not in
// the store are skipped (an unknown user of a known domain gets the domain's policy; an unknown
// domain gets the defaults); never an error for unknown ids, only for store failures.
Result<EffectivePolicy> effective_policy(TenantStore& s, const PolicyDefaults& defaults,
                                         std::string_view user_address);

// Parses `entry_text` (list_entry.h) and stores it for (level, owner) with created_at = clock().
Result<ListEntry> add_list_entry(TenantStore& s, const Clock& clock, Level level,
                                 std::string_view owner, ListKind kind, std::string_view entry_text,
                                 std::string_view created_by, std::string_view note,
                                 std::optional<int64_t> expires_at);

struct ListDecision {
  std::vector<ListMatch> matches;  // every unexpired match: most specific level first, then
                                   // block before allow, then id
  std::optional<size_t> deciding;  // index into matches of the entry that decides, if any
  std::optional<ListKind> verdict() const {
    return deciding ? std::optional<ListKind>(matches[*deciding].entry.kind) : std::nullopt;
  }
};
// Every list entry of the user, its domain and the domain's reseller that matches `facts` and has
// not expired at `now`, ordered and decided by the precedence above. `ignore_allow` (used for
// DMARC failures) leaves address/domain allow entries out of the decision (they stay in
// `matches`, never deciding).
Result<ListDecision> match(TenantStore& s, std::string_view user_address, const SenderFacts& facts,
                           int64_t now, bool ignore_domain_allows = false);

// ---- Keys and authorization -----------------------------------------------------------------

struct IssuedKey {
  std::string key;  // shown once: "msk_" + 64 hex digits (32 bytes from OpenSSL RAND_bytes)
  ApiKeyRecord record;
};
// kPermanent for a reseller key of an unknown reseller; kTemporary if the CSPRNG fails.
Result<IssuedKey> create_api_key(TenantStore& s, const Clock& clock, Role role,
                                 std::string_view reseller, std::string_view label);
std::string sha256_hex(std::string_view data);

struct Principal {
  Role role = Role::kAdmin;
  std::string reseller;          // for kReseller
  std::string describe() const;  // "admin" or "reseller:acme" (used as created_by)
};
// kPermanent "unknown API key" when the key is not known.
Result<Principal> authenticate(TenantStore& s, std::string_view key);

// The key record a revocation names: the key text itself ("msk_..."), its full SHA-256, or an
// unambiguous prefix of the hash of at least 12 hex digits (the "id" listings show). Only keys
// `who` may see (a reseller: its own). nullopt when none; kMalformed when ambiguous or too short.
Result<std::optional<ApiKeyRecord>> find_key_for_revoke(TenantStore& s, const Principal& who,
                                                        std::string_view key_or_id);

// What a principal may do with an object. kNotFound: the object does not exist, or it belongs to
// another reseller (answered the same way so a reseller cannot probe other resellers' names).
enum class Access { kAllowed, kNotFound, kForbidden };
struct Target {
  Level level = Level::kGlobal;  // kGlobal = the reseller list / server-wide operations
  std::string id;
};
// Admin: everything that exists. Reseller: its own reseller record, its domains and their users;
// kForbidden for global operations (creating resellers, admin keys).
Result<Access> authorize(TenantStore& s, const Principal& who, const Target& target);

}  // namespace mailsift::tenant
