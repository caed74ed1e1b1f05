// Test helper for store_durability_test: learns random messages into a SQLite store forever,
// printing "ACK <digest>" (flushed) after each learn() returns success. The test SIGKILLs it
// at an arbitrary moment and checks that every acknowledged learn survived.
//
// Usage: store_kill_helper <db-path> <seed>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "store/store.h"

int main(int argc, char** argv) {
  using namespace mailsift::store;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <db-path> <seed>\n", argv[0]);
    return 2;
  }
  auto store = open_sqlite_store(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.error().describe().c_str());
    return 1;
  }
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  const Scope scopes[] = {
      Scope::global(), {Level::kDomain, "example.com"}, {Level::kUser, "bob@example.com"}};
  std::printf("READY\n");
  std::fflush(stdout);
  for (uint64_t n = 0;; ++n) {
    LearnRequest req;
    req.scope = scopes[rng() % 3];
    char digest[64];
    std::snprintf(digest, sizeof digest, "%s-%016llx-%llu", argv[2],
                  static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(n));
    req.message_digest = digest;
    req.cls = rng() % 2 ? Class::kSpam : Class::kHam;
    size_t count = 20 + rng() % 300;
    for (size_t i = 0; i < count; ++i)
      req.tokens.push_back(rng() % 20000);
    auto outcome = (*store)->learn(req);
    if (!outcome.ok()) {
      std::fprintf(stderr, "learn: %s\n", outcome.error().describe().c_str());
      continue;
    }
    std::printf("ACK %s\n", digest);
    std::fflush(stdout);
  }
}
