// mailsift::server::MilterServer — the milter (protocol v6) front end of mailsiftd on Boost.Asio.
//
// Owns: the listening socket (TCP or unix) and every MTA connection. Per connection one
// milter::Decoder + milter::Session (src/milter, pure), asynchronous reads and writes on a
// strand (no thread per connection), an idle timer, and the mapping of ScanService answers to
// milter replies:
//   MAIL   -> continue (the message's ScanService is fixed here: a reload never changes the
//             service in the middle of a message)
//   RCPT   -> ScanService::check_recipient_detail: its refusal (550/451) as a REPLYCODE; a
//             recipient whose reject opt-in differs from the first accepted recipient's gets
//             "452 4.5.3" so every transaction is uniform (docs/per-recipient.md); else continue
//   EOM    -> ScanService::scan on the scan executor (progress packets every
//             progress_interval meanwhile), then: whole-message refusal as REPLYCODE, or
//             CHGHEADER deletions of forged own headers (highest index first), Subject rewrite,
//             ADDHEADER of our headers, and continue (= accept).
// Connection-level traffic (OPTNEG, CONNECT, HELO, headers, body) is consumed by the Session.
//
// Failure semantics: malformed or oversized packets, protocol-order violations and I/O errors
// close that connection (the MTA applies milter_default_action); nothing else is affected. A
// scan that fails with kTemporary answers 451 4.7.1 (the client retries); a message the engine
// refuses as not mail / too big is accepted unmodified and logged (never lost).
// Threading: start()/stop()/port()/connections() are thread-safe; run the io_context on any
// number of threads.
// SECURITY: reads untrusted bytes from the MTA socket; everything is bounded by the Decoder's
// max packet size and the Session's limits.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "server/service.h"

namespace mailsift::server {

// Hooks for metrics (the daemon forwards them to the Prometheus registry). Called on
// connection strands, concurrently: implementations must be thread-safe.
class MilterObserver {
 public:
  virtual ~MilterObserver() = default;
  virtual void connection_opened() {}
  virtual void connection_closed() {}
  // One end-of-message scan finished (outcome or error) after `seconds` of wall time.
  virtual void scanned(const Result<ScanOutcome>& result, double seconds) {}
};

struct MilterOptions {
  // "inet:HOST:PORT", "HOST:PORT", "[v6]:PORT", "inet:PORT@HOST" (libmilter style) or
  // "unix:/path". Port 0 picks a free port (tests read port()).
  std::string listen = "inet:127.0.0.1:11332";
  std::chrono::milliseconds idle_timeout{900000};
  std::chrono::milliseconds progress_interval{10000};
  size_t max_packet = size_t{1} << 20;
  // The service for the next message; called at MAIL. Must return non-null.
  std::function<std::shared_ptr<ScanService>()> current_service;
  // Where scans run; default: the io_context's executor (inline on the connection's thread).
  boost::asio::any_io_executor scan_executor;
  MilterObserver* observer = nullptr;  // optional, must outlive the server's handlers
};

class MilterServer {
 public:
  static Result<std::unique_ptr<MilterServer>> start(boost::asio::io_context& io,
                                                     MilterOptions options);
  ~MilterServer();  // stop()s

  MilterServer(const MilterServer&) = delete;
  MilterServer& operator=(const MilterServer&) = delete;

  // Graceful, idempotent, any thread: stop accepting; connections that are between messages
  // close now, a message being received or scanned finishes (its reply is sent), then its
  // connection closes. The MTA applies milter_default_action to later messages of that SMTP
  // session (recommended: tempfail, so they are retried).
  void stop();
  uint16_t port() const;  // TCP only; 0 for unix sockets
  size_t connections() const;

  struct State;  // shared with connections; internal

 private:
  explicit MilterServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// Splits a listen spec; exposed for tests. kind is "inet" or "unix".
struct ListenSpec {
  std::string kind;
  std::string host;  // inet: address literal; unix: path
  uint16_t port = 0;
};
Result<ListenSpec> parse_listen_spec(std::string_view spec);

}  // namespace mailsift::server
