// Unit tests of the bounce parser, and the accuracy test over Sisimai's public bounce set
// (../shared/testdata/bounces: expected.tsv, expected-per-recipient.tsv, not-bounces/).
//
// The accuracy test prints every figure, split into a development subset and a held-out subset
// (every fourth file by name), and asserts floors a little under what the parser reaches so a
// regression fails. MAILSIFT_BOUNCE_VERBOSE=dev prints the development subset's mismatches
// (=all: every mismatch).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bounce/advice.h"
#include "bounce/bounce.h"
#include "bounce/provider_codes.h"
#include "bounce/reason.h"
#include "bounce/rhost.h"

namespace fs = std::filesystem;
using namespace mailsift::bounce;

namespace {

std::string crlf(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += "\r\n";
    else
      out += c;
  }
  return out;
}

const char* kDsn =
    "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
    "To: alice@example.com\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n"
    "\n"
    "--B\n"
    "Content-Type: text/plain\n"
    "\n"
    "This is the mail system at host mx.example.org.\n"
    "\n"
    "<bob@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 <bob@example.net>:\n"
    "    Recipient address rejected: User unknown in local recipient table (in reply\n"
    "    to RCPT TO command)\n"
    "\n"
    "--B\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.example.org\n"
    "Arrival-Date: Mon, 2 Jan 2023 10:00:00 +0000\n"
    "\n"
    "Final-Recipient: rfc822; bob@example.net\n"
    "Original-Recipient: rfc822;bob@example.net\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; mx.example.net\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected:\n"
    "    User unknown in local recipient table\n"
    "\n"
    "--B\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "From: Alice <alice@example.com>\n"
    "To: bob@example.net\n"
    "Subject: hello\n"
    "Message-ID: <1@example.com>\n"
    "Date: Mon, 2 Jan 2023 09:59:00 +0000\n"
    "\n"
    "--B--\n";

TEST(Bounce, StandardDsn) {
  auto r = parse(kDsn);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Kind::kBounce);
  EXPECT_EQ(r->reporting_mta, "mx.example.org");
  ASSERT_EQ(r->recipients.size(), 1u);
  const auto& x = r->recipients[0];
  EXPECT_EQ(x.address, "bob@example.net");
  EXPECT_EQ(x.status, "5.1.1");
  EXPECT_EQ(x.reply_code, "550");
  EXPECT_EQ(x.reason, "userunknown");
  EXPECT_TRUE(x.hard_bounce);
  EXPECT_EQ(x.remote_mta, "mx.example.net");
  EXPECT_EQ(x.diagnostic_type, "SMTP");
  EXPECT_EQ(r->original.from, "alice@example.com");
  EXPECT_EQ(r->original.message_id, "<1@example.com>");
  EXPECT_EQ(r->original.subject, "hello");
}

TEST(Bounce, LineEndingsDoNotMatter) {
  auto lf = parse(kDsn);
  auto cr = crlf(kDsn);
  auto c = parse(cr);
  std::string bare_cr = kDsn;
  std::replace(bare_cr.begin(), bare_cr.end(), '\n', '\r');
  auto b = parse(bare_cr);
  ASSERT_TRUE(lf.ok() && c.ok());
  ASSERT_EQ(c->recipients.size(), 1u);
  EXPECT_EQ(c->recipients[0].reason, lf->recipients[0].reason);
  EXPECT_EQ(c->recipients[0].status, "5.1.1");
  if (b.ok() && !b->recipients.empty()) {
    EXPECT_EQ(b->recipients[0].reason, "userunknown");
  }
}

TEST(Bounce, QmailText) {
  auto r = parse(
      "From: MAILER-DAEMON@mail.example.org\nTo: alice@example.com\nSubject: failure notice\n\n"
      "Hi. This is the qmail-send program at mail.example.org.\n"
      "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
      "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
      "<carol@example.net>:\n"
      "192.0.2.9 does not like recipient.\n"
      "Remote host said: 552 5.2.2 <carol@example.net>... Mailbox full\n"
      "Giving up on 192.0.2.9.\n\n"
      "--- Below this line is a copy of the message.\n\n"
      "From: alice@example.com\nMessage-ID: <2@example.com>\nSubject: hi\n\nbody\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Kind::kBounce);
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].address, "carol@example.net");
  EXPECT_EQ(r->recipients[0].reason, "mailboxfull");
  EXPECT_EQ(r->recipients[0].status, "5.2.2");
  EXPECT_FALSE(r->recipients[0].hard_bounce);
  EXPECT_EQ(r->original.message_id, "<2@example.com>");
}

TEST(Bounce, AutoReplyIsVacation) {
  auto r = parse(
      "From: dave@example.net\nTo: alice@example.com\nAuto-Submitted: auto-replied\n"
      "Subject: Out of office\n\nI am away until Monday.\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Kind::kVacation);
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "vacation");
}

TEST(Bounce, ArfFeedback) {
  auto r = parse(
      "From: abuse@isp.example\nSubject: FW: spam\nMIME-Version: 1.0\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=\"X\"\n\n"
      "--X\nContent-Type: text/plain\n\nThis is an abuse report.\n"
      "--X\nContent-Type: message/feedback-report\n\n"
      "Feedback-Type: abuse\nUser-Agent: Test/1.0\nVersion: 1\n"
      "Original-Rcpt-To: <eve@isp.example>\n\n"
      "--X\nContent-Type: message/rfc822\n\n"
      "From: alice@example.com\nTo: eve@isp.example\nSubject: buy\nMessage-ID: <3@x>\n\nhi\n"
      "--X--\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Kind::kFeedback);
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "feedback");
  EXPECT_EQ(r->recipients[0].feedback_type, "abuse");
  EXPECT_EQ(r->recipients[0].address, "eve@isp.example");
  EXPECT_EQ(r->original.from, "alice@example.com");
}

TEST(Bounce, OrdinaryMailIsNotABounce) {
  auto r = parse("From: bob@example.net\nTo: alice@example.com\nSubject: lunch?\n\nNoon?\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Kind::kNotBounce);
  EXPECT_TRUE(r->recipients.empty());
}

TEST(Bounce, NotMailIsMalformed) {
  auto r = parse("");
  EXPECT_FALSE(r.ok());
}

TEST(Reason, AuthCodesAndAdvice) {
  EXPECT_EQ(status_reason("5.7.26"), "authfailure");
  EXPECT_EQ(status_reason("5.7.23"), "authfailure");
  EXPECT_EQ(status_reason("5.7.25"), "requireptr");
  ReasonInput in{"5.7.26",
                 "550",
                 "550 5.7.26 This mail has been blocked because the sender is "
                 "unauthenticated. DMARC policy",
                 "DATA",
                 "failed",
                 "SMTP"};
  EXPECT_EQ(classify(in), "authfailure");
  Report rep;
  rep.original.from = "alice@example.com";
  Recipient r;
  r.reason = "authfailure";
  r.status = "5.7.23";
  r.diagnostic = "SPF validation failed";
  Advice a = advise(r, rep);
  ASSERT_FALSE(a.checks.empty());
  EXPECT_EQ(a.checks[0], "spf:example.com");
}

TEST(Reason, BlocklistNamed) {
  Report rep;
  Recipient r;
  r.reason = "blocked";
  r.diagnostic =
      "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
      "zen.spamhaus.org";
  Advice a = advise(r, rep);
  EXPECT_EQ(a.blocklist, "spamhaus");
  EXPECT_NE(a.support.find("delisting"), std::string::npos);
}

TEST(Reason, FindCodes) {
  EXPECT_EQ(find_status("said: 550 5.1.1 <a@b>"), "5.1.1");
  EXPECT_EQ(find_status("host [192.0.2.1] said"), "");
  EXPECT_EQ(find_status("Exim 4.72"), "");
  EXPECT_EQ(find_reply_code("host x[192.0.2.1] said: 550-5.1.1 no"), "550");
  EXPECT_EQ(find_status("5.7.26 unauthenticated"), "5.7.26");
  EXPECT_EQ(find_reply_code("<a@b.example>: 501: 5.1.8 Sender address rejected"), "501");
  EXPECT_EQ(find_reply_code("at 10:30: 550 no"), "550");
  EXPECT_EQ(find_reply_code("MAIL FROM:<a@b.example> SIZE=222: host x: 550 no"), "550");
}

// ---- generalisation: one synthetic bounce per category of failure fixed (none is a sample) ----

// A minimal multipart/report with one text part and one delivery-status part.
std::string make_dsn(const std::string& text, const std::string& fields) {
  return "From: MAILER-DAEMON@relay.example.org\nTo: alice@example.com\n"
         "Subject: Delivery Status Notification (Failure)\nMIME-Version: 1.0\n"
         "Content-Type: multipart/report; report-type=delivery-status; boundary=\"Q\"\n\n"
         "--Q\nContent-Type: text/plain\n\n" +
         text + "\n--Q\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; " +
         "relay.example.org\n\n" + fields + "\n--Q--\n";
}

TEST(Generalise, UserUnknownWordsWithoutCommandOrCodeAreFiltered) {
  // Sisimai (Reason/UserUnknown.pm, Reason/Filtered.pm): "no such user" is userunknown only
  // when the status says so (X.1.1) or the refused command is known to be RCPT; with neither,
  // the recipient's server may have refused after reading the message: filtered.
  auto r = parse(make_dsn("Delivery failed.",
                          "Final-Recipient: rfc822; ursula@example.net\nAction: failed\n"
                          "Status: 5.0.0\nDiagnostic-Code: smtp; 550 ursula@example.net... "
                          "No such user\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].command, "");
  EXPECT_EQ(r->recipients[0].reason, "filtered");
  // Refused at RCPT (Postfix's "in reply to RCPT TO command", folded over two lines).
  auto t =
      parse(make_dsn("<ursula@example.net>: host mx.example.net[192.0.2.1] said: 550\n"
                     "    <ursula@example.net>: No such user (in reply to RCPT\n"
                     "    TO command)",
                     "Final-Recipient: rfc822; ursula@example.net\nAction: failed\n"
                     "Status: 5.0.0\nDiagnostic-Code: smtp; 550 <ursula@example.net>: "
                     "No such user\n"));
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->recipients.size(), 1u);
  EXPECT_EQ(t->recipients[0].command, "RCPT");
  EXPECT_EQ(t->recipients[0].reason, "userunknown");
  // The same words refused after DATA are a filter's verdict.
  auto d = parse(make_dsn("... while talking to mx.example.net.:\n>>> DATA\n<<< 550 No such user",
                          "Final-Recipient: rfc822; ursula@example.net\nAction: failed\n"
                          "Status: 5.0.0\nDiagnostic-Code: smtp; 550 No such user\n"));
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->recipients.size(), 1u);
  EXPECT_EQ(d->recipients[0].reason, "filtered");
}

TEST(Generalise, RemoteHostRules) {
  // au (KDDI): a bare "550 : User unknown" is the recipient's reception filter; the same words
  // naming the address mean the address does not exist (Sisimai Rhost/KDDI.pm).
  EXPECT_EQ(rhost_reason({"someone@ezweb.ne.jp", "", "", "550 : User unknown"}), "filtered");
  EXPECT_EQ(
      rhost_reason({"someone@ezweb.ne.jp", "", "", "550 <someone@ezweb.ne.jp>: User unknown"}),
      "userunknown");
  // Broadcom Email Security.cloud, recognised by the reporting relay (Rhost/MessageLabs.pm).
  EXPECT_EQ(rhost_reason({"a@example.org", "mx.example.org", "server-1.bemta-2.messagelabs.com",
                          "550 a@example.org... No such user"}),
            "userunknown");
  // Yahoo's "dd This user doesn't have a ... account" after DATA is still an unknown user.
  EXPECT_EQ(rhost_reason({"x@yahoo.example", "mta6.am0.yahoodns.net", "",
                          "554 delivery error: dd This user doesn't have a yahoo.com account"}),
            "userunknown");
  // AOL's relay reports a broken MX answer of the recipient's domain: it accepts no mail.
  EXPECT_EQ(rhost_reason({"x@example.org", "", "omr-a1.mx.aol.com",
                          "Name service error for name=example.org type=MX: Malformed or "
                          "unexpected name server reply"}),
            "notaccept");
  // Another provider's host, or a look-alike domain, does not trigger the rules.
  EXPECT_EQ(rhost_reason({"a@example.org", "mx.example.org", "messagelabs.com.example.net",
                          "550 a@example.org... No such user"}),
            "");
  EXPECT_EQ(rhost_reason({"someone@notezweb.ne.jp", "", "", "550 : User unknown"}), "");
  // NTT docomo: the same "550 Unknown user" is an unknown address at RCPT and the user's
  // reception filter after DATA (with the relay's vague 5.0.0).
  EXPECT_EQ(rhost_reason({"d@docomo.example", "mfsmax.docomo.ne.jp", "", "550 Unknown user d",
                          "5.0.0", "DATA"}),
            "rejected");
  EXPECT_EQ(rhost_reason({"d@docomo.example", "mfsmax.docomo.ne.jp", "", "550 Unknown user d",
                          "5.0.0", "RCPT"}),
            "userunknown");
}

// An Exim text bounce (no delivery-status part) for one recipient with the given error line.
std::string exim_text(const std::string& error) {
  return "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: alice@example.com\n"
         "Subject: Mail delivery failed: returning message to sender\n\n"
         "This message was created automatically by mail delivery software.\n\n"
         "A message that you sent could not be delivered to one or more of its\n"
         "recipients. This is a permanent error. The following address(es) failed:\n\n"
         "  hal@example.net\n    " +
         error +
         "\n\n------ This is a copy of the message, including all the headers. ------\n\n"
         "From: alice@example.com\nTo: hal@example.net\nSubject: hi\n\nhi\n";
}

TEST(Generalise, EximFixedMessagesAndTheirPseudoStatus) {
  // Exim's router text for a null MX (RFC 7505) names no code: notaccept, permanent.
  auto n = parse(exim_text("an MX or SRV record indicated no SMTP service"));
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->recipients.size(), 1u);
  EXPECT_EQ(n->recipients[0].reason, "notaccept");
  EXPECT_EQ(n->recipients[0].status, "5.0.932");
  // A retry timeout is a deferral that ran out: Exim's pseudo status for it is temporary,
  // although the bounce calls itself "a permanent error".
  auto t = parse(exim_text("retry timeout exceeded"));
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->recipients.size(), 1u);
  EXPECT_EQ(t->recipients[0].reason, "expired");
  EXPECT_EQ(t->recipients[0].status, "4.0.947");
}

TEST(Generalise, PseudoStatusClassFollowsTheText) {
  // No code at all: "temporary" in the text makes the pseudo status 4.0.9xx, its absence 5.0.9xx
  // whatever the DSN action says (Sisimai SMTP/Failure.pm).
  auto dsn = [](const std::string& text) {
    return parse(make_dsn("Delivery to the following recipient has been delayed.",
                          "Final-Recipient: rfc822; ida@example.net\nAction: delayed\n"
                          "Diagnostic-Code: smtp; " +
                              text + "\n"));
  };
  auto temp = dsn("Mailbox full, this is a temporary failure");
  ASSERT_TRUE(temp.ok());
  ASSERT_EQ(temp->recipients.size(), 1u);
  EXPECT_EQ(temp->recipients[0].reason, "mailboxfull");
  EXPECT_EQ(temp->recipients[0].status, "4.0.922");
  auto perm = dsn("Mailbox full");
  ASSERT_TRUE(perm.ok());
  ASSERT_EQ(perm->recipients.size(), 1u);
  EXPECT_EQ(perm->recipients[0].status, "5.0.922");
  // A 4xx reply code decides before the words.
  auto reply = dsn("452 Mailbox full");
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->recipients.size(), 1u);
  EXPECT_EQ(reply->recipients[0].status, "4.0.922");
}

TEST(Generalise, ProductFixedMessages) {
  // IMail Server (X-Mailer "<SMTP32 v...>"): "Invalid final delivery userid" is its unknown user.
  auto i = parse(
      "From: Postmaster <postmaster@mail.example.org>\nTo: alice@example.com\n"
      "Subject: Undeliverable Mail\nX-Mailer: <SMTP32 v8.22>\n\n"
      "Invalid final delivery userid: jan@example.org\n\nOriginal message follows.\n\n"
      "From: alice@example.com\nTo: jan@example.org\nSubject: hi\n\nhi\n");
  ASSERT_TRUE(i.ok());
  ASSERT_EQ(i->recipients.size(), 1u);
  EXPECT_EQ(i->recipients[0].address, "jan@example.org");
  EXPECT_EQ(i->recipients[0].reason, "userunknown");
  // Zoho writes Exim-like text; "Host not reachable" is its give-up after retries.
  auto z = parse(
      "From: mailer-daemon@mail.zoho.example\nTo: alice@example.com\n"
      "Subject: Undelivered Mail Returned to Sender\nX-ZohoMail: Si\n\n"
      "This message was created automatically by mail delivery software.\n"
      "A message that you sent could not be delivered to one or more of its recipients. This "
      "is a permanent error.\n\n"
      "kim@example.net Error, ERROR_CODE :421, ERROR_CODE :, Host not reachable.\n\n"
      "Received: from mail.example.com\nFrom: alice@example.com\nTo: kim@example.net\n\nhi\n");
  ASSERT_TRUE(z.ok());
  ASSERT_EQ(z->recipients.size(), 1u);
  EXPECT_EQ(z->recipients[0].reason, "expired");
  EXPECT_EQ(z->recipients[0].status, "4.0.947");
}

TEST(Generalise, BareDiagnosticOfTheOnlyRecipientReadsTheText) {
  // Sendmail's local-delivery failure: the DSN says only "X-Unix; 255" (the program's exit
  // status, not an SMTP reply); the human-readable transcript holds the real reply.
  auto r =
      parse(make_dsn("   ----- The following addresses had permanent fatal errors -----\n"
                     "\"|/usr/local/bin/filter\"\n    (reason: 255)\n"
                     "    (expanded from: <lou@example.org>)\n\n"
                     "   ----- Transcript of session follows -----\n"
                     "filter: cannot open database\n554 5.3.0 unknown mailer error 255\n",
                     "Final-Recipient: RFC822; lou@example.org\nAction: failed\n"
                     "Status: 5.0.0\nDiagnostic-Code: X-Unix; 255\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].status, "5.3.0");
  EXPECT_EQ(r->recipients[0].reply_code, "554");
  EXPECT_EQ(r->recipients[0].reason, "mailererror");
}

TEST(Reason, ReplyCodesAreSmtpOnes) {
  // A mailer's exit status or any other three-digit number is not a reply code.
  EXPECT_EQ(find_reply_code("(reason: 255) 554 5.3.0 unknown mailer error"), "554");
  EXPECT_EQ(find_reply_code("299 things, 460 more"), "");
  EXPECT_EQ(find_reply_code("451 4.3.0 try later"), "451");
}

TEST(Generalise, StatusFieldOrTheReplysCode) {
  auto status = [](const std::string& field, const std::string& diag) {
    auto r = parse(make_dsn("Delivery failed.",
                            "Final-Recipient: rfc822; max@example.net\n"
                            "Action: failed\nStatus: " +
                                field + "\nDiagnostic-Code: smtp; " + diag + "\n"));
    return r.ok() && r->recipients.size() == 1 ? r->recipients[0].status : std::string("?");
  };
  // A specific Status field stays; the reply's own code replaces only vague or catch-all ones
  // (Sisimai SMTP/Status.pm prefer()).
  EXPECT_EQ(status("4.4.1", "550 4.4.7 QUEUE.Expired; message expired"), "4.4.1");
  EXPECT_EQ(status("4.4.7", "421 4.4.2 connection dropped"), "4.4.2");
  EXPECT_EQ(status("5.0.0", "550 5.2.2 mailbox full"), "5.2.2");
  EXPECT_EQ(status("5.1.1", "550 5.0.0 no such user"), "5.1.1");
  // Classes disagree: the one the reply code agrees with.
  EXPECT_EQ(status("4.0.0", "550 5.1.1 no such user"), "5.1.1");
}

TEST(Generalise, SessionTranscriptFailureIsTheFirstErrorReply) {
  auto r =
      parse(make_dsn("Transcript of session follows.\n\n Out: 220 mx.example.net ESMTP\n"
                     " In:  EHLO relay.example.org\n Out: 250 mx.example.net\n"
                     " In:  MAIL FROM:<alice@example.com>\n Out: 250 2.1.0 Ok\n"
                     " In:  RCPT TO:<nat@example.net>\n Out: 250 2.1.5 Ok\n In:  DATA\n"
                     " Out: 354 End data with <CR><LF>.<CR><LF>\n"
                     " Out: 451 4.3.0 Error: queue file write error\n In:  QUIT\n"
                     " Out: 221 2.0.0 Bye\n",
                     "Final-Recipient: rfc822; nat@example.net\nAction: delayed\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reply_code, "451");
  EXPECT_EQ(r->recipients[0].status, "4.3.0");
  EXPECT_EQ(r->recipients[0].command, "DATA");
  EXPECT_EQ(r->recipients[0].reason, "systemerror");
}

TEST(Generalise, GmailStateNamesTheRefusedStage) {
  auto gmail = [](const std::string& reply) {
    return parse(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: alice@example.com\n"
        "Subject: Delivery Status Notification (Failure)\n\n"
        "This is an automatically generated Delivery Status Notification\n\n"
        "Delivery to the following recipient failed permanently:\n\n     oli@example.net\n\n"
        "Technical details of permanent failure:\nGoogle tried to deliver your message, but it "
        "was rejected by the recipient domain. The error that the other server returned was:\n" +
        reply + "\n\n----- Original message -----\n\nFrom: alice@example.com\n\nhi\n");
  };
  // Refused after DATA ("state 18"): a filter, even though the words say unknown user.
  auto d = gmail("550 550 Unknown user oli@example.net (state 18).");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->recipients.size(), 1u);
  EXPECT_EQ(d->recipients[0].command, "DATA");
  EXPECT_EQ(d->recipients[0].reason, "filtered");
  // At RCPT ("state 14") with a specific code: the code's meaning.
  auto r = gmail("550 550 5.2.2 <oli@example.net>... Mailbox Full (state 14).");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].command, "RCPT");
  EXPECT_EQ(r->recipients[0].reason, "mailboxfull");
}

TEST(Reason, DisabledAccountStatusDecides) {
  // 5.7.13 is "user account disabled": suspend, even when the words say unknown user after DATA
  // (Sisimai Reason/Suspend.pm; Filtered.pm and UserUnknown.pm step aside for it).
  ReasonInput in{"5.7.13", "550", "550 5.7.13 user unknown", "DATA", "failed", "SMTP"};
  EXPECT_EQ(classify(in), "suspend");
}

TEST(Reason, SenderWordsCountUnderVagueStatusesOnly) {
  // Rejected.pm reads "sender rejected" words with no command only when the status is vague
  // (none, onhold, securityerror, systemerror); a 4.4.7 queue expiry stays expired.
  ReasonInput vague{"", "550", "550 sender rejected", "", "failed", "SMTP"};
  EXPECT_EQ(classify(vague), "rejected");
  ReasonInput expired{"4.4.7", "",        "delivery expired; last error: sender rejected",
                      "",      "delayed", "SMTP"};
  EXPECT_EQ(classify(expired), "expired");
}

TEST(Reason, PolicyWordsAloneUnderA57Status) {
  // "Policy violation" on its own is not one of Sisimai's policy phrases: a 5.7.0 refusal at
  // RCPT with it stays a security refusal; the specific phrases still count.
  ReasonInput bare{"5.7.0",
                   "550",
                   "550 5.7.0 <p@example.net>: Recipient address rejected: "
                   "Policy violation",
                   "RCPT",
                   "failed",
                   "SMTP"};
  EXPECT_EQ(classify(bare), "securityerror");
  ReasonInput local{"5.7.0", "550", "550 5.7.0 local policy violation", "RCPT", "failed", "SMTP"};
  EXPECT_EQ(classify(local), "policyviolation");
}

TEST(Generalise, QmailLdapFailureIsTheRecipientSystems) {
  // qmail-ldap could not reach its directory: a system error at the recipient's side, even
  // though qmail then gave up on the queue lifetime.
  auto r = parse(
      "From: MAILER-DAEMON@q.example.org\nTo: alice@example.com\nSubject: failure notice\n\n"
      "Hi. This is the qmail-send program at q.example.org.\n"
      "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
      "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
      "<pia@example.net>:\nUnable to contact LDAP server. (#4.4.3)\n"
      "I'm not going to try again; this message has been in the queue too long.\n\n"
      "--- Below this line is a copy of the message.\n\nFrom: alice@example.com\n\nhi\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "systemerror");
  EXPECT_EQ(r->recipients[0].status, "4.4.3");
}

TEST(Generalise, VendorSentenceAboveTheOnlyRecipient) {
  // au EZweb writes its verdict above the address line; the line itself only says "user
  // unknown". With one recipient the sentence is about it (Sisimai Lhost/EZweb).
  auto r = parse(
      "From: Mail Administrator <Postmaster@ezweb.ne.jp>\nTo: alice@example.com\n"
      "Subject: Mail System Error - Returned Mail\nMIME-Version: 1.0\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"E\"\n\n"
      "--E\nContent-Type: text/plain\n\nThe user(s) account is disabled.\n\n\n"
      "<quinn@ezweb.example>: 550 user unknown (in reply to RCPT TO command)\n\n"
      "--E\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.ezweb.example\n\n"
      "Final-Recipient: rfc822; quinn@ezweb.example\nAction: failed\nStatus: 5.0.0\n\n--E--\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "suspend");
}

TEST(Generalise, FilterWordingBeatsBadMailboxStatus) {
  ReasonInput in{"5.1.1", "550",    "550 5.1.1 Refused due to recipient preferences",
                 "",      "failed", "SMTP"};
  EXPECT_EQ(classify(in), "filtered");
  ReasonInput unknown{"5.1.1",
                      "550",
                      "550 5.1.1 user unknown; refused due to recipient "
                      "preferences",
                      "",
                      "failed",
                      "SMTP"};
  EXPECT_EQ(classify(unknown), "userunknown");
}

TEST(Generalise, DeliveryStatusWrittenInsideTheText) {
  // The boundary line before the delivery-status part is indented, so MIME sees one text part
  // that holds the fields; the Status comment is the only diagnostic of the second recipient.
  auto r = parse(
      "From: MAILER-DAEMON@gw.example.org\nTo: alice@example.com\nSubject: Returned mail\n"
      "MIME-Version: 1.0\nContent-Type: multipart/report; boundary=\"Z\"\n\n"
      "--Z\nContent-Type: text/plain\n\nThe following addresses had delivery problems:\n"
      "<wendy@example.net> (unrecoverable error)\n\n"
      " --Z\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; gw.example.org\n\n"
      "Final-Recipient: rfc822;wendy@example.net\nAction: failed\nStatus: 5.0.0\n"
      "Diagnostic-Code: smtp; 550 mailbox unavailable: no such user\n\n"
      "Final-Recipient: rfc822;xavier@other.example\nAction: delayed\n"
      "Status: 4.0.0 (other.example: host name lookup failure)\n\n--Z--\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 2u);
  EXPECT_EQ(r->recipients[0].address, "wendy@example.net");
  EXPECT_EQ(r->recipients[0].reply_code, "550");
  EXPECT_EQ(r->recipients[0].diagnostic_type, "SMTP");  // read from the fields, not the prose
  EXPECT_EQ(r->recipients[1].address, "xavier@other.example");
  EXPECT_EQ(r->recipients[1].action, "delayed");
  EXPECT_EQ(r->recipients[1].diagnostic, "other.example: host name lookup failure");
  EXPECT_EQ(r->recipients[1].status, "4.0.0");
  EXPECT_EQ(r->recipients[1].reason, "networkerror");
}

TEST(Generalise, ProviderCodes) {
  EXPECT_EQ(provider_code_reason("552 5.1.1 Boite pleine. Over quota. OFR004_417"), "mailboxfull");
  EXPECT_EQ(provider_code_reason("550 Compte bloque LPN105-420 [420]"), "suspend");
  EXPECT_EQ(provider_code_reason("554 rejected - see AUP#CXDNS"), "requireptr");
  EXPECT_EQ(provider_code_reason("421 4.7.0 slow down AUP#O1540"), "speeding");
  EXPECT_EQ(provider_code_reason("550 LPN_12 nothing"), "");
  EXPECT_EQ(provider_code_reason("550 xOFR_417 glued to a word"), "");
  auto r = parse(make_dsn("Delivery failed.",
                          "Final-Recipient: rfc822; yves@example.fr\nAction: failed\n"
                          "Status: 5.5.0\nDiagnostic-Code: smtp; 550 5.5.0 Service refuse. "
                          "Service refused. OUK_506 [506]\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "spamdetected");
}

TEST(Generalise, TextOfUnsplittableMime) {
  // The inner multipart's boundary parameter is on an unfolded line: MIME cannot split it.
  auto r = parse(
      "From: postmaster@sms.example.net\nTo: alice@example.com\nSubject: Undeliverable\n"
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"OUT\"\n\n"
      "--OUT\nContent-Type: multipart/alternative;\nboundary=\"IN\"\n\n"
      "--IN\nContent-Type: text/plain; charset=us-ascii\n\n"
      "Delivery failure: the recipient is unknown\n550 - no such user here\n"
      "Envelope:\n  MAIL FROM: alice@example.com\n  RCPT TO: zoe@sms.example.net\n\n"
      "--IN--\n\n--OUT--\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Kind::kBounce);
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].address, "zoe@sms.example.net");
  EXPECT_EQ(r->recipients[0].command, "RCPT");
  EXPECT_EQ(r->recipients[0].reason, "userunknown");
  EXPECT_EQ(r->recipients[0].diagnostic.find("Content-Type"), std::string::npos);
}

TEST(Generalise, MultiLineReplyReadFromTheTranscript) {
  // The DSN keeps the first line of a two-line reply; the transcript has both.
  auto r = parse(make_dsn(
      "<amy@example.net>\n... while talking to mx.example.net.:\n>>> DATA\n"
      "<<< 550-5.7.1 This message is not RFC 5322\n"
      "<<< 550 5.7.1 compliant: it has two Subject headers.\n554 5.0.0 Service unavailable",
      "Final-Recipient: rfc822; amy@example.net\nAction: failed\nStatus: 5.7.1\n"
      "Diagnostic-Code: smtp; 550-5.7.1 This message is not RFC 5322\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "notcompliantrfc");
}

TEST(Generalise, SummaryAboveTheFailedRecipientsIsNotOne) {
  // Exchange-style: the original's To: is summarised above "did not reach the following".
  auto r = parse(
      "From: postmaster@corp.example\nTo: alice@example.com\nSubject: Undeliverable: plans\n\n"
      "Your message\n\n  To:      boss@corp.example\n  Subject: plans\n\n"
      "did not reach the following recipient(s):\n\n"
      "bert@branch.corp.example on Mon, 2 Jan 2023 10:00:00 +0000\n"
      "    The recipient name is not recognized\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].address, "bert@branch.corp.example");
  EXPECT_EQ(r->recipients[0].reason, "userunknown");
  EXPECT_EQ(classify(ReasonInput{"5.7.0", "550",
                                 "550 5.7.0 <c@d.example>: Recipient address rejected: No relaying",
                                 "RCPT", "failed", "SMTP"}),
            "norelaying");
}

TEST(Generalise, QmailGiveUpTrailerDoesNotHideTheRemoteReply) {
  auto qmail = [](const std::string& said) {
    return parse(
        "From: MAILER-DAEMON@q.example.org\nTo: alice@example.com\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at q.example.org.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<gus@example.net>:\n" +
        said +
        "I'm not going to try again; this message has been in the queue too long.\n\n"
        "--- Below this line is a copy of the message.\n\nFrom: alice@example.com\n\nhi\n");
  };
  auto r = qmail(
      "Remote host said: 421 4.7.1 Mail from 192.0.2.7 is deferred because of the "
      "sending MTA's poor reputation\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "badreputation");
  auto e = qmail("");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->recipients.size(), 1u);
  EXPECT_EQ(e->recipients[0].reason, "expired");
}

TEST(Generalise, InnerReplyOfAWrappedSendmailReply) {
  auto r =
      parse(make_dsn("----- Transcript of session follows -----\n"
                     "554 <hal@gone.example>... 550 Host unknown (Authoritative answer)",
                     "Final-Recipient: rfc822; hal@gone.example\nAction: failed\n"
                     "Status: 5.1.2\nDiagnostic-Code: smtp; 554 <hal@gone.example>... 550 "
                     "Host unknown (Authoritative answer)\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reply_code, "550");
  EXPECT_EQ(r->recipients[0].reason, "hostunknown");
}

TEST(Generalise, QuotedRemoteReplyInsideARelaySummary) {
  auto r = parse(make_dsn("Delivery failed for jo@slow.example.",
                          "Final-Recipient: rfc822; jo@slow.example\nAction: failed\n"
                          "Status: 4.4.7\nDiagnostic-Code: smtp; 554 4.4.7 Message expired: "
                          "gave up after 2 days.<451 4.3.0 Mail server temporarily rejected "
                          "message>\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reply_code, "451");
  EXPECT_EQ(r->recipients[0].status, "4.3.0");
}

TEST(Generalise, MailClientUnsubscribeIsOptOutFeedback) {
  auto r = parse(
      "From: kim@example.net\nTo: leave-42@lists.example.org\nSubject: unsubscribe\n"
      "Auto-Submitted: auto-replied\nX-Apple-Unsubscribe: true\n\n"
      "This message was sent to unsubscribe.\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Kind::kFeedback);
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].reason, "feedback");
  EXPECT_EQ(r->recipients[0].feedback_type, "opt-out");
  EXPECT_EQ(r->recipients[0].address, "kim@example.net");
}

TEST(Generalise, GenericPhrases) {
  auto c = [](const char* status, const char* code, const char* text) {
    return classify(ReasonInput{status, code, text, "", "failed", "SMTP"});
  };
  EXPECT_EQ(c("", "554", "554 mx1 Client host blocked for sending spam (code 17)"), "blocked");
  EXPECT_EQ(c("", "530", "530 Please turn on SMTP Authentication in your mail program"),
            "securityerror");
  EXPECT_EQ(c("", "", "a@b.example: malformed address: c@d may not follow a@b"), "syntaxerror");
}

// ---- accuracy over the shared set ----

std::string shared_dir() {
  const char* env = std::getenv("MAILSIFT_SOURCE_DIR");
  std::string root = env ? env : MAILSIFT_SOURCE_DIR;
  return root + "/../shared/testdata/bounces";
}

std::vector<std::string> split_tab(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Tally {
  int n = 0, ok = 0;
  void add(bool good) {
    ++n;
    ok += good;
  }
  double pct() const { return n ? 100.0 * ok / n : 100.0; }
};
struct Figures {
  Tally reason, recipients, status, reply, hard, not_bounce, feedback_type;
};

void print(const char* name, const Figures& f) {
  std::printf(
      "[%s] reason %d/%d (%.1f%%), recipients %d/%d (%.1f%%), status %d/%d (%.1f%%), "
      "reply code %d/%d (%.1f%%), hard bounce %d/%d (%.1f%%), not-bounces rejected %d/%d, "
      "feedback type %d/%d\n",
      name, f.reason.ok, f.reason.n, f.reason.pct(), f.recipients.ok, f.recipients.n,
      f.recipients.pct(), f.status.ok, f.status.n, f.status.pct(), f.reply.ok, f.reply.n,
      f.reply.pct(), f.hard.ok, f.hard.n, f.hard.pct(), f.not_bounce.ok, f.not_bounce.n,
      f.feedback_type.ok, f.feedback_type.n);
}

// OpenSMTPD writes a generic Status (5.0.0 here) in its report part; the notice's
// "address: error" line is the report (Sisimai's reading), so the error names the status.
TEST(Generalise, OpenSmtpdNoticeLineIsTheReport) {
  auto r = parse(
      "From: Mailer Daemon <MAILER-DAEMON@relay.example>\n"
      "To: ann@relay.example\n"
      "Subject: Delivery status notification: error\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/mixed;boundary=\"X1/relay\"\n\n"
      "--X1/relay\nContent-Description: Notification\nContent-Type: text/plain\n\n"
      "    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n"
      "    An error has occurred while attempting to deliver a message for\n"
      "    the following list of recipients:\n\n"
      "zed@nowhere.example: Domain does not exist\n"
      "max@full.example: 552 5.2.2 <max@full.example>... Mailbox full\n\n"
      "    Below is a copy of the original message:\n\n"
      "--X1/relay\nContent-Description: Delivery Report\nContent-Type: message/delivery-status\n\n"
      "Reporting-MTA: dns; relay.example\n\n"
      "Final-Recipient: rfc822; zed@nowhere.example\nAction: failed\nStatus: 5.0.0\n\n"
      "Final-Recipient: rfc822; max@full.example\nAction: failed\nStatus: 5.0.0\n\n"
      "--X1/relay--\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->vendor, "opensmtpd");
  ASSERT_EQ(r->recipients.size(), 2u);
  EXPECT_EQ(r->recipients[0].address, "zed@nowhere.example");
  EXPECT_EQ(r->recipients[0].reason, "hostunknown");
  EXPECT_EQ(r->recipients[0].status, "5.0.912");
  EXPECT_EQ(r->recipients[0].diagnostic, "Domain does not exist");
  EXPECT_EQ(r->recipients[1].reason, "mailboxfull");
  EXPECT_EQ(r->recipients[1].status, "5.2.2");
  EXPECT_EQ(r->recipients[1].reply_code, "552");
}

// Exim: a refusal after MAIL FROM with no status code in the text gets the pseudo status of
// `onhold` (Sisimai's Exim module), while the reason is still read from the words.
TEST(Generalise, EximMailFromRefusalStatusIsOnholdPseudoCode) {
  auto exim = [](std::string reply) {
    return parse(
        "From: Mail Delivery System <Mailer-Daemon@out.example>\n"
        "To: sam@out.example\nSubject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: kim@in.example\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  kim@in.example\n"
        "    host mx.in.example [192.0.2.9]\n"
        "    SMTP error from remote mail server after MAIL FROM:<sam@out.example> SIZE=99:\n"
        "    " +
        reply +
        "\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "From: sam@out.example\nTo: kim@in.example\nSubject: hi\n\nhi\n");
  };
  auto r =
      exim("554 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].command, "MAIL");
  EXPECT_EQ(r->recipients[0].reason, "blocked");
  EXPECT_EQ(r->recipients[0].status, "5.0.901");
  // An explicit code in the reply is kept.
  auto e = exim("550 5.7.1 Client host rejected: cannot find your reverse hostname");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->recipients.size(), 1u);
  EXPECT_EQ(e->recipients[0].status, "5.7.1");
}

// A recipient named only as a bare item under "... failed permanently:" was told nothing:
// `undefined` (unsure). Text above the address that is not such a lead-in still counts.
TEST(Generalise, BareListedRecipientIsUndefined) {
  auto notice = [](std::string above) {
    return parse(
        "From: Mail Delivery System <>\nTo: ann@a.example\n"
        "Subject: Delivery status notification\n\n" +
        above + "\n\n   * bob@b.example\n\n");
  };
  auto r = notice("Delivery to the following recipients failed permanently:");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].address, "bob@b.example");
  EXPECT_EQ(r->recipients[0].reason, "undefined");
  EXPECT_EQ(r->recipients[0].status, "5.0.900");
  auto n = notice("The recipient's mailbox is full and cannot accept messages now");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->recipients.size(), 1u);
  EXPECT_EQ(n->recipients[0].reason, "mailboxfull");
}

// fml (mailing-list manager) notices: the refusal text, else the Subject's title, decides.
TEST(Generalise, FmlNoticesNameTheirReason) {
  auto fml = [](std::string subject, std::string line) {
    return parse(
        "From: cats-admin@lists.example\nTo: cats-admin@lists.example\n"
        "Subject: " +
        subject +
        "\nMessage-Id: <20240101.FML00001.cats@lists.example>\n"
        "X-MLServer: fml [fml 4.0.3 release]\n\n" +
        line + "\n\nOriginal mail as follows:\n\n   From: tom@else.example\n   Subject: x\n");
  };
  auto loop = fml("Loop Alert: Duplicated Message-ID (cats ML)",
                  "Duplicated Message-ID in <cats@lists.example>.");
  ASSERT_TRUE(loop.ok());
  EXPECT_EQ(loop->vendor, "fml");
  ASSERT_EQ(loop->recipients.size(), 1u);
  EXPECT_EQ(loop->recipients[0].address, "cats@lists.example");
  EXPECT_EQ(loop->recipients[0].reason, "systemerror");
  EXPECT_EQ(loop->recipients[0].status, "5.0.930");
  auto member = fml("Rejected: post from a stranger",
                    "You are not a member of this mailing list <cats@lists.example>.");
  ASSERT_TRUE(member.ok());
  ASSERT_EQ(member->recipients.size(), 1u);
  EXPECT_EQ(member->recipients[0].reason, "rejected");
}

TEST(BounceAccuracy, SisimaiPublicSet) {
  const std::string dir = shared_dir();
  std::ifstream per(dir + "/expected-per-recipient.tsv");
  std::ifstream files(dir + "/expected.tsv");
  if (!per || !files)
    GTEST_SKIP() << "no shared bounce set at " << dir;
  const char* verbose_env = std::getenv("MAILSIFT_BOUNCE_VERBOSE");
  std::string verbose = verbose_env ? verbose_env : "";

  std::map<std::string, int> n_rcpts;
  std::map<std::string, std::vector<std::vector<std::string>>> rows;
  std::string line;
  std::getline(files, line);
  while (std::getline(files, line)) {
    auto c = split_tab(line);
    if (c.size() >= 5)
      n_rcpts[c[0]] = c[4].empty() ? 0 : std::atoi(c[4].c_str());
  }
  std::getline(per, line);
  while (std::getline(per, line)) {
    auto c = split_tab(line);
    if (c.size() >= 7)
      rows[c[0]].push_back(c);
  }
  std::vector<std::string> paths;
  for (const auto& [p, _] : rows)
    paths.push_back(p);
  std::sort(paths.begin(), paths.end());

  Figures dev, hold, all;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    const bool holdout = i % 4 == 3;
    Figures& f = holdout ? hold : dev;
    const bool show = verbose == "all" || (verbose == "dev" && !holdout);
    std::string raw = slurp(dir + "/" + path);
    auto rep = parse(raw);
    const auto& expect = rows[path];
    if (expect[0][1] == "NOT-A-BOUNCE") {
      bool good = rep.ok() && rep->kind == Kind::kNotBounce;
      f.not_bounce.add(good);
      all.not_bounce.add(good);
      if (!good && show)
        std::printf("MISS %s not-a-bounce\n", path.c_str());
      continue;
    }
    int got_n = rep.ok() ? static_cast<int>(rep->recipients.size()) : -1;
    bool rc_ok = got_n == n_rcpts[path];
    f.recipients.add(rc_ok);
    all.recipients.add(rc_ok);
    if (!rc_ok && show)
      std::printf("MISS %s recipients got %d want %d\n", path.c_str(), got_n, n_rcpts[path]);
    for (const auto& e : expect) {
      size_t idx = static_cast<size_t>(std::max(1, std::atoi(e[4].c_str())) - 1);
      const Recipient* g =
          rep.ok() && idx < rep->recipients.size() ? &rep->recipients[idx] : nullptr;
      std::string greason = g ? g->reason : "(none)";
      bool r_ok = greason == e[1];
      f.reason.add(r_ok);
      all.reason.add(r_ok);
      if (!e[2].empty()) {
        bool s_ok = g && g->status == e[2];
        f.status.add(s_ok);
        all.status.add(s_ok);
        if (!s_ok && show)
          std::printf("MISS %s#%zu status got %s want %s\n", path.c_str(), idx + 1,
                      g ? g->status.c_str() : "-", e[2].c_str());
      }
      if (!e[3].empty()) {
        bool c_ok = g && g->reply_code == e[3];
        f.reply.add(c_ok);
        all.reply.add(c_ok);
        if (!c_ok && show)
          std::printf("MISS %s#%zu reply got %s want %s\n", path.c_str(), idx + 1,
                      g ? g->reply_code.c_str() : "-", e[3].c_str());
      }
      bool h_ok = g && (g->hard_bounce ? "true" : "false") == e[5];
      f.hard.add(h_ok);
      all.hard.add(h_ok);
      if (!e[6].empty()) {
        bool ft = g && g->feedback_type == e[6];
        f.feedback_type.add(ft);
        all.feedback_type.add(ft);
      }
      if (!r_ok && show)
        std::printf("MISS %s#%zu reason got %s want %s | %s | %s\n", path.c_str(), idx + 1,
                    greason.c_str(), e[1].c_str(), g ? g->status.c_str() : "",
                    g ? g->diagnostic.substr(0, 240).c_str() : "");
    }
  }
  // Ordinary mail must not be taken for a bounce.
  for (const auto& entry : fs::directory_iterator(dir + "/not-bounces")) {
    auto rep = parse(slurp(entry.path()));
    bool good = !rep.ok() || rep->kind == Kind::kNotBounce;
    all.not_bounce.add(good);
    dev.not_bounce.add(good);
    if (!good && !verbose.empty())
      std::printf("MISS %s taken for a bounce\n", entry.path().filename().c_str());
  }
  print("dev", dev);
  print("holdout", hold);
  print("all", all);
  RecordProperty("reason_pct", std::to_string(all.reason.pct()));

  // Floors a little under the figures reached (README.md); raise them with the parser.
  // Reached (2026-11-28, branch bounces): reason 291/316, recipients 294/298, status 280/305,
  // reply code 222/228, hard bounce 299/316, feedback type 8/8.
  EXPECT_GE(all.reason.ok, 307);
  EXPECT_GE(all.recipients.ok, 293);
  EXPECT_GE(all.status.ok, 297);
  EXPECT_GE(all.reply.ok, 222);
  EXPECT_GE(all.hard.ok, 306);
  EXPECT_GE(all.feedback_type.ok, 8);
  EXPECT_EQ(all.not_bounce.ok, all.not_bounce.n);
}

// Every sample parses without error and renders (no crash on any file).
TEST(BounceAccuracy, EverySampleParses) {
  const std::string dir = shared_dir() + "/maildir";
  if (!fs::exists(dir))
    GTEST_SKIP();
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto rep = parse(slurp(entry.path()));
    ASSERT_TRUE(rep.ok()) << entry.path();
    EXPECT_FALSE(to_json(*rep).empty());
    ++n;
  }
  EXPECT_GT(n, 100);
}

}  // namespace
