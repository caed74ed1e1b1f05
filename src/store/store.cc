// Backend-independent parts of the store interface: scope keys, names, and URI dispatch.
#include <string_view>

#include "store/store.h"

namespace mailsift::store {

std::string Scope::key() const {
  switch (level) {
    case Level::kGlobal:
      return "g:";
    case Level::kReseller:
      return "r:" + id;
    case Level::kDomain:
      return "d:" + id;
    case Level::kUser:
      return "u:" + id;
  }
  return "?:" + id;
}

const char* to_string(Class c) {
  return c == Class::kHam ? "ham" : "spam";
}

const char* to_string(LearnOutcome o) {
  switch (o) {
    case LearnOutcome::kLearned:
      return "learned";
    case LearnOutcome::kAlreadyLearned:
      return "already-learned";
    case LearnOutcome::kRelearned:
      return "relearned";
    case LearnOutcome::kUnlearned:
      return "unlearned";
    case LearnOutcome::kNotLearned:
      return "not-learned";
  }
  return "unknown";
}

Result<std::unique_ptr<Store>> open_store(const std::string& uri) {
  std::string_view u = uri;
  if (u == "memory:" || u == "memory")
    return make_memory_store();
  if (u.substr(0, 7) == "sqlite:") {
    std::string_view path = u.substr(7);
    // Accept "sqlite:///abs/path" as well as "sqlite:/abs/path".
    if (path.substr(0, 2) == "//")
      path.remove_prefix(2);
    if (path.empty())
      return Error::config("store uri '" + uri + "' has no file path");
    return open_sqlite_store(std::string(path));
  }
  if (u.empty())
    return Error::config("store uri is empty");
  if (u.find("://") != std::string_view::npos || u.substr(0, 6) == "redis:" ||
      u.substr(0, 9) == "postgres:") {
    return Error::config("store uri '" + uri + "': unsupported backend (memory:, sqlite:<path>)");
  }
  return open_sqlite_store(uri);
}

}  // namespace mailsift::store
