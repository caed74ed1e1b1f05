// mailsift::ipwatch::MapServer — a Postfix socketmap server (socketmap_table(5)) on Boost.Asio:
// Postfix connects (socketmap:inet:HOST:PORT:NAME), sends netstring requests "NAME KEY" and
// reads one netstring reply per request; the connection is kept for further lookups.
//
// Owns: the TCP acceptor and its connections. What to answer is the `reply` callback's (the
// Monitor's map_reply: pure, in-memory), so requests are answered on the I/O threads without
// blocking.
//
// Failure semantics: start() returns kConfig for a listen address that does not parse and
// kTemporary when it cannot be bound. A malformed netstring (or one over 1000 bytes: requests
// are an address) closes that connection: the stream cannot be resynchronised, and Postfix
// reconnects and retries. stop() closes the acceptor and every connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange

#include <boost/asio.hpp>

#include "core/result.h"

namespace mailsift::ipwatch {

struct MapServerOptions {
  std::string listen;                                          // "inet:HOST:PORT" or "HOST:PORT"
  std::function<std::string(std::string_view payload)> reply;  // encoded netstring
  size_t max_request = 1000;
};

class MapServer {
 public:
  static Result<std::unique_ptr<MapServer>> start(boost::asio::io_context& io,
                                                  MapServerOptions options);
  ~MapServer();
  uint16_t port() const;
  void stop();
  struct State;

 private:
  explicit MapServer(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

}  // namespace mailsift::ipwatch
