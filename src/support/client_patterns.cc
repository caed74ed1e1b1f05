#include "support/client_patterns.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/ascii.h"
#include "tenant/list_entry.h"

namespace mailsift::support {
namespace {

std::string domain_of(std::string_view address) {
  const std::string a = tenant::normalise_address(address);
  const auto at = a.rfind('@');
  return at == std::string::npos ? std::string() : a.substr(at + 1);
}

bool contains_ci(std::string_view hay, std::string_view needle) {
  return ascii_lower(hay).find(ascii_lower(needle)) != std::string::npos;
}

bool has_symbol(const decisions::RecipientDecision& r, std::string_view name) {
  return std::any_of(r.symbols.begin(), r.symbols.end(),
                     [&](const decisions::SymbolHit& s) { return s.name == name; });
}

}  // namespace

const std::vector<ClientPattern>& client_pattern_table() {
  static const std::vector<ClientPattern> kTable = {
      {"unauthenticated_own_domain", "Mail client did not authenticate",
       "The message came in from outside without SMTP AUTH, yet its envelope sender is one of our "
       "own hosted domains: a mail client (or device, scanner, web form) sent it on port 25 as if "
       "it were a foreign server, so it was treated as inbound mail and checked against SPF/DMARC "
       "instead of the user's account.",
       "In the client's outgoing (SMTP) settings: server = the provider's submission host, port "
       "587 with STARTTLS (or 465 with TLS), authentication on with the mailbox's user name and "
       "password."},
      {"relay_denied", "Relay denied to an unauthenticated client",
       "The client tried to send to an external recipient without SMTP AUTH; relaying is only "
       "allowed to authenticated users, so the server answered \"Relay access denied\".",
       "Turn on \"my outgoing server requires authentication\" and use port 587 (STARTTLS) or 465; "
       "check the password is current (a changed password makes some clients silently skip "
       "AUTH)."},
      {"unknown_recipient_unauth", "Recipient unknown because the client delivered to our MX",
       "An unauthenticated session was refused an external recipient as unknown: the client "
       "handed the message to our inbound servers (which only accept our own mailboxes) instead "
       "of submitting it for delivery.",
       "Set the outgoing server to the provider's submission host (not the MX host), port 587, "
       "with authentication."},
      {"account_suspended", "Sending account suspended",
       "Outbound mail was refused because the account, its domain or its reseller is suspended "
       "(see the account check for who set it, when and why).",
       "Nothing in the client: the status must be reviewed (mailsift account status USER); a "
       "status marked not reversible needs an administrator."},
      {"sending_disabled", "Sending disabled (account on hold)",
       "Outbound mail was refused because sending is disabled for the account; a reason starting "
       "with \"auto:\" means compromised-account detection held it.",
       "Check the account for compromise (password change, devices, forwarding rules) before "
       "`mailsift account activate USER`."},
      {"over_limit", "Sending limit reached",
       "Outbound mail was refused or deferred because a sending limit was reached (messages per "
       "hour, distinct recipients per day, recipients per message, or too many failed "
       "recipients).",
       "Compare the counters with the limits in the account check; bulk mail belongs on a list "
       "service; split large recipient lists; clean bouncing addresses."},
      {"policy_internal", "Limits could not be checked (our side)",
       "Outbound mail was deferred (4.3.0) because the sending limits could not be checked; the "
       "client retries and nothing is lost.",
       "Nothing in the client; check mailsiftd's outbound store (errors in the decision)."},
  };
  return kTable;
}

std::vector<ClientHint> recognise_client_patterns(const decisions::Decision& d,
                                                  const decisions::RecipientDecision& r,
                                                  const HostedDomainFn& is_hosted_domain) {
  std::vector<bool> hit(client_pattern_table().size(), false);
  auto hosted = [&](const std::string& domain) {
    return !domain.empty() && is_hosted_domain && is_hosted_domain(domain);
  };
  const bool unauthenticated = d.auth_user.empty();
  const bool inbound = d.direction != "outbound";
  const std::string sender_domain = domain_of(d.mail_from);
  const std::string rcpt_domain = domain_of(r.address);
  const std::string& reply = r.smtp_reply;

  if (inbound && unauthenticated && hosted(sender_domain))
    hit[0] = true;
  if (unauthenticated &&
      (contains_ci(reply, "relay access denied") || contains_ci(reply, "relaying denied") ||
       (contains_ci(reply, "5.7.1") && contains_ci(reply, "relay"))))
    hit[1] = true;
  if (unauthenticated && !rcpt_domain.empty() && !hosted(rcpt_domain) &&
      (contains_ci(reply, "user unknown") || contains_ci(reply, "5.1.1") ||
       contains_ci(reply, "does not exist")))
    hit[2] = true;
  if (has_symbol(r, "OUTBOUND_suspended") || contains_ci(reply, "Account suspended for"))
    hit[3] = true;
  if (has_symbol(r, "OUTBOUND_sending_disabled") || contains_ci(reply, "Sending disabled for"))
    hit[4] = true;
  for (const char* rule : {"OUTBOUND_messages_per_hour", "OUTBOUND_recipients_per_message",
                           "OUTBOUND_distinct_recipients_per_day", "OUTBOUND_failed_ratio"}) {
    if (has_symbol(r, rule))
      hit[5] = true;
  }
  if (contains_ci(reply, "Rate limit:") || contains_ci(reply, "Too many recipients:") ||
      contains_ci(reply, "Too many failed recipients:"))
    hit[5] = true;
  if (has_symbol(r, "OUTBOUND_internal") ||
      contains_ci(reply, "Temporary problem checking sending limits"))
    hit[6] = true;

  std::vector<ClientHint> out;
  const auto& table = client_pattern_table();
  for (size_t i = 0; i < table.size(); ++i) {
    if (!hit[i])
      continue;
    out.push_back({std::string(table[i].id), std::string(table[i].title),
                   std::string(table[i].explanation), std::string(table[i].check)});
  }
  return out;
}

std::string render_client_pattern_table_markdown() {
  std::string out = "| pattern | what it means | what to check |\n|---|---|---|\n";
  for (const auto& p : client_pattern_table())
    out += fmt::format("| `{}` — {} | {} | {} |\n", p.id, p.title, p.explanation, p.check);
  return out;
}

}  // namespace mailsift::support
