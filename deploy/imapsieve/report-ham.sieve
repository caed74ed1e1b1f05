# IMAPSieve (Dovecot 2.3): a message moved OUT OF Junk is reported as "not spam" — except into
# Trash: deleting junk is not a verdict.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
if environment :matches "imap.mailbox" "*" { set "mailbox" "${1}"; }
if string "${mailbox}" "Trash" { stop; }
if environment :matches "imap.user" "*" { set "username" "${1}"; }
pipe :copy "mailsift-report" [ "ham", "${username}" ];
