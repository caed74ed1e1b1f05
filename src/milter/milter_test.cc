// Tests for the milter codec and session: the real Postfix 3.7 capture replayed through the
// decoder (whole, and one byte at a time), byte-exact reply encodings, framing errors,
// negotiation bounds, and the per-connection state machine (several messages, aborts, replies
// that must not be sent).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "milter/codec.h"
#include "milter/session.h"

namespace mailsift::milter {
namespace {

using json = nlohmann::ordered_json;  // keeps macro order as captured

// ---- Independent wire writer (not the codec's), so the replay is not circular ----

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string packet(char code, const std::string& payload) {
  return be32(static_cast<uint32_t>(payload.size() + 1)) + code + payload;
}
std::string z(const std::string& s) {
  return s + '\0';
}

struct Captured {
  std::string wire;  // the packet as Postfix sent it
  Command expected;
};

// Rebuilds one captured packet (wire bytes + the command we must decode) from a JSON line.
Captured from_json(const json& j) {
  const std::string c = j.at("cmd").get<std::string>();
  std::string payload;
  Command expected;
  if (c == "O") {
    uint32_t version = j.at("version").get<uint32_t>();
    uint32_t actions = std::stoul(j.at("actions").get<std::string>(), nullptr, 16);
    uint32_t protocol = std::stoul(j.at("protocol").get<std::string>(), nullptr, 16);
    payload = be32(version) + be32(actions) + be32(protocol);
    expected = OptNeg{version, actions, protocol};
  } else if (c == "D") {
    Macro m;
    m.for_command = j.at("stage").get<std::string>()[0];
    payload += m.for_command;
    for (const auto& [name, value] : j.at("macros").items()) {
      payload += z(name) + z(value.get<std::string>());
      m.pairs.emplace_back(name, value.get<std::string>());
    }
    expected = m;
  } else if (c == "C") {
    Connect conn;
    conn.hostname = j.at("host").get<std::string>();
    conn.family = static_cast<Family>(j.at("family").get<std::string>()[0]);
    conn.port = j.at("port").get<uint16_t>();
    conn.address = j.at("addr").at(0).get<std::string>();
    payload = z(conn.hostname) + static_cast<char>(conn.family) +
              static_cast<char>(conn.port >> 8) + static_cast<char>(conn.port & 0xff) +
              z(conn.address);
    expected = conn;
  } else if (c == "H" || c == "M" || c == "R" || c == "L" || c == "U") {
    std::vector<std::string> args = j.at("args").get<std::vector<std::string>>();
    for (const auto& a : args)
      payload += z(a);
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (c == "H")
      expected = Helo{args.at(0)};
    if (c == "M")
      expected = Mail{args.at(0), rest};
    if (c == "R")
      expected = Rcpt{args.at(0), rest};
    if (c == "L")
      expected = Header{args.at(0), args.at(1)};
    if (c == "U")
      expected = UnknownSmtp{args.at(0)};
  } else if (c == "B") {
    payload = j.at("body").get<std::string>();
    expected = Body{payload};
  } else if (c == "T") {
    expected = Data{};
  } else if (c == "N") {
    expected = EndOfHeaders{};
  } else if (c == "E") {
    expected = EndOfBody{};
  } else if (c == "A") {
    expected = Abort{};
  } else if (c == "Q") {
    expected = Quit{};
  } else {
    ADD_FAILURE() << "unexpected command in capture: " << c;
  }
  // The capture's "len" is Postfix's own length field: our rebuilt packet must match it.
  EXPECT_EQ(payload.size() + 1, j.at("len").get<size_t>()) << j.dump();
  return {packet(c[0], payload), expected};
}

// The capture as connections (each starts with OPTNEG).
std::vector<std::vector<Captured>> load_sample() {
  std::ifstream in(MAILSIFT_SOURCE_DIR
                   "/../shared/reference/integration-kit/samples/postfix-3.7-milter-session.jsonl");
  EXPECT_TRUE(in.good());
  std::vector<std::vector<Captured>> conns;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    json j = json::parse(line);
    if (j.at("cmd") == "O")
      conns.emplace_back();
    conns.back().push_back(from_json(j));
  }
  return conns;
}

std::vector<Command> decode_all(Decoder& d) {
  std::vector<Command> out;
  for (;;) {
    auto r = d.next();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
    if (!r.ok() || !r.value())
      break;
    out.push_back(*r.value());
  }
  return out;
}

std::string command_letters(const std::vector<Captured>& conn) {
  std::string s;
  for (const auto& c : conn)
    s += command_code(c.expected);
  return s;
}

// ---- Capture replay ----

TEST(MilterSample, CaptureHasTheDocumentedShape) {
  auto conns = load_sample();
  ASSERT_EQ(conns.size(), 3u);
  EXPECT_EQ(command_letters(conns[0]), "ODCQ");
  EXPECT_EQ(command_letters(conns[1]), "ODCDHDMDRDTDLDLDLDLDLDLDNDBDEAAQ");
  EXPECT_EQ(command_letters(conns[2]), "ODCDHDMDRAAQ");
}

TEST(MilterSample, DecodesEveryPacketWholeStream) {
  for (const auto& conn : load_sample()) {
    std::string stream;
    for (const auto& c : conn)
      stream += c.wire;
    Decoder d;
    d.feed(stream);
    auto got = decode_all(d);
    ASSERT_EQ(got.size(), conn.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], conn[i].expected) << i;
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(MilterSample, DecodesOneByteAtATime) {
  for (const auto& conn : load_sample()) {
    std::string stream;
    for (const auto& c : conn)
      stream += c.wire;
    Decoder d;
    std::vector<Command> got;
    for (char ch : stream) {
      d.feed(std::string_view(&ch, 1));
      auto more = decode_all(d);
      got.insert(got.end(), more.begin(), more.end());
    }
    ASSERT_EQ(got.size(), conn.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], conn[i].expected) << i;
  }
}

TEST(MilterSample, EncodeCommandReproducesPostfixBytes) {
  for (const auto& conn : load_sample()) {
    for (const auto& c : conn)
      EXPECT_EQ(encode_command(c.expected), c.wire);
  }
}

TEST(MilterSample, DecodedFieldsMatchTheCapture) {
  auto conns = load_sample();
  Decoder d;
  for (const auto& c : conns[1])
    d.feed(c.wire);
  auto got = decode_all(d);
  const auto& optneg = std::get<OptNeg>(got[0]);
  EXPECT_EQ(optneg.version, 6u);
  EXPECT_EQ(optneg.actions, 0x1ffu);
  EXPECT_EQ(optneg.protocol, 0x1fffffu);
  const auto& connect = std::get<Connect>(got[2]);
  EXPECT_EQ(connect.hostname, "[127.0.0.1]");
  EXPECT_EQ(connect.family, Family::kInet);
  EXPECT_EQ(connect.port, 40816);
  EXPECT_EQ(connect.address, "127.0.0.1");
  const auto& macros = std::get<Macro>(got[1]);
  EXPECT_EQ(macros.for_command, 'C');
  ASSERT_NE(find_macro(macros.pairs, "{daemon_name}"), nullptr);
  EXPECT_EQ(*find_macro(macros.pairs, "{j}"), "mx.test.invalid");  // {j} == j
  EXPECT_EQ(*find_macro(macros.pairs, "v"), "Postfix 3.7.11");
  EXPECT_EQ(std::get<Macro>(got[3]).pairs.size(), 0u);  // HELO stage: empty list
  EXPECT_EQ(std::get<Mail>(got[6]).sender, "<bob@example.test>");
  EXPECT_EQ(std::get<Header>(got[12]).name, "Date");
  EXPECT_EQ(std::get<Body>(got[26]).chunk, "body for normal TAG\r\n\r\n\r\n");
}

// The whole capture through Session with mailsift's negotiation: only MAIL, RCPT and end of
// message expect replies; the message is complete at EOM.
TEST(MilterSample, SessionExpectsRepliesOnlyWhereNegotiated) {
  auto conns = load_sample();
  Session s;
  std::string expects;
  for (const auto& c : conns[1]) {
    auto e = s.on_command(c.expected);
    ASSERT_TRUE(e.ok()) << e.error().describe();
    switch (e.value()) {
      case Expect::kNegotiation:
        expects += 'O';
        ASSERT_TRUE(s.on_reply(encode_optneg_reply(*s.negotiated())).ok());
        break;
      case Expect::kReply:
        expects += 'r';
        ASSERT_TRUE(s.on_reply(encode_continue()).ok());
        break;
      case Expect::kEndOfMessageReply: {
        expects += 'E';
        const MessageState& m = s.message();
        EXPECT_EQ(m.sender, "<bob@example.test>");
        ASSERT_EQ(m.recipients.size(), 1u);
        EXPECT_EQ(m.recipients[0].address, "<alice@example.test>");
        EXPECT_EQ(*find_macro(m.recipients[0].macros, "{rcpt_mailer}"), "virtual");
        ASSERT_EQ(m.headers.size(), 6u);
        EXPECT_EQ(m.header_count("subject"), 1u);
        EXPECT_EQ(m.body, "body for normal TAG\r\n\r\n\r\n");
        ASSERT_NE(s.macro("i"), nullptr);
        EXPECT_EQ(*s.macro("{i}"), "0D532A7632F");
        EXPECT_EQ(*s.macro("{daemon_name}"), "mx.test.invalid");
        EXPECT_EQ(*s.macro("{mail_addr}"), "bob@example.test");
        EXPECT_EQ(s.connection().connect->port, 40816);
        EXPECT_EQ(s.connection().helo, "client.remote.test");
        std::string edits = encode_insert_header(0, "X-Mailsift", "ham").value();
        edits += encode_change_header(1, "Subject", "[SPAM] normal TAG").value();
        ASSERT_TRUE(s.on_reply(edits).ok());
        ASSERT_TRUE(s.on_reply(encode_accept()).ok());
        EXPECT_EQ(s.messages_completed(), 1u);
        EXPECT_TRUE(s.message().headers.empty());
        break;
      }
      case Expect::kNothing:
        expects += '.';
        break;
      case Expect::kClose:
        expects += 'Q';
        break;
    }
  }
  // O D C D H D M D R D T | 6 x (D L), D N, D B, D | E A A Q
  EXPECT_EQ(expects, "O.....r.r.." + std::string(17, '.') + "E..Q");
}

TEST(MilterSample, RecipientRejectedAtRcptThenAbort) {
  auto conns = load_sample();
  Session s;
  for (const auto& c : conns[2]) {
    auto e = s.on_command(c.expected);
    ASSERT_TRUE(e.ok());
    if (e.value() == Expect::kNegotiation) {
      ASSERT_TRUE(s.on_reply(encode_optneg_reply(*s.negotiated())).ok());
    } else if (e.value() == Expect::kReply && std::holds_alternative<Rcpt>(c.expected)) {
      ASSERT_TRUE(s.on_reply(encode_replycode(550, "5.7.1", "Recipient refused").value()).ok());
    } else if (e.value() == Expect::kReply) {
      ASSERT_TRUE(s.on_reply(encode_continue()).ok());
    }
  }
  EXPECT_FALSE(s.message().sender.has_value());  // aborted
  EXPECT_EQ(s.messages_completed(), 0u);
}

// ---- Reply encodings, byte-exact ----

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v)
    s.push_back(static_cast<char>(b));
  return s;
}

TEST(MilterEncode, SimpleReplies) {
  EXPECT_EQ(encode_continue(), bytes({0, 0, 0, 1, 'c'}));
  EXPECT_EQ(encode_accept(), bytes({0, 0, 0, 1, 'a'}));
  EXPECT_EQ(encode_reject(), bytes({0, 0, 0, 1, 'r'}));
  EXPECT_EQ(encode_tempfail(), bytes({0, 0, 0, 1, 't'}));
  EXPECT_EQ(encode_discard(), bytes({0, 0, 0, 1, 'd'}));
  EXPECT_EQ(encode_progress(), bytes({0, 0, 0, 1, 'p'}));
  EXPECT_EQ(encode_skip(), bytes({0, 0, 0, 1, 's'}));
  EXPECT_EQ(encode_shutdown(), bytes({0, 0, 0, 1, '4'}));
}

TEST(MilterEncode, ReplyCodeOneLine) {
  auto r = encode_replycode(550, "5.7.1", "Message rejected as spam (score 15.2)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), packet('y', z("550 5.7.1 Message rejected as spam (score 15.2)")));
  auto t = encode_replycode(451, "4.7.1", "Greylisted, try again later");
  EXPECT_EQ(t.value(), packet('y', z("451 4.7.1 Greylisted, try again later")));
}

TEST(MilterEncode, ReplyCodeMultiLine) {
  SmtpReply reply{550, "5.7.1", {"Message rejected as spam", "see https://help.example.test/spam"}};
  auto r = encode_replycode(reply);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), packet('y', z("550-5.7.1 Message rejected as spam\r\n"
                                     "550 5.7.1 see https://help.example.test/spam")));
  SmtpReply three{421, "4.3.2", {"a", "b", "c"}};
  EXPECT_EQ(encode_replycode(three).value(),
            packet('y', z("421-4.3.2 a\r\n421-4.3.2 b\r\n421 4.3.2 c")));
}

TEST(MilterEncode, ReplyCodeEscapesPercent) {
  auto r = encode_replycode(550, "5.7.1", "100% spam, %s");
  EXPECT_EQ(r.value(), packet('y', z("550 5.7.1 100%% spam, %%s")));
}

TEST(MilterEncode, ReplyCodeRefusesWhatPostfixCallsMalformed) {
  EXPECT_FALSE(encode_replycode(250, "2.0.0", "ok").ok());          // not 4xx/5xx
  EXPECT_FALSE(encode_replycode(550, "4.7.1", "x").ok());           // class mismatch
  EXPECT_FALSE(encode_replycode(550, "", "x").ok());                // no enhanced status
  EXPECT_FALSE(encode_replycode(550, "5.7", "x").ok());             // incomplete
  EXPECT_FALSE(encode_replycode(550, "5.7.1234", "x").ok());        // detail too long
  EXPECT_FALSE(encode_replycode(550, "5.7.1", "a\r\n550 b").ok());  // CRLF smuggling
  EXPECT_FALSE(encode_replycode(550, "5.7.1", std::string("a\0b", 3)).ok());
  EXPECT_FALSE(encode_replycode(550, "5.7.1", "caf\xc3\xa9").ok());  // not ASCII
  EXPECT_FALSE(encode_replycode(550, "5.7.1", std::string(600, 'x')).ok());
  EXPECT_FALSE(encode_replycode(SmtpReply{550, "5.7.1", {}}).ok());
  EXPECT_TRUE(encode_replycode(550, "5.7.1", std::string(500, 'x')).ok());  // 512 with CRLF
  EXPECT_FALSE(encode_replycode(550, "5.7.1", std::string(501, 'x')).ok());
  EXPECT_EQ(encode_replycode(550, "5.7.1", "").value(), packet('y', z("550 5.7.1")));
}

TEST(MilterEncode, Quarantine) {
  EXPECT_EQ(encode_quarantine("probe: quarantined").value(), packet('q', z("probe: quarantined")));
  EXPECT_FALSE(encode_quarantine("").ok());
  EXPECT_FALSE(encode_quarantine("a\nb").ok());
}

TEST(MilterEncode, HeaderEdits) {
  EXPECT_EQ(encode_add_header("X-Spam-Score", "3.5 (probe)").value(),
            packet('h', z("X-Spam-Score") + z("3.5 (probe)")));
  EXPECT_EQ(encode_insert_header(0, "Authentication-Results", "mx; spf=pass").value(),
            packet('i', be32(0) + z("Authentication-Results") + z("mx; spf=pass")));
  EXPECT_EQ(encode_change_header(1, "Subject", "[SPAM] hi").value(),
            packet('m', be32(1) + z("Subject") + z("[SPAM] hi")));
  EXPECT_EQ(encode_change_header(2, "X-Spam", "").value(),  // empty value deletes
            packet('m', be32(2) + z("X-Spam") + z("")));
  EXPECT_EQ(encode_insert_header(0x01020304, "A", "b").value(),
            packet('i', bytes({1, 2, 3, 4}) + z("A") + z("b")));
  // Folding is allowed, anything that would start a new header line is not.
  EXPECT_TRUE(encode_add_header("X-Long", "part one\n\tpart two").ok());
  EXPECT_FALSE(encode_add_header("X-Evil", "a\nBcc: victim@example.test").ok());
  EXPECT_FALSE(encode_add_header("X-Evil", "a\r\n b").ok());
  EXPECT_FALSE(encode_add_header("X-Evil", "a\n").ok());
  EXPECT_FALSE(encode_add_header("X-Evil", std::string("a\0b", 3)).ok());
  EXPECT_FALSE(encode_add_header("Bad:Name", "v").ok());
  EXPECT_FALSE(encode_add_header("Bad Name", "v").ok());
  EXPECT_FALSE(encode_add_header("", "v").ok());
  EXPECT_FALSE(encode_add_header("X-Big", std::string(70000, 'a')).ok());
}

TEST(MilterEncode, DeleteHeadersHighestIndexFirst) {
  auto r = encode_delete_headers("X-Spam", 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), packet('m', be32(3) + z("X-Spam") + z("")) +
                           packet('m', be32(2) + z("X-Spam") + z("")) +
                           packet('m', be32(1) + z("X-Spam") + z("")));
  EXPECT_EQ(encode_delete_headers("X-Spam", 0).value(), "");
}

TEST(MilterEncode, Recipients) {
  EXPECT_EQ(encode_add_rcpt("<spamtrap@example.test>").value(),
            packet('+', z("<spamtrap@example.test>")));
  EXPECT_EQ(encode_delete_rcpt("<alice@example.test>").value(),
            packet('-', z("<alice@example.test>")));
  EXPECT_FALSE(encode_add_rcpt("").ok());
  EXPECT_FALSE(encode_delete_rcpt("a\r\nb").ok());
}

TEST(MilterEncode, OptNegReply) {
  Negotiated n;
  n.version = 6;
  n.actions = action::kAddHeaders | action::kChangeHeaders;
  n.protocol = proto::kNoReplyHeader | proto::kSkip;
  EXPECT_EQ(encode_optneg_reply(n), packet('O', be32(6) + be32(0x11) + be32(0x480)));
  // Macro lists only travel with SMFIF_SETSYMLIST.
  n.macro_lists = {{MacroStage::kEnvFrom, "{mail_addr} i"}};
  EXPECT_EQ(encode_optneg_reply(n), packet('O', be32(6) + be32(0x11) + be32(0x480)));
  n.actions |= action::kSetSymList;
  n.macro_lists.push_back({MacroStage::kEndOfMessage, "i {daemon_name}"});
  EXPECT_EQ(encode_optneg_reply(n),
            packet('O', be32(6) + be32(0x111) + be32(0x480) + be32(2) + z("{mail_addr} i") +
                            be32(5) + z("i {daemon_name}")));
}

// ---- Negotiation ----

TEST(MilterNegotiate, AgainstPostfix37) {
  auto n = negotiate(OptNeg{6, 0x1ff, 0x1fffff}, mailsift_wanted());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->version, 6u);
  EXPECT_EQ(n->actions, action::kAddHeaders | action::kChangeHeaders | action::kQuarantine |
                            action::kSetSymList);
  EXPECT_TRUE(
      n->has_protocol(proto::kNoReplyHeader | proto::kNoReplyBody | proto::kHeaderLeadingSpace));
  EXPECT_FALSE(n->has_protocol(proto::kNoReplyRcpt));
  EXPECT_FALSE(n->has_protocol(proto::kNoReplyMail));
  EXPECT_EQ(n->macro_lists.size(), 7u);
  EXPECT_TRUE(n->expects_reply('R'));
  EXPECT_TRUE(n->expects_reply('M'));
  EXPECT_TRUE(n->expects_reply('E'));
  EXPECT_FALSE(n->expects_reply('L'));
  EXPECT_FALSE(n->expects_reply('B'));
  EXPECT_FALSE(n->expects_reply('C'));
  EXPECT_FALSE(n->expects_reply('D'));
  EXPECT_FALSE(n->expects_reply('A'));
  EXPECT_FALSE(n->expects_reply('Q'));
  EXPECT_EQ(n->wire_header_value("3.5"), " 3.5");
}

TEST(MilterNegotiate, NeverExceedsWhatIsOffered) {
  uint64_t x = 0x9e3779b97f4a7c15ull;  // deterministic xorshift: hermetic
  auto rnd = [&x]() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<uint32_t>(x);
  };
  for (int i = 0; i < 5000; ++i) {
    OptNeg offered{2 + rnd() % 8, rnd(), rnd()};
    Wanted wanted;
    wanted.actions = rnd();
    wanted.protocol = rnd();
    wanted.macro_lists = {{MacroStage::kConnect, "j"}};
    auto n = negotiate(offered, wanted);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->actions & ~offered.actions, 0u);
    EXPECT_EQ(n->protocol & ~offered.protocol, 0u);
    EXPECT_EQ(n->actions & ~wanted.actions, 0u);
    EXPECT_EQ(n->protocol & ~wanted.protocol, 0u);
    EXPECT_EQ(n->protocol & ~proto::kAllKnown, 0u);  // MDS and unknown bits never echoed
    EXPECT_LE(n->version, std::min<uint32_t>(offered.version, 6));
    // The reply as Postfix parses it.
    std::string wire = encode_optneg_reply(*n);
    EXPECT_EQ(wire.substr(5, 12), be32(n->version) + be32(n->actions) + be32(n->protocol));
    if (!n->has_action(action::kSetSymList)) {
      EXPECT_EQ(wire.size(), 17u);
    }
  }
}

TEST(MilterNegotiate, OldMtaGetsItsVersionAndNoNewFlags) {
  // A v2 MTA knows neither NR_* nor SKIP: nothing of that may be requested.
  auto n = negotiate(OptNeg{2, 0x3f, 0x7f}, mailsift_wanted());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->version, 2u);
  EXPECT_EQ(n->protocol, 0u);
  EXPECT_TRUE(n->expects_reply('L'));  // so we must answer every header
  EXPECT_TRUE(n->expects_reply('C'));
  EXPECT_FALSE(n->has_action(action::kSetSymList));
  EXPECT_TRUE(n->macro_lists.empty());
  EXPECT_EQ(n->wire_header_value("3.5"), "3.5");
}

TEST(MilterNegotiate, RequiredActionMissingOrAncientVersionFails) {
  auto n = negotiate(OptNeg{6, action::kQuarantine, 0x1fffff}, mailsift_wanted());
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().kind, ErrorKind::kPermanent);
  auto v = negotiate(OptNeg{1, 0x1ff, 0x1fffff}, mailsift_wanted());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::kMalformed);
  auto future = negotiate(OptNeg{9, 0x1ff, 0x1fffff}, mailsift_wanted());
  EXPECT_EQ(future->version, 6u);
}

// ---- Decoder framing and malformed input ----

ErrorKind decode_error(const std::string& stream, size_t max_packet = kDefaultMaxPacket) {
  Decoder d(max_packet);
  d.feed(stream);
  for (;;) {
    auto r = d.next();
    if (!r.ok())
      return r.error().kind;
    if (!r.value()) {
      ADD_FAILURE() << "no error";
      return ErrorKind::kConfig;
    }
  }
}

TEST(MilterDecoder, ZeroLengthPacketIsMalformed) {
  EXPECT_EQ(decode_error(bytes({0, 0, 0, 0})), ErrorKind::kMalformed);
}

TEST(MilterDecoder, OversizedPacketFailsBeforeItsPayloadArrives) {
  Decoder d(1024);
  d.feed(be32(1025));
  auto r = d.next();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kMalformed);
  EXPECT_TRUE(d.failed());
  // Failed for good: framing is lost.
  d.feed(encode_command(Quit{}));
  EXPECT_FALSE(d.next().ok());
  // Exactly at the limit is fine.
  Decoder ok(1024);
  ok.feed(encode_command(Body{std::string(1023, 'x')}));
  auto b = ok.next();
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b.value().has_value());
  EXPECT_EQ(std::get<Body>(*b.value()).chunk.size(), 1023u);
  EXPECT_EQ(decode_error(be32(0xffffffff)), ErrorKind::kMalformed);
}

TEST(MilterDecoder, PartialPacketsWait) {
  std::string wire = encode_command(Header{"Subject", "hello"});
  for (size_t cut = 0; cut < wire.size(); ++cut) {
    Decoder d;
    d.feed(wire.substr(0, cut));
    auto r = d.next();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r.value().has_value()) << cut;
    d.feed(wire.substr(cut));
    auto full = d.next();
    ASSERT_TRUE(full.ok());
    ASSERT_TRUE(full.value().has_value());
    EXPECT_EQ(*full.value(), (Command{Header{"Subject", "hello"}}));
  }
}

TEST(MilterDecoder, TruncatedPayloadsAreMalformed) {
  EXPECT_EQ(decode_error(packet('O', be32(6) + be32(0x1ff))), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('C', z("[1.2.3.4]") + "4" + bytes({0}))), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('C', z("[1.2.3.4]"))), ErrorKind::kMalformed);  // no family
  EXPECT_EQ(decode_error(packet('C', z("h") + "4" + bytes({0, 25}))), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('D', "")), ErrorKind::kMalformed);            // no stage letter
  EXPECT_EQ(decode_error(packet('M', "")), ErrorKind::kMalformed);            // no sender
  EXPECT_EQ(decode_error(packet('L', z("Subject"))), ErrorKind::kMalformed);  // no value
}

TEST(MilterDecoder, MissingNulTerminatorsAreMalformed) {
  EXPECT_EQ(decode_error(packet('H', "client.example")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('M', z("<a@b>") + "SIZE=1")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('R', "<a@b>")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('L', z("Subject") + "hi")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('U', "HELP")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('C', "[1.2.3.4]")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('C', z("h") + "4" + bytes({0, 25}) + "1.2.3.4")),
            ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('D', "Ci")), ErrorKind::kMalformed);  // unterminated name
  EXPECT_EQ(decode_error(packet('D', "C" + z("i") + "x")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('D', "C" + z("i"))), ErrorKind::kMalformed);  // odd list
  EXPECT_EQ(decode_error(packet('D', "C" + z("i") + z("1") + z("j"))), ErrorKind::kMalformed);
}

TEST(MilterDecoder, TrailingBytesAfterFixedFieldsAreMalformed) {
  EXPECT_EQ(decode_error(packet('H', z("a") + z("b"))), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('L', z("a") + z("b") + z("c"))), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('C', z("h") + "U" + "x")), ErrorKind::kMalformed);
  EXPECT_EQ(decode_error(packet('C', z("h") + "X")), ErrorKind::kMalformed);  // unknown family
}

TEST(MilterDecoder, ConnectFamilies) {
  auto dec = [](const std::string& payload) { return decode_packet('C', payload); };
  auto u = dec(z("unknown") + "U");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(std::get<Connect>(u.value()), (Connect{"unknown", Family::kUnknown, 0, ""}));
  auto six = dec(z("mx.example") + "6" + bytes({0x1f, 0x90}) + z("2001:db8::1"));
  ASSERT_TRUE(six.ok());
  EXPECT_EQ(std::get<Connect>(six.value()),
            (Connect{"mx.example", Family::kInet6, 8080, "2001:db8::1"}));
  auto unix_sock = dec(z("localhost") + "L" + bytes({0, 0}) + z("/run/x.sock"));
  ASSERT_TRUE(unix_sock.ok());
  EXPECT_EQ(std::get<Connect>(unix_sock.value()).family, Family::kUnix);
}

TEST(MilterDecoder, CommandsAndOddCases) {
  auto mail = decode_packet(
      'M', z("<bob@example.test>") + z("size=112") + z("BODY=8BITMIME") + z("SIZE=112"));
  ASSERT_TRUE(mail.ok());
  EXPECT_EQ(std::get<Mail>(mail.value()).esmtp_args,
            (std::vector<std::string>{"size=112", "BODY=8BITMIME", "SIZE=112"}));
  auto rcpt = decode_packet('R', z("<alice@example.test>") + z("NOTIFY=FAILURE"));
  EXPECT_EQ(std::get<Rcpt>(rcpt.value()).esmtp_args, (std::vector<std::string>{"NOTIFY=FAILURE"}));
  auto empty_header = decode_packet('L', z("X-Empty") + z(""));
  EXPECT_EQ(std::get<Header>(empty_header.value()), (Header{"X-Empty", ""}));
  auto folded = decode_packet('L', z("X-Long") + z("part one\n\tpart two"));
  EXPECT_EQ(std::get<Header>(folded.value()).value, "part one\n\tpart two");
  auto unknown_smtp = decode_packet('U', z("XYZZY foo"));
  EXPECT_EQ(std::get<UnknownSmtp>(unknown_smtp.value()).line, "XYZZY foo");
  auto eob = decode_packet('E', "last chunk");
  EXPECT_EQ(std::get<EndOfBody>(eob.value()).chunk, "last chunk");
  auto body_nul = decode_packet('B', std::string("a\0b", 3));  // body is binary-safe
  EXPECT_EQ(std::get<Body>(body_nul.value()).chunk.size(), 3u);
  auto k = decode_packet('K', "");
  EXPECT_TRUE(std::holds_alternative<QuitNewConnection>(k.value()));
  auto optneg_long = decode_packet('O', be32(6) + be32(1) + be32(2) + "future");
  EXPECT_EQ(std::get<OptNeg>(optneg_long.value()), (OptNeg{6, 1, 2}));
  auto weird = decode_packet('Z', "xyz");
  ASSERT_TRUE(weird.ok());
  EXPECT_EQ(std::get<Unknown>(weird.value()), (Unknown{'Z', "xyz"}));
  EXPECT_STREQ(command_name(weird.value()), "SMFIC_(unknown)");
  EXPECT_STREQ(command_name(eob.value()), "SMFIC_BODYEOB");
  auto macro = decode_packet('D', std::string("L"));
  EXPECT_EQ(std::get<Macro>(macro.value()), (Macro{'L', {}}));
}

TEST(MilterDecoder, SeveralPacketsInOneFeedAndBufferIsReclaimed) {
  std::string stream = encode_command(Abort{}) + encode_command(Abort{}) + encode_command(Quit{});
  Decoder d;
  d.feed(stream + encode_command(Helo{"x"}).substr(0, 3));
  auto got = decode_all(d);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(d.buffered(), 3u);
}

// ---- Session ----

// Drives a Session like the daemon: answers continue where a reply is expected.
class Mta {
 public:
  explicit Mta(Wanted wanted = mailsift_wanted(), SessionLimits limits = {})
      : session(std::move(wanted), limits) {}
  Expect send(const Command& c) {
    auto e = session.on_command(c);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().describe());
    return e.ok() ? e.value() : Expect::kClose;
  }
  void open(uint32_t protocol = 0x1fffff) {
    ASSERT_EQ(send(OptNeg{6, 0x1ff, protocol}), Expect::kNegotiation);
    ASSERT_TRUE(session.on_reply(encode_optneg_reply(*session.negotiated())).ok());
    send(Macro{'C', {{"j", "mx.test"}, {"{daemon_name}", "ORIGINATING"}}});
    if (send(Connect{"[192.0.2.1]", Family::kInet, 4000, "192.0.2.1"}) == Expect::kReply) {
      reply(encode_continue());
    }
    if (send(Helo{"client.test"}) == Expect::kReply)
      reply(encode_continue());
  }
  void reply(const std::string& packet) { ASSERT_TRUE(session.on_reply(packet).ok()); }
  void envelope(const std::string& from, const std::vector<std::string>& to) {
    send(Macro{'M', {{"{mail_addr}", from}}});
    ASSERT_EQ(send(Mail{"<" + from + ">", {}}), Expect::kReply);
    reply(encode_continue());
    for (const auto& r : to) {
      send(Macro{'R', {{"{rcpt_addr}", r}}});
      ASSERT_EQ(send(Rcpt{"<" + r + ">", {}}), Expect::kReply);
      reply(encode_continue());
    }
  }
  void content(const std::string& subject, const std::string& body) {
    send(Macro{'T', {{"i", "QID1"}}});
    send(Data{});
    send(Header{"Subject", " " + subject});
    send(Header{"X-Spam", " yes"});
    send(Header{"x-spam", " forged"});
    send(EndOfHeaders{});
    send(Body{body});
  }
  Session session;
};

TEST(MilterSession, TwoMessagesOnOneConnection) {
  Mta mta;
  mta.open();
  mta.envelope("bob@example.test", {"alice@example.test", "carol@example.test"});
  mta.content("first", "one\r\n");
  ASSERT_EQ(mta.send(EndOfBody{}), Expect::kEndOfMessageReply);
  EXPECT_EQ(mta.session.message().recipients.size(), 2u);
  EXPECT_EQ(*find_macro(mta.session.message().recipients[1].macros, "{rcpt_addr}"),
            "carol@example.test");
  EXPECT_EQ(mta.session.message().header_count("X-SPAM"), 2u);
  EXPECT_EQ(mta.session.message().occurrence(2), 2u);  // "x-spam" is the 2nd X-Spam
  EXPECT_EQ(mta.session.message_bytes(),
            "Subject: first\r\nX-Spam: yes\r\nx-spam: forged\r\n\r\none\r\n");
  mta.reply(encode_delete_headers("X-Spam", 2).value());
  mta.reply(encode_accept());
  mta.send(Abort{});  // Postfix sends ABORT after every message

  mta.envelope("dave@example.test", {"erin@example.test"});
  mta.content("second", "two\r\n");
  ASSERT_EQ(mta.send(EndOfBody{}), Expect::kEndOfMessageReply);
  const MessageState& m = mta.session.message();
  EXPECT_EQ(m.sender, "<dave@example.test>");
  ASSERT_EQ(m.recipients.size(), 1u);
  EXPECT_EQ(m.headers.size(), 3u);
  EXPECT_EQ(m.body, "two\r\n");
  EXPECT_EQ(*mta.session.macro("{daemon_name}"), "ORIGINATING");  // connection macros survive
  mta.reply(encode_replycode(550, "5.7.1", "spam").value());
  EXPECT_EQ(mta.session.messages_completed(), 2u);
  EXPECT_EQ(mta.send(Quit{}), Expect::kClose);
}

TEST(MilterSession, NewMailWithoutAbortStartsAFreshMessage) {
  Mta mta;
  mta.open();
  mta.envelope("a@example.test", {"b@example.test"});
  mta.envelope("c@example.test", {"d@example.test"});
  EXPECT_EQ(mta.session.message().sender, "<c@example.test>");
  EXPECT_EQ(mta.session.message().recipients.size(), 1u);
  EXPECT_EQ(*mta.session.macro("{mail_addr}"), "c@example.test");
}

TEST(MilterSession, AbortMidMessage) {
  Mta mta;
  mta.open();
  mta.envelope("bob@example.test", {"alice@example.test"});
  mta.content("half", "partial body\r\n");
  EXPECT_EQ(mta.send(Abort{}), Expect::kNothing);
  EXPECT_FALSE(mta.session.message().sender.has_value());
  EXPECT_TRUE(mta.session.message().headers.empty());
  EXPECT_TRUE(mta.session.message().body.empty());
  EXPECT_EQ(mta.session.macro("i"), nullptr);
  EXPECT_EQ(mta.send(Abort{}), Expect::kNothing);  // twice, as Postfix does
  mta.envelope("bob@example.test", {"alice@example.test"});
  mta.content("whole", "full body\r\n");
  ASSERT_EQ(mta.send(EndOfBody{}), Expect::kEndOfMessageReply);
  EXPECT_EQ(mta.session.message().body, "full body\r\n");
  mta.reply(encode_continue());
  EXPECT_EQ(mta.session.messages_completed(), 1u);
}

TEST(MilterSession, ReplyingToANoReplyCommandIsRefused) {
  Mta mta;
  mta.open();
  EXPECT_EQ(mta.session.pending(), 0);
  EXPECT_FALSE(mta.session.on_reply(encode_continue()).ok());  // CONNECT/HELO are NR_
  mta.envelope("bob@example.test", {"alice@example.test"});
  mta.send(Data{});
  EXPECT_FALSE(mta.session.on_reply(encode_continue()).ok());  // NR_DATA
  mta.send(Header{"Subject", " x"});
  EXPECT_FALSE(mta.session.on_reply(encode_continue()).ok());  // NR_HDR
  mta.send(Macro{'B', {{"i", "Q"}}});
  EXPECT_FALSE(mta.session.on_reply(encode_continue()).ok());  // MACRO: never
}

TEST(MilterSession, WithoutNoReplyFlagsEveryEventIsAnswered) {
  Mta mta;
  mta.open(/*protocol=*/0x3f);  // an MTA that offers no NR_* bits
  ASSERT_EQ(mta.send(Mail{"<a@b>", {}}), Expect::kReply);
  mta.reply(encode_continue());
  ASSERT_EQ(mta.send(Rcpt{"<c@d>", {}}), Expect::kReply);
  mta.reply(encode_continue());
  ASSERT_EQ(mta.send(Header{"Subject", "x"}), Expect::kReply);
  mta.reply(encode_continue());
  ASSERT_EQ(mta.send(Body{"x"}), Expect::kReply);
  EXPECT_FALSE(mta.session.on_reply(encode_skip()).ok());  // SKIP not negotiated
  mta.reply(encode_continue());
  // Without HDR_LEADSPC the MTA stripped the space; reconstruction puts it back.
  EXPECT_EQ(mta.session.message_bytes(), "Subject: x\r\n\r\nx");
}

TEST(MilterSession, SkipOnlyForBodyAndOnlyWhenNegotiated) {
  Wanted w = mailsift_wanted();
  w.protocol = (w.protocol & ~proto::kNoReplyBody) | proto::kSkip;
  Mta mta(w);
  mta.open();
  mta.envelope("a@example.test", {"b@example.test"});
  ASSERT_EQ(mta.send(Body{"chunk"}), Expect::kReply);
  mta.reply(encode_skip());
  ASSERT_EQ(mta.send(EndOfBody{}), Expect::kEndOfMessageReply);
  EXPECT_FALSE(mta.session.on_reply(encode_skip()).ok());
  mta.reply(encode_accept());
}

TEST(MilterSession, RepliesThatMustNotBeSent) {
  Mta mta;
  mta.open(/*protocol=*/0x3f);
  ASSERT_EQ(mta.send(Connect{"h", Family::kUnknown, 0, ""}), Expect::kReply);
  EXPECT_FALSE(mta.session.on_reply(encode_discard()).ok());  // not at CONNECT
  EXPECT_FALSE(mta.session.on_reply(encode_add_header("X-A", "b").value()).ok());
  EXPECT_FALSE(mta.session.on_reply(encode_quarantine("q").value()).ok());
  EXPECT_FALSE(mta.session.on_reply(bytes({0, 0, 0, 1, 'f'})).ok());       // CONN_FAIL
  EXPECT_FALSE(mta.session.on_reply(bytes({0, 0, 0, 2, 'c', 'x'})).ok());  // data on 'c'
  EXPECT_FALSE(mta.session.on_reply(encode_continue() + encode_continue()).ok());
  EXPECT_FALSE(mta.session.on_reply(packet('y', z("550 oops"))).ok());  // Postfix: malformed
  EXPECT_FALSE(mta.session.on_reply("\0\0\0").ok());
  mta.reply(encode_progress());
  mta.reply(encode_progress());
  mta.reply(encode_continue());
  EXPECT_FALSE(mta.session.on_reply(encode_continue()).ok());  // answered already
}

TEST(MilterSession, EndOfMessageEditsNeedNegotiatedActions) {
  Mta mta;  // mailsift_wanted(): no ADDRCPT/DELRCPT/CHGBODY/CHGFROM
  mta.open();
  mta.envelope("a@example.test", {"b@example.test"});
  ASSERT_EQ(mta.send(EndOfBody{}), Expect::kEndOfMessageReply);
  EXPECT_FALSE(mta.session.on_reply(encode_add_rcpt("<x@y>").value()).ok());
  EXPECT_FALSE(mta.session.on_reply(encode_delete_rcpt("<x@y>").value()).ok());
  EXPECT_FALSE(mta.session.on_reply(packet('b', "new body")).ok());
  // A refused batch leaves nothing half-applied: the verdict is still pending.
  EXPECT_FALSE(
      mta.session.on_reply(encode_add_header("X-A", "1").value() + encode_add_rcpt("<x@y>").value())
          .ok());
  EXPECT_EQ(mta.session.pending(), cmd::kEndOfBody);
  // Quarantine is not a verdict: the final reply still follows.
  mta.reply(encode_quarantine("mailsift: spam").value());
  EXPECT_EQ(mta.session.pending(), cmd::kEndOfBody);
  EXPECT_FALSE(mta.session.on_reply(encode_accept() + encode_add_header("X-A", "1").value()).ok());
  mta.reply(
      encode_add_header("X-Mailsift", mta.session.negotiated()->wire_header_value("spam")).value() +
      encode_accept());
  EXPECT_EQ(mta.session.pending(), 0);
}

TEST(MilterSession, ProtocolOrderViolationsCloseTheConnection) {
  Session fresh;
  auto early = fresh.on_command(Connect{"h", Family::kUnknown, 0, ""});
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().kind, ErrorKind::kMalformed);

  Mta mta;
  mta.open();
  ASSERT_EQ(mta.send(Mail{"<a@b>", {}}), Expect::kReply);
  auto while_pending = mta.session.on_command(Rcpt{"<c@d>", {}});
  ASSERT_FALSE(while_pending.ok());
  EXPECT_EQ(while_pending.error().kind, ErrorKind::kMalformed);

  // ABORT while a reply is pending: the MTA gave up; the late reply is refused.
  Mta late;
  late.open();
  ASSERT_EQ(late.send(Mail{"<a@b>", {}}), Expect::kReply);
  EXPECT_EQ(late.send(Abort{}), Expect::kNothing);
  EXPECT_FALSE(late.session.on_reply(encode_continue()).ok());

  Session picky(mailsift_wanted());
  auto refused = picky.on_command(OptNeg{6, action::kQuarantine, 0x1fffff});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kPermanent);
}

TEST(MilterSession, UnknownCommandByteIsNotAnswered) {
  Mta mta;
  mta.open();
  EXPECT_EQ(mta.send(Unknown{'Z', "?"}), Expect::kNothing);
  EXPECT_EQ(mta.send(UnknownSmtp{"XYZZY"}), Expect::kNothing);  // NR_UNKN negotiated
  EXPECT_EQ(mta.session.connection().unknown_commands, 1u);
}

TEST(MilterSession, LimitsTruncateWithoutFailing) {
  SessionLimits limits;
  limits.max_body_bytes = 10;
  limits.max_headers = 2;
  limits.max_recipients = 1;
  Mta mta(mailsift_wanted(), limits);
  mta.open();
  mta.envelope("a@example.test", {"b@example.test", "c@example.test"});
  mta.content("s", "0123456789abcdef");
  mta.send(Body{"more"});
  const MessageState& m = mta.session.message();
  EXPECT_TRUE(m.recipients_truncated);
  EXPECT_EQ(m.recipients.size(), 1u);
  EXPECT_TRUE(m.headers_truncated);
  EXPECT_EQ(m.headers.size(), 2u);
  EXPECT_TRUE(m.body_truncated);
  EXPECT_EQ(m.body, "0123456789");
  EXPECT_EQ(m.body_bytes_seen, 20u);
}

TEST(MilterSession, QuitNewConnectionResetsConnectionState) {
  Mta mta;
  mta.open();
  mta.envelope("a@example.test", {"b@example.test"});
  EXPECT_EQ(mta.send(QuitNewConnection{}), Expect::kNothing);
  EXPECT_FALSE(mta.session.connection().connect.has_value());
  EXPECT_FALSE(mta.session.message().sender.has_value());
  EXPECT_TRUE(mta.session.negotiated_ok());
  mta.send(Connect{"[192.0.2.9]", Family::kInet, 1, "192.0.2.9"});
  EXPECT_EQ(mta.session.connection().connect->address, "192.0.2.9");
}

}  // namespace
}  // namespace mailsift::milter
