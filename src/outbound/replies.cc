#include "outbound/replies.h"

#include <fmt/format.h>

namespace mailsift::outbound {

const std::vector<ReplySpec>& reply_table() {
  static const std::vector<ReplySpec> kTable = {
      {ReplyKind::kSuspended, "suspended", "", "550 5.7.1",
       "Account suspended for {who}: {reason} (ref {ref})"},
      {ReplyKind::kSendingDisabled, "sending_disabled", "", "550 5.7.1",
       "Sending disabled for {who}: {reason} (ref {ref})"},
      {ReplyKind::kMessagesPerHour, "messages_per_hour", "451 4.7.1", "550 5.7.1",
       "Rate limit: {n} messages/hour for {who}"},
      {ReplyKind::kRecipientsPerMessage, "recipients_per_message", "452 4.5.3", "550 5.5.3",
       "Too many recipients: {n} per message for {who}"},
      {ReplyKind::kDistinctPerDay, "distinct_recipients_per_day", "451 4.7.1", "550 5.7.1",
       "Rate limit: {n} distinct recipients/day for {who}"},
      {ReplyKind::kFailedRatio, "failed_ratio", "451 4.7.1", "550 5.7.1",
       "Too many failed recipients: {pct}% of {n} in 24h for {who}"},
      {ReplyKind::kInternal, "internal", "451 4.3.0", "",
       "Temporary problem checking sending limits, try again later (ref {ref})"},
      {ReplyKind::kAcceptableUse, "acceptable_use", "", "550 5.7.1",
       "Message refused by the provider's acceptable use policy: {reason} (ref {ref})"},
  };
  return kTable;
}

const ReplySpec& reply_spec(ReplyKind kind) {
  for (const auto& s : reply_table())
    if (s.kind == kind)
      return s;
  return reply_table().back();
}

namespace {
std::string clean(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = ' ';
  return out;
}
}  // namespace

std::string render_reply(ReplyKind kind, bool tempfail, const ReplyArgs& a) {
  const ReplySpec& s = reply_spec(kind);
  std::string_view code = tempfail ? s.tempfail_code : s.reject_code;
  if (code.empty())
    code = tempfail ? s.reject_code : s.tempfail_code;
  std::string text = fmt::format(fmt::runtime(s.text), fmt::arg("who", clean(a.who)),
                                 fmt::arg("reason", clean(a.reason.empty() ? "no reason given"
                                                                           : a.reason)),
                                 fmt::arg("ref", clean(a.ref)), fmt::arg("n", a.n),
                                 fmt::arg("pct", a.pct));
  return fmt::format("{} {}", code, text);
}

std::string render_reply_table_markdown() {
  std::string out =
      "| refusal | tempfail | reject | text |\n| --- | --- | --- | --- |\n";
  for (const auto& s : reply_table())
    out += fmt::format("| {} | {} | {} | `{}` |\n", s.name,
                       s.tempfail_code.empty() ? "-" : s.tempfail_code,
                       s.reject_code.empty() ? "-" : s.reject_code, s.text);
  return out;
}

}  // namespace mailsift::outbound
