#include "bounce/advice.h"

#include <cctype>
#include <string>

#include "core/ascii.h"
#include "mime/message.h"

namespace mailsift::bounce {
namespace {

bool has(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

}  // namespace

const std::vector<ReasonDoc>& reason_docs() {
  static const std::vector<ReasonDoc> d = {
      {"userunknown", "The recipient address does not exist.",
       "Permanent: the receiving server says the mailbox does not exist. Check the address for "
       "typos (local part and domain); remove it from lists if it keeps bouncing.",
       "The address you wrote to does not exist. Check the spelling, or ask the person for their "
       "current address."},
      {"hostunknown", "The recipient's domain does not exist or has no mail server.",
       "Permanent: the domain has no MX/A record or does not exist. Check the domain for typos "
       "(gmial.com, .con).",
       "The part after the @ in the address is wrong or no longer exists. Check the spelling."},
      {"mailboxfull", "The recipient's mailbox is full.",
       "Temporary on the recipient's side: their quota is exhausted. Nothing to fix on ours; a "
       "later retry may work.",
       "The recipient's mailbox is full. They must free space; try again later or reach them "
       "another way."},
      {"mesgtoobig", "The message is larger than the receiving server accepts.",
       "The message size exceeded the recipient server's limit. Suggest sending attachments as "
       "links or in several messages.",
       "Your message is too big for the recipient's server. Remove or shrink attachments, or "
       "share them as a link."},
      {"exceedlimit", "The message exceeded a limit of the recipient's mailbox.",
       "A per-mailbox limit (message size or header size) was exceeded.",
       "Your message exceeds a limit at the recipient. Make it smaller and send again."},
      {"suspend", "The recipient's account is suspended or disabled.",
       "The mailbox exists but is disabled (unpaid, inactive, locked). Only the recipient or "
       "their provider can reactivate it.",
       "The recipient's account is currently disabled. Reach them another way."},
      {"hasmoved", "The recipient's address has moved.",
       "The mailbox has moved and mail is not forwarded. The bounce may name the new address.",
       "The person no longer uses this address. Ask them for their new one."},
      {"norelaying", "The receiving server refused to relay the message.",
       "The server contacted is not responsible for the recipient's domain (wrong MX, or the "
       "client sent through a server without authenticating). Check the client's SMTP settings "
       "and authentication.",
       "Your mail program may not be logged in to the outgoing server. Check its SMTP "
       "authentication settings."},
      {"authfailure", "The sender's domain failed SPF, DKIM or DMARC checks.",
       "The recipient refused mail that failed sender authentication. Check the sender domain's "
       "records named in the checks: SPF TXT must include our outbound servers, DKIM must sign "
       "with a published selector, DMARC must be satisfiable (aligned SPF or DKIM).",
       "The recipient could not verify that the mail really came from your domain. Your domain's "
       "administrator must fix its SPF/DKIM/DMARC DNS records; support can tell them which."},
      {"filtered", "The recipient's server refused the message after reading it.",
       "Refused after DATA: recipient-side filter, rules, or an address that only accepts some "
       "senders. Not a spam verdict by itself.",
       "The recipient's server did not accept your message (their filter or settings). Reach "
       "them another way and ask them to allow your address."},
      {"requireptr", "The sending server's IP address lacks valid reverse DNS.",
       "The receiving server requires a PTR record matching the sending IP. That IP is ours (the "
       "provider's): escalate to operations to fix reverse DNS.",
       "A technical problem on our side stopped delivery. Support has been told; please try "
       "again later."},
      {"notcompliantrfc", "The message does not conform to the mail standards.",
       "The recipient refused a message violating RFC 5322 (duplicate headers, bad From:, bare "
       "LF). Check the sending program or script.",
       "Your message was malformed (often caused by the program that sent it). Try another mail "
       "program or contact support."},
      {"badreputation", "The sending IP or domain has a poor reputation at the recipient.",
       "The recipient throttles or refuses mail because of the sending IP/domain reputation. The "
       "IP is ours: escalate to the postmaster team; check complaint rates and volumes.",
       "The recipient's provider is currently distrusting mail from our servers. Support is "
       "handling it; try again later."},
      {"contenterror", "The message content or format was refused.",
       "Refused for its content format (MIME, encoding, header size).",
       "The recipient could not accept the format of your message. Send it as plain text or "
       "without the attachment."},
      {"rejected", "The recipient refused the sender address.",
       "Refused at MAIL FROM or for the envelope sender: the sender address or domain is "
       "blocked, unverifiable or not allowed by the recipient.",
       "The recipient does not accept mail from your address. Check that your sender address is "
       "correct, or ask the recipient to allow it."},
      {"spamdetected", "The recipient's spam filter refused the message.",
       "Content was judged spam by the recipient's filter. Review the message (links, wording, "
       "attachments); repeated cases hurt the sender's reputation.",
       "The recipient's spam filter refused your message. Rewrite it without suspicious links "
       "or wording, or contact the recipient another way."},
      {"speeding", "Too much mail was sent too quickly.",
       "The recipient rate-limited the sender. Check whether the account sends bulk or is "
       "compromised; slow down.",
       "You sent too many messages in a short time. Wait and send again later."},
      {"toomanyconn", "The recipient's server refused more connections.",
       "Too many concurrent connections or recipients. Usually transient on our side; the queue "
       "retries.",
       "The recipient's server was busy. It will normally work later."},
      {"blocked", "The sending server's IP address is blocked by the recipient.",
       "The recipient refused the connection from our sending IP (blocklist, reputation or local "
       "block). The IP is the provider's, not the user's: escalate for delisting with the list "
       "named in the check, if any.",
       "The recipient's server is blocking our mail server, not you personally. Support will "
       "take care of it; try again later or use another way to reach them."},
      {"virusdetected", "A virus scanner refused the message.",
       "The recipient's scanner found malware or a forbidden attachment type.",
       "The recipient's virus scanner refused an attachment. Check your computer for malware "
       "and send without that attachment."},
      {"policyviolation", "The message broke a policy of the recipient.",
       "Refused by recipient policy (attachments, mailing list membership, organisation rules).",
       "Your message was refused by the recipient organisation's rules. Ask them what they "
       "accept."},
      {"systemerror", "The recipient's mail system had an error.",
       "A configuration or system error on the receiving side (loops, misconfiguration).",
       "The recipient's mail system has a problem. Try again later."},
      {"systemfull", "The recipient's mail system is out of disk space.",
       "The receiving system's storage is full; transient.",
       "The recipient's mail system is full. Try again later."},
      {"networkerror", "A network or DNS problem prevented delivery.",
       "DNS failure, routing loop or unreachable network between servers.",
       "A network problem prevented delivery. Try again later."},
      {"notaccept", "The recipient's domain does not accept mail.",
       "The domain publishes a null MX or its servers refuse all mail.",
       "The recipient's domain does not receive e-mail. Check the address."},
      {"expired", "Delivery was retried until it timed out.",
       "The queue gave up after retrying (remote host unreachable or deferring). Check the "
       "remote MTA named in the report.",
       "Your message could not be delivered for several days and was returned. Try again later "
       "or check the address."},
      {"securityerror", "A security requirement was not met.",
       "Authentication, TLS or another security check failed (5.7.x). Check the client's "
       "authentication settings and TLS.",
       "A security check failed while sending. Check your mail program's login settings."},
      {"mailererror", "A local delivery program failed.",
       "A program on the receiving host (procmail, pipe) exited with an error.",
       "The recipient's server had an internal problem. Try again later."},
      {"syntaxerror", "An SMTP command was refused as malformed.",
       "A protocol syntax error between servers; usually a software issue.",
       "A technical error happened between mail servers. Support has the details."},
      {"suppressed", "The address is on the sending service's suppression list.",
       "The provider (e.g. Amazon SES) did not even try: the address bounced or complained "
       "before. Remove it, or delist it at the provider if it is valid again.",
       "This address failed before, so the message was not sent. Check the address."},
      {"onhold", "The reason could not be decided.",
       "The bounce has a diagnostic, but no rule recognised it. Read the diagnostic text.",
       "Your message was returned; support will look at the details."},
      {"undefined", "The reason could not be determined.",
       "No usable diagnostic. Check the server logs for this message.",
       "Your message was returned; support will look at the details."},
      {"delivered", "The message was delivered.",
       "A success notification (DSN action delivered), not a failure.",
       "Your message was delivered."},
      {"vacation", "An automatic reply (out of office), not a delivery failure.",
       "Auto-reply: the message was delivered; the recipient is away.",
       "Your message was delivered; the recipient replied automatically that they are away."},
      {"feedback", "A complaint (feedback report) about a message.",
       "An ARF feedback report: a recipient marked a message as spam (or the feedback type "
       "given). Check the sender's list hygiene; unsubscribe the recipient.",
       "A recipient reported your message as unwanted. Do not send to them again."},
  };
  return d;
}

std::string blocklist_named(std::string_view diagnostic) {
  std::string d = ascii_lower(diagnostic);
  struct L {
    std::string_view needle, name;
  };
  static constexpr L kLists[] = {{"spamhaus", "spamhaus"},
                                 {"spamcop", "spamcop"},
                                 {"barracuda", "barracuda"},
                                 {"sorbs", "sorbs"},
                                 {"abuseat", "cbl"},
                                 {"cbl.", "cbl"},
                                 {"uceprotect", "uceprotect"},
                                 {"psbl", "psbl"},
                                 {"invaluement", "invaluement"},
                                 {"spamrats", "spamrats"},
                                 {"mailspike", "mailspike"},
                                 {"senderscore", "senderscore"},
                                 {"proofpoint", "proofpoint"},
                                 {"cloudmark", "cloudmark"},
                                 {"trend micro", "trendmicro"},
                                 {"mail-abuse", "mail-abuse"},
                                 {"s3150", "microsoft"},
                                 {"protection.outlook.com", "microsoft"},
                                 {"junkemailfilter", "junkemailfilter"},
                                 {"orbs", "orbs"},
                                 {"dsbl", "dsbl"},
                                 {"backscatterer", "backscatterer"}};
  for (const auto& l : kLists)
    if (has(d, l.needle))
      return std::string(l.name);
  return {};
}

Advice advise(const Recipient& r, const Report& rep) {
  Advice a;
  const ReasonDoc* doc = nullptr;
  for (const auto& d : reason_docs())
    if (d.reason == r.reason)
      doc = &d;
  if (!doc)
    for (const auto& d : reason_docs())
      if (d.reason == "undefined")
        doc = &d;
  a.summary = std::string(doc->summary);
  a.support = std::string(doc->support);
  a.user = std::string(doc->user);

  std::string domain(mime::address_domain(rep.original.from));
  std::string ld = ascii_lower(r.diagnostic);
  if (r.reason == "authfailure" ||
      (r.reason == "securityerror" && (has(ld, "spf") || has(ld, "dkim") || has(ld, "dmarc")))) {
    // Which record: the status code (RFC 7372) or the wording names it.
    bool spf =
        has(ld, "spf") || r.status == "5.7.23" || r.status == "5.7.24" || r.status == "4.7.24";
    bool dkim =
        has(ld, "dkim") || r.status == "5.7.20" || r.status == "5.7.21" || r.status == "5.7.22";
    bool dmarc = has(ld, "dmarc") || r.status == "5.7.26";
    if (!spf && !dkim && !dmarc)
      spf = dkim = dmarc = true;
    std::string d = domain.empty() ? std::string("<sender domain>") : domain;
    std::string which;
    if (spf) {
      which += " SPF (TXT record of " + d + ")";
      a.checks.push_back("spf:" + d);
    }
    if (dkim) {
      which += std::string(which.empty() ? "" : ",") + " DKIM (selector._domainkey." + d + ")";
      a.checks.push_back("dkim:" + d);
    }
    if (dmarc) {
      which += std::string(which.empty() ? "" : ",") + " DMARC (_dmarc." + d + ")";
      a.checks.push_back("dmarc:" + d);
    }
    a.support += " Record(s) to fix:" + which + ".";
  }
  if (r.reason == "blocked" || r.reason == "badreputation" || r.reason == "spamdetected") {
    a.blocklist = blocklist_named(r.diagnostic);
    if (!a.blocklist.empty()) {
      a.support += " The diagnostic names the blocklist \"" + a.blocklist +
                   "\": request delisting of our sending IP there.";
      a.checks.push_back("dnsbl:" + a.blocklist);
    }
  }
  if (r.reason == "requireptr" || r.reason == "blocked") {
    // The sending IP is in the diagnostic text of many receivers ("[192.0.2.1]"); the
    // receiving host's own "mx.example.net[203.0.113.9]" (a name right before the bracket, as
    // Postfix writes the remote MTA) is not it.
    size_t open = ld.find('[');
    while (open != std::string::npos) {
      size_t close = ld.find(']', open);
      if (close == std::string::npos)
        break;
      std::string inner = ld.substr(open + 1, close - open - 1);
      const bool after_name = open > 0 && (std::isalnum(static_cast<unsigned char>(ld[open - 1])) ||
                                           ld[open - 1] == '.' || ld[open - 1] == '-');
      bool ip = !after_name && !inner.empty() && inner.size() <= 39 &&
                inner.find_first_not_of("0123456789.:abcdef") == std::string::npos &&
                (inner.find('.') != std::string::npos || inner.find(':') != std::string::npos);
      if (ip) {
        if (r.reason == "requireptr")
          a.checks.push_back("ptr:" + inner);
        break;
      }
      open = ld.find('[', close);
    }
  }
  return a;
}

}  // namespace mailsift::bounce
