// SQLite TenantStore: its own database file (data_dir/tenant.file), WAL, synchronous=FULL,
// schema version in PRAGMA user_version with forward-only migrations (kMigrations[i] takes
// version i to i + 1; a file newer than this build is refused with kConfig).
//
// Tenant data is small and changes rarely; every call is one short statement or transaction on
// one connection under a mutex, its statements prepared once and kept. Other processes (the CLI
// while mailsiftd runs) see commits at their next call: no data is cached.
#include <sqlite3.h>

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "tenant/tenant.h"

namespace mailsift::tenant {
namespace {

const char* const kMigrations[] = {
    // 0 -> 1: the tenant model, policies and lists.
    R"sql(
CREATE TABLE resellers(id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE domains(name TEXT PRIMARY KEY, reseller TEXT NOT NULL REFERENCES resellers(id),
                     created_at INTEGER NOT NULL);
CREATE INDEX domains_reseller ON domains(reseller, name);
CREATE TABLE users(address TEXT PRIMARY KEY, domain TEXT NOT NULL REFERENCES domains(name),
                   created_at INTEGER NOT NULL);
CREATE INDEX users_domain ON users(domain, address);
CREATE TABLE policies(level INTEGER NOT NULL, id TEXT NOT NULL, spam_action TEXT,
                      spam_score REAL, reject_score REAL, learning_enabled INTEGER,
                      PRIMARY KEY(level, id)) WITHOUT ROWID;
CREATE TABLE list_entries(id INTEGER PRIMARY KEY AUTOINCREMENT, level INTEGER NOT NULL,
                          owner TEXT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,
                          value TEXT NOT NULL, created_at INTEGER NOT NULL,
                          created_by TEXT NOT NULL, note TEXT NOT NULL, expires_at INTEGER,
                          UNIQUE(level, owner, kind, type, value));
)sql",
    // 1 -> 2: API keys (SHA-256 of the key only).
    R"sql(
CREATE TABLE api_keys(hash TEXT PRIMARY KEY, role TEXT NOT NULL, reseller TEXT NOT NULL,
                      label TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

class SqliteTenantStore;

// Prepared statements kept for the life of the connection, one per SQL text. Why: the
// scan path asks for a user, a domain and three levels of list entries per message, and
// parsing the SQL each time was ~15% of mailsiftd's CPU per scan. Used only under the store's
// mutex, like the connection itself. A kept statement holds no transaction once reset, so
// other processes' commits are still seen at the next call.
class StmtCache {
 public:
  explicit StmtCache(sqlite3*& db) : db_(db) {}
  ~StmtCache() { clear(); }
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;
  sqlite3* db() const { return db_; }
  // The statement for `sql`, prepared on first use; nullptr and the error code on failure.
  sqlite3_stmt* get(const std::string& sql, int& rc) {
    rc = SQLITE_OK;
    auto it = stmts_.find(sql);
    if (it != stmts_.end())
      return it->second;
    sqlite3_stmt* st = nullptr;
    rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(st);
      return nullptr;
    }
    stmts_.emplace(sql, st);
    return st;
  }
  void clear() {
    for (auto& [sql, st] : stmts_)
      sqlite3_finalize(st);
    stmts_.clear();
  }

 private:
  sqlite3*& db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> stmts_;
};

// One use of a kept statement: reset and unbound again when the call is over.
class Query {
 public:
  Query(StmtCache& cache, const std::string& sql) : db_(cache.db()) { st_ = cache.get(sql, rc_); }
  ~Query() {
    if (st_) {
      sqlite3_reset(st_);
      sqlite3_clear_bindings(st_);
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  int prepare_rc() const { return rc_; }
  Query& bind(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Query& bind(int i, double v) {
    sqlite3_bind_double(st_, i, v);
    return *this;
  }
  Query& null(int i) {
    sqlite3_bind_null(st_, i);
    return *this;
  }
  int step() { return st_ ? sqlite3_step(st_) : rc_; }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st_, c))
             : std::string();
  }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double dbl(int c) const { return sqlite3_column_double(st_, c); }
  bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_OK;
};

class SqliteTenantStore final : public TenantStore {
 public:
  explicit SqliteTenantStore(std::string path) : path_(std::move(path)) {}
  ~SqliteTenantStore() override {
    stmts_.clear();
    if (db_)
      sqlite3_close_v2(db_);
  }

  Status open() {
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK)
      return fail(rc, "open");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
    for (const char* sql :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
      if (auto s = exec(sql); !s)
        return s;
    }
    return migrate();
  }

  Status add_reseller(const Reseller& r) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "INSERT INTO resellers(id, name, created_at) VALUES(?1, ?2, ?3)");
    q.bind(1, r.id).bind(2, r.name).bind(3, r.created_at);
    return done(q, fmt::format("reseller '{}' already exists", r.id), "add reseller");
  }
  Result<std::optional<Reseller>> get_reseller(std::string_view id) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "SELECT id, name, created_at FROM resellers WHERE id=?1");
    q.bind(1, id);
    return one<Reseller>(q, [](Query& r) { return Reseller{r.text(0), r.text(1), r.i64(2)}; });
  }
  Result<std::vector<Reseller>> list_resellers() override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "SELECT id, name, created_at FROM resellers ORDER BY id");
    return all<Reseller>(q, [](Query& r) { return Reseller{r.text(0), r.text(1), r.i64(2)}; });
  }
  Status add_domain(const Domain& d) override {
    std::lock_guard lock(mu_);
    if (auto st = exists("SELECT 1 FROM resellers WHERE id=?1", d.reseller, "reseller"); !st)
      return st;
    Query q(stmts_, "INSERT INTO domains(name, reseller, created_at) VALUES(?1, ?2, ?3)");
    q.bind(1, d.name).bind(2, d.reseller).bind(3, d.created_at);
    return done(q, fmt::format("domain '{}' already exists", d.name), "add domain");
  }
  Result<std::optional<Domain>> get_domain(std::string_view name) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "SELECT name, reseller, created_at FROM domains WHERE name=?1");
    q.bind(1, name);
    return one<Domain>(q, [](Query& r) { return Domain{r.text(0), r.text(1), r.i64(2)}; });
  }
  Result<std::vector<Domain>> list_domains(std::string_view reseller) override {
    std::lock_guard lock(mu_);
    Query q(stmts_,
            "SELECT name, reseller, created_at FROM domains WHERE ?1='' OR reseller=?1 "
            "ORDER BY name");
    q.bind(1, reseller);
    return all<Domain>(q, [](Query& r) { return Domain{r.text(0), r.text(1), r.i64(2)}; });
  }
  Status add_user(const User& u) override {
    std::lock_guard lock(mu_);
    if (auto st = exists("SELECT 1 FROM domains WHERE name=?1", u.domain, "domain"); !st)
      return st;
    Query q(stmts_, "INSERT INTO users(address, domain, created_at) VALUES(?1, ?2, ?3)");
    q.bind(1, u.address).bind(2, u.domain).bind(3, u.created_at);
    return done(q, fmt::format("user '{}' already exists", u.address), "add user");
  }
  Result<std::optional<User>> get_user(std::string_view address) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "SELECT address, domain, created_at FROM users WHERE address=?1");
    q.bind(1, address);
    return one<User>(q, [](Query& r) { return User{r.text(0), r.text(1), r.i64(2)}; });
  }
  Result<std::vector<User>> list_users(std::string_view domain) override {
    std::lock_guard lock(mu_);
    Query q(stmts_,
            "SELECT address, domain, created_at FROM users WHERE ?1='' OR domain=?1 "
            "ORDER BY address");
    q.bind(1, domain);
    return all<User>(q, [](Query& r) { return User{r.text(0), r.text(1), r.i64(2)}; });
  }

  Result<PolicyOverrides> get_policy(Level level, std::string_view id) override {
    std::lock_guard lock(mu_);
    Query q(stmts_,
            "SELECT spam_action, spam_score, reject_score, learning_enabled FROM policies "
            "WHERE level=?1 AND id=?2");
    q.bind(1, static_cast<int64_t>(level)).bind(2, id);
    auto r = one<PolicyOverrides>(q, [](Query& r) {
      PolicyOverrides p;
      if (!r.is_null(0))
        p.spam_action = spam_action_from_string(r.text(0));
      if (!r.is_null(1))
        p.spam_score = r.dbl(1);
      if (!r.is_null(2))
        p.reject_score = r.dbl(2);
      if (!r.is_null(3))
        p.learning_enabled = r.i64(3) != 0;
      return p;
    });
    if (!r)
      return r.error();
    return r->value_or(PolicyOverrides{});
  }
  Status set_policy(Level level, std::string_view id, const PolicyOverrides& p) override {
    std::lock_guard lock(mu_);
    if (auto st = owner_exists(level, id); !st)
      return st;
    if (p.empty()) {
      Query q(stmts_, "DELETE FROM policies WHERE level=?1 AND id=?2");
      q.bind(1, static_cast<int64_t>(level)).bind(2, id);
      return done(q, "", "clear policy");
    }
    Query q(stmts_,
            "INSERT OR REPLACE INTO policies(level, id, spam_action, spam_score, reject_score, "
            "learning_enabled) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    q.bind(1, static_cast<int64_t>(level)).bind(2, id);
    p.spam_action ? q.bind(3, std::string_view(to_string(*p.spam_action))) : q.null(3);
    p.spam_score ? q.bind(4, *p.spam_score) : q.null(4);
    p.reject_score ? q.bind(5, *p.reject_score) : q.null(5);
    p.learning_enabled ? q.bind(6, int64_t{*p.learning_enabled}) : q.null(6);
    return done(q, "", "set policy");
  }

  Result<ListEntry> add_list_entry(const ListEntry& e) override {
    std::lock_guard lock(mu_);
    if (auto st = owner_exists(e.level, e.owner); !st)
      return st.error();
    Query q(stmts_,
            "INSERT INTO list_entries(level, owner, kind, type, value, created_at, created_by, "
            "note, expires_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id");
    q.bind(1, static_cast<int64_t>(e.level)).bind(2, e.owner);
    q.bind(3, std::string_view(to_string(e.kind)))
        .bind(4, std::string_view(to_string(e.pattern.type)))
        .bind(5, e.pattern.value);
    q.bind(6, e.created_at).bind(7, e.created_by).bind(8, e.note);
    e.expires_at ? q.bind(9, *e.expires_at) : q.null(9);
    int rc = q.step();
    if (rc != SQLITE_ROW) {
      if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return Error::permanent(fmt::format("{} is already on the {} list of {} {}",
                                            e.pattern.value, to_string(e.kind), to_string(e.level),
                                            e.owner));
      return fail(rc, "add list entry");
    }
    ListEntry stored = e;
    stored.id = q.i64(0);
    rc = q.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "add list entry");
    return stored;
  }
  Result<std::optional<ListEntry>> get_list_entry(int64_t id) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "SELECT " + std::string(kEntryColumns) + " FROM list_entries WHERE id=?1");
    q.bind(1, id);
    return one<ListEntry>(q, read_entry);
  }
  Result<bool> remove_list_entry(int64_t id) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "DELETE FROM list_entries WHERE id=?1");
    q.bind(1, id);
    int rc = q.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "remove list entry");
    return sqlite3_changes(db_) > 0;
  }
  Result<std::vector<ListEntry>> list_entries(Level level, std::string_view owner) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "SELECT " + std::string(kEntryColumns) +
                        " FROM list_entries WHERE level=?1 AND owner=?2 ORDER BY id");
    q.bind(1, static_cast<int64_t>(level)).bind(2, owner);
    return all<ListEntry>(q, read_entry);
  }

  Status add_api_key(const ApiKeyRecord& k) override {
    std::lock_guard lock(mu_);
    Query q(stmts_,
            "INSERT INTO api_keys(hash, role, reseller, label, created_at) "
            "VALUES(?1, ?2, ?3, ?4, ?5)");
    q.bind(1, k.hash)
        .bind(2, std::string_view(k.role == Role::kAdmin ? "admin" : "reseller"))
        .bind(3, k.reseller)
        .bind(4, k.label)
        .bind(5, k.created_at);
    return done(q, "API key already exists", "add API key");
  }
  Result<std::optional<ApiKeyRecord>> find_api_key(std::string_view hash) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "SELECT hash, role, reseller, label, created_at FROM api_keys WHERE hash=?1");
    q.bind(1, hash);
    return one<ApiKeyRecord>(q, [](Query& r) {
      return ApiKeyRecord{r.text(0), r.text(1) == "admin" ? Role::kAdmin : Role::kReseller,
                          r.text(2), r.text(3), r.i64(4)};
    });
  }

  Result<std::optional<Removal>> remove_tenant(Level level, std::string_view id) override {
    std::lock_guard lock(mu_);
    if (level == Level::kGlobal)
      return Error::permanent("the global level cannot be removed");
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s.error();
    auto r = remove_locked(level, id);
    if (!r || !*r) {
      (void)exec("ROLLBACK");
      return r;
    }
    if (auto s = exec("COMMIT"); !s) {
      (void)exec("ROLLBACK");
      return s.error();
    }
    return r;
  }
  Result<std::vector<ApiKeyRecord>> list_api_keys(std::string_view reseller) override {
    std::lock_guard lock(mu_);
    Query q(stmts_,
            "SELECT hash, role, reseller, label, created_at FROM api_keys "
            "WHERE ?1='' OR (role='reseller' AND reseller=?1) ORDER BY created_at, hash");
    q.bind(1, reseller);
    return all<ApiKeyRecord>(q, [](Query& r) {
      return ApiKeyRecord{r.text(0), r.text(1) == "admin" ? Role::kAdmin : Role::kReseller,
                          r.text(2), r.text(3), r.i64(4)};
    });
  }
  Result<bool> remove_api_key(std::string_view hash) override {
    std::lock_guard lock(mu_);
    Query q(stmts_, "DELETE FROM api_keys WHERE hash=?1");
    q.bind(1, hash);
    int rc = q.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "remove API key");
    return sqlite3_changes(db_) > 0;
  }

 private:
  // remove_tenant inside its transaction.
  Result<std::optional<Removal>> remove_locked(Level level, std::string_view id) {
    Removal r;
    r.level = level;
    r.id = std::string(id);
    auto column = [&](const char* sql, std::string_view arg) -> Result<std::vector<std::string>> {
      Query q(stmts_, sql);
      q.bind(1, arg);
      return all<std::string>(q, [](Query& row) { return row.text(0); });
    };
    const char* exists_sql = level == Level::kReseller ? "SELECT id FROM resellers WHERE id=?1"
                             : level == Level::kDomain
                                 ? "SELECT name FROM domains WHERE name=?1"
                                 : "SELECT address FROM users WHERE address=?1";
    auto found = column(exists_sql, id);
    if (!found)
      return found.error();
    if (found->empty())
      return std::optional<Removal>();
    if (level == Level::kReseller) {
      auto d = column("SELECT name FROM domains WHERE reseller=?1 ORDER BY name", id);
      if (!d)
        return d.error();
      r.domains = std::move(*d);
    } else if (level == Level::kDomain) {
      r.domains.push_back(r.id);
    } else {
      r.users.push_back(r.id);
    }
    for (const auto& dom : r.domains) {
      auto u = column("SELECT address FROM users WHERE domain=?1 ORDER BY address", dom);
      if (!u)
        return u.error();
      r.users.insert(r.users.end(), u->begin(), u->end());
    }
    std::vector<std::pair<Level, std::string>> owners;
    if (level == Level::kReseller)
      owners.push_back({Level::kReseller, r.id});
    for (const auto& dom : r.domains)
      owners.push_back({Level::kDomain, dom});
    for (const auto& u : r.users)
      owners.push_back({Level::kUser, u});
    auto del = [&](const char* sql, int64_t lvl, std::string_view arg) -> Result<int64_t> {
      Query q(stmts_, sql);
      q.bind(1, lvl).bind(2, arg);
      int rc = q.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "remove");
      return static_cast<int64_t>(sqlite3_changes(db_));
    };
    for (const auto& [lvl, owner] : owners) {
      auto n = del("DELETE FROM list_entries WHERE level=?1 AND owner=?2",
                   static_cast<int64_t>(lvl), owner);
      if (!n)
        return n.error();
      r.list_entries += *n;
      n = del("DELETE FROM policies WHERE level=?1 AND id=?2", static_cast<int64_t>(lvl), owner);
      if (!n)
        return n.error();
      r.policies += *n;
    }
    for (const auto& u : r.users) {
      auto n = del("DELETE FROM users WHERE ?1=?1 AND address=?2", 0, u);
      if (!n)
        return n.error();
    }
    for (const auto& dom : r.domains) {
      auto n = del("DELETE FROM domains WHERE ?1=?1 AND name=?2", 0, dom);
      if (!n)
        return n.error();
    }
    if (level == Level::kReseller) {
      auto n = del("DELETE FROM api_keys WHERE ?1=?1 AND role='reseller' AND reseller=?2", 0, id);
      if (!n)
        return n.error();
      r.api_keys = *n;
      n = del("DELETE FROM resellers WHERE ?1=?1 AND id=?2", 0, id);
      if (!n)
        return n.error();
    }
    return std::optional<Removal>(std::move(r));
  }

  static constexpr const char* kEntryColumns =
      "id, level, owner, kind, type, value, created_at, created_by, note, expires_at";
  static ListEntry read_entry(Query& r) {
    ListEntry e;
    e.id = r.i64(0);
    e.level = static_cast<Level>(r.i64(1));
    e.owner = r.text(2);
    e.kind = list_kind_from_string(r.text(3)).value_or(ListKind::kBlock);
    e.pattern.type = entry_type_from_string(r.text(4)).value_or(EntryType::kAddress);
    e.pattern.value = r.text(5);
    e.created_at = r.i64(6);
    e.created_by = r.text(7);
    e.note = r.text(8);
    if (!r.is_null(9))
      e.expires_at = r.i64(9);
    return e;
  }

  Error fail(int rc, std::string_view what) const {
    std::string msg = fmt::format("tenant store {}: {}: {}", path_, what, sqlite3_errstr(rc));
    if (db_ && sqlite3_errcode(db_) == rc && std::string(sqlite3_errmsg(db_)) != sqlite3_errstr(rc))
      msg += fmt::format(" ({})", sqlite3_errmsg(db_));
    int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
      msg += "; the file is damaged or not a mailsift tenant store: restore it from a backup";
    return Error::temporary(std::move(msg));
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK)
      return fail(rc, sql);
    return Ok{};
  }

  Status migrate() {
    if (auto s = exec("BEGIN IMMEDIATE"); !s)
      return s;
    auto rollback = [&](Error e) -> Status {
      (void)exec("ROLLBACK");
      return e;
    };
    Query q(stmts_, "PRAGMA user_version");
    int rc = q.step();
    if (rc != SQLITE_ROW)
      return rollback(fail(rc, "read schema version"));
    int version = static_cast<int>(q.i64(0));
    if (version > kSchemaVersion)
      return rollback(Error::config(
          fmt::format("tenant store {}: schema version {} is newer than this mailsift "
                      "understands ({})",
                      path_, version, kSchemaVersion)));
    for (int v = version; v < kSchemaVersion; ++v)
      if (auto s = exec(kMigrations[v]); !s)
        return rollback(s.error());
    if (version != kSchemaVersion) {
      std::string set = fmt::format("PRAGMA user_version={}", kSchemaVersion);
      if (auto s = exec(set.c_str()); !s)
        return rollback(s.error());
    }
    return exec("COMMIT");
  }

  Status done(Query& q, const std::string& on_conflict, std::string_view what) {
    int rc = q.step();
    if (rc == SQLITE_DONE)
      return Ok{};
    if ((rc & 0xff) == SQLITE_CONSTRAINT && !on_conflict.empty())
      return Error::permanent(on_conflict);
    return fail(rc, what);
  }

  template <typename T, typename F>
  Result<std::optional<T>> one(Query& q, F&& read) {
    int rc = q.step();
    if (rc == SQLITE_DONE)
      return std::optional<T>();
    if (rc != SQLITE_ROW)
      return fail(rc, "read");
    return std::optional<T>(read(q));
  }
  template <typename T, typename F>
  Result<std::vector<T>> all(Query& q, F&& read) {
    std::vector<T> out;
    for (;;) {
      int rc = q.step();
      if (rc == SQLITE_DONE)
        return out;
      if (rc != SQLITE_ROW)
        return fail(rc, "read");
      out.push_back(read(q));
    }
  }

  Status exists(const char* sql, std::string_view id, const char* what) {
    Query q(stmts_, sql);
    q.bind(1, id);
    int rc = q.step();
    if (rc == SQLITE_ROW)
      return Ok{};
    if (rc == SQLITE_DONE)
      return Error::permanent(fmt::format("no {} '{}'", what, id));
    return fail(rc, "read");
  }
  Status owner_exists(Level level, std::string_view id) {
    switch (level) {
      case Level::kGlobal:
        return Error::permanent("the global level is configured in the config file");
      case Level::kReseller:
        return exists("SELECT 1 FROM resellers WHERE id=?1", id, "reseller");
      case Level::kDomain:
        return exists("SELECT 1 FROM domains WHERE name=?1", id, "domain");
      case Level::kUser:
        return exists("SELECT 1 FROM users WHERE address=?1", id, "user");
    }
    return Error::permanent("unknown level");
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  StmtCache stmts_{db_};  // declared after db_: finalized before the connection closes
  std::mutex mu_;
};

}  // namespace

Result<std::unique_ptr<TenantStore>> open_sqlite_tenant_store(const std::string& path) {
  auto store = std::make_unique<SqliteTenantStore>(path);
  if (auto s = store->open(); !s)
    return s.error();
  return std::unique_ptr<TenantStore>(std::move(store));
}

}  // namespace mailsift::tenant
