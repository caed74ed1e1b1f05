// auth_bench — sender authentication costs (run by bench/auth; not a test).
//
// Prints, single-threaded:
//   1. DKIM verifications per CPU-second, rsa-2048 and ed25519 (keys from an in-memory zone:
//      crypto, canonicalisation and parsing only);
//   2. DKIM signatures per CPU-second, rsa-2048 and ed25519 (signing::Signer, as mailsiftd);
//   3. full SPF + DKIM + DMARC evaluations per second (wall and CPU) against a real unbound on
//      loopback (dns/testing/unbound_server.h) through the c-ares resolver, cache warm;
//   4. the engine's messages per CPU-second on the same messages with the authentication check
//      on (warm cache) and off.
// Messages: the bodies of tests/data/train/*, with a From in one of 10 test domains, each
// signed by mailsift (half rsa-2048, half ed25519); the zone has SPF, DMARC p=reject, both keys
// and a PTR for the client IP.
//
// `auth_bench --serve DIR [REPO]` measures nothing: it builds the same keys, messages and zone,
// writes DIR/NNN.eml (one signed message each) and DIR/messages.tsv (path, MAIL FROM, client IP,
// HELO), starts unbound on the zone, writes its "127.0.0.1:PORT" to DIR/dns once it answers, and
// serves until SIGTERM or SIGINT (then stops unbound). bench/auth runs it to give Rspamd the same
// messages and the same DNS data as the figures above.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "auth/auth_check.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "dns/cares_resolver.h"
#include "dns/testing/fake_resolver.h"
#include "dns/testing/unbound_server.h"
#include "scan/engine.h"
#include "signing/signing.h"
#include "spf/spf.h"
#include "store/store.h"

using namespace mailsift;

namespace {

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string pem_of(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

dkim::SigningKey make_key(bool ed25519) {
  EVP_PKEY* k = ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  std::string pem = pem_of(k);
  EVP_PKEY_free(k);
  return dkim::SigningKey::from_pem(pem).value();
}

// TXT value as unbound local-data: character-strings of at most 255 octets.
std::string txt(const std::string& value) {
  std::string out;
  for (size_t i = 0; i < value.size(); i += 250)
    out += (out.empty() ? "\"" : " \"") + value.substr(i, 250) + "\"";
  return out;
}

// Runs `fn` for at least `seconds` of CPU time; returns calls per CPU-second.
template <class F>
double per_cpu_second(double seconds, F fn) {
  size_t n = 0;
  const double start = cpu_now();
  double now = start;
  while (now - start < seconds) {
    for (int i = 0; i < 16; ++i)
      fn(n++);
    now = cpu_now();
  }
  return n / (now - start);
}

constexpr int kDomains = 10;

// Keys, signed messages and the DNS zone shared by the figures and --serve.
struct Fixture {
  dkim::SigningKey rsa = make_key(false), ed = make_key(true);
  std::vector<std::string> zone;  // unbound local-data lines
  std::vector<std::string> messages;
  int64_t now = std::time(nullptr);
};

// Message i is From user<i>@sender<i % kDomains>.test, MAIL FROM user@ that domain.
std::string domain_of(size_t i) {
  return "sender" + std::to_string(i % kDomains) + ".test";
}

// Empty messages when the repository has no tests/data/train.
Fixture make_fixture(const std::string& repo) {
  Fixture f;
  std::vector<std::string> bodies;
  for (const char* cls : {"ham", "spam"}) {
    for (const auto& e : std::filesystem::directory_iterator(repo + "/tests/data/train/" + cls)) {
      std::string m = read_file(e.path());
      size_t at = m.find("\n\n");
      if (at != std::string::npos)
        bodies.push_back(m.substr(at + 2));
    }
  }
  f.zone = {dns::testing::UnboundServer::ptr("192.0.2.10", "mail.sender0.test"),
            "mail.sender0.test. 300 IN A 192.0.2.10"};
  for (int d = 0; d < kDomains; ++d) {
    const std::string dom = domain_of(d);
    f.zone.push_back(dom + ". 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"");
    f.zone.push_back("_dmarc." + dom + ". 300 IN TXT \"v=DMARC1; p=reject\"");
    f.zone.push_back("rsa._domainkey." + dom + ". 300 IN TXT " + txt(f.rsa.dns_record()));
    f.zone.push_back("ed._domainkey." + dom + ". 300 IN TXT " + txt(f.ed.dns_record()));
  }
  for (size_t i = 0; i < bodies.size(); ++i) {
    const std::string dom = domain_of(i);
    std::string m = "From: User " + std::to_string(i) + " <user" + std::to_string(i) + "@" + dom +
                    ">\r\nTo: rcpt@example.net\r\nSubject: message " + std::to_string(i) +
                    "\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" +
                    std::to_string(i) + "@" + dom + ">\r\n\r\n";
    for (char c : bodies[i]) {
      if (c == '\n')
        m += '\r';
      m += c;
    }
    signing::KeyEntry e;
    e.domain = dom;
    e.selector = i % 2 ? "ed" : "rsa";
    e.key = i % 2 ? f.ed : f.rsa;
    signing::Signer s({e}, {}, true);
    f.messages.push_back(s.dkim_sign(m, "", f.now).value()->field + m);
  }
  return f;
}

// --serve: see the header. Returns the process exit code.
int serve(const std::string& dir, const Fixture& f) {
  std::filesystem::create_directories(dir);
  std::ofstream list(dir + "/messages.tsv");
  for (size_t i = 0; i < f.messages.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/%03zu.eml", i);
    std::ofstream(dir + name, std::ios::binary) << f.messages[i];
    list << dir + name << "\tuser@" << domain_of(i) << "\t192.0.2.10\tmail.sender0.test\n";
  }
  list.close();
  dns::testing::UnboundServer unbound(f.zone);
  if (!unbound.ok()) {
    std::fprintf(stderr, "unbound: %s\n", unbound.error().c_str());
    return 1;
  }
  // Blocked after unbound is forked (a child would inherit the mask and ignore the SIGTERM that
  // stops it), so that sigwait below takes them and the destructor stops unbound. One that
  // arrives before this kills us by default, and unbound follows by its parent-death signal.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // Written last and renamed: its presence means everything else is in place.
  std::ofstream(dir + "/dns.tmp") << unbound.server() << "\n";
  std::filesystem::rename(dir + "/dns.tmp", dir + "/dns");
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  if (argc > 2 && std::string(argv[1]) == "--serve") {
    Fixture f = make_fixture(argc > 3 ? argv[3] : MAILSIFT_SOURCE_DIR);
    if (f.messages.empty()) {
      std::fprintf(stderr, "no messages under tests/data/train\n");
      return 1;
    }
    return serve(argv[2], f);
  }
  const std::string repo = argc > 1 ? argv[1] : MAILSIFT_SOURCE_DIR;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  const Fixture fixture = make_fixture(repo);
  const dkim::SigningKey &rsa = fixture.rsa, &ed = fixture.ed;
  const std::vector<std::string>& zone = fixture.zone;
  const std::vector<std::string>& messages = fixture.messages;
  const int64_t now = fixture.now;
  if (messages.empty()) {
    std::fprintf(stderr, "no messages under %s/tests/data/train\n", repo.c_str());
    return 1;
  }

  std::printf("auth_bench: %zu messages, %d domains, %.1f s CPU per figure, 1 thread\n",
              messages.size(), kDomains, seconds);

  // ---- 1/2: DKIM crypto ----
  dns::testing::FakeResolver mem;
  for (int d = 0; d < kDomains; ++d) {
    const std::string dom = "sender" + std::to_string(d) + ".test";
    mem.add("rsa._domainkey." + dom, dns::RType::kTXT, rsa.dns_record());
    mem.add("ed._domainkey." + dom, dns::RType::kTXT, ed.dns_record());
  }
  for (int alg = 0; alg < 2; ++alg) {
    const char* name = alg ? "ed25519" : "rsa-2048";
    size_t failures = 0;
    double v = per_cpu_second(seconds, [&](size_t n) {
      const std::string& m = messages[(2 * n + alg) % messages.size()];
      auto r = dkim::verify(m, mem, now);
      failures += r.empty() || r[0].result != dkim::Status::kPass;
    });
    std::printf("dkim verify   %-9s %10.0f /CPU-s%s\n", name, v,
                failures ? "  (SOME FAILED: figure invalid)" : "");
  }
  for (int alg = 0; alg < 2; ++alg) {
    std::vector<signing::KeyEntry> keyed;  // every domain with this algorithm's key
    for (int d = 0; d < kDomains; ++d) {
      signing::KeyEntry e;
      e.domain = "sender" + std::to_string(d) + ".test";
      e.selector = alg ? "ed" : "rsa";
      e.key = alg ? ed : rsa;
      keyed.push_back(std::move(e));
    }
    signing::Signer s(std::move(keyed), {}, true);
    std::vector<std::string> unsigned_msgs;
    for (const std::string& m : messages)
      unsigned_msgs.push_back(m.substr(m.find("\r\nFrom: ") + 2));
    size_t failures = 0;
    double v = per_cpu_second(seconds, [&](size_t n) {
      auto f = s.dkim_sign(unsigned_msgs[n % unsigned_msgs.size()], "", now);
      failures += !f.ok() || !f->has_value();  // every message must really be signed
    });
    std::printf("dkim sign     %-9s %10.0f /CPU-s%s\n", alg ? "ed25519" : "rsa-2048", v,
                failures ? "  (SOME FAILED: figure invalid)" : "");
  }

  // ---- 3: SPF + DKIM + DMARC against unbound ----
  dns::testing::UnboundServer unbound(zone);
  if (!unbound.ok()) {
    std::fprintf(stderr, "unbound: %s\n", unbound.error().c_str());
    return 1;
  }
  dns::CaresOptions co;
  co.servers = {unbound.server()};
  auto resolver = dns::CaresResolver::create(co).value();
  size_t bad = 0;
  auto evaluate = [&](const std::string& m, size_t i) {
    const std::string dom = "sender" + std::to_string(i % kDomains) + ".test";
    spf::Envelope env;
    env.client_ip = "192.0.2.10";
    env.helo = "mail.sender0.test";
    env.mail_from = "user@" + dom;
    env.now = now;
    spf::Verdict sv = spf::verify(*resolver, env);
    auto sigs = dkim::verify(m, *resolver, now);
    dmarc::Input in;
    in.header_from_domain = dom;
    in.spf_result = sv.mailfrom.result;
    in.spf_domain = sv.mailfrom.domain;
    for (const auto& s : sigs)
      in.dkim.push_back({s.domain, s.result == dkim::Status::kPass});
    dmarc::Outcome o = dmarc::evaluate(*resolver, in);
    bad += o.result != dmarc::Result::kPass || sv.mailfrom.result != spf::Result::kPass;
  };
  for (size_t i = 0; i < messages.size(); ++i)
    evaluate(messages[i], i);  // warm the cache
  if (bad) {
    std::fprintf(stderr, "warm-up: %zu evaluations did not pass SPF+DMARC\n", bad);
    return 1;
  }
  {
    const double c0 = cpu_now(), w0 = wall_now();
    size_t n = 0;
    while (cpu_now() - c0 < seconds) {
      evaluate(messages[n % messages.size()], n);
      ++n;
    }
    const double c = cpu_now() - c0, w = wall_now() - w0;
    std::printf("spf+dkim+dmarc (unbound, warm cache) %8.0f /s wall, %8.0f /CPU-s%s\n", n / w,
                n / c, bad ? "  (SOME FAILED: figure invalid)" : "");
  }

  // ---- 4: engine with and without authentication ----
  Config config;
  (void)config.set("dns.servers", unbound.server());
  for (int with_auth = 0; with_auth < 2; ++with_auth) {
    auto store = store::make_memory_store();
    std::vector<std::unique_ptr<scan::Check>> extra;
    if (with_auth)
      extra.push_back(auth::make_auth_check(config).value());
    auto engine = scan::Engine::create(config, *store, nullptr, std::move(extra)).value();
    scan::Envelope env;
    env.client_ip = "192.0.2.10";
    env.helo = "mail.sender0.test";
    size_t dmarc_pass = 0;
    auto one = [&](size_t n) {
      const std::string& m = messages[n % messages.size()];
      env.mail_from = "user@sender" + std::to_string((n % messages.size()) % kDomains) + ".test";
      auto v = engine->scan(m, env, {});
      if (v.ok())
        for (const auto& r : v->recipients)
          for (const auto& s : r.symbols)
            dmarc_pass += s.name == "DMARC_POLICY_ALLOW";
    };
    for (size_t i = 0; i < messages.size(); ++i)
      one(i);  // warm cache and engine
    dmarc_pass = 0;
    size_t count = 0;
    double v = per_cpu_second(seconds, [&](size_t n) {
      one(n);
      ++count;
    });
    std::printf("engine, auth %-3s              %8.0f msg/CPU-s", with_auth ? "on" : "off", v);
    if (with_auth)
      std::printf("  (DMARC_POLICY_ALLOW on %zu/%zu)", dmarc_pass, count);
    std::printf("\n");
  }
  return 0;
}
