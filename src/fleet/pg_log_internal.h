// mailsift::fleet — pieces of the PostgreSQL decision log (pg_log.cc) that its tests reach.
// Not an interface for other code.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "fleet/pg_conn.h"

namespace mailsift::fleet::pg_log_detail {

// Which ids of `id_array` (a text[] literal) `decisions` already holds, inside the caller's
// transaction, looked up through the id index whatever the partitions' statistics say.
Result<std::vector<std::string>> stored_ids(pg::Connection& c, const std::string& id_array,
                                            pg::Clock::time_point until);

// A text[] literal of `values`, every element quoted and escaped.
std::string text_array(std::span<const std::string> values);

}  // namespace mailsift::fleet::pg_log_detail
