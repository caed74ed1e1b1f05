#include "milter/session.h"

#include <algorithm>
#include <utility>
#include <variant>

namespace mailsift::milter {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z')
      x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = static_cast<char>(y - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}

size_t macro_bytes(const MacroPairs& pairs) {
  size_t n = 0;
  for (const auto& [k, v] : pairs)
    n += k.size() + v.size() + 2;
  return n;
}

Error bad_reply(char code, const char* why) {
  return Error::permanent(std::string("milter: reply '") + code + "' " + why);
}

// Mirrors Postfix's check (milter8.c): "[45]DD[ -][45]", else "malformed reply".
bool plausible_replycode(std::string_view p) {
  if (p.size() < 6 || p.back() != '\0')
    return false;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return (p[0] == '4' || p[0] == '5') && digit(p[1]) && digit(p[2]) &&
         (p[3] == ' ' || p[3] == '-') && p[4] == p[0];
}

}  // namespace

const char* to_string(Expect expect) {
  switch (expect) {
    case Expect::kNothing:
      return "nothing";
    case Expect::kReply:
      return "reply";
    case Expect::kEndOfMessageReply:
      return "end-of-message reply";
    case Expect::kNegotiation:
      return "negotiation";
    case Expect::kClose:
      return "close";
  }
  return "?";
}

uint32_t MessageState::header_count(std::string_view name) const {
  uint32_t n = 0;
  for (const auto& h : headers) {
    if (iequals(h.name, name))
      ++n;
  }
  return n;
}

uint32_t MessageState::occurrence(size_t header_index) const {
  if (header_index >= headers.size())
    return 0;
  uint32_t n = 0;
  for (size_t i = 0; i <= header_index; ++i) {
    if (iequals(headers[i].name, headers[header_index].name))
      ++n;
  }
  return n;
}

Session::Session(Wanted wanted, SessionLimits limits)
    : wanted_(std::move(wanted)), limits_(limits) {}

void Session::reset_message() {
  message_ = MessageState{};
  pending_rcpt_macros_.clear();
  header_bytes_ = 0;
  envelope_bytes_ = 0;
}

void Session::reset_connection() {
  connection_ = ConnectionState{};
  reset_message();
}

bool Session::envelope_room(size_t bytes) {
  if (envelope_bytes_ + bytes > limits_.max_envelope_bytes)
    return false;
  envelope_bytes_ += bytes;
  return true;
}

void Session::store_macros(const Macro& m) {
  switch (m.for_command) {
    case cmd::kConnect:
      connection_.connect_macros = m.pairs;
      break;
    case cmd::kHelo:
      connection_.helo_macros = m.pairs;
      break;
    case cmd::kMail:
      message_.mail_macros = m.pairs;
      break;
    case cmd::kRcpt:
      pending_rcpt_macros_ = m.pairs;  // moved into the Recipient when RCPT arrives
      break;
    case cmd::kData:
      message_.data_macros = m.pairs;
      break;
    case cmd::kHeader:
    case cmd::kEndOfHeaders:
    case cmd::kBody:
      message_.eoh_macros = m.pairs;
      break;
    case cmd::kEndOfBody:
      message_.eom_macros = m.pairs;
      break;
    default:
      break;  // 'U' and unknown stages: nothing in mailsift uses them
  }
}

Result<Expect> Session::on_command(const Command& command) {
  const char code = command_code(command);
  const bool ends_waiting = std::holds_alternative<Abort>(command) ||
                            std::holds_alternative<Quit>(command) ||
                            std::holds_alternative<QuitNewConnection>(command);
  if (pending_ != 0) {
    // The MTA gave up waiting (timeout) or is closing: a late reply must not be sent, and
    // on_reply() now refuses it because nothing is pending.
    if (!ends_waiting) {
      return Error::malformed(std::string("milter: ") + command_name(command) +
                              " while the reply to '" + pending_ + "' is pending");
    }
    pending_ = 0;
  }

  if (const auto* o = std::get_if<OptNeg>(&command)) {
    auto n = negotiate(*o, wanted_);
    if (!n)
      return n.error();
    negotiated_ = std::move(n).value();
    reset_connection();
    pending_ = cmd::kOptNeg;
    return Expect::kNegotiation;
  }
  if (!negotiated_) {
    return Error::malformed(std::string("milter: ") + command_name(command) + " before OPTNEG");
  }

  struct Visitor {
    Session& s;
    void operator()(const OptNeg&) {}
    void operator()(const Macro& m) { s.store_macros(m); }
    void operator()(const Connect& c) {
      s.reset_connection_keep_macros();
      s.connection_.connect = c;
    }
    void operator()(const Helo& h) {
      // HELO/EHLO starts over: Postfix aborts any transaction right after it.
      s.reset_message();
      s.connection_.helo = h.name;
    }
    void operator()(const Mail& m) {
      MacroPairs mail_macros = std::move(s.message_.mail_macros);
      s.reset_message();  // a new transaction, also when the last one ended without ABORT
      s.message_.mail_macros = std::move(mail_macros);
      s.message_.sender = m.sender;
      s.message_.sender_args = m.esmtp_args;
    }
    void operator()(const Rcpt& r) {
      MessageState& msg = s.message_;
      size_t bytes = r.recipient.size() + macro_bytes(s.pending_rcpt_macros_);
      for (const auto& a : r.esmtp_args)
        bytes += a.size() + 1;
      if (msg.recipients.size() >= s.limits_.max_recipients || !s.envelope_room(bytes)) {
        msg.recipients_truncated = true;
      } else {
        msg.recipients.push_back(Recipient{r.recipient, r.esmtp_args, s.pending_rcpt_macros_});
      }
      s.pending_rcpt_macros_.clear();
    }
    void operator()(const Data&) {}
    void operator()(const Header& h) {
      MessageState& msg = s.message_;
      size_t bytes = h.name.size() + h.value.size();
      if (msg.headers.size() >= s.limits_.max_headers ||
          s.header_bytes_ + bytes > s.limits_.max_header_bytes) {
        msg.headers_truncated = true;
        return;
      }
      s.header_bytes_ += bytes;
      msg.headers.push_back(HeaderField{h.name, h.value});
    }
    void operator()(const EndOfHeaders&) { s.message_.end_of_headers = true; }
    void operator()(const Body& b) { s.append_body(b.chunk); }
    void operator()(const EndOfBody& e) {
      s.append_body(e.chunk);
      s.message_.end_of_body = true;
    }
    void operator()(const Abort&) { s.reset_message(); }
    void operator()(const Quit&) {}
    void operator()(const QuitNewConnection&) { s.reset_connection(); }
    void operator()(const UnknownSmtp&) { ++s.connection_.unknown_commands; }
    void operator()(const Unknown&) {}
  };
  std::visit(Visitor{*this}, command);

  if (std::holds_alternative<Quit>(command))
    return Expect::kClose;
  if (!negotiated_->expects_reply(code))
    return Expect::kNothing;
  pending_ = code;
  return code == cmd::kEndOfBody ? Expect::kEndOfMessageReply : Expect::kReply;
}

void Session::reset_connection_keep_macros() {
  MacroPairs macros = std::move(connection_.connect_macros);
  reset_connection();
  connection_.connect_macros = std::move(macros);
}

void Session::append_body(std::string_view chunk) {
  message_.body_bytes_seen += chunk.size();
  size_t room = limits_.max_body_bytes - std::min(limits_.max_body_bytes, message_.body.size());
  if (chunk.size() > room) {
    message_.body_truncated = true;
    chunk = chunk.substr(0, room);
  }
  message_.body.append(chunk);
}

Status Session::check_one_reply(char code, std::string_view payload, bool& final_reply) const {
  final_reply = false;
  if (pending_ == 0)
    return bad_reply(code, "but no command is waiting for a reply");
  if (pending_ == cmd::kOptNeg) {
    if (code != cmd::kOptNeg)
      return bad_reply(code, "instead of the OPTNEG reply");
    if (payload.size() < 12)
      return bad_reply(code, "shorter than 12 bytes");
    final_reply = true;
    return Ok{};
  }
  const Negotiated& n = *negotiated_;
  const bool eom = pending_ == cmd::kEndOfBody;
  const bool connect_stage = pending_ == cmd::kConnect || pending_ == cmd::kHelo;
  auto no_data = [&]() -> Status {
    if (!payload.empty())
      return bad_reply(code, "must not carry data");
    return Ok{};
  };
  auto edit = [&](uint32_t needed_action) -> Status {
    if (!eom)
      return bad_reply(code, "is a modification: end of message only");
    if (!n.has_action(needed_action))
      return bad_reply(code, "needs an action not negotiated");
    if (payload.empty() || payload.back() != '\0')
      return bad_reply(code, "payload unterminated");
    return Ok{};
  };
  switch (code) {
    case reply::kProgress:
      return no_data();
    case reply::kContinue:
    case reply::kAccept:
    case reply::kReject:
    case reply::kTempfail:
    case reply::kShutdown:
      final_reply = true;
      return no_data();
    case reply::kDiscard:
      if (connect_stage)
        return bad_reply(code, "is not allowed at CONNECT or HELO");
      final_reply = true;
      return no_data();
    case reply::kReplyCode:
      if (!plausible_replycode(payload))
        return bad_reply(code, "is not a 4xx/5xx X.Y.Z reply");
      final_reply = true;
      return Ok{};
    case reply::kSkip:
      // Postfix honours it for any event, Sendmail only for body chunks: body only.
      if (pending_ != cmd::kBody)
        return bad_reply(code, "is only for BODY chunks");
      if (!n.has_protocol(proto::kSkip))
        return bad_reply(code, "needs SMFIP_SKIP");
      final_reply = true;
      return no_data();
    case reply::kAddHeader:
    case reply::kInsertHeader:
      return edit(action::kAddHeaders);
    case reply::kChangeHeader:
      return edit(action::kChangeHeaders);
    case reply::kQuarantine:
      return edit(action::kQuarantine);  // not a verdict: a final reply must follow
    case reply::kAddRcpt:
      return edit(action::kAddRcpt);
    case reply::kDelRcpt:
      return edit(action::kDelRcpt);
    case reply::kAddRcptPar:
      return edit(action::kAddRcptPar);
    case reply::kChangeFrom:
      return edit(action::kChangeFrom);
    case reply::kReplaceBody:
      if (!eom)
        return bad_reply(code, "is a modification: end of message only");
      if (!n.has_action(action::kChangeBody))
        return bad_reply(code, "needs SMFIF_CHGBODY");
      return Ok{};
    default:  // includes 'f' (SMFIR_CONN_FAIL), which Postfix does not handle
      return bad_reply(code, "is not a reply mailsift may send");
  }
}

Status Session::on_reply(std::string_view packets) {
  if (packets.empty())
    return Error::permanent("milter: empty reply");
  // Validate everything first so a refused batch changes nothing.
  struct Parsed {
    char code;
    std::string_view payload;
  };
  std::vector<Parsed> parsed;
  for (size_t pos = 0; pos < packets.size();) {
    if (packets.size() - pos < 5)
      return Error::permanent("milter: truncated reply packet");
    const auto* p = reinterpret_cast<const unsigned char*>(packets.data() + pos);
    uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    if (len == 0 || packets.size() - pos - 4 < len) {
      return Error::permanent("milter: bad reply packet length");
    }
    parsed.push_back({packets[pos + 4], packets.substr(pos + 5, len - 1)});
    pos += 4 + size_t{len};
  }
  char pending = pending_;
  for (size_t i = 0; i < parsed.size(); ++i) {
    bool final_reply = false;
    if (auto s = check_one_reply(parsed[i].code, parsed[i].payload, final_reply); !s) {
      pending_ = pending;
      return s;
    }
    if (final_reply) {
      if (i + 1 != parsed.size()) {
        pending_ = pending;
        return Error::permanent("milter: packets after the final reply");
      }
      pending_ = 0;
    }
  }
  if (pending_ == 0 && pending == cmd::kEndOfBody) {
    ++messages_completed_;
    reset_message();
  }
  return Ok{};
}

const std::string* Session::macro(std::string_view name) const {
  static const MacroPairs kNone;
  const MacroPairs& rcpt = !pending_rcpt_macros_.empty()  ? pending_rcpt_macros_
                           : !message_.recipients.empty() ? message_.recipients.back().macros
                                                          : kNone;
  const MacroPairs* order[] = {
      &message_.eom_macros,  &message_.eoh_macros,     &message_.data_macros,      &rcpt,
      &message_.mail_macros, &connection_.helo_macros, &connection_.connect_macros};
  for (const MacroPairs* pairs : order) {
    if (const std::string* v = find_macro(*pairs, name))
      return v;
  }
  return nullptr;
}

std::string Session::message_bytes() const {
  const bool leadspc = negotiated_ && negotiated_->has_protocol(proto::kHeaderLeadingSpace);
  std::string out;
  out.reserve(header_bytes_ + 4 * message_.headers.size() + 2 + message_.body.size());
  for (const auto& h : message_.headers) {
    out += h.name;
    out += leadspc ? ":" : ": ";
    for (size_t i = 0; i < h.value.size(); ++i) {
      char ch = h.value[i];
      if (ch == '\n' && (i == 0 || h.value[i - 1] != '\r'))
        out += '\r';
      out += ch;
    }
    out += "\r\n";
  }
  out += "\r\n";
  out += message_.body;
  return out;
}

}  // namespace mailsift::milter
