// MilterServer over real loopback sockets, with a fake MTA built from milter::encode_command
// (the same packets a Postfix 3.7 capture shows) and the real ScanService on a memory store.
#include "server/milter_server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "milter/codec.h"
#include "milter/testing/fake_mta.h"
#include "server/log.h"
#include "server/raw_headers.h"

namespace mailsift::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string kRepo = MAILSIFT_SOURCE_DIR;

using milter::testing::FakeMta;
using milter::testing::Packet;

class MilterServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_quiet(true);
    store_ = store::make_memory_store();
    log_ = decisions::make_memory_log();
    policies_ = policy::parse_policy(config_, R"(
[users."carol@example.test"]
reject_enabled = true
reject = 10
)")
                    .value();
    service_ = std::shared_ptr<ScanService>(
        ScanService::create(config_, *store_, *log_, *policies_).value());
    for (const char* cls : {"spam", "ham"}) {
      for (const auto& e :
           std::filesystem::directory_iterator(kRepo + "/tests/data/train/" + cls)) {
        ASSERT_TRUE(
            service_
                ->learn(read_file(e.path()),
                        std::string(cls) == "spam" ? store::Class::kSpam : store::Class::kHam, "")
                .ok());
      }
    }
    MilterOptions opts;
    opts.listen = "inet:127.0.0.1:0";
    opts.current_service = [this] { return service_; };
    opts.progress_interval = std::chrono::milliseconds(1000);
    auto started = MilterServer::start(io_, opts);
    ASSERT_TRUE(started.ok()) << started.error().message;
    server_ = std::move(started).value();
    work_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    work_.reset();
    for (int i = 0; i < 200 && server_->connections() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    io_.stop();
    thread_.join();
    set_log_quiet(false);
  }

  void wait_no_connections() {
    for (int i = 0; i < 200 && server_->connections() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(server_->connections(), 0u);
  }

  // OPTNEG as Postfix 3.7 sends it, then CONNECT and HELO (no replies negotiated for those).
  void open_session(FakeMta& mta) {
    mta.send(milter::OptNeg{6, 0x1ff, 0x1fffff});
    Packet o = mta.read();
    ASSERT_EQ(o.code, 'O');
    mta.send(milter::Macro{'C', {{"j", "mx.test.invalid"}, {"{client_addr}", "192.0.2.9"}}});
    mta.send(milter::Connect{"[192.0.2.9]", milter::Family::kInet, 40000, "192.0.2.9"});
    mta.send(milter::Helo{"client.remote.test"});
  }

  char mail(FakeMta& mta, const std::string& from) {
    mta.send(milter::Mail{"<" + from + ">", {"SIZE=100"}});
    return mta.read().code;
  }
  Packet rcpt(FakeMta& mta, const std::string& to) {
    mta.send(milter::Macro{'R', {{"{rcpt_addr}", to}}});
    mta.send(milter::Rcpt{"<" + to + ">", {}});
    return mta.read();
  }
  // Headers of `raw` (plus `extra` first), its body, end of message: the edits and verdict.
  std::vector<Packet> data(FakeMta& mta, const std::string& raw,
                           std::vector<std::pair<std::string, std::string>> extra = {}) {
    mta.send(milter::Data{});
    for (const auto& [n, v] : extra)
      mta.send(milter::Header{n, " " + v});
    for (const auto& h : raw_headers(raw))
      mta.send(milter::Header{h.name, " " + h.value});
    mta.send(milter::EndOfHeaders{});
    size_t body = raw.find("\n\n");
    std::string text = raw.substr(body + 2), crlf;
    for (char c : text) {
      if (c == '\n')
        crlf += '\r';
      crlf += c;
    }
    mta.send(milter::Body{crlf});
    mta.send(milter::Macro{'E', {{"i", "QID42"}}});
    mta.send(milter::EndOfBody{});
    return mta.read_until_verdict();
  }

  Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<decisions::DecisionLog> log_;
  std::unique_ptr<policy::PolicyProvider> policies_;
  std::shared_ptr<ScanService> service_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::unique_ptr<MilterServer> server_;
  std::thread thread_;
  std::string spam_ = read_file(kRepo + "/tests/data/sample-spam.eml");
  std::string ham_ = read_file(kRepo + "/tests/data/sample-ham.eml");
};

std::string header_name(const Packet& p, size_t skip) {
  return std::string(p.payload.c_str() + skip);
}
std::string header_value(const Packet& p, size_t skip) {
  const size_t name_end = p.payload.find('\0', skip);
  return std::string(p.payload.c_str() + name_end + 1);
}

TEST_F(MilterServerTest, SpamIsTaggedAndForgedHeadersDeleted) {
  FakeMta mta(server_->port());
  open_session(mta);
  ASSERT_EQ(mail(mta, "winner@claim-prize.example"), 'c');
  ASSERT_EQ(rcpt(mta, "bob@example.test").code, 'c');
  auto packets = data(mta, spam_, {{"X-Spam-Flag", "NO"}, {"X-Spam-Flag", "NO"}});
  ASSERT_FALSE(packets.empty());
  EXPECT_EQ(packets.back().code, 'c');
  // Two forged copies: deleted highest index first.
  ASSERT_GE(packets.size(), 3u);
  EXPECT_EQ(packets[0].code, 'm');
  EXPECT_EQ(header_name(packets[0], 4), "X-Spam-Flag");
  EXPECT_EQ(packets[0].payload[3], 2);
  EXPECT_EQ(packets[1].payload[3], 1);
  EXPECT_EQ(header_value(packets[0], 4), "");
  std::map<std::string, std::string> added;
  for (const auto& p : packets) {
    if (p.code == 'h')
      added[header_name(p, 0)] = header_value(p, 0);
  }
  EXPECT_EQ(added["X-Spam-Flag"], " YES");  // HDR_LEADSPC: we carry the space
  EXPECT_FALSE(added["X-Mailsift-Id"].empty());
  EXPECT_EQ(added["X-Mailsift-Verdict"].rfind(" rcpt=bob@example.test; verdict=spam;", 0), 0u);

  decisions::Query q;
  q.queue_id = "QID42";
  auto logged = log_->query(q);
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 1u);
  EXPECT_EQ((*logged)[0].client_ip, "192.0.2.9");
  EXPECT_EQ((*logged)[0].helo, "client.remote.test");
  EXPECT_EQ((*logged)[0].mail_from, "winner@claim-prize.example");
}

TEST_F(MilterServerTest, RejectWhenTheOnlyRecipientOptsIn) {
  FakeMta mta(server_->port());
  open_session(mta);
  ASSERT_EQ(mail(mta, "winner@claim-prize.example"), 'c');
  ASSERT_EQ(rcpt(mta, "carol@example.test").code, 'c');
  auto packets = data(mta, spam_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].code, 'y');
  EXPECT_EQ(packets[0].payload.rfind("550 5.7.1 Message rejected as spam (ref ", 0), 0u)
      << packets[0].payload;
}

TEST_F(MilterServerTest, DifferentRejectPolicyIsDeferredToItsOwnTransaction) {
  FakeMta mta(server_->port());
  open_session(mta);
  ASSERT_EQ(mail(mta, "a@remote.test"), 'c');
  ASSERT_EQ(rcpt(mta, "bob@example.test").code, 'c');
  Packet carol = rcpt(mta, "carol@example.test");
  ASSERT_EQ(carol.code, 'y');
  EXPECT_EQ(carol.payload.rfind("452 4.5.3 ", 0), 0u) << carol.payload;
  ASSERT_EQ(rcpt(mta, "dave@example.test").code, 'c');  // same class as bob
  auto packets = data(mta, ham_);
  ASSERT_FALSE(packets.empty());
  EXPECT_EQ(packets.back().code, 'c');
  int verdicts = 0;
  for (const auto& p : packets)
    verdicts += p.code == 'h' && header_name(p, 0) == "X-Mailsift-Verdict";
  EXPECT_EQ(verdicts, 2);  // bob and dave, not the deferred carol

  // Next message on the same connection after ABORT: carol first, now she is accepted.
  mta.send(milter::Abort{});
  ASSERT_EQ(mail(mta, "a@remote.test"), 'c');
  ASSERT_EQ(rcpt(mta, "carol@example.test").code, 'c');
  EXPECT_EQ(rcpt(mta, "bob@example.test").code, 'y');
  auto second = data(mta, ham_);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.back().code, 'c');
  mta.send(milter::Quit{});
  EXPECT_EQ(mta.read().code, 0);  // closed
}

TEST_F(MilterServerTest, GarbageClosesTheConnectionOnly) {
  {
    FakeMta zero(server_->port());
    zero.send_raw(std::string("\0\0\0\0", 4));
    EXPECT_EQ(zero.read().code, 0);
  }
  {
    FakeMta huge(server_->port());
    huge.send_raw(std::string("\x7f\xff\xff\xff", 4) + "O");
    EXPECT_EQ(huge.read().code, 0);
  }
  {
    FakeMta early(server_->port());  // a command before OPTNEG
    early.send(milter::Helo{"x"});
    EXPECT_EQ(early.read().code, 0);
  }
  {
    FakeMta truncated(server_->port());
    truncated.send_raw(std::string("\0\0\0\x0d", 4) + "O\0\0");  // half a packet, then gone
    truncated.close();
  }
  wait_no_connections();
  // The server still works.
  FakeMta mta(server_->port());
  open_session(mta);
  EXPECT_EQ(mail(mta, "a@remote.test"), 'c');
}

TEST(ListenSpec, Forms) {
  auto a = parse_listen_spec("inet:127.0.0.1:11332");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, "inet");
  EXPECT_EQ(a->port, 11332);
  auto b = parse_listen_spec("11332@127.0.0.1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "127.0.0.1");
  auto c = parse_listen_spec("[::1]:25");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  auto d = parse_listen_spec("unix:/run/mailsift/milter.sock");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, "unix");
  EXPECT_FALSE(parse_listen_spec("unix:relative").ok());
  EXPECT_FALSE(parse_listen_spec("localhost:25").ok());
  EXPECT_FALSE(parse_listen_spec("127.0.0.1:99999").ok());
  EXPECT_FALSE(parse_listen_spec("127.0.0.1").ok());
}

}  // namespace
}  // namespace mailsift::server
