#include "bounce/vendors.h"

namespace mailsift::bounce {
namespace {

bool any_in(std::string_view hay, const std::vector<std::string_view>& needles) {
  for (auto n : needles)
    if (!n.empty() && hay.find(n) != std::string_view::npos)
      return true;
  return false;
}

// Order matters: providers that relay through a common MTA (Gmail's own texts, SES, Office 365)
// come before the MTA software rows (Postfix, Exim, Sendmail, qmail), which match more widely.
const std::vector<Vendor>& vendors() {
  static const std::vector<Vendor> v = {
      {"amazonses",
       {"amazonses.com"},
       {},
       {"x-ses-outgoing:", "x-mailer: amazon ses", "feedback-id: "},
       {"amazon ses", "amazonses"},
       {},
       {}},
      {"sendgrid", {"sendgrid"}, {}, {"x-sendgrid"}, {}, {}, {}},
      // Products whose fixed messages name the reason (Sisimai lhost/IMailServer, InterScanMSS,
      // Zoho). Before the MTA rows: Zoho writes Exim-like text.
      {"imailserver",
       {},
       {"undeliverable mail "},
       {"x-mailer: <smtp32 v"},
       {},
       {"original message follows."},
       {},
       {{"unknown host", "hostunknown"},
        {"unknown user", "userunknown"},
        {"invalid final delivery userid", "userunknown"},
        {"user mailbox exceeds allowed size", "mailboxfull"},
        {"requested action not taken: virus detected", "virusdetected"},
        {"blacklisted url in message", "spamdetected"},
        {"delivery failed ", "expired"}}},
      // Trend Micro InterScan MSS: "Unable to deliver message to <a>" is its user-unknown notice.
      {"interscanmss",
       {"\"interscan"},
       {},
       {"content-type: interscan"},
       {" interscan "},
       {},
       {},
       {{"unable to deliver", "userunknown"}}},
      {"zoho", {}, {}, {"x-zohomail"}, {}, {}, {}, {{"host not reachable", "expired"}}},
      // DragonFly Mail Agent (dma) writes Exim-like subjects; its own give-up text is permanent.
      {"dragonfly", {}, {}, {}, {"this is the dragonfly mail agent"}, {}, {}},
      {"googlegroups",
       {"@googlegroups.com"},
       {},
       {"x-google-group-id"},
       {"google groups", "@googlegroups.com", "groups.google.com"},
       {},
       // Google Groups answers only "no such group, or you may not post to it".
       "rejected"},
      {"gmail",
       {"mailer-daemon@googlemail.com", "mailer-daemon@google.com"},
       {},
       {},
       {"this is an automatically generated delivery status notification",
        "delivery to the following recipient failed"},
       {"----- original message -----", "----- message header follows -----"},
       {},
       // Gmail's fixed wording after it gave up retrying the connection.
       {{"did not accept our requests to connect", "expired"},
        {"dns error: could not contact dns servers", "expired"},
        {"delivery to the following recipient has been delayed", "expired"},
        {"dns error: domain name not found", "hostunknown"},
        {"dns error: dns server returned answer with no data", "hostunknown"}},
       {},
       // Gmail's older notices end the remote's reply with "(state N)", the stage of its SMTP
       // client that failed (Sisimai Lhost/Gmail.pm): 14 is RCPT; 15, 17 and 18 are after DATA,
       // where "unknown user" is the recipient's filter speaking.
       {{" (state 6)", "MAIL", "securityerror"},
        {" (state 8)", "AUTH", "systemerror"},
        {" (state 9)", "AUTH", "securityerror"},
        {" (state 12)", "AUTH", "norelaying"},
        {" (state 13)", "EHLO", "blocked"},
        {" (state 14)", "RCPT", "userunknown"},
        {" (state 15)", "DATA", "filtered"},
        {" (state 17)", "DATA", "filtered"},
        {" (state 18)", "DATA", "filtered"}}},
      {"office365",
       {"@microsoft.com", "@office365.com", "@outlook.com", "@hotmail.com"},
       {},
       {"x-ms-exchange", "x-microsoft-antispam"},
       {"delivery has failed to these recipients or groups", "your message couldn't be delivered",
        "diagnostic information for administrators"},
       {"original message headers:"},
       {},
       {{"the recipient name is not recognized", "userunknown"},
        {"the e-mail account does not exist at the organization", "userunknown"},
        {"the email address you entered couldn't be found", "userunknown"},
        {"mailbox is full", "mailboxfull"}}},
      {"exchange",
       {},
       {"undeliverable:", "unzustellbar:"},
       {"x-mimeole: produced by microsoft exchange", "x-ms-tnef-correlator"},
       {"your message did not reach some or all of the intended recipients",
        "delivery has failed to these recipients or groups",
        "did not reach the following recipient"},
       {"original message headers:"},
       {},
       // Exchange 2003/2007 fixed texts (with or without an SMTP code after them).
       {{"the recipient name is not recognized", "userunknown"},
        {"the e-mail account does not exist at the organization", "userunknown"},
        {"unknown recipient", "userunknown"},
        {"the recipient's mailbox is full", "mailboxfull"},
        {"mailbox is full", "mailboxfull"},
        {"the message was rejected because it contains prohibited", "virusdetected"},
        {"could not deliver the message in the time limit", "expired"},
        {"the message reached the recipient's e-mail system, but delivery was refused",
         "filtered"}}},
      {"yahoo",
       {"@yahoo", "@aol.com"},
       {},
       {"x-ymailisg"},
       {"sorry, we were unable to deliver your message to the following address"},
       {"--- below this line is a copy of the message."},
       {}},
      {"mimecast", {"mimecast"}, {}, {"x-mimecast"}, {"mimecast"}, {}, {}},
      {"messagelabs", {"messagelabs"}, {}, {"x-msg-ref"}, {"messagelabs"}, {}, {}},
      {"exim",
       {},
       {"mail delivery failed", "warning: message "},
       {"x-failed-recipients"},
       {"this message was created automatically by mail delivery software",
        "the following address(es) failed"},
       {"------ this is a copy of the message", "------ this is a copy of your message",
        "------ the body of the message is"},
       {},
       // Fixed texts of Exim's routers and transports (exim/src: routers/dnslookup.c,
       // transports/smtp.c, transports/appendfile.c, deliver.c, retry.c).
       {{"an mx or srv record indicated no smtp service", "notaccept"},
        {"no host found for existing smtp connection", "notaccept"},
        {"all host address lookups failed permanently", "hostunknown"},
        {"all relevant mx records point to non-existent hosts", "hostunknown"},
        {"mailbox is full", "mailboxfull"},
        {"error: quota exceed", "mailboxfull"},
        {"too many \"received\" headers", "contenterror"},
        {"retry timeout exceeded", "expired"},
        {"retry time not reached for any host after a long failure period", "expired"},
        {"all hosts have been failing for a long time and were last tried", "expired"}},
       {"expired", "mailboxfull"}},
      {"postfix",
       {},
       {"undelivered mail returned to sender", "delayed mail (still being retried)"},
       {"x-postfix-queue-id"},
       {"this is the mail system at host", "this is the postfix program at host"},
       {},
       {}},
      {"qmail",
       {},
       {"failure notice"},
       {},
       {"this is the qmail-send program at", "i'm afraid i wasn't able to deliver your message"},
       {"--- below this line is a copy of the message.", "--- enclosed are the original headers"},
       {},
       // qmail-send / qmail-remote's fixed texts.
       {{"couldn't find a mail exchanger or ip address", "notaccept"},
        {"wasn't able to establish an smtp connection", "networkerror"},
        {"couldn't find any host named", "hostunknown"},
        {"no host by that name", "hostunknown"},
        // Not "this message has been in the queue too long": qmail appends it to whatever the
        // remote host said, which the classifier reads first (it still ends in expired).
        {"sorry, no mailbox here by that name", "userunknown"},
        {"mailbox has been disabled", "suspend"},
        {"message is looping", "networkerror"}}},
      {"sendmail",
       {},
       {"returned mail:", "warning: could not send message"},
       {},
       {"----- the following addresses had permanent fatal errors -----",
        "----- transcript of session follows -----"},
       {"----- original message follows -----", "----- message header follows -----",
        "----- unsent message follows -----"},
       {}},
      {"opensmtpd",
       {},
       {"delivery status notification: error", "delivery status notification: delay"},
       {},
       {"this is the mailer-daemon at", "an error has occurred while attempting to deliver"},
       {"    below is a copy of the original message:"},
       {}},
      {"courier",
       {},
       {"notice: mail delivery status."},
       {},
       {"this is a delivery status notification from"},
       {},
       {}},
      {"notes",
       {},
       {"undeliverable message", "delivery failure"},
       {},
       {"------- failure reasons --------"},
       {"------- returned message --------"},
       {}},
  };
  return v;
}

}  // namespace

const Vendor* detect(const VendorInput& in) {
  for (const auto& v : vendors()) {
    if (any_in(in.from, v.from) || any_in(in.subject, v.subject) || any_in(in.headers, v.header) ||
        any_in(in.body, v.body))
      return &v;
  }
  return nullptr;
}

const std::vector<std::string_view>& generic_end_markers() {
  static const std::vector<std::string_view> m = {
      "----- original message -----",
      "-----original message-----",
      "--- below this line is a copy of the message",
      "------ this is a copy of the message",
      "----- original message follows -----",
      "--- original message follows",
      "original message follows",
      "----- message header follows -----",
      "----- unsent message follows -----",
      "------- returned message --------",
      "original message headers:",
      "content-type: message/rfc822",
      "content-type: text/rfc822-headers",
      "below is a copy of the original message",
      "the original message was received at",
      "----- the header of the original message is following. -----",
      "------ original message ------",
      "-------- original message --------",
      "original message:",
      "message headers follow",
      "included is a copy of the message header",
      "---------- forwarded message ----------",
  };
  return m;
}

bool looks_like_bounce(const VendorInput& in) {
  static const std::vector<std::string_view> kFrom = {"mailer-daemon", "postmaster",
                                                      "post_master",   "mail delivery",
                                                      "mail.delivery", "maildelivery"};
  static const std::vector<std::string_view> kSubject = {"undeliver",
                                                         "undelivered",
                                                         "delivery status notification",
                                                         "failure notice",
                                                         "returned mail",
                                                         "mail delivery failed",
                                                         "delivery failure",
                                                         "non-delivery",
                                                         "nondeliverable",
                                                         "delivery failed",
                                                         "mail system error",
                                                         "could not send message",
                                                         "message not delivered",
                                                         "delivery notification",
                                                         "returned to sender",
                                                         "unzustellbar",
                                                         "rejected:",
                                                         "delivery problem",
                                                         "notification d'etat",
                                                         "mail could not be delivered",
                                                         "warning: message",
                                                         "delivery has failed",
                                                         "delayed mail"};
  static const std::vector<std::string_view> kBody = {
      "could not be delivered",    "was not delivered",      "couldn't be delivered",
      "delivery has failed",       "undeliverable",          "permanent error",
      "permanent fatal errors",    "wasn't able to deliver", "unable to deliver",
      "delivery to the following", "the following address",  "mail delivery failed",
      "failed to deliver",         "message could not be",   "delivery failed"};
  return any_in(in.from, kFrom) || any_in(in.subject, kSubject) || any_in(in.body, kBody);
}

}  // namespace mailsift::bounce
