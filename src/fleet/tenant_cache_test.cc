// cache_tenant_store (tenant.cache_ms): the TenantStore conformance suite unchanged on the cache
// over the memory store, and the TTL contract with two handles on one SQLite file and a fake
// clock: another handle's change is seen only after the TTL, this handle's own writes at once,
// API keys never cached.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fleet/fleet_tenant.h"
#include "tenant/testing/conformance.h"

namespace mailsift::fleet {
namespace {

MAILSIFT_TENANT_CONFORMANCE(
    Cached, (tenant::testing::BackendFactory{
                "cached_memory",
                [](const std::string&) -> Result<std::unique_ptr<tenant::TenantStore>> {
                  static int64_t now = 0;  // never advances: only writes invalidate
                  return cache_tenant_store(tenant::make_memory_tenant_store(), 60'000,
                                            [] { return now; });
                },
                nullptr}));

TEST(TenantCache, OtherHandlesChangesAfterTtlOwnWritesAtOnceKeysNever) {
  char tmpl[] = "/tmp/mailsift-tcache-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/tenants.db";
  int64_t now = 1000;
  auto raw_a = tenant::open_sqlite_tenant_store(path);
  auto other = tenant::open_sqlite_tenant_store(path);  // "node B"
  ASSERT_TRUE(raw_a.ok() && other.ok());
  auto a = cache_tenant_store(std::move(raw_a).value(), 500, [&] { return now; });
  const tenant::Clock clock = [] { return int64_t{1'800'000'000}; };
  ASSERT_TRUE(tenant::add_reseller(*a, clock, "acme", "").ok());
  ASSERT_TRUE(tenant::add_domain(*a, clock, "acme.test", "acme").ok());
  ASSERT_TRUE(tenant::add_user(*a, clock, "bob@acme.test").ok());

  EXPECT_FALSE(a->get_user("carol@acme.test")->has_value());
  EXPECT_TRUE(a->list_entries(tenant::Level::kUser, "bob@acme.test")->empty());
  ASSERT_TRUE(tenant::add_user(**other, clock, "carol@acme.test").ok());
  ASSERT_TRUE(tenant::add_list_entry(**other, clock, tenant::Level::kUser, "bob@acme.test",
                                     tenant::ListKind::kBlock, "x@bad.test", "b", "", std::nullopt)
                  .ok());
  now += 499;  // within the TTL: the cached answers
  EXPECT_FALSE(a->get_user("carol@acme.test")->has_value());
  EXPECT_TRUE(a->list_entries(tenant::Level::kUser, "bob@acme.test")->empty());
  now += 1;  // TTL over: the other handle's changes
  EXPECT_TRUE(a->get_user("carol@acme.test")->has_value());
  EXPECT_EQ(a->list_entries(tenant::Level::kUser, "bob@acme.test")->size(), 1u);

  // Own write: seen at once, although the entries were cached a moment ago.
  ASSERT_TRUE(tenant::add_list_entry(*a, clock, tenant::Level::kUser, "bob@acme.test",
                                     tenant::ListKind::kAllow, "y@ok.test", "a", "", std::nullopt)
                  .ok());
  EXPECT_EQ(a->list_entries(tenant::Level::kUser, "bob@acme.test")->size(), 2u);

  // API keys: a key created or revoked elsewhere counts at the next request.
  auto key = tenant::create_api_key(**other, clock, tenant::Role::kAdmin, "", "");
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(tenant::authenticate(*a, key->key).ok());
  ASSERT_TRUE(*(*other)->remove_api_key(key->record.hash));
  EXPECT_FALSE(tenant::authenticate(*a, key->key).ok());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace mailsift::fleet
