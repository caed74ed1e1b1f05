// PostgreSQL TenantStore (libpq, pg_conn's pool), in the configured schema beside the decision
// log (docs/fleet-tenants.md):
//   tenant_schema_migrations(version PRIMARY KEY, applied_at)  forward-only (pg_migrate.h)
//   tenant_resellers(id PK)  tenant_domains(name PK, reseller FK)  tenant_users(address PK,
//   domain FK)  tenant_policies(level, id PK)  tenant_list_entries(id bigserial, UNIQUE(level,
//   owner, kind, type, value))  tenant_api_keys(hash PK)
//   tenant_changes(xid, at, topic, key)  filled by row triggers; the feed replicas read
// Text keys are COLLATE "C" so listings sort bytewise like SQLite, whatever the database locale.
//
// Every call is one statement (or one transaction for remove_tenant) on a pooled connection; no
// data is cached, so every node sees another node's committed writes at its next call.
// Owner checks and inserts are one statement: the owner row is read FOR SHARE in the same
// statement, and remove_tenant locks the rows it removes FOR UPDATE first, so an entry can never
// be added to an owner that a concurrent removal is taking away.
// Failure semantics (tenant.h): unique / foreign-key violations are kPermanent with the same
// wording as SQLite; a dropped connection or timeout is kTemporary (pg_conn.h).
#include <fmt/format.h>

#include <cfloat>
#include <cmath>

#include "fleet/fleet_tenant.h"
#include "fleet/pg_changes.h"
#include "fleet/pg_conn.h"
#include "fleet/pg_migrate.h"

namespace mailsift::fleet {
namespace {

using pg::Param;
using tenant::ApiKeyRecord;
using tenant::Domain;
using tenant::Level;
using tenant::ListEntry;
using tenant::PolicyOverrides;
using tenant::Removal;
using tenant::Reseller;
using tenant::Role;
using tenant::User;

const char* const kMigrations[] = {
    // 0 -> 1: the tenant model, policies, lists and API keys (SQLite's versions 1 and 2).
    R"sql(
CREATE TABLE tenant_resellers(id text COLLATE "C" PRIMARY KEY, name text NOT NULL,
  created_at bigint NOT NULL);
CREATE TABLE tenant_domains(name text COLLATE "C" PRIMARY KEY,
  reseller text COLLATE "C" NOT NULL REFERENCES tenant_resellers(id), created_at bigint NOT NULL);
CREATE INDEX tenant_domains_reseller ON tenant_domains(reseller, name);
CREATE TABLE tenant_users(address text COLLATE "C" PRIMARY KEY,
  domain text COLLATE "C" NOT NULL REFERENCES tenant_domains(name), created_at bigint NOT NULL);
CREATE INDEX tenant_users_domain ON tenant_users(domain, address);
CREATE TABLE tenant_policies(level smallint NOT NULL, id text COLLATE "C" NOT NULL,
  spam_action text, spam_score double precision, reject_score double precision,
  learning_enabled boolean, PRIMARY KEY(level, id));
CREATE TABLE tenant_list_entries(id bigserial PRIMARY KEY, level smallint NOT NULL,
  owner text COLLATE "C" NOT NULL, kind text NOT NULL, type text NOT NULL,
  value text COLLATE "C" NOT NULL, created_at bigint NOT NULL, created_by text NOT NULL,
  note text NOT NULL, expires_at bigint, UNIQUE(level, owner, kind, type, value));
CREATE TABLE tenant_api_keys(hash text COLLATE "C" PRIMARY KEY, role text NOT NULL,
  reseller text COLLATE "C" NOT NULL, label text NOT NULL, created_at bigint NOT NULL);
CREATE INDEX tenant_api_keys_reseller ON tenant_api_keys(reseller);
)sql",
    // 1 -> 2: the change feed replicas follow (pg_changes.h, tenant_replica.cc). One row per
    // changed row of the tables the scan path reads: topic and key (the key of a policy or list
    // is "<level>:<id>"), the writer's transaction id. API keys are not replicated.
    R"sql(
CREATE TABLE tenant_changes(xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  at timestamptz NOT NULL DEFAULT now(), topic text NOT NULL, key text COLLATE "C" NOT NULL);
CREATE INDEX tenant_changes_xid ON tenant_changes(xid);
CREATE INDEX tenant_changes_at ON tenant_changes(at);
-- TG_ARGV: topic, key column, optional level column (prefixed to the key). An UPDATE that
-- moves a row to another key notes both keys.
CREATE FUNCTION tenant_note_change() RETURNS trigger LANGUAGE plpgsql
  SET search_path FROM CURRENT AS $$
DECLARE
  keys text[] := '{}';
  r jsonb;
BEGIN
  FOREACH r IN ARRAY ARRAY[CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
                           CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END] LOOP
    CONTINUE WHEN r IS NULL;
    keys := keys || (CASE WHEN TG_NARGS > 2 THEN (r->>TG_ARGV[2]) || ':' ELSE '' END
                     || (r->>TG_ARGV[1]));
  END LOOP;
  INSERT INTO tenant_changes(topic, key) SELECT DISTINCT TG_ARGV[0], k FROM unnest(keys) k;
  RETURN NULL;
END $$;
CREATE TRIGGER tenant_resellers_changes AFTER INSERT OR UPDATE OR DELETE ON tenant_resellers
  FOR EACH ROW EXECUTE FUNCTION tenant_note_change('reseller', 'id');
CREATE TRIGGER tenant_domains_changes AFTER INSERT OR UPDATE OR DELETE ON tenant_domains
  FOR EACH ROW EXECUTE FUNCTION tenant_note_change('domain', 'name');
CREATE TRIGGER tenant_users_changes AFTER INSERT OR UPDATE OR DELETE ON tenant_users
  FOR EACH ROW EXECUTE FUNCTION tenant_note_change('user', 'address');
CREATE TRIGGER tenant_policies_changes AFTER INSERT OR UPDATE OR DELETE ON tenant_policies
  FOR EACH ROW EXECUTE FUNCTION tenant_note_change('policy', 'id', 'level');
CREATE TRIGGER tenant_list_entries_changes AFTER INSERT OR UPDATE OR DELETE
  ON tenant_list_entries FOR EACH ROW EXECUTE FUNCTION tenant_note_change('list', 'owner', 'level');
)sql",
};

// pg_advisory_xact_lock key: "mstenm" in ASCII.
constexpr const char* kMigrationLock = "120342641471085";

Param text(std::string_view s) {
  return pg::valid_utf8(s);
}
Param num(int64_t v) {
  return std::to_string(v);
}
Param real(double v) {
  if (std::isnan(v))
    v = 0;
  return fmt::format("{}", std::clamp(v, -DBL_MAX, DBL_MAX));
}
Param level_param(Level l) {
  return num(static_cast<int64_t>(l));
}
const char* cell(const PGresult* r, int row, int col) {
  return PQgetvalue(r, row, col);
}
int64_t cell_i64(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}
bool is_null(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) != 0;
}
int64_t affected(const PGresult* r) {
  return std::strtoll(PQcmdTuples(const_cast<PGresult*>(r)), nullptr, 10);
}

constexpr const char* kEntryColumns =
    "id, level, owner, kind, type, value, created_at, created_by, note, expires_at";
ListEntry read_entry(const PGresult* r, int i) {
  ListEntry e;
  e.id = cell_i64(r, i, 0);
  e.level = static_cast<Level>(cell_i64(r, i, 1));
  e.owner = cell(r, i, 2);
  e.kind = tenant::list_kind_from_string(cell(r, i, 3)).value_or(tenant::ListKind::kBlock);
  e.pattern.type =
      tenant::entry_type_from_string(cell(r, i, 4)).value_or(tenant::EntryType::kAddress);
  e.pattern.value = cell(r, i, 5);
  e.created_at = cell_i64(r, i, 6);
  e.created_by = cell(r, i, 7);
  e.note = cell(r, i, 8);
  if (!is_null(r, i, 9))
    e.expires_at = cell_i64(r, i, 9);
  return e;
}
// Columns spam_action, spam_score, reject_score, learning_enabled from column `first` on.
PolicyOverrides read_policy(const PGresult* r, int i, int first) {
  PolicyOverrides p;
  if (!is_null(r, i, first))
    p.spam_action = tenant::spam_action_from_string(cell(r, i, first));
  if (!is_null(r, i, first + 1))
    p.spam_score = std::strtod(cell(r, i, first + 1), nullptr);
  if (!is_null(r, i, first + 2))
    p.reject_score = std::strtod(cell(r, i, first + 2), nullptr);
  if (!is_null(r, i, first + 3))
    p.learning_enabled = std::string_view(cell(r, i, first + 3)) == "t";
  return p;
}
ApiKeyRecord read_key(const PGresult* r, int i) {
  return ApiKeyRecord{cell(r, i, 0),
                      std::string_view(cell(r, i, 1)) == "admin" ? Role::kAdmin : Role::kReseller,
                      cell(r, i, 2), cell(r, i, 3), cell_i64(r, i, 4)};
}

// The owner table/key column of a level ("" for global).
struct OwnerTable {
  const char* table;
  const char* key;
  const char* what;
};
std::optional<OwnerTable> owner_table(Level level) {
  switch (level) {
    case Level::kReseller:
      return OwnerTable{"tenant_resellers", "id", "reseller"};
    case Level::kDomain:
      return OwnerTable{"tenant_domains", "name", "domain"};
    case Level::kUser:
      return OwnerTable{"tenant_users", "address", "user"};
    case Level::kGlobal:
      break;
  }
  return std::nullopt;
}

class PostgresTenantStore final : public ReplicableTenantStore {
 public:
  explicit PostgresTenantStore(const PostgresOptions& o)
      : options_(o), pool_(o.dsn, o.schema, o.timeout_ms, o.pool_size) {}

  Status migrate() {
    return pg::migrate_forward(
        pool_, options_.schema,
        {"tenant store", "tenant_schema_migrations", kMigrationLock, kMigrations});
  }

  Status add_reseller(const Reseller& r) override {
    return insert("INSERT INTO tenant_resellers(id, name, created_at) VALUES($1, $2, $3)",
                  {text(r.id), text(r.name), num(r.created_at)},
                  fmt::format("reseller '{}' already exists", r.id), "");
  }
  Result<std::optional<Reseller>> get_reseller(std::string_view id) override {
    return one<Reseller>("SELECT id, name, created_at FROM tenant_resellers WHERE id=$1",
                         {text(id)}, [](const PGresult* r, int i) {
                           return Reseller{cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)};
                         });
  }
  Result<std::vector<Reseller>> list_resellers() override {
    return all<Reseller>("SELECT id, name, created_at FROM tenant_resellers ORDER BY id", {},
                         [](const PGresult* r, int i) {
                           return Reseller{cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)};
                         });
  }
  Status add_domain(const Domain& d) override {
    return insert("INSERT INTO tenant_domains(name, reseller, created_at) VALUES($1, $2, $3)",
                  {text(d.name), text(d.reseller), num(d.created_at)},
                  fmt::format("domain '{}' already exists", d.name),
                  fmt::format("no reseller '{}'", d.reseller));
  }
  Result<std::optional<Domain>> get_domain(std::string_view name) override {
    return one<Domain>("SELECT name, reseller, created_at FROM tenant_domains WHERE name=$1",
                       {text(name)}, [](const PGresult* r, int i) {
                         return Domain{cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)};
                       });
  }
  Result<std::vector<Domain>> list_domains(std::string_view reseller) override {
    return all<Domain>(
        "SELECT name, reseller, created_at FROM tenant_domains WHERE $1='' OR reseller=$1 "
        "ORDER BY name",
        {text(reseller)}, [](const PGresult* r, int i) {
          return Domain{cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)};
        });
  }
  Status add_user(const User& u) override {
    return insert("INSERT INTO tenant_users(address, domain, created_at) VALUES($1, $2, $3)",
                  {text(u.address), text(u.domain), num(u.created_at)},
                  fmt::format("user '{}' already exists", u.address),
                  fmt::format("no domain '{}'", u.domain));
  }
  Result<std::optional<User>> get_user(std::string_view address) override {
    return one<User>("SELECT address, domain, created_at FROM tenant_users WHERE address=$1",
                     {text(address)}, [](const PGresult* r, int i) {
                       return User{cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)};
                     });
  }
  Result<std::vector<User>> list_users(std::string_view domain) override {
    return all<User>(
        "SELECT address, domain, created_at FROM tenant_users WHERE $1='' OR domain=$1 "
        "ORDER BY address",
        {text(domain)}, [](const PGresult* r, int i) {
          return User{cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)};
        });
  }

  Result<PolicyOverrides> get_policy(Level level, std::string_view id) override {
    auto r = one<PolicyOverrides>(
        "SELECT spam_action, spam_score, reject_score, learning_enabled FROM tenant_policies "
        "WHERE level=$1 AND id=$2",
        {level_param(level), text(id)},
        [](const PGresult* r, int i) { return read_policy(r, i, 0); });
    if (!r)
      return r.error();
    return r->value_or(PolicyOverrides{});
  }
  Status set_policy(Level level, std::string_view id, const PolicyOverrides& p) override {
    auto owner = owner_table(level);
    if (!owner)
      return Error::permanent("the global level is configured in the config file");
    // The owner is read FOR SHARE in the same statement (see the file comment).
    std::string sql;
    std::vector<Param> params = {level_param(level), text(id)};
    if (p.empty()) {
      sql = fmt::format(
          "WITH o AS (SELECT 1 FROM {0} WHERE {1}=$2 FOR SHARE), "
          "d AS (DELETE FROM tenant_policies WHERE level=$1 AND id=$2 AND EXISTS(SELECT 1 FROM o))"
          " SELECT count(*) FROM o",
          owner->table, owner->key);
    } else {
      sql = fmt::format(
          "WITH o AS (SELECT 1 FROM {0} WHERE {1}=$2 FOR SHARE), "
          "u AS (INSERT INTO tenant_policies(level, id, spam_action, spam_score, reject_score, "
          "learning_enabled) SELECT $1::smallint, $2::text, $3::text, $4::double precision, "
          "$5::double precision, $6::boolean FROM o ON CONFLICT(level, id) DO UPDATE SET "
          "spam_action=EXCLUDED.spam_action, spam_score=EXCLUDED.spam_score, "
          "reject_score=EXCLUDED.reject_score, learning_enabled=EXCLUDED.learning_enabled) "
          "SELECT count(*) FROM o",
          owner->table, owner->key);
      params.push_back(p.spam_action ? Param(tenant::to_string(*p.spam_action)) : Param());
      params.push_back(p.spam_score ? real(*p.spam_score) : Param());
      params.push_back(p.reject_score ? real(*p.reject_score) : Param());
      params.push_back(p.learning_enabled ? Param(*p.learning_enabled ? "true" : "false")
                                          : Param());
    }
    auto r = run(sql, params);
    if (!r)
      return r.error();
    if (cell_i64(r->get(), 0, 0) == 0)
      return Error::permanent(fmt::format("no {} '{}'", owner->what, id));
    return Ok{};
  }

  Result<ListEntry> add_list_entry(const ListEntry& e) override {
    auto owner = owner_table(e.level);
    if (!owner)
      return Error::permanent("the global level is configured in the config file");
    const std::string sql = fmt::format(
        "WITH o AS (SELECT 1 FROM {0} WHERE {1}=$2 FOR SHARE) "
        "INSERT INTO tenant_list_entries(level, owner, kind, type, value, created_at, created_by, "
        "note, expires_at) SELECT $1::smallint, $2::text, $3::text, $4::text, $5::text, "
        "$6::bigint, "
        "$7::text, $8::text, $9::bigint FROM o RETURNING id",
        owner->table, owner->key);
    auto r = run(
        sql, {level_param(e.level), text(e.owner), Param(tenant::to_string(e.kind)),
              Param(tenant::to_string(e.pattern.type)), text(e.pattern.value), num(e.created_at),
              text(e.created_by), text(e.note), e.expires_at ? num(*e.expires_at) : Param()});
    if (!r) {
      if (is_unique_violation(r.error()))
        return Error::permanent(fmt::format("{} is already on the {} list of {} {}",
                                            e.pattern.value, tenant::to_string(e.kind),
                                            tenant::to_string(e.level), e.owner));
      return r.error();
    }
    if (PQntuples(r->get()) == 0)
      return Error::permanent(fmt::format("no {} '{}'", owner->what, e.owner));
    ListEntry stored = e;
    stored.id = cell_i64(r->get(), 0, 0);
    return stored;
  }
  Result<std::optional<ListEntry>> get_list_entry(int64_t id) override {
    return one<ListEntry>(
        fmt::format("SELECT {} FROM tenant_list_entries WHERE id=$1", kEntryColumns), {num(id)},
        read_entry);
  }
  Result<bool> remove_list_entry(int64_t id) override {
    auto r = run("DELETE FROM tenant_list_entries WHERE id=$1", {num(id)});
    if (!r)
      return r.error();
    return affected(r->get()) > 0;
  }
  Result<std::vector<ListEntry>> list_entries(Level level, std::string_view owner) override {
    return all<ListEntry>(fmt::format("SELECT {} FROM tenant_list_entries WHERE level=$1 AND "
                                      "owner=$2 ORDER BY id",
                                      kEntryColumns),
                          {level_param(level), text(owner)}, read_entry);
  }

  Status add_api_key(const ApiKeyRecord& k) override {
    return insert(
        "INSERT INTO tenant_api_keys(hash, role, reseller, label, created_at) "
        "VALUES($1, $2, $3, $4, $5)",
        {text(k.hash), Param(k.role == Role::kAdmin ? "admin" : "reseller"), text(k.reseller),
         text(k.label), num(k.created_at)},
        "API key already exists", "");
  }
  Result<std::optional<ApiKeyRecord>> find_api_key(std::string_view hash) override {
    return one<ApiKeyRecord>(
        "SELECT hash, role, reseller, label, created_at FROM tenant_api_keys WHERE hash=$1",
        {text(hash)}, read_key);
  }
  Result<std::vector<ApiKeyRecord>> list_api_keys(std::string_view reseller) override {
    return all<ApiKeyRecord>(
        "SELECT hash, role, reseller, label, created_at FROM tenant_api_keys "
        "WHERE $1='' OR (role='reseller' AND reseller=$1) ORDER BY created_at, hash",
        {text(reseller)}, read_key);
  }
  Result<bool> remove_api_key(std::string_view hash) override {
    auto r = run("DELETE FROM tenant_api_keys WHERE hash=$1", {text(hash)});
    if (!r)
      return r.error();
    return affected(r->get()) > 0;
  }

  Result<std::optional<Removal>> remove_tenant(Level level, std::string_view id) override {
    if (level == Level::kGlobal)
      return Error::permanent("the global level cannot be removed");
    auto lease = pool_.checkout();
    if (!lease)
      return lease.error();
    pg::Connection& c = **lease;
    const auto until = pool_.deadline();
    // Nothing found: the transaction only took row locks, so committing it changes nothing.
    return pg::transaction(c, until, [&] { return remove_locked(c, level, id, until); });
  }

  // Every table in one REPEATABLE READ snapshot, and the feed position after it (pg_changes.h).
  Result<TenantImage> load_image() override {
    auto lease = pool_.checkout();
    if (!lease)
      return lease.error();
    pg::Connection& c = **lease;
    TenantImage image;
    constexpr int kBatch = 20000;
    Status s = pg::read_only_snapshot(c, pool_, [&]() -> Status {
      auto xmin = pg::snapshot_xmin(c, pool_.deadline());
      if (!xmin)
        return xmin.error();
      image.cursor.from = *xmin;
      Status st = pg::for_each_row(
          c, "SELECT id, name, created_at FROM tenant_resellers", kBatch, pool_,
          [&](const PGresult* r, int i) {
            image.resellers.push_back({cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)});
          });
      if (st.ok())
        st = pg::for_each_row(
            c, "SELECT name, reseller, created_at FROM tenant_domains", kBatch, pool_,
            [&](const PGresult* r, int i) {
              image.domains.push_back({cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)});
            });
      if (st.ok())
        st = pg::for_each_row(
            c, "SELECT address, domain, created_at FROM tenant_users", kBatch, pool_,
            [&](const PGresult* r, int i) {
              image.users.push_back({cell(r, i, 0), cell(r, i, 1), cell_i64(r, i, 2)});
            });
      if (st.ok())
        st = pg::for_each_row(c,
                              "SELECT level, id, spam_action, spam_score, reject_score, "
                              "learning_enabled FROM tenant_policies",
                              kBatch, pool_, [&](const PGresult* r, int i) {
                                image.policies.push_back({static_cast<Level>(cell_i64(r, i, 0)),
                                                          cell(r, i, 1), read_policy(r, i, 2)});
                              });
      if (st.ok())
        st = pg::for_each_row(
            c, fmt::format("SELECT {} FROM tenant_list_entries ORDER BY id", kEntryColumns), kBatch,
            pool_, [&](const PGresult* r, int i) { image.entries.push_back(read_entry(r, i)); });
      return st;
    });
    if (!s.ok())
      return s.error();
    return image;
  }
  Result<std::vector<ChangedKey>> changes(FeedCursor& cursor) override {
    return pg::read_changes(pool_, "tenant_changes", cursor);
  }
  Status prune_changes(int64_t older_than_s) override {
    return pg::prune_changes(pool_, "tenant_changes", older_than_s);
  }

 private:
  // remove_tenant inside its transaction: lock the rows going away (FOR UPDATE, parents first),
  // collect what is below them, delete children before parents.
  Result<std::optional<Removal>> remove_locked(pg::Connection& c, Level level, std::string_view id,
                                               pg::Clock::time_point until) {
    Removal out;
    out.level = level;
    out.id = std::string(id);
    auto column = [&](const std::string& sql,
                      std::string_view arg) -> Result<std::vector<std::string>> {
      auto r = c.exec(sql, {text(arg)}, until);
      if (!r)
        return r.error();
      std::vector<std::string> v;
      for (int i = 0; i < PQntuples(r->get()); ++i)
        v.emplace_back(cell(r->get(), i, 0));
      return v;
    };
    const OwnerTable owner = *owner_table(level);
    auto found = column(
        fmt::format("SELECT {1} FROM {0} WHERE {1}=$1 FOR UPDATE", owner.table, owner.key), id);
    if (!found)
      return found.error();
    if (found->empty())
      return std::optional<Removal>();
    if (level == Level::kReseller) {
      auto d =
          column("SELECT name FROM tenant_domains WHERE reseller=$1 ORDER BY name FOR UPDATE", id);
      if (!d)
        return d.error();
      out.domains = std::move(*d);
    } else if (level == Level::kDomain) {
      out.domains.push_back(out.id);
    } else {
      out.users.push_back(out.id);
    }
    for (const auto& dom : out.domains) {
      auto u = column(
          "SELECT address FROM tenant_users WHERE domain=$1 ORDER BY address FOR UPDATE", dom);
      if (!u)
        return u.error();
      out.users.insert(out.users.end(), u->begin(), u->end());
    }
    std::vector<std::pair<Level, std::string>> owners;
    if (level == Level::kReseller)
      owners.push_back({Level::kReseller, out.id});
    for (const auto& dom : out.domains)
      owners.push_back({Level::kDomain, dom});
    for (const auto& u : out.users)
      owners.push_back({Level::kUser, u});
    auto del = [&](const char* sql, std::vector<Param> params) -> Result<int64_t> {
      auto r = c.exec(sql, params, until);
      if (!r)
        return r.error();
      return affected(r->get());
    };
    for (const auto& [lvl, who] : owners) {
      auto n = del("DELETE FROM tenant_list_entries WHERE level=$1 AND owner=$2",
                   {level_param(lvl), text(who)});
      if (!n)
        return n.error();
      out.list_entries += *n;
      n = del("DELETE FROM tenant_policies WHERE level=$1 AND id=$2",
              {level_param(lvl), text(who)});
      if (!n)
        return n.error();
      out.policies += *n;
    }
    for (const auto& u : out.users)
      if (auto n = del("DELETE FROM tenant_users WHERE address=$1", {text(u)}); !n)
        return n.error();
    for (const auto& dom : out.domains)
      if (auto n = del("DELETE FROM tenant_domains WHERE name=$1", {text(dom)}); !n)
        return n.error();
    if (level == Level::kReseller) {
      auto n = del("DELETE FROM tenant_api_keys WHERE role='reseller' AND reseller=$1", {text(id)});
      if (!n)
        return n.error();
      out.api_keys = *n;
      if (auto m = del("DELETE FROM tenant_resellers WHERE id=$1", {text(id)}); !m)
        return m.error();
    }
    return std::optional<Removal>(std::move(out));
  }

  static bool is_unique_violation(const Error& e) {
    return e.kind == ErrorKind::kPermanent && e.message.find("[23505]") != std::string::npos;
  }
  static bool is_fk_violation(const Error& e) {
    return e.kind == ErrorKind::kPermanent && e.message.find("[23503]") != std::string::npos;
  }

  Result<pg::PgResult> run(const std::string& sql, const std::vector<Param>& params) {
    auto lease = pool_.checkout();
    if (!lease)
      return lease.error();
    return (*lease)->exec(sql, params, pool_.deadline());
  }

  // An INSERT whose unique violation / missing parent (FK) are kPermanent with these messages.
  Status insert(const std::string& sql, const std::vector<Param>& params,
                const std::string& on_duplicate, const std::string& on_missing_parent) {
    auto r = run(sql, params);
    if (r)
      return Ok{};
    if (is_unique_violation(r.error()))
      return Error::permanent(on_duplicate);
    if (is_fk_violation(r.error()) && !on_missing_parent.empty())
      return Error::permanent(on_missing_parent);
    return r.error();
  }

  template <typename T, typename F>
  Result<std::optional<T>> one(const std::string& sql, const std::vector<Param>& params, F&& read) {
    auto r = run(sql, params);
    if (!r)
      return r.error();
    if (PQntuples(r->get()) == 0)
      return std::optional<T>();
    return std::optional<T>(read(r->get(), 0));
  }
  template <typename T, typename F>
  Result<std::vector<T>> all(const std::string& sql, const std::vector<Param>& params, F&& read) {
    auto r = run(sql, params);
    if (!r)
      return r.error();
    std::vector<T> out;
    out.reserve(PQntuples(r->get()));
    for (int i = 0; i < PQntuples(r->get()); ++i)
      out.push_back(read(r->get(), i));
    return out;
  }

  PostgresOptions options_;
  pg::Pool pool_;
};

}  // namespace

int postgres_tenant_schema_version() {
  return static_cast<int>(std::size(kMigrations));
}

Result<std::unique_ptr<ReplicableTenantStore>> open_postgres_replicable_tenant_store(
    const PostgresOptions& options) {
  if (options.timeout_ms <= 0 || options.pool_size <= 0)
    return Error::config("postgres: timeout_ms and pool_size must be positive");
  if (options.schema.empty())
    return Error::config("postgres: empty schema name");
  auto s = std::make_unique<PostgresTenantStore>(options);
  if (Status m = s->migrate(); !m.ok())
    return m.error();
  return std::unique_ptr<ReplicableTenantStore>(std::move(s));
}

Result<std::unique_ptr<tenant::TenantStore>> open_postgres_tenant_store(
    const PostgresOptions& options) {
  auto s = open_postgres_replicable_tenant_store(options);
  if (!s)
    return s.error();
  return std::unique_ptr<tenant::TenantStore>(std::move(s).value());
}

}  // namespace mailsift::fleet
