// mailsift::dns::CaresResolver — the production Resolver, on c-ares 1.18.
//
// Owns: one c-ares channel, the nameserver list ("ip:port" from config; /etc/resolv.conf is never
// read when servers are configured), per-try timeout and tries, a bound on queries in flight, and
// a TTL cache of positive and negative answers (LRU-bounded, clock injectable for tests). Each
// resolve_many() runs its own poll() loop on the channel until every query of the batch is
// answered; identical queries in a batch are sent once.
//
// Threads: c-ares 1.18 channels are not thread-safe, so a mutex serialises resolve_many() on one
// instance. Sharing an instance between threads is therefore safe but makes them wait for each
// other's batches: give each worker thread (or Asio strand) its own instance.
//
// Failure semantics: create() returns a kConfig error for a malformed server list or option and a
// kTemporary error when c-ares cannot initialise. Lookups never fail as a call: every outcome is
// an Answer. Timeouts and unreachable servers (no answer from any server after all tries) are
// kTimeout; SERVFAIL/NOTIMP kServFail; REFUSED kRefused; unparseable answers and names that cannot
// be encoded kFormErr. SERVFAIL and REFUSED come from the first server that answers: the next
// server is tried only after a timeout. Only NOERROR answers with records, NODATA and NXDOMAIN are
// cached; temporary failures never are, so the next message retries.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "dns/resolver.h"

namespace mailsift::dns {

struct CaresOptions {
  // "192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53"; tried in order. Empty: the system's
  // resolver configuration (/etc/resolv.conf).
  std::vector<std::string> servers;
  int timeout_ms = 2000;         // first try per server; c-ares doubles it for each later round
  int tries = 2;                 // rounds over the server list
  size_t max_inflight = 64;      // queries handed to c-ares at once; the rest of a batch waits
  size_t cache_entries = 10000;  // 0 disables the cache
  uint32_t max_ttl = 86400;      // positive and negative TTLs are capped to this
  uint32_t negative_ttl = 60;    // NXDOMAIN/NODATA without an SOA to take the TTL from
  // The cache's clock; tests inject a fake one.
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

// The dns.* parameters: dns.servers (comma/space separated), dns.timeout_ms, dns.tries,
// dns.max_inflight, dns.cache_entries. A malformed server list is a kConfig error.
Result<CaresOptions> cares_options_from_config(const Config& config);

// Parses a server list ("ip", "ip:port", "[ipv6]:port", separated by commas and/or spaces) into
// the canonical "ip:port" / "[ipv6]:port" form c-ares takes. kConfig error naming the bad entry.
Result<std::vector<std::string>> parse_server_list(std::string_view text);

struct CaresStats {
  uint64_t lookups = 0;          // queries callers asked for (each element of each batch)
  uint64_t cache_hits = 0;       // answered from the cache, no packet sent
  uint64_t coalesced = 0;        // duplicates within a batch, answered by the same query
  uint64_t queries_sent = 0;     // queries handed to c-ares (each may be several packets/tries)
  uint64_t timeouts = 0;         // queries that ended in kTimeout
  uint64_t failures = 0;         // queries that ended in another temporary failure
  size_t max_inflight_seen = 0;  // highest number of concurrent queries observed
};

class CaresResolver : public Resolver {
 public:
  static Result<std::unique_ptr<CaresResolver>> create(CaresOptions options);
  ~CaresResolver() override;
  CaresResolver(const CaresResolver&) = delete;
  CaresResolver& operator=(const CaresResolver&) = delete;

  std::vector<Answer> resolve_many(std::span<const Query> queries) override;

  CaresStats stats() const;
  size_t cache_size() const;
  void clear_cache();

 private:
  struct Channel;  // c-ares state, kept out of this header
  struct CacheEntry {
    Answer answer;
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator lru;
  };
  struct Job;
  struct Batch;

  explicit CaresResolver(CaresOptions options);
  bool cache_get(const std::string& key, Answer* out);
  void cache_put(const std::string& key, const Answer& answer, uint32_t negative_ttl, bool has_soa);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void run(Batch& batch);

  CaresOptions options_;
  std::unique_ptr<Channel> channel_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;  // front = most recently used
  CaresStats stats_;
};

}  // namespace mailsift::dns
