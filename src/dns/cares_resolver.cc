#include "dns/cares_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "dns/wire.h"

namespace mailsift::dns {

struct CaresResolver::Channel {
  ares_channel ch = nullptr;
};

struct CaresResolver::Job {
  Batch* batch;
  Query query;  // name normalised
  std::string key;
  std::vector<size_t> positions;  // indices into the caller's batch
  ParsedResponse response;
  bool done = false;
};

struct CaresResolver::Batch {
  std::vector<Job> jobs;
  size_t inflight = 0;  // queries handed to c-ares and not yet called back
};

namespace {

constexpr int kClassIn = 1;

// c-ares wants ares_library_init() once per process before the first channel; never cleaned up
// because other instances may still exist.
void library_init_once() {
  static const int rc = ares_library_init(ARES_LIB_INIT_ALL);
  (void)rc;
}

std::string cache_key(const Query& q) {
  return std::to_string(static_cast<int>(q.type)) + " " + q.name;
}

Answer from_status(int status) {
  Answer a;
  switch (status) {
    case ARES_ESERVFAIL:
    case ARES_ENOTIMP:
    case ARES_ENOMEM:
      a.rcode = Rcode::kServFail;
      break;
    case ARES_EREFUSED:
      a.rcode = Rcode::kRefused;
      break;
    case ARES_EFORMERR:
    case ARES_EBADRESP:
    case ARES_EBADNAME:
    case ARES_EBADQUERY:
    case ARES_EBADFAMILY:
      a.rcode = Rcode::kFormErr;
      break;
    default:
      // ARES_ETIMEOUT, ARES_ECONNREFUSED (ICMP unreachable from every server), ARES_ECANCELLED,
      // ARES_EDESTRUCTION: no server gave an answer.
      a.rcode = Rcode::kTimeout;
      break;
  }
  return a;
}

}  // namespace

Result<std::vector<std::string>> parse_server_list(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ' || text[i] == '\t'))
      ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != ' ' && text[j] != '\t')
      ++j;
    if (j == i)
      break;
    std::string entry(text.substr(i, j - i));
    i = j;
    std::string host, port = "53";
    bool v6 = false;
    if (entry[0] == '[') {
      auto close = entry.find(']');
      if (close == std::string::npos)
        return Error::config("dns.servers: '" + entry + "': missing ']'");
      host = entry.substr(1, close - 1);
      v6 = true;
      if (close + 1 < entry.size()) {
        if (entry[close + 1] != ':')
          return Error::config("dns.servers: '" + entry + "': expected ':port' after ']'");
        port = entry.substr(close + 2);
      }
    } else if (std::count(entry.begin(), entry.end(), ':') > 1) {
      host = entry;  // bare IPv6 address, default port
      v6 = true;
    } else if (auto colon = entry.find(':'); colon != std::string::npos) {
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    } else {
      host = entry;
    }
    unsigned char buf[16];
    if (host.find('\0') != std::string::npos ||
        inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1)
      return Error::config("dns.servers: '" + entry + "' is not an IP address (names are not " +
                           "resolved for the resolver itself)");
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535)
      return Error::config("dns.servers: '" + entry + "': port must be 1..65535");
    out.push_back(v6 ? "[" + host + "]:" + port : host + ":" + port);
  }
  return out;
}

Result<CaresOptions> cares_options_from_config(const Config& config) {
  CaresOptions o;
  auto servers = parse_server_list(config.get_string("dns.servers"));
  if (!servers.ok())
    return servers.error();
  o.servers = std::move(*servers);
  o.timeout_ms = static_cast<int>(config.get_int("dns.timeout_ms"));
  o.tries = static_cast<int>(config.get_int("dns.tries"));
  o.max_inflight = static_cast<size_t>(config.get_int("dns.max_inflight"));
  o.cache_entries = static_cast<size_t>(config.get_int("dns.cache_entries"));
  return o;
}

CaresResolver::CaresResolver(CaresOptions options)
    : options_(std::move(options)), channel_(std::make_unique<Channel>()) {}

CaresResolver::~CaresResolver() {
  if (channel_ && channel_->ch)
    ares_destroy(channel_->ch);
}

Result<std::unique_ptr<CaresResolver>> CaresResolver::create(CaresOptions options) {
  if (options.timeout_ms < 1)
    return Error::config("dns.timeout_ms must be at least 1");
  if (options.tries < 1)
    return Error::config("dns.tries must be at least 1");
  if (options.max_inflight < 1)
    return Error::config("dns.max_inflight must be at least 1");
  if (!options.now)
    options.now = std::chrono::steady_clock::now;
  // Canonicalise (and validate) servers given programmatically, too.
  std::string csv;
  for (const auto& s : options.servers) {
    auto one = parse_server_list(s);
    if (!one.ok())
      return one.error();
    for (const auto& e : *one)
      csv += (csv.empty() ? "" : ",") + e;
  }
  library_init_once();
  std::unique_ptr<CaresResolver> r(new CaresResolver(std::move(options)));

  ares_options opts{};
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  opts.timeout = r->options_.timeout_ms;
  opts.tries = r->options_.tries;
  // NOCHECKRESP: hand SERVFAIL/REFUSED answers to the callback as they are. Without it c-ares
  // 1.18 treats them like a dead server and, once every try is used up, reports
  // ARES_ECONNREFUSED ("could not contact DNS servers"), so REFUSED (a DNSBL blocking our
  // resolver) could not be told from an unreachable server. The price: no fail-over to the next
  // server on SERVFAIL/REFUSED (there still is on timeouts).
  // NOSEARCH: names are absolute; ares_query never searches, the flag documents the intent.
  opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
  // Lookups "b" (DNS only): otherwise c-ares reads /etc/nsswitch.conf / host.conf to decide
  // whether to consult /etc/hosts, which ares_query never does anyway.
  char lookups[] = "b";
  opts.lookups = lookups;
  mask |= ARES_OPT_LOOKUPS;
  char devnull[] = "/dev/null";
  if (!csv.empty()) {
    // Configured servers: do not read /etc/resolv.conf at all (its search list, options or
    // servers must not leak into tests or into a daemon configured otherwise).
    opts.resolvconf_path = devnull;
    mask |= ARES_OPT_RESOLVCONF;
  }
  int rc = ares_init_options(&r->channel_->ch, &opts, mask);
  if (rc != ARES_SUCCESS)
    return Error::temporary(std::string("c-ares init: ") + ares_strerror(rc));
  if (!csv.empty()) {
    rc = ares_set_servers_ports_csv(r->channel_->ch, csv.c_str());
    if (rc != ARES_SUCCESS)
      return Error::config("dns.servers '" + csv + "': " + ares_strerror(rc));
  }
  return r;
}

CaresStats CaresResolver::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

size_t CaresResolver::cache_size() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

void CaresResolver::clear_cache() {
  std::lock_guard lock(mu_);
  cache_.clear();
  lru_.clear();
}

bool CaresResolver::cache_get(const std::string& key, Answer* out) {
  auto it = cache_.find(key);
  if (it == cache_.end())
    return false;
  auto now = options_.now();
  if (now >= it->second.expires) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  *out = it->second.answer;
  // Callers see the TTL that is left, as they would from a caching resolver.
  auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.expires - now).count();
  out->ttl = out->empty() ? 0 : static_cast<uint32_t>(std::max<int64_t>(left, 1));
  return true;
}

void CaresResolver::cache_put(const std::string& key, const Answer& answer, uint32_t negative_ttl,
                              bool has_soa) {
  if (options_.cache_entries == 0 || answer.temporary_failure())
    return;
  uint32_t ttl;
  if (answer.empty())  // NXDOMAIN or NODATA
    ttl = has_soa ? negative_ttl : options_.negative_ttl;
  else
    ttl = answer.ttl;
  ttl = std::min(ttl, options_.max_ttl);
  if (ttl == 0)
    return;
  auto expires = options_.now() + std::chrono::seconds(ttl);
  if (auto it = cache_.find(key); it != cache_.end()) {
    it->second.answer = answer;
    it->second.expires = expires;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  lru_.push_front(key);
  cache_.emplace(key, CacheEntry{answer, expires, lru_.begin()});
  while (cache_.size() > options_.cache_entries) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

// c-ares callback: `arg` is the Job. For NOERROR/NODATA/NXDOMAIN c-ares passes the packet; the
// other statuses (after all tries) come without one.
void CaresResolver::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf,
                              int alen) {
  auto* job = static_cast<Job*>(arg);
  if (abuf != nullptr && alen > 0 &&
      (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND ||
       status == ARES_ESERVFAIL || status == ARES_EREFUSED || status == ARES_EFORMERR)) {
    job->response = parse_response(abuf, static_cast<size_t>(alen), job->query);
  } else {
    job->response = ParsedResponse{from_status(status)};
  }
  job->done = true;
  --job->batch->inflight;
}

void CaresResolver::run(Batch& batch) {
  ares_channel ch = channel_->ch;
  size_t next = 0;
  for (;;) {
    // Top up to max_inflight. ares_query may call back synchronously (e.g. a bad name), which
    // is why the count is raised before the call.
    while (batch.inflight < options_.max_inflight && next < batch.jobs.size()) {
      Job& job = batch.jobs[next++];
      ++stats_.queries_sent;
      ++batch.inflight;
      ares_query(ch, job.query.name.c_str(), kClassIn, static_cast<int>(job.query.type),
                 &CaresResolver::on_answer, &job);
      stats_.max_inflight_seen = std::max(stats_.max_inflight_seen, batch.inflight);
    }
    if (batch.inflight == 0 && next == batch.jobs.size())
      break;

    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t nfds = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short ev = 0;
      if (ARES_GETSOCK_READABLE(bits, i))
        ev |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i))
        ev |= POLLOUT;
      if (ev)
        fds[nfds++] = pollfd{socks[i], ev, 0};
    }
    timeval tv{}, max_wait{1, 0};
    timeval* t = ares_timeout(ch, &max_wait, &tv);
    int wait_ms = static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
    int n = poll(fds, nfds, wait_ms);
    if (n > 0) {
      for (nfds_t i = 0; i < nfds; ++i) {
        ares_socket_t r =
            (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_socket_t w = (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
        if (r != ARES_SOCKET_BAD || w != ARES_SOCKET_BAD)
          ares_process_fd(ch, r, w);
      }
    }
    ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts and retries
  }
}

std::vector<Answer> CaresResolver::resolve_many(std::span<const Query> queries) {
  std::lock_guard lock(mu_);
  std::vector<Answer> out(queries.size());
  Batch batch;
  std::map<std::string, size_t> job_of;  // key -> index in batch.jobs
  batch.jobs.reserve(queries.size());    // Job addresses are handed to c-ares: no reallocation
  for (size_t i = 0; i < queries.size(); ++i) {
    ++stats_.lookups;
    Query q{normalize_name(queries[i].name), queries[i].type};
    std::string key = cache_key(q);
    if (cache_get(key, &out[i])) {
      ++stats_.cache_hits;
      continue;
    }
    if (auto it = job_of.find(key); it != job_of.end()) {
      ++stats_.coalesced;
      batch.jobs[it->second].positions.push_back(i);
      continue;
    }
    job_of.emplace(key, batch.jobs.size());
    batch.jobs.push_back(Job{&batch, std::move(q), std::move(key), {i}, {}, false});
  }
  if (!batch.jobs.empty())
    run(batch);
  for (auto& job : batch.jobs) {
    const Answer& a = job.response.answer;
    if (a.rcode == Rcode::kTimeout)
      ++stats_.timeouts;
    else if (a.temporary_failure())
      ++stats_.failures;
    cache_put(job.key, a, job.response.negative_ttl, job.response.has_soa);
    for (size_t pos : job.positions)
      out[pos] = a;
  }
  return out;
}

}  // namespace mailsift::dns
