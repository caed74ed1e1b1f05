// http_test_server — the HTTP front end on its own, for tests/rspamc/run.sh and bench/server
// until mailsiftd exists (and for comparing the two afterwards).
//
//   http_test_server --port 0 --port-file F                 fake backend (testing/fake_backend.h)
//   http_test_server --data-dir D [--config C] --port P     the real engine on D's store, laid
//                                                           out as `mailsift --data-dir D`
//                                                           (train it with `mailsift learn`)
// Runs until SIGTERM/SIGINT, then stops gracefully. Not installed; not the daemon: no policy
// file, no decision log (EngineBackend below stands in for server::ScanService).
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "http/http_server.h"
#include "http/testing/fake_backend.h"
#include "rules/rules.h"
#include "scan/engine.h"
#include "store/store.h"

namespace {

using namespace mailsift;

// The engine behind the HTTP API without ScanService: one Engine per concurrent call (pooled),
// policy from config for every recipient, X-Spam-* headers like the daemon's.
class EngineBackend : public http::ScanBackend {
 public:
  EngineBackend(Config config, std::unique_ptr<store::Store> store,
                std::shared_ptr<const rules::RuleSet> rules)
      : config_(std::move(config)), store_(std::move(store)), rules_(std::move(rules)) {}

  Result<server::ScanOutcome> scan(const server::ScanRequest& request) override {
    auto engine = acquire();
    if (!engine.ok())
      return engine.error();
    Lease lease(this, std::move(engine.value()));
    std::vector<scan::RecipientRequest> rcpts;
    for (const std::string& r : request.recipients)
      rcpts.push_back({scan::Recipient{r, "", ""}, scan::ActionPolicy::from_config(config_)});
    auto verdict = lease.engine->scan(request.raw, request.envelope, rcpts);
    if (!verdict.ok())
      return verdict.error();
    server::ScanOutcome out;
    out.decision_id = fmt::format("test-{}", counter_.fetch_add(1) + 1);
    for (size_t i = 0; i < verdict->recipients.size(); ++i) {
      server::RecipientOutcome ro;
      ro.address = i < request.recipients.size() ? request.recipients[i] : "";
      ro.verdict = std::move(verdict->recipients[i]);
      if (ro.verdict.action == scan::Action::kReject)
        ro.reply = server::SmtpReply{550, "5.7.1", "Message refused as spam"};
      else if (ro.verdict.action == scan::Action::kSoftReject)
        ro.reply = server::SmtpReply{451, "4.7.1", "Try again later"};
      out.recipients.push_back(std::move(ro));
    }
    const scan::Verdict& first = out.recipients.front().verdict;
    out.add_headers.push_back({"X-Spam-Flag", first.is_spam() ? "YES" : "NO"});
    out.add_headers.push_back({"X-Spam-Score", fmt::format("{:.2f}", first.score)});
    out.add_headers.push_back({"X-Mailsift-Id", out.decision_id});
    out.remove_headers = {"X-Spam-Flag", "X-Spam-Score", "X-Mailsift-Id"};
    return out;
  }

  Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                  const std::string& recipient) override {
    auto engine = acquire();
    if (!engine.ok())
      return engine.error();
    Lease lease(this, std::move(engine.value()));
    return lease.engine->learn(raw, cls, scan::Recipient{recipient, "", ""});
  }

  Result<scan::LearnResult> unlearn(std::string_view raw, store::Class cls,
                                    const std::string& recipient) override {
    auto engine = acquire();
    if (!engine.ok())
      return engine.error();
    Lease lease(this, std::move(engine.value()));
    return lease.engine->unlearn(raw, cls, scan::Recipient{recipient, "", ""});
  }

  Status health() override {
    auto t = store_->totals(store::Scope::global());
    if (!t.ok())
      return t.error();
    return Ok{};
  }

 private:
  struct Lease {
    Lease(EngineBackend* b, std::unique_ptr<scan::Engine> e) : owner(b), engine(std::move(e)) {}
    ~Lease() {
      std::lock_guard<std::mutex> lock(owner->mu_);
      owner->free_.push_back(std::move(engine));
    }
    EngineBackend* owner;
    std::unique_ptr<scan::Engine> engine;
  };

  Result<std::unique_ptr<scan::Engine>> acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        auto e = std::move(free_.back());
        free_.pop_back();
        return e;
      }
    }
    return scan::Engine::create(config_, *store_, rules_);
  }

  Config config_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<const rules::RuleSet> rules_;
  std::mutex mu_;
  std::vector<std::unique_ptr<scan::Engine>> free_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTP front end test server (fake backend or the real engine)"};
  std::string address = "127.0.0.1", port_file, data_dir, config_file, password;
  uint16_t port = 0;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  size_t max_body = 64u << 20;
  app.add_option("--address", address, "Listen address");
  app.add_option("--port", port, "Listen port (0 = any)");
  app.add_option("--port-file", port_file, "Write the bound port here once listening");
  app.add_option("--data-dir", data_dir, "Use the real engine on this data dir's store");
  app.add_option("--config", config_file, "mailsift TOML config (with --data-dir)");
  app.add_option("--threads", threads, "io_context threads");
  app.add_option("--password", password, "Controller password for learn/fuzzy endpoints");
  app.add_option("--max-body", max_body, "Request body limit in bytes");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<http::ScanBackend> backend;
  if (data_dir.empty()) {
    backend = std::make_unique<http::testing::FakeBackend>();
  } else {
    Config config;
    if (!config_file.empty()) {
      auto loaded = Config::load_file(config_file);
      if (!loaded.ok()) {
        std::cerr << "http_test_server: " << loaded.error().describe() << "\n";
        return 2;
      }
      config = std::move(loaded).value();
    }
    std::filesystem::create_directories(data_dir);
    auto db = store::open_sqlite_store(
        (std::filesystem::path(data_dir) / config.get_string("store.file")).string());
    if (!db.ok()) {
      std::cerr << "http_test_server: " << db.error().describe() << "\n";
      return 2;
    }
    rules::set_compile_cache_dir((std::filesystem::path(data_dir) / "rules-cache").string());
    auto rules = scan::Engine::load_rules(config);
    if (!rules.ok()) {
      std::cerr << "http_test_server: " << rules.error().describe() << "\n";
      return 2;
    }
    backend =
        std::make_unique<EngineBackend>(config, std::move(db).value(), std::move(rules).value());
  }

  boost::asio::io_context io(static_cast<int>(threads));
  http::HttpOptions options;
  options.address = address;
  options.port = port;
  options.max_body_bytes = max_body;
  options.handler.controller_password = password;
  auto server = http::HttpServer::start(io, options, *backend);
  if (!server.ok()) {
    std::cerr << "http_test_server: " << server.error().describe() << "\n";
    return 2;
  }
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << server.value()->port() << "\n";
    std::filesystem::rename(port_file + ".tmp", port_file);
  }
  std::cerr << fmt::format("http_test_server: listening on {}:{} ({} backend, {} threads)\n",
                           address, server.value()->port(), data_dir.empty() ? "fake" : "engine",
                           threads);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { server.value()->stop(); });
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool)
    t.join();
  return 0;
}
