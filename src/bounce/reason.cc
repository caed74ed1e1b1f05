#include "bounce/reason.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <vector>

namespace mailsift::bounce {
namespace {

// One reason's phrases: `any` are substrings; each `pairs` entry is a sequence of substrings
// that must appear in this order (Sisimai's "aligned" match). All lower-case.
struct Phrases {
  std::string_view reason;
  std::vector<std::string_view> any;
  std::vector<std::vector<std::string_view>> pairs;
  std::vector<std::string_view> isnot;  // if any of these is present, the reason does not match
};

// The phrase table. Phrases are what MTAs and providers actually write; most are the ones
// Sisimai collected (its reason names are the vocabulary here), some are added from the MTAs'
// own sources and provider help pages. Kept general: no phrase names a test sample.
const std::vector<Phrases>& table() {
  static const std::vector<Phrases> t = {
      {"mailboxfull",
       {"452 insufficient disk space",
        "exceeded storage allocation",
        "full mailbox",
        "mailbox exceeds allowed size",
        "mailbox size limit exceeded",
        "mailbox would exceed maximum allowed storage",
        "mailfolder is full",
        "no space left on device",
        "not sufficient disk space",
        "quota violation for",
        "user has exceeded quota",
        "user has too many messages on the server",
        "user's space has been used up",
        "boite du destinataire pleine",
        "insufficient space",
        "mailbox is full",
        "too much mail data",
        "out of storage space",
        "over the allowed quota",
        "inbox is full",
        "storage quota"},
       {{"account is ", " quota"},
        {"disk", "quota"},
        {"enough ", " space"},
        {"mailbox ", "exceeded", " limit"},
        {"mailbox ", "full"},
        {"mailbox ", "quota"},
        {"maildir ", "quota"},
        {"over ", "quota"},
        {"quota ", "exceeded"}},
       {}},
      {"mesgtoobig",
       {"exceeded maximum inbound message size", "line limit exceeded", "max message size exceeded",
        "message file too big", "message length exceeds administrative limit",
        "message size exceeds fixed limit", "message size exceeds fixed maximum message size",
        "message size exceeds maximum value", "message too big", "message too large", "size limit",
        "taille limite du message atteinte", "message is too big", "message is too large",
        "exceeds the maximum size", "size exceeds"},
       {{"message ", "exceeds ", "size"}},
       {"mailbox size limit"}},
      {"exceedlimit",
       {"message header size exceeds limit", "message too many recipients", "too many recipients",
        "exceeds recipient limit"},
       {},
       {}},
      {"suspend",
       {" is currently suspended",
        " temporary locked",
        "archived recipient",
        "boite du destinataire archivee",
        "email account that you tried to reach is disabled",
        "has been suspended",
        "inactive account",
        "invalid/inactive user",
        "is a deactivated mailbox",
        "is unavailable: user is terminated",
        "mailbox currently suspended",
        "mailbox disabled",
        "mailbox is frozen",
        "mailbox unavailable or access denied",
        "recipient rejected: temporarily inactive",
        "recipient suspend the service",
        "the email account that you tried to reach is inactive",
        "this account has been disabled or discontinued",
        "this account has been temporarily suspended",
        "this mailbox is disabled",
        "user or domain is disabled",
        "user suspended",
        "account is locked",
        "account has been disabled",
        "account disabled",
        "account is disabled"},
       {},
       {}},
      {"hasmoved", {" has been replaced by ", "mailbox has moved"}, {}, {}},
      {"norelaying",
       {"as a relay",
        "insecure mail relay",
        "is not permitted to relay through this server without authentication",
        "mail server requires authentication when attempting to send to a non-local e-mail address",
        "not a gateway",
        "not allowed to relay",
        "not local host",
        "not permitted to relay",
        "not relaying",
        "no relaying",
        "relay access denied",
        "relay denied",
        "relay not allowed",
        "relay not permitted",
        "relaying denied",
        "relaying mail to ",
        "specified domain is not allowed",
        "that domain isn't in my list of allowed rcpthost",
        "unable to relay",
        "we do not relay"},
       {},
       {"relay access denied (in reply to mail from", "no valid recipients"}},
      {"authfailure",
       {"//spf.pobox.com",
        "bad spf records for",
        "dmarc policy",
        "doesn't meet the required authentication level",
        "please inspect your spf settings",
        "sender policy framework (spf) fail",
        "sender policy framework violation",
        "spf (sender policy framework) domain authentication fail",
        "spf check: fail",
        "the 5322.from address doesn't meet the authentication requirements",
        "is not allowed to send mail.",
        "spf validation failed",
        "spf fail",
        "spf failure",
        "dkim validation failed",
        "dkim verification failed",
        "dmarc verification failed",
        "failed dmarc",
        "unauthenticated email",
        "dmarc check failed",
        "not authorized by spf",
        "does not pass dmarc",
        "due to domain's dmarc policy",
        "dmarc reject",
        "does not have authentication information",
        "fails to pass authentication checks"},
       {{"is not allowed to send from <", " per it's spf record"},
        {"spf", "record", "does not designate"}},
       {}},
      {"userunknown",
       {"#5.1.1 bad address", "550 address invalid", "5.1.0 address rejected.",
        "address does not exist", "address not present in directory", "address unknown",
        "can't accept user", "does not exist.", "destination addresses were unknown",
        "destination server rejected recipients", "email address does not exist",
        "email address could not be found", "invalid address", "invalid mailbox",
        "invalid recipient", "is not a known user", "is not a valid mailbox",
        "is not an active address at this host", "mailbox does not exist", "mailbox invalid",
        "mailbox is inactive", "mailbox is unavailable", "mailbox not present", "mailbox not found",
        "mailbox unavaiable", "nessun utente simile in questo indirizzo",
        "no account by that name here", "no existe dicha persona", "no existe ese usuario ",
        "no mail box available for this user", "no mailbox by that name is currently available",
        "no mailbox found", "no such address here", "no such mailbox",
        "no such person at this address", "no such recipient", "no such user",
        "no thank you rejected: account unavailable", "no valid recipients, bye",
        "not a valid recipient", "not a valid user here", "not a local address",
        "not email addresses", "recipient address rejected. (in reply to rcpt to command)",
        "recipient address rejected: access denied", "recipient address rejected: invalid user",
        "recipient address rejected: invalid-recipient", "recipient address rejected: unknown user",
        "recipient address rejected: userunknown", "recipient does not exist",
        "recipient is not accepted", "recipient is not local", "recipient not exist",
        "recipient not found", "recipient not ok", "recipient refuses to accept your mail",
        "recipient unknown", "requested action not taken: mailbox unavailable",
        "resolver.adr.recipientnotfound", "resolver.adr.recipient notfound", "sorry, user unknown",
        "sorry, badrcptto", "sorry, no mailbox here by that name",
        "sorry, your envelope recipient has been denied",
        "that domain or user isn't in my list of allowed rcpthosts",
        "the email account that you tried to reach does not exist",
        "the following recipients was undeliverable", "the user's email name is not found",
        "there is no one at this address", "this address no longer accepts mail",
        "this email address is wrong or no longer valid",
        "this recipient is in my badrecipientto list",
        "this recipient is not in my validrcptto list", "this spectator does not exist",
        "unknown mailbox", "unknown recipient", "unknown user", "user does not exist",
        "user missing home directory", "user not active", "user not exist", "user not found",
        "user not known", "user unknown", "utilisateur inconnu !",
        "vdeliver: invalid or unknown virtual user",
        "weil die adresse nicht gefunden wurde oder keine e-mails empfangen kann",
        "your envelope recipient is in my badrcptto list", "no such local user",
        "addressee unknown", "unknown address", "bad destination mailbox address",
        "recipient address rejected: user unknown", "the recipient name is not recognized",
        // Counts only at RCPT (classify): the server refused this recipient, giving no reason.
        "recipient address rejected."},
       {{"<", "> not found"},
        {"<", ">... blocked by "},
        {"account ", " does not exist at the organization"},
        {"bad", "recipient"},
        {"mailbox ", "does not exist"},
        {"mailbox ", "unavailable or access denied"},
        {"no ", " in name directory"},
        {"non", "existent user"},
        {"rcpt <", " does not exist"},
        {"rcpt (", "t exist "},
        {"recipient ", " was not found in"},
        {"recipient address rejected: user ", " does not exist"},
        {"recipient address rejected: user unknown in ", " table"},
        {"said: 550", "5.1.1 ", " user unknown "},
        {"this user doesn't have a ", " account"},
        {"unknown e", "mail address"},
        {"unknown local", "part"},
        {"user ", " was not found"},
        {"user ", " does not exist"},
        {"user (", ") unknown"}},
       {}},
      {"filtered",
       {"account is protected by", "bounced address", "has restricted sms e-mail",
        "is not accepting any mail", "message filtered", "message rejected due to user rules",
        "not found recipient account", "recipient id refuse to receive mail",
        "recipient is only accepting mail from specific email addresses",
        "refused due to recipient preferences", "user not found",
        "user refuses to receive this mail", "user reject",
        "you have been blocked by the recipient"},
       {},
       {}},
      {"requireptr",
       {"access denied. ip name lookup failed",
        "all mail servers must have a ptr record with a valid reverse dns entry",
        "bad dns ptr resource record",
        "cannot find your hostname",
        "cannot resolve your address.",
        "client host rejected: cannot find your hostname",
        "fix reverse dns for ",
        "ips with missing ptr records",
        "no ptr record found.",
        "please get a custom reverse dns name from your isp for your host",
        "ptr record setup",
        "reverse dns failed",
        "reverse dns required",
        "sender ip reverse lookup rejected",
        "does not have a ptr record",
        "forward dns entry does not point to the sending ip",
        "will not accept messages from servers/devices with no reverse dns",
        "unresolvable relay host name",
        "we do not accept mail from hosts with dynamic ip or generic dns ptr-records",
        "reverse dns lookup failed",
        "no reverse dns"},
       {{"domain ", " mismatches client ip"},
        {"dns lookup failure: ", " try again later"},
        {"reverse dns lookup for host ", " failed permanently"},
        {"server access ", " forbidden by invalid rdns record of your mail server"},
        {"service permits ", " unverifyable sending ips"}},
       {}},
      {"notcompliantrfc",
       {"this message is not rfc 5322 compliant",
        "https://support.google.com/mail/?p=rfcmessagenoncompliant", "duplicate header",
        "multiple addresses in from: header are not accepted", "message is not rfc 5322 compliant",
        "not compliant with rfc", "rfc 5322 compliant", "rfc5322 compliant",
        "message contains bare lf", "bare <lf>"},
       {},
       {}},
      {"badreputation",
       {"has been temporarily rate limited due to ip reputation", "ip/domain reputation problems",
        "likely suspicious due to the very low reputation",
        "temporarily deferred due to unexpected volume or user complaints",
        "the sending mta's poor reputation", "poor reputation", "low reputation", "bad reputation",
        "reputation of the sending", "sender reputation"},
       {},
       {}},
      {"contenterror",
       {"improper use of 8-bit data in message header",
        "message header size, or recipient list, exceeds policy limit",
        "message mime complexity exceeds the policy maximum",
        "routing loop detected -- too many received: headers",
        "this message contain invalid mime headers",
        "this message contain improperly-formatted binary content",
        "this message contain text that uses unnecessary base64 encoding", "invalid mime",
        "malformed mime"},
       {},
       {}},
      {"rejected",
       {"access denied (in reply to mail from command)",
        "access denied (sender blacklisted)",
        "address rejected",
        "administrative prohibition",
        "batv failed to verify",
        "batv validation failure",
        "backscatter protection detected an invalid or expired email address",
        "because the sender isn't on the recipient's list of senders to accept mail from",
        "bogus mail from",
        "can't determine purported responsible address",
        "connections not accepted from servers without a valid sender domain",
        "denied [bouncedeny]",
        "denied by secumail valid-address-filter",
        "delivery not authorized, message refused",
        "does not exist e2110",
        "domain of sender address ",
        "email address is on senderfilterconfig list",
        "emetteur invalide",
        "empty envelope senders not allowed",
        "envelope blocked - ",
        "error: no third-party dsns",
        "from: domain is invalid. please provide a valid from:",
        "fully qualified email address required",
        "invalid domain, see <url:",
        "invalid sender",
        "is not a registered gateway user",
        "mail from not owned by user",
        "message rejected: email address is not verified",
        "mx records for ",
        "null sender is not allowed",
        "recipient addresses rejected : access denied",
        "recipient not accepted. (batv: no tag",
        "returned mail not accepted here",
        "rfc 1035 violation: recursive cname records for",
        "rule imposed mailbox access for",
        "sending this from a different address or alias using the ",
        "sender address has been blacklisted",
        "sender email address rejected",
        "sender is in my black list",
        "sender is spammer",
        "sender not pre-approved",
        "sender rejected",
        "sender domain is empty",
        "sender verify failed",
        "sender was rejected",
        "spam reporting address",
        "syntax error: empty email address",
        "the message has been rejected by batv defense",
        "this server does not accept mail from",
        "transaction failed unsigned dsn for",
        "unroutable sender address",
        "you are not allowed to post to this mailing list",
        "you are sending to/from an address that has been blacklisted",
        "your access to submit messages to this e-mail system has been rejected",
        "your email address has been blacklisted",
        "sender address rejected"},
       {},
       {"5.1.0 address rejected", "recipient address rejected", "sender ip address rejected"}},
      {"hostunknown",
       {"domain does not exist",
        "domain is not reachable",
        "domain must exist",
        "host or domain name not found",
        "host unknown",
        "host unreachable",
        "mail domain mentioned in email address is unknown",
        "name or service not known",
        "no such domain",
        "recipient address rejected: unknown domain name",
        "recipient domain must exist",
        "the account or domain may not exist",
        "unknown host",
        "unroutable address",
        "unrouteable address",
        "couldn't find any host by that name",
        "unknown domain",
        "no mx or a record",
        "all relevant mx records point to non-existent hosts",
        "hostname does not exist"},
       {{"553 ", " does not exist"}, {"dns lookup failure: host ", " not found"}},
       {}},
      {"spamdetected",
       {" - spam",
        "//www.spamhaus.org/help/help_spam_16.htm",
        "//dsbl.org/help/help_spam_16.htm",
        "//mail.163.com/help/help_spam_16.htm",
        "554 5.7.0 reject, id=",
        "appears to be unsolicited",
        "blacklisted url in message",
        "block for spam",
        "blocked by policy: no spam please",
        "blocked by spamassassin",
        "blocked for abuse. see http://att.net/blocks",
        "cannot be forwarded because it was detected as spam",
        "considered unsolicited bulk e-mail (spam) by our mail filters",
        "content filter rejection",
        "cyberoam anti spam engine has identified this email as a bulk email",
        "denied due to spam list",
        "high probability of spam",
        "is classified as spam and is rejected",
        "listed in work.drbl.imedia.ru",
        "detected your message as spam",
        "mail appears to be unsolicited",
        "mail content denied",
        "may consider spam",
        "message considered as spam or virus",
        "message contains spam or virus",
        "message content rejected",
        "message detected as spam",
        "message looks like spam",
        "message is being rejected as it seems to be a spam",
        "message refused by mailmarshal spamprofiler",
        "message refused by trustwave seg spamprofiler",
        "message rejected as spam",
        "message rejected because of unacceptable content",
        "message rejected due to suspected spam content",
        "message rejected for policy reasons",
        "message was rejected for possible spam/virus content",
        "our email server thinks this email is spam",
        "our system has detected that this message is ",
        "probable spam",
        "reject bulk.advertising",
        "rejected: spamassassin score ",
        "rejected - bulk email",
        "rejecting banned content",
        "rejecting mail content",
        "related to content with spam-like characteristics",
        "sender domain listed at ",
        "sending address not accepted due to spam filter",
        "spam blocked",
        "spam check",
        "spam content matched",
        "spam detected",
        "spam email",
        "spam message rejected.",
        "spam not accepted",
        "spam refused",
        "spam rejection",
        "spam score ",
        "spambouncer identified spam",
        "spamming not allowed",
        "too many spam complaints",
        "too much spam.",
        "the email message was detected as spam",
        "the message has been rejected by spam filtering engine",
        "the message was rejected due to classification as bulk mail",
        "the content of this message looked like spam",
        "this message appears to be spam",
        "this message has been identified as spam",
        "this message has been scored as spam with a probability",
        "this message was classified as spam",
        "this message was rejected by recurrent pattern detection system",
        "transaction failed spam message not queued",
        "we dont accept spam",
        "your email appears similar to spam we have received before",
        "your email breaches local uribl policy",
        "your email had spam-like ",
        "your email is considered spam",
        "your email is probably spam",
        "your email was detected as spam",
        "your message as spam and has prevented delivery",
        "your message has been temporarily blocked by our filter",
        "your message has been rejected because it appears to be spam",
        "your message has triggered a spam block",
        "your message may contain the spam contents",
        "your message failed several antispam checks",
        "identified as spam",
        "detected as spam",
        "classified as spam"},
       {{"greylisted", " please try again in"},
        {"mail score (", " over "},
        {"mail rejete. mail rejected. ", "506"},
        {"our filters rate at and above ", " percent probability of being spam"},
        {"rejected by ", " (spam)"},
        {"rejected due to spam ", "classification"},
        {"rejected due to spam ", "content"},
        {"rule imposed as ", " is blacklisted on"},
        {"spam ", " exceeded"},
        {"this message scored ", " spam points"}},
       {}},
      {"speeding",
       {"mail sent from your ip address has been temporarily rate limited",
        "please try again slower",
        "receiving mail at a rate that prevents additional messages from being delivered",
        "rate limit exceeded", "sending too fast", "sent too many messages", "too many emails",
        "you have exceeded the sending limit", "has exceeded the maximum number of messages",
        "rate limited", "ratelimit"},
       {},
       {}},
      {"toomanyconn",
       {"all available ips are at maximum connection limit", "connection rate limit exceeded",
        "exceeds per-domain connection limit for", "has exceeded the max emails per hour ",
        "throttling failure: daily message quota exceeded",
        "throttling failure: maximum sending rate exceeded", "too many connections",
        "too many connections from your host.", "too many concurrent smtp connections",
        "too many errors from your ip", "too many smtp sessions for this host",
        "trop de connexions, ", "we have already made numerous attempts to deliver this message",
        "exceeded the maximum number of connections", "maximum number of connections",
        "frequency limited"},
       {},
       {}},
      {"blocked",
       {" said: 550 blocked",
        "//www.spamcop.net/bl.",
        "bad sender ip address",
        "banned sending ip",
        "blacklisted by",
        "blocked using ",
        "blocked - see http",
        "dnsbl:attrbl",
        "client host rejected: abus detecte gu_eib_02",
        "client host rejected: abus detecte gu_eib_04",
        "client host rejected: may not be mail exchanger",
        "client host rejected: was not authenticated",
        "confirm this mail server",
        "connection dropped",
        "connection refused by",
        "connection reset by peer",
        "connection was dropped by remote host",
        "connections not accepted from ip addresses on spamhaus xbl",
        "currently sending spam see: ",
        "domain does not exist:",
        "dynamic/zombied/spam ips blocked",
        "error: no valid recipients from ",
        "esmtp not accepting connections",
        "extreme bad ip profile",
        "go away",
        "helo command rejected:",
        "host network not allowed",
        "hosts with dynamic ip",
        "invalid ip for sending mail of domain",
        "is in a black list",
        "is not allowed to send mail from",
        "mailfrom domain is listed in spamhaus",
        "no access from mail server",
        "no matches to nameserver query",
        "not currently accepting mail from your ip",
        "part of their network is on our block list",
        "please use the smtp server of your isp",
        "refused - see http",
        "rejected - multi-blacklist",
        "rejected because the sending mta or the sender has not passed validation",
        "rejecting open proxy",
        "sender ip address rejected",
        "server access forbidden by your ip ",
        "service not available, closing transmission channel",
        "smtp error from remote mail server after initial connection:",
        "sorry, that domain isn't in my list of allowed rcpthosts",
        "sorry, your remotehost looks suspiciously like spammer",
        "to submit messages to this e-mail system has been rejected",
        "too many spams from your ip",
        "too many unwanted messages have been sent from the following ip address above",
        "was blocked by ",
        "we do not accept mail from dynamic ips",
        "you are not allowed to connect",
        "you are sending spam",
        "your ip address is listed in the rbl",
        "your network is temporary blacklisted",
        "your server requires confirmation",
        "client host rejected",
        "client host blocked",
        "listed on spamhaus",
        "blocklisted",
        "on our block list",
        "ip is on a block list",
        "ip address is blocked",
        "your ip has been blocked"},
       {{"(", "@", ":blocked)"},
        {"access from ip address ", " blocked"},
        {"client host ", " blocked using"},
        {"connections will not be accepted from ", " because the ip is in spamhaus's list"},
        {"dnsbl:rbl ", ">_is_blocked"},
        {"email blocked by ", ".barracudacentral.org"},
        {"email blocked by ", "spamhaus"},
        {"host ", " refused to talk to me: ", " blocked"},
        {"ip ", " is blocked by earthlink"},
        {"is in an ", "rbl on "},
        {"mail server at ", " is blocked"},
        {"mail from ", " refused:"},
        {"mail from ", " refused, see ", "orbs"},
        {"message from ", " rejected based on blacklist"},
        {"messages from ", " temporarily deferred due to user complaints"},
        {"server ip ", " listed as abusive"},
        {"sorry! your ip address", " is blocked by rbl"},
        {"the domain ", " is blacklisted"},
        {"the email ", " is blacklisted"},
        {"the ip", " is blacklisted"},
        {"your access ip", " has been rejected"},
        {"your sender's ip address is listed at ", ".abuseat.org"}},
       {}},
      // Second-pass reasons (Sisimai's "anotherone"): tried when the first pass found nothing.
      {"virusdetected",
       {"it has a potentially executable attachment", "message was infected with virus",
        "the message was rejected because it contains prohibited virus or spam content",
        "this form of attachment has been used by recent viruses or other malware",
        "virus detected", "virus phishing/malicious_url detected",
        "your message was infected with a virus", "contains a virus", "virus found",
        "infected with"},
       {},
       {}},
      {"policyviolation",
       {"an illegal attachment on your message",
        "because the recipient is not accepting mail with ",
        "by non-member to a members-only list",
        "closed mailing list",
        "denied by policy",
        "email not accepted for policy reasons",
        "email rejected due to security policies",
        "header are not accepted",
        "header error",
        "local policy violation",
        "message bounced due to organizational settings",
        "message given low priority",
        "message not accepted for policy reasons",
        "message rejected due to local policy",
        "messages with multiple addresses",
        "rejected for policy reasons",
        "protocol violation",
        "the email address used to send your message is not subscribed to this group",
        "the message was rejected by organization policy",
        "this message was blocked because its content presents a potential",
        "we do not accept messages containing images or other attachments",
        "you're using a mass mailer"},
       {{"you have exceeded the", "allowable number of posts without solving a captcha"}},
       {}},
      {"systemerror",
       {
           "aliasing/forwarding loop broken",
           "can't create user output file",
           "could not load drd for domain",
           "internal error reading data",
           "internal server error: operation now in progress",
           "interrupted system call",
           "it encountered an error while being processed",
           "it would create a mail loop",
           "local configuration error",
           "local error in processing",
           "loop was found in the mail exchanger",
           "loops back to myself",
           "mail system configuration error",
           "queue file write error",
           "recipient deferred because there is no mdb",
           "remote server is misconfigured",
           "server configuration error",
           "service currently unavailable",
           "system config error",
           "temporary local problem",
           "timeout waiting for input",
           "transaction failed ",
       },
       {{"unable to connect ", "daemon"}},
       {}},
      {"networkerror",
       {"could not connect and send the mail to",
        "dns records for the destination computer could not be found",
        "hop count exceeded - possible mail loop",
        "host is unreachable",
        "host name lookup failure",
        "host not found, try again",
        "mail forwarding loop for ",
        "malformed name server reply",
        "malformed or unexpected name server reply",
        "maximum forwarding loop count exceeded",
        "message looping",
        "message probably in a routing loop",
        "no route to host",
        "too many hops",
        "unable to resolve route ",
        "unrouteable mail domain",
        "too many \"received\" headers",
        "dns error",
        "too many received headers",
        "mail loop",
        "routing loop"},
       {},
       {"null mx"}},
      {"systemfull",
       {"mail system full", "requested mail action aborted: exceeded storage allocation",
        "insufficient system storage", "system storage"},
       {},
       {}},
      {"notaccept",
       {"does not accept mail (nullmx)", "host/domain does not accept mail",
        "host does not accept mail", "mail receiving disabled", "name server: .: host not found",
        "no mx record found for domain=", "no route for current request",
        "smtp protocol returned a permanent error", "null mx", "does not accept mail",
        "no mx found for domain"},
       {},
       {}},
      {"expired",
       {"connection timed out",
        "could not find a gateway for",
        "delivery attempts will continue to be",
        "delivery expired",
        "delivery time expired",
        "failed to deliver to domain ",
        "giving up on",
        "have been failing for a long time",
        "has been delayed",
        "it has not been collected after",
        "message expired after sitting in queue for",
        "message expired, cannot connect to remote server",
        "message expired, connection refulsed",
        "message timed out",
        "retry time not reached for any host after a long failure period",
        "retry timeout exceeded",
        "server did not respond",
        "this message has been in the queue too long",
        "unable to deliver message after multiple retries",
        "was not reachable within the allowed queue period",
        "your message could not be delivered for more than",
        "delivery period has expired",
        "message could not be delivered within",
        "envelope expired",
        "message expired",
        "could not deliver for the last"},
       {{"could not be delivered for", " days"}, {"delivery failed ", " attempts"}},
       {}},
      {"securityerror",
       {"account not subscribed to ses", "authentication credentials invalid",
        "authentication failure", "authentication required",
        "authentication turned on in your email client",
        "executable files are not allowed in compressed files",
        "unauthenticated senders not allowed", "verification failure",
        "you are not authorized to send mail, authentication is required",
        "must issue a starttls command first", "turn on smtp authentication", "tls required",
        "encryption required"},
       {{"authentication failed; server ", " said: "},
        {"authentification invalide", "305"},
        {"authentification requise", "402"},
        {"domain ", " is a dead domain"},
        {"user ", " is not authorized to perform ses:sendrawemail on resource"}},
       {}},
      {"mailererror",
       {"x-unix; ", "command died with status", "command output:", "exit code", "pipe to |",
        "procmail:", "mail for ", "unknown mailer error", "mailer error"},
       {},
       {"mailbox for "}},
      {"syntaxerror",
       {"syntax error", "malformed address", "command unrecognized", "bad sequence of commands",
        "unrecognized command", "invalid command", "line too long"},
       {},
       {}},
      {"vacation",
       {"i am away on vacation", "i am away until", "i am out of the office",
        "i will be traveling for work on", "i am currently away", "out of the office",
        "out of office"},
       {},
       {}},
  };
  return t;
}

const Phrases* find_phrases(std::string_view reason) {
  for (const auto& p : table())
    if (p.reason == reason)
      return &p;
  return nullptr;
}

bool aligned(std::string_view text, const std::vector<std::string_view>& parts) {
  size_t pos = 0;
  for (auto part : parts) {
    size_t at = text.find(part, pos);
    if (at == std::string_view::npos)
      return false;
    pos = at + part.size();
  }
  return true;
}

bool match(const Phrases& p, std::string_view text) {
  if (text.empty())
    return false;
  for (auto n : p.isnot)
    if (text.find(n) != std::string_view::npos)
      return false;
  for (auto a : p.any)
    if (text.find(a) != std::string_view::npos)
      return true;
  for (const auto& pr : p.pairs)
    if (aligned(text, pr))
      return true;
  return false;
}

bool in(std::string_view v, std::initializer_list<std::string_view> list) {
  for (auto x : list)
    if (v == x)
      return true;
  return false;
}

// Reasons whose status-derived value is only a guess, to be refined by text (Sisimai's
// "should be retried" set).
bool is_tentative(std::string_view r) {
  return r.empty() || in(r, {"undefined", "onhold", "systemerror", "securityerror", "expired",
                             "networkerror", "hostunknown", "userunknown"});
}

bool before_data(std::string_view command) {
  return in(command, {"CONN", "HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT"});
}

// Multi-line SMTP replies arrive as "550-5.7.1 first part 550-5.7.1 second part"; drop the
// repeated code prefixes after the first so phrases spanning lines match.
std::string strip_continuations(const std::string& d) {
  std::string out;
  out.reserve(d.size());
  bool first = true;
  size_t i = 0;
  auto dig = [](char c) { return c >= '0' && c <= '9'; };
  while (i < d.size()) {
    bool at_word = i == 0 || d[i - 1] == ' ';
    if (at_word && i + 4 <= d.size() && (d[i] == '4' || d[i] == '5') && dig(d[i + 1]) &&
        dig(d[i + 2]) && (d[i + 3] == '-' || d[i + 3] == ' ')) {
      size_t j = i + 4;
      // optional enhanced code
      size_t k = j;
      if (k + 4 < d.size() && (d[k] == '4' || d[k] == '5') && d[k + 1] == '.') {
        while (k < d.size() && d[k] != ' ')
          ++k;
        if (k < d.size())
          ++k;
      } else {
        k = j;
      }
      if (!first && (d[i + 3] == '-' || k > j)) {
        i = k;
        continue;
      }
      first = false;
    }
    out.push_back(d[i]);
    ++i;
  }
  return out;
}

}  // namespace

bool text_matches(std::string_view reason, std::string_view lower_text) {
  const Phrases* p = find_phrases(reason);
  return p && match(*p, lower_text);
}

std::string_view status_reason(std::string_view s) {
  struct Entry {
    std::string_view code, reason;
  };
  // RFC 3463 / RFC 5248 / RFC 7372 / RFC 7505 codes → reason, as Sisimai maps them.
  static constexpr Entry kMap[] = {
      {"2.1.5", "delivered"},      {"4.1.6", "hasmoved"},       {"4.1.7", "rejected"},
      {"4.1.8", "rejected"},       {"4.1.9", "systemerror"},    {"4.2.1", "blocked"},
      {"4.2.2", "mailboxfull"},    {"4.2.3", "exceedlimit"},    {"4.2.4", "filtered"},
      {"4.3.1", "systemfull"},     {"4.3.2", "notaccept"},      {"4.3.3", "systemerror"},
      {"4.3.5", "systemerror"},    {"4.4.1", "expired"},        {"4.4.2", "networkerror"},
      {"4.4.3", "systemerror"},    {"4.4.4", "networkerror"},   {"4.4.5", "systemfull"},
      {"4.4.6", "networkerror"},   {"4.4.7", "expired"},        {"4.4.8", "networkerror"},
      {"4.5.3", "systemerror"},    {"4.5.5", "systemerror"},    {"4.6.0", "contenterror"},
      {"4.6.2", "contenterror"},   {"4.6.5", "contenterror"},   {"4.7.1", "blocked"},
      {"4.7.2", "blocked"},        {"4.7.5", "securityerror"},  {"4.7.6", "securityerror"},
      {"4.7.7", "securityerror"},  {"4.7.12", "securityerror"}, {"4.7.15", "securityerror"},
      {"4.7.16", "mesgtoobig"},    {"4.7.24", "authfailure"},   {"4.7.25", "requireptr"},
      {"4.7.26", "authfailure"},   {"5.1.0", "userunknown"},    {"5.1.1", "userunknown"},
      {"5.1.2", "hostunknown"},    {"5.1.3", "userunknown"},    {"5.1.4", "filtered"},
      {"5.1.6", "hasmoved"},       {"5.1.7", "rejected"},       {"5.1.8", "rejected"},
      {"5.1.9", "systemerror"},    {"5.1.10", "notaccept"},     {"5.2.0", "filtered"},
      {"5.2.1", "filtered"},       {"5.2.2", "mailboxfull"},    {"5.2.3", "exceedlimit"},
      {"5.2.4", "filtered"},       {"5.3.0", "systemerror"},    {"5.3.1", "systemfull"},
      {"5.3.2", "notaccept"},      {"5.3.3", "systemerror"},    {"5.3.4", "mesgtoobig"},
      {"5.3.5", "systemerror"},    {"5.4.0", "networkerror"},   {"5.4.3", "systemerror"},
      {"5.4.4", "hostunknown"},    {"5.5.2", "syntaxerror"},    {"5.5.3", "toomanyconn"},
      {"5.5.4", "systemerror"},    {"5.5.5", "systemerror"},    {"5.5.6", "syntaxerror"},
      {"5.6.0", "contenterror"},   {"5.6.1", "contenterror"},   {"5.6.2", "contenterror"},
      {"5.6.3", "contenterror"},   {"5.6.5", "contenterror"},   {"5.6.6", "contenterror"},
      {"5.6.7", "contenterror"},   {"5.6.8", "contenterror"},   {"5.6.9", "contenterror"},
      {"5.7.0", "securityerror"},  {"5.7.1", "securityerror"},  {"5.7.2", "securityerror"},
      {"5.7.3", "securityerror"},  {"5.7.4", "securityerror"},  {"5.7.5", "securityerror"},
      {"5.7.6", "securityerror"},  {"5.7.7", "securityerror"},  {"5.7.8", "securityerror"},
      {"5.7.9", "securityerror"},  {"5.7.10", "securityerror"}, {"5.7.11", "securityerror"},
      {"5.7.13", "suspend"},       {"5.7.14", "securityerror"}, {"5.7.15", "securityerror"},
      {"5.7.16", "mesgtoobig"},    {"5.7.17", "hasmoved"},      {"5.7.18", "hasmoved"},
      {"5.7.19", "securityerror"}, {"5.7.20", "authfailure"},   {"5.7.21", "authfailure"},
      {"5.7.22", "authfailure"},   {"5.7.23", "authfailure"},   {"5.7.24", "authfailure"},
      {"5.7.25", "requireptr"},    {"5.7.26", "authfailure"},   {"5.7.27", "notaccept"},
      {"5.7.28", "spamdetected"},  {"5.7.29", "authfailure"},   {"5.7.30", "securityerror"},
  };
  for (const auto& e : kMap)
    if (e.code == s)
      return e.reason;
  // Sisimai's own pseudo codes: 5.0.9xx name a reason directly.
  if (s.size() == 7 && s.substr(1, 4) == ".0.9") {
    std::string_view tail = s.substr(4);
    static constexpr Entry kPseudo[] = {
        {"926", "authfailure"},     {"975", "badreputation"},   {"971", "blocked"},
        {"960", "contenterror"},    {"923", "exceedlimit"},     {"947", "expired"},
        {"910", "filtered"},        {"924", "filtered"},        {"916", "hasmoved"},
        {"912", "hostunknown"},     {"922", "mailboxfull"},     {"939", "mailererror"},
        {"934", "mesgtoobig"},      {"944", "networkerror"},    {"909", "norelaying"},
        {"932", "notaccept"},       {"974", "notcompliantrfc"}, {"901", "onhold"},
        {"972", "policyviolation"}, {"918", "rejected"},        {"973", "requireptr"},
        {"970", "securityerror"},   {"980", "spamdetected"},    {"946", "speeding"},
        {"921", "suspend"},         {"930", "systemerror"},     {"931", "systemfull"},
        {"902", "syntaxerror"},     {"945", "toomanyconn"},     {"911", "userunknown"},
        {"981", "virusdetected"},
    };
    for (const auto& e : kPseudo)
      if (e.code == tail)
        return e.reason;
  }
  return {};
}

std::string classify(const ReasonInput& in) {
  std::string diag(in.diagnostic);
  for (char& c : diag)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Collapse runs of whitespace so folded lines match phrases.
  {
    std::string t;
    t.reserve(diag.size());
    bool space = false;
    for (char c : diag) {
      bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
      if (ws) {
        space = true;
        continue;
      }
      if (space && !t.empty())
        t.push_back(' ');
      space = false;
      t.push_back(c);
    }
    diag = std::move(t);
  }
  if (!in.status.empty() && in.status[0] == '2')
    return "delivered";
  diag = strip_continuations(diag);
  const std::string_view byst = status_reason(in.status);
  auto phr = [&](std::string_view r) { return text_matches(r, diag); };

  // First pass: the reasons that a specific status or a specific phrase decides. The order
  // matters (a full mailbox often also says "user"), and follows Sisimai's.
  static constexpr std::string_view kFirst[] = {
      "mailboxfull",     "mesgtoobig",    "exceedlimit",  "suspend",  "hasmoved",
      "norelaying",      "authfailure",   "userunknown",  "filtered", "requireptr",
      "notcompliantrfc", "badreputation", "contenterror", "rejected", "hostunknown",
      "spamdetected",    "speeding",      "toomanyconn",  "blocked"};
  for (auto r : kFirst) {
    bool hit = false;
    if (r == "userunknown") {
      // A status that says "bad mailbox" is believed unless the text says something more
      // specific; without one, the words alone count only when the recipient was refused
      // (RCPT): the same words after DATA are a filter's verdict.
      if (byst == "userunknown") {
        // A filter's own wording ("refused due to recipient preferences") under a 5.1.1 is
        // the filter speaking, unless the text also says the user does not exist.
        hit = !(phr("mailboxfull") || phr("blocked") || phr("hasmoved") || phr("rejected") ||
                phr("notaccept") || (phr("filtered") && !phr("userunknown")));
      } else if (in.command == "RCPT" ||
                 (in.status.size() > 3 && in.status.substr(1, 3) == ".1.")) {
        // X.1.Y is "addressing status" (RFC 3463): the recipient address itself was refused,
        // which is what the RCPT test stands for.
        hit = phr("userunknown");
      }
    } else if (r == "filtered") {
      if (before_data(in.command))
        hit = false;
      else
        hit = phr("filtered") || phr("userunknown");
    } else if (r == "contenterror") {
      hit = phr("contenterror");
    } else if (r == "mesgtoobig") {
      hit = byst != "exceedlimit" && (byst == r || phr(r));
    } else if (r == "rejected") {
      if (byst == "rejected") {
        hit = true;
      } else if (in.command == "MAIL") {
        // Refused at MAIL FROM: the sender was refused, whatever the wording.
        hit = phr("rejected") || diag.find("access denied") != std::string::npos;
      } else if (in.command == "DATA" && byst != "userunknown") {
        hit = phr("rejected");
      } else if (byst.empty() || mailsift::bounce::in(byst, {"undefined", "onhold", "securityerror",
                                                             "systemerror"})) {
        // Sisimai (Reason/Rejected.pm) reads the words only when the status says nothing more
        // specific than these.
        hit = phr("rejected");
      }
    } else if (r == "hostunknown") {
      if (byst == "hostunknown")
        hit = !phr("networkerror");
      else
        hit = phr("hostunknown");
    } else if (r == "spamdetected") {
      if (byst == "spamdetected")
        hit = true;
      else if (!before_data(in.command) || in.command.empty())
        hit = phr("spamdetected");
    } else if (r == "suspend") {
      // 5.7.13 "user account disabled" (RFC 3463 / 5248) decides, whatever the words.
      hit = byst == "suspend" || in.reply_code == "525" || phr("suspend");
    } else if (r == "norelaying") {
      hit = phr("norelaying");
    } else {
      hit = byst == r || phr(r);
    }
    if (hit)
      return std::string(r);
  }

  // Second pass: phrases for the remaining reasons, then the status code's own meaning.
  static constexpr std::string_view kSecond[] = {
      "mailboxfull",   "authfailure",     "badreputation", "speeding",    "spamdetected",
      "virusdetected", "policyviolation", "norelaying",    "systemerror", "networkerror",
      "suspend",       "contenterror",    "systemfull",    "notaccept",   "expired",
      "securityerror", "mailererror"};
  if (in.reply_code == "521" || in.reply_code == "556")
    return "notaccept";
  if (is_tentative(byst) || in.diagnostic_type != "SMTP") {
    for (auto r : kSecond)
      if (phr(r))
        return std::string(r);
    if (!byst.empty() && byst != "undefined" && byst != "onhold")
      return std::string(byst);
    if (in.status.size() > 3) {
      std::string_view sub = in.status.substr(0, 3);
      if (sub == "5.6" || sub == "4.6")
        return "contenterror";
      if (sub == "5.7" || sub == "4.7")
        return "securityerror";
    }
    // Diagnostic types arrive upper-cased (bounce.cc).
    if (in.diagnostic_type.substr(0, std::min<size_t>(6, in.diagnostic_type.size())) == "X-UNIX")
      return "mailererror";
    if (phr("syntaxerror"))
      return "syntaxerror";
    // 500-504: the command or its parameters were not understood.
    if (in.reply_code.size() == 3 && in.reply_code[0] == '5' && in.reply_code[1] == '0' &&
        in.reply_code[2] <= '4')
      return "syntaxerror";
  } else if (!byst.empty()) {
    return std::string(byst);
  }
  if (in.action == "delayed" || in.action == "expired")
    return "expired";
  if (in.command == "EHLO" || in.command == "HELO")
    return "blocked";
  if (phr("vacation"))
    return "vacation";
  if (!diag.empty())
    return "onhold";
  return "undefined";
}

bool is_hard_bounce(std::string_view reason, std::string_view status) {
  if (reason == "userunknown" || reason == "hostunknown" || reason == "hasmoved")
    return true;
  if (reason == "notaccept")
    return status.empty() || status[0] != '4';
  return false;
}

std::string pseudo_status(std::string_view reason, bool temporary) {
  struct Entry {
    std::string_view reason, code;
  };
  static constexpr Entry kCodes[] = {
      {"authfailure", "926"},     {"badreputation", "975"}, {"blocked", "971"},
      {"contenterror", "960"},    {"exceedlimit", "923"},   {"expired", "947"},
      {"filtered", "910"},        {"hasmoved", "916"},      {"hostunknown", "912"},
      {"mailboxfull", "922"},     {"mailererror", "939"},   {"mesgtoobig", "934"},
      {"networkerror", "944"},    {"norelaying", "909"},    {"notaccept", "932"},
      {"notcompliantrfc", "974"}, {"onhold", "901"},        {"policyviolation", "972"},
      {"rejected", "918"},        {"requireptr", "973"},    {"securityerror", "970"},
      {"spamdetected", "980"},    {"speeding", "946"},      {"suspend", "921"},
      {"systemerror", "930"},     {"systemfull", "931"},    {"syntaxerror", "902"},
      {"toomanyconn", "945"},     {"userunknown", "911"},   {"undefined", "900"},
      {"suppressed", "903"},      {"virusdetected", "981"},
  };
  for (const auto& e : kCodes) {
    if (e.reason == reason) {
      // Sisimai has no temporary pseudo code for these (they are permanent by nature).
      bool t =
          temporary && reason != "hasmoved" && reason != "hostunknown" && reason != "userunknown";
      std::string code = t ? "4.0." : "5.0.";
      if (t && reason == "filtered")
        return "4.0.924";
      return code + std::string(e.code);
    }
  }
  return {};
}

namespace {
bool digit(char c) {
  return c >= '0' && c <= '9';
}
}  // namespace

std::string find_status(std::string_view t) {
  for (size_t i = 0; i + 4 < t.size(); ++i) {
    char c = t[i];
    if (c != '2' && c != '4' && c != '5')
      continue;
    if (i > 0 && (digit(t[i - 1]) || t[i - 1] == '.'))
      continue;
    if (t[i + 1] != '.' || !digit(t[i + 2]))
      continue;
    size_t j = i + 2;
    while (j < t.size() && digit(t[j]) && j - (i + 2) < 3)
      ++j;
    if (j >= t.size() || t[j] != '.' || j + 1 >= t.size() || !digit(t[j + 1]))
      continue;
    size_t k = j + 1;
    while (k < t.size() && digit(t[k]) && k - (j + 1) < 3)
      ++k;
    // A fourth component or a trailing digit means an IP address or a version number.
    if (k < t.size() && (digit(t[k]) || (t[k] == '.' && k + 1 < t.size() && digit(t[k + 1]))))
      continue;
    return std::string(t.substr(i, k - i));
  }
  return {};
}

// The reply codes SMTP defines (RFC 5321, 4954, 5248, 7504, 1985, 2645): a number such as
// "255" (a mailer's exit status) or "299" is not one (Sisimai SMTP/Reply.pm).
bool valid_reply_code(std::string_view c) {
  static constexpr std::string_view kCodes[] = {
      "211", "214", "220", "221", "235", "250", "251", "252", "253", "334", "354",
      "421", "422", "430", "432", "450", "451", "452", "453", "454", "455", "458",
      "459", "500", "501", "502", "503", "504", "521", "523", "524", "525", "530",
      "533", "534", "535", "538", "550", "551", "552", "553", "554", "555", "556"};
  for (auto k : kCodes)
    if (k == c)
      return true;
  return false;
}

std::string find_reply_code(std::string_view t) {
  for (size_t i = 0; i + 2 < t.size(); ++i) {
    char c = t[i];
    if (c != '2' && c != '4' && c != '5')
      continue;
    if (i > 0 && (digit(t[i - 1]) || t[i - 1] == '.' || t[i - 1] == '-' || t[i - 1] == '#' ||
                  std::isalpha(static_cast<unsigned char>(t[i - 1]))))
      continue;
    if (!digit(t[i + 1]) || !digit(t[i + 2]))
      continue;
    if (!valid_reply_code(t.substr(i, 3)))
      continue;
    if (i + 3 < t.size() && t[i + 3] != ' ' && t[i + 3] != '-' && t[i + 3] != '\r' &&
        t[i + 3] != '\n' && t[i + 3] != '\t' && t[i + 3] != ',' && t[i + 3] != ';' &&
        t[i + 3] != ')' && t[i + 3] != ']' &&
        // "501: 5.1.8 Sender address rejected" (Yahoo and others put a colon after the code)
        !(t[i + 3] == ':' && i + 4 < t.size() && t[i + 4] == ' ' &&
          (i == 0 || std::isspace(static_cast<unsigned char>(t[i - 1])))))
      continue;
    // "ERROR_CODE :550," style: a code after a colon stands alone too, but not a time (12:550).
    if (i > 0 && t[i - 1] == ':' && i > 1 && std::isdigit(static_cast<unsigned char>(t[i - 2])))
      continue;
    // "550-5.1.1" and "550 5.1.1" and "550 blah" all count; "250 ok" too (delivered).
    return std::string(t.substr(i, 3));
  }
  return {};
}

}  // namespace mailsift::bounce
