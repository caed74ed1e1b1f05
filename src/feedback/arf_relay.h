// mailsift::feedback::ArfRelay — delivers the ARF reports in feedback.arf_spool to the spam
// partner through an SMTP relay (feedback.arf_smtp_relay), retrying while the relay is down.
//
// Owns: the spool as a queue. FeedbackService writes one file per shared report (only with the
// user's consent); flush() sends every *.eml file in the spool with plain SMTP (EHLO, MAIL FROM,
// RCPT TO, DATA; dot-stuffed, CRLF) and removes it only after the relay answered 250 to the
// data. A connection failure, timeout or 4xx reply leaves the file where it is for the next
// flush; a 5xx reply moves it to <spool>/rejected/ (kept for the operator, never retried).
// ArfSender runs flush() on a thread every retry interval and whenever wake() is called (after
// each shared report), so a report reaches the relay at once when it is up and as soon as it
// is back when it was down: a report is never lost, and at worst delivered twice (when the
// relay accepted it but the answer was lost).
// Failure semantics: flush() returns counts; a connection failure is a kTemporary error value
// (last_error()), never an exception.
// Thread-safety: flush() is serialised; ArfSender owns its thread (stop() joins it).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/config.h"
#include "core/result.h"

namespace mailsift::feedback {

struct RelayOptions {
  std::string host;  // "" = delivery off (reports stay in the spool for another agent)
  int port = 25;
  std::string helo = "localhost";
  std::string mail_from;  // envelope sender of the reports
  std::string rcpt_to;    // the partner's report address
  int timeout_ms = 10000;
  int retry_seconds = 60;
  // feedback.arf_smtp_relay ("host:port", "[v6]:port" or "host"), feedback.arf_mail_from,
  // feedback.arf_rcpt_to, feedback.arf_retry_seconds. kConfig for a relay without rcpt_to or
  // without a spool.
  static Result<RelayOptions> from_config(const Config& config);
};

// One SMTP reply: code and the text of its last line. kMalformed when the bytes are not an
// SMTP reply (three digits, then ' ' or '-').
struct SmtpReply {
  int code = 0;
  std::string text;
};
Result<SmtpReply> parse_smtp_reply_line(std::string_view line, bool* more);

// Sends one message over SMTP. kTemporary: cannot connect, timeout, 4xx; kPermanent: 5xx.
Status smtp_send(const RelayOptions& options, std::string_view message);

struct FlushResult {
  int sent = 0, pending = 0, rejected = 0;
  std::string last_error;  // why the pending ones are still pending
};

class ArfRelay {
 public:
  ArfRelay(RelayOptions options, std::string spool)
      : options_(std::move(options)), spool_(std::move(spool)) {}
  FlushResult flush();
  const std::string& spool() const { return spool_; }

 private:
  RelayOptions options_;
  std::string spool_;
  std::mutex mu_;
};

class ArfSender {
 public:
  explicit ArfSender(ArfRelay& relay, int retry_seconds) : relay_(relay), retry_s_(retry_seconds) {}
  ~ArfSender() { stop(); }
  void start();
  void wake();
  void stop();

 private:
  ArfRelay& relay_;
  int retry_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace mailsift::feedback
