// JSON and text renderings of a Report (bounce.h): the shapes the CLI and HTTP API print.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bounce/bounce.h"

namespace mailsift::bounce {

std::string to_json(const Report& rep, std::string_view path) {
  nlohmann::ordered_json j;
  if (!path.empty())
    j["path"] = std::string(path);
  j["kind"] = to_string(rep.kind);
  j["is_bounce"] = rep.kind == Kind::kBounce;
  j["vendor"] = rep.vendor;
  if (!rep.reporting_mta.empty())
    j["reporting_mta"] = rep.reporting_mta;
  if (!rep.arrival_date.empty())
    j["arrival_date"] = rep.arrival_date;
  nlohmann::ordered_json rs = nlohmann::ordered_json::array();
  for (const auto& r : rep.recipients) {
    nlohmann::ordered_json x;
    x["address"] = r.address;
    if (!r.original_recipient.empty())
      x["original_recipient"] = r.original_recipient;
    x["reason"] = r.reason;
    x["hard_bounce"] = r.hard_bounce;
    x["action"] = r.action;
    x["status"] = r.status;
    x["status_explicit"] = r.status_explicit;
    x["reply_code"] = r.reply_code;
    x["remote_mta"] = r.remote_mta;
    x["command"] = r.command;
    x["diagnostic_type"] = r.diagnostic_type;
    x["diagnostic"] = r.diagnostic;
    if (!r.feedback_type.empty())
      x["feedback_type"] = r.feedback_type;
    nlohmann::ordered_json adv;
    adv["summary"] = r.advice.summary;
    adv["support"] = r.advice.support;
    adv["user"] = r.advice.user;
    adv["checks"] = r.advice.checks;
    if (!r.advice.blocklist.empty())
      adv["blocklist"] = r.advice.blocklist;
    if (!r.advice.live.empty()) {
      auto& live = adv["live"] = nlohmann::ordered_json::array();
      for (const auto& c : r.advice.live)
        live.push_back({{"check", c.check},
                        {"status", c.status},
                        {"message", c.message},
                        {"publish", c.publish},
                        {"remove", c.remove}});
    }
    x["advice"] = std::move(adv);
    rs.push_back(std::move(x));
  }
  j["recipients"] = std::move(rs);
  j["original"] = {{"from", rep.original.from},
                   {"to", rep.original.to},
                   {"message_id", rep.original.message_id},
                   {"date", rep.original.date},
                   {"subject", rep.original.subject}};
  // Untrusted bytes may be invalid UTF-8: replace rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_text(const Report& rep) {
  std::string out;
  if (rep.kind == Kind::kNotBounce)
    return "  not a bounce\n";
  out += fmt::format("  {} ({})\n", to_string(rep.kind), rep.vendor);
  if (!rep.original.from.empty() || !rep.original.message_id.empty())
    out += fmt::format("  original: from {} message-id {} date {} subject \"{}\"\n",
                       rep.original.from.empty() ? "?" : rep.original.from,
                       rep.original.message_id.empty() ? "?" : rep.original.message_id,
                       rep.original.date.empty() ? "?" : rep.original.date, rep.original.subject);
  for (const auto& r : rep.recipients) {
    out +=
        fmt::format("  recipient {}: {} ({}), status {}{}{}\n", r.address.empty() ? "?" : r.address,
                    r.reason, r.hard_bounce ? "hard" : "soft", r.status.empty() ? "-" : r.status,
                    r.reply_code.empty() ? "" : ", reply " + r.reply_code,
                    r.remote_mta.empty() ? "" : ", remote " + r.remote_mta);
    if (!r.feedback_type.empty())
      out += fmt::format("    feedback type: {}\n", r.feedback_type);
    if (!r.diagnostic.empty())
      out += fmt::format("    diagnostic: {}\n", r.diagnostic.substr(0, 300));
    out += fmt::format("    what happened: {}\n", r.advice.summary);
    out += fmt::format("    support: {}\n", r.advice.support);
    out += fmt::format("    user: {}\n", r.advice.user);
    if (r.advice.live.empty())
      for (const auto& c : r.advice.checks)
        out += fmt::format("    check: {}\n", c);
    for (const auto& c : r.advice.live) {
      out += fmt::format("    live {} {}: {}\n", c.check, c.status, c.message);
      for (const auto& l : c.remove)
        out += "      remove:  " + l + "\n";
      for (const auto& l : c.publish)
        out += "      publish: " + l + "\n";
    }
  }
  return out;
}

}  // namespace mailsift::bounce
