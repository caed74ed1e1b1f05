#include "bounce/rhost.h"

#include <cctype>
#include <vector>

#include "core/ascii.h"

namespace mailsift::bounce {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct Rule {
  std::string_view phrase;  // lower-case substring of the reply
  std::string_view reason;
};

struct Provider {
  // Host suffixes (".ezweb.ne.jp"); a recipient domain matches when it is the suffix without
  // its leading dot or a host under it.
  std::vector<std::string_view> hosts;
  std::vector<Rule> rules;  // first match wins
};

const std::vector<Provider>& providers() {
  static const std::vector<Provider> t = {
      // au (KDDI) answers "550 <addr>: User unknown" for an address that does not exist, but a
      // bare "550 : User unknown" when the recipient's own reception filter refused the sender
      // (au support pages on mail reception settings).
      {{".ezweb.ne.jp", "msmx.au.com"},
       {{"550 : user unknown", "filtered"}, {">: user unknown", "userunknown"}}},
      // AOL: its DNS-failure text for a domain whose MX answer is broken means the domain
      // accepts no mail.
      {{".mail.aol.com", ".mx.aol.com"},
       {{"host or domain name not found", "hostunknown"},
        {"type=mx: malformed or unexpected name server reply", "notaccept"}}},
      // Yahoo Inc. (senders.yahooinc.com/smtp-error-codes).
      {{".yahoodns.net"},
       {{"yahoo requires all senders to authenticate with either spf or dkim", "authfailure"},
        {" because the ip is in spamhaus's list;", "blocked"},
        {"not accepted from ip addresses on spamhaus xbl", "blocked"},
        {"relaying denied for ", "norelaying"},
        {"headers are not rfc compliant", "notcompliantrfc"},
        {"not accepted for policy reasons", "policyviolation"},
        {"temporarily deferred due to unexpected volume or user complaints", "rejected"},
        {"due to unresolvable rfc.5321 domain", "rejected"},
        {" will be permanently deferred", "rejected"},
        {"user is receiving mail too quickly", "speeding"},
        {" is no longer valid.", "suspend"},
        {"this mailbox is disabled", "suspend"},
        {"syntax error in parameters or arguments", "syntaxerror"},
        {"max message per connection reached", "toomanyconn"},
        {"dd this user doesn't have a ", "userunknown"},
        {"mailbox not found", "userunknown"}}},
      // Broadcom (Symantec) Email Security.cloud knowledge-base error texts.
      {{".messagelabs.com"},
       {{"domain authentication fail", "authfailure"},
        {"connection rejected by policy", "badreputation"},
        {"mail rejected because your ip is in the pbl", "blocked"},
        {"your ip address has been ", "blocked"},
        {"stray linefeeds in message", "contenterror"},
        {"tls/sslv3 connection required", "securityerror"},
        {" as a relay, ", "norelaying"},
        {"has detected that this message is not rfc 5322", "notcompliantrfc"},
        {"sender envelope domain not allowed for sender ip address", "rejected"},
        {"your domain has been blocked", "rejected"},
        {"your email address has been blocked", "rejected"},
        {"your envelope sender is in my badmailfrom list", "rejected"},
        {"your email address has been blacklisted", "rejected"},
        {"your domain has been blacklisted", "rejected"},
        {"please turn on smtp authentication in your mail client", "securityerror"},
        {"message filtered", "spamdetected"},
        {"filtered by outbound scanning", "spamdetected"},
        {"too many recipients received this hour", "toomanyconn"},
        {"too many messages", "toomanyconn"},
        {"no such user", "userunknown"},
        {"invalid recipient", "userunknown"},
        {"mailbox is not allowed", "userunknown"}}},
  };
  return t;
}

bool host_matches(const Provider& p, std::string_view host) {
  if (host.empty())
    return false;
  for (auto h : p.hosts) {
    std::string_view bare = h.front() == '.' ? h.substr(1) : h;
    if (host == bare || ends_with(host, h))
      return true;
  }
  return false;
}

std::string host_name(std::string_view v) {
  std::string h = ascii_lower(v);
  while (!h.empty() && (h.back() == '.' || h.back() == ' '))
    h.pop_back();
  return h;
}

// NTT docomo's MX answers "550 Unknown user <addr>" both for an address that does not exist
// (at RCPT) and for mail its user's reception settings refuse (after DATA); the Status the
// relay derived and the refused command tell them apart (Sisimai Rhost/NTTDOCOMO.pm, the rule
// its public test set is labelled with; Sisimai noted in 2025 that docomo stopped refusing
// after DATA, so the DATA branch only matters for older bounces).
std::string docomo(const RhostInput& in, const std::string& text) {
  if (in.status == "5.1.1" || in.status == "5.0.911")
    return "userunknown";
  if (in.status == "5.2.0")
    return "filtered";
  if (text.find("552 too much mail data") != std::string::npos)
    return "mailboxfull";
  if (text.find("552 too many recipients") != std::string::npos)
    return "toomanyconn";
  if (text.find("503 bad sequence of commands") != std::string::npos ||
      text.find("504 command parameter not implemented") != std::string::npos)
    return "syntaxerror";
  if (in.status == "5.0.0") {
    if (in.command == "RCPT")
      return "userunknown";
    if (in.command == "DATA")
      return "rejected";
  }
  return {};
}

}  // namespace

std::string rhost_reason(const RhostInput& in) {
  if (in.diagnostic.empty())
    return {};
  std::string rcpt = ascii_lower(in.recipient);
  size_t at = rcpt.rfind('@');
  std::string_view domain =
      at == std::string::npos ? std::string_view{} : std::string_view(rcpt).substr(at + 1);
  const std::string hosts[] = {std::string(domain), host_name(in.remote_mta),
                               host_name(in.reporting_mta)};
  if (hosts[1] == "mfsmax.docomo.ne.jp")
    return docomo(in, ascii_lower(in.diagnostic));
  const Provider* who = nullptr;
  for (const auto& h : hosts) {
    for (const auto& p : providers())
      if (host_matches(p, h)) {
        who = &p;
        break;
      }
    if (who)
      break;
  }
  if (!who)
    return {};
  std::string text = ascii_lower(in.diagnostic);
  for (const auto& r : who->rules)
    if (text.find(r.phrase) != std::string::npos)
      return std::string(r.reason);
  return {};
}

}  // namespace mailsift::bounce
