#include "http/request.h"

#include <boost/asio/ip/address.hpp>
#include <cctype>

namespace mailsift::http {
namespace {

namespace bhttp = boost::beast::http;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size())
        return Error::malformed("truncated %-escape in query");
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0)
        return Error::malformed("bad %-escape in query");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Validated free-text value (HELO, queue id, user): bounded, no control characters.
Result<std::string> text_value(std::string_view value, std::string_view what) {
  value = trim(value);
  if (value.size() > kMaxFieldBytes)
    return Error::malformed(std::string(what) + " is too long");
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Error::malformed(std::string(what) + " holds a control character");
  return std::string(value);
}

bool truthy(std::string_view v) {
  return v == "1" || iequals(v, "true") || iequals(v, "yes") || iequals(v, "outbound");
}

// One named input (query parameter or header) applied to the params. `strict_ip`: native
// clients get a 400 for a bad IP; Rspamd clients get it ignored, as Rspamd does.
Status apply(RequestParams& p, std::string_view name, std::string_view value, bool strict_ip) {
  auto is = [&](std::string_view n) { return iequals(name, n); };
  if (is("rcpt")) {
    if (p.recipients.size() >= kMaxRecipients)
      return Error::malformed("too many recipients");
    auto a = normalise_address(value, "rcpt");
    if (!a.ok())
      return a.error();
    if (!a->empty())
      p.recipients.push_back(std::move(a.value()));
  } else if (is("from")) {
    auto a = normalise_address(value, "from");
    if (!a.ok())
      return a.error();
    p.envelope.mail_from = std::move(a.value());
  } else if (is("ip")) {
    auto t = text_value(value, "ip");
    if (!t.ok())
      return t.error();
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(t.value(), ec);
    if (ec) {
      if (strict_ip)
        return Error::malformed("ip is not an IP address");
      p.envelope.client_ip.clear();
    } else {
      p.envelope.client_ip = addr.to_string();
    }
  } else if (is("helo")) {
    auto t = text_value(value, "helo");
    if (!t.ok())
      return t.error();
    p.envelope.helo = std::move(t.value());
  } else if (is("queue-id") || is("queue_id")) {
    auto t = text_value(value, "queue-id");
    if (!t.ok())
      return t.error();
    p.envelope.queue_id = std::move(t.value());
  } else if (is("user")) {
    auto t = text_value(value, "user");
    if (!t.ok())
      return t.error();
    p.user = std::move(t.value());
    p.envelope.auth_user = p.user;
  } else if (is("deliver-to") || is("deliver_to")) {
    auto a = normalise_address(value, "deliver-to");
    if (!a.ok())
      return a.error();
    p.deliver_to = std::move(a.value());
  } else if (is("outbound")) {
    p.envelope.outbound = truthy(trim(value));
  }
  // Anything else (Hostname, Pass, Flags, Settings-ID, Filename, ...) is ignored on purpose.
  return Ok{};
}

// Learn scope as Rspamd's controller picks it: Deliver-To, else User (when it is an address),
// else the only recipient.
void choose_learn_recipient(RequestParams& p) {
  if (!p.deliver_to.empty())
    p.learn_recipient = p.deliver_to;
  else if (p.user.find('@') != std::string::npos)
    p.learn_recipient = p.user;
  else if (p.recipients.size() == 1)
    p.learn_recipient = p.recipients.front();
}

Status apply_headers(RequestParams& p, const Request& request, bool strict_ip) {
  for (const auto& field : request) {
    std::string_view name(field.name_string().data(), field.name_string().size());
    std::string_view value(field.value().data(), field.value().size());
    if (auto s = apply(p, name, value, strict_ip); !s.ok())
      return s;
  }
  return Ok{};
}

}  // namespace

RouteMatch match_route(std::string_view path) {
  using V = bhttp::verb;
  struct Entry {
    std::string_view path;
    Route route;
    V method;
    const char* name;
  };
  static constexpr Entry kRoutes[] = {
      {"/api/v1/scan", Route::kScan, V::post, "scan"},
      {"/api/v1/learn/spam", Route::kLearnSpam, V::post, "learn_spam"},
      {"/api/v1/learn/ham", Route::kLearnHam, V::post, "learn_ham"},
      {"/api/v1/unlearn/spam", Route::kUnlearnSpam, V::post, "unlearn_spam"},
      {"/api/v1/unlearn/ham", Route::kUnlearnHam, V::post, "unlearn_ham"},
      {"/health", Route::kHealth, V::get, "health"},
      {"/bounce", Route::kBounce, V::post, "bounce"},
      {"/api/v1/bounce", Route::kBounce, V::post, "bounce"},
      {"/metrics", Route::kMetrics, V::get, "metrics"},
      {"/checkv2", Route::kRspamdCheck, V::post, "rspamd_checkv2"},
      {"/check", Route::kRspamdCheck, V::post, "rspamd_check"},
      {"/symbols", Route::kRspamdCheck, V::post, "rspamd_symbols"},
      {"/learnspam", Route::kRspamdLearnSpam, V::post, "rspamd_learnspam"},
      {"/learnham", Route::kRspamdLearnHam, V::post, "rspamd_learnham"},
      {"/fuzzyadd", Route::kRspamdFuzzyAdd, V::post, "rspamd_fuzzyadd"},
      {"/fuzzydel", Route::kRspamdFuzzyDel, V::post, "rspamd_fuzzydel"},
      {"/ping", Route::kPing, V::get, "ping"},
  };
  for (const Entry& e : kRoutes)
    if (e.path == path)
      return {e.route, e.method, e.name};
  return {};
}

Result<Target> parse_target(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  t.path = std::string(target.substr(0, q));
  if (t.path.empty() || t.path.front() != '/')
    return Error::malformed("request target must be an absolute path");
  if (q == std::string_view::npos)
    return t;
  std::string_view rest = target.substr(q + 1);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty())
      continue;
    if (t.query.size() >= kMaxQueryParams)
      return Error::malformed("too many query parameters");
    size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    if (!key.ok())
      return key.error();
    auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value.ok())
      return value.error();
    t.query.emplace_back(std::move(key.value()), std::move(value.value()));
  }
  return t;
}

Result<std::string> normalise_address(std::string_view value, std::string_view what) {
  value = trim(value);
  if (value.size() > kMaxFieldBytes)
    return Error::malformed(std::string(what) + " is too long");
  if (value.size() >= 2 && value.front() == '<' && value.back() == '>') {
    value.remove_prefix(1);
    value.remove_suffix(1);
    value = trim(value);
  }
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Error::malformed(std::string(what) + " holds a control character");
  return std::string(value);
}

Result<RequestParams> native_params(const Target& target, const Request& request) {
  RequestParams p;
  if (auto s = apply_headers(p, request, /*strict_ip=*/true); !s.ok())
    return s.error();
  // A recipient list given in the query replaces the header list instead of adding to it.
  bool query_has_rcpt = false;
  for (const auto& [k, v] : target.query)
    if (iequals(k, "rcpt"))
      query_has_rcpt = true;
  if (query_has_rcpt)
    p.recipients.clear();
  for (const auto& [k, v] : target.query)
    if (auto s = apply(p, k, v, /*strict_ip=*/true); !s.ok())
      return s.error();
  choose_learn_recipient(p);
  return p;
}

Result<RequestParams> rspamd_params(const Request& request) {
  RequestParams p;
  if (auto s = apply_headers(p, request, /*strict_ip=*/false); !s.ok())
    return s.error();
  choose_learn_recipient(p);
  return p;
}

std::string find_message_id(std::string_view raw) {
  // Bound the work on a header block that never ends.
  constexpr size_t kMaxScan = 1 << 20;
  std::string_view head = raw.substr(0, kMaxScan);
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    std::string_view line = head.substr(pos, eol == std::string_view::npos ? head.npos : eol - pos);
    size_t next = eol == std::string_view::npos ? head.size() : eol + 1;
    if (trim(line).empty() && (line.empty() || line == "\r"))
      break;  // end of the header block
    constexpr std::string_view kName = "message-id:";
    if (line.size() >= kName.size() && iequals(line.substr(0, kName.size()), kName)) {
      std::string value(trim(line.substr(kName.size())));
      // Unfold continuation lines.
      while (next < head.size() && (head[next] == ' ' || head[next] == '\t')) {
        size_t e2 = head.find('\n', next);
        std::string_view cont =
            head.substr(next, e2 == std::string_view::npos ? head.npos : e2 - next);
        value += std::string(trim(cont));
        next = e2 == std::string_view::npos ? head.size() : e2 + 1;
      }
      std::string_view v = trim(value);
      if (!v.empty() && v.front() == '<')
        v.remove_prefix(1);
      size_t close = v.find('>');
      if (close != std::string_view::npos)
        v = v.substr(0, close);
      std::string out;
      for (char c : v.substr(0, kMaxFieldBytes))
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)
          out.push_back(c);
      return out;
    }
    pos = next;
  }
  return "";
}

}  // namespace mailsift::http
