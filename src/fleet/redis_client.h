// mailsift::fleet::redis — the hiredis connection pool shared by the Redis backends (the learning
// store, redis_store.cc, and the outbound counters, redis_outbound.cc).
//
// Owns: address parsing, a pool of connections (checkout waits at most timeout_ms), connect and
// per-command timeouts (SO_RCVTIMEO/SO_SNDTIMEO), pipelining (run: every command sent, then every
// reply read: one round trip) and Lua scripts by EVALSHA with EVAL fallback on NOSCRIPT.
//
// Failure semantics: an I/O error, a timeout, or a reply meaning "not usable now" (LOADING,
// READONLY, MASTERDOWN, BUSY, TRYAGAIN, CLUSTERDOWN, MOVED, ASK) is kTemporary and drops the
// connection (the next checkout reconnects); other error replies are returned to the caller.
// Thread-safety: Client is safe to share between threads.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"

namespace mailsift::fleet::redis {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// One command: argv as binary-safe strings.
using Command = std::vector<std::string>;

struct Address {
  std::string host;
  int port = 6379;
  std::string unix_path;
  int db = 0;
};

// "redis://HOST:PORT[/DB]", "HOST:PORT" or "unix:/path"; kConfig when it cannot be parsed.
Result<Address> parse_address(const std::string& text);

class Client {
 public:
  Client(Address address, int timeout_ms, int pool_size);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends every command, then reads every reply: one round trip.
  Result<std::vector<Reply>> run(const std::vector<Command>& cmds);
  // Runs `script` once per argument list (numkeys first, then keys and args) in one pipeline.
  // sha_slot caches the script's SHA (the caller owns one slot per script).
  Result<std::vector<Reply>> eval(std::string& sha_slot, const char* script,
                                  const std::vector<Command>& args);

  class Pool;  // defined in redis_client.cc

 private:
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<std::mutex> sha_mu_;
};

}  // namespace mailsift::fleet::redis
