// HTTP front end: pure request/reply functions, then the real server on 127.0.0.1:0 with a fake
// backend, driven by a Beast client (every endpoint, keep-alive, limits, timeouts, concurrency,
// graceful stop).
#include <gtest/gtest.h>

#include <future>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "http/api_reply.h"
#include "http/http_server.h"
#include "http/reply.h"
#include "http/request.h"
#include "http/testing/fake_backend.h"

namespace mailsift::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

const std::string kHam = "Subject: hello\r\nMessage-ID: <m1@example.test>\r\n\r\nplain body\r\n";
const std::string kSpam = "Subject: buy\r\nMessage-ID: <m2@example.test>\r\n\r\nSPAMWORD now\r\n";

// ---------------------------------------------------------------- pure parts

// The API extensions' shared helpers (api_reply.h): the Bearer scheme is case-insensitive
// (RFC 7235) and spaces before the key are skipped; other schemes and short values are refused.
TEST(ApiReply, BearerKeyAndErrorShape) {
  EXPECT_EQ(bearer_key("Bearer msk_1"), "msk_1");
  EXPECT_EQ(bearer_key("bearer   msk_1"), "msk_1");
  EXPECT_EQ(bearer_key("BEARER msk_1"), "msk_1");
  EXPECT_EQ(bearer_key("Bearer "), "");
  EXPECT_FALSE(bearer_key("").has_value());
  EXPECT_FALSE(bearer_key("Bearer").has_value());
  EXPECT_FALSE(bearer_key("Basic dXNlcjpwdw==").has_value());
  ApiReply r = api_error(401, ErrorKind::kPermanent, "unknown API key");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"error":{"kind":"permanent","message":"unknown API key"}})");
  EXPECT_EQ(api_error(Error::malformed("x")).status, 400);
  EXPECT_EQ(api_error(Error::permanent("x")).status, 422);
  EXPECT_EQ(api_error(Error::permanent("x"), 404).status, 404);
  EXPECT_EQ(api_error(Error::temporary("x")).status, 503);
  EXPECT_EQ(api_error(Error::config("x")).status, 500);
  // Request text in a message may be any bytes: replaced, not thrown on.
  EXPECT_EQ(api_error(400, ErrorKind::kMalformed, "bad \xff byte").status, 400);
}

TEST(Request, ParseTargetDecodesQuery) {
  auto t = parse_target("/api/v1/scan?rcpt=a%40b.test&rcpt=c@d&helo=mx+one&empty=&flag");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/api/v1/scan");
  ASSERT_EQ(t->query.size(), 5u);
  EXPECT_EQ(t->query[0].second, "a@b.test");
  EXPECT_EQ(t->query[2].second, "mx one");
  EXPECT_EQ(t->query[4].first, "flag");
  EXPECT_FALSE(parse_target("/x?a=%4").ok());
  EXPECT_FALSE(parse_target("/x?a=%zz").ok());
  EXPECT_FALSE(parse_target("http://host/x").ok());
  std::string many = "/x?";
  for (int i = 0; i < 300; ++i)
    many += "a=1&";
  EXPECT_FALSE(parse_target(many).ok());
}

TEST(Request, Routes) {
  EXPECT_EQ(match_route("/checkv2").route, Route::kRspamdCheck);
  EXPECT_EQ(match_route("/checkv2").method, bhttp::verb::post);
  EXPECT_EQ(match_route("/ping").method, bhttp::verb::get);
  EXPECT_EQ(match_route("/api/v1/unlearn/ham").route, Route::kUnlearnHam);
  EXPECT_EQ(match_route("/checkv2/").route, Route::kNotFound);
}

TEST(Request, NormaliseAddress) {
  EXPECT_EQ(normalise_address(" <bob@x.test> ", "rcpt").value(), "bob@x.test");
  EXPECT_EQ(normalise_address("<>", "from").value(), "");
  EXPECT_FALSE(normalise_address("a\x01@b", "rcpt").ok());
  EXPECT_FALSE(normalise_address(std::string(2000, 'a'), "rcpt").ok());
}

TEST(Request, FindMessageId) {
  EXPECT_EQ(find_message_id("Subject: x\r\nMessage-Id:\r\n <abc@def>\r\n\r\nbody"), "abc@def");
  EXPECT_EQ(find_message_id("Subject: x\r\n\r\nMessage-ID: <not@header>\r\n"), "");
  EXPECT_EQ(find_message_id("message-id: <a@b>"), "a@b");
}

// Parses the head of one request from samples/rspamc-3.4-requests.txt.
Request parse_head(const std::string& head) {
  bhttp::request_parser<bhttp::string_body> p;
  p.eager(true);
  beast::error_code ec;
  p.put(asio::buffer(head), ec);
  EXPECT_FALSE(ec) << ec.message();
  return p.release();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kKit = std::string(MAILSIFT_SOURCE_DIR) + "/../shared/reference/integration-kit";

TEST(Request, RspamcCheckv2HeadersMapToEnvelope) {
  std::string text = read_file(kKit + "/samples/rspamc-3.4-requests.txt");
  ASSERT_FALSE(text.empty());
  size_t start = text.find("POST /checkv2");
  size_t end = text.find("\n\n", start);
  std::string head;
  std::istringstream lines(text.substr(start, end - start));
  for (std::string line; std::getline(lines, line);)
    head += line + "\r\n";
  head += "\r\n";
  // Content-Length says 596; the head alone is what the mapping reads.
  Request req = parse_head(head);
  auto p = rspamd_params(req);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->envelope.mail_from, "bob@example.test");
  EXPECT_EQ(p->envelope.client_ip, "192.0.2.1");
  EXPECT_EQ(p->envelope.helo, "mx.remote.test");
  EXPECT_EQ(p->envelope.auth_user, "bob");
  EXPECT_EQ(p->deliver_to, "alice@example.test");
  EXPECT_EQ(p->learn_recipient, "alice@example.test");
  ASSERT_EQ(p->recipients.size(), 2u);
  EXPECT_EQ(p->recipients[1], "carol@example.test");
}

TEST(Request, RspamdIgnoresBadIpNativeRefusesIt) {
  Request req = parse_head("POST /checkv2 HTTP/1.1\r\nIP: not-an-ip\r\nRcpt: a@b\r\n\r\n");
  auto p = rspamd_params(req);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->envelope.client_ip, "");
  EXPECT_EQ(p->learn_recipient, "a@b");  // the only recipient
  auto t = parse_target("/api/v1/scan?ip=999.1.1.1");
  EXPECT_FALSE(native_params(t.value(), Request{}).ok());
}

TEST(Request, NativeQueryRecipientsReplaceHeaderRecipients) {
  Request req = parse_head("POST /api/v1/scan HTTP/1.1\r\nRcpt: hdr@x\r\nHelo: h\r\n\r\n");
  auto t = parse_target("/api/v1/scan?rcpt=q1@x&rcpt=q2@x&queue_id=ABC&outbound=1&from=%3Cs@x%3E");
  auto p = native_params(t.value(), req);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->recipients, (std::vector<std::string>{"q1@x", "q2@x"}));
  EXPECT_EQ(p->envelope.helo, "h");
  EXPECT_EQ(p->envelope.queue_id, "ABC");
  EXPECT_EQ(p->envelope.mail_from, "s@x");
  EXPECT_TRUE(p->envelope.outbound);
}

TEST(Reply, Checkv2HasRspamdKeysInRspamdOrder) {
  testing::FakeBackend fake;
  server::ScanRequest sreq{kSpam, {}, {"alice@example.test"}};
  auto outcome = fake.scan(sreq);
  ASSERT_TRUE(outcome.ok());
  RequestParams params;
  json mine = json::parse(rspamd_check_json(*outcome, params, "m2@example.test", 0.01));
  json real = json::parse(read_file(kKit + "/samples/rspamd-3.4-checkv2-reply.json"));
  for (auto it = real.begin(); it != real.end(); ++it)
    EXPECT_TRUE(mine.contains(it.key())) << "missing key " << it.key();
  EXPECT_EQ(mine["action"], "add header");
  const json& sym = mine["symbols"]["FAKE_SPAMWORD"];
  for (const char* k : {"name", "score", "metric_score", "description", "options"})
    EXPECT_TRUE(sym.contains(k)) << k;
  EXPECT_EQ(mine["milter"]["add_headers"]["X-Spam-Flag"]["value"], "YES");
  EXPECT_EQ(mine["milter"]["remove_headers"]["X-Spam-Flag"], 0);
  // Key order as Rspamd writes it.
  std::string text = rspamd_check_json(*outcome, params, "m2@example.test", 0.01);
  EXPECT_LT(text.find("\"is_skipped\""), text.find("\"score\""));
  EXPECT_LT(text.find("\"action\""), text.find("\"symbols\""));
  EXPECT_LT(text.find("\"message-id\""), text.find("\"time_real\""));
}

TEST(Reply, PicksDeliverToElseLeastSevere) {
  testing::FakeBackend fake;
  std::string raw = "Subject: x\r\n\r\nREJECTME\r\n";
  server::ScanRequest sreq{raw, {}, {"strict@x", "easy@x"}};
  auto outcome = fake.scan(sreq);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(pick_reported_recipient(*outcome, ""), 1u);  // add header beats reject
  EXPECT_EQ(pick_reported_recipient(*outcome, "strict@x"), 0u);
  RequestParams params;
  params.deliver_to = "strict@x";
  json j = json::parse(rspamd_check_json(*outcome, params, "", 0));
  EXPECT_EQ(j["action"], "reject");
  EXPECT_EQ(j["messages"]["smtp_message"], "Message refused as spam");
  EXPECT_FALSE(j.contains("message-id"));
}

TEST(Metrics, RendersHistogramAndCounters) {
  Metrics m;
  m.scan_finished(Frontend::kHttp, 0.0007);
  m.scan_finished(Frontend::kHttp, 3.0);
  m.recipient_action(Frontend::kHttp, scan::Action::kReject);
  m.error(Frontend::kMilter, ErrorKind::kTemporary);
  m.learned(store::Class::kSpam, store::LearnOutcome::kLearned);
  std::string text = m.render();
  EXPECT_NE(text.find("mailsift_scans_total{frontend=\"http\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("mailsift_scan_duration_seconds_bucket{frontend=\"http\",le=\"0.0005\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("mailsift_scan_duration_seconds_bucket{frontend=\"http\",le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("mailsift_scan_duration_seconds_bucket{frontend=\"http\",le=\"5\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("mailsift_scan_duration_seconds_count{frontend=\"http\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("action=\"reject\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("mailsift_errors_total{frontend=\"milter\",kind=\"temporary\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("mailsift_learns_total{class=\"spam\",outcome=\"learned\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE mailsift_scan_duration_seconds histogram\n"), std::string::npos);
}

// ---------------------------------------------------------------- the server

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void TearDown() override { shutdown(); }

  void start(HttpOptions opts) {
    opts.address = "127.0.0.1";
    opts.port = 0;
    opts.read_timeout = std::chrono::milliseconds(300);
    opts.idle_timeout = std::chrono::milliseconds(600);
    opts.write_timeout = std::chrono::milliseconds(1000);
    if (opts.max_body_bytes == HttpOptions{}.max_body_bytes)
      opts.max_body_bytes = 4096;
    io_ = std::make_unique<asio::io_context>(2);
    auto s = HttpServer::start(*io_, opts, fake_);
    ASSERT_TRUE(s.ok()) << s.error().describe();
    server_ = std::move(s).value();
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this] { io_->run(); });
  }

  void shutdown() {
    if (server_)
      server_->stop();
    for (auto& t : threads_)
      t.join();  // returns only once every connection is closed: graceful stop works
    threads_.clear();
    server_.reset();
  }

  struct Client {
    asio::io_context io;
    beast::tcp_stream stream{io};
    beast::flat_buffer buffer;
    explicit Client(uint16_t port) {
      stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }
    bhttp::response<bhttp::string_body> send(bhttp::request<bhttp::string_body> req) {
      req.prepare_payload();
      bhttp::write(stream, req);
      return receive();
    }
    bhttp::response<bhttp::string_body> receive() {
      bhttp::response<bhttp::string_body> res;
      stream.expires_after(std::chrono::seconds(5));
      bhttp::read(stream, buffer, res);
      return res;
    }
    // True when the server closed the connection (read sees EOF or reset) within 5 s.
    bool closed_by_server() {
      stream.expires_after(std::chrono::seconds(5));
      char c;
      beast::error_code ec;
      stream.read_some(asio::buffer(&c, 1), ec);
      return ec == asio::error::eof || ec == asio::error::connection_reset;
    }
  };

  static bhttp::request<bhttp::string_body> post(const std::string& target, std::string body) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.body() = std::move(body);
    return req;
  }
  static bhttp::request<bhttp::string_body> get(const std::string& target) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    return req;
  }
  bhttp::response<bhttp::string_body> once(bhttp::request<bhttp::string_body> req) {
    Client c(server_->port());
    return c.send(std::move(req));
  }

  testing::FakeBackend fake_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::thread> threads_;
};

TEST_F(ServerTest, PingHealthMetrics) {
  auto res = once(get("/ping"));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "pong\r\n");
  res = once(get("/health"));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(json::parse(res.body())["status"], "ok");
  fake_.healthy = false;
  res = once(get("/health"));
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(json::parse(res.body())["error"]["kind"], "temporary");
  once(post("/api/v1/scan", kSpam));
  res = once(get("/metrics"));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_NE(res[bhttp::field::content_type].find("text/plain"), beast::string_view::npos);
  EXPECT_NE(res.body().find("mailsift_scans_total{frontend=\"http\"} 1\n"), std::string::npos);
  EXPECT_NE(res.body().find("mailsift_open_connections{frontend=\"http\"} "), std::string::npos);
}

TEST_F(ServerTest, BounceEndpointExplainsABounce) {
  const std::string dsn =
      "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
      "--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n"
      "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org"
      "\r\n\r\nFinal-Recipient: rfc822; bob@example.net\r\nAction: failed\r\n"
      "Status: 5.2.2\r\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n\r\n--B--\r\n";
  fake_.healthy = false;  // bounce diagnosis needs no backend
  auto res = once(post("/bounce", dsn));
  ASSERT_EQ(res.result_int(), 200);
  auto j = json::parse(res.body());
  EXPECT_EQ(j["kind"], "bounce");
  ASSERT_EQ(j["recipients"].size(), 1u);
  EXPECT_EQ(j["recipients"][0]["reason"], "mailboxfull");
  EXPECT_EQ(j["recipients"][0]["status"], "5.2.2");
  EXPECT_EQ(j["recipients"][0]["reply_code"], "552");
  EXPECT_FALSE(j["recipients"][0]["advice"]["user"].get<std::string>().empty());
  res = once(post("/api/v1/bounce", "not mail at all"));
  EXPECT_EQ(res.result_int(), 400);
  res = once(get("/bounce"));
  EXPECT_EQ(res.result_int(), 405);
}

TEST_F(ServerTest, NativeScanPassesEnvelopeAndAnswersPerRecipient) {
  auto req = post(
      "/api/v1/scan?rcpt=strict%40x.test&rcpt=easy@x.test&ip=192.0.2.7&helo=mx.t"
      "&from=s@y.test&queue_id=Q1",
      "Subject: x\r\n\r\nREJECTME\r\n");
  auto res = once(req);
  ASSERT_EQ(res.result_int(), 200) << res.body();
  json j = json::parse(res.body());
  ASSERT_EQ(j["recipients"].size(), 2u);
  EXPECT_EQ(j["recipients"][0]["action"], "reject");
  EXPECT_EQ(j["recipients"][0]["smtp_reply"]["line"], "550 5.7.1 Message refused as spam");
  EXPECT_EQ(j["recipients"][1]["action"], "add header");
  EXPECT_FALSE(j["recipients"][1].contains("smtp_reply"));
  EXPECT_EQ(j["recipients"][0]["symbols"][0]["name"], "FAKE_REJECT");
  EXPECT_FALSE(j["decision_id"].get<std::string>().empty());
  EXPECT_EQ(j["add_headers"][0]["name"], "X-Spam-Flag");
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.last_request_copy.envelope.client_ip, "192.0.2.7");
  EXPECT_EQ(fake_.last_request_copy.envelope.helo, "mx.t");
  EXPECT_EQ(fake_.last_request_copy.envelope.mail_from, "s@y.test");
  EXPECT_EQ(fake_.last_request_copy.envelope.queue_id, "Q1");
  EXPECT_EQ(fake_.last_raw, "Subject: x\r\n\r\nREJECTME\r\n");
}

TEST_F(ServerTest, NativeLearnAndUnlearn) {
  auto res = once(post("/api/v1/learn/spam?rcpt=bob@x.test", kSpam));
  ASSERT_EQ(res.result_int(), 200) << res.body();
  json j = json::parse(res.body());
  EXPECT_EQ(j["outcome"], "learned");
  EXPECT_EQ(j["class"], "spam");
  EXPECT_EQ(j["scope"], "u:bob@x.test");
  EXPECT_EQ(json::parse(once(post("/api/v1/learn/spam?rcpt=bob@x.test", kSpam)).body())["outcome"],
            "already-learned");
  EXPECT_EQ(json::parse(once(post("/api/v1/learn/ham?rcpt=bob@x.test", kSpam)).body())["outcome"],
            "relearned");
  EXPECT_EQ(json::parse(once(post("/api/v1/unlearn/ham?rcpt=bob@x.test", kSpam)).body())["outcome"],
            "unlearned");
  EXPECT_EQ(json::parse(once(post("/api/v1/unlearn/spam", kSpam)).body())["outcome"],
            "not-learned");
}

TEST_F(ServerTest, RspamdCheckv2AsRspamcSendsIt) {
  auto req = post("/checkv2", kSpam);
  req.version(10);
  req.set("From", "bob@example.test");
  req.insert("Rcpt", "alice@example.test");
  req.insert("Rcpt", "carol@example.test");
  req.set("Ip", "192.0.2.1");
  req.set("Deliver-To", "alice@example.test");
  req.set("Flags", "body_block");
  req.set("User-Agent", "rspamc");
  auto res = once(req);
  ASSERT_EQ(res.result_int(), 200) << res.body();
  EXPECT_EQ(res.version(), 10u);
  json j = json::parse(res.body());
  EXPECT_EQ(j["is_skipped"], false);
  EXPECT_EQ(j["action"], "add header");
  EXPECT_DOUBLE_EQ(j["score"].get<double>(), 9.5);
  EXPECT_EQ(j["required_score"], 6.0);
  EXPECT_EQ(j["message-id"], "m2@example.test");
  EXPECT_TRUE(j["symbols"].contains("FAKE_SPAMWORD"));
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_EQ(fake_.last_request_copy.recipients.size(), 2u);
  // /check and /symbols are the older names of the same thing.
}

TEST_F(ServerTest, RspamdLearnAndFuzzy) {
  auto res = once(post("/learnspam", kSpam));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(json::parse(res.body())["success"], true);
  res = once(post("/learnspam", kSpam));
  EXPECT_EQ(res.result_int(), 208);
  EXPECT_EQ(json::parse(res.body())["error"],
            "<m2@example.test> has been already learned as spam, ignore it");
  res = once(post("/learnham", kSpam));  // other class: relearn, success
  EXPECT_EQ(res.result_int(), 200);
  auto fz = post("/fuzzyadd", kSpam);
  fz.set("Flag", "1");
  fz.set("Weight", "10");
  EXPECT_EQ(once(fz).result_int(), 200);
  EXPECT_EQ(once(post("/fuzzydel", kSpam)).result_int(), 200);
  EXPECT_EQ(once(post("/fuzzyadd", "TEMPFAIL")).result_int(), 503);
}

TEST_F(ServerTest, ErrorsAreJsonWithTheRightStatus) {
  auto res = once(get("/nope"));
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(json::parse(res.body())["error"]["kind"], "permanent");
  res = once(get("/api/v1/scan"));
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[bhttp::field::allow], "POST");
  res = once(post("/ping", "x"));
  EXPECT_EQ(res.result_int(), 405);
  res = once(post("/api/v1/scan", ""));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(json::parse(res.body())["error"]["kind"], "malformed");
  res = once(post("/api/v1/scan?ip=nonsense", kHam));
  EXPECT_EQ(res.result_int(), 400);
  res = once(post("/api/v1/scan", "NOTMAIL"));
  EXPECT_EQ(res.result_int(), 400);
  res = once(post("/api/v1/scan", "Subject: x\r\n\r\nTEMPFAIL\r\n"));
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(res[bhttp::field::retry_after], "5");
  json j = json::parse(res.body());
  EXPECT_EQ(j["error"]["kind"], "temporary");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("store unavailable"), std::string::npos);
  res = once(post("/checkv2", "Subject: x\r\n\r\nTEMPFAIL\r\n"));
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_TRUE(json::parse(res.body())["error"].is_string());  // Rspamd's error shape
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Client c(server_->port());
  for (int i = 0; i < 5; ++i) {
    auto res = c.send(i % 2 ? get("/ping") : post("/api/v1/scan", kHam));
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
  }
  EXPECT_EQ(fake_.scans.load(), 3);
  // Pipelined: two requests in one write, two responses in order.
  std::string two = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(c.stream.socket(), asio::buffer(two));
  EXPECT_EQ(c.receive().body(), "pong\r\n");
  EXPECT_EQ(json::parse(c.receive().body())["status"], "ok");
}

TEST_F(ServerTest, Http10WithoutKeepAliveIsClosed) {
  Client c(server_->port());
  auto req = get("/ping");
  req.version(10);
  auto res = c.send(req);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(ServerTest, GarbageRequestLineGets400AndClose) {
  Client c(server_->port());
  asio::write(c.stream.socket(), asio::buffer(std::string("HELLO THERE\r\n\r\n")));
  auto res = c.receive();
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(json::parse(res.body())["error"]["kind"], "malformed");
  EXPECT_TRUE(c.closed_by_server());
  Client c2(server_->port());
  asio::write(c2.stream.socket(), asio::buffer(std::string("\x16\x03\x01\x02\x00\x01\x00", 7)));
  EXPECT_EQ(c2.receive().result_int(), 400);  // a TLS ClientHello on the plain port
}

TEST_F(ServerTest, OversizedBodyGets413) {
  // Declared too big: refused from the head, before the body is read.
  auto res = once(post("/api/v1/scan", std::string(5000, 'x')));
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_EQ(json::parse(res.body())["error"]["kind"], "malformed");
  // Chunked: refused once the limit is crossed.
  Client c(server_->port());
  std::string head = "POST /checkv2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunk = "1000\r\n" + std::string(4096, 'y') + "\r\n";
  asio::write(c.stream.socket(), asio::buffer(head + chunk + chunk));
  EXPECT_EQ(c.receive().result_int(), 413);
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(fake_.scans.load(), 0);
}

TEST_F(ServerTest, HugeHeaderGets431) {
  Client c(server_->port());
  std::string head = "GET /ping HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i)
    head += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'h') + "\r\n";
  beast::error_code ec;
  asio::write(c.stream.socket(), asio::buffer(head + "\r\n"), ec);
  auto res = c.receive();
  EXPECT_EQ(res.result_int(), 431);
}

TEST_F(ServerTest, ExpectContinueIsHonoured) {
  Client c(server_->port());
  std::string head =
      "POST /api/v1/scan HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
      std::to_string(kHam.size()) + "\r\n\r\n";
  asio::write(c.stream.socket(), asio::buffer(head));
  bhttp::response_parser<bhttp::empty_body> interim;
  c.stream.expires_after(std::chrono::seconds(5));
  bhttp::read_header(c.stream, c.buffer, interim);
  EXPECT_EQ(interim.get().result_int(), 100);
  asio::write(c.stream.socket(), asio::buffer(kHam));
  EXPECT_EQ(c.receive().result_int(), 200);
}

TEST_F(ServerTest, SlowClientIsClosedByTheReadTimeout) {
  Client c(server_->port());
  // Slowloris: a request head that never finishes (read_timeout is 300 ms here).
  asio::write(c.stream.socket(),
              asio::buffer(std::string("POST /checkv2 HTTP/1.1\r\nHost: x\r\n")));
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    beast::error_code ec;
    asio::write(c.stream.socket(), asio::buffer(std::string("X-a: b\r\n")), ec);
  }
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // A kept-alive connection that idles is closed after idle_timeout.
  Client idle(server_->port());
  EXPECT_EQ(idle.send(get("/ping")).result_int(), 200);
  EXPECT_TRUE(idle.closed_by_server());
}

TEST_F(ServerTest, ConcurrentClients) {
  constexpr int kClients = 8, kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Client c(server_->port());
      for (int r = 0; r < kRequests; ++r) {
        auto res = c.send(post("/checkv2", (r + i) % 3 ? kHam : kSpam));
        if (res.result_int() == 200 && json::parse(res.body()).contains("action"))
          ok.fetch_add(1);
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(fake_.scans.load(), kClients * kRequests);
}

TEST_F(ServerTest, GracefulStopClosesIdleConnectionsAndFinishesInFlightOnes) {
  Client idle(server_->port());
  EXPECT_EQ(idle.send(get("/ping")).result_int(), 200);
  // A request whose body is still arriving when stop() is called is answered, then closed.
  Client busy(server_->port());
  std::string head =
      "POST /api/v1/scan HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kHam.size()) +
      "\r\n\r\n";
  asio::write(busy.stream.socket(), asio::buffer(head + kHam.substr(0, 5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_->stop();
  EXPECT_TRUE(idle.closed_by_server());
  asio::write(busy.stream.socket(), asio::buffer(kHam.substr(5)));
  auto res = busy.receive();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(busy.closed_by_server());
  // New connections are refused once the acceptor is closed.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  asio::io_context io;
  tcp::socket s(io);
  beast::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()), ec);
  EXPECT_TRUE(ec);
  shutdown();  // io.run() returns: nothing left on the io_context
}

TEST_F(ServerTest, ControllerPasswordGuardsLearning) {
  shutdown();
  HttpOptions opts;
  opts.handler.controller_password = "secret";
  start(opts);
  EXPECT_EQ(once(post("/learnspam", kSpam)).result_int(), 403);
  auto req = post("/learnspam", kSpam);
  req.set("Password", "secret");
  EXPECT_EQ(once(req).result_int(), 200);
  EXPECT_EQ(once(post("/api/v1/learn/ham", kHam)).result_int(), 403);
  EXPECT_EQ(once(post("/checkv2", kHam)).result_int(), 200);  // scanning needs no password
}

TEST(HttpServerStart, BindFailureIsAConfigError) {
  testing::FakeBackend fake;
  asio::io_context io;
  HttpOptions opts;
  opts.address = "not-an-address";
  auto s = HttpServer::start(io, opts, fake);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kConfig);
  opts.address = "127.0.0.1";
  opts.port = 0;
  auto first = HttpServer::start(io, opts, fake);
  ASSERT_TRUE(first.ok());
  opts.port = first.value()->port();
  auto second = HttpServer::start(io, opts, fake);  // SO_REUSEADDR does not allow two listeners
  EXPECT_FALSE(second.ok());
}

// The extension seam carries Cookie and Content-Type in, and a reply's content type and extra
// headers (the console's Set-Cookie, Location) out.
class HeaderExtension final : public ApiExtension {
 public:
  std::string cookie, content_type;
  bool handles(std::string_view path) const override { return path == "/console/x"; }
  ApiReply handle(const ApiCall& call) override {
    cookie = std::string(call.cookie);
    content_type = std::string(call.content_type);
    ApiReply r{303, "<p>x</p>", "text/html; charset=utf-8"};
    r.headers = {{"Set-Cookie", "a=1; HttpOnly"}, {"Set-Cookie", "b=2"}, {"Location", "/y"}};
    return r;
  }
};

TEST(Handler, ExtensionSeesCookieAndSetsHeaders) {
  testing::FakeBackend fake;
  Metrics metrics;
  HeaderExtension ext;
  HandlerOptions opts;
  opts.extension = &ext;
  Handler handler(fake, metrics, opts);
  Request req = parse_head(
      "POST /console/x HTTP/1.1\r\nCookie: s=abc\r\nContent-Type: "
      "application/x-www-form-urlencoded\r\n\r\n");
  req.body() = "k=v";
  Response res = handler.handle(req);
  EXPECT_EQ(ext.cookie, "s=abc");
  EXPECT_EQ(ext.content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(res.result_int(), 303u);
  EXPECT_EQ(res[bhttp::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res[bhttp::field::location], "/y");
  size_t cookies = 0;
  for (const auto& f : res)
    if (f.name() == bhttp::field::set_cookie)
      ++cookies;
  EXPECT_EQ(cookies, 2u);
}

// A slow extension (the doctor waiting on DNS) runs on the slow pool: with ONE I/O thread, /ping
// is answered while /slow is still blocked, and /slow's reply still arrives on its connection.
class BlockingExtension final : public ApiExtension {
 public:
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  bool handles(std::string_view path) const override { return path == "/slow"; }
  ApiReply handle(const ApiCall&) override {
    entered.set_value();
    released.wait();
    return {200, "{\"slow\":true}"};
  }
};

TEST(SlowPool, SlowPathDoesNotBlockTheIoThread) {
  testing::FakeBackend fake;
  BlockingExtension ext;
  asio::thread_pool slow(1);
  HttpOptions opts;
  opts.address = "127.0.0.1";
  opts.port = 0;
  opts.handler.extension = &ext;
  opts.slow_pool = &slow;
  opts.slow_prefixes = {"/slow"};
  asio::io_context io(1);
  auto s = HttpServer::start(io, opts, fake);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  std::thread io_thread([&io] { io.run(); });
  auto request = [&](const char* target) {
    asio::io_context cio;
    beast::tcp_stream stream{cio};
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), (*s)->port()));
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    stream.expires_after(std::chrono::seconds(5));
    beast::error_code ec;
    bhttp::read(stream, buf, res, ec);
    return ec ? std::string("error: ") + ec.message() : res.body();
  };
  auto slow_reply = std::async(std::launch::async, [&] { return request("/slow"); });
  ext.entered.get_future().wait();  // /slow is now blocked in the pool
  EXPECT_NE(request("/ping").find("pong"), std::string::npos);
  ext.release.set_value();
  EXPECT_EQ(slow_reply.get(), "{\"slow\":true}");
  (*s)->stop();
  io_thread.join();
}

}  // namespace
}  // namespace mailsift::http
