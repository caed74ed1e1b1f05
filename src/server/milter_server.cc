#include "server/milter_server.h"

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
#include <type_traits>

#include "milter/codec.h"
#include "milter/session.h"
#include "server/log.h"

namespace mailsift::server {

namespace asio = boost::asio;
using boost::system::error_code;

Result<ListenSpec> parse_listen_spec(std::string_view spec) {
  ListenSpec out;
  if (spec.rfind("unix:", 0) == 0 || spec.rfind("local:", 0) == 0) {
    out.kind = "unix";
    out.host = std::string(spec.substr(spec.find(':') + 1));
    if (out.host.empty() || out.host.front() != '/') {
      return Error::config(fmt::format("listen '{}': unix socket path must be absolute", spec));
    }
    return out;
  }
  out.kind = "inet";
  if (spec.rfind("inet:", 0) == 0)
    spec.remove_prefix(5);
  if (spec.rfind("inet6:", 0) == 0)
    spec.remove_prefix(6);
  std::string_view host, port;
  if (auto at = spec.find('@'); at != std::string_view::npos) {  // libmilter: PORT@HOST
    port = spec.substr(0, at);
    host = spec.substr(at + 1);
  } else if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      return Error::config(fmt::format("listen '{}': expected [ADDRESS]:PORT", spec));
    }
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else {
    const auto colon = spec.rfind(':');
    if (colon == std::string_view::npos) {
      return Error::config(fmt::format("listen '{}': expected HOST:PORT or unix:/path", spec));
    }
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  unsigned long value = 0;
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos ||
      (value = std::stoul(std::string(port))) > 65535) {
    return Error::config(fmt::format("listen '{}': bad port '{}'", spec, port));
  }
  out.port = static_cast<uint16_t>(value);
  out.host = host.empty() ? "127.0.0.1" : std::string(host);
  error_code ec;
  asio::ip::make_address(out.host, ec);
  if (ec)
    return Error::config(fmt::format("listen '{}': '{}' is not an IP address", spec, out.host));
  return out;
}

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void server_stopping() = 0;
};

struct MilterServer::State {
  asio::io_context& io;
  MilterOptions options;
  std::optional<asio::ip::tcp::acceptor> tcp;
  std::optional<asio::local::stream_protocol::acceptor> local;
  std::string unix_path;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open{0};
  std::atomic<uint64_t> next_id{1};
  std::mutex mu;
  std::map<uint64_t, std::weak_ptr<ConnectionBase>> live;

  State(asio::io_context& i, MilterOptions o) : io(i), options(std::move(o)) {}
};

namespace {

std::string strip_brackets(std::string_view a) {
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>')
    a = a.substr(1, a.size() - 2);
  return std::string(a);
}

std::string macro_or_empty(const milter::Session& s, std::string_view name) {
  const std::string* v = s.macro(name);
  return v ? *v : std::string();
}

template <typename Socket>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Socket>> {
 public:
  Connection(std::shared_ptr<MilterServer::State> state, Socket socket, uint64_t id)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        progress_(socket_.get_executor()),
        decoder_(state_->options.max_packet),
        id_(id) {}

  void start() {
    state_->open.fetch_add(1);
    if (state_->options.observer)
      state_->options.observer->connection_opened();
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->live[id_] = this->shared_from_this();
    }
    log_line("debug",
             fmt::format("event=milter_connect {}", kv("conn", static_cast<int64_t>(id_))));
    do_read();
  }

  ~Connection() override {
    state_->open.fetch_sub(1);
    if (state_->options.observer)
      state_->options.observer->connection_closed();
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->live.erase(id_);
  }

  void server_stopping() override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this()] {
      // Between messages: close now. Inside one: finish it first (see after_end_of_message).
      if (!self->scanning_ && !self->session_.message().sender)
        self->close("server stopping");
    });
  }

 private:
  void do_read() {
    if (closed_)
      return;
    arm_idle_timer();
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = this->shared_from_this()](error_code ec, size_t n) { self->on_read(ec, n); });
  }

  void arm_idle_timer() {
    idle_.expires_after(state_->options.idle_timeout);
    idle_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec && !self->scanning_)
        self->close("idle timeout");
    });
  }

  void on_read(error_code ec, size_t n) {
    idle_.cancel();
    if (closed_)
      return;
    if (ec) {
      if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
        log_line("info",
                 fmt::format("event=milter_read_error conn={} {}", id_, kv("error", ec.message())));
      }
      close(ec == asio::error::eof ? "" : "read error");
      return;
    }
    decoder_.feed(std::string_view(buffer_.data(), n));
    process();
  }

  // Runs every complete command; stops early while a scan is outstanding (the MTA waits for
  // our end-of-message reply anyway) and reads on otherwise.
  void process() {
    while (!closed_ && !scanning_) {
      auto next = decoder_.next();
      if (!next) {
        log_line("warn", fmt::format("event=milter_protocol_error conn={} {}", id_,
                                     kv("error", next.error().message)));
        close("malformed packet");
        return;
      }
      if (!*next)
        break;
      const milter::Command& command = **next;
      auto expect = session_.on_command(command);
      if (!expect) {
        log_line("warn", fmt::format("event=milter_protocol_error conn={} {} {}", id_,
                                     kv("command", milter::command_name(command)),
                                     kv("error", expect.error().message)));
        close("protocol error");
        return;
      }
      if (std::holds_alternative<milter::Abort>(command) ||
          std::holds_alternative<milter::Helo>(command)) {
        reset_transaction();
      }
      switch (*expect) {
        case milter::Expect::kNothing:
          break;
        case milter::Expect::kClose:
          close("");
          return;
        case milter::Expect::kNegotiation:
          reply(milter::encode_optneg_reply(*session_.negotiated()));
          break;
        case milter::Expect::kReply:
          answer(command);
          break;
        case milter::Expect::kEndOfMessageReply:
          start_scan();
          return;
      }
    }
    if (!closed_ && !scanning_)
      do_read();
  }

  void answer(const milter::Command& command) {
    if (const auto* mail = std::get_if<milter::Mail>(&command)) {
      (void)mail;
      reset_transaction();
      service_ = state_->options.current_service();
      reply(milter::encode_continue());
      return;
    }
    if (const auto* rcpt = std::get_if<milter::Rcpt>(&command)) {
      on_rcpt(*rcpt);
      return;
    }
    reply(milter::encode_continue());
  }

  scan::Envelope envelope() const {
    scan::Envelope e;
    e.client_ip = macro_or_empty(session_, "{client_addr}");
    const auto& conn = session_.connection();
    if (e.client_ip.empty() && conn.connect &&
        (conn.connect->family == milter::Family::kInet ||
         conn.connect->family == milter::Family::kInet6)) {
      e.client_ip = conn.connect->address;
    }
    if (conn.helo)
      e.helo = *conn.helo;
    if (session_.message().sender)
      e.mail_from = strip_brackets(*session_.message().sender);
    e.queue_id = macro_or_empty(session_, "i");
    e.auth_user = macro_or_empty(session_, "{auth_authen}");
    e.outbound = !e.auth_user.empty() || macro_or_empty(session_, "{daemon_name}") == "ORIGINATING";
    return e;
  }

  void on_rcpt(const milter::Rcpt& rcpt) {
    if (!service_)
      service_ = state_->options.current_service();
    RecipientCheck check = service_->check_recipient_detail(envelope(), rcpt.recipient);
    if (check.reply) {
      log_line("info", fmt::format("event=rcpt_refused conn={} {} {} {}", id_,
                                   kv("qid", macro_or_empty(session_, "i")),
                                   kv("rcpt", strip_brackets(rcpt.recipient)),
                                   kv("reply", check.reply->to_string())));
      reply_code(*check.reply);
      return;
    }
    if (transaction_rejects_ && *transaction_rejects_ != check.reject_enabled) {
      // One end-of-data answer serves every recipient: keep the transaction uniform and let
      // the client send this recipient again in its own transaction (RFC 5321 4.5.3.1.10).
      log_line("info", fmt::format("event=rcpt_deferred conn={} {} reason=policy_class", id_,
                                   kv("rcpt", strip_brackets(rcpt.recipient))));
      reply_code(SmtpReply{452, "4.5.3",
                           "Too many recipients: recipients with a different spam policy need "
                           "their own transaction, send again"});
      return;
    }
    transaction_rejects_ = check.reject_enabled;
    accepted_.push_back(rcpt.recipient);
    reply(milter::encode_continue());
  }

  void reset_transaction() {
    transaction_rejects_.reset();
    accepted_.clear();
  }

  void start_scan() {
    scanning_ = true;
    if (!service_)
      service_ = state_->options.current_service();
    auto request = std::make_shared<ScanRequest>();
    auto raw = std::make_shared<std::string>(session_.message_bytes());
    request->raw = *raw;
    request->envelope = envelope();
    for (const auto& r : accepted_)
      request->recipients.push_back(r);
    if (request->recipients.empty()) {  // an MTA that does not send RCPT (SMFIP_NORCPT)
      for (const auto& r : session_.message().recipients)
        request->recipients.push_back(r.address);
    }
    arm_progress();
    auto service = service_;
    auto exec = state_->options.scan_executor ? state_->options.scan_executor
                                              : asio::any_io_executor(state_->io.get_executor());
    asio::post(exec, [self = this->shared_from_this(), request, raw, service] {
      const auto t0 = std::chrono::steady_clock::now();
      Result<ScanOutcome> result = Error::temporary("scan did not run");
      try {
        result = service->scan(*request);
      } catch (const std::exception& e) {
        result = Error::temporary(fmt::format("scan threw: {}", e.what()));
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      auto shared = std::make_shared<Result<ScanOutcome>>(std::move(result));
      asio::post(self->socket_.get_executor(), [self, shared, seconds, request] {
        self->finish_scan(*shared, seconds, *request);
      });
    });
  }

  void arm_progress() {
    progress_.expires_after(state_->options.progress_interval);
    progress_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || !self->scanning_ || self->closed_)
        return;
      self->reply(milter::encode_progress());
      self->arm_progress();
    });
  }

  void finish_scan(const Result<ScanOutcome>& result, double seconds, const ScanRequest& request) {
    progress_.cancel();
    if (state_->options.observer)
      state_->options.observer->scanned(result, seconds);
    if (closed_)
      return;
    const std::string qid = macro_or_empty(session_, "i");
    if (!result) {
      if (result.error().kind == ErrorKind::kTemporary) {
        log_line("warn", fmt::format("event=scan_failed conn={} {} {} reply=tempfail", id_,
                                     kv("qid", qid), kv("error", result.error().describe())));
        reply_code(SmtpReply{451, "4.7.1", "Temporary failure scanning message, try again later"});
      } else {
        // Not mail / too big for the scanner: deliver untouched rather than lose or bounce it.
        log_line("warn", fmt::format("event=scan_failed conn={} {} {} reply=accept", id_,
                                     kv("qid", qid), kv("error", result.error().describe())));
        reply(milter::encode_continue());
      }
    } else {
      const ScanOutcome& out = *result;
      std::string actions;
      for (const auto& r : out.recipients) {
        actions += fmt::format("{}{}:{}:{:.2f}", actions.empty() ? "" : ",", r.address,
                               scan::to_string(r.verdict.action), r.verdict.score);
      }
      log_line(
          "info",
          fmt::format("event=scan conn={} {} {} {} {} {} {} {}", id_, kv("qid", qid),
                      kv("id", out.decision_id), kv("from", request.envelope.mail_from),
                      kv("client", request.envelope.client_ip), kv("rcpts", actions),
                      kv("reply", out.message_reply ? out.message_reply->to_string() : "accept"),
                      kv("ms", seconds * 1000)));
      if (out.log_error) {
        log_line("error", fmt::format("event=decision_log_failed {} {}", kv("id", out.decision_id),
                                      kv("error", *out.log_error)));
      }
      if (out.message_reply) {
        reply_code(*out.message_reply);
      } else {
        deliver(out);
      }
    }
    scanning_ = false;
    reset_transaction();
    service_.reset();
    if (state_->stopping) {
      close("server stopping");
      return;
    }
    process();
  }

  // Header edits then accept. Edits the MTA did not grant are skipped; an edit that cannot be
  // encoded is dropped (logged) and the message is still accepted.
  void deliver(const ScanOutcome& out) {
    const milter::Negotiated& neg = *session_.negotiated();
    const milter::MessageState& msg = session_.message();
    std::string packets;
    auto add = [&](Result<std::string> packet, std::string_view what) {
      if (packet) {
        packets += *packet;
      } else {
        log_line("warn", fmt::format("event=header_edit_dropped conn={} {} {}", id_,
                                     kv("edit", what), kv("error", packet.error().message)));
      }
    };
    if (neg.has_action(milter::action::kChangeHeaders)) {
      for (const auto& name : out.remove_headers) {
        const uint32_t count = msg.header_count(name);
        if (count > 0)
          add(milter::encode_delete_headers(name, count), name);
      }
      // Forged Authentication-Results claiming our authserv-id, highest index first so the
      // lower indices stay valid (CHGHEADER with an empty value deletes that instance).
      for (uint32_t index : out.forged_authentication_results)
        add(milter::encode_change_header(index, "Authentication-Results", ""),
            "Authentication-Results");
      if (out.new_subject) {
        if (msg.header_count("Subject") > 0) {
          add(milter::encode_change_header(1, "Subject", neg.wire_header_value(*out.new_subject)),
              "Subject");
        } else {
          add(milter::encode_add_header("Subject", neg.wire_header_value(*out.new_subject)),
              "Subject");
        }
      }
    }
    if (neg.has_action(milter::action::kAddHeaders)) {
      // Ours goes on top, where RFC 8601 readers look first (INSHEADER at index 0).
      if (out.authentication_results)
        add(milter::encode_insert_header(0, "Authentication-Results",
                                         neg.wire_header_value(*out.authentication_results)),
            "Authentication-Results");
      // DKIM-Signature / ARC set above it: each INSHEADER at 0 goes on top, so bottom first.
      for (auto h = out.prepend_headers.rbegin(); h != out.prepend_headers.rend(); ++h)
        add(milter::encode_insert_header(0, h->name, neg.wire_header_value(h->value)), h->name);
      for (const auto& h : out.add_headers) {
        add(milter::encode_add_header(h.name, neg.wire_header_value(h.value)), h.name);
      }
    }
    packets += milter::encode_continue();
    if (!send_checked(packets))
      reply(milter::encode_continue());
  }

  void reply_code(const SmtpReply& r) {
    auto packet = milter::encode_replycode(r.code, r.enhanced, r.text);
    if (!packet) {
      log_line("error",
               fmt::format("event=bad_reply conn={} {}", id_, kv("error", packet.error().message)));
      reply(r.code >= 500 ? milter::encode_reject() : milter::encode_tempfail());
      return;
    }
    reply(*packet);
  }

  // Every packet goes through Session::on_reply first: a reply the MTA does not expect would
  // desynchronise the stream.
  bool send_checked(const std::string& packets) {
    if (closed_)
      return false;
    Status st = session_.on_reply(packets);
    if (!st) {
      log_line("error",
               fmt::format("event=reply_refused conn={} {}", id_, kv("error", st.error().message)));
      return false;
    }
    write(packets);
    return true;
  }

  void reply(const std::string& packet) {
    if (!send_checked(packet) && session_.pending() != 0) {
      // Fallback so the MTA is not left waiting: tempfail (a verdict every stage accepts).
      if (session_.on_reply(milter::encode_tempfail()))
        write(milter::encode_tempfail());
    }
  }

  void write(std::string bytes) {
    outbox_.push_back(std::move(bytes));
    if (!writing_)
      write_next();
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
    if (!why.empty()) {
      log_line("info", fmt::format("event=milter_close conn={} {}", id_, kv("reason", why)));
    }
    error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    idle_.cancel();
    progress_.cancel();
  }

  std::shared_ptr<MilterServer::State> state_;
  Socket socket_;
  asio::steady_timer idle_;
  asio::steady_timer progress_;
  std::array<char, 65536> buffer_{};
  milter::Decoder decoder_;
  milter::Session session_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closed_ = false;
  bool scanning_ = false;
  uint64_t id_;
  std::shared_ptr<ScanService> service_;
  std::optional<bool> transaction_rejects_;
  std::vector<std::string> accepted_;
};

template <typename Acceptor, typename Socket>
void accept_loop(std::shared_ptr<MilterServer::State> state, Acceptor& acceptor) {
  acceptor.async_accept(asio::make_strand(state->io), [state, &acceptor](error_code ec, Socket s) {
    if (state->stopping)
      return;
    if (!ec) {
      if constexpr (std::is_same_v<Socket, asio::ip::tcp::socket>) {
        // Replies are small and the MTA waits for each: never hold one back for Nagle.
        error_code ignored;
        s.set_option(asio::ip::tcp::no_delay(true), ignored);
      }
      auto conn = std::make_shared<Connection<Socket>>(state, std::move(s), state->next_id++);
      conn->start();
    } else if (ec != asio::error::operation_aborted) {
      log_line("warn", fmt::format("event=milter_accept_error {}", kv("error", ec.message())));
    }
    if (ec == asio::error::operation_aborted)
      return;
    accept_loop<Acceptor, Socket>(state, acceptor);
  });
}

}  // namespace

MilterServer::MilterServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
MilterServer::~MilterServer() {
  stop();
}

Result<std::unique_ptr<MilterServer>> MilterServer::start(asio::io_context& io,
                                                          MilterOptions options) {
  if (!options.current_service)
    return Error::config("milter server needs a ScanService source");
  auto spec = parse_listen_spec(options.listen);
  if (!spec)
    return spec.error();
  auto state = std::make_shared<State>(io, std::move(options));
  error_code ec;
  if (spec->kind == "unix") {
    // A stale socket from a crashed run would make bind fail; only remove a socket file.
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
      return Error::config(fmt::format("milter listen {}: {}", spec->host, ec.message()));
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
    if (ec) {
      return Error::config(
          fmt::format("milter listen {}:{}: {}", spec->host, spec->port, ec.message()));
    }
    state->port = state->tcp->local_endpoint(ec).port();
    accept_loop<asio::ip::tcp::acceptor, asio::ip::tcp::socket>(state, *state->tcp);
  }
  return std::unique_ptr<MilterServer>(new MilterServer(std::move(state)));
}

void MilterServer::stop() {
  if (!state_ || state_->stopping.exchange(true))
    return;
  // Acceptors are not thread-safe: close them on the io_context.
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
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    for (auto& [id, weak] : state->live) {
      if (auto c = weak.lock())
        live.push_back(std::move(c));
    }
  }
  for (auto& c : live)
    c->server_stopping();
}

uint16_t MilterServer::port() const {
  return state_->port;
}

size_t MilterServer::connections() const {
  return state_->open.load();
}

}  // namespace mailsift::server
