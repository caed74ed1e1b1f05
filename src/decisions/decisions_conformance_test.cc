// The one DecisionLog conformance suite: every backend must pass it unchanged.
// Backends instantiate it with MAILSIFT_DECISIONS_CONFORMANCE (see testing/conformance.h).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "decisions/testing/conformance.h"

namespace mailsift::decisions::testing {

void DecisionLogConformance::SetUp() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "mailsift-decisions-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
}

void DecisionLogConformance::TearDown() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::unique_ptr<DecisionLog> DecisionLogConformance::fresh() {
  auto s = GetParam().open_fresh(dir_);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().describe());
  return s.ok() ? std::move(s).value() : nullptr;
}

std::unique_ptr<DecisionLog> DecisionLogConformance::reopen() {
  if (!GetParam().reopen)
    return nullptr;
  auto s = GetParam().reopen(dir_);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().describe());
  return s.ok() ? std::move(s).value() : nullptr;
}

namespace {

// 2026-11-27T15:15:00Z
constexpr int64_t kT0 = 1795792500000;
constexpr int64_t kMinute = 60'000;

// Zero-padded so that text order is numeric order.
std::string fmt_id(int i) {
  std::string digits = std::to_string(i);
  return "id" + std::string(6 - std::min<size_t>(6, digits.size()), '0') + digits;
}

RecipientDecision rcpt(std::string address, std::string user, std::string domain,
                       std::string reseller, std::string action, double score = 0) {
  RecipientDecision r;
  r.address = std::move(address);
  r.user = std::move(user);
  r.domain = std::move(domain);
  r.reseller = std::move(reseller);
  r.action = std::move(action);
  r.score = score;
  return r;
}

Decision decision(std::string id, int64_t time, std::string from,
                  std::vector<RecipientDecision> rcpts) {
  Decision d;
  d.id = std::move(id);
  d.time_unix_ms = time;
  d.mail_from = std::move(from);
  d.recipients = std::move(rcpts);
  return d;
}

// Every field set, unusual values included, so a backend that drops or mangles one fails.
Decision full_decision() {
  Decision d;
  d.id = "20261127T151500.123Z-00000000000000aa";
  d.time_unix_ms = kT0 + 123;
  d.node = "mx2.example.net";
  d.direction = "outbound";
  d.queue_id = "4Yz1Fq0bQmz9sRt";
  d.message_id = "<CAF=abc+123@mail.example.com>";
  d.client_ip = "2001:db8::25";
  d.helo = "mail.example.com";
  d.mail_from = "Alice.Sender@Example.COM";
  d.auth_user = "alice";
  d.subject = "Réunion — ünïcode ✓ \"quoted\" \\ back";
  d.digest = "5d41402abc4b2a76b9719d911017c592";
  d.elapsed_us = 48213;
  d.errors = {"temporary: dns timeout", "fuzzy: \"store\" down"};
  RecipientDecision a;
  a.address = "Bob@Example.ORG";
  a.user = "bob@example.org";
  a.domain = "example.org";
  a.reseller = "acme";
  a.score = 12.375;
  a.action = "reject";
  a.smtp_reply = "550 5.7.1 Message rejected as spam (ref 20261127T151500.123Z-00000000000000aa)";
  a.stage = "data";
  a.policy_source = "user:bob@example.org";
  a.symbols = {{"BAYES_SPAM", 5.1}, {"URL_BLOCKLIST", 7.275}, {"THIRD", 0.1}, {"NEG", -1.0 / 3}};
  RecipientDecision b;
  b.address = "carol@example.net";
  b.user = "";
  b.domain = "example.net";
  b.reseller = "";
  b.score = -0.5;
  b.action = "no action";
  b.smtp_reply = "";
  b.stage = "rcpt";
  b.policy_source = "default";
  d.recipients = {a, b};
  return d;
}

void expect_same(const Decision& a, const Decision& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.time_unix_ms, b.time_unix_ms);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.queue_id, b.queue_id);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.client_ip, b.client_ip);
  EXPECT_EQ(a.helo, b.helo);
  EXPECT_EQ(a.mail_from, b.mail_from);
  EXPECT_EQ(a.auth_user, b.auth_user);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.elapsed_us, b.elapsed_us);
  EXPECT_EQ(a.errors, b.errors);
  ASSERT_EQ(a.recipients.size(), b.recipients.size());
  for (size_t i = 0; i < a.recipients.size(); ++i) {
    const auto &x = a.recipients[i], &y = b.recipients[i];
    SCOPED_TRACE("recipient " + std::to_string(i));
    EXPECT_EQ(x.address, y.address);
    EXPECT_EQ(x.user, y.user);
    EXPECT_EQ(x.domain, y.domain);
    EXPECT_EQ(x.reseller, y.reseller);
    EXPECT_EQ(x.score, y.score);  // exact: scores are shown to customers
    EXPECT_EQ(x.action, y.action);
    EXPECT_EQ(x.smtp_reply, y.smtp_reply);
    EXPECT_EQ(x.stage, y.stage);
    EXPECT_EQ(x.policy_source, y.policy_source);
    ASSERT_EQ(x.symbols.size(), y.symbols.size());
    for (size_t k = 0; k < x.symbols.size(); ++k) {
      EXPECT_EQ(x.symbols[k].name, y.symbols[k].name);
      EXPECT_EQ(x.symbols[k].score, y.symbols[k].score);
    }
  }
}

void record(DecisionLog& log, const Decision& d) {
  auto s = log.record(d);
  ASSERT_TRUE(s.ok()) << s.error().describe();
}

std::vector<Decision> run(DecisionLog& log, const Query& q) {
  auto r = log.query(q);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? *r : std::vector<Decision>{};
}

std::vector<std::string> ids(DecisionLog& log, const Query& q) {
  std::vector<std::string> out;
  for (const Decision& d : run(log, q))
    out.push_back(d.id);
  return out;
}

// A small fixed world for the filter tests. IDs sort like their times.
void seed_world(DecisionLog& log) {
  Decision a = decision(
      "a", kT0, "spammer@bad.example",
      {rcpt("bob@example.org", "bob@example.org", "example.org", "acme", "reject", 15),
       rcpt("carol@example.org", "carol@example.org", "example.org", "acme", "no action", 1)});
  a.queue_id = "QA";
  a.message_id = "<a@bad.example>";
  a.client_ip = "192.0.2.10";
  Decision b = decision(
      "b", kT0 + 1 * kMinute, "friend@good.example",
      {rcpt("bob@example.org", "bob@example.org", "example.org", "acme", "no action", -2)});
  b.queue_id = "QB";
  b.message_id = "<b@good.example>";
  b.client_ip = "198.51.100.7";
  Decision c = decision("c", kT0 + 2 * kMinute, "bob@example.org",
                        {rcpt("dave@other.example", "", "", "", "add header", 6)});
  c.direction = "outbound";
  c.queue_id = "QC";
  c.message_id = "<c@example.org>";
  c.client_ip = "2001:db8::1";
  Decision d = decision(
      "d", kT0 + 3 * kMinute, "spammer@bad.example",
      {rcpt("erin@example.com", "erin@example.com", "example.com", "zeta", "soft reject", 9)});
  d.queue_id = "QD";
  d.message_id = "<d@bad.example>";
  d.client_ip = "192.0.2.10";
  for (const Decision& x : {a, b, c, d})
    record(log, x);
}

}  // namespace

TEST_P(DecisionLogConformance, RoundTripsEveryField) {
  auto log = fresh();
  ASSERT_TRUE(log);
  const Decision d = full_decision();
  record(*log, d);
  Query q;
  q.id = d.id;
  auto got = run(*log, q);
  ASSERT_EQ(got.size(), 1u);
  expect_same(got[0], d);
}

TEST_P(DecisionLogConformance, EmptyLogAndNoMatchGiveEmptyResults) {
  auto log = fresh();
  ASSERT_TRUE(log);
  EXPECT_TRUE(run(*log, Query{}).empty());
  seed_world(*log);
  Query q;
  q.recipient = "nobody@example.org";
  EXPECT_TRUE(run(*log, q).empty());
  q = Query{};
  q.since_unix_ms = kT0 + 10 * kMinute;
  EXPECT_TRUE(run(*log, q).empty());
}

struct FilterCase {
  const char* name;
  Query query;
  std::vector<std::string> expected;  // newest first
};

TEST_P(DecisionLogConformance, EachFilterAlone) {
  auto log = fresh();
  ASSERT_TRUE(log);
  seed_world(*log);
  auto q = [](auto set) {
    Query query;
    set(query);
    return query;
  };
  const FilterCase cases[] = {
      {"none", Query{}, {"d", "c", "b", "a"}},
      {"id", q([](Query& x) { x.id = "b"; }), {"b"}},
      {"sender", q([](Query& x) { x.sender = "spammer@bad.example"; }), {"d", "a"}},
      {"recipient", q([](Query& x) { x.recipient = "bob@example.org"; }), {"b", "a"}},
      {"user", q([](Query& x) { x.user = "carol@example.org"; }), {"a"}},
      {"domain", q([](Query& x) { x.domain = "example.org"; }), {"b", "a"}},
      {"reseller", q([](Query& x) { x.reseller = "zeta"; }), {"d"}},
      {"queue_id", q([](Query& x) { x.queue_id = "QC"; }), {"c"}},
      {"message_id", q([](Query& x) { x.message_id = "<b@good.example>"; }), {"b"}},
      {"client_ip", q([](Query& x) { x.client_ip = "192.0.2.10"; }), {"d", "a"}},
      {"action", q([](Query& x) { x.action = "no action"; }), {"b", "a"}},
      {"direction out", q([](Query& x) { x.direction = "outbound"; }), {"c"}},
      {"direction in", q([](Query& x) { x.direction = "inbound"; }), {"d", "b", "a"}},
      {"since", q([](Query& x) { x.since_unix_ms = kT0 + 2 * kMinute; }), {"d", "c"}},
      {"until", q([](Query& x) { x.until_unix_ms = kT0 + 2 * kMinute; }), {"b", "a"}},
      {"no such id", q([](Query& x) { x.id = "zzz"; }), {}},
  };
  for (const FilterCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ids(*log, c.query), c.expected);
  }
}

TEST_P(DecisionLogConformance, CombinedFilters) {
  auto log = fresh();
  ASSERT_TRUE(log);
  seed_world(*log);
  Query q;
  q.sender = "spammer@bad.example";
  q.since_unix_ms = kT0 + kMinute;
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"d"}));

  q = Query{};
  q.recipient = "bob@example.org";
  q.action = "reject";
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"a"}));

  q = Query{};
  q.client_ip = "192.0.2.10";
  q.reseller = "acme";
  q.until_unix_ms = kT0 + 10 * kMinute;
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"a"}));

  q = Query{};
  q.direction = "outbound";
  q.sender = "spammer@bad.example";
  EXPECT_TRUE(ids(*log, q).empty());
}

TEST_P(DecisionLogConformance, RecipientFiltersMustHoldForTheSameRecipient) {
  auto log = fresh();
  ASSERT_TRUE(log);
  seed_world(*log);
  // In "a", carol's copy was accepted and bob's rejected: carol + reject is no match.
  Query q;
  q.user = "carol@example.org";
  q.action = "reject";
  EXPECT_TRUE(ids(*log, q).empty());
  q.action = "no action";
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"a"}));
}

TEST_P(DecisionLogConformance, TimeRangeSinceInclusiveUntilExclusive) {
  auto log = fresh();
  ASSERT_TRUE(log);
  record(*log, decision("x0", kT0 - 1, "s@x", {}));
  record(*log, decision("x1", kT0, "s@x", {}));
  record(*log, decision("x2", kT0 + kMinute - 1, "s@x", {}));
  record(*log, decision("x3", kT0 + kMinute, "s@x", {}));
  Query q;
  q.since_unix_ms = kT0;
  q.until_unix_ms = kT0 + kMinute;
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"x2", "x1"}));
  q.until_unix_ms = kT0;  // empty range
  EXPECT_TRUE(ids(*log, q).empty());
  q.since_unix_ms = kT0 + kMinute;  // inverted range
  EXPECT_TRUE(ids(*log, q).empty());
  // The same boundaries through the recipient path.
  record(*log, decision("y1", kT0, "s@y", {rcpt("r@y", "", "", "", "reject")}));
  record(*log, decision("y2", kT0 + kMinute, "s@y", {rcpt("r@y", "", "", "", "reject")}));
  q = Query{};
  q.recipient = "r@y";
  q.since_unix_ms = kT0;
  q.until_unix_ms = kT0 + kMinute;
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"y1"}));
}

TEST_P(DecisionLogConformance, NewestFirstTiesByIdAndLimit) {
  auto log = fresh();
  ASSERT_TRUE(log);
  // Recorded out of order; two share a millisecond.
  record(*log, decision("m2", kT0 + 2, "s@x", {}));
  record(*log, decision("m0", kT0, "s@x", {}));
  record(*log, decision("m1b", kT0 + 1, "s@x", {}));
  record(*log, decision("m1a", kT0 + 1, "s@x", {}));
  record(*log, decision("m3", kT0 + 3, "s@x", {}));
  Query q;
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"m3", "m2", "m1b", "m1a", "m0"}));
  q.limit = 2;
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"m3", "m2"}));
  q.limit = 1;
  q.until_unix_ms = kT0 + 2;
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"m1b"}));
  q = Query{};
  q.limit = 0;  // no limit
  EXPECT_EQ(ids(*log, q).size(), 5u);
}

TEST_P(DecisionLogConformance, DefaultLimitIsAHundred) {
  auto log = fresh();
  ASSERT_TRUE(log);
  for (int i = 0; i < 105; ++i)
    record(*log, decision(fmt_id(i), kT0 + i, "s@x", {}));
  auto got = ids(*log, Query{});
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got.front(), fmt_id(104));
  EXPECT_EQ(got.back(), fmt_id(5));
}

TEST_P(DecisionLogConformance, MultiRecipientDecisionMatchedByAnyRecipientOnce) {
  auto log = fresh();
  ASSERT_TRUE(log);
  record(*log,
         decision("multi", kT0, "s@x",
                  {rcpt("one@a.example", "one@a.example", "a.example", "r1", "reject"),
                   rcpt("two@b.example", "two@b.example", "b.example", "r1", "reject"),
                   rcpt("three@a.example", "three@a.example", "a.example", "r2", "no action")}));
  for (const char* address : {"one@a.example", "two@b.example", "three@a.example"}) {
    SCOPED_TRACE(address);
    Query q;
    q.recipient = address;
    auto got = run(*log, q);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].recipients.size(), 3u) << "a match returns every recipient";
    EXPECT_EQ(got[0].recipients[1].address, "two@b.example") << "recipient order is kept";
  }
  Query q;
  q.domain = "a.example";  // two recipients match: still one decision
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"multi"}));
  q = Query{};
  q.action = "reject";
  q.reseller = "r1";
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"multi"}));
}

TEST_P(DecisionLogConformance, AddressesAndDomainsMatchCaseInsensitively) {
  auto log = fresh();
  ASSERT_TRUE(log);
  const Decision d = full_decision();  // sender Alice.Sender@Example.COM, rcpt Bob@Example.ORG
  record(*log, d);
  auto found = [&](auto set) {
    Query q;
    set(q);
    return ids(*log, q) == std::vector<std::string>{d.id};
  };
  EXPECT_TRUE(found([](Query& q) { q.sender = "alice.sender@example.com"; }));
  EXPECT_TRUE(found([](Query& q) { q.sender = "<ALICE.SENDER@EXAMPLE.COM>"; }));
  EXPECT_TRUE(found([](Query& q) { q.recipient = "bob@example.org"; }));
  EXPECT_TRUE(found([](Query& q) { q.recipient = "<BOB@EXAMPLE.ORG>"; }));
  EXPECT_TRUE(found([](Query& q) { q.recipient = "CAROL@example.NET"; }));
  EXPECT_TRUE(found([](Query& q) { q.user = "Bob@Example.Org"; }));
  EXPECT_TRUE(found([](Query& q) { q.domain = "EXAMPLE.ORG"; }));
  EXPECT_TRUE(found([](Query& q) { q.domain = "example.net."; }));
  EXPECT_TRUE(found([](Query& q) { q.action = "REJECT"; }));
  EXPECT_TRUE(found([](Query& q) { q.direction = "Outbound"; }));
  EXPECT_TRUE(found([](Query& q) { q.message_id = "CAF=abc+123@mail.example.com"; }));
  EXPECT_TRUE(found([](Query& q) { q.client_ip = "2001:DB8:0:0::25"; }));
  // Exact fields stay exact.
  EXPECT_FALSE(found([](Query& q) { q.message_id = "<caf=abc+123@mail.example.com>"; }));
  EXPECT_FALSE(found([](Query& q) { q.queue_id = "4yz1fq0bqmz9srt"; }));
  EXPECT_FALSE(found([](Query& q) { q.reseller = "ACME"; }));
  EXPECT_FALSE(found([](Query& q) { q.sender = "alice@example.com"; }));
}

TEST_P(DecisionLogConformance, NullSenderIsSearchableAsAngleBrackets) {
  auto log = fresh();
  ASSERT_TRUE(log);
  record(*log, decision("bounce1", kT0, "", {rcpt("r@x", "", "", "", "no action")}));
  record(*log, decision("bounce2", kT0 + 1, "<>", {rcpt("r@x", "", "", "", "no action")}));
  record(*log, decision("normal", kT0 + 2, "s@x", {rcpt("r@x", "", "", "", "no action")}));
  Query q;
  q.sender = "<>";
  EXPECT_EQ(ids(*log, q), (std::vector<std::string>{"bounce2", "bounce1"}));
}

TEST_P(DecisionLogConformance, RecordIsIdempotentById) {
  auto log = fresh();
  ASSERT_TRUE(log);
  Decision d = full_decision();
  record(*log, d);
  record(*log, d);  // a retry after an ambiguous failure
  Query q;
  q.recipient = "bob@example.org";
  auto got = run(*log, q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].recipients.size(), 2u);
}

TEST_P(DecisionLogConformance, DecisionWithoutIdIsMalformed) {
  auto log = fresh();
  ASSERT_TRUE(log);
  Decision d = full_decision();
  d.id.clear();
  auto s = log->record(d);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kMalformed);
  EXPECT_TRUE(run(*log, Query{}).empty());
}

TEST_P(DecisionLogConformance, DecisionWithoutRecipientsAndInvalidUtf8IsKept) {
  auto log = fresh();
  ASSERT_TRUE(log);
  Decision d = decision("raw", kT0, "s@x", {});
  d.subject = "caf\xe9 \xff\xfe";  // Latin-1 from an untrusted header
  d.errors = {"bad \xc3 byte"};
  record(*log, d);
  auto got = run(*log, Query{});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].recipients.empty());
  EXPECT_FALSE(got[0].subject.empty());
  EXPECT_EQ(got[0].errors.size(), 1u);
  Query q;
  q.recipient = "r@x";
  EXPECT_TRUE(run(*log, q).empty());
}

TEST_P(DecisionLogConformance, ExpireRemovesOlderThanCutoff) {
  auto log = fresh();
  ASSERT_TRUE(log);
  seed_world(*log);                               // a..d at kT0 + 0..3 minutes
  auto removed = log->expire(kT0 + 2 * kMinute);  // a and b are older; c is at the cutoff
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(ids(*log, Query{}), (std::vector<std::string>{"d", "c"}));
  Query q;
  q.recipient = "bob@example.org";  // recipient rows went with their decisions
  EXPECT_TRUE(run(*log, q).empty());
  removed = log->expire(kT0 + 2 * kMinute);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);
  // An expired id may be recorded again (it is a new decision for the log).
  removed = log->expire(kT0 + 100 * kMinute);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2u);
  EXPECT_TRUE(run(*log, Query{}).empty());
}

TEST_P(DecisionLogConformance, ConcurrentRecordsAreAllKept) {
  auto log = fresh();
  ASSERT_TRUE(log);
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Decision d = decision(fmt_id(t * 100 + i), kT0 + t * 100 + i, "s@x",
                              {rcpt("r@x", "", "", "", "reject")});
        EXPECT_TRUE(log->record(d).ok());
      }
    });
  }
  for (auto& th : threads)
    th.join();
  Query q;
  q.recipient = "r@x";
  q.limit = 0;
  EXPECT_EQ(run(*log, q).size(), size_t{kThreads * kEach});
}

TEST_P(DecisionLogConformance, PersistsAcrossReopen) {
  if (!GetParam().reopen)
    GTEST_SKIP() << "backend keeps no data outside the object";
  const Decision d = full_decision();
  {
    auto log = fresh();
    ASSERT_TRUE(log);
    record(*log, d);
  }
  auto again = reopen();
  ASSERT_TRUE(again);
  Query q;
  q.recipient = "bob@example.org";
  auto got = run(*again, q);
  ASSERT_EQ(got.size(), 1u);
  expect_same(got[0], d);
}

TEST_P(DecisionLogConformance, TwoHandlesSeeEachOthersWrites) {
  if (!GetParam().reopen)
    GTEST_SKIP() << "backend keeps no data outside the object";
  auto first = fresh();
  ASSERT_TRUE(first);
  auto second = reopen();
  ASSERT_TRUE(second);
  record(*first, decision("from-first", kT0, "s@x", {rcpt("r@x", "", "", "", "reject")}));
  record(*second, decision("from-second", kT0 + 1, "s@x", {rcpt("r@x", "", "", "", "reject")}));
  record(*second, decision("from-first", kT0, "s@x", {}));  // same id via the other handle
  Query q;
  q.recipient = "r@x";
  const std::vector<std::string> both{"from-second", "from-first"};
  EXPECT_EQ(ids(*first, q), both);
  EXPECT_EQ(ids(*second, q), both);
  auto removed = second->expire(kT0 + 1);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(ids(*first, q), (std::vector<std::string>{"from-second"}));
}

}  // namespace mailsift::decisions::testing
