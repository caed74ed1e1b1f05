#include "milter/codec.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>

namespace mailsift::milter {
namespace {

// ---- Reading payload fields ----

// A cursor over one packet's payload. Every read checks bounds first.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool empty() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }

  bool u32(uint32_t& out) {
    if (remaining() < 4)
      return false;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
    out = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    pos_ += 4;
    return true;
  }
  bool u16(uint16_t& out) {
    if (remaining() < 2)
      return false;
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
    out = static_cast<uint16_t>((p[0] << 8) | p[1]);
    pos_ += 2;
    return true;
  }
  bool byte(char& out) {
    if (remaining() < 1)
      return false;
    out = data_[pos_++];
    return true;
  }
  // A NUL-terminated string; false (and nothing consumed) when no NUL is left.
  bool cstring(std::string& out) {
    size_t nul = data_.find('\0', pos_);
    if (nul == std::string_view::npos)
      return false;
    out.assign(data_.substr(pos_, nul - pos_));
    pos_ = nul + 1;
    return true;
  }
  std::string_view rest() {
    std::string_view r = data_.substr(pos_);
    pos_ = data_.size();
    return r;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Error malformed(const char* command, const char* what) {
  return Error::malformed(std::string("milter ") + command + ": " + what);
}

// "args": one or more NUL-terminated strings filling the payload exactly.
Result<std::vector<std::string>> read_args(std::string_view payload, const char* name) {
  if (payload.empty())
    return malformed(name, "no arguments");
  if (payload.back() != '\0')
    return malformed(name, "missing NUL terminator");
  std::vector<std::string> args;
  Reader r(payload);
  while (!r.empty()) {
    std::string s;
    if (!r.cstring(s))
      return malformed(name, "missing NUL terminator");  // unreachable
    args.push_back(std::move(s));
  }
  return args;
}

Result<Command> decode_optneg(std::string_view payload) {
  Reader r(payload);
  OptNeg o;
  if (!r.u32(o.version) || !r.u32(o.actions) || !r.u32(o.protocol)) {
    return malformed("OPTNEG", "shorter than 12 bytes");
  }
  // Longer packets are tolerated: a future MTA may append fields, as libmilter tolerates them.
  return Command{o};
}

Result<Command> decode_macro(std::string_view payload) {
  Reader r(payload);
  Macro m;
  if (!r.byte(m.for_command))
    return malformed("MACRO", "no command letter");
  if (!r.empty() && payload.back() != '\0')
    return malformed("MACRO", "missing NUL terminator");
  while (!r.empty()) {
    std::string name, value;
    if (!r.cstring(name))
      return malformed("MACRO", "missing NUL terminator");
    if (!r.cstring(value))
      return malformed("MACRO", "name without value");
    m.pairs.emplace_back(std::move(name), std::move(value));
  }
  return Command{std::move(m)};
}

Result<Command> decode_connect(std::string_view payload) {
  Reader r(payload);
  Connect c;
  if (!r.cstring(c.hostname))
    return malformed("CONNECT", "hostname without NUL terminator");
  char family = 0;
  if (!r.byte(family))
    return malformed("CONNECT", "no address family");
  switch (family) {
    case 'U':
      c.family = Family::kUnknown;
      if (!r.empty())
        return malformed("CONNECT", "data after family U");
      return Command{std::move(c)};
    case 'L':
      c.family = Family::kUnix;
      break;
    case '4':
      c.family = Family::kInet;
      break;
    case '6':
      c.family = Family::kInet6;
      break;
    default:
      return malformed("CONNECT", "unknown address family");
  }
  if (!r.u16(c.port))
    return malformed("CONNECT", "truncated port");
  if (!r.cstring(c.address))
    return malformed("CONNECT", "address without NUL terminator");
  if (!r.empty())
    return malformed("CONNECT", "data after address");
  return Command{std::move(c)};
}

// Exactly `count` NUL-terminated strings and nothing else; Postfix's own reader treats left-over
// bytes as a protocol error, so we do too.
Result<std::vector<std::string>> read_exact_strings(std::string_view payload, size_t count,
                                                    const char* name) {
  Reader r(payload);
  std::vector<std::string> out(count);
  for (auto& s : out) {
    if (!r.cstring(s))
      return malformed(name, "missing NUL terminator");
  }
  if (!r.empty())
    return malformed(name, "data after the last string");
  return out;
}

// ---- Writing packets ----

void put_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}
void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}
void put_cstring(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

std::string frame(char code, std::string_view payload) {
  std::string out;
  out.reserve(5 + payload.size());
  put_u32(out, static_cast<uint32_t>(payload.size() + 1));
  out.push_back(code);
  out.append(payload);
  return out;
}

Error refuse(const char* reply, const std::string& what) {
  return Error::permanent(std::string("milter reply ") + reply + ": " + what);
}

Result<std::string> frame_checked(char code, std::string payload, const char* reply) {
  if (payload.size() > kMaxReplyPayload)
    return refuse(reply, "packet too large");
  return frame(code, payload);
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

Status check_header_name(std::string_view name, const char* reply) {
  if (name.empty())
    return refuse(reply, "empty header name");
  for (unsigned char ch : name) {
    // RFC 5322 field-name: printable ASCII except ':'.
    if (ch <= 32 || ch >= 127 || ch == ':')
      return refuse(reply, "invalid header name");
  }
  return Ok{};
}

Status check_header_value(std::string_view value, const char* reply) {
  for (size_t i = 0; i < value.size(); ++i) {
    char ch = value[i];
    if (ch == '\0' || ch == '\r')
      return refuse(reply, "NUL or CR in header value");
    if (ch == '\n') {
      // Only folding: the next line must start with white space, or the MTA would write a new
      // header (header injection).
      if (i + 1 >= value.size() || (value[i + 1] != ' ' && value[i + 1] != '\t')) {
        return refuse(reply, "line break in header value is not folding");
      }
    }
  }
  return Ok{};
}

Result<std::string> header_packet(char code, std::optional<uint32_t> index, std::string_view name,
                                  std::string_view value, const char* reply) {
  if (auto s = check_header_name(name, reply); !s)
    return s.error();
  if (auto s = check_header_value(value, reply); !s)
    return s.error();
  std::string payload;
  if (index)
    put_u32(payload, *index);
  put_cstring(payload, name);
  put_cstring(payload, value);
  return frame_checked(code, std::move(payload), reply);
}

Result<std::string> address_packet(char code, std::string_view address, const char* reply) {
  if (address.empty())
    return refuse(reply, "empty address");
  for (unsigned char ch : address) {
    if (ch < 32 || ch == 127)
      return refuse(reply, "control character in address");
  }
  std::string payload;
  put_cstring(payload, address);
  return frame_checked(code, std::move(payload), reply);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "X.Y.Z": class digit, 1-3 digit subject, 1-3 digit detail (RFC 3463).
bool valid_enhanced(std::string_view e, char code_class) {
  if (e.size() < 5 || e[0] != code_class || e[1] != '.')
    return false;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t start = i;
    while (i < e.size() && is_digit(e[i]))
      ++i;
    size_t digits = i - start;
    if (digits < 1 || digits > 3)
      return false;
    if (part == 0) {
      if (i >= e.size() || e[i] != '.')
        return false;
      ++i;
    }
  }
  return i == e.size();
}

}  // namespace

// ---- Commands ----

char command_code(const Command& command) {
  struct Visitor {
    char operator()(const OptNeg&) const { return cmd::kOptNeg; }
    char operator()(const Macro&) const { return cmd::kMacro; }
    char operator()(const Connect&) const { return cmd::kConnect; }
    char operator()(const Helo&) const { return cmd::kHelo; }
    char operator()(const Mail&) const { return cmd::kMail; }
    char operator()(const Rcpt&) const { return cmd::kRcpt; }
    char operator()(const Data&) const { return cmd::kData; }
    char operator()(const Header&) const { return cmd::kHeader; }
    char operator()(const EndOfHeaders&) const { return cmd::kEndOfHeaders; }
    char operator()(const Body&) const { return cmd::kBody; }
    char operator()(const EndOfBody&) const { return cmd::kEndOfBody; }
    char operator()(const Abort&) const { return cmd::kAbort; }
    char operator()(const Quit&) const { return cmd::kQuit; }
    char operator()(const QuitNewConnection&) const { return cmd::kQuitNewConnection; }
    char operator()(const UnknownSmtp&) const { return cmd::kUnknownSmtp; }
    char operator()(const Unknown& u) const { return u.code; }
  };
  return std::visit(Visitor{}, command);
}

const char* command_name(const Command& command) {
  static constexpr const char* kNames[] = {
      "SMFIC_OPTNEG", "SMFIC_MACRO",   "SMFIC_CONNECT", "SMFIC_HELO",
      "SMFIC_MAIL",   "SMFIC_RCPT",    "SMFIC_DATA",    "SMFIC_HEADER",
      "SMFIC_EOH",    "SMFIC_BODY",    "SMFIC_BODYEOB", "SMFIC_ABORT",
      "SMFIC_QUIT",   "SMFIC_QUIT_NC", "SMFIC_UNKNOWN", "SMFIC_(unknown)"};
  static_assert(std::size(kNames) == std::variant_size_v<Command>);
  return kNames[command.index()];
}

Result<Command> decode_packet(char code, std::string_view payload) {
  switch (code) {
    case cmd::kOptNeg:
      return decode_optneg(payload);
    case cmd::kMacro:
      return decode_macro(payload);
    case cmd::kConnect:
      return decode_connect(payload);
    case cmd::kHelo: {
      auto s = read_exact_strings(payload, 1, "HELO");
      if (!s)
        return s.error();
      return Command{Helo{std::move(s.value()[0])}};
    }
    case cmd::kMail:
    case cmd::kRcpt: {
      auto args = read_args(payload, code == cmd::kMail ? "MAIL" : "RCPT");
      if (!args)
        return args.error();
      std::vector<std::string>& a = args.value();
      std::string first = std::move(a.front());
      a.erase(a.begin());
      if (code == cmd::kMail)
        return Command{Mail{std::move(first), std::move(a)}};
      return Command{Rcpt{std::move(first), std::move(a)}};
    }
    case cmd::kHeader: {
      auto s = read_exact_strings(payload, 2, "HEADER");
      if (!s)
        return s.error();
      return Command{Header{std::move(s.value()[0]), std::move(s.value()[1])}};
    }
    case cmd::kUnknownSmtp: {
      auto s = read_exact_strings(payload, 1, "UNKNOWN");
      if (!s)
        return s.error();
      return Command{UnknownSmtp{std::move(s.value()[0])}};
    }
    case cmd::kBody:
      return Command{Body{std::string(payload)}};
    case cmd::kEndOfBody:
      return Command{EndOfBody{std::string(payload)}};
    // Commands without data: extra bytes are ignored, as libmilter does.
    case cmd::kData:
      return Command{Data{}};
    case cmd::kEndOfHeaders:
      return Command{EndOfHeaders{}};
    case cmd::kAbort:
      return Command{Abort{}};
    case cmd::kQuit:
      return Command{Quit{}};
    case cmd::kQuitNewConnection:
      return Command{QuitNewConnection{}};
    default:
      return Command{Unknown{code, std::string(payload)}};
  }
}

Decoder::Decoder(size_t max_packet) : max_packet_(max_packet == 0 ? 1 : max_packet) {}

void Decoder::feed(std::string_view bytes) {
  if (failure_)
    return;  // framing is lost; nothing more will be decoded
  // Drop consumed bytes before growing, so the buffer holds at most one packet plus new bytes.
  if (offset_ > 0 && (offset_ == buffer_.size() || offset_ >= buffer_.size() / 2)) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  buffer_.append(bytes);
}

Result<std::optional<Command>> Decoder::next() {
  if (failure_)
    return *failure_;
  std::string_view avail(buffer_.data() + offset_, buffer_.size() - offset_);
  if (avail.size() < 4)
    return std::optional<Command>{};
  const auto* p = reinterpret_cast<const unsigned char*>(avail.data());
  uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  // Checked as soon as the length is known, before waiting for (and buffering) the payload.
  if (len == 0) {
    failure_ = Error::malformed("milter: zero-length packet");
  } else if (len > max_packet_) {
    failure_ = Error::malformed("milter: packet of " + std::to_string(len) +
                                " bytes exceeds the limit of " + std::to_string(max_packet_));
  }
  if (failure_)
    return *failure_;
  if (avail.size() - 4 < len)
    return std::optional<Command>{};
  char code = avail[4];
  std::string_view payload = avail.substr(5, len - 1);
  auto decoded = decode_packet(code, payload);
  if (!decoded) {
    failure_ = decoded.error();
    return *failure_;
  }
  offset_ += 4 + size_t{len};
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  return std::optional<Command>{std::move(decoded).value()};
}

std::string encode_command(const Command& command) {
  std::string payload;
  struct Visitor {
    std::string& out;
    void operator()(const OptNeg& o) const {
      put_u32(out, o.version);
      put_u32(out, o.actions);
      put_u32(out, o.protocol);
    }
    void operator()(const Macro& m) const {
      out.push_back(m.for_command);
      for (const auto& [name, value] : m.pairs) {
        put_cstring(out, name);
        put_cstring(out, value);
      }
    }
    void operator()(const Connect& c) const {
      put_cstring(out, c.hostname);
      out.push_back(static_cast<char>(c.family));
      if (c.family == Family::kUnknown)
        return;
      put_u16(out, c.port);
      put_cstring(out, c.address);
    }
    void operator()(const Helo& h) const { put_cstring(out, h.name); }
    void operator()(const Mail& m) const {
      put_cstring(out, m.sender);
      for (const auto& a : m.esmtp_args)
        put_cstring(out, a);
    }
    void operator()(const Rcpt& r) const {
      put_cstring(out, r.recipient);
      for (const auto& a : r.esmtp_args)
        put_cstring(out, a);
    }
    void operator()(const Header& h) const {
      put_cstring(out, h.name);
      put_cstring(out, h.value);
    }
    void operator()(const Body& b) const { out.append(b.chunk); }
    void operator()(const EndOfBody& e) const { out.append(e.chunk); }
    void operator()(const UnknownSmtp& u) const { put_cstring(out, u.line); }
    void operator()(const Unknown& u) const { out.append(u.payload); }
    void operator()(const Data&) const {}
    void operator()(const EndOfHeaders&) const {}
    void operator()(const Abort&) const {}
    void operator()(const Quit&) const {}
    void operator()(const QuitNewConnection&) const {}
  };
  std::visit(Visitor{payload}, command);
  return frame(command_code(command), payload);
}

std::string_view canonical_macro_name(std::string_view name) {
  if (name.size() == 3 && name.front() == '{' && name.back() == '}')
    return name.substr(1, 1);
  return name;
}

const std::string* find_macro(const MacroPairs& pairs, std::string_view name) {
  std::string_view want = canonical_macro_name(name);
  for (const auto& [n, v] : pairs) {
    if (canonical_macro_name(n) == want)
      return &v;
  }
  return nullptr;
}

// ---- Replies ----

std::string encode_continue() {
  return frame(reply::kContinue, {});
}
std::string encode_accept() {
  return frame(reply::kAccept, {});
}
std::string encode_reject() {
  return frame(reply::kReject, {});
}
std::string encode_tempfail() {
  return frame(reply::kTempfail, {});
}
std::string encode_discard() {
  return frame(reply::kDiscard, {});
}
std::string encode_progress() {
  return frame(reply::kProgress, {});
}
std::string encode_skip() {
  return frame(reply::kSkip, {});
}
std::string encode_shutdown() {
  return frame(reply::kShutdown, {});
}

Result<std::string> encode_replycode(const SmtpReply& r) {
  const char* name = "REPLYCODE";
  if (r.code < 400 || r.code > 599)
    return refuse(name, "code must be 4xx or 5xx");
  std::string code = std::to_string(r.code);
  if (!valid_enhanced(r.enhanced, code[0])) {
    return refuse(name, "enhanced status must be X.Y.Z with X = " + code.substr(0, 1));
  }
  if (r.lines.empty())
    return refuse(name, "no text");
  std::string payload;
  for (size_t i = 0; i < r.lines.size(); ++i) {
    const std::string& text = r.lines[i];
    // RFC 5321 reply line: at most 512 octets including CRLF.
    if (code.size() + 1 + r.enhanced.size() + 1 + text.size() + 2 > 512) {
      return refuse(name, "reply line longer than 512 octets");
    }
    bool last = i + 1 == r.lines.size();
    payload += code;
    payload += last ? ' ' : '-';
    payload += r.enhanced;
    if (!text.empty())
      payload += ' ';
    for (char ch : text) {
      auto u = static_cast<unsigned char>(ch);
      if (u != '\t' && (u < 32 || u > 126))
        return refuse(name, "text must be printable ASCII");
      if (ch == '%')
        payload += '%';  // Sendmail formats the reply; Postfix undoes "%%"
      payload += ch;
    }
    if (!last)
      payload += "\r\n";
  }
  payload.push_back('\0');
  return frame_checked(reply::kReplyCode, std::move(payload), name);
}

Result<std::string> encode_replycode(int code, std::string_view enhanced, std::string_view text) {
  return encode_replycode(SmtpReply{code, std::string(enhanced), {std::string(text)}});
}

Result<std::string> encode_quarantine(std::string_view reason) {
  if (reason.empty())
    return refuse("QUARANTINE", "empty reason");
  for (unsigned char ch : reason) {
    if (ch < 32 || ch == 127)
      return refuse("QUARANTINE", "control character in reason");
  }
  std::string payload;
  put_cstring(payload, reason);
  return frame_checked(reply::kQuarantine, std::move(payload), "QUARANTINE");
}

Result<std::string> encode_add_header(std::string_view name, std::string_view value) {
  return header_packet(reply::kAddHeader, std::nullopt, name, value, "ADDHEADER");
}
Result<std::string> encode_insert_header(uint32_t index, std::string_view name,
                                         std::string_view value) {
  return header_packet(reply::kInsertHeader, index, name, value, "INSHEADER");
}
Result<std::string> encode_change_header(uint32_t index, std::string_view name,
                                         std::string_view value) {
  return header_packet(reply::kChangeHeader, index, name, value, "CHGHEADER");
}

Result<std::string> encode_delete_headers(std::string_view name, uint32_t count) {
  // More copies than any MTA accepts in one header block is a caller bug, not a real message.
  if (count > 10000)
    return refuse("CHGHEADER", "too many headers to delete");
  std::string out;
  for (uint32_t n = count; n >= 1; --n) {
    auto packet = encode_change_header(n, name, "");
    if (!packet)
      return packet.error();
    out += packet.value();
  }
  return out;
}

Result<std::string> encode_add_rcpt(std::string_view recipient) {
  return address_packet(reply::kAddRcpt, recipient, "ADDRCPT");
}
Result<std::string> encode_delete_rcpt(std::string_view recipient) {
  return address_packet(reply::kDelRcpt, recipient, "DELRCPT");
}

// ---- Negotiation ----

bool Negotiated::expects_reply(char command_code) const {
  uint32_t no_reply_bit = 0;
  switch (command_code) {
    case cmd::kOptNeg:
    case cmd::kEndOfBody:
      return true;
    case cmd::kConnect:
      no_reply_bit = proto::kNoReplyConnect;
      break;
    case cmd::kHelo:
      no_reply_bit = proto::kNoReplyHelo;
      break;
    case cmd::kMail:
      no_reply_bit = proto::kNoReplyMail;
      break;
    case cmd::kRcpt:
      no_reply_bit = proto::kNoReplyRcpt;
      break;
    case cmd::kData:
      no_reply_bit = proto::kNoReplyData;
      break;
    case cmd::kHeader:
      no_reply_bit = proto::kNoReplyHeader;
      break;
    case cmd::kEndOfHeaders:
      no_reply_bit = proto::kNoReplyEndOfHeaders;
      break;
    case cmd::kBody:
      no_reply_bit = proto::kNoReplyBody;
      break;
    case cmd::kUnknownSmtp:
      no_reply_bit = proto::kNoReplyUnknown;
      break;
    default:  // MACRO, ABORT, QUIT, QUIT_NC, unknown letters
      return false;
  }
  return (protocol & no_reply_bit) == 0;
}

std::string Negotiated::wire_header_value(std::string_view value) const {
  if (has_protocol(proto::kHeaderLeadingSpace))
    return " " + std::string(value);
  return std::string(value);
}

Result<Negotiated> negotiate(const OptNeg& offered, const Wanted& wanted) {
  if (offered.version < 2) {
    return Error::malformed("milter OPTNEG: MTA protocol version " +
                            std::to_string(offered.version) + " is older than 2");
  }
  uint32_t missing = wanted.required_actions & ~offered.actions;
  if (missing != 0) {
    return Error::permanent("milter OPTNEG: MTA does not offer required actions 0x" + [&] {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%x", missing);
      return std::string(buf);
    }());
  }
  Negotiated n;
  n.version = std::min(offered.version, kProtocolVersion);
  n.actions = (wanted.actions | wanted.required_actions) & offered.actions & action::kAll;
  n.protocol = wanted.protocol & offered.protocol & proto::kAllKnown;
  if (n.has_action(action::kSetSymList)) {
    for (const auto& [stage, names] : wanted.macro_lists) {
      if (static_cast<uint32_t>(stage) >= kMacroStageCount || names.empty() || has_nul(names)) {
        continue;
      }
      n.macro_lists.emplace_back(stage, names);
    }
    // Asking for the permission without using it is pointless; drop it to keep the answer
    // minimal.
    if (n.macro_lists.empty())
      n.actions &= ~action::kSetSymList;
  }
  return n;
}

std::string encode_optneg_reply(const Negotiated& n) {
  std::string payload;
  put_u32(payload, n.version);
  put_u32(payload, n.actions);
  put_u32(payload, n.protocol);
  // Macro lists only with SMFIF_SETSYMLIST: Sendmail rejects them otherwise.
  if ((n.actions & action::kSetSymList) != 0) {
    for (const auto& [stage, names] : n.macro_lists) {
      put_u32(payload, static_cast<uint32_t>(stage));
      put_cstring(payload, names);
    }
  }
  return frame(cmd::kOptNeg, payload);
}

Wanted mailsift_wanted() {
  Wanted w;
  w.actions =
      action::kAddHeaders | action::kChangeHeaders | action::kQuarantine | action::kSetSymList;
  w.required_actions = action::kAddHeaders;
  w.protocol = proto::kNoReplyConnect | proto::kNoReplyHelo | proto::kNoReplyData |
               proto::kNoReplyHeader | proto::kNoReplyEndOfHeaders | proto::kNoReplyBody |
               proto::kNoReplyUnknown | proto::kHeaderLeadingSpace;
  w.macro_lists = {
      {MacroStage::kConnect,
       "j {daemon_name} {daemon_addr} {client_addr} {client_name} {client_ptr} {client_port} _"},
      {MacroStage::kHelo, "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}"},
      {MacroStage::kEnvFrom,
       "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}"},
      {MacroStage::kEnvRcpt, "i {rcpt_addr} {rcpt_host} {rcpt_mailer}"},
      {MacroStage::kData, "i"},
      {MacroStage::kEndOfHeaders, "i"},
      {MacroStage::kEndOfMessage, "i"},
  };
  return w;
}

}  // namespace mailsift::milter
