#include "feedback/arf_relay.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

namespace mailsift::feedback {
namespace fs = std::filesystem;

Result<RelayOptions> RelayOptions::from_config(const Config& c) {
  RelayOptions o;
  std::string relay = c.get_string("feedback.arf_smtp_relay");
  o.rcpt_to = c.get_string("feedback.arf_rcpt_to");
  o.mail_from = c.get_string("feedback.arf_mail_from");
  o.retry_seconds = static_cast<int>(c.get_int("feedback.arf_retry_seconds"));
  std::string mta = c.get_string("feedback.reporting_mta");
  o.helo = mta.empty() ? "localhost" : mta;
  if (relay.empty())
    return o;
  if (c.get_string("feedback.arf_spool").empty())
    return Error::config("feedback.arf_smtp_relay needs feedback.arf_spool (the retry queue)");
  if (o.rcpt_to.empty() || o.rcpt_to.find('@') == std::string::npos)
    return Error::config("feedback.arf_smtp_relay needs feedback.arf_rcpt_to (an address)");
  std::string host = relay, port;
  if (relay.front() == '[') {
    size_t close = relay.find(']');
    if (close == std::string::npos)
      return Error::config("feedback.arf_smtp_relay: bad [IPv6]:port '" + relay + "'");
    host = relay.substr(1, close - 1);
    if (close + 1 < relay.size() && relay[close + 1] == ':')
      port = relay.substr(close + 2);
  } else if (size_t colon = relay.rfind(':'); colon != std::string::npos) {
    host = relay.substr(0, colon);
    port = relay.substr(colon + 1);
  }
  if (!port.empty()) {
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (*end || p < 1 || p > 65535)
      return Error::config("feedback.arf_smtp_relay: bad port in '" + relay + "'");
    o.port = static_cast<int>(p);
  }
  if (host.empty())
    return Error::config("feedback.arf_smtp_relay: no host in '" + relay + "'");
  o.host = host;
  if (o.mail_from.empty())
    o.mail_from = "abuse-report@" + o.helo;
  return o;
}

Result<SmtpReply> parse_smtp_reply_line(std::string_view line, bool* more) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
      !std::isdigit(static_cast<unsigned char>(line[1])) ||
      !std::isdigit(static_cast<unsigned char>(line[2])) || line[0] < '2' || line[0] > '5' ||
      (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
    return Error::malformed("not an SMTP reply: " + std::string(line.substr(0, 80)));
  SmtpReply r;
  r.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  r.text = std::string(line.size() > 4 ? line.substr(4) : std::string_view());
  if (more)
    *more = line.size() > 3 && line[3] == '-';
  return r;
}

namespace {

class Conn {
 public:
  ~Conn() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  Status connect(const RelayOptions& o) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(o.port);
    if (int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res); rc != 0)
      return Error::temporary("relay " + o.host + ": " + ::gai_strerror(rc));
    std::string why = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0)
        continue;
      timeval tv{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        break;
      }
      why = std::strerror(errno);
      ::close(fd);
    }
    ::freeaddrinfo(res);
    if (fd_ < 0)
      return Error::temporary("relay " + o.host + ":" + port + ": " + why);
    return Ok{};
  }
  Status send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0)
        return Error::temporary(std::string("relay write: ") + std::strerror(errno));
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Ok{};
  }
  // A whole (possibly multi-line) reply.
  Result<SmtpReply> reply() {
    for (;;) {
      std::string line;
      for (;;) {
        size_t nl = buf_.find('\n');
        if (nl != std::string::npos) {
          line = buf_.substr(0, nl + 1);
          buf_.erase(0, nl + 1);
          break;
        }
        if (buf_.size() > 4096)
          return Error::temporary("relay reply line too long");
        char tmp[1024];
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0)
          return Error::temporary(n == 0 ? std::string("relay closed the connection")
                                         : std::string("relay read: ") + std::strerror(errno));
        buf_.append(tmp, static_cast<size_t>(n));
      }
      bool more = false;
      auto r = parse_smtp_reply_line(line, &more);
      if (!r)
        return Error::temporary(r.error().message);
      if (!more)
        return r;
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

// Expects a 2xx/3xx reply; 4xx is temporary, 5xx permanent.
Status expect(Conn& c, int want_class, std::string_view step) {
  auto r = c.reply();
  if (!r)
    return r.error();
  if (r->code / 100 == want_class)
    return Ok{};
  std::string msg =
      "relay refused " + std::string(step) + ": " + std::to_string(r->code) + " " + r->text;
  return r->code >= 500 ? Error::permanent(msg) : Error::temporary(msg);
}

// CRLF line ends and dot-stuffing (RFC 5321 4.5.2).
std::string data_block(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 64);
  bool line_start = true;
  for (size_t i = 0; i < message.size(); ++i) {
    char ch = message[i];
    if (line_start && ch == '.')
      out += '.';
    if (ch == '\n' && (i == 0 || message[i - 1] != '\r'))
      out += '\r';
    out += ch;
    line_start = ch == '\n';
  }
  if (!out.ends_with("\r\n"))
    out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace

Status smtp_send(const RelayOptions& o, std::string_view message) {
  Conn c;
  if (auto s = c.connect(o); !s)
    return s;
  if (auto s = expect(c, 2, "the connection"); !s)
    return s;
  if (auto s = c.send("EHLO " + o.helo + "\r\n"); !s)
    return s;
  if (auto s = expect(c, 2, "EHLO"); !s)
    return s;
  if (auto s = c.send("MAIL FROM:<" + o.mail_from + ">\r\n"); !s)
    return s;
  if (auto s = expect(c, 2, "MAIL FROM"); !s)
    return s;
  if (auto s = c.send("RCPT TO:<" + o.rcpt_to + ">\r\n"); !s)
    return s;
  if (auto s = expect(c, 2, "RCPT TO"); !s)
    return s;
  if (auto s = c.send("DATA\r\n"); !s)
    return s;
  if (auto s = expect(c, 3, "DATA"); !s)
    return s;
  if (auto s = c.send(data_block(message)); !s)
    return s;
  if (auto s = expect(c, 2, "the message"); !s)
    return s;
  (void)c.send("QUIT\r\n");  // accepted already: a lost QUIT changes nothing
  return Ok{};
}

FlushResult ArfRelay::flush() {
  std::lock_guard lock(mu_);
  FlushResult out;
  if (options_.host.empty())
    return out;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(spool_, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".eml")
      files.push_back(it->path());
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream in(files[i], std::ios::binary);
    if (!in)
      continue;  // removed meanwhile
    std::stringstream ss;
    ss << in.rdbuf();
    Status s = smtp_send(options_, ss.str());
    if (s) {
      fs::remove(files[i], ec);
      ++out.sent;
      continue;
    }
    out.last_error = s.error().message;
    if (s.error().kind == ErrorKind::kPermanent) {
      fs::create_directories(fs::path(spool_) / "rejected", ec);
      fs::rename(files[i], fs::path(spool_) / "rejected" / files[i].filename(), ec);
      ++out.rejected;
      continue;
    }
    // The relay is down or deferring: everything left waits for the next flush.
    out.pending = static_cast<int>(files.size() - i);
    break;
  }
  return out;
}

void ArfSender::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    std::string last;
    while (!stopping_) {
      woken_ = false;
      lock.unlock();
      FlushResult r = relay_.flush();
      if (r.sent || r.rejected || (r.pending && r.last_error != last))
        std::cerr << "mailsiftd: arf relay: sent " << r.sent << ", rejected " << r.rejected
                  << ", pending " << r.pending
                  << (r.last_error.empty() ? "" : " (" + r.last_error + ")") << "\n";
      last = r.pending ? r.last_error : "";
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(retry_s_), [this] { return woken_ || stopping_; });
    }
  });
}

void ArfSender::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void ArfSender::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

}  // namespace mailsift::feedback
