// Decision IDs, match keys and the JSON shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "decisions/decision_json.h"
#include "decisions/decisions.h"
#include "decisions/normalize.h"

namespace mailsift::decisions {
namespace {

constexpr int64_t kT0 = 1795792500000;  // 2026-11-27T15:15:00Z

TEST(DecisionId, FormatIsUtcMillisecondsAndSixteenHexDigits) {
  EXPECT_EQ(format_decision_id(kT0 + 123, 0x3f9a1c2b7d0e4a61ULL),
            "20261127T151500.123Z-3f9a1c2b7d0e4a61");
  EXPECT_EQ(format_decision_id(0, 0), "19700101T000000.000Z-0000000000000000");
  EXPECT_EQ(format_decision_id(-5, 1), "19700101T000000.000Z-0000000000000001");
  const std::string id = new_decision_id(kT0);
  ASSERT_EQ(id.size(), 37u);
  EXPECT_EQ(id.substr(0, 21), "20261127T151500.000Z-");
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 21), std::string::npos) << id;
}

TEST(DecisionId, TextOrderIsTimeOrder) {
  // Across every boundary that could break text order: ms, s, minute, day, month, year.
  const int64_t times[] = {kT0,
                           kT0 + 1,
                           kT0 + 999,
                           kT0 + 1000,
                           kT0 + 60000,
                           kT0 + 86400000,
                           1798761600000 /* 2027-01-01 */,
                           4102444800000 /* 2100-01-01 */};
  std::vector<std::string> ids;
  for (int64_t t : times)
    ids.push_back(new_decision_id(t));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  // Random bits never outweigh time: the largest suffix at t sorts before the smallest at t+1.
  EXPECT_LT(format_decision_id(kT0, ~uint64_t{0}), format_decision_id(kT0 + 1, 0));
}

TEST(DecisionId, UniqueWithinOneMillisecondAcrossThreads) {
  // Many "nodes" minting IDs for the same millisecond: only the CSPRNG suffix separates them.
  std::set<std::string> seen;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> local;
      for (int i = 0; i < 25000; ++i)
        local.push_back(new_decision_id(kT0));
      std::lock_guard lock(mu);
      seen.insert(local.begin(), local.end());
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(seen.size(), 100000u);
}

TEST(MatchKeys, Addresses) {
  EXPECT_EQ(address_key(" <Bob@Example.ORG> "), "bob@example.org");
  EXPECT_EQ(address_key("bob@example.org"), "bob@example.org");
  EXPECT_EQ(address_key(""), "<>");
  EXPECT_EQ(address_key("<>"), "<>");
  EXPECT_EQ(address_key("< >"), "<>");
  EXPECT_EQ(address_key("ÉLODIE@Example.com"), "Élodie@example.com") << "ASCII-only lowering";
  EXPECT_EQ(user_key(""), "");
  EXPECT_EQ(user_key("Bob@Example.org"), "bob@example.org");
  EXPECT_EQ(domain_key("@Example.ORG."), "example.org");
  EXPECT_EQ(domain_key(""), "");
}

TEST(MatchKeys, IpsAreCanonical) {
  EXPECT_EQ(ip_key("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(ip_key("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(ip_key("[2001:db8::1]"), "2001:db8::1");
  EXPECT_EQ(ip_key("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(ip_key("Unknown"), "unknown");
}

TEST(MatchKeys, MessageIdsAndWords) {
  EXPECT_EQ(message_id_key("<Abc@X>"), "Abc@X");
  EXPECT_EQ(message_id_key(" Abc@X "), "Abc@X");
  EXPECT_EQ(word_key(" No Action "), "no action");
}

Decision full() {
  Decision d;
  d.id = "20261127T151500.123Z-00000000000000aa";
  d.time_unix_ms = kT0 + 123;
  d.node = "n1";
  d.direction = "inbound";
  d.queue_id = "Q1";
  d.message_id = "<m@x>";
  d.client_ip = "192.0.2.1";
  d.helo = "h";
  d.mail_from = "s@x";
  d.auth_user = "u";
  d.subject = "Sub ✓";
  d.digest = "dg";
  d.elapsed_us = 77;
  d.errors = {"e1"};
  RecipientDecision r;
  r.address = "r@x";
  r.user = "r@x";
  r.domain = "x";
  r.reseller = "acme";
  r.score = 6.25;
  r.action = "reject";
  r.smtp_reply = "550 5.7.1 no";
  r.stage = "data";
  r.policy_source = "user";
  r.symbols = {{"A", 1.5}, {"B", -0.1}};
  d.recipients = {r};
  return d;
}

TEST(DecisionJson, RoundTrip) {
  const Decision d = full();
  nlohmann::json j = decision_to_json(d);
  EXPECT_EQ(j["time_utc"], "2026-11-27T15:15:00.123Z");
  EXPECT_EQ(j["recipients"][0]["symbols"][1]["name"], "B");
  auto back = decision_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.error().describe();
  EXPECT_EQ(decision_to_json(*back), j);
}

TEST(DecisionJson, TimeFromUtcTextAndTypeErrorsNameTheField) {
  auto d = decision_from_json(nlohmann::json{{"id", "x"}, {"time_utc", "2026-11-27T15:15:00Z"}});
  ASSERT_TRUE(d.ok()) << d.error().describe();
  EXPECT_EQ(d->time_unix_ms, kT0);
  auto bad = decision_from_json(nlohmann::json{{"id", 5}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(bad.error().message.find("id must be a string"), std::string::npos);
  bad = decision_from_json(
      nlohmann::json::parse(R"({"recipients":[{"address":"a","symbols":[{"score":"x"}]}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("recipients[0].symbols[0].score must be a number"),
            std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(decision_from_json(nlohmann::json::array()).ok());
  EXPECT_FALSE(decision_from_json(nlohmann::json{{"time_utc", "yesterday"}}).ok());
}

}  // namespace
}  // namespace mailsift::decisions
