// mailsift::milter::Session — the per-connection milter protocol state machine (still pure).
//
// Owns: for one MTA connection, the negotiation result, the connection facts (CONNECT, HELO,
// their macros) and the current message (envelope, per-recipient macros, headers with per-name
// occurrence numbers for SMFIR_CHGHEADER, body bytes up to a cap). It knows which command
// expects a reply under the negotiated SMFIP_NR_* flags and checks every reply the daemon is
// about to send (on_reply), because one reply too many or too few desynchronises the MTA.
// Several messages on one connection work: the message resets on ABORT, on a new MAIL, and
// after the final end-of-message reply has been recorded.
//
// Usage by the daemon, per connection:
//   Decoder d; Session s;
//   on bytes: d.feed(bytes); while (auto c = d.next(); c.ok() && *c) {
//     auto e = s.on_command(**c);   // error -> close the connection
//     kNegotiation: send encode_optneg_reply(*s.negotiated()) through s.on_reply()
//     kReply / kEndOfMessageReply: decide, then s.on_reply(packet) and write it
//     kNothing: read on;  kClose: close }
//
// Failure semantics: on_command() returns kMalformed for protocol-order violations the stream
// cannot recover from (a command before OPTNEG, a command while our reply is still pending) and
// kPermanent when negotiation fails; the daemon closes the connection. on_reply() returns
// kPermanent for a reply that must not be sent now (nothing pending, modification outside end
// of message or not negotiated, SKIP not negotiated, ...): that is a daemon bug; the daemon
// should send a plain SMFIR_TEMPFAIL/CONTINUE instead if one is pending, or nothing.
// Limits are never errors: data beyond them is dropped and a *_truncated flag is set.
//
// SECURITY: every Command comes from the network; all storage is bounded by SessionLimits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "milter/codec.h"

namespace mailsift::milter {

struct SessionLimits {
  size_t max_body_bytes = size_t{16} << 20;     // kept for scanning; the rest is counted only
  size_t max_header_bytes = size_t{1} << 20;    // sum of names and values kept
  size_t max_headers = 2000;                    // header fields kept
  size_t max_recipients = 1000;                 // Postfix's smtpd_recipient_limit default
  size_t max_envelope_bytes = size_t{1} << 20;  // recipients, their args and macros
};

// What the daemon must do after on_command().
enum class Expect {
  kNothing,            // send nothing (MACRO, ABORT, SMFIP_NR_* events, unknown command bytes)
  kReply,              // exactly one verdict (progress packets may precede it)
  kEndOfMessageReply,  // modifications, then exactly one verdict
  kNegotiation,        // the OPTNEG reply: encode_optneg_reply(*negotiated())
  kClose,              // QUIT: close the connection, send nothing
};
const char* to_string(Expect expect);

struct Recipient {
  std::string address;  // as sent: "<alice@example.test>"
  std::vector<std::string> esmtp_args;
  MacroPairs macros;  // the RCPT-stage macros sent just before it ({rcpt_addr}, {rcpt_mailer})
};

struct HeaderField {
  std::string name;
  std::string value;  // as received (LF-folded; leading space only with HDR_LEADSPC)
};

struct ConnectionState {
  std::optional<Connect> connect;
  std::optional<std::string> helo;
  MacroPairs connect_macros;  // D 'C'
  MacroPairs helo_macros;     // D 'H'
  uint64_t unknown_commands = 0;
};

struct MessageState {
  std::optional<std::string> sender;  // "<bob@example.test>"; "<>" for bounces
  std::vector<std::string> sender_args;
  MacroPairs mail_macros;  // D 'M'
  std::vector<Recipient> recipients;
  bool recipients_truncated = false;
  MacroPairs data_macros;  // D 'T'
  std::vector<HeaderField> headers;
  bool headers_truncated = false;
  MacroPairs eoh_macros;  // latest of D 'L' / 'N' / 'B' (Postfix repeats the EOH list there)
  bool end_of_headers = false;
  std::string body;
  uint64_t body_bytes_seen = 0;  // including bytes beyond max_body_bytes
  bool body_truncated = false;
  MacroPairs eom_macros;  // D 'E'
  bool end_of_body = false;

  // Headers of that name kept so far (case-insensitive): the highest valid CHGHEADER index.
  // A lower bound when headers_truncated.
  uint32_t header_count(std::string_view name) const;
  // 1-based occurrence of headers[header_index] among headers of its name: its CHGHEADER index.
  uint32_t occurrence(size_t header_index) const;
};

class Session {
 public:
  explicit Session(Wanted wanted = mailsift_wanted(), SessionLimits limits = {});

  Result<Expect> on_command(const Command& command);
  // Validates one or more framed reply packets against the pending command and the
  // negotiation, and records them. Call it for every packet before writing it.
  Status on_reply(std::string_view packets);

  bool negotiated_ok() const { return negotiated_.has_value(); }
  const std::optional<Negotiated>& negotiated() const { return negotiated_; }
  // The command letter whose reply is outstanding, or 0.
  char pending() const { return pending_; }

  const ConnectionState& connection() const { return connection_; }
  const MessageState& message() const { return message_; }
  uint64_t messages_completed() const { return messages_completed_; }

  // A macro's value, searching the most recent stage first (end of message ... connect), with
  // "i" == "{i}" as in libmilter. nullptr when unknown.
  const std::string* macro(std::string_view name) const;

  // The message as the MTA received it, minus the MTA's own Received: header: header fields
  // ("Name:" + value, or "Name: " + value without HDR_LEADSPC; LF folds become CRLF), a blank
  // line, then the body bytes kept. For the scanner (mime::parse).
  std::string message_bytes() const;

 private:
  Status check_one_reply(char code, std::string_view payload, bool& final_reply) const;
  void reset_message();
  void reset_connection();
  void reset_connection_keep_macros();
  void append_body(std::string_view chunk);
  void store_macros(const Macro& m);
  bool envelope_room(size_t bytes);

  Wanted wanted_;
  SessionLimits limits_;
  std::optional<Negotiated> negotiated_;
  char pending_ = 0;
  ConnectionState connection_;
  MessageState message_;
  MacroPairs pending_rcpt_macros_;  // D 'R' waiting for its RCPT
  size_t header_bytes_ = 0;
  size_t envelope_bytes_ = 0;
  uint64_t messages_completed_ = 0;
};

}  // namespace mailsift::milter
