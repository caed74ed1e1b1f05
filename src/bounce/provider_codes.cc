#include "bounce/provider_codes.h"

#include <cctype>

namespace mailsift::bounce {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
char up(char c) {
  return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
}

// Orange and La Poste end their replies with a token such as "LPN007_416", "OFR005_505",
// "OFR_999" or "OUK_513": the last three digits are the error number of their postmaster
// documentation.
std::string_view orange(int code) {
  switch (code) {
    case 102:  // source IP blocked for spam incidents
    case 103:
    case 401:  // SPF: not allowed to send
    case 510:
    case 999:  // service refused
      return "blocked";
    case 104:  // too many connections
      return "toomanyconn";
    case 305:  // invalid authentication code
    case 402:  // authentication required
      return "securityerror";
    case 403:  // invalid sender
    case 405:
    case 415:
    case 421:  // MAIL FROM not owned by the user
      return "rejected";
    case 416:  // invalid recipient
    case 418:
      return "userunknown";
    case 417:  // recipient over quota
      return "mailboxfull";
    case 420:  // archived recipient
    case 426:  // recipient account blocked
      return "suspend";
    case 505:  // service refused, try later (their side)
      return "systemerror";
    case 506:  // mail rejected (content)
      return "spamdetected";
    case 514:  // message size limit
      return "mesgtoobig";
    default:
      return {};
  }
}

// Cox: "AUP#<CODE>" with letter codes
// (https://www.cox.com/residential/support/email-error-codes.html).
std::string_view cox(std::string_view code) {
  if (code.substr(0, 4) == "IPBL" || code == "CXBL" || code == "CDRBL")
    return "blocked";  // sending IP on Cox's or a public blocklist
  if (code.substr(0, 5) == "URLBL")
    return "spamdetected";  // a URL in the body is blocklisted
  if (code == "CXDNS")
    return "requireptr";
  if (code == "CXSNDR")
    return "authfailure";
  if (code == "CXSMTP")
    return "rejected";
  if (code == "CXCNCT" || code == "CXMXRT")
    return "toomanyconn";
  if (code == "CXTHRT" || code == "CXMJ")
    return "securityerror";
  return {};
}

// Spectrum / Charter: "AUP#I1310" (incoming) or "AUP#O1010" (outgoing), four digits
// (spectrum.net "understanding email error codes").
std::string_view spectrum(int n) {
  if (n == 1000 || (n >= 1200 && n <= 1250))
    return "blocked";
  if (n == 1010 || (n >= 1020 && n <= 1080) || n == 1500 || n == 1520)
    return "rejected";
  if (n == 1090)
    return "systemerror";
  if (n >= 1100 && n <= 1150)
    return "requireptr";
  if ((n >= 1160 && n <= 1190) || n == 1560)
    return "policyviolation";
  if (n == 1260)
    return "networkerror";
  if (n >= 1300 && n <= 1340)
    return "toomanyconn";
  if ((n >= 1350 && n <= 1490) || n == 1540 || n == 1550 || n == 1580)
    return "speeding";
  if (n == 1530)
    return "mesgtoobig";
  return {};
}

}  // namespace

std::string provider_code_reason(std::string_view d) {
  for (size_t i = 0; i + 4 < d.size(); ++i) {
    // Orange / La Poste tokens, standing alone.
    if (i > 0 && is_alnum(d[i - 1]))
      continue;
    std::string head{up(d[i]), up(d[i + 1]), up(d[i + 2])};
    if (head == "LPN" || head == "OFR" || head == "OUK") {
      size_t j = i + 3;
      while (j < d.size() && (is_digit(d[j]) || d[j] == '_' || d[j] == '-'))
        ++j;
      // The token ends in "_ddd" or "-ddd" (after an optional three-digit group).
      if (j - (i + 3) >= 4 && is_digit(d[j - 1]) && is_digit(d[j - 2]) && is_digit(d[j - 3]) &&
          (d[j - 4] == '_' || d[j - 4] == '-') && (j >= d.size() || !is_alnum(d[j]))) {
        int code = (d[j - 3] - '0') * 100 + (d[j - 2] - '0') * 10 + (d[j - 1] - '0');
        if (auto r = orange(code); !r.empty())
          return std::string(r);
      }
    }
    if (head == "AUP" && d[i + 3] == '#') {
      size_t s = i + 4, e = s;
      while (e < d.size() && (is_alnum(d[e]) || d[e] == '-'))
        ++e;
      std::string code;
      for (size_t k = s; k < e; ++k)
        code.push_back(up(d[k]));
      // Spectrum: letters (I, O, "In-") then four digits.
      size_t digits = code.find_first_of("0123456789");
      if (digits != std::string::npos && code.size() - digits == 4 &&
          code.find_first_not_of("0123456789", digits) == std::string::npos) {
        if (auto r = spectrum(std::stoi(code.substr(digits))); !r.empty())
          return std::string(r);
      }
      if (auto r = cox(code); !r.empty())
        return std::string(r);
    }
  }
  return {};
}

}  // namespace mailsift::bounce
