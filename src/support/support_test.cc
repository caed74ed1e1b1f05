// support: case lookup, explain-draft, client patterns, symbol descriptions, the HTTP API.
// Hermetic: memory decision log, tenant and outbound stores, a fixed clock.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "decisions/decisions.h"
#include "policy/policy.h"
#include "scan/engine.h"
#include "store/store.h"
#include "support/api.h"
#include "support/client_patterns.h"
#include "support/draft_service.h"
#include "support/ipwatch_state.h"
#include "support/support.h"
#include "tenant/list_check.h"

namespace mailsift::support {
namespace {

using nlohmann::json;

constexpr int64_t kMin = 60'000;
// 2026-11-27T15:15:00Z = 10:15 EST in America/Toronto.
constexpr int64_t kT = 1795792500000;

decisions::RecipientDecision rcpt(std::string address, std::string user, std::string reseller,
                                  std::string action, std::vector<decisions::SymbolHit> syms = {},
                                  std::string reply = "", std::string stage = "data") {
  decisions::RecipientDecision r;
  r.address = address;
  r.user = user;
  if (auto at = user.find('@'); at != std::string::npos)
    r.domain = user.substr(at + 1);
  r.reseller = reseller;
  r.action = action;
  r.symbols = std::move(syms);
  r.smtp_reply = reply;
  r.stage = stage;
  for (const auto& s : r.symbols)
    r.score += s.score;
  return r;
}

decisions::Decision decision(std::string id, int64_t t, std::string direction, std::string from,
                             std::vector<decisions::RecipientDecision> rcpts,
                             std::string auth_user = "", std::string ip = "192.0.2.10") {
  decisions::Decision d;
  d.id = std::move(id);
  d.time_unix_ms = t;
  d.direction = std::move(direction);
  d.mail_from = std::move(from);
  d.auth_user = std::move(auth_user);
  d.client_ip = std::move(ip);
  d.subject = "Hello";
  d.recipients = std::move(rcpts);
  return d;
}

class SupportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tenant::Clock clock = [] { return kT / 1000 - 86400; };
    ASSERT_TRUE(tenant::add_reseller(*tenants_, clock, "acme", "Acme").ok());
    ASSERT_TRUE(tenant::add_reseller(*tenants_, clock, "globex", "Globex").ok());
    ASSERT_TRUE(tenant::add_domain(*tenants_, clock, "acme.test", "acme").ok());
    ASSERT_TRUE(tenant::add_domain(*tenants_, clock, "globex.test", "globex").ok());
    ASSERT_TRUE(tenant::add_user(*tenants_, clock, "bob@acme.test").ok());
    ASSERT_TRUE(tenant::add_user(*tenants_, clock, "dave@globex.test").ok());
    symbols_ = service_symbol_descriptions();
    symbols_.add("BAYES_SPAM", "Statistical classifier says spam");
  }
  CaseDeps deps() {
    CaseDeps d{*log_, *tenants_};
    d.outbound = outbound_.get();
    d.symbols = &symbols_;
    d.now_ms = [] { return kT + 60 * kMin; };
    return d;
  }
  Result<CaseReport> lookup(std::string at, std::string tz = "America/Toronto",
                            std::string window = "30m", std::string from = "spammer@bad.example",
                            std::string to = "bob@acme.test", std::string user = "bob@acme.test",
                            std::string reseller = "acme") {
    return lookup_case(deps(), CaseQuery{reseller, user, from, to, at, tz, window});
  }
  const CaseCheck& check(const CaseReport& r, std::string_view name) {
    for (const auto& c : r.checks)
      if (c.name == name)
        return c;
    ADD_FAILURE() << "no check " << name;
    return r.checks.front();
  }

  std::unique_ptr<decisions::DecisionLog> log_ = decisions::make_memory_log();
  std::unique_ptr<tenant::TenantStore> tenants_ = tenant::make_memory_tenant_store();
  std::unique_ptr<outbound::OutboundStore> outbound_ = outbound::make_memory_store();
  SymbolDescriptions symbols_;
};

TEST_F(SupportTest, TorontoLocalTimeFindsSpamFolderDeliveryWithExplainedSymbols) {
  ASSERT_TRUE(log_->record(decision("D1", kT + 2 * kMin, "inbound", "spammer@bad.example",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "add header",
                                          {{"BAYES_SPAM", 5.1}, {"R_SPF_FAIL", 2}})}))
                  .ok());
  // Outside the window: not found.
  ASSERT_TRUE(log_->record(decision("D0", kT - 45 * kMin, "inbound", "spammer@bad.example",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "no action")}))
                  .ok());
  auto r = lookup("2026-11-27 10:15");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->instants_ms.size(), 1u);
  EXPECT_EQ(r->instants_ms[0], kT);
  EXPECT_FALSE(r->ambiguous);
  ASSERT_EQ(r->messages.size(), 1u);
  const auto& m = r->messages[0];
  EXPECT_EQ(m.decision_id, "D1");
  EXPECT_TRUE(m.sender_matches);
  EXPECT_EQ(m.time_local, "2026-11-27 10:17:00 EST");
  ASSERT_EQ(m.recipients.size(), 1u);
  EXPECT_EQ(m.recipients[0].outcome, "spam_folder");
  ASSERT_EQ(m.recipients[0].symbols.size(), 2u);
  EXPECT_EQ(m.recipients[0].symbols[1].name, "R_SPF_FAIL");
  EXPECT_NE(m.recipients[0].symbols[1].description.find("SPF"), std::string::npos);
  EXPECT_EQ(check(*r, "authentication").status, "warn");
  EXPECT_NE(check(*r, "authentication").answer.find("R_SPF_FAIL"), std::string::npos);
  EXPECT_NE(r->searched.find("2026-11-27T14:45:00.000Z"), std::string::npos) << r->searched;
  EXPECT_NE(r->searched.find("2026-11-27T15:45:00.000Z"), std::string::npos) << r->searched;
  EXPECT_TRUE(r->reseller_known);
  EXPECT_TRUE(r->user_known);
}

TEST_F(SupportTest, RejectAtSmtpQuotesTheReplyAndStage) {
  ASSERT_TRUE(log_->record(decision("D1", kT, "inbound", "spammer@bad.example",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "reject",
                                          {{"USER_BLOCKLIST", 100}},
                                          "550 5.7.1 Sender refused by recipient policy (ref D1)",
                                          "rcpt")}))
                  .ok());
  auto r = lookup("2026-11-27 10:15");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->messages.size(), 1u);
  const auto& rc = r->messages[0].recipients[0];
  EXPECT_EQ(rc.outcome, "rejected");
  EXPECT_NE(rc.summary.find("550 5.7.1 Sender refused by recipient policy (ref D1)"),
            std::string::npos);
  EXPECT_NE(rc.summary.find("RCPT TO"), std::string::npos);
  EXPECT_EQ(rc.symbols[0].description, "Envelope sender is on the recipient's block list");
}

TEST_F(SupportTest, TempfailAndSubjectTagAndWantedReject) {
  auto d = decision("D1", kT, "inbound", "spammer@bad.example",
                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "soft reject", {},
                          "451 4.7.1 Temporary failure scanning message")});
  ASSERT_TRUE(log_->record(d).ok());
  auto d2 = decision("D2", kT + kMin, "inbound", "spammer@bad.example",
                     {rcpt("bob@acme.test", "bob@acme.test", "acme", "add header")});
  d2.recipients[0].policy_source = "domain:acme.test (wanted reject)";
  ASSERT_TRUE(log_->record(d2).ok());
  auto r = lookup("2026-11-27 10:15");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(r->messages[0].recipients[0].outcome, "tempfailed");
  EXPECT_NE(r->messages[0].recipients[0].summary.find("451 4.7.1"), std::string::npos);
  EXPECT_NE(r->messages[1].recipients[0].summary.find("wanted reject"), std::string::npos);
}

TEST_F(SupportTest, AmbiguousDstFoldSearchesBothInstants) {
  // 2026-11-01 01:30 happens at 05:30Z (EDT) and 06:30Z (EST) in Toronto.
  const int64_t first = 1793511000000, second = first + 60 * kMin;
  ASSERT_TRUE(log_->record(decision("E1", first, "inbound", "spammer@bad.example",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "no action")}))
                  .ok());
  ASSERT_TRUE(log_->record(decision("E2", second, "inbound", "spammer@bad.example",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "no action")}))
                  .ok());
  auto r = lookup("2026-11-01 01:30", "America/Toronto", "10m");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->ambiguous);
  ASSERT_EQ(r->instants_ms.size(), 2u);
  EXPECT_EQ(r->instants_ms[0], first);
  EXPECT_EQ(r->instants_ms[1], second);
  EXPECT_EQ(r->messages.size(), 2u);
  ASSERT_FALSE(r->notes.empty());
  EXPECT_NE(r->notes[0].find("twice"), std::string::npos);
}

TEST_F(SupportTest, NonexistentTimeUnknownZoneAndBadWindowAreErrors) {
  auto gap = lookup("2026-03-08 02:30");
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(gap.error().message.find("2026-03-08 02:30"), std::string::npos) << gap.error().message;
  auto zone = lookup("2026-11-27 10:15", "America/Atlantis");
  ASSERT_FALSE(zone.ok());
  EXPECT_EQ(zone.error().kind, ErrorKind::kConfig);
  EXPECT_FALSE(lookup("2026-11-27 10:15", "UTC", "soon").ok());
  EXPECT_FALSE(lookup("yesterday").ok());
}

TEST_F(SupportTest, UnknownIdsAndNoMatchSayWhatWasSearched) {
  auto r = lookup("2026-11-27 10:15", "America/Toronto", "30m", "x@y.test", "nobody@acme.test",
                  "nobody@acme.test", "initech");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->reseller_known);
  EXPECT_FALSE(r->user_known);
  std::string notes;
  for (const auto& n : r->notes)
    notes += n + "\n";
  EXPECT_NE(notes.find("reseller \"initech\" is not in the tenant store"), std::string::npos);
  EXPECT_NE(notes.find("user \"nobody@acme.test\" is not in the tenant store"), std::string::npos);
  EXPECT_NE(notes.find("no decision matched"), std::string::npos);
  EXPECT_NE(notes.find("inbound to nobody@acme.test"), std::string::npos) << notes;
  const std::string text = render_case_text(*r);
  EXPECT_NE(text.find("2026-11-27T14:45:00.000Z"), std::string::npos);
}

TEST_F(SupportTest, AcceptedOutboundThenBouncedByNullSenderMail) {
  ASSERT_TRUE(log_->record(decision("O1", kT, "outbound", "bob@acme.test",
                                    {rcpt("carol@far.example", "", "", "no action")},
                                    "bob@acme.test", "198.51.100.4"))
                  .ok());
  ASSERT_TRUE(log_->record(decision("B1", kT + 3 * kMin, "inbound", "",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "no action")},
                                    "", "203.0.113.9"))
                  .ok());
  auto r =
      lookup("2026-11-27 10:15", "America/Toronto", "30m", "bob@acme.test", "carol@far.example");
  ASSERT_TRUE(r.ok());
  const CaseMessage* out = nullptr;
  for (const auto& m : r->messages)
    if (m.decision_id == "O1")
      out = &m;
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->recipients[0].outcome, "accepted_then_bounced");
  ASSERT_EQ(out->bounced_by.size(), 1u);
  EXPECT_EQ(out->bounced_by[0], "B1");
}

TEST_F(SupportTest, ChecksShowPolicyProvenanceListsAndAccount) {
  tenant::PolicyOverrides p;
  p.spam_action = tenant::SpamAction::kReject;
  ASSERT_TRUE(tenants_->set_policy(tenant::Level::kDomain, "acme.test", p).ok());
  tenant::Clock clock = [] { return kT / 1000 - 3600; };
  ASSERT_TRUE(tenant::add_list_entry(*tenants_, clock, tenant::Level::kUser, "bob@acme.test",
                                     tenant::ListKind::kBlock, "@bad.example", "admin", "spam",
                                     std::nullopt)
                  .ok());
  ASSERT_TRUE(tenant::add_list_entry(*tenants_, clock, tenant::Level::kDomain, "acme.test",
                                     tenant::ListKind::kAllow, "192.0.2.0/24", "admin", "",
                                     std::nullopt)
                  .ok());
  ASSERT_TRUE(log_->record(decision("D1", kT, "inbound", "spammer@bad.example",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "reject")}))
                  .ok());
  outbound::Guard guard(*outbound_, outbound::GuardConfig{}, [] { return kT; });
  ASSERT_TRUE(guard
                  .set_status(outbound::Subject::user("bob@acme.test"), outbound::Level::kSuspended,
                              "unpaid", "billing")
                  .ok());
  auto r = lookup("2026-11-27 10:15");
  ASSERT_TRUE(r.ok());
  const auto& action = check(*r, "spam_action");
  EXPECT_EQ(action.status, "warn");
  EXPECT_NE(action.answer.find("spam_action=reject from domain:acme.test"), std::string::npos)
      << action.answer;
  const auto& lists = check(*r, "lists");
  EXPECT_EQ(lists.status, "warn");
  EXPECT_NE(lists.answer.find("block entry 1 'bad.example' (user bob@acme.test)"),
            std::string::npos)
      << lists.answer;
  EXPECT_NE(lists.answer.find("DECIDES"), std::string::npos);
  EXPECT_NE(lists.answer.find("allow entry 2 '192.0.2.0/24'"), std::string::npos);
  EXPECT_NE(lists.answer.find("since 2026-11-27T14:15:00"), std::string::npos) << lists.answer;
  const auto& account = check(*r, "account");
  EXPECT_EQ(account.status, "warn");
  EXPECT_EQ(account.data["status"], "suspended");
  EXPECT_NE(account.answer.find("unpaid"), std::string::npos);
  const auto& ip = check(*r, "outbound_ip");
  EXPECT_EQ(ip.answer,
            "outbound IP blocklist state: not monitored (no outbound IP pools in ipwatch.pools)");
}

TEST_F(SupportTest, OutboundIpSeamIsAsked) {
  auto d = deps();
  d.outbound_ips = {"198.51.100.1", "198.51.100.2"};
  d.ip_state = [](std::string_view ip) -> std::optional<IpState> {
    if (ip == "198.51.100.2")
      return std::nullopt;
    return IpState{std::string(ip), true, {"zen.spamhaus.org"}, kT, ""};
  };
  auto r =
      lookup_case(d, CaseQuery{"acme", "bob@acme.test", "", "", "2026-11-27 10:15", "UTC", "1m"});
  ASSERT_TRUE(r.ok());
  const auto& ip = check(*r, "outbound_ip");
  EXPECT_EQ(ip.status, "warn");
  EXPECT_NE(ip.answer.find("198.51.100.1 now: LISTED on zen.spamhaus.org"), std::string::npos);
  EXPECT_NE(ip.answer.find("198.51.100.2 now: not monitored"), std::string::npos);
  EXPECT_NE(ip.answer.find("no outbound message matched: every configured outbound IP"),
            std::string::npos)
      << ip.answer;
}

// The IPs named are those of the pool the socketmap steered to when the message left, with
// their listings at that moment, not every configured IP.
TEST_F(SupportTest, OutboundIpIsThePoolInUseWhenTheMessageLeft) {
  ASSERT_TRUE(log_->record(decision("O1", kT, "outbound", "bob@acme.test",
                                    {rcpt("carol@far.example", "", "", "no action")},
                                    "bob@acme.test", "198.51.100.4"))
                  .ok());
  auto ipstore = ipwatch::make_memory_store();
  ipwatch::Options io;
  io.pools = {{"a", "smtp_a", {"192.0.2.1"}}, {"b", "smtp_b", {"192.0.2.2", "192.0.2.3"}}};
  ASSERT_TRUE(ipstore->add_steering({kT - 60 * kMin, "a", "smtp_a", false}).ok());
  ASSERT_TRUE(ipstore->add_steering({kT - 10 * kMin, "b", "smtp_b", false}).ok());
  ASSERT_TRUE(ipstore->add_steering({kT + 10 * kMin, "a", "smtp_a", false}).ok());
  // 192.0.2.2 was listed from before the message until after it; 192.0.2.3 only later.
  ASSERT_TRUE(
      ipstore->open_listing({0, "192.0.2.2", "bl", "bl.test", kT - 5 * kMin, "127.0.0.2", "", 0})
          .ok());
  ASSERT_TRUE(ipstore->close_listing("192.0.2.2", "bl", kT + 5 * kMin).ok());
  ASSERT_TRUE(
      ipstore->open_listing({0, "192.0.2.3", "bl", "bl.test", kT + 20 * kMin, "127.0.0.2", "", 0})
          .ok());
  auto d = deps();
  d.outbound_ips = configured_outbound_ips(io);
  d.route_at = route_at_from_store(*ipstore, io);
  d.ip_state = [](std::string_view ip) -> std::optional<IpState> {
    return IpState{std::string(ip), ip == "192.0.2.3", {}, kT, ""};
  };
  auto r = lookup_case(d, CaseQuery{"acme", "bob@acme.test", "bob@acme.test", "carol@far.example",
                                    "2026-11-27 10:15", "America/Toronto", "30m"});
  ASSERT_TRUE(r.ok()) << r.error().describe();
  const auto& ip = check(*r, "outbound_ip");
  EXPECT_EQ(ip.status, "warn");
  EXPECT_NE(ip.answer.find("O1: sent through pool b (socketmap answer smtp_b"), std::string::npos)
      << ip.answer;
  EXPECT_NE(ip.answer.find("192.0.2.2 at that time: LISTED on bl"), std::string::npos);
  EXPECT_NE(ip.answer.find("192.0.2.3 at that time: not listed"), std::string::npos);
  EXPECT_NE(ip.answer.find("192.0.2.2 now: not listed"), std::string::npos);
  EXPECT_EQ(ip.answer.find("192.0.2.1"), std::string::npos) << "pool a was not in use";
  // Before any pool choice was recorded: every configured IP, saying why.
  auto early = ipwatch::make_memory_store();
  d.route_at = route_at_from_store(*early, io);
  r = lookup_case(d, CaseQuery{"acme", "bob@acme.test", "bob@acme.test", "carol@far.example",
                               "2026-11-27 10:15", "America/Toronto", "30m"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(check(*r, "outbound_ip").answer.find("no pool choice recorded before"),
            std::string::npos);
  EXPECT_NE(check(*r, "outbound_ip").answer.find("192.0.2.1 now"), std::string::npos);
}

TEST_F(SupportTest, AccountCheckIsReadOnly) {
  outbound::GuardConfig gc;
  outbound::Guard guard(*outbound_, gc, [] { return kT; });
  auto who = outbound::Identity::from("bob@acme.test");
  ASSERT_TRUE(guard.check_rcpt({who, "i1", "x@far.example", "192.0.2.1", "r"}).ok());
  auto before = outbound_->get_value("ewma:user:bob@acme.test");
  ASSERT_TRUE(before.ok());
  auto c = account_check(
      outbound_.get(), gc, [] { return kT + 5 * 3600 * 1000LL; }, "bob@acme.test", "acme");
  EXPECT_EQ(c.status, "ok") << c.answer;
  EXPECT_EQ(c.data["scopes"][0]["messages_last_hour"], 0);  // 5 h later
  auto after = outbound_->get_value("ewma:user:bob@acme.test");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*before, *after) << "usage() folded the baseline into the real store";
  auto c2 = account_check(
      outbound_.get(), gc, [] { return kT; }, "bob@acme.test", "acme");
  EXPECT_EQ(c2.data["scopes"][0]["messages_last_hour"], 1);
}

TEST_F(SupportTest, ResellerScopeHidesOtherResellersMailboxes) {
  ASSERT_TRUE(
      log_->record(decision("G1", kT, "inbound", "spammer@bad.example",
                            {rcpt("dave@globex.test", "dave@globex.test", "globex", "no action")}))
          .ok());
  // Case of reseller acme naming globex's mailbox as recipient: nothing is shown.
  auto r = lookup("2026-11-27 10:15", "America/Toronto", "30m", "spammer@bad.example",
                  "dave@globex.test", "bob@acme.test", "acme");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->messages.empty());
  // The user named for the wrong reseller is flagged.
  auto w = lookup("2026-11-27 10:15", "America/Toronto", "30m", "spammer@bad.example",
                  "dave@globex.test", "dave@globex.test", "acme");
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->user_known);
  EXPECT_TRUE(w->messages.empty());
  auto g = lookup("2026-11-27 10:15", "America/Toronto", "30m", "spammer@bad.example",
                  "dave@globex.test", "dave@globex.test", "globex");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->messages.size(), 1u);
}

TEST_F(SupportTest, JsonHasTheSameData) {
  ASSERT_TRUE(log_->record(decision("D1", kT, "inbound", "spammer@bad.example",
                                    {rcpt("bob@acme.test", "bob@acme.test", "acme", "add header",
                                          {{"BAYES_SPAM", 7}})}))
                  .ok());
  auto r = lookup("2026-11-27 10:15");
  ASSERT_TRUE(r.ok());
  const json j = json::parse(case_json(*r).dump());
  EXPECT_EQ(j["query"]["tz"], "America/Toronto");
  EXPECT_EQ(j["instants_utc"][0], "2026-11-27T15:15:00.000Z");
  EXPECT_EQ(j["ambiguous"], false);
  EXPECT_EQ(j["ranges_utc"][0]["since"], "2026-11-27T14:45:00.000Z");
  EXPECT_EQ(j["messages"][0]["decision_id"], "D1");
  EXPECT_EQ(j["messages"][0]["recipients"][0]["outcome"], "spam_folder");
  EXPECT_EQ(j["messages"][0]["recipients"][0]["symbols"][0]["name"], "BAYES_SPAM");
  EXPECT_EQ(j["messages"][0]["recipients"][0]["symbols"][0]["score"], 7.0);
  EXPECT_EQ(j["messages"][0]["recipients"][0]["symbols"][0]["description"],
            "Statistical classifier says spam");
  ASSERT_EQ(j["checks"].size(), 5u);
  for (const auto& c : j["checks"]) {
    EXPECT_TRUE(c.contains("name") && c.contains("status") && c.contains("answer") &&
                c.contains("data"));
  }
  const std::string text = render_case_text(*r);
  EXPECT_NE(text.find("delivered to the spam folder (score 7.00)"), std::string::npos) << text;
  EXPECT_NE(text.find("Statistical classifier says spam"), std::string::npos);
}

// ---- Client patterns: one positive and one negative case per pattern.

struct PatternCase {
  const char* pattern;
  decisions::Decision hit;
  decisions::Decision miss;
};

TEST(ClientPatterns, EachPatternMatchesItsCaseOnly) {
  HostedDomainFn hosted = [](std::string_view d) { return d == "acme.test"; };
  auto in = [](std::string from, std::string to, std::string reply, std::string auth = "") {
    return decision("X", kT, "inbound", from,
                    {rcpt(to, "", "", reply.empty() ? "add header" : "reject", {}, reply, "rcpt")},
                    auth);
  };
  auto out = [](std::string symbol, std::string reply) {
    return decision(
        "X", kT, "outbound", "bob@acme.test",
        {rcpt("x@far.example", "bob@acme.test", "", "reject", {{symbol, 0}}, reply, "rcpt")},
        "bob@acme.test");
  };
  const std::vector<PatternCase> cases = {
      {"unauthenticated_own_domain", in("bob@acme.test", "x@far.example", ""),
       in("bob@acme.test", "x@far.example", "", "bob@acme.test")},
      {"relay_denied",
       in("a@b.example", "x@far.example", "554 5.7.1 <x@far.example>: Relay access denied"),
       in("a@b.example", "x@far.example", "554 5.7.1 <x@far.example>: Relay access denied",
          "bob@acme.test")},
      {"unknown_recipient_unauth",
       in("a@b.example", "x@far.example", "550 5.1.1 <x@far.example>: User unknown"),
       in("a@b.example", "nobody@acme.test", "550 5.1.1 <nobody@acme.test>: User unknown")},
      {"account_suspended", out("OUTBOUND_suspended", "550 5.7.1 Account suspended for bob"),
       out("OUTBOUND_messages_per_hour", "451 4.7.1 Rate limit: 200 messages/hour")},
      {"sending_disabled", out("OUTBOUND_sending_disabled", "550 5.7.1 Sending disabled for bob"),
       out("OUTBOUND_suspended", "550 5.7.1 Account suspended for bob")},
      {"over_limit", out("OUTBOUND_messages_per_hour", "451 4.7.1 Rate limit: 200 messages/hour"),
       out("OUTBOUND_sending_disabled", "550 5.7.1 Sending disabled for bob")},
      {"policy_internal",
       out("OUTBOUND_internal", "451 4.3.0 Temporary problem checking sending limits"),
       out("OUTBOUND_suspended", "550 5.7.1 Account suspended for bob")},
  };
  ASSERT_EQ(cases.size(), client_pattern_table().size()) << "a pattern without a test";
  for (const auto& c : cases) {
    auto has = [&](const decisions::Decision& d) {
      for (const auto& h : recognise_client_patterns(d, d.recipients[0], hosted))
        if (h.pattern == c.pattern)
          return true;
      return false;
    };
    EXPECT_TRUE(has(c.hit)) << c.pattern;
    EXPECT_FALSE(has(c.miss)) << c.pattern;
  }
  EXPECT_NE(render_client_pattern_table_markdown().find("`relay_denied`"), std::string::npos);
}

TEST_F(SupportTest, CaseShowsClientHintForUnauthenticatedOwnDomain) {
  ASSERT_TRUE(log_->record(decision("D1", kT, "inbound", "bob@acme.test",
                                    {rcpt("carol@acme.test", "", "acme", "add header",
                                          {{"R_SPF_FAIL", 2}})}))
                  .ok());
  auto r = lookup("2026-11-27 10:15", "America/Toronto", "30m", "bob@acme.test", "carol@acme.test");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->messages.size(), 1u);
  ASSERT_FALSE(r->messages[0].hints.empty());
  EXPECT_EQ(r->messages[0].hints[0].pattern, "unauthenticated_own_domain");
  EXPECT_NE(render_case_text(*r).find("587"), std::string::npos);
}

// ---- Symbol descriptions.

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SymbolDescriptions, EveryBuiltinSymbolIsDescribed) {
  Config config;
  auto store = store::make_memory_store();
  auto reg = builtin_symbol_descriptions(config, *store);
  ASSERT_TRUE(reg.ok()) << reg.error().describe();
  auto engine = scan::Engine::create(config, *store);
  ASSERT_TRUE(engine.ok());
  size_t n = 0;
  for (const auto& s : (*engine)->all_symbols()) {
    if (s.name.substr(0, 2) == "__")
      continue;  // helper rules are never reported (rules/rule_file.cc), so never logged
    EXPECT_TRUE(reg->knows(s.name)) << s.name;
    ++n;
  }
  EXPECT_GT(n, 20u);  // rules + bayes + fuzzy
  for (const auto& s : tenant::list_symbols())
    EXPECT_TRUE(reg->knows(s.name)) << s.name;
  for (const char* s : {"R_SPF_FAIL", "DMARC_POLICY_REJECT", "RBL_SPAMHAUS", "URIBL_DBL",
                        "USER_BLOCKLIST", "ALLOW_DMARC_FAIL_IGNORED", "OUTBOUND_suspended",
                        "OUTBOUND_messages_per_hour", "OUTBOUND_AUTO_HOLD"})
    EXPECT_TRUE(reg->knows(s)) << s;
  EXPECT_FALSE(reg->knows("NO_SUCH_SYMBOL"));
  // What the engine actually emits on the sample mails is described too.
  for (const char* f : {"/tests/data/sample-spam.eml", "/tests/data/sample-ham.eml"}) {
    const std::string raw = read_file(std::string(MAILSIFT_SOURCE_DIR) + f);
    ASSERT_FALSE(raw.empty()) << f;
    auto v = (*engine)->scan(raw, scan::Recipient{});
    ASSERT_TRUE(v.ok());
    for (const auto& s : v->symbols)
      EXPECT_TRUE(reg->knows(s.name)) << s.name;
  }
}

// ---- Explain a draft.

TEST(ExplainDraft, ScansAsOutboundWithoutLoggingOrCounting) {
  Config config;
  auto store = store::make_memory_store();
  auto policies = policy::make_default_provider(config);
  auto scanner = DraftScanner::create(config, *store, *policies);
  ASSERT_TRUE(scanner.ok()) << scanner.error().describe();
  auto ob = outbound::make_memory_store();
  DraftDeps deps;
  std::vector<scan::Envelope> seen;
  auto inner = (*scanner)->fn();
  deps.scan = [&](std::string_view raw, const scan::Envelope& env) {
    seen.push_back(env);
    return inner(raw, env);
  };
  deps.outbound = ob.get();
  deps.now_ms = [] { return kT; };
  auto symbols = service_symbol_descriptions();
  deps.symbols = &symbols;
  const std::string raw =
      read_file(std::string(MAILSIFT_SOURCE_DIR) + "/tests/data/sample-spam.eml");
  auto r = explain_draft(deps, "Bob@Acme.test", "acme", raw);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].outbound);
  EXPECT_EQ(seen[0].mail_from, "bob@acme.test");
  EXPECT_EQ(seen[0].auth_user, "bob@acme.test");
  EXPECT_FALSE(r->symbols.empty());
  for (const auto& s : r->symbols)
    EXPECT_FALSE(s.description.empty()) << s.name;
  EXPECT_EQ((*scanner)->dropped_decisions(), 1u);  // the service tried to log; it was dropped
  EXPECT_EQ(r->account.data["status"], "active");
  // The sample spam's From is not Bob's domain: the outbound profile's acceptable-use check
  // refuses it after DATA, and the draft explanation says so (with the AUP symbol).
  EXPECT_NE(r->would.find("would be refused after DATA"), std::string::npos) << r->would;
  EXPECT_NE(r->would.find("acceptable use policy"), std::string::npos) << r->would;
  bool aup_symbol = false;
  for (const auto& s : r->symbols)
    aup_symbol = aup_symbol || s.name == "AUP_FORGED_FROM";
  EXPECT_TRUE(aup_symbol);
  // A plain message from Bob's own address would be sent.
  const std::string clean =
      "From: Bob <bob@acme.test>\r\nTo: alice@example.org\r\nSubject: minutes of Tuesday\r\n"
      "Message-ID: <m1@acme.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n"
      "Hi Alice,\r\nthe minutes are below. Talk soon,\r\nBob\r\n";
  auto c = explain_draft(deps, "bob@acme.test", "acme", clean);
  ASSERT_TRUE(c.ok()) << c.error().describe();
  EXPECT_NE(c->would.find("would be sent"), std::string::npos) << c->would;
  // Nothing counted: the sender's counters are still zero.
  auto sum = ob->sum_counts("msg1m:user:bob@acme.test", 0, kT / 60000 + 1);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, 0);
  // A suspended account: the draft would be refused.
  outbound::Guard guard(*ob, outbound::GuardConfig{}, [] { return kT; });
  ASSERT_TRUE(guard
                  .set_status(outbound::Subject::user("bob@acme.test"), outbound::Level::kSuspended,
                              "abuse", "admin")
                  .ok());
  auto s = explain_draft(deps, "bob@acme.test", "acme", raw);
  ASSERT_TRUE(s.ok());
  EXPECT_NE(s->would.find("would be refused at MAIL FROM: the account is suspended (abuse)"),
            std::string::npos)
      << s->would;
  EXPECT_EQ(draft_json(*s)["logged"], false);
  // No outbound store: the answer says the account was not checked (never "would be sent").
  deps.outbound = nullptr;
  auto u = explain_draft(deps, "bob@acme.test", "acme", raw);
  ASSERT_TRUE(u.ok());
  EXPECT_NE(u->would.find("could not be checked"), std::string::npos) << u->would;
  EXPECT_FALSE(explain_draft(deps, "", "", raw).ok());
}

// ---- HTTP API: authentication and reseller isolation.

class SupportApiTest : public SupportTest {
 protected:
  void SetUp() override {
    SupportTest::SetUp();
    tenant::Clock clock = [] { return kT / 1000; };
    admin_ = tenant::create_api_key(*tenants_, clock, tenant::Role::kAdmin, "", "t")->key;
    acme_ = tenant::create_api_key(*tenants_, clock, tenant::Role::kReseller, "acme", "t")->key;
    globex_ = tenant::create_api_key(*tenants_, clock, tenant::Role::kReseller, "globex", "t")->key;
    ASSERT_TRUE(log_->record(decision("D1", kT, "inbound", "spammer@bad.example",
                                      {rcpt("bob@acme.test", "bob@acme.test", "acme", "add header",
                                            {{"BAYES_SPAM", 7}})}))
                    .ok());
    SupportApiOptions o;
    o.log = log_.get();
    o.tenants = tenants_.get();
    o.outbound = outbound_.get();
    o.symbols = symbols_;
    o.now_ms = [] { return kT; };
    api_ = std::make_unique<SupportApi>(std::move(o), nullptr);
  }
  std::pair<int, json> get(const std::string& key,
                           std::vector<std::pair<std::string, std::string>> q,
                           std::string method = "GET", std::string path = "/api/v1/case") {
    const std::string auth = key.empty() ? "" : "Bearer " + key;
    http::ApiCall call{method, path, q, auth, ""};
    auto reply = api_->handle(call);
    return {reply.status, json::parse(reply.body, nullptr, false)};
  }
  std::vector<std::pair<std::string, std::string>> query(std::string reseller,
                                                         std::string user = "bob@acme.test") {
    return {{"reseller", reseller},          {"user", user},
            {"from", "spammer@bad.example"}, {"to", "bob@acme.test"},
            {"at", "2026-11-27 10:15"},      {"tz", "America/Toronto"}};
  }
  std::string admin_, acme_, globex_;
  std::unique_ptr<SupportApi> api_;
};

TEST_F(SupportApiTest, AuthenticationAndResellerIsolation) {
  EXPECT_TRUE(api_->handles("/api/v1/case"));
  EXPECT_TRUE(api_->handles("/api/v1/explain-draft"));
  EXPECT_FALSE(api_->handles("/api/v1/resellers"));
  EXPECT_EQ(get("", query("acme")).first, 401);
  EXPECT_EQ(get("msk_nonsense", query("acme")).first, 401);
  auto [s1, j1] = get(admin_, query("acme"));
  EXPECT_EQ(s1, 200);
  EXPECT_EQ(j1["messages"][0]["decision_id"], "D1");
  auto [s2, j2] = get(acme_, query("acme"));
  EXPECT_EQ(s2, 200);
  EXPECT_EQ(j2["messages"].size(), 1u);
  EXPECT_EQ(get(globex_, query("acme")).first, 403);
  EXPECT_EQ(get(globex_, query("globex", "bob@acme.test")).first, 403);
  EXPECT_EQ(get(acme_, query("acme"), "POST").first, 405);
  auto bad = query("acme");
  bad.push_back({"tz", "Mars/Olympus"});
  bad.erase(bad.begin() + 5);
  auto [s3, j3] = get(admin_, bad);
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(j3["error"]["kind"], "config");
  // No scanner wired: explain-draft is unavailable, not faked.
  EXPECT_EQ(get(acme_, {{"user", "bob@acme.test"}}, "POST", "/api/v1/explain-draft").first, 503);
  EXPECT_EQ(get(globex_, {{"user", "bob@acme.test"}}, "POST", "/api/v1/explain-draft").first, 403);
}

}  // namespace
}  // namespace mailsift::support

namespace mailsift::support {
namespace {
// docs/support.md prints the pattern table; keep them equal (like Config.DocsMatchTheTable).
TEST(ClientPatterns, DocsMatchTheTable) {
  const std::string docs = read_file(std::string(MAILSIFT_SOURCE_DIR) + "/docs/support.md");
  const std::string table = render_client_pattern_table_markdown();
  EXPECT_NE(docs.find(table), std::string::npos) << "docs/support.md needs:\n" << table;
}
}  // namespace
}  // namespace mailsift::support
