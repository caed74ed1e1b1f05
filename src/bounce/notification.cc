// JSON delivery notifications (Amazon SES through SNS, and SES event publishing): the body is a
// JSON document instead of a DSN. See notification.h.
#include "bounce/notification.h"

#include <nlohmann/json.hpp>

#include "mime/message.h"

namespace mailsift::bounce {
namespace {

using nlohmann::json;

// Parsing never throws: json::parse with allow_exceptions=false, and every access checks type.
std::string str(const json& j, const char* key) {
  if (!j.is_object())
    return {};
  auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return {};
  return it->get<std::string>();
}

const json* obj(const json& j, const char* key) {
  if (!j.is_object())
    return nullptr;
  auto it = j.find(key);
  if (it == j.end() || !(it->is_object() || it->is_array()))
    return nullptr;
  return &*it;
}

// The first balanced {...} of text (strings and escapes respected): notifications are often
// followed by a footer ("If you wish to stop receiving notifications ...").
std::string_view first_object(std::string_view text) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '{')
      ++depth;
    else if (c == '}' && --depth == 0)
      return text.substr(0, i + 1);
  }
  return text;
}

json parse_lenient(std::string_view text) {
  text = first_object(text);
  json j = json::parse(text, nullptr, false);
  if (!j.is_discarded())
    return j;
  // Mail transport wraps long lines ("!" CRLF SP, or a bare fold); undo it and retry.
  std::string t;
  t.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '!' && i + 2 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r')) {
      size_t k = i + 1;
      while (k < text.size() && (text[k] == '\r' || text[k] == '\n'))
        ++k;
      if (k < text.size() && text[k] == ' ') {
        i = k;
        continue;
      }
    }
    t.push_back(text[i]);
  }
  json k = json::parse(t, nullptr, false);
  if (!k.is_discarded())
    return k;
  // Plain folding: a line break followed by a space continues the previous line.
  std::string u;
  u.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\r' || t[i] == '\n') {
      size_t k2 = i;
      while (k2 < t.size() && (t[k2] == '\r' || t[k2] == '\n'))
        ++k2;
      if (k2 < t.size() && t[k2] == ' ') {
        i = k2;
        continue;
      }
    }
    u.push_back(t[i]);
  }
  return json::parse(u, nullptr, false);
}

}  // namespace

bool parse_json_notification(std::string_view body, Report& rep,
                             std::vector<Recipient>& recipients) {
  size_t start = body.find('{');
  if (start == std::string_view::npos || body.find("notificationType") == std::string_view::npos)
    if (body.find("eventType") == std::string_view::npos)
      return false;
  json outer = parse_lenient(body.substr(start));
  if (!outer.is_object())
    return false;
  json msg = outer;
  // SNS envelope: the SES notification is a JSON string in "Message".
  if (std::string inner = str(outer, "Message"); !inner.empty()) {
    msg = json::parse(inner, nullptr, false);
    if (!msg.is_object())
      return false;
  }
  std::string type = str(msg, "notificationType");
  if (type.empty())
    type = str(msg, "eventType");
  if (type.empty())
    return false;
  rep.vendor = "amazonses";
  if (const json* mail = obj(msg, "mail")) {
    rep.original.from = mime::extract_address(str(*mail, "source"));
    rep.original.message_id = str(*mail, "messageId");
    rep.original.date = str(*mail, "timestamp");
    if (const json* ch = obj(*mail, "commonHeaders"))
      rep.original.subject = str(*ch, "subject");
  }
  if (type == "Bounce") {
    rep.kind = Kind::kBounce;
    const json* b = obj(msg, "bounce");
    if (!b)
      return false;
    rep.reporting_mta = str(*b, "reportingMTA");
    if (size_t semi = rep.reporting_mta.find(';'); semi != std::string::npos)
      rep.reporting_mta = rep.reporting_mta.substr(semi + 1);
    while (!rep.reporting_mta.empty() && rep.reporting_mta.front() == ' ')
      rep.reporting_mta.erase(0, 1);
    std::string subtype = str(*b, "bounceSubType");
    if (const json* list = obj(*b, "bouncedRecipients"); list && list->is_array()) {
      for (const auto& e : *list) {
        Recipient r;
        r.address = mime::extract_address(str(e, "emailAddress"));
        r.action = str(e, "action");
        r.status = str(e, "status");
        std::string diag = str(e, "diagnosticCode");
        if (size_t semi = diag.find(';'); semi != std::string::npos && semi < 12) {
          r.diagnostic_type = diag.substr(0, semi);
          for (char& c : r.diagnostic_type)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          diag = diag.substr(semi + 1);
        }
        while (!diag.empty() && diag.front() == ' ')
          diag.erase(0, 1);
        r.diagnostic = diag;
        // SES's own classification when the remote said nothing.
        if (r.diagnostic.empty()) {
          if (subtype == "MailboxFull")
            r.reason = "mailboxfull";
          else if (subtype == "MessageTooLarge")
            r.reason = "mesgtoobig";
          else if (subtype == "ContentRejected" || subtype == "AttachmentRejected")
            r.reason = "contenterror";
          else if (subtype == "Suppressed" || subtype == "OnAccountSuppressionList")
            r.reason = "suppressed";
          else if (subtype == "NoEmail")
            r.reason = "userunknown";
        }
        recipients.push_back(std::move(r));
      }
    }
    return true;
  }
  if (type == "Complaint") {
    rep.kind = Kind::kFeedback;
    const json* c = obj(msg, "complaint");
    if (!c)
      return false;
    std::string ft = str(*c, "complaintFeedbackType");
    if (const json* list = obj(*c, "complainedRecipients"); list && list->is_array()) {
      for (const auto& e : *list) {
        Recipient r;
        r.address = mime::extract_address(str(e, "emailAddress"));
        r.reason = "feedback";
        r.feedback_type = ft.empty() ? "abuse" : ft;
        r.action = "failed";
        recipients.push_back(std::move(r));
      }
    }
    return true;
  }
  if (type == "Delivery") {
    rep.kind = Kind::kBounce;
    const json* d = obj(msg, "delivery");
    if (!d)
      return false;
    std::string smtp = str(*d, "smtpResponse");
    rep.reporting_mta = str(*d, "reportingMTA");
    if (const json* list = obj(*d, "recipients"); list && list->is_array()) {
      for (const auto& e : *list) {
        if (!e.is_string())
          continue;
        Recipient r;
        r.address = mime::extract_address(e.get<std::string>());
        r.action = "delivered";
        r.diagnostic = smtp;
        r.diagnostic_type = "SMTP";
        recipients.push_back(std::move(r));
      }
    }
    return true;
  }
  return false;
}

}  // namespace mailsift::bounce
