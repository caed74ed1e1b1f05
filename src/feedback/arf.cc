// List-Unsubscribe parsing and ARF (RFC 5965) rendering.
#include <openssl/sha.h>

#include <cctype>
#include <string>

#include "feedback/feedback.h"

namespace mailsift::feedback {

Unsubscribe parse_list_unsubscribe(std::string_view v, std::string_view post) {
  // RFC 2369: a comma-separated list of <URI>s; clients use the first they support.
  Unsubscribe u;
  size_t i = 0;
  int seen = 0;
  while (i < v.size() && seen < 16) {
    size_t open = v.find('<', i);
    if (open == std::string_view::npos)
      break;
    size_t close = v.find('>', open + 1);
    if (close == std::string_view::npos)
      break;
    ++seen;
    std::string uri(v.substr(open + 1, close - open - 1));
    std::string clean;
    for (char c : uri)
      if (!std::isspace(static_cast<unsigned char>(c)))
        clean += c;
    std::string lower_prefix;
    for (size_t k = 0; k < clean.size() && k < 8; ++k)
      lower_prefix += static_cast<char>(std::tolower(static_cast<unsigned char>(clean[k])));
    if (u.http.empty() && lower_prefix.rfind("https://", 0) == 0)
      u.http = clean;
    if (u.http.empty() && lower_prefix.rfind("http://", 0) == 0)
      u.http = clean;
    if (u.mailto.empty() && lower_prefix.rfind("mailto:", 0) == 0)
      u.mailto = clean;
    i = close + 1;
  }
  // RFC 8058: one-click needs the exact POST body and an HTTPS target.
  std::string p;
  for (char c : post)
    if (!std::isspace(static_cast<unsigned char>(c)))
      p += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  u.one_click = p == "list-unsubscribe=one-click" && u.http.rfind("https://", 0) == 0;
  return u;
}

std::string redact_address(std::string_view address) {
  // RFC 6590: replace the local part by a one-way hash so the partner can correlate reports of
  // one mailbox without learning who it is.
  size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(local.data()), local.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int k = 0; k < 8; ++k) {
    out += hex[md[k] >> 4];
    out += hex[md[k] & 0xf];
  }
  if (at != std::string_view::npos)
    out += std::string(address.substr(at));
  return out;
}

std::string render_arf(const ArfInput& in) {
  const std::string boundary = "mailsift-arf-" + in.boundary_seed;
  std::string rcpt = redact_address(in.original_rcpt);
  std::string out;
  out += "From: <" + std::string("abuse-report@") +
         (in.reporting_mta.empty() ? "localhost" : in.reporting_mta) + ">\r\n";
  out += "Subject: Abuse report";
  if (!in.reported_domain.empty())
    out += " for " + in.reported_domain;
  out += "\r\nMIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"" +
         boundary + "\"\r\n\r\n";
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  out += "A user of " +
         (in.reporting_mta.empty() ? std::string("this service") : in.reporting_mta) +
         " reported the attached message as spam.\r\n";
  out += "The recipient's address is redacted (RFC 6590).\r\n\r\n";
  out += "--" + boundary + "\r\n";
  out += "Content-Type: message/feedback-report\r\n\r\n";
  out += "Feedback-Type: " + in.feedback_type + "\r\n";
  out += "User-Agent: " + in.user_agent + "\r\n";
  out += "Version: 1\r\n";
  if (!in.original_mail_from.empty())
    out += "Original-Mail-From: <" + in.original_mail_from + ">\r\n";
  if (!rcpt.empty())
    out += "Original-Rcpt-To: <" + rcpt + ">\r\n";
  if (!in.arrival_date.empty())
    out += "Arrival-Date: " + in.arrival_date + "\r\n";
  if (!in.reporting_mta.empty())
    out += "Reporting-MTA: dns; " + in.reporting_mta + "\r\n";
  if (!in.source_ip.empty())
    out += "Source-IP: " + in.source_ip + "\r\n";
  if (!in.reported_domain.empty())
    out += "Reported-Domain: " + in.reported_domain + "\r\n";
  out += "Redacted-Address: redacted\r\n";
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n";
  // The reported message, with the recipient's address redacted where it appears in headers.
  std::string body = in.raw;
  if (!in.original_rcpt.empty()) {
    size_t pos = 0;
    while ((pos = body.find(in.original_rcpt, pos)) != std::string::npos) {
      body.replace(pos, in.original_rcpt.size(), rcpt);
      pos += rcpt.size();
    }
  }
  out += body;
  if (!body.empty() && body.back() != '\n')
    out += "\r\n";
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace mailsift::feedback
