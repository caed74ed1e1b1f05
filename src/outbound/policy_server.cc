#include "outbound/policy_server.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "server/log.h"
#include "server/milter_server.h"  // parse_listen_spec

namespace mailsift::outbound {

namespace asio = boost::asio;
using boost::system::error_code;
using server::kv;
using server::log_line;

// ---------------------------------------------------------------- PolicyService

PolicyService::PolicyService(Guard& guard, decisions::DecisionLog& log,
                             PolicyServiceOptions options, Guard::Clock clock)
    : guard_(guard), log_(log), options_(std::move(options)), clock_(std::move(clock)) {}

namespace {

const char* decision_action(Verdict v) {
  switch (v) {
    case Verdict::kAccept:
      return "no action";
    case Verdict::kTempfail:
      return "soft reject";
    case Verdict::kReject:
      return "reject";
  }
  return "no action";
}

std::string bracketed(std::string_view a) {
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>')
    return std::string(a);
  return fmt::format("<{}>", a);
}

}  // namespace

std::string PolicyService::handle(const PolicyRequest& req) {
  const std::string& login = req.get("sasl_username");
  const std::string& state = req.get("protocol_state");
  if (req.get("request") != "smtpd_access_policy" || login.empty() ||
      (state != "RCPT" && state != "MAIL"))
    return "DUNNO";

  const int64_t now = clock_();
  decisions::Decision d;
  d.time_unix_ms = now;
  d.id = decisions::new_decision_id(now);
  d.node = options_.node;
  d.direction = "outbound";
  d.queue_id = req.get("queue_id");
  d.client_ip = req.get("client_address");
  d.helo = req.get("helo_name");
  d.mail_from = req.get("sender");
  d.auth_user = login;

  Identity who = Identity::from(login, req.get("sender"));
  if (options_.reseller_of)
    who.reseller = options_.reseller_of(who.user, who.domain);

  const bool rcpt_stage = state == "RCPT";
  Result<Outcome> outcome =
      rcpt_stage ? guard_.check_rcpt({who, req.get("instance"), req.get("recipient"),
                                      req.get("client_address"), d.id})
                 : guard_.check_mail(who, req.get("client_address"), d.id);
  Outcome o;
  if (outcome) {
    o = std::move(outcome).value();
  } else {
    o.verdict = Verdict::kTempfail;
    o.rule = "internal";
    o.reply = render_reply(ReplyKind::kInternal, true, {"", "", d.id});
    d.errors.push_back(outcome.error().describe());
  }

  decisions::RecipientDecision r;
  r.address = req.get("recipient");
  r.user = who.user;
  r.domain = who.domain;
  r.reseller = who.reseller;
  r.action = decision_action(o.verdict);
  r.stage = rcpt_stage ? "rcpt" : "mail";
  r.policy_source = "outbound-policy";
  if (!o.reply.empty()) {
    // What the SMTP client sees: Postfix puts the address and the restriction class between
    // the codes and our text (integration.md §5; check_policy_service in
    // smtpd_recipient_restrictions at RCPT, smtpd_sender_restrictions at MAIL).
    const size_t text_at = o.reply.find(' ', 4);  // after "550 5.7.1"
    const std::string codes = o.reply.substr(0, text_at);
    const std::string text = text_at == std::string::npos ? "" : o.reply.substr(text_at + 1);
    r.smtp_reply =
        rcpt_stage ? fmt::format("{} {}: Recipient address rejected: {}", codes,
                                 bracketed(r.address), text)
                   : fmt::format("{} {}: Sender address rejected: {}", codes,
                                 bracketed(d.mail_from), text);
    r.symbols.push_back({"OUTBOUND_" + o.rule, 0});
  }
  if (o.held_now)
    r.symbols.push_back({"OUTBOUND_AUTO_HOLD", 0});
  d.recipients.push_back(std::move(r));
  if (auto st = log_.record(d); !st) {
    log_line("error", fmt::format("event=decision_log_failed {} {}", kv("id", d.id),
                                  kv("error", st.error().describe())));
  }
  if (o.held_now || o.verdict != Verdict::kAccept) {
    log_line("info", fmt::format("event=outbound_refused {} {} {} {}", kv("id", d.id),
                                 kv("user", who.user), kv("rule", o.rule), kv("reply", o.reply)));
  }
  return o.verdict == Verdict::kAccept ? "DUNNO" : o.reply;
}

// ---------------------------------------------------------------- PolicyServer

class PolicyConnectionBase {
 public:
  virtual ~PolicyConnectionBase() = default;
  virtual void server_stopping() = 0;
};

struct PolicyServer::State {
  asio::io_context& io;
  PolicyServerOptions options;
  std::optional<asio::ip::tcp::acceptor> tcp;
  std::optional<asio::local::stream_protocol::acceptor> local;
  std::string unix_path;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open{0};
  std::atomic<uint64_t> next_id{1};
  std::mutex mu;
  std::map<uint64_t, std::weak_ptr<PolicyConnectionBase>> live;
  State(asio::io_context& i, PolicyServerOptions o) : io(i), options(std::move(o)) {}
};

namespace {

template <typename Socket>
class Connection final : public PolicyConnectionBase,
                         public std::enable_shared_from_this<Connection<Socket>> {
 public:
  Connection(std::shared_ptr<PolicyServer::State> state, Socket socket, uint64_t id)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        decoder_(state_->options.limits),
        id_(id) {}

  void start() {
    state_->open.fetch_add(1);
    {
      std::lock_guard lock(state_->mu);
      state_->live[id_] = this->shared_from_this();
    }
    do_read();
  }
  ~Connection() override {
    state_->open.fetch_sub(1);
    std::lock_guard lock(state_->mu);
    state_->live.erase(id_);
  }
  void server_stopping() override {
    asio::post(socket_.get_executor(),
               [self = this->shared_from_this()] { self->close("server stopping"); });
  }

 private:
  void do_read() {
    if (closed_)
      return;
    idle_.expires_after(state_->options.idle_timeout);
    idle_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec)
        self->close("idle timeout");
    });
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = this->shared_from_this()](error_code ec, size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(error_code ec, size_t n) {
    idle_.cancel();
    if (closed_)
      return;
    if (ec) {
      close(ec == asio::error::eof ? "" : ec.message());
      return;
    }
    if (auto st = decoder_.feed(std::string_view(buffer_.data(), n)); !st) {
      // No reply: Postfix retries or applies smtpd_policy_service_default_action.
      close(st.error().describe());
      return;
    }
    while (auto req = decoder_.next()) {
      std::string action = state_->options.handler(*req);
      outbox_.push_back(encode_policy_reply(action));
    }
    if (!writing_)
      write_next();
    do_read();
  }

  void write_next() {
    if (outbox_.empty() || closed_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(outbox_.front()),
                      [self = this->shared_from_this()](error_code ec, size_t) {
                        self->outbox_.pop_front();
                        if (ec) {
                          self->close("write error");
                          return;
                        }
                        self->write_next();
                      });
  }

  void close(std::string_view why) {
    if (closed_)
      return;
    closed_ = true;
    if (!why.empty())
      log_line("info", fmt::format("event=policy_close conn={} {}", id_, kv("reason", why)));
    error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    idle_.cancel();
  }

  std::shared_ptr<PolicyServer::State> state_;
  Socket socket_;
  asio::steady_timer idle_;
  std::array<char, 16384> buffer_{};
  PolicyDecoder decoder_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closed_ = false;
  uint64_t id_;
};

template <typename Acceptor, typename Socket>
void accept_loop(std::shared_ptr<PolicyServer::State> state, Acceptor& acceptor) {
  acceptor.async_accept(asio::make_strand(state->io), [state, &acceptor](error_code ec, Socket s) {
    if (state->stopping || ec == asio::error::operation_aborted)
      return;
    if (!ec) {
      std::make_shared<Connection<Socket>>(state, std::move(s), state->next_id++)->start();
    } else {
      log_line("warn", fmt::format("event=policy_accept_error {}", kv("error", ec.message())));
    }
    accept_loop<Acceptor, Socket>(state, acceptor);
  });
}

}  // namespace

PolicyServer::PolicyServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
PolicyServer::~PolicyServer() { stop(); }

Result<std::unique_ptr<PolicyServer>> PolicyServer::start(asio::io_context& io,
                                                          PolicyServerOptions options) {
  if (!options.handler)
    return Error::config("policy server needs a handler");
  auto spec = server::parse_listen_spec(options.listen);
  if (!spec)
    return spec.error();
  auto state = std::make_shared<State>(io, std::move(options));
  error_code ec;
  if (spec->kind == "unix") {
    struct stat st {};
    if (::lstat(spec->host.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
      ::unlink(spec->host.c_str());
    state->local.emplace(io);
    asio::local::stream_protocol::endpoint ep(spec->host);
    state->local->open(ep.protocol(), ec);
    if (!ec)
      state->local->bind(ep, ec);
    if (!ec)
      state->local->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Error::config(fmt::format("policy listen {}: {}", spec->host, ec.message()));
    state->unix_path = spec->host;
    accept_loop<asio::local::stream_protocol::acceptor, asio::local::stream_protocol::socket>(
        state, *state->local);
  } else {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(spec->host), spec->port);
    state->tcp.emplace(io);
    state->tcp->open(ep.protocol(), ec);
    if (!ec)
      state->tcp->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      state->tcp->bind(ep, ec);
    if (!ec)
      state->tcp->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Error::config(
          fmt::format("policy listen {}:{}: {}", spec->host, spec->port, ec.message()));
    state->port = state->tcp->local_endpoint(ec).port();
    accept_loop<asio::ip::tcp::acceptor, asio::ip::tcp::socket>(state, *state->tcp);
  }
  return std::unique_ptr<PolicyServer>(new PolicyServer(std::move(state)));
}

void PolicyServer::stop() {
  if (!state_ || state_->stopping.exchange(true))
    return;
  auto state = state_;
  asio::post(state->io, [state] {
    error_code ignored;
    if (state->tcp)
      state->tcp->close(ignored);
    if (state->local) {
      state->local->close(ignored);
      ::unlink(state->unix_path.c_str());
    }
  });
  std::vector<std::shared_ptr<PolicyConnectionBase>> live;
  {
    std::lock_guard lock(state->mu);
    for (auto& [id, weak] : state->live)
      if (auto c = weak.lock())
        live.push_back(std::move(c));
  }
  for (auto& c : live)
    c->server_stopping();
}

uint16_t PolicyServer::port() const { return state_->port; }
size_t PolicyServer::connections() const { return state_->open.load(); }

}  // namespace mailsift::outbound
