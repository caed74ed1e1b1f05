// mailsift::milter codec — the Sendmail milter protocol, version 6, as spoken by Postfix 3.x.
//
// Owns: the wire format only. Framing (uint32 big-endian length + command byte + payload), typed
// MTA commands (Decoder, decode_packet), every filter reply (encode_*), option negotiation
// (negotiate, encode_optneg_reply) and, for tests and fake MTAs, the MTA side (encode_command).
// Pure: no sockets, no clocks, no threads, no globals. The per-connection protocol state (which
// command expects a reply, the current message) lives in milter/session.h.
//
// Failure semantics:
//   - Decoder::next() returns ErrorKind::kMalformed for a zero or oversized length, a truncated
//     field, a missing NUL terminator, an odd macro list or an impossible CONNECT. The stream is
//     then unusable (framing is lost): the decoder stays failed and the caller must close the
//     connection (the MTA applies its milter_default_action).
//   - encode_* functions that take text return ErrorKind::kPermanent when the text cannot be sent
//     as given (embedded NUL, CR/LF where the MTA would splice them into SMTP, a reply Postfix
//     would call "malformed", a packet over kMaxReplyPayload). They never truncate silently.
//
// SECURITY: Decoder and decode_packet read untrusted bytes (anything that can reach the milter
// socket). They never read outside the buffer, bound every allocation by max_packet, and are
// fuzzed by milter_fuzz.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"

namespace mailsift::milter {

// ---- Constants (values from libmilter's mfdef.h; see README.md) ----

inline constexpr uint32_t kProtocolVersion = 6;  // SMFI_PROT_VERSION
inline constexpr size_t kDefaultMaxPacket = size_t{1} << 20;
// Largest reply payload we produce. libmilter's default MILTER_MAX_DATA_SIZE; Postfix accepts up
// to 2 * 65535, Sendmail's limit is configurable, so stay at the smallest common bound.
inline constexpr size_t kMaxReplyPayload = 65535;

// Commands, MTA -> filter (SMFIC_*).
namespace cmd {
inline constexpr char kAbort = 'A';
inline constexpr char kBody = 'B';
inline constexpr char kConnect = 'C';
inline constexpr char kMacro = 'D';
inline constexpr char kEndOfBody = 'E';
inline constexpr char kHelo = 'H';
inline constexpr char kQuitNewConnection = 'K';
inline constexpr char kHeader = 'L';
inline constexpr char kMail = 'M';
inline constexpr char kEndOfHeaders = 'N';
inline constexpr char kOptNeg = 'O';
inline constexpr char kQuit = 'Q';
inline constexpr char kRcpt = 'R';
inline constexpr char kData = 'T';
inline constexpr char kUnknownSmtp = 'U';
}  // namespace cmd

// Replies, filter -> MTA (SMFIR_*). The OPTNEG reply reuses cmd::kOptNeg.
namespace reply {
inline constexpr char kAddRcpt = '+';
inline constexpr char kDelRcpt = '-';
inline constexpr char kAddRcptPar = '2';
inline constexpr char kShutdown = '4';
inline constexpr char kAccept = 'a';
inline constexpr char kReplaceBody = 'b';
inline constexpr char kContinue = 'c';
inline constexpr char kDiscard = 'd';
inline constexpr char kChangeFrom = 'e';
inline constexpr char kConnFail = 'f';  // not handled by Postfix: never sent by us
inline constexpr char kAddHeader = 'h';
inline constexpr char kInsertHeader = 'i';
inline constexpr char kSetSymList = 'l';
inline constexpr char kChangeHeader = 'm';
inline constexpr char kProgress = 'p';
inline constexpr char kQuarantine = 'q';
inline constexpr char kReject = 'r';
inline constexpr char kSkip = 's';
inline constexpr char kTempfail = 't';
inline constexpr char kReplyCode = 'y';
}  // namespace reply

// Action flags (SMFIF_*): what the filter may change at end of message.
namespace action {
inline constexpr uint32_t kAddHeaders = 0x001;     // 'h', 'i'
inline constexpr uint32_t kChangeBody = 0x002;     // 'b'
inline constexpr uint32_t kAddRcpt = 0x004;        // '+'
inline constexpr uint32_t kDelRcpt = 0x008;        // '-'
inline constexpr uint32_t kChangeHeaders = 0x010;  // 'm'
inline constexpr uint32_t kQuarantine = 0x020;     // 'q'
inline constexpr uint32_t kChangeFrom = 0x040;     // 'e'
inline constexpr uint32_t kAddRcptPar = 0x080;     // '2'
inline constexpr uint32_t kSetSymList = 0x100;     // macro lists in the OPTNEG reply
inline constexpr uint32_t kAll = 0x1ff;
}  // namespace action

// Protocol flags (SMFIP_*): events the MTA may omit, replies the filter will not send, extras.
namespace proto {
inline constexpr uint32_t kNoConnect = 0x000001;
inline constexpr uint32_t kNoHelo = 0x000002;
inline constexpr uint32_t kNoMail = 0x000004;
inline constexpr uint32_t kNoRcpt = 0x000008;
inline constexpr uint32_t kNoBody = 0x000010;
inline constexpr uint32_t kNoHeaders = 0x000020;
inline constexpr uint32_t kNoEndOfHeaders = 0x000040;
inline constexpr uint32_t kNoReplyHeader = 0x000080;  // SMFIP_NR_HDR (== old SMFIP_NOHREPL)
inline constexpr uint32_t kNoUnknown = 0x000100;
inline constexpr uint32_t kNoData = 0x000200;
inline constexpr uint32_t kSkip = 0x000400;          // filter may answer 's'
inline constexpr uint32_t kRcptRejected = 0x000800;  // also send rejected recipients
inline constexpr uint32_t kNoReplyConnect = 0x001000;
inline constexpr uint32_t kNoReplyHelo = 0x002000;
inline constexpr uint32_t kNoReplyMail = 0x004000;
inline constexpr uint32_t kNoReplyRcpt = 0x008000;
inline constexpr uint32_t kNoReplyData = 0x010000;
inline constexpr uint32_t kNoReplyUnknown = 0x020000;
inline constexpr uint32_t kNoReplyEndOfHeaders = 0x040000;
inline constexpr uint32_t kNoReplyBody = 0x080000;
inline constexpr uint32_t kHeaderLeadingSpace = 0x100000;  // SMFIP_HDR_LEADSPC
inline constexpr uint32_t kAllKnown = 0x1fffff;
// SMFIP_MDS_256K / SMFIP_MDS_1M (0x10000000 / 0x20000000) are Sendmail-internal size hints;
// negotiate() never echoes them.
}  // namespace proto

// Stages of a macro-list override in the OPTNEG reply (SMFIM_*).
enum class MacroStage : uint32_t {
  kConnect = 0,
  kHelo = 1,
  kEnvFrom = 2,
  kEnvRcpt = 3,
  kData = 4,
  kEndOfMessage = 5,
  kEndOfHeaders = 6,
};
inline constexpr size_t kMacroStageCount = 7;

// ---- Commands (MTA -> filter) ----

using MacroPairs = std::vector<std::pair<std::string, std::string>>;

struct OptNeg {  // 'O'
  uint32_t version = 0;
  uint32_t actions = 0;   // SMFIF_* the MTA allows
  uint32_t protocol = 0;  // SMFIP_* the MTA supports
  bool operator==(const OptNeg&) const = default;
};
struct Macro {           // 'D': never answered
  char for_command = 0;  // the letter of the command these macros precede ('C', 'M', 'L', ...)
  MacroPairs pairs;      // names as sent: "j", "{daemon_name}", ...
  bool operator==(const Macro&) const = default;
};
enum class Family : char { kUnknown = 'U', kUnix = 'L', kInet = '4', kInet6 = '6' };
struct Connect {         // 'C'
  std::string hostname;  // "[1.2.3.4]" when the client has no verified reverse name
  Family family = Family::kUnknown;
  uint16_t port = 0;    // 0 for kUnknown and kUnix
  std::string address;  // empty for kUnknown; socket path for kUnix
  bool operator==(const Connect&) const = default;
};
struct Helo {  // 'H'
  std::string name;
  bool operator==(const Helo&) const = default;
};
struct Mail {                           // 'M'
  std::string sender;                   // as sent, with angle brackets: "<bob@example.test>"
  std::vector<std::string> esmtp_args;  // verbatim, duplicates kept: "SIZE=112", "BODY=8BITMIME"
  bool operator==(const Mail&) const = default;
};
struct Rcpt {             // 'R'
  std::string recipient;  // "<alice@example.test>"
  std::vector<std::string> esmtp_args;
  bool operator==(const Rcpt&) const = default;
};
struct Data {  // 'T'
  bool operator==(const Data&) const = default;
};
struct Header {  // 'L'
  std::string name;
  std::string value;  // folded lines joined by "\n" (LF only); leading space only with HDR_LEADSPC
  bool operator==(const Header&) const = default;
};
struct EndOfHeaders {  // 'N'
  bool operator==(const EndOfHeaders&) const = default;
};
struct Body {         // 'B'
  std::string chunk;  // unstuffed message text, CRLF line ends, <= 65535 bytes from Postfix
  bool operator==(const Body&) const = default;
};
struct EndOfBody {    // 'E': always answered (edits, then one final verdict)
  std::string chunk;  // optional last chunk; empty from Postfix 3.x
  bool operator==(const EndOfBody&) const = default;
};
struct Abort {  // 'A': forget the message, keep the connection; never answered
  bool operator==(const Abort&) const = default;
};
struct Quit {  // 'Q': close; never answered
  bool operator==(const Quit&) const = default;
};
struct QuitNewConnection {  // 'K': Sendmail only; a new SMTP connection follows on this socket
  bool operator==(const QuitNewConnection&) const = default;
};
struct UnknownSmtp {  // 'U' (SMFIC_UNKNOWN): an SMTP command the MTA did not recognise
  std::string line;
  bool operator==(const UnknownSmtp&) const = default;
};
// A command byte outside the protocol. Postfix never sends one. Whether the MTA waits for an
// answer is unknowable, so Session treats it as "no reply" (an unsolicited reply would
// desynchronise the stream; silence at worst runs into the MTA's command timeout).
struct Unknown {
  char code = 0;
  std::string payload;
  bool operator==(const Unknown&) const = default;
};

using Command = std::variant<OptNeg, Macro, Connect, Helo, Mail, Rcpt, Data, Header, EndOfHeaders,
                             Body, EndOfBody, Abort, Quit, QuitNewConnection, UnknownSmtp, Unknown>;

// The command letter on the wire ('O', 'D', ...; Unknown::code for Unknown).
char command_code(const Command& command);
// "SMFIC_CONNECT", ... for logs; "SMFIC_(unknown)" for Unknown.
const char* command_name(const Command& command);

// Decodes one packet's command byte + payload (no length prefix). Unknown codes give Unknown.
Result<Command> decode_packet(char code, std::string_view payload);

// Streaming decoder for one connection. feed() appends bytes; next() returns the next complete
// command, std::nullopt when more bytes are needed, or kMalformed (then it stays failed).
// Memory: buffered bytes never exceed max_packet + 4 + the size of the last feed() as long as the
// caller drains next() after each feed().
class Decoder {
 public:
  explicit Decoder(size_t max_packet = kDefaultMaxPacket);

  void feed(std::string_view bytes);
  Result<std::optional<Command>> next();

  size_t buffered() const { return buffer_.size() - offset_; }
  bool failed() const { return failure_.has_value(); }

 private:
  size_t max_packet_;
  std::string buffer_;
  size_t offset_ = 0;  // start of the unread bytes in buffer_
  std::optional<Error> failure_;
};

// MTA side, for tests and fake MTAs: the full framed packet for a command. Unknown is encoded
// with its raw payload. Strings must not contain NUL (they would not round-trip).
std::string encode_command(const Command& command);

// Macro lookup as libmilter's smfi_getsymval does it: "i" and "{i}" name the same macro.
// Returns nullptr when absent.
const std::string* find_macro(const MacroPairs& pairs, std::string_view name);
// "{i}" -> "i"; "{daemon_name}" stays as is; used by find_macro.
std::string_view canonical_macro_name(std::string_view name);

// ---- Replies (filter -> MTA). Each returns one complete framed packet. ----

std::string encode_continue();
std::string encode_accept();    // at CONNECT/HELO: whole connection; later: this message
std::string encode_reject();    // Postfix: "550 5.7.1 Command rejected"
std::string encode_tempfail();  // Postfix: "451 4.7.1 Service unavailable - try again later"
std::string encode_discard();   // message stages only, never at CONNECT/HELO
std::string encode_progress();  // keep-alive before the real reply; repeatable
std::string encode_skip();      // needs proto::kSkip; only as the reply to a BODY chunk
std::string encode_shutdown();  // 421 and close the SMTP connection

// A full SMTP reply for SMFIR_REPLYCODE. code: 400..599; enhanced: "X.Y.Z" with X equal to the
// first digit of code (Postfix rejects anything else as "malformed reply"); lines: one or more
// texts of printable ASCII/TAB (the SMTP textstring). Several lines give
// "550-5.7.1 a\r\n550 5.7.1 b". '%' is sent as "%%" (Sendmail formats the text; Postfix undoes
// the doubling).
struct SmtpReply {
  int code = 550;
  std::string enhanced = "5.7.1";
  std::vector<std::string> lines;
};
Result<std::string> encode_replycode(const SmtpReply& reply);
// Shortcut for a one-line reply.
Result<std::string> encode_replycode(int code, std::string_view enhanced, std::string_view text);

Result<std::string> encode_quarantine(std::string_view reason);  // needs action::kQuarantine
// Header edits, end of message only. Names: printable ASCII without ':' or space. Values: no NUL
// or CR; LF only as folding ("\n" followed by space or tab). Without HDR_LEADSPC Postfix inserts
// ": " itself, so pass values without a leading space (see Negotiated::wire_header_value).
Result<std::string> encode_add_header(std::string_view name, std::string_view value);
// index 0 = very top of the header block, above the MTA's own Received: (observed with Postfix).
Result<std::string> encode_insert_header(uint32_t index, std::string_view name,
                                         std::string_view value);
// index = n-th header of that name, 1-based (Postfix treats 0 as 1). Empty value deletes.
// The index counts headers as the filter saw them (Postfix hides its own Received:).
Result<std::string> encode_change_header(uint32_t index, std::string_view name,
                                         std::string_view value);
// Deletes occurrences count..1 of a header, highest index first so earlier deletions do not
// renumber the later ones. Empty string when count == 0. Needs action::kChangeHeaders.
Result<std::string> encode_delete_headers(std::string_view name, uint32_t count);
Result<std::string> encode_add_rcpt(std::string_view recipient);     // action::kAddRcpt
Result<std::string> encode_delete_rcpt(std::string_view recipient);  // action::kDelRcpt

// ---- Negotiation ----

// What the filter would like. Everything is clipped to what the MTA offers; required_actions
// that are not offered make negotiate() fail (libmilter aborts the connection in that case).
struct Wanted {
  uint32_t actions = 0;           // action::*
  uint32_t required_actions = 0;  // subset of actions we cannot work without
  uint32_t protocol = 0;          // proto::*
  // Space-separated macro names per MacroStage index; empty = keep the MTA's configured list.
  // Sent only when action::kSetSymList is wanted and offered.
  std::vector<std::pair<MacroStage, std::string>> macro_lists;
};

// The answer we send, and what both sides now assume.
struct Negotiated {
  uint32_t version = kProtocolVersion;
  uint32_t actions = 0;
  uint32_t protocol = 0;
  std::vector<std::pair<MacroStage, std::string>> macro_lists;  // empty unless kSetSymList

  bool has_action(uint32_t flag) const { return (actions & flag) == flag; }
  bool has_protocol(uint32_t flag) const { return (protocol & flag) == flag; }
  // Whether the MTA waits for a reply to a command with this letter ('E' and 'O' always;
  // 'D', 'A', 'Q', 'K' and unknown letters never; others unless the SMFIP_NR_* bit is set).
  bool expects_reply(char command_code) const;
  // The value to put on the wire for a header edit: with HDR_LEADSPC the MTA writes
  // "Name:" + value, so a leading space is added; without it the MTA adds ": " itself.
  std::string wire_header_value(std::string_view value) const;
};

// Version min(6, offered); actions = wanted & offered; protocol = wanted & offered & known bits.
// Fails with kMalformed for an MTA version below 2 and with kPermanent when a required action
// is not offered.
Result<Negotiated> negotiate(const OptNeg& offered, const Wanted& wanted);
std::string encode_optneg_reply(const Negotiated& negotiated);

// mailsift's choice (see README.md "What we negotiate"): add/change headers and quarantine
// (adding headers required); no replies for CONNECT, HELO, DATA, headers, EOH, body chunks and
// unknown commands, replies for MAIL and RCPT (per-recipient decisions) and end of message;
// header values with their leading space (byte-exact reconstruction); our own macro lists.
Wanted mailsift_wanted();

}  // namespace mailsift::milter
