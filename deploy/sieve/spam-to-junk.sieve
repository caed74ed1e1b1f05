# mailsift: file spam into Junk by THIS recipient's verdict (Dovecot Pigeonhole, sieve_before).
#
# mailsiftd scores a message once and decides per recipient; every delivered copy carries one
#   X-Mailsift-Verdict: rcpt=<address>; verdict=spam|ham; action=<action>; score=<score>
# line per recipient of the SMTP transaction (docs/per-recipient.md). Dovecot LMTP/LDA runs this
# script once per recipient, with that recipient as the envelope "to": we pick our own line.
# Install: plugin { sieve_before = /etc/dovecot/sieve/spam-to-junk.sieve } and compile it with
#   sievec -c /etc/dovecot/dovecot.conf /etc/dovecot/sieve/spam-to-junk.sieve
require ["fileinto", "envelope", "variables", "mailbox"];

# Lower case (mailsiftd writes addresses in lower case) and with * ? escaped, since the value is
# used inside a :matches pattern.
if envelope :matches "to" "*" {
  set :lower :quotewildcard "rcpt" "${1}";
}

if header :matches "X-Mailsift-Verdict" "rcpt=${rcpt}; verdict=spam;*" {
  fileinto :create "Junk";
  stop;
}

# No line for this address (an alias or forward rewrote the recipient after mailsiftd saw it):
# fall back to the content verdict of the message.
if not header :matches "X-Mailsift-Verdict" "rcpt=${rcpt};*" {
  if header :is "X-Spam-Flag" "YES" {
    fileinto :create "Junk";
    stop;
  }
}
