# IMAPSieve (Dovecot 2.3): a message copied, moved or appended INTO Junk is reported as spam.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
if environment :matches "imap.user" "*" { set "username" "${1}"; }
pipe :copy "mailsift-report" [ "spam", "${username}" ];
