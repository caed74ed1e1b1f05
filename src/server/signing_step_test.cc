// DKIM signing / ARC sealing through the milter: an authenticated (outbound) message gets a
// DKIM-Signature inserted at the top that the project's verifier accepts; an inbound one does
// not; a rejected outbound message is not signed. Real loopback milter socket, fake MTA.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "dkim/dkim.h"
#include "dns/testing/fake_resolver.h"
#include "milter/codec.h"
#include "milter/testing/fake_mta.h"
#include "server/log.h"
#include "server/milter_server.h"
#include "server/raw_headers.h"
#include "server/signing_step.h"

namespace mailsift::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

const std::string kRepo = MAILSIFT_SOURCE_DIR;
const std::string kFixtures = kRepo + "/../shared/testdata/dkim/mailauth/fixtures/";
const std::string kMessage =
    "From: Joe <joe@example.com>\r\n"
    "To: Suzie <suzie@example.net>\r\n"
    "Subject: Lunch on Friday\r\n"
    "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <lunch-1@example.com>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n"
    "Joe\r\n";

using milter::testing::FakeMta;
using milter::testing::Packet;

class SigningMilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_quiet(true);
    ASSERT_TRUE(config_.set("dkim_sign.enabled", "true").ok());
    ASSERT_TRUE(config_
                    .set("dkim_sign.keys", "example.com:mx2026:" + kFixtures +
                                               "private-rsa.pem, "
                                               "example.org:ed:" +
                                               kFixtures + "private-ed25519.pem")
                    .ok());
    store_ = store::make_memory_store();
    log_ = decisions::make_memory_log();
    policies_ = policy::parse_policy(config_, "").value();
    auto created = ScanService::create(config_, *store_, *log_, *policies_);
    ASSERT_TRUE(created.ok()) << created.error().message;
    service_ = std::shared_ptr<ScanService>(std::move(created).value());
    MilterOptions opts;
    opts.listen = "inet:127.0.0.1:0";
    opts.current_service = [this] { return service_; };
    auto started = MilterServer::start(io_, opts);
    ASSERT_TRUE(started.ok()) << started.error().message;
    server_ = std::move(started).value();
    work_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    work_.reset();
    for (int i = 0; i < 200 && server_->connections() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io_.stop();
    thread_.join();
    set_log_quiet(false);
  }

  // One transaction; `auth_user` non-empty = SMTP AUTH on the submission service.
  std::vector<Packet> transaction(const std::string& raw, const std::string& auth_user) {
    FakeMta mta(server_->port());
    mta.send(milter::OptNeg{6, 0x1ff, 0x1fffff});
    EXPECT_EQ(mta.read().code, 'O');
    mta.send(milter::Macro{'C', {{"j", "mx.test.invalid"}, {"{client_addr}", "192.0.2.9"}}});
    mta.send(milter::Connect{"[192.0.2.9]", milter::Family::kInet, 40000, "192.0.2.9"});
    mta.send(milter::Helo{"client.remote.test"});
    if (!auth_user.empty())
      mta.send(milter::Macro{'M', {{"{auth_authen}", auth_user}}});
    mta.send(milter::Mail{"<joe@example.com>", {}});
    EXPECT_EQ(mta.read().code, 'c');
    mta.send(milter::Macro{'R', {{"{rcpt_addr}", "suzie@example.net"}}});
    mta.send(milter::Rcpt{"<suzie@example.net>", {}});
    EXPECT_EQ(mta.read().code, 'c');
    mta.send(milter::Data{});
    for (const auto& h : raw_headers(raw))
      mta.send(milter::Header{h.name, " " + h.value});
    mta.send(milter::EndOfHeaders{});
    mta.send(milter::Body{raw.substr(raw.find("\r\n\r\n") + 4)});
    mta.send(milter::Macro{'E', {{"i", "QID7"}}});
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
};

struct Inserted {
  uint32_t index;
  std::string name, value;
};

std::vector<Inserted> inserted(const std::vector<Packet>& packets) {
  std::vector<Inserted> out;
  for (const auto& p : packets) {
    if (p.code != 'i')
      continue;
    Inserted h;
    h.index = (uint32_t(uint8_t(p.payload[0])) << 24) | (uint32_t(uint8_t(p.payload[1])) << 16) |
              (uint32_t(uint8_t(p.payload[2])) << 8) | uint8_t(p.payload[3]);
    h.name = std::string(p.payload.c_str() + 4);
    h.value = std::string(p.payload.c_str() + 5 + h.name.size());
    out.push_back(h);
  }
  return out;
}

// The field as the MTA writes it: "Name:" + value (HDR_LEADSPC: the value carries its space),
// "\n" folds as CRLF.
std::string wire(const Inserted& h) {
  std::string out = h.name + ":";
  for (char c : h.value) {
    if (c == '\n')
      out += '\r';
    out += c;
  }
  return out + "\r\n";
}

TEST_F(SigningMilterTest, AuthenticatedMailIsSignedAndVerifies) {
  auto packets = transaction(kMessage, "joe");
  ASSERT_FALSE(packets.empty());
  EXPECT_EQ(packets.back().code, 'c');
  auto ins = inserted(packets);
  const Inserted* sig = nullptr;
  for (const auto& h : ins)
    if (h.name == "DKIM-Signature")
      sig = &h;
  ASSERT_NE(sig, nullptr);
  EXPECT_EQ(sig->index, 0u);  // at the top
  EXPECT_NE(sig->value.find("d=example.com"), std::string::npos);
  EXPECT_NE(sig->value.find("s=mx2026"), std::string::npos);

  dns::testing::FakeResolver dns;
  std::ifstream in(kFixtures + "private-rsa.pem");
  std::string pem{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  dns.add("mx2026._domainkey.example.com", dns::RType::kTXT,
          dkim::SigningKey::from_pem(pem).value().dns_record());
  auto results = dkim::verify(wire(*sig) + kMessage, dns, std::time(nullptr));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result, dkim::Status::kPass) << results[0].reason;
  // Tampering after signing is caught: the test can fail.
  std::string changed = wire(*sig) + kMessage;
  changed.replace(changed.find("noon"), 4, "one!");
  EXPECT_EQ(dkim::verify(changed, dns, std::time(nullptr))[0].result, dkim::Status::kFail);
}

TEST_F(SigningMilterTest, Ed25519KeyForItsDomain) {
  std::string msg = kMessage;
  msg.replace(msg.find("joe@example.com"), 15, "joe@example.org");
  auto ins = inserted(transaction(msg, "joe"));
  bool found = false;
  for (const auto& h : ins) {
    if (h.name != "DKIM-Signature")
      continue;
    found = true;
    EXPECT_NE(h.value.find("a=ed25519-sha256"), std::string::npos);
    EXPECT_NE(h.value.find("d=example.org"), std::string::npos);
  }
  EXPECT_TRUE(found);
}

TEST_F(SigningMilterTest, InboundMailIsNotSigned) {
  auto packets = transaction(kMessage, "");
  ASSERT_FALSE(packets.empty());
  EXPECT_EQ(packets.back().code, 'c');
  for (const auto& h : inserted(packets))
    EXPECT_NE(h.name, "DKIM-Signature");
}

TEST_F(SigningMilterTest, OutboundForeignDomainIsNotSigned) {
  std::string msg = kMessage;
  msg.replace(msg.find("joe@example.com"), 15, "joe@elsewhere.test");
  for (const auto& h : inserted(transaction(msg, "joe")))
    EXPECT_NE(h.name, "DKIM-Signature");
}

TEST(SigningStep, WhichMailGetsWhat) {
  signing::KeyEntry e;
  e.domain = "example.com";
  e.selector = "s1";
  e.key = signing::load_key_file(kFixtures + "private-ed25519.pem").value();
  signing::Signer signer({e}, {}, true);
  ScanRequest req;
  req.raw = kMessage;
  req.envelope.outbound = true;

  ScanOutcome refused;
  refused.message_reply = SmtpReply{550, "5.7.1", "no"};
  EXPECT_FALSE(add_signatures(signer, req, refused, 1780000000));
  EXPECT_TRUE(refused.prepend_headers.empty());  // nothing delivered, nothing signed

  ScanOutcome passed;
  EXPECT_FALSE(add_signatures(signer, req, passed, 1780000000));
  ASSERT_EQ(passed.prepend_headers.size(), 1u);
  EXPECT_EQ(passed.prepend_headers[0].name, "DKIM-Signature");

  // Subject rewritten by policy: the signature covers the rewritten Subject.
  ScanOutcome tagged;
  tagged.new_subject = "[SPAM] Lunch on Friday";
  EXPECT_FALSE(add_signatures(signer, req, tagged, 1780000000));
  ASSERT_EQ(tagged.prepend_headers.size(), 1u);
  dns::testing::FakeResolver dns;
  dns.add("s1._domainkey.example.com", dns::RType::kTXT, e.key.dns_record());
  std::string delivered = "DKIM-Signature: " + tagged.prepend_headers[0].value + "\r\n" +
                          signing::with_subject(kMessage, *tagged.new_subject);
  EXPECT_EQ(dkim::verify(delivered, dns, 1780000010)[0].result, dkim::Status::kPass);

  // A message without From cannot be signed: the error is reported, the mail still goes.
  std::string nofrom = kMessage.substr(kMessage.find("To:"));
  req.raw = nofrom;
  req.envelope.mail_from = "joe@example.com";  // the key is chosen by the envelope domain
  ScanOutcome unsigned_out;
  auto err = add_signatures(signer, req, unsigned_out, 1780000000);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("dkim signing"), std::string::npos);
  EXPECT_TRUE(unsigned_out.prepend_headers.empty());

  // Inbound: no DKIM; an ARC set only when sealing is on and authentication ran.
  req.raw = kMessage;
  req.envelope.outbound = false;
  ScanOutcome inbound;
  inbound.authentication_results =
      "mx.example.net; spf=pass smtp.mailfrom=joe@example.com; arc=none";
  EXPECT_FALSE(add_signatures(signer, req, inbound, 1780000000));
  EXPECT_TRUE(inbound.prepend_headers.empty());
  signer.set_arc(e.key, "example.net", "arc");
  EXPECT_FALSE(add_signatures(signer, req, inbound, 1780000000));
  ASSERT_EQ(inbound.prepend_headers.size(), 3u);
  EXPECT_EQ(inbound.prepend_headers[0].name, "ARC-Seal");
  EXPECT_EQ(inbound.prepend_headers[2].name, "ARC-Authentication-Results");
  ScanOutcome no_auth;
  EXPECT_FALSE(add_signatures(signer, req, no_auth, 1780000000));
  EXPECT_TRUE(no_auth.prepend_headers.empty());
}

}  // namespace
}  // namespace mailsift::server
