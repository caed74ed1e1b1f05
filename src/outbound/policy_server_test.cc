// The policy listener at socket level: a real TCP client speaking the Postfix protocol to
// PolicyServer + PolicyService (Guard on the memory store, memory decision log).
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "outbound/policy_server.h"
#include "server/log.h"

namespace mailsift::outbound {
namespace {

namespace asio = boost::asio;

std::string request(std::string_view user, std::string_view rcpt, std::string_view instance,
                    std::string_view state = "RCPT") {
  std::ifstream in(std::string(MAILSIFT_SOURCE_DIR) + "/src/outbound/corpus/postfix-3.7-rcpt.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string r = ss.str();
  auto set = [&](std::string name, std::string_view value) {
    auto at = r.find("\n" + name + "=");
    auto end = r.find('\n', at + 1);
    r.replace(at + 1, end - at - 1, name + "=" + std::string(value));
  };
  set("sasl_username", user);
  set("recipient", rcpt);
  set("instance", instance);
  set("protocol_state", state);
  set("client_address", "192.0.2.44");
  return r;
}

class PolicyServerTest : public ::testing::Test {
 protected:
  PolicyServerTest() {
    server::set_log_quiet(true);
    GuardConfig c;
    c.user.messages_per_hour = 2;
    guard_ = std::make_unique<Guard>(*store_, c, [this] { return now_.load(); });
    service_ = std::make_unique<PolicyService>(*guard_, *log_, PolicyServiceOptions{"test-node", {}},
                                               [this] { return now_.load(); });
    PolicyServerOptions o;
    o.listen = "inet:127.0.0.1:0";
    o.handler = [this](const PolicyRequest& r) { return service_->handle(r); };
    auto s = PolicyServer::start(io_, o);
    EXPECT_TRUE(s.ok()) << s.error().describe();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~PolicyServerTest() override {
    server_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  asio::ip::tcp::socket connect() {
    asio::ip::tcp::socket s(client_io_);
    s.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    return s;
  }
  // Sends bytes and reads `replies` complete replies ("action=...\n\n").
  std::vector<std::string> exchange(asio::ip::tcp::socket& s, const std::string& bytes,
                                    int replies = 1) {
    now_ += 1000;  // distinct decision times: the log orders by time
    asio::write(s, asio::buffer(bytes));
    std::vector<std::string> out;
    for (int i = 0; i < replies; ++i) {
      asio::read_until(s, buf_, "\n\n");
      std::istream is(&buf_);
      std::string line, blank;
      std::getline(is, line);
      std::getline(is, blank);
      out.push_back(line);
    }
    return out;
  }

  std::atomic<int64_t> now_{1'764'316'800'000};
  std::unique_ptr<OutboundStore> store_ = make_memory_store();
  std::unique_ptr<decisions::DecisionLog> log_ = decisions::make_memory_log();
  std::unique_ptr<Guard> guard_;
  std::unique_ptr<PolicyService> service_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<PolicyServer> server_;
  std::thread thread_;
  asio::io_context client_io_;
  asio::streambuf buf_;
};

TEST_F(PolicyServerTest, AnswersManyRequestsOnOneConnectionAndLogsOutboundDecisions) {
  auto s = connect();
  // Unauthenticated (inbound) request: DUNNO, not logged.
  EXPECT_EQ(exchange(s, request("", "alice@example.test", "i0"))[0], "action=DUNNO");
  EXPECT_EQ(exchange(s, request("carol@example.com", "x@dest.example", "i1"))[0], "action=DUNNO");
  // Pipelined: two requests in one write, two replies in order.
  auto two = exchange(s, request("carol@example.com", "y@dest.example", "i1") +
                             request("carol@example.com", "z@dest.example", "i2"),
                      2);
  EXPECT_EQ(two[0], "action=DUNNO");
  EXPECT_EQ(two[1], "action=DUNNO");
  // Third message in the hour: over the limit of 2.
  EXPECT_EQ(exchange(s, request("carol@example.com", "x@dest.example", "i3"))[0],
            "action=451 4.7.1 Rate limit: 2 messages/hour for carol@example.com");

  ASSERT_TRUE(guard_->set_status(Subject::user("carol@example.com"), Level::kSuspended,
                                 "phishing complaint", "support").ok());
  auto reply = exchange(s, request("carol@example.com", "x@dest.example", "i4"))[0];
  EXPECT_EQ(reply.rfind("action=550 5.7.1 Account suspended for carol@example.com: phishing "
                        "complaint (ref ", 0), 0u) << reply;

  decisions::Query q;
  q.direction = "outbound";
  q.limit = 0;
  auto logged = log_->query(q);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 5u);  // the unauthenticated request is not an outbound decision
  const auto& newest = logged->front();
  EXPECT_EQ(newest.auth_user, "carol@example.com");
  EXPECT_EQ(newest.client_ip, "192.0.2.44");
  ASSERT_EQ(newest.recipients.size(), 1u);
  EXPECT_EQ(newest.recipients[0].action, "reject");
  EXPECT_EQ(newest.recipients[0].stage, "rcpt");
  EXPECT_EQ(newest.recipients[0].policy_source, "outbound-policy");
  // The reply as the SMTP client sees it, with the decision's own id as the reference.
  EXPECT_EQ(newest.recipients[0].smtp_reply,
            "550 5.7.1 <x@dest.example>: Recipient address rejected: Account suspended for "
            "carol@example.com: phishing complaint (ref " + newest.id + ")");
  q.action = "soft reject";
  EXPECT_EQ(log_->query(q)->size(), 1u);
}

TEST_F(PolicyServerTest, MailStageChecksStatus) {
  ASSERT_TRUE(guard_->set_status(Subject::domain("example.com"), Level::kSendingDisabled,
                                 "outbound spam", "support").ok());
  auto s = connect();
  auto reply = exchange(s, request("dave@example.com", "", "i9", "MAIL"))[0];
  EXPECT_EQ(reply.rfind("action=550 5.7.1 Sending disabled for domain example.com: outbound spam",
                        0), 0u) << reply;
  // Other states are not ours.
  EXPECT_EQ(exchange(s, request("dave@example.com", "", "i9", "END-OF-MESSAGE"))[0],
            "action=DUNNO");
}

TEST_F(PolicyServerTest, MalformedRequestClosesWithoutReply) {
  auto s = connect();
  asio::write(s, asio::buffer(std::string("request=smtpd_access_policy\nno equals sign\n\n")));
  boost::system::error_code ec;
  char c;
  size_t n = asio::read(s, asio::buffer(&c, 1), ec);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(ec, asio::error::eof);
  // The server keeps serving others.
  auto s2 = connect();
  EXPECT_EQ(exchange(s2, request("erin@example.com", "a@b.example", "j1"))[0], "action=DUNNO");
}

// A store that is down: every call fails with kTemporary.
class DownStore final : public OutboundStore {
  Error down() const { return Error::temporary("store down"); }

 public:
  Result<std::optional<AccountStatus>> get_status(const Subject&) override { return down(); }
  Status put_status(const AccountStatus&) override { return down(); }
  Result<std::vector<AccountStatus>> restricted() override { return down(); }
  Status add_count(std::string_view, int64_t, int64_t, int64_t) override { return down(); }
  Result<int64_t> sum_counts(std::string_view, int64_t, int64_t) override { return down(); }
  Result<bool> touch_member(std::string_view, std::string_view, int64_t, int64_t) override {
    return down();
  }
  Result<bool> has_member(std::string_view, std::string_view, int64_t) override { return down(); }
  Result<int64_t> count_members(std::string_view, int64_t) override { return down(); }
  Result<std::optional<std::string>> get_value(std::string_view) override { return down(); }
  Status put_value(std::string_view, std::string_view) override { return down(); }
  Status add_alert(const Alert&) override { return down(); }
  Result<std::vector<Alert>> alerts(std::string_view, size_t) override { return down(); }
};

TEST(PolicyServiceStoreDown, TempfailsAndLogsTheError) {
  server::set_log_quiet(true);
  DownStore store;
  Guard guard(store, GuardConfig{});
  auto log = decisions::make_memory_log();
  PolicyService service(guard, *log, {"n", {}});
  PolicyDecoder d;
  ASSERT_TRUE(d.feed(request("frank@example.com", "a@b.example", "k1")).ok());
  auto action = service.handle(*d.next());
  EXPECT_EQ(action.rfind("451 4.3.0 Temporary problem checking sending limits, try again later "
                         "(ref ", 0), 0u) << action;
  auto logged = log->query({});
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 1u);
  EXPECT_EQ((*logged)[0].recipients[0].action, "soft reject");
  ASSERT_EQ((*logged)[0].errors.size(), 1u);
  EXPECT_EQ((*logged)[0].errors[0], "temporary: store down");
}

}  // namespace
}  // namespace mailsift::outbound
