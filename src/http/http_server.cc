#include "http/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <optional>

namespace mailsift::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

class Session;

// After an error response the client may still be sending (e.g. the body we refused with 413).
// Closing with unread input makes the kernel send RST, and the client may lose our response;
// so we shut down our side and read-and-discard for at most this long before closing.
constexpr std::chrono::milliseconds kLingerTime{2000};

}  // namespace

struct HttpServer::State {
  State(asio::io_context& io_context, const HttpOptions& opts, ScanBackend& backend)
      : io(io_context),
        options(opts),
        own_metrics(opts.metrics ? nullptr : std::make_unique<Metrics>()),
        metrics(opts.metrics ? opts.metrics : own_metrics.get()),
        handler(backend, *metrics, opts.handler),
        acceptor(asio::make_strand(io_context)),
        retry_timer(acceptor.get_executor()) {}

  asio::io_context& io;
  const HttpOptions options;
  std::unique_ptr<Metrics> own_metrics;
  Metrics* metrics;
  Handler handler;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;  // backs off accept() after EMFILE and similar
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open{0};
  std::mutex mu;  // guards sessions
  std::map<const void*, std::weak_ptr<Session>> sessions;
};

namespace {

using State = HttpServer::State;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<State> state, tcp::socket socket)
      : st_(std::move(state)), stream_(std::move(socket)) {}

  ~Session() {
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      st_->sessions.erase(this);
    }
    st_->open.fetch_sub(1);
    st_->metrics->connection_closed(Frontend::kHttp);
  }

  void start() {
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      st_->sessions[this] = weak_from_this();
    }
    size_t open = st_->open.fetch_add(1) + 1;
    st_->metrics->connection_opened(Frontend::kHttp);
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), open] {
      if (self->st_->stopping.load()) {
        self->close();
      } else if (open > self->st_->options.max_connections) {
        self->write_error(503, "too many connections");
      } else {
        self->read_header();
      }
    });
  }

  beast::tcp_stream::executor_type get_executor_for_stop() { return stream_.get_executor(); }

  // From HttpServer::stop(), on this connection's strand.
  void on_server_stop() {
    if (idle_)
      close();  // the pending read completes with operation_aborted
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<size_t>(st_->options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(st_->options.max_body_bytes);
    idle_ = true;
    stream_.expires_after(served_ > 0 ? st_->options.idle_timeout : st_->options.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    idle_ = false;
    if (ec)
      return on_read_error(ec);
    // A request that can be answered from its head alone: do not wait for the body.
    const Request& req = parser_->get();
    auto expect = req[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      continue_.emplace(bhttp::status::continue_, 11);
      stream_.expires_after(st_->options.write_timeout);
      bhttp::async_write(stream_, *continue_,
                         [self = shared_from_this()](beast::error_code wec, std::size_t) {
                           if (wec)
                             return self->close();
                           self->read_body();
                         });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(st_->options.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec)
      return on_read_error(ec);
    Request req = parser_->release();
    parser_.reset();
    if (st_->options.slow_pool && is_slow(req.target())) {
      // Off the I/O thread; the reply is written back on this connection's strand. The work
      // guard keeps the io_context running until then.
      asio::post(*st_->options.slow_pool,
                 [self = shared_from_this(), req = std::move(req),
                  guard = asio::make_work_guard(stream_.get_executor())]() mutable {
                   Response res = self->st_->handler.handle(req);
                   asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
                     self->answer(std::move(res));
                   });
                 });
      return;
    }
    answer(st_->handler.handle(req));
  }

  bool is_slow(std::string_view target) const {
    const std::string_view path = target.substr(0, target.find('?'));
    for (const auto& prefix : st_->options.slow_prefixes)
      if (path.substr(0, prefix.size()) == prefix)
        return true;
    return false;
  }

  void answer(Response res) {
    ++served_;
    if (st_->stopping.load())
      res.keep_alive(false);
    write(std::move(res));
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::header_limit)
      return write_error(431, "request header too large");
    if (ec == bhttp::error::body_limit)
      return write_error(413, "request body too large (limit " +
                                  std::to_string(st_->options.max_body_bytes) + " bytes)");
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == bhttp::error::partial_message ||
        ec == asio::error::bad_descriptor)
      return close();  // client went away, was too slow, or we are stopping
    // Everything else is a request Beast could not parse.
    write_error(400, "malformed HTTP request: " + ec.message());
  }

  void write_error(int status, const std::string& message) {
    unsigned version = parser_ ? parser_->get().version() : 11;
    if (version != 10 && version != 11)
      version = 11;
    linger_ = true;  // the rest of the request may still be arriving
    write(st_->handler.transport_error(status, message, version));
  }

  void write(Response res) {
    res_.emplace(std::move(res));
    stream_.expires_after(st_->options.write_timeout);
    bhttp::async_write(stream_, *res_,
                       beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    bool keep_alive = res_->keep_alive();
    res_.reset();
    if (ec)
      return close();
    if (!keep_alive || st_->stopping.load())
      return linger_ ? linger_close() : close();
    read_header();
  }

  void linger_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec)
      return close();
    stream_.expires_after(kLingerTime);
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec)
                                return self->close();
                              self->drain();
                            });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  std::shared_ptr<State> st_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<Response> res_;
  std::array<char, 16384> scratch_{};
  size_t served_ = 0;
  bool idle_ = false;    // waiting for a request head: safe to close on stop
  bool linger_ = false;  // an error response was sent before the request was fully read
};

void do_accept(const std::shared_ptr<State>& st) {
  st->acceptor.async_accept(
      asio::make_strand(st->io), [st](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || st->stopping.load() || !st->acceptor.is_open())
          return;
        if (ec) {
          // Out of descriptors or similar: back off instead of spinning.
          st->retry_timer.expires_after(std::chrono::milliseconds(50));
          st->retry_timer.async_wait([st](beast::error_code) {
            if (!st->stopping.load())
              do_accept(st);
          });
          return;
        }
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(st, std::move(socket))->start();
        do_accept(st);
      });
}

}  // namespace

HttpServer::HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() {
  stop();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(asio::io_context& io,
                                                      const HttpOptions& options,
                                                      ScanBackend& backend) {
  beast::error_code ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec)
    return Error::config("http: cannot parse listen address '" + options.address +
                         "': " + ec.message());
  auto st = std::make_shared<State>(io, options, backend);
  tcp::endpoint endpoint(address, options.port);
  auto fail = [&](const char* what) {
    return Error::config(std::string("http: cannot ") + what + " " + options.address + ":" +
                         std::to_string(options.port) + ": " + ec.message());
  };
  st->acceptor.open(endpoint.protocol(), ec);
  if (ec)
    return fail("open socket for");
  st->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec)
    return fail("set SO_REUSEADDR on");
  st->acceptor.bind(endpoint, ec);
  if (ec)
    return fail("bind");
  st->acceptor.listen(options.listen_backlog, ec);
  if (ec)
    return fail("listen on");
  st->port = st->acceptor.local_endpoint(ec).port();
  if (ec)
    return fail("read the bound port of");
  // Accepting starts on the acceptor's strand, so stop() (posted there too) never races it.
  asio::post(st->acceptor.get_executor(), [st] { do_accept(st); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(st)));
}

void HttpServer::stop() {
  if (state_->stopping.exchange(true))
    return;
  std::shared_ptr<State> st = state_;
  asio::post(st->acceptor.get_executor(), [st] {
    beast::error_code ec;
    st->acceptor.close(ec);
    st->retry_timer.cancel();
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    for (auto& [key, weak] : st->sessions)
      if (auto s = weak.lock())
        live.push_back(std::move(s));
  }
  for (auto& s : live) {
    // Session's executor is its strand; run the check there.
    asio::post(s->get_executor_for_stop(), [s] { s->on_server_stop(); });
  }
}

uint16_t HttpServer::port() const {
  return state_->port;
}

size_t HttpServer::connections() const {
  return state_->open.load();
}

Metrics& HttpServer::metrics() {
  return *state_->metrics;
}

}  // namespace mailsift::http
