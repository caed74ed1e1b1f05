// libFuzzer entry for the milter codec: arbitrary bytes through Decoder (in fragments whose
// sizes come from the input) and Session (answering whatever it expects, the way the daemon
// will), plus a decode -> encode -> decode round trip and the header/reply encoders fed with
// decoded strings. Traps on any broken invariant so the sanitizers are not the only oracle.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "milter/codec.h"
#include "milter/session.h"

using namespace mailsift::milter;

namespace {

void check(bool ok) {
  if (!ok)
    __builtin_trap();
}

// Exercises the reply encoders with attacker-chosen text: they must refuse or produce a packet
// the session accepts at end of message.
void encode_with(Session& session, const Command& c) {
  if (const auto* h = std::get_if<Header>(&c)) {
    auto a = encode_add_header(h->name, h->value);
    auto m = encode_change_header(1, h->name, h->value);
    if (a.ok())
      check(a.value().size() == 4 + 1 + h->name.size() + 1 + h->value.size() + 1);
    if (m.ok())
      check(m.value().size() == 4 + 1 + 4 + h->name.size() + 1 + h->value.size() + 1);
    auto r = encode_replycode(550, "5.7.1", h->value);
    if (r.ok())
      check(r.value()[4] == reply::kReplyCode);
    (void)session;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  // First byte picks the fragment size (1..16, or everything at once for 0).
  size_t step = size > 0 ? (static_cast<unsigned char>(input[0]) % 17) : 0;
  std::string_view stream(input);
  if (size > 0)
    stream.remove_prefix(1);
  if (step == 0)
    step = stream.size() + 1;

  SessionLimits limits;
  limits.max_body_bytes = 256;
  limits.max_header_bytes = 512;
  limits.max_headers = 8;
  limits.max_recipients = 4;
  limits.max_envelope_bytes = 256;
  Session session(mailsift_wanted(), limits);
  Decoder decoder(4096);

  bool stop = false;
  for (size_t pos = 0; pos < stream.size() && !stop; pos += step) {
    decoder.feed(stream.substr(pos, step));
    check(decoder.buffered() <= 4096 + 4 + step);
    for (;;) {
      auto next = decoder.next();
      if (!next.ok()) {
        check(decoder.failed());
        stop = true;
        break;
      }
      if (!next.value())
        break;
      const Command& c = *next.value();

      // Round trip: re-encoding a decoded command decodes to the same command.
      std::string wire = encode_command(c);
      check(wire.size() >= 5 && wire[4] == command_code(c));
      auto again = decode_packet(wire[4], std::string_view(wire).substr(5));
      check(again.ok() && again.value() == c);
      check(command_name(c) != nullptr);

      encode_with(session, c);

      auto expect = session.on_command(c);
      if (!expect.ok()) {
        stop = true;  // the daemon closes the connection
        break;
      }
      switch (expect.value()) {
        case Expect::kNegotiation: {
          const Negotiated& n = *session.negotiated();
          const auto& offered = std::get<OptNeg>(c);
          check((n.actions & ~offered.actions) == 0);
          check((n.protocol & ~offered.protocol) == 0);
          check(n.version <= offered.version && n.version <= kProtocolVersion);
          check(session.on_reply(encode_optneg_reply(n)).ok());
          break;
        }
        case Expect::kReply:
          check(session.pending() != 0);
          check(!session.on_reply(encode_add_header("X-A", "b").value()).ok());
          check(session.on_reply(encode_continue()).ok());
          break;
        case Expect::kEndOfMessageReply: {
          const MessageState& m = session.message();
          check(m.body.size() <= limits.max_body_bytes);
          check(m.headers.size() <= limits.max_headers);
          check(m.recipients.size() <= limits.max_recipients);
          if (!m.headers.empty())
            check(m.occurrence(m.headers.size() - 1) >= 1);
          std::string bytes = session.message_bytes();
          check(bytes.size() >= 2);
          std::string edits = encode_insert_header(0, "X-Mailsift", "fuzz").value();
          if (session.negotiated()->has_action(action::kChangeHeaders)) {
            auto del = encode_delete_headers("X-Spam", m.header_count("X-Spam"));
            check(del.ok());
            edits += del.value();
          }
          check(session.on_reply(edits).ok());
          check(session.pending() == cmd::kEndOfBody);
          check(session.on_reply(encode_accept()).ok());
          check(session.pending() == 0);
          break;
        }
        case Expect::kNothing:
          check(session.pending() == 0);
          check(!session.on_reply(encode_continue()).ok());  // unsolicited: refused
          break;
        case Expect::kClose:
          stop = true;
          break;
      }
      if (stop)
        break;
      (void)session.macro("i");
      (void)session.macro("{daemon_name}");
    }
  }
  return 0;
}
