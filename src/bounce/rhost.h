// mailsift::bounce remote-host rules — what some receiving providers mean by their own fixed
// replies, decided by who answered (the recipient's domain or the remote MTA's host name).
//
// Owns: the table of providers whose documented or observed replies name a reason that the
// generic phrase table would get wrong (the same words mean different things at different
// providers), in the manner of Sisimai's Rhost modules: au/KDDI (ezweb.ne.jp), Symantec /
// Broadcom Email Security.cloud (messagelabs.com). The provider is recognised by the suffix of
// the recipient's domain, of the remote host or of the reporting MTA (in that order, as Sisimai
// does), never by anything else in the message.
//
// Failure semantics: pure function; never fails. "" when no provider matches or its rules say
// nothing about the text (the generic classifier then decides).
#pragma once

#include <string>
#include <string_view>

namespace mailsift::bounce {

struct RhostInput {
  std::string_view recipient;   // the failed address (any case)
  std::string_view remote_mta;  // host name of the server that refused, "" if unknown
  // The MTA that wrote the report: a provider's own relay reports its own fixed replies.
  std::string_view reporting_mta;
  std::string_view diagnostic;    // the reply text (any case)
  std::string_view status = {};   // RFC 3463 code given by the bounce ("" if none)
  std::string_view command = {};  // refused SMTP command ("RCPT", "DATA", ... or "")
};

// The reason the answering provider's rules give, or "".
std::string rhost_reason(const RhostInput& in);

}  // namespace mailsift::bounce
