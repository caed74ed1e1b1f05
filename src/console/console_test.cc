// Console unit tests: form/cookie parsing, escaping and rendering, sessions, login/CSRF, and
// per-reseller authorization of every page, over the memory tenant store and decision log.
#include "console/console.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "console/form.h"
#include "console/html.h"

namespace mailsift::console {
namespace {

using http::ApiCall;
using http::ApiReply;
using Query = std::vector<std::pair<std::string, std::string>>;

// ---- parsing ------------------------------------------------------------------------------

TEST(ConsoleForm, Urlencoded) {
  auto f = parse_urlencoded("a=1&b=x+y%21&&c&user=bob%40acme.test");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(field(*f, "a"), "1");
  EXPECT_EQ(field(*f, "b"), "x y!");
  EXPECT_EQ(field(*f, "c"), "");
  EXPECT_EQ(field(*f, "user"), "bob@acme.test");
  EXPECT_FALSE(parse_urlencoded("a=%4").ok());
  EXPECT_FALSE(parse_urlencoded("a=%zz").ok());
  EXPECT_FALSE(parse_urlencoded("a=%").ok());
}

TEST(ConsoleForm, Multipart) {
  std::string body =
      "------b1\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n"
      "------b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.eml\"\r\n"
      "Content-Type: message/rfc822\r\n\r\nFrom: a@b\r\n\r\nbody\r\n------b1--\r\n";
  auto f = parse_form(body, "multipart/form-data; boundary=----b1");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(field(*f, "csrf"), "abc");
  EXPECT_EQ(field(*f, "file"), "From: a@b\r\n\r\nbody");
  EXPECT_FALSE(parse_form(body, "multipart/form-data").ok());
  EXPECT_FALSE(parse_form("------b1\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nabc",
                          "multipart/form-data; boundary=----b1")
                   .ok());
}

TEST(ConsoleForm, Cookies) {
  auto c = parse_cookies("msc_session=abc; other=\"q\"; bad; =x;  last = 1 ");
  EXPECT_EQ(field(c, "msc_session"), "abc");
  EXPECT_EQ(field(c, "other"), "q");
  EXPECT_EQ(field(c, "last"), "1");
  EXPECT_EQ(c.size(), 3u);
}

// ---- escaping and rendering ---------------------------------------------------------------

TEST(ConsoleHtml, EscapesEverythingMarkupRelevant) {
  EXPECT_EQ(escape("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
}

TEST(ConsoleHtml, JsonRendererEscapesKeysAndValues) {
  nlohmann::ordered_json j;
  j["verdict"] = "<script>alert(1)</script>";
  j["checks"] = nlohmann::ordered_json::array(
      {{{"name", "<b>x</b>"}, {"result", "pass"}}, {{"name", "y"}, {"extra\"><i>", 1.5}}});
  j["list"] = {"a<", "b"};
  std::string h = json_to_html(j, true);
  EXPECT_EQ(h.find("<script>"), std::string::npos);
  EXPECT_EQ(h.find("<b>x"), std::string::npos);
  EXPECT_EQ(h.find("<i>"), std::string::npos);
  EXPECT_NE(h.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(h.find("<h2>checks</h2><table>"), std::string::npos);  // array of objects: table
  EXPECT_NE(h.find("<th>extra&quot;&gt;&lt;i&gt;</th>"), std::string::npos);
  EXPECT_NE(h.find("<li>a&lt;</li>"), std::string::npos);
}

TEST(ConsoleHtml, ChartsEscapeLabelsAndScale) {
  std::string svg = svg_rows("Top symbols", {{"<evil/>", 4}, {"B", 2}});
  EXPECT_EQ(svg.find("<evil/>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;evil/&gt;"), std::string::npos);
  std::string cols = svg_columns("Per hour", {{"00:00", 0}, {"01:00", 3}});
  EXPECT_NE(cols.find("<svg"), std::string::npos);
  EXPECT_NE(cols.find("01:00: 3"), std::string::npos);
}

// ---- sessions -----------------------------------------------------------------------------

TEST(ConsoleSession, RandomTokensExpireAndEvict) {
  int64_t now = 1000;
  SessionStore store([&] { return now; }, 60, 2);
  tenant::Principal admin;
  auto a = store.create(admin, "k1");
  auto b = store.create(admin, "k2");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->token.size(), 64u);
  EXPECT_NE(a->token, b->token);
  EXPECT_NE(a->token, a->csrf);
  EXPECT_TRUE(store.find(a->token).has_value());
  EXPECT_FALSE(store.find(std::string(64, '0')).has_value());
  now += 60;
  EXPECT_FALSE(store.find(a->token).has_value());  // expired
  now = 2000;
  auto c = store.create(admin, "k3");
  auto d = store.create(admin, "k4");
  auto e = store.create(admin, "k5");  // over max_sessions: the oldest goes
  EXPECT_LE(store.size(), 2u);
  EXPECT_TRUE(store.find(e->token).has_value());
  store.erase(e->token);
  EXPECT_FALSE(store.find(e->token).has_value());
}

// ---- the console --------------------------------------------------------------------------

// Stands in for the JSON extensions after the console (feedback, case, doctor).
class FakeApi final : public http::ApiExtension {
 public:
  std::set<std::string, std::less<>> paths;
  struct Seen {
    std::string method, path, authorization, body;
    Query query;
  };
  std::vector<Seen> calls;
  ApiReply reply{200, R"({"ok":true})"};
  bool handles(std::string_view path) const override { return paths.count(path) > 0; }
  ApiReply handle(const ApiCall& c) override {
    calls.push_back({std::string(c.method), std::string(c.path), std::string(c.authorization),
                     std::string(c.body), c.query});
    return reply;
  }
};

struct Reply {
  int status;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name)
        return v;
    return {};
  }
};

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto clock = [this] { return now_; };
    ASSERT_TRUE(tenant::add_reseller(*tenants_, clock, "acme", "Acme").ok());
    ASSERT_TRUE(tenant::add_reseller(*tenants_, clock, "other", "Other").ok());
    ASSERT_TRUE(tenant::add_domain(*tenants_, clock, "acme.test", "acme").ok());
    ASSERT_TRUE(tenant::add_domain(*tenants_, clock, "other.test", "other").ok());
    ASSERT_TRUE(tenant::add_user(*tenants_, clock, "bob@acme.test").ok());
    ASSERT_TRUE(tenant::add_user(*tenants_, clock, "eve@other.test").ok());
    admin_key_ = tenant::create_api_key(*tenants_, clock, tenant::Role::kAdmin, "", "t")->key;
    acme_key_ = tenant::create_api_key(*tenants_, clock, tenant::Role::kReseller, "acme", "t")->key;
    ASSERT_TRUE(tenant::add_list_entry(*tenants_, clock, tenant::Level::kUser, "eve@other.test",
                                       tenant::ListKind::kBlock, "secret-sender.test", "admin",
                                       "eve's private entry", std::nullopt)
                    .ok());
    record("d-bob", "bob@acme.test", "acme.test", "acme", "<script>alert('x')</script>",
           "<img src=x onerror=alert(1)>");
    record("d-eve", "eve@other.test", "other.test", "other", "eve private subject", "EVE_SYM");
    fake_.paths = {"/api/v1/report/spam", "/api/v1/report/ham"};
    console_ =
        std::make_unique<Console>(*tenants_, tenant::PolicyDefaults{}, log_.get(), &fake_, clock);
  }

  void record(const std::string& id, const std::string& user, const std::string& domain,
              const std::string& reseller, const std::string& subject, const std::string& sym) {
    decisions::Decision d;
    d.id = id;
    d.time_unix_ms = (now_ - 600) * 1000;
    d.mail_from = "sender@remote.test";
    d.subject = subject;
    decisions::RecipientDecision r;
    r.address = user;
    r.user = user;
    r.domain = domain;
    r.reseller = reseller;
    r.action = "add header";
    r.score = 7.5;
    r.symbols = {{sym, 3.25}, {"BAYES_SPAM", 4.25}};
    d.recipients = {r};
    ASSERT_TRUE(log_->record(d).ok());
  }

  Reply call(std::string_view method, std::string_view path, Query query = {},
             std::string body = {}, std::string cookie = {},
             std::string content_type = "application/x-www-form-urlencoded") {
    ApiReply r = console_->handle(ApiCall{method, path, query, "", body, cookie, content_type});
    return {r.status, r.body, r.headers};
  }

  // Logs in through the real form flow; returns {cookie header, csrf}.
  std::pair<std::string, std::string> login(const std::string& key) {
    Reply form = call("GET", "/console/login");
    EXPECT_EQ(form.status, 200);
    std::string set = form.header("Set-Cookie");
    std::string nonce = set.substr(set.find('=') + 1, 64);
    Reply r =
        call("POST", "/console/login", {}, "csrf=" + nonce + "&key=" + key, "msc_login=" + nonce);
    EXPECT_EQ(r.status, 303);
    std::string session = r.header("Set-Cookie");
    EXPECT_NE(session.find("HttpOnly"), std::string::npos);
    EXPECT_NE(session.find("SameSite=Strict"), std::string::npos);
    EXPECT_NE(session.find("Max-Age="), std::string::npos);
    std::string token = session.substr(session.find('=') + 1, 64);
    auto s = console_->sessions().find(token);
    EXPECT_TRUE(s.has_value());
    return {"msc_session=" + token, s ? s->csrf : ""};
  }

  int64_t now_ = 1'795'000'000;
  std::unique_ptr<tenant::TenantStore> tenants_ = tenant::make_memory_tenant_store();
  std::unique_ptr<decisions::DecisionLog> log_ = decisions::make_memory_log();
  FakeApi fake_;
  std::unique_ptr<Console> console_;
  std::string admin_key_, acme_key_;
};

TEST_F(ConsoleTest, LoginNeedsTheFormTokenAndAKnownKey) {
  EXPECT_EQ(call("GET", "/console/").status, 303);  // no session: to the login page
  EXPECT_EQ(call("GET", "/console/").header("Location"), "/console/login");
  Reply form = call("GET", "/console/login");
  std::string set = form.header("Set-Cookie");
  std::string nonce = set.substr(set.find('=') + 1, 64);
  // Without the matching login cookie (a cross-site login attempt): refused.
  EXPECT_EQ(call("POST", "/console/login", {}, "csrf=" + nonce + "&key=" + admin_key_).status, 403);
  Reply bad =
      call("POST", "/console/login", {}, "csrf=" + nonce + "&key=msk_nope", "msc_login=" + nonce);
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(bad.body.find("Unknown API key"), std::string::npos);
  EXPECT_EQ(console_->sessions().size(), 0u);
  auto [cookie, csrf] = login(admin_key_);
  Reply dash = call("GET", "/console/", {}, {}, cookie);
  EXPECT_EQ(dash.status, 200);
  EXPECT_NE(dash.header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_NE(dash.body.find("<svg"), std::string::npos);
  EXPECT_NE(dash.body.find("2 decisions, 2 recipients"), std::string::npos);
}

TEST_F(ConsoleTest, PostsNeedTheSessionsCsrfToken) {
  auto [cookie, csrf] = login(admin_key_);
  Reply r = call("POST", "/console/train", {}, "id=d-bob&user=bob@acme.test&kind=spam", cookie);
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(fake_.calls.empty());
  r = call("POST", "/console/logout", {}, "csrf=wrong", cookie);
  EXPECT_EQ(r.status, 403);
  r = call("POST", "/console/logout", {}, "csrf=" + csrf, cookie);
  EXPECT_EQ(r.status, 303);
  EXPECT_EQ(call("GET", "/console/decisions", {}, {}, cookie).status, 303);  // logged out
}

TEST_F(ConsoleTest, HostileSubjectAndSymbolAreEscaped) {
  auto [cookie, csrf] = login(admin_key_);
  Reply list = call("GET", "/console/decisions", {{"user", "bob@acme.test"}}, {}, cookie);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find("<script>alert"), std::string::npos);
  EXPECT_NE(list.body.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  Reply one = call("GET", "/console/decision", {{"id", "d-bob"}}, {}, cookie);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body.find("<img src=x"), std::string::npos);
  EXPECT_NE(one.body.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(one.body.find("BAYES_SPAM"), std::string::npos);
  EXPECT_NE(one.body.find("7.5"), std::string::npos);
}

// Descriptions come from the support tools' registry, family fallback (RBL_<LIST>) included.
TEST_F(ConsoleTest, DecisionPageDescribesSymbolsFromTheSupportRegistry) {
  ConsoleOptions options;
  options.symbols.add("BAYES_SPAM", "Bayes classifier says spam");
  options.symbols.add("RBL_<LIST>", "Sending IP is on a DNS blocklist");
  console_ = std::make_unique<Console>(
      *tenants_, tenant::PolicyDefaults{}, log_.get(), &fake_, [this] { return now_; },
      std::move(options));
  record("d-rbl", "bob@acme.test", "acme.test", "acme", "listed sender", "RBL_EXAMPLE");
  auto [cookie, csrf] = login(admin_key_);
  Reply one = call("GET", "/console/decision", {{"id", "d-rbl"}}, {}, cookie);
  ASSERT_EQ(one.status, 200);
  EXPECT_NE(one.body.find("Bayes classifier says spam"), std::string::npos);
  EXPECT_NE(one.body.find("Sending IP is on a DNS blocklist"), std::string::npos);
}

TEST_F(ConsoleTest, ResellerSeesOnlyItsOwnTenants) {
  auto [cookie, csrf] = login(acme_key_);
  Reply list = call("GET", "/console/decisions", {}, {}, cookie);
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("bob@acme.test"), std::string::npos);
  EXPECT_EQ(list.body.find("eve"), std::string::npos);
  // Asking for the other reseller's user by name finds nothing either.
  list = call("GET", "/console/decisions", {{"user", "eve@other.test"}}, {}, cookie);
  EXPECT_EQ(list.body.find("eve private subject"), std::string::npos);
  EXPECT_EQ(call("GET", "/console/decision", {{"id", "d-eve"}}, {}, cookie).status, 404);
  Reply policy = call("GET", "/console/user", {{"user", "eve@other.test"}}, {}, cookie);
  EXPECT_EQ(policy.status, 404);
  EXPECT_EQ(policy.body.find("secret-sender"), std::string::npos);
  Reply train = call("POST", "/console/train", {},
                     "csrf=" + csrf + "&id=d-eve&user=eve%40other.test&kind=spam", cookie);
  EXPECT_EQ(train.status, 404);
  EXPECT_TRUE(fake_.calls.empty());
  Reply dash = call("GET", "/console/", {}, {}, cookie);
  EXPECT_NE(dash.body.find("1 decisions, 1 recipients"), std::string::npos);
  EXPECT_EQ(dash.body.find("EVE_SYM"), std::string::npos);
  // Its own user: allowed.
  EXPECT_EQ(call("GET", "/console/user", {{"user", "bob@acme.test"}}, {}, cookie).status, 200);
}

TEST_F(ConsoleTest, TrainFromHistoryReportsTheLoggedDecisionForItsUser) {
  auto [cookie, csrf] = login(acme_key_);
  Reply r = call("POST", "/console/train", {},
                 "csrf=" + csrf + "&id=d-bob&user=bob%40acme.test&kind=spam", cookie);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(fake_.calls.size(), 1u);
  EXPECT_EQ(fake_.calls[0].method, "POST");
  EXPECT_EQ(fake_.calls[0].path, "/api/v1/report/spam");
  EXPECT_EQ(fake_.calls[0].query[0],
            (std::pair<std::string, std::string>{"user", "bob@acme.test"}));
  EXPECT_NE(fake_.calls[0].body.find("X-Mailsift-Id: d-bob\r\n"), std::string::npos);
  EXPECT_NE(fake_.calls[0].body.find("Return-Path: <sender@remote.test>"), std::string::npos);
  EXPECT_NE(r.body.find("id=\"trained\""), std::string::npos);
  // A refusal from the feedback service is shown, not hidden.
  fake_.reply = {422, R"({"error":{"kind":"permanent","message":"nope <b>"}})"};
  r = call("POST", "/console/train", {}, "csrf=" + csrf + "&id=d-bob&user=bob%40acme.test&kind=ham",
           cookie);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("nope &lt;b&gt;"), std::string::npos);
  r = call("POST", "/console/train", {}, "csrf=" + csrf + "&id=d-bob&user=bob%40acme.test&kind=x",
           cookie);
  EXPECT_EQ(r.status, 400);
}

TEST_F(ConsoleTest, BadSearchInputIsAClearError) {
  auto [cookie, csrf] = login(admin_key_);
  Reply r = call("GET", "/console/decisions", {{"from", "yesterday-ish"}}, {}, cookie);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("class=\"error\""), std::string::npos);
  EXPECT_NE(r.body.find("from:"), std::string::npos);
  r = call("GET", "/console/decisions", {{"tz", "Mars/Olympus"}}, {}, cookie);
  EXPECT_EQ(r.status, 400);
  r = call("GET", "/console/decisions", {{"limit", "-1"}}, {}, cookie);
  EXPECT_EQ(r.status, 400);
  r = call("GET", "/console/decisions", {{"from", "2026-11-28 00:00"}, {"tz", "America/Toronto"}},
           {}, cookie);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("(times in America/Toronto)"), std::string::npos);
  r = call("POST", "/console/bounce", {}, "csrf=" + csrf + "&message=", cookie);
  EXPECT_EQ(r.status, 400);
  r = call("POST", "/console/train", {}, "csrf=%zz", cookie);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(call("GET", "/console/doctor", {{"domain", "<x>"}}, {}, cookie).status, 400);
}

TEST_F(ConsoleTest, BounceDiagnosisShowsReasonPerRecipient) {
  auto [cookie, csrf] = login(admin_key_);
  std::string bounce =
      "From: MAILER-DAEMON@mx.remote.test\r\nTo: bob@acme.test\r\nSubject: Undelivered Mail "
      "Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; "
      "report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
      "failed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; "
      "mx.remote.test\r\n\r\nFinal-Recipient: rfc822; nobody@remote.test\r\nAction: failed\r\n"
      "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <nobody@remote.test>: User unknown\r\n"
      "\r\n--b--\r\n";
  std::string body = "------x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + csrf +
                     "\r\n------x\r\nContent-Disposition: form-data; name=\"file\"; "
                     "filename=\"b.eml\"\r\n\r\n" +
                     bounce + "\r\n------x--\r\n";
  Reply r =
      call("POST", "/console/bounce", {}, body, cookie, "multipart/form-data; boundary=----x");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("nobody@remote.test"), std::string::npos);
  EXPECT_NE(r.body.find("userunknown"), std::string::npos);
  EXPECT_NE(r.body.find("5.1.1"), std::string::npos);
}

TEST_F(ConsoleTest, CaseAndDoctorPagesCallTheJsonApiWithTheSessionKey) {
  auto [cookie, csrf] = login(acme_key_);
  Reply r = call("GET", "/console/case", {{"user", "bob@acme.test"}, {"at", "2026-11-27 10:15"}},
                 {}, cookie);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("not available in this build"), std::string::npos);
  fake_.paths.insert("/api/v1/case");
  fake_.reply = {200, R"({"searched":{"user":"bob@acme.test"},"messages":[{"subject":"<i>hi"}]})"};
  r = call("GET", "/console/case",
           {{"user", "bob@acme.test"}, {"at", "2026-11-27 10:15"}, {"tz", "America/Toronto"}}, {},
           cookie);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(fake_.calls.size(), 1u);
  EXPECT_EQ(fake_.calls[0].authorization, "Bearer " + acme_key_);
  EXPECT_EQ(fake_.calls[0].path, "/api/v1/case");
  EXPECT_NE(r.body.find("<h2>messages</h2>"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;i&gt;hi"), std::string::npos);
  fake_.paths.insert("/api/v1/doctor/acme.test");
  fake_.reply = {422, R"({"error":{"kind":"permanent","message":"no cluster"}})"};
  r = call("GET", "/console/doctor", {{"domain", "ACME.test"}}, {}, cookie);
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("no cluster"), std::string::npos);
  EXPECT_EQ(fake_.calls.back().path, "/api/v1/doctor/acme.test");
}

TEST_F(ConsoleTest, OtherPathsGoToTheNextExtension) {
  fake_.paths.insert("/api/v1/resellers");
  EXPECT_TRUE(console_->handles("/api/v1/resellers"));
  EXPECT_TRUE(console_->handles("/console/anything"));
  EXPECT_FALSE(console_->handles("/consolex"));
  ApiReply r = console_->handle(ApiCall{"GET", "/api/v1/resellers", {}, "Bearer k", ""});
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(fake_.calls.size(), 1u);
}

TEST(ConsoleHistory, MessageCannotGainHeaders) {
  decisions::Decision d;
  d.id = "x";
  d.subject = "hi\r\nBcc: evil@x";
  std::string m = history_message(d);
  EXPECT_EQ(m.find("\r\nBcc:"), std::string::npos);
}

}  // namespace
}  // namespace mailsift::console
