// FeedbackStore backends: in-memory (tests) and SQLite (embedded default, feedback.db).
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "feedback/feedback.h"
#include "sqlite/db.h"

namespace mailsift::feedback {
namespace {

// ---- memory ------------------------------------------------------------------------------

class MemoryStore final : public FeedbackStore {
 public:
  Result<bool> has_report(const std::string& user, const std::string& digest, Kind kind) override {
    std::lock_guard lock(mu_);
    return keys_.count({user, digest, kind}) > 0;
  }
  Result<bool> commit_report(const ReportRecord& report, const ReportEffects& fx) override {
    std::lock_guard lock(mu_);
    if (!keys_.insert({report.user, report.digest, report.kind}).second)
      return false;
    ReportRecord r = report;
    r.id = static_cast<int64_t>(reports_.size()) + 1;
    reports_.push_back(r);
    auto& rep = reporters_[report.user];
    rep.agree += fx.agree;
    rep.disagree += fx.disagree;
    rep.reports += 1;
    if (!report.sender.empty() && (fx.sender_spam || fx.sender_ham)) {
      auto& s = senders_[{report.user, report.sender}];
      s.spam_reports += fx.sender_spam;
      s.ham_reports += fx.sender_ham;
      s.last_at_ms = report.at_ms;
    }
    auto& c = corrections_[report.user];
    c.missed_spam += fx.missed_spam;
    c.false_positive += fx.false_positive;
    return true;
  }
  Result<std::vector<ReportRecord>> campaign_candidates(const std::vector<uint64_t>& bands,
                                                        int64_t since_ms) override {
    std::lock_guard lock(mu_);
    std::set<uint64_t> want(bands.begin(), bands.end());
    std::vector<ReportRecord> out;
    for (const auto& r : reports_) {
      if (r.kind != Kind::kSpam || r.at_ms < since_ms)
        continue;
      for (uint64_t b : r.bands) {
        if (want.count(b)) {
          out.push_back(r);
          break;
        }
      }
    }
    return out;
  }
  Result<ReporterStats> reporter(const std::string& user) override {
    std::lock_guard lock(mu_);
    auto it = reporters_.find(user);
    return it == reporters_.end() ? ReporterStats{} : it->second;
  }
  Result<SenderStats> sender(const std::string& user, const std::string& sender) override {
    std::lock_guard lock(mu_);
    auto it = senders_.find({user, sender});
    return it == senders_.end() ? SenderStats{} : it->second;
  }
  Result<Corrections> corrections(const std::string& user) override {
    std::lock_guard lock(mu_);
    auto it = corrections_.find(user);
    return it == corrections_.end() ? Corrections{} : it->second;
  }
  Result<std::pair<int64_t, int64_t>> report_counts(const std::string& user) override {
    std::lock_guard lock(mu_);
    std::pair<int64_t, int64_t> out{0, 0};
    for (const auto& r : reports_)
      if (r.user == user)
        (r.kind == Kind::kSpam ? out.first : out.second)++;
    return out;
  }
  Result<Consent> consent(const std::string& user) override {
    std::lock_guard lock(mu_);
    auto it = consent_.find(user);
    return it == consent_.end() ? Consent::kUnknown : it->second;
  }
  Status set_consent(const std::string& user, Consent consent, int64_t) override {
    std::lock_guard lock(mu_);
    consent_[user] = consent;
    return Ok{};
  }
  Result<std::vector<ReportRecord>> forget_user(const std::string& user) override {
    std::lock_guard lock(mu_);
    std::vector<ReportRecord> out, kept;
    for (auto& r : reports_)
      (r.user == user ? out : kept).push_back(std::move(r));
    reports_ = std::move(kept);
    for (auto it = keys_.begin(); it != keys_.end();)
      it = std::get<0>(*it) == user ? keys_.erase(it) : std::next(it);
    for (auto it = senders_.begin(); it != senders_.end();)
      it = it->first.first == user ? senders_.erase(it) : std::next(it);
    reporters_.erase(user);
    corrections_.erase(user);
    consent_.erase(user);
    return out;
  }

 private:
  std::mutex mu_;
  std::set<std::tuple<std::string, std::string, Kind>> keys_;
  std::vector<ReportRecord> reports_;
  std::map<std::string, ReporterStats> reporters_;
  std::map<std::pair<std::string, std::string>, SenderStats> senders_;
  std::map<std::string, Corrections> corrections_;
  std::map<std::string, Consent> consent_;
};

// ---- SQLite ------------------------------------------------------------------------------

const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE reports(
  id INTEGER PRIMARY KEY, user TEXT NOT NULL, domain TEXT NOT NULL, reseller TEXT NOT NULL,
  digest TEXT NOT NULL, kind INTEGER NOT NULL, sender TEXT NOT NULL, at_ms INTEGER NOT NULL,
  trusted INTEGER NOT NULL, signature BLOB, UNIQUE(user, digest, kind));
CREATE TABLE report_bands(band INTEGER NOT NULL, report_id INTEGER NOT NULL);
CREATE INDEX report_bands_band ON report_bands(band);
CREATE TABLE reporters(user TEXT PRIMARY KEY, agree INTEGER NOT NULL, disagree INTEGER NOT NULL,
  reports INTEGER NOT NULL);
CREATE TABLE senders(user TEXT NOT NULL, sender TEXT NOT NULL, spam INTEGER NOT NULL,
  ham INTEGER NOT NULL, last_at_ms INTEGER NOT NULL, PRIMARY KEY(user, sender));
CREATE TABLE corrections(user TEXT PRIMARY KEY, missed_spam INTEGER NOT NULL,
  false_positive INTEGER NOT NULL);
CREATE TABLE consent(user TEXT PRIMARY KEY, state INTEGER NOT NULL, at_ms INTEGER NOT NULL);
)sql",
};

std::string encode_u32(const std::vector<uint32_t>& v) {
  std::string out(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    for (int b = 0; b < 4; ++b)
      out[i * 4 + b] = static_cast<char>((v[i] >> (8 * b)) & 0xff);
  }
  return out;
}

std::vector<uint32_t> decode_u32(const std::string& s) {
  std::vector<uint32_t> v(s.size() / 4);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t x = 0;
    for (int b = 0; b < 4; ++b)
      x |= static_cast<uint32_t>(static_cast<unsigned char>(s[i * 4 + b])) << (8 * b);
    v[i] = x;
  }
  return v;
}

class SqliteStore final : public FeedbackStore {
 public:
  explicit SqliteStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}

  Status prepare() {
    struct P {
      sqlite::Stmt* s;
      const char* sql;
    };
    for (auto [s, sql] : std::initializer_list<P>{
             {&has_, "SELECT 1 FROM reports WHERE user=?1 AND digest=?2 AND kind=?3"},
             {&insert_,
              "INSERT OR IGNORE INTO reports(user,domain,reseller,digest,kind,sender,at_ms,trusted,"
              "signature) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"},
             {&band_, "INSERT INTO report_bands(band, report_id) VALUES(?1, ?2)"},
             {&reporter_up_,
              "INSERT INTO reporters(user,agree,disagree,reports) VALUES(?1,?2,?3,1) "
              "ON CONFLICT(user) DO UPDATE SET agree=agree+?2, disagree=disagree+?3, "
              "reports=reports+1"},
             {&sender_up_,
              "INSERT INTO senders(user,sender,spam,ham,last_at_ms) VALUES(?1,?2,?3,?4,?5) "
              "ON CONFLICT(user,sender) DO UPDATE SET spam=spam+?3, ham=ham+?4, last_at_ms=?5"},
             {&corr_up_,
              "INSERT INTO corrections(user,missed_spam,false_positive) VALUES(?1,?2,?3) "
              "ON CONFLICT(user) DO UPDATE SET missed_spam=missed_spam+?2, "
              "false_positive=false_positive+?3"},
             {&campaign_,
              "SELECT DISTINCT r.id, r.user, r.domain, r.reseller, r.digest, r.kind, r.sender, "
              "r.at_ms, r.trusted, r.signature FROM report_bands b JOIN reports r ON "
              "r.id=b.report_id WHERE b.band=?1 AND r.kind=1 AND r.at_ms>=?2"},
             {&reporter_, "SELECT agree, disagree, reports FROM reporters WHERE user=?1"},
             {&sender_, "SELECT spam, ham, last_at_ms FROM senders WHERE user=?1 AND sender=?2"},
             {&corr_, "SELECT missed_spam, false_positive FROM corrections WHERE user=?1"},
             {&consent_, "SELECT state FROM consent WHERE user=?1"},
             {&counts_, "SELECT kind, count(*) FROM reports WHERE user=?1 GROUP BY kind"},
             {&consent_set_,
              "INSERT INTO consent(user,state,at_ms) VALUES(?1,?2,?3) ON CONFLICT(user) DO "
              "UPDATE SET state=?2, at_ms=?3"},
         }) {
      if (auto st = db_->prepare(*s, sql); !st)
        return st;
    }
    return Ok{};
  }

  Result<bool> has_report(const std::string& user, const std::string& digest, Kind kind) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(has_);
    u.text(1, user).text(2, digest).i64(3, kind == Kind::kSpam ? 1 : 0);
    int rc = u.step();
    if (rc == SQLITE_ROW)
      return true;
    if (rc == SQLITE_DONE)
      return false;
    return db_->fail(rc, "has_report");
  }

  Result<bool> commit_report(const ReportRecord& r, const ReportEffects& fx) override {
    std::lock_guard lock(mu_);
    bool inserted = false;
    Status st = db_->transaction([&]() -> Status {
      {
        sqlite::Use u(insert_);
        std::string sig = encode_u32(r.signature);
        u.text(1, r.user).text(2, r.domain).text(3, r.reseller).text(4, r.digest);
        u.i64(5, r.kind == Kind::kSpam ? 1 : 0).text(6, r.sender).i64(7, r.at_ms);
        u.i64(8, r.trusted ? 1 : 0).blob(9, sig.data(), sig.size());
        if (int rc = u.step(); rc != SQLITE_DONE)
          return db_->fail(rc, "insert report");
        if (db_->changes() == 0)
          return Ok{};  // duplicate: nothing else changes
      }
      inserted = true;
      const int64_t id = db_->last_insert_rowid();
      if (r.kind == Kind::kSpam && !r.trusted) {
        for (uint64_t b : std::set<uint64_t>(r.bands.begin(), r.bands.end())) {
          sqlite::Use u(band_);
          u.i64(1, static_cast<int64_t>(b)).i64(2, id);
          if (int rc = u.step(); rc != SQLITE_DONE)
            return db_->fail(rc, "insert band");
        }
      }
      {
        sqlite::Use u(reporter_up_);
        u.text(1, r.user).i64(2, fx.agree).i64(3, fx.disagree);
        if (int rc = u.step(); rc != SQLITE_DONE)
          return db_->fail(rc, "reporter");
      }
      if (!r.sender.empty() && (fx.sender_spam || fx.sender_ham)) {
        sqlite::Use u(sender_up_);
        u.text(1, r.user).text(2, r.sender).i64(3, fx.sender_spam).i64(4, fx.sender_ham);
        u.i64(5, r.at_ms);
        if (int rc = u.step(); rc != SQLITE_DONE)
          return db_->fail(rc, "sender");
      }
      if (fx.missed_spam || fx.false_positive) {
        sqlite::Use u(corr_up_);
        u.text(1, r.user).i64(2, fx.missed_spam).i64(3, fx.false_positive);
        if (int rc = u.step(); rc != SQLITE_DONE)
          return db_->fail(rc, "corrections");
      }
      return Ok{};
    });
    if (!st)
      return st.error();
    return inserted;
  }

  Result<std::vector<ReportRecord>> campaign_candidates(const std::vector<uint64_t>& bands,
                                                        int64_t since_ms) override {
    std::lock_guard lock(mu_);
    std::map<int64_t, ReportRecord> found;
    for (uint64_t b : std::set<uint64_t>(bands.begin(), bands.end())) {
      sqlite::Use u(campaign_);
      u.i64(1, static_cast<int64_t>(b)).i64(2, since_ms);
      int rc;
      while ((rc = u.step()) == SQLITE_ROW) {
        int64_t id = u.col_i64(0);
        if (found.count(id))
          continue;
        ReportRecord r;
        r.id = id;
        r.user = u.col_text(1);
        r.domain = u.col_text(2);
        r.reseller = u.col_text(3);
        r.digest = u.col_text(4);
        r.kind = u.col_i64(5) ? Kind::kSpam : Kind::kHam;
        r.sender = u.col_text(6);
        r.at_ms = u.col_i64(7);
        r.trusted = u.col_i64(8) != 0;
        r.signature = decode_u32(u.col_blob(9));
        found.emplace(id, std::move(r));
      }
      if (rc != SQLITE_DONE)
        return db_->fail(rc, "campaign");
    }
    std::vector<ReportRecord> out;
    for (auto& [_, r] : found)
      out.push_back(std::move(r));
    return out;
  }

  Result<ReporterStats> reporter(const std::string& user) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(reporter_);
    u.text(1, user);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return ReporterStats{};
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "reporter");
    return ReporterStats{u.col_i64(0), u.col_i64(1), u.col_i64(2)};
  }
  Result<SenderStats> sender(const std::string& user, const std::string& sender) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(sender_);
    u.text(1, user).text(2, sender);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return SenderStats{};
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "sender");
    return SenderStats{u.col_i64(0), u.col_i64(1), u.col_i64(2)};
  }
  Result<Corrections> corrections(const std::string& user) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(corr_);
    u.text(1, user);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return Corrections{};
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "corrections");
    return Corrections{u.col_i64(0), u.col_i64(1)};
  }
  Result<std::pair<int64_t, int64_t>> report_counts(const std::string& user) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(counts_);
    u.text(1, user);
    std::pair<int64_t, int64_t> out{0, 0};
    int rc;
    while ((rc = u.step()) == SQLITE_ROW)
      (u.col_i64(0) ? out.first : out.second) = u.col_i64(1);
    if (rc != SQLITE_DONE)
      return db_->fail(rc, "report counts");
    return out;
  }
  Result<Consent> consent(const std::string& user) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(consent_);
    u.text(1, user);
    int rc = u.step();
    if (rc == SQLITE_DONE)
      return Consent::kUnknown;
    if (rc != SQLITE_ROW)
      return db_->fail(rc, "consent");
    return static_cast<Consent>(u.col_i64(0));
  }
  Status set_consent(const std::string& user, Consent consent, int64_t at_ms) override {
    std::lock_guard lock(mu_);
    sqlite::Use u(consent_set_);
    u.text(1, user).i64(2, static_cast<int64_t>(consent)).i64(3, at_ms);
    if (int rc = u.step(); rc != SQLITE_DONE)
      return db_->fail(rc, "set consent");
    return Ok{};
  }
  Result<std::vector<ReportRecord>> forget_user(const std::string& user) override {
    std::lock_guard lock(mu_);
    std::vector<ReportRecord> out;
    Status st = db_->transaction([&]() -> Status {
      {
        sqlite::Stmt list;
        if (auto p =
                db_->prepare(list, "SELECT id, digest, kind, sender FROM reports WHERE user=?1");
            !p)
          return p;
        sqlite::Use u(list);
        u.text(1, user);
        for (;;) {
          int rc = u.step();
          if (rc == SQLITE_DONE)
            break;
          if (rc != SQLITE_ROW)
            return db_->fail(rc, "forget user");
          ReportRecord r;
          r.id = u.col_i64(0);
          r.user = user;
          r.digest = u.col_text(1);
          r.kind = u.col_i64(2) == 1 ? Kind::kSpam : Kind::kHam;
          r.sender = u.col_text(3);
          out.push_back(std::move(r));
        }
      }
      for (const char* sql :
           {"DELETE FROM report_bands WHERE report_id IN (SELECT id FROM reports WHERE user=?1)",
            "DELETE FROM reports WHERE user=?1", "DELETE FROM reporters WHERE user=?1",
            "DELETE FROM senders WHERE user=?1", "DELETE FROM corrections WHERE user=?1",
            "DELETE FROM consent WHERE user=?1"}) {
        sqlite::Stmt del;
        if (auto p = db_->prepare(del, sql); !p)
          return p;
        sqlite::Use u(del);
        u.text(1, user);
        if (int rc = u.step(); rc != SQLITE_DONE)
          return db_->fail(rc, "forget user");
      }
      return Ok{};
    });
    if (!st)
      return st.error();
    return out;
  }

 private:
  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
  sqlite::Stmt has_, insert_, band_, reporter_up_, sender_up_, corr_up_, campaign_, reporter_,
      sender_, corr_, consent_, consent_set_, counts_;
};

}  // namespace

std::unique_ptr<FeedbackStore> make_memory_store() {
  return std::make_unique<MemoryStore>();
}

Result<std::unique_ptr<FeedbackStore>> open_sqlite_store(const std::string& path) {
  auto db = sqlite::Db::open(path, kMigrations);
  if (!db)
    return db.error();
  auto store = std::make_unique<SqliteStore>(std::move(*db));
  if (auto st = store->prepare(); !st)
    return st.error();
  return std::unique_ptr<FeedbackStore>(std::move(store));
}

}  // namespace mailsift::feedback
