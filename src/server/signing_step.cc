#include "server/signing_step.h"

#include <fmt/format.h>

namespace mailsift::server {

std::optional<std::string> add_signatures(const signing::Signer& signer, const ScanRequest& request,
                                          ScanOutcome& out, int64_t now_unix) {
  if (out.message_reply)
    return std::nullopt;  // refused or tempfailed: nothing is delivered, nothing to sign
  const bool outbound = request.envelope.outbound;
  if (outbound ? !signer.dkim_enabled() : !(signer.arc_enabled() && out.authentication_results))
    return std::nullopt;
  std::string rewritten;
  std::string_view raw = request.raw;
  if (out.new_subject) {
    rewritten = signing::with_subject(raw, *out.new_subject);
    raw = rewritten;
  }
  if (outbound) {
    auto field = signer.dkim_sign(raw, request.envelope.mail_from, now_unix);
    if (!field)
      return fmt::format("dkim signing: {}", field.error().message);
    if (*field)
      out.prepend_headers.push_back({(*field)->name, (*field)->value});
    return std::nullopt;
  }
  auto fields = signer.arc_seal(raw, *out.authentication_results, now_unix);
  if (!fields)
    return fmt::format("arc sealing: {}", fields.error().message);
  if (*fields)
    for (const auto& f : **fields)
      out.prepend_headers.push_back({f.name, f.value});
  return std::nullopt;
}

}  // namespace mailsift::server
