// mailsift::http::HttpServer — the HTTP/1.1 front end of mailsiftd (native JSON API, Rspamd-
// compatible endpoints, /health, /metrics). Endpoints and compatibility notes: README.md.
//
// Owns: the listening socket and every client connection: asynchronous reads with a header
// size limit and a body size limit (413 before the body is read when Content-Length says it is
// too big), Expect: 100-continue, keep-alive, timeouts (a whole request must arrive within
// read_timeout; a kept-alive connection may idle for idle_timeout; a response must be written
// within write_timeout), a connection cap (503 beyond it) and graceful stop.
//
// Threading: the server runs on the caller's io_context; run that io_context on as many threads
// as there are cores. Each connection is a strand; the backend is called inline on it (a scan is
// ~1 ms of CPU, so a separate pool would only add hand-offs), hence the backend must be
// thread-safe; requests under HttpOptions::slow_prefixes run on HttpOptions::slow_pool instead.
// stop() may be called from any thread (e.g. a signal_set handler).
//
// Usage (mailsiftd):
//   boost::asio::io_context io;
//   HttpOptions opts;  opts.address = "127.0.0.1";  opts.port = 11333;  opts.metrics = &metrics;
//   ServiceBackend backend(service, store);                 // service_backend.h
//   auto server = HttpServer::start(io, opts, backend);      // Result: kConfig if bind fails
//   ... run io on N threads; on SIGTERM: server.value()->stop(); io threads return when drained.
//
// Failure semantics: start() returns kConfig when the address cannot be parsed or bound. After
// that nothing fails outward: bad requests get 400/413/431 and the connection is closed, broken
// or slow connections are closed, a throwing backend becomes a 500.
// SECURITY: reads untrusted network input; every read is bounded in bytes and time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "http/backend.h"
#include "http/handler.h"
#include "http/metrics.h"

namespace mailsift::http {

struct HttpOptions {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal to bind
  uint16_t port = 11333;              // 0 = any free port (tests read port())
  size_t max_body_bytes =
      64u << 20;  // larger request bodies get 413 (match mime.max_message_bytes)
  size_t max_header_bytes = 64u << 10;             // request line + headers; larger gets 431
  std::chrono::milliseconds read_timeout{30000};   // first byte to last byte of one request
  std::chrono::milliseconds idle_timeout{60000};   // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30000};  // one response
  size_t max_connections = 4096;                   // beyond: answer 503 and close
  int listen_backlog = 1024;
  HandlerOptions handler;
  // Registry to count into and render on /metrics; shared with the milter front end. When
  // null the server keeps its own (see HttpServer::metrics()).
  Metrics* metrics = nullptr;
  // Requests whose path starts with one of `slow_prefixes` (the domain doctor and the case lookup
  // wait on DNS or long log queries) are handled on `slow_pool` rather than inline on the I/O
  // thread, so they cannot stall the scans that share it. Null pool: everything inline.
  boost::asio::thread_pool* slow_pool = nullptr;
  std::vector<std::string> slow_prefixes;
};

class HttpServer {
 public:
  // Binds, listens and starts accepting on `io`. `backend` must outlive the server and every
  // io_context handler (keep it until io.run() has returned).
  static Result<std::unique_ptr<HttpServer>> start(boost::asio::io_context& io,
                                                   const HttpOptions& options,
                                                   ScanBackend& backend);
  ~HttpServer();  // stop()s; connections still open finish on the io_context

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Graceful stop, idempotent, any thread: stop accepting, close connections waiting for a
  // request, let requests being read or answered finish (then close them). Once they are done
  // the server holds no more work on the io_context.
  void stop();

  // The bound port (useful with port 0).
  uint16_t port() const;
  // Connections currently open.
  size_t connections() const;
  Metrics& metrics();

  struct State;  // shared with connections; internal

 private:
  explicit HttpServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace mailsift::http
