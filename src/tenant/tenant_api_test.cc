// The tenant management API through the real HTTP Handler (routing, the ApiExtension seam,
// status codes): authentication, reseller isolation (a reseller key cannot read or change
// another reseller's domain/user/list: 404/403), admin sees all, bad bodies -> 400 JSON errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/handler.h"
#include "http/testing/fake_backend.h"
#include "tenant/api.h"

namespace mailsift::tenant {
namespace {

namespace bhttp = boost::beast::http;
using nlohmann::json;

struct Reply {
  int status;
  json body;
};

class TenantApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Clock clock = [this] { return now_; };
    ASSERT_TRUE(add_reseller(*store_, clock, "acme", "Acme").ok());
    ASSERT_TRUE(add_reseller(*store_, clock, "globex", "Globex").ok());
    ASSERT_TRUE(add_domain(*store_, clock, "acme.test", "acme").ok());
    ASSERT_TRUE(add_domain(*store_, clock, "globex.test", "globex").ok());
    ASSERT_TRUE(add_user(*store_, clock, "bob@acme.test").ok());
    ASSERT_TRUE(add_user(*store_, clock, "dave@globex.test").ok());
    admin_ = create_api_key(*store_, clock, Role::kAdmin, "", "test")->key;
    acme_ = create_api_key(*store_, clock, Role::kReseller, "acme", "test")->key;
    globex_ = create_api_key(*store_, clock, Role::kReseller, "globex", "test")->key;
    api_ = std::make_unique<TenantApi>(*store_, PolicyDefaults{}, ListCheckScores{}, clock);
    http::HandlerOptions options;
    options.extension = api_.get();
    handler_ = std::make_unique<http::Handler>(backend_, metrics_, options);
  }

  Reply call(bhttp::verb method, const std::string& target, const std::string& key,
             const std::string& body = "") {
    http::Request req{method, target, 11};
    if (!key.empty())
      req.set(bhttp::field::authorization, "Bearer " + key);
    req.body() = body;
    req.prepare_payload();
    http::Response res = handler_->handle(req);
    json j = json::parse(res.body(), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << target << ": not JSON: " << res.body();
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    return {static_cast<int>(res.result_int()), j};
  }
  Reply get(const std::string& t, const std::string& k) { return call(bhttp::verb::get, t, k); }
  Reply post(const std::string& t, const std::string& k, const std::string& b) {
    return call(bhttp::verb::post, t, k, b);
  }

  int64_t now_ = 1'800'000'000;
  std::unique_ptr<TenantStore> store_ = make_memory_tenant_store();
  http::testing::FakeBackend backend_;
  http::Metrics metrics_;
  std::unique_ptr<TenantApi> api_;
  std::unique_ptr<http::Handler> handler_;
  std::string admin_, acme_, globex_;
};

TEST_F(TenantApiTest, NeedsAValidBearerKey) {
  EXPECT_EQ(get("/api/v1/domains", "").status, 401);
  EXPECT_EQ(get("/api/v1/domains", "msk_nope").status, 401);
  auto r = get("/api/v1/domains", "");
  EXPECT_EQ(r.body["error"]["kind"], "permanent");
  // Basic auth or a bare key is not a bearer token.
  http::Request req{bhttp::verb::get, "/api/v1/domains", 11};
  req.set(bhttp::field::authorization, admin_);
  EXPECT_EQ(handler_->handle(req).result_int(), 401);
  // Other endpoints still route as before.
  http::Request health{bhttp::verb::get, "/api/v1/nope", 11};
  EXPECT_EQ(handler_->handle(health).result_int(), 404);
}

TEST_F(TenantApiTest, AdminSeesEverything) {
  auto r = get("/api/v1/resellers", admin_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["resellers"].size(), 2u);
  EXPECT_EQ(get("/api/v1/domains", admin_).body["domains"].size(), 2u);
  EXPECT_EQ(get("/api/v1/users", admin_).body["users"].size(), 2u);
  EXPECT_EQ(get("/api/v1/users?domain=globex.test", admin_).status, 200);
  EXPECT_EQ(get("/api/v1/policy?user=dave@globex.test", admin_).status, 200);
  EXPECT_EQ(get("/api/v1/lists?level=user&id=dave@globex.test", admin_).status, 200);
  auto created = post("/api/v1/resellers", admin_, R"({"id":"initech","name":"Initech"})");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.body["id"], "initech");
  EXPECT_EQ(post("/api/v1/resellers", admin_, R"({"id":"initech"})").status, 422);
}

TEST_F(TenantApiTest, ResellerKeySeesOnlyItsOwn) {
  auto r = get("/api/v1/resellers", acme_);
  ASSERT_EQ(r.body["resellers"].size(), 1u);
  EXPECT_EQ(r.body["resellers"][0]["id"], "acme");
  auto d = get("/api/v1/domains", acme_);
  ASSERT_EQ(d.body["domains"].size(), 1u);
  EXPECT_EQ(d.body["domains"][0]["name"], "acme.test");
  EXPECT_EQ(get("/api/v1/domains?reseller=globex", acme_).status, 404);
  auto u = get("/api/v1/users", acme_);
  ASSERT_EQ(u.body["users"].size(), 1u);
  EXPECT_EQ(u.body["users"][0]["address"], "bob@acme.test");

  // Reading another reseller's objects: 404, exactly as for objects that do not exist.
  EXPECT_EQ(get("/api/v1/users?domain=globex.test", acme_).status, 404);
  EXPECT_EQ(get("/api/v1/policy?user=dave@globex.test", acme_).status, 404);
  EXPECT_EQ(get("/api/v1/policy?level=domain&id=globex.test", acme_).status, 404);
  EXPECT_EQ(get("/api/v1/policy?level=reseller&id=globex", acme_).status, 404);
  EXPECT_EQ(get("/api/v1/lists?level=user&id=dave@globex.test", acme_).status, 404);
  EXPECT_EQ(get("/api/v1/lists?level=domain&id=globex.test", acme_).status, 404);
  EXPECT_EQ(get("/api/v1/lists/check?user=dave@globex.test&ip=192.0.2.1", acme_).status, 404);

  // Changing them: 404 for existing objects of others, 403 for role violations.
  EXPECT_EQ(post("/api/v1/users", acme_, R"({"address":"eve@globex.test"})").status, 404);
  EXPECT_EQ(post("/api/v1/policy", acme_,
                 R"({"level":"domain","id":"globex.test","spam_action":"reject"})")
                .status,
            404);
  EXPECT_EQ(post("/api/v1/lists", acme_,
                 R"({"level":"user","id":"dave@globex.test","kind":"allow","entry":"x.test"})")
                .status,
            404);
  EXPECT_EQ(post("/api/v1/domains", acme_, R"({"name":"new.test","reseller":"globex"})").status,
            403);
  EXPECT_EQ(post("/api/v1/resellers", acme_, R"({"id":"mine"})").status, 403);
  // Globex's list entry cannot be deleted with acme's key.
  auto entry = post("/api/v1/lists", globex_,
                    R"({"level":"user","id":"dave@globex.test","kind":"block","entry":"1.2.3.4"})");
  ASSERT_EQ(entry.status, 201);
  std::string id = std::to_string(entry.body["id"].get<int64_t>());
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/lists?id=" + id, acme_).status, 404);
  EXPECT_EQ(store_->list_entries(Level::kUser, "dave@globex.test")->size(), 1u);
  EXPECT_TRUE(store_->get_policy(Level::kDomain, "globex.test")->empty());
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/lists?id=" + id, globex_).status, 200);

  // Its own objects work.
  EXPECT_EQ(post("/api/v1/domains", acme_, R"({"name":"shop.acme.test"})").status, 201);
  EXPECT_EQ((*store_->get_domain("shop.acme.test"))->reseller, "acme");
  EXPECT_EQ(post("/api/v1/users", acme_, R"({"address":"Carol@Shop.Acme.Test"})").status, 201);
}

TEST_F(TenantApiTest, PolicyMergeAndEffectiveWithProvenance) {
  auto set = post("/api/v1/policy", acme_,
                  R"({"level":"reseller","id":"acme","spam_score":7,"learning_enabled":false})");
  ASSERT_EQ(set.status, 200) << set.body.dump();
  ASSERT_EQ(post("/api/v1/policy", acme_,
                 R"({"level":"domain","id":"acme.test","spam_action":"reject","reject_score":20})")
                .status,
            200);
  auto e = get("/api/v1/policy?user=bob@acme.test", acme_);
  ASSERT_EQ(e.status, 200);
  EXPECT_EQ(e.body["spam_action"]["value"], "reject");
  EXPECT_EQ(e.body["spam_action"]["level"], "domain");
  EXPECT_EQ(e.body["spam_action"]["id"], "acme.test");
  EXPECT_EQ(e.body["spam_score"]["value"], 7.0);
  EXPECT_EQ(e.body["spam_score"]["level"], "reseller");
  EXPECT_EQ(e.body["learning_enabled"]["value"], false);
  EXPECT_EQ(e.body["reject_score"]["value"], 20.0);
  // null clears (inherit again), absent keeps.
  ASSERT_EQ(
      post("/api/v1/policy", acme_, R"({"level":"domain","id":"acme.test","reject_score":null})")
          .status,
      200);
  auto own = get("/api/v1/policy?level=domain&id=acme.test", acme_);
  EXPECT_EQ(own.body["policy"]["spam_action"], "reject");
  EXPECT_TRUE(own.body["policy"]["reject_score"].is_null());
  e = get("/api/v1/policy?user=bob@acme.test", acme_);
  EXPECT_EQ(e.body["reject_score"]["level"], "global");
}

TEST_F(TenantApiTest, ListsAndCheckSayWhoBlocksSinceWhen) {
  auto added =
      post("/api/v1/lists", acme_,
           R"({"level":"user","id":"bob@acme.test","kind":"block","entry":"198.51.100.0/24",
                        "note":"ticket 42"})");
  ASSERT_EQ(added.status, 201) << added.body.dump();
  EXPECT_EQ(added.body["created_by"], "reseller:acme");
  EXPECT_EQ(added.body["type"], "cidr");
  ASSERT_EQ(post("/api/v1/lists", admin_,
                 R"({"level":"domain","id":"acme.test","kind":"allow","entry":"*.partner.test"})")
                .status,
            201);
  auto r = get("/api/v1/lists/check?user=bob@acme.test&from=a@x.test&ip=198.51.100.20", acme_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["verdict"], "block");
  EXPECT_EQ(r.body["deciding"]["created_at_iso"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(r.body["deciding"]["note"], "ticket 42");
  EXPECT_EQ(r.body["symbols"][0]["name"], "USER_BLOCK_IP");
  // Allow entries apply only with DMARC pass.
  r = get("/api/v1/lists/check?user=bob@acme.test&from=n@mail.partner.test&dmarc=pass", acme_);
  EXPECT_EQ(r.body["verdict"], "allow");
  r = get("/api/v1/lists/check?user=bob@acme.test&from=n@mail.partner.test", acme_);
  EXPECT_EQ(r.body["verdict"], "none");
  EXPECT_EQ(r.body["symbols"].back()["name"], "ALLOW_DMARC_FAIL_IGNORED");
  auto listed = get("/api/v1/lists?level=user&id=bob@acme.test", acme_);
  EXPECT_EQ(listed.body["entries"].size(), 1u);
}

TEST_F(TenantApiTest, BadBodiesAreClear400s) {
  struct Case {
    const char* target;
    const char* body;
  };
  for (const Case& c : {
           Case{"/api/v1/domains", ""},
           Case{"/api/v1/domains", "{"},
           Case{"/api/v1/domains", "[1,2]"},
           Case{"/api/v1/domains", R"({"name":5})"},
           Case{"/api/v1/domains", R"({"name":"bad domain!"})"},
           Case{"/api/v1/users", R"({"address":"nobody"})"},
           Case{"/api/v1/users", R"({})"},
           Case{"/api/v1/policy", R"({"level":"user","id":"bob@acme.test","spam_score":"high"})"},
           Case{"/api/v1/policy", R"({"level":"user","id":"bob@acme.test","spam_action":"drop"})"},
           Case{"/api/v1/policy", R"({"level":"user","id":"bob@acme.test","spam_score":1e9})"},
           Case{"/api/v1/policy", R"({"level":"user","id":"bob@acme.test","colour":"red"})"},
           Case{"/api/v1/policy", R"({"level":"galaxy","id":"x"})"},
           Case{"/api/v1/lists",
                R"({"level":"user","id":"bob@acme.test","kind":"block","entry":"10.0.0.0/99"})"},
           Case{"/api/v1/lists",
                R"({"level":"user","id":"bob@acme.test","kind":"maybe","entry":"x.test"})"},
           Case{"/api/v1/lists", R"({"level":"user","id":"bob@acme.test","kind":"block",
                                     "entry":"x.test","expires_at":"soon"})"},
           Case{"/api/v1/lists", "\xff\xfe garbage"},
       }) {
    auto r = post(c.target, acme_, c.body);
    EXPECT_EQ(r.status, 400) << c.target << " " << c.body << " -> " << r.body.dump();
    EXPECT_EQ(r.body["error"]["kind"], "malformed") << c.body;
    EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty());
  }
  EXPECT_EQ(get("/api/v1/lists/check?user=bob@acme.test&ip=nope", acme_).status, 400);
  EXPECT_EQ(get("/api/v1/lists", acme_).status, 400);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/lists?id=abc", acme_).status, 400);
  EXPECT_EQ(call(bhttp::verb::put, "/api/v1/domains", acme_, "{}").status, 405);
}

}  // namespace
}  // namespace mailsift::tenant

// ---- Removal and key revocation (docs/tenants.md "Removing tenants and keys") ----------------

namespace mailsift::tenant {
namespace {

TEST_F(TenantApiTest, RevokedKeyIsRefusedAtOnce) {
  auto keys = get("/api/v1/keys", acme_);
  ASSERT_EQ(keys.status, 200);
  ASSERT_EQ(keys.body["keys"].size(), 1u);  // a reseller sees only its own keys
  std::string id = keys.body["keys"][0]["id"];
  EXPECT_EQ(get("/api/v1/domains", acme_).status, 200);
  // globex cannot revoke acme's key (404: not even its existence), admin can.
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/keys?id=" + id, globex_).status, 404);
  EXPECT_EQ(get("/api/v1/domains", acme_).status, 200);
  auto r = call(bhttp::verb::delete_, "/api/v1/keys?id=" + id, admin_);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["revoked"]["id"], id);
  EXPECT_EQ(get("/api/v1/domains", acme_).status, 401);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/keys?id=" + id, admin_).status, 404);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/keys?id=abc", admin_).status, 400);
  // A reseller may revoke its own key by the key text itself.
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/keys?id=" + globex_, globex_).status, 200);
  EXPECT_EQ(get("/api/v1/domains", globex_).status, 401);
}

TEST_F(TenantApiTest, ResellerKeyRemovesOnlyItsOwnObjects) {
  ASSERT_EQ(post("/api/v1/lists", acme_,
                 R"({"level":"user","id":"bob@acme.test","kind":"block","entry":"x@bad.test"})")
                .status,
            201);
  // Another reseller's domain and user: 404, as if they did not exist; nothing removed.
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/domains?name=acme.test", globex_).status, 404);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/users?address=bob@acme.test", globex_).status, 404);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/resellers?id=globex", globex_).status, 403);
  EXPECT_TRUE(store_->get_user("bob@acme.test")->has_value());
  // Its own user: removed with its list entry.
  auto r = call(bhttp::verb::delete_, "/api/v1/users?address=BOB@acme.test", acme_);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["removed"]["users"], json::array({"bob@acme.test"}));
  EXPECT_EQ(r.body["removed"]["list_entries"], 1);
  EXPECT_FALSE(store_->get_user("bob@acme.test")->has_value());
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/users?address=bob@acme.test", acme_).status, 404);
  // Admin removes a whole reseller: its domains, users and keys go with it.
  r = call(bhttp::verb::delete_, "/api/v1/resellers?id=globex", admin_);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["removed"]["domains"], json::array({"globex.test"}));
  EXPECT_EQ(r.body["removed"]["users"], json::array({"dave@globex.test"}));
  EXPECT_EQ(r.body["removed"]["api_keys"], 1);
  EXPECT_EQ(get("/api/v1/domains", globex_).status, 401);
  EXPECT_FALSE(store_->get_domain("globex.test")->has_value());
  EXPECT_TRUE(store_->get_domain("acme.test")->has_value());
}

TEST_F(TenantApiTest, RemovalHookReportsThePurge) {
  std::vector<std::string> seen;
  api_->set_removal_hook([&](const Removal& r) -> Result<nlohmann::ordered_json> {
    seen = r.users;
    return nlohmann::ordered_json{{"users", r.users}};
  });
  auto r = call(bhttp::verb::delete_, "/api/v1/domains?name=acme.test", admin_);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(seen, std::vector<std::string>{"bob@acme.test"});
  EXPECT_EQ(r.body["purged"]["users"], json::array({"bob@acme.test"}));
}

}  // namespace
}  // namespace mailsift::tenant
