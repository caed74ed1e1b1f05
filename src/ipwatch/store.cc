#include "ipwatch/store.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "sqlite/db.h"

namespace mailsift::ipwatch {

const char* to_string(RequestState s) {
  switch (s) {
    case RequestState::kNone:
      return "none";
    case RequestState::kRequested:
      return "requested";
    case RequestState::kDelisted:
      return "delisted";
    case RequestState::kRejected:
      return "rejected";
  }
  return "none";
}

std::optional<RequestState> parse_request_state(std::string_view s) {
  for (auto st : {RequestState::kNone, RequestState::kRequested, RequestState::kDelisted,
                  RequestState::kRejected})
    if (s == to_string(st))
      return st;
  return std::nullopt;
}

namespace {

// ---------------------------------------------------------------- memory
class MemoryStore final : public Store {
 public:
  Result<bool> open_listing(const Episode& e) override {
    std::lock_guard lock(mu_);
    for (const auto& x : episodes_)
      if (x.ip == e.ip && x.list == e.list && x.delisted_at_ms == 0)
        return false;
    Episode copy = e;
    copy.id = ++next_id_;
    copy.delisted_at_ms = 0;
    episodes_.push_back(std::move(copy));
    return true;
  }
  Result<bool> close_listing(std::string_view ip, std::string_view list, int64_t at) override {
    std::lock_guard lock(mu_);
    for (auto& x : episodes_)
      if (x.ip == ip && x.list == list && x.delisted_at_ms == 0) {
        x.delisted_at_ms = at;
        return true;
      }
    return false;
  }
  Result<std::vector<Episode>> open_listings() override {
    std::lock_guard lock(mu_);
    std::vector<Episode> out;
    for (const auto& x : episodes_)
      if (x.delisted_at_ms == 0)
        out.push_back(x);
    return out;
  }
  Result<std::vector<Episode>> history(std::string_view ip, size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<Episode> out;
    for (auto it = episodes_.rbegin(); it != episodes_.rend() && out.size() < limit; ++it)
      if (ip.empty() || it->ip == ip)
        out.push_back(*it);
    return out;
  }
  Status put_check(const CheckRecord& c) override {
    std::lock_guard lock(mu_);
    checks_[{c.ip, c.list}] = c;
    return Ok{};
  }
  Result<std::vector<CheckRecord>> checks() override {
    std::lock_guard lock(mu_);
    std::vector<CheckRecord> out;
    for (const auto& [k, v] : checks_)
      out.push_back(v);
    return out;
  }
  Result<std::optional<DelistingRecord>> delisting(std::string_view ip) override {
    std::lock_guard lock(mu_);
    auto it = delistings_.find(std::string(ip));
    if (it == delistings_.end())
      return std::optional<DelistingRecord>();
    return std::optional<DelistingRecord>(it->second);
  }
  Status put_delisting(const DelistingRecord& d) override {
    std::lock_guard lock(mu_);
    delistings_[d.ip] = d;
    return Ok{};
  }
  Result<std::vector<DelistingRecord>> delistings() override {
    std::lock_guard lock(mu_);
    std::vector<DelistingRecord> out;
    for (const auto& [k, v] : delistings_)
      out.push_back(v);
    return out;
  }
  Status add_alert(const Alert& a) override {
    std::lock_guard lock(mu_);
    alerts_.push_back(a);
    return Ok{};
  }
  Result<std::vector<Alert>> alerts(size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<Alert> out;
    for (auto it = alerts_.rbegin(); it != alerts_.rend() && out.size() < limit; ++it)
      out.push_back(*it);
    return out;
  }
  Status add_steering(const SteeringRecord& r) override {
    std::lock_guard lock(mu_);
    steering_.push_back(r);
    return Ok{};
  }
  Result<std::optional<SteeringRecord>> steering_at(int64_t at_ms) override {
    std::lock_guard lock(mu_);
    std::optional<SteeringRecord> best;
    for (const auto& r : steering_)  // in insertion order: the last one at or before wins
      if (r.at_ms <= at_ms && (!best || r.at_ms >= best->at_ms))
        best = r;
    return best;
  }

 private:
  std::mutex mu_;
  std::vector<SteeringRecord> steering_;
  int64_t next_id_ = 0;
  std::vector<Episode> episodes_;
  std::map<std::pair<std::string, std::string>, CheckRecord> checks_;
  std::map<std::string, DelistingRecord> delistings_;
  std::vector<Alert> alerts_;
};

// ---------------------------------------------------------------- SQLite
const std::vector<std::string> kMigrations = {
    R"(CREATE TABLE episodes (
         id INTEGER PRIMARY KEY, ip TEXT NOT NULL, list TEXT NOT NULL, zone TEXT NOT NULL,
         listed_at_ms INTEGER NOT NULL, codes TEXT NOT NULL, name TEXT NOT NULL,
         delisted_at_ms INTEGER NOT NULL DEFAULT 0);
       -- at most one open episode per (ip, list): concurrent checkers cannot double a listing
       CREATE UNIQUE INDEX episodes_open ON episodes(ip, list) WHERE delisted_at_ms = 0;
       CREATE INDEX episodes_ip ON episodes(ip, id);
       CREATE TABLE checks (
         ip TEXT NOT NULL, list TEXT NOT NULL, checked_at_ms INTEGER NOT NULL,
         outcome TEXT NOT NULL, codes TEXT NOT NULL, detail TEXT NOT NULL,
         PRIMARY KEY (ip, list));
       CREATE TABLE delistings (
         ip TEXT PRIMARY KEY, listed_since_ms INTEGER NOT NULL, lists TEXT NOT NULL,
         state TEXT NOT NULL, notes TEXT NOT NULL, updated_by TEXT NOT NULL,
         updated_at_ms INTEGER NOT NULL);
       CREATE TABLE alerts (
         id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, ip TEXT NOT NULL, list TEXT NOT NULL,
         event TEXT NOT NULL, detail TEXT NOT NULL);)",
    R"(CREATE TABLE steering (
         id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, pool TEXT NOT NULL,
         transport TEXT NOT NULL, fallback INTEGER NOT NULL);
       CREATE INDEX steering_at ON steering(at_ms, id);)"};

// Column lists shared by the SELECTs below (string-literal concatenation).
#define kEpisodeCols "id, ip, list, zone, listed_at_ms, codes, name, delisted_at_ms"
#define kDelistCols "ip, listed_since_ms, lists, state, notes, updated_by, updated_at_ms"

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& path) {
    auto db = sqlite::Db::open(path, kMigrations);
    if (!db)
      return db.error();
    std::unique_ptr<SqliteStore> s(new SqliteStore(std::move(db).value()));
    if (auto st = s->prepare(); !st)
      return st.error();
    return std::unique_ptr<Store>(std::move(s));
  }

  Result<bool> open_listing(const Episode& e) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(open_);
    u.text(1, e.ip)
        .text(2, e.list)
        .text(3, e.zone)
        .i64(4, e.listed_at_ms)
        .text(5, e.codes)
        .text(6, e.name);
    int rc = u.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "open listing");
    return db_->changes() > 0;
  }
  Result<bool> close_listing(std::string_view ip, std::string_view list, int64_t at) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(close_);
    u.i64(1, at).text(2, ip).text(3, list);
    int rc = u.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "close listing");
    return db_->changes() > 0;
  }
  Result<std::vector<Episode>> open_listings() override {
    std::lock_guard lock(mu_);
    return episodes(open_all_, "", 1000000);
  }
  Result<std::vector<Episode>> history(std::string_view ip, size_t limit) override {
    std::lock_guard lock(mu_);
    return episodes(ip.empty() ? history_all_ : history_ip_, ip, limit);
  }
  Status put_check(const CheckRecord& c) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(put_check_);
    u.text(1, c.ip)
        .text(2, c.list)
        .i64(3, c.checked_at_ms)
        .text(4, c.outcome)
        .text(5, c.codes)
        .text(6, c.detail);
    int rc = u.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "put check");
    return Ok{};
  }
  Result<std::vector<CheckRecord>> checks() override {
    std::lock_guard lock(mu_);
    std::vector<CheckRecord> out;
    sqlite::Use u(get_checks_);
    int rc;
    while ((rc = u.step()) == SQLITE_ROW)
      out.push_back({u.col_text(0), u.col_text(1), u.col_i64(2), u.col_text(3), u.col_text(4),
                     u.col_text(5)});
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "read checks");
    return out;
  }
  Result<std::optional<DelistingRecord>> delisting(std::string_view ip) override {
    std::lock_guard lock(mu_);
    auto all = delisting_rows(get_delisting_, ip);
    if (!all)
      return all.error();
    if (all->empty())
      return std::optional<DelistingRecord>();
    return std::optional<DelistingRecord>(all->front());
  }
  Status put_delisting(const DelistingRecord& d) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(put_delisting_);
    u.text(1, d.ip)
        .i64(2, d.listed_since_ms)
        .text(3, d.lists)
        .text(4, to_string(d.state))
        .text(5, d.notes);
    u.text(6, d.updated_by).i64(7, d.updated_at_ms);
    int rc = u.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "put delisting");
    return Ok{};
  }
  Result<std::vector<DelistingRecord>> delistings() override {
    std::lock_guard lock(mu_);
    return delisting_rows(all_delistings_, "");
  }
  Status add_steering(const SteeringRecord& r) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(add_steering_);
    u.i64(1, r.at_ms).text(2, r.pool).text(3, r.transport).i64(4, r.fallback ? 1 : 0);
    int rc = u.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "add steering");
    return Ok{};
  }
  Result<std::optional<SteeringRecord>> steering_at(int64_t at_ms) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(steering_at_);
    u.i64(1, at_ms);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return std::optional<SteeringRecord>();
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "read steering");
    return std::optional<SteeringRecord>(
        SteeringRecord{u.col_i64(0), u.col_text(1), u.col_text(2), u.col_i64(3) != 0});
  }
  Status add_alert(const Alert& a) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(add_alert_);
    u.i64(1, a.at_ms).text(2, a.ip).text(3, a.list).text(4, a.event).text(5, a.detail);
    int rc = u.step();
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "add alert");
    return Ok{};
  }
  Result<std::vector<Alert>> alerts(size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<Alert> out;
    sqlite::Use u(get_alerts_);
    u.i64(1, static_cast<int64_t>(limit));
    int rc;
    while ((rc = u.step()) == SQLITE_ROW)
      out.push_back({u.col_i64(0), u.col_text(1), u.col_text(2), u.col_text(3), u.col_text(4)});
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "read alerts");
    return out;
  }

 private:
  explicit SqliteStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}

  Status prepare() {
    const std::pair<sqlite::Stmt*, const char*> stmts[] = {
        {&open_,
         "INSERT OR IGNORE INTO episodes(ip, list, zone, listed_at_ms, codes, name) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
        {&close_,
         "UPDATE episodes SET delisted_at_ms = ?1 WHERE ip = ?2 AND list = ?3 AND "
         "delisted_at_ms = 0"},
        {&open_all_, "SELECT " kEpisodeCols " FROM episodes WHERE delisted_at_ms = 0 AND ?1 = ?1 "
                     "ORDER BY id DESC LIMIT ?2"},
        {&history_all_,
         "SELECT " kEpisodeCols " FROM episodes WHERE ?1 = ?1 ORDER BY id DESC LIMIT ?2"},
        {&history_ip_,
         "SELECT " kEpisodeCols " FROM episodes WHERE ip = ?1 ORDER BY id DESC LIMIT ?2"},
        {&put_check_,
         "INSERT OR REPLACE INTO checks(ip, list, checked_at_ms, outcome, codes, detail) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
        {&get_checks_,
         "SELECT ip, list, checked_at_ms, outcome, codes, detail FROM checks ORDER BY ip, list"},
        {&get_delisting_, "SELECT " kDelistCols " FROM delistings WHERE ip = ?1"},
        {&all_delistings_, "SELECT " kDelistCols " FROM delistings WHERE ?1 = ?1 ORDER BY ip"},
        {&put_delisting_,
         "INSERT OR REPLACE INTO delistings(ip, listed_since_ms, lists, state, notes, updated_by, "
         "updated_at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&add_alert_,
         "INSERT INTO alerts(at_ms, ip, list, event, detail) VALUES(?1, ?2, ?3, ?4, ?5)"},
        {&get_alerts_,
         "SELECT at_ms, ip, list, event, detail FROM alerts ORDER BY id DESC LIMIT ?1"},
        {&add_steering_,
         "INSERT INTO steering(at_ms, pool, transport, fallback) VALUES(?1, ?2, ?3, ?4)"},
        {&steering_at_,
         "SELECT at_ms, pool, transport, fallback FROM steering WHERE at_ms <= ?1 "
         "ORDER BY at_ms DESC, id DESC LIMIT 1"},
    };
    for (const auto& [stmt, sql] : stmts)
      if (auto st = db_->prepare(*stmt, sql); !st)
        return st;
    return Ok{};
  }

  Result<std::vector<Episode>> episodes(const sqlite::Stmt& s, std::string_view ip, size_t limit) {
    std::vector<Episode> out;
    sqlite::Use u(s);
    u.text(1, ip).i64(2, static_cast<int64_t>(std::min<size_t>(limit, 1000000)));
    int rc;
    while ((rc = u.step()) == SQLITE_ROW)
      out.push_back({u.col_i64(0), u.col_text(1), u.col_text(2), u.col_text(3), u.col_i64(4),
                     u.col_text(5), u.col_text(6), u.col_i64(7)});
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "read episodes");
    return out;
  }
  Result<std::vector<DelistingRecord>> delisting_rows(const sqlite::Stmt& s, std::string_view ip) {
    std::vector<DelistingRecord> out;
    sqlite::Use u(s);
    u.text(1, ip);
    int rc;
    while ((rc = u.step()) == SQLITE_ROW) {
      DelistingRecord d;
      d.ip = u.col_text(0);
      d.listed_since_ms = u.col_i64(1);
      d.lists = u.col_text(2);
      d.state = parse_request_state(u.col_text(3)).value_or(RequestState::kNone);
      d.notes = u.col_text(4);
      d.updated_by = u.col_text(5);
      d.updated_at_ms = u.col_i64(6);
      out.push_back(std::move(d));
    }
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "read delistings");
    return out;
  }

  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  sqlite::Stmt open_, close_, open_all_, history_all_, history_ip_, put_check_, get_checks_,
      get_delisting_, all_delistings_, put_delisting_, add_alert_, get_alerts_, add_steering_,
      steering_at_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store() {
  return std::make_unique<MemoryStore>();
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  return SqliteStore::open(path);
}

}  // namespace mailsift::ipwatch
