// mailsift::server signing step — DKIM-signs outbound mail and ARC-seals inbound mail in the
// end-of-message path, after the verdict (src/signing does the work; this only decides which
// mail and fills ScanOutcome::prepend_headers).
//
// Failure semantics: never fails the message. A signature that cannot be made is returned as
// text for the decision record, and the message is delivered unsigned.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "server/service.h"
#include "signing/signing.h"

namespace mailsift::server {

// Which mail: only mail that is delivered (no whole-message refusal or tempfail).
//   outbound (envelope.outbound)           -> DKIM-Signature for its From domain, if keyed;
//   inbound with our Authentication-Results -> ARC set, when arc_seal is enabled.
// The signature covers the message as delivered (a Subject rewrite included).
// Returns the error text when signing/sealing failed.
std::optional<std::string> add_signatures(const signing::Signer& signer, const ScanRequest& request,
                                          ScanOutcome& out, int64_t now_unix);

}  // namespace mailsift::server
