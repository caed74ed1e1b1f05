// Internals of the SQLite DecisionLog shared with its tests (query-plan checks).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "decisions/decisions.h"

namespace mailsift::decisions {

// The SELECT a Query becomes, with its positional parameters (?1, ?2, ...).
struct SqlQuery {
  std::string sql;
  std::vector<std::variant<int64_t, std::string>> params;
};
SqlQuery build_query_sql(const Query& query);

}  // namespace mailsift::decisions
