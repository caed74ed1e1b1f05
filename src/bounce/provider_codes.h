// mailsift::bounce provider codes — the error codes some large mailbox providers put into their
// SMTP replies, and the reason each code stands for.
//
// Owns: recognising the code schemes the providers document on their postmaster pages (Orange /
// La Poste "LPN007_416", "OFR_999"; Cox "AUP#CXBL"; Spectrum/Charter "AUP#I1310") and mapping a
// code to a reason. A provider's code says more than its free text, which is often a generic
// "Service refused" or "sender rejected" shared by many codes.
//
// Failure semantics: pure function; never fails. "" when the text carries no known code.
#pragma once

#include <string>
#include <string_view>

namespace mailsift::bounce {

// Reason for a provider error code found in `diagnostic` (any case), or "" if none.
std::string provider_code_reason(std::string_view diagnostic);

}  // namespace mailsift::bounce
