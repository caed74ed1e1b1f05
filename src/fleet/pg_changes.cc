// Change feeds: see pg_changes.h.
#include "fleet/pg_changes.h"

#include <fmt/format.h>

#include <set>

namespace mailsift::fleet::pg {

Status read_only_snapshot(Connection& c, Pool& pool, const std::function<Status()>& body) {
  if (auto begin = c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", pool.deadline());
      !begin.ok())
    return begin.error();
  Status result = body();
  if (!result.ok()) {
    (void)c.exec("ROLLBACK", pool.deadline());
    return result;
  }
  if (auto commit = c.exec("COMMIT", pool.deadline()); !commit.ok())
    return commit.error();
  return Ok{};
}

Result<uint64_t> snapshot_xmin(Connection& c, Clock::time_point until) {
  auto r = c.exec("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", until);
  if (!r)
    return r.error();
  return std::strtoull(PQgetvalue(r->get(), 0, 0), nullptr, 10);
}

Status for_each_row(Connection& c, const std::string& select, int batch, Pool& pool,
                    const std::function<void(const PGresult*, int)>& row) {
  if (auto r = c.exec("DECLARE mailsift_load NO SCROLL CURSOR FOR " + select, pool.deadline()); !r)
    return r.error();
  const std::string fetch = fmt::format("FETCH {} FROM mailsift_load", batch);
  while (true) {
    auto r = c.exec(fetch, pool.deadline());
    if (!r)
      return r.error();
    const int n = PQntuples(r->get());
    for (int i = 0; i < n; ++i)
      row(r->get(), i);
    if (n < batch)
      break;
  }
  if (auto r = c.exec("CLOSE mailsift_load", pool.deadline()); !r)
    return r.error();
  return Ok{};
}

Result<std::vector<ChangedKey>> read_changes(Pool& pool, const std::string& table,
                                             FeedCursor& cursor) {
  auto lease = pool.checkout();
  if (!lease)
    return lease.error();
  Connection& c = **lease;
  std::set<ChangedKey> seen;
  uint64_t next = cursor.from;
  Status s = read_only_snapshot(c, pool, [&]() -> Status {
    auto xmin = snapshot_xmin(c, pool.deadline());
    if (!xmin)
      return xmin.error();
    next = *xmin;
    auto r =
        c.exec(fmt::format("SELECT topic, key FROM {} WHERE xid >= $1::xid8 AND xid < "
                           "$2::xid8",
                           table),
               {Param(std::to_string(cursor.from)), Param(std::to_string(next))}, pool.deadline());
    if (!r)
      return r.error();
    for (int i = 0; i < PQntuples(r->get()); ++i)
      seen.insert(ChangedKey{PQgetvalue(r->get(), i, 0), PQgetvalue(r->get(), i, 1)});
    return Ok{};
  });
  if (!s.ok())
    return s.error();
  // xmin never moves backwards, but a cursor from a full load on another server (failover to a
  // replica with an older xid horizon) must not rewind the window either.
  cursor.from = std::max(cursor.from, next);
  return std::vector<ChangedKey>(seen.begin(), seen.end());
}

Status prune_changes(Pool& pool, const std::string& table, int64_t older_than_s) {
  auto lease = pool.checkout();
  if (!lease)
    return lease.error();
  auto r = (*lease)->exec(
      fmt::format("DELETE FROM {} WHERE at < now() - make_interval(secs => $1)", table),
      {Param(std::to_string(older_than_s))}, pool.deadline());
  if (!r)
    return r.error();
  return Ok{};
}

}  // namespace mailsift::fleet::pg
