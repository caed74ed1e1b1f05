#include "ipwatch/map_server.h"

#include <atomic>
#include <charconv>
#include <map>
#include <mutex>

#include "ipwatch/socketmap.h"

namespace mailsift::ipwatch {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

struct MapServer::State : std::enable_shared_from_this<MapServer::State> {
  explicit State(asio::io_context& i, MapServerOptions o)
      : io(i), acceptor(i), options(std::move(o)) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  MapServerOptions options;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  uint64_t next_id = 0;
  std::map<uint64_t, std::weak_ptr<tcp::socket>> live;
  void accept();
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<MapServer::State> state, tcp::socket socket, uint64_t id)
      : state_(std::move(state)),
        socket_(std::make_shared<tcp::socket>(std::move(socket))),
        id_(id) {}
  void start() {
    {
      std::lock_guard lock(state_->mu);
      state_->live[id_] = socket_;
    }
    read();
  }
  ~Connection() {
    std::lock_guard lock(state_->mu);
    state_->live.erase(id_);
  }

 private:
  void read() {
    auto self = shared_from_this();
    socket_->async_read_some(asio::buffer(chunk_), [self](error_code ec, size_t n) {
      if (ec)
        return;
      self->buffer_.append(self->chunk_.data(), n);
      self->process();
    });
  }
  void process() {
    std::string out;
    for (;;) {
      auto d = socketmap::decode(buffer_, state_->options.max_request);
      if (d.status == socketmap::Decode::kMalformed) {
        error_code ignored;
        socket_->close(ignored);
        return;
      }
      if (d.status == socketmap::Decode::kIncomplete)
        break;
      out += state_->options.reply(d.payload);
      buffer_.erase(0, d.consumed);
    }
    if (buffer_.size() > state_->options.max_request + 16) {
      error_code ignored;
      socket_->close(ignored);
      return;
    }
    if (out.empty()) {
      read();
      return;
    }
    auto self = shared_from_this();
    auto data = std::make_shared<std::string>(std::move(out));
    asio::async_write(*socket_, asio::buffer(*data), [self, data](error_code ec, size_t) {
      if (!ec)
        self->read();
    });
  }

  std::shared_ptr<MapServer::State> state_;
  std::shared_ptr<tcp::socket> socket_;
  uint64_t id_;
  std::array<char, 1024> chunk_{};
  std::string buffer_;
};

}  // namespace

void MapServer::State::accept() {
  auto self = shared_from_this();
  acceptor.async_accept([self](error_code ec, tcp::socket socket) {
    if (self->stopping)
      return;
    if (!ec) {
      uint64_t id;
      {
        std::lock_guard lock(self->mu);
        id = ++self->next_id;
      }
      std::make_shared<Connection>(self, std::move(socket), id)->start();
    }
    self->accept();
  });
}

Result<std::unique_ptr<MapServer>> MapServer::start(asio::io_context& io,
                                                    MapServerOptions options) {
  std::string_view spec = options.listen;
  if (spec.substr(0, 5) == "inet:")
    spec.remove_prefix(5);
  const auto colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return Error::config("ipwatch.map_listen: expected inet:HOST:PORT, got '" + options.listen +
                         "'");
  std::string host(spec.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto portstr = spec.substr(colon + 1);
  auto [p, pec] = std::from_chars(portstr.data(), portstr.data() + portstr.size(), port);
  if (pec != std::errc() || p != portstr.data() + portstr.size() || port > 65535)
    return Error::config("ipwatch.map_listen: bad port in '" + options.listen + "'");
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    return Error::config("ipwatch.map_listen: '" + host + "' is not an IP address");
  auto state = std::make_shared<State>(io, std::move(options));
  tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  state->acceptor.open(ep.protocol(), ec);
  if (!ec)
    state->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    state->acceptor.bind(ep, ec);
  if (!ec)
    state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error::temporary("ipwatch.map_listen: cannot listen on " + state->options.listen + ": " +
                            ec.message());
  state->accept();
  return std::unique_ptr<MapServer>(new MapServer(std::move(state)));
}

uint16_t MapServer::port() const {
  error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void MapServer::stop() {
  if (state_->stopping.exchange(true))
    return;
  // On the I/O threads: the acceptor and sockets are not thread-safe.
  asio::post(state_->io, [s = state_] {
    error_code ignored;
    s->acceptor.close(ignored);
    std::lock_guard lock(s->mu);
    for (auto& [id, w] : s->live)
      if (auto sock = w.lock())
        sock->close(ignored);
  });
}

MapServer::~MapServer() {
  stop();
}

}  // namespace mailsift::ipwatch
