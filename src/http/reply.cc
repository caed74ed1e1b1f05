#include "http/reply.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace mailsift::http {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Severity for picking the least severe action among recipients.
int severity(scan::Action a) {
  switch (a) {
    case scan::Action::kNoAction:
      return 0;
    case scan::Action::kAddHeader:
      return 1;
    case scan::Action::kRewriteSubject:
      return 2;
    case scan::Action::kSoftReject:
      return 3;
    case scan::Action::kReject:
      return 4;
  }
  return 0;
}

// Message-derived text may be any bytes; dump with replacement instead of throwing.
template <typename J>
std::string dump(const J& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string reply_line(const server::SmtpReply& r) {
  std::string out = std::to_string(r.code);
  if (!r.enhanced.empty())
    out += " " + r.enhanced;
  if (!r.text.empty())
    out += " " + r.text;
  return out;
}

}  // namespace

std::string rspamd_error_json(const std::string& message) {
  ordered_json j;
  j["error"] = message;
  return dump(j);
}

std::string native_scan_json(const server::ScanOutcome& outcome, double seconds) {
  ordered_json j;
  j["decision_id"] = outcome.decision_id;
  j["recipients"] = ordered_json::array();
  for (const server::RecipientOutcome& r : outcome.recipients) {
    const scan::Verdict& v = r.verdict;
    ordered_json rj;
    rj["address"] = r.address;
    rj["action"] = scan::to_string(v.action);
    rj["score"] = v.score;
    rj["required_score"] = v.required_score;
    rj["is_spam"] = v.is_spam();
    if (v.spam_probability)
      rj["spam_probability"] = *v.spam_probability;
    rj["policy_source"] = r.policy.actions.source;
    rj["symbols"] = ordered_json::array();
    for (const scan::Symbol& s : v.symbols) {
      ordered_json sj;
      sj["name"] = s.name;
      sj["score"] = s.score;
      sj["description"] = s.description;
      if (!s.detail.empty())
        sj["detail"] = s.detail;
      rj["symbols"].push_back(std::move(sj));
    }
    if (r.reply) {
      rj["smtp_reply"] = {{"code", r.reply->code},
                          {"enhanced", r.reply->enhanced},
                          {"text", r.reply->text},
                          {"line", reply_line(*r.reply)}};
    }
    if (!v.errors.empty()) {
      rj["errors"] = ordered_json::array();
      for (const Error& e : v.errors)
        rj["errors"].push_back(e.describe());
    }
    j["recipients"].push_back(std::move(rj));
  }
  j["add_headers"] = ordered_json::array();
  for (const server::Header& h : outcome.add_headers)
    j["add_headers"].push_back({{"name", h.name}, {"value", h.value}});
  j["remove_headers"] = outcome.remove_headers;
  if (outcome.authentication_results) {
    j["authentication_results"] = *outcome.authentication_results;
    j["forged_authentication_results"] = outcome.forged_authentication_results;
  }
  if (!outcome.prepend_headers.empty()) {
    // DKIM-Signature (outbound) or the ARC set (inbound): insert at the very top, in this order.
    j["prepend_headers"] = ordered_json::array();
    for (const server::Header& h : outcome.prepend_headers)
      j["prepend_headers"].push_back({{"name", h.name}, {"value", h.value}});
  }
  if (outcome.log_error)
    j["log_error"] = *outcome.log_error;
  j["time"] = seconds;
  return dump(j);
}

std::string native_learn_json(const scan::LearnResult& result, store::Class cls) {
  ordered_json j;
  j["outcome"] = store::to_string(result.outcome);
  j["class"] = store::to_string(cls);
  j["scope"] = result.scope.key();
  j["digest"] = result.digest;
  return dump(j);
}

size_t pick_reported_recipient(const server::ScanOutcome& outcome, const std::string& deliver_to) {
  const auto& rs = outcome.recipients;
  if (!deliver_to.empty()) {
    for (size_t i = 0; i < rs.size(); ++i)
      if (rs[i].address == deliver_to)
        return i;
  }
  size_t best = 0;
  for (size_t i = 1; i < rs.size(); ++i)
    if (severity(rs[i].verdict.action) < severity(rs[best].verdict.action))
      best = i;
  return best;
}

std::string rspamd_check_json(const server::ScanOutcome& outcome, const RequestParams& params,
                              const std::string& message_id, double seconds) {
  ordered_json j;
  if (outcome.recipients.empty()) {
    // No verdict at all (should not happen): report an unscanned message as Rspamd would.
    j["is_skipped"] = true;
    j["score"] = 0.0;
    j["required_score"] = 0.0;
    j["action"] = "no action";
    j["symbols"] = ordered_json::object();
    j["messages"] = ordered_json::object();
    j["time_real"] = seconds;
    return dump(j);
  }
  const server::RecipientOutcome& r =
      outcome.recipients[pick_reported_recipient(outcome, params.deliver_to)];
  const scan::Verdict& v = r.verdict;
  j["is_skipped"] = false;
  j["score"] = v.score;
  j["required_score"] = v.required_score;
  j["action"] = scan::to_string(v.action);
  ordered_json symbols = ordered_json::object();
  for (const scan::Symbol& s : v.symbols) {
    ordered_json sj;
    sj["name"] = s.name;
    sj["score"] = s.score;
    sj["metric_score"] = s.score;
    if (!s.description.empty())
      sj["description"] = s.description;
    if (!s.detail.empty())
      sj["options"] = ordered_json::array({s.detail});
    symbols[s.name] = std::move(sj);
  }
  j["symbols"] = std::move(symbols);
  ordered_json messages = ordered_json::object();
  if (r.reply && !r.reply->text.empty())
    messages["smtp_message"] = r.reply->text;
  j["messages"] = std::move(messages);
  if (!message_id.empty())
    j["message-id"] = message_id;
  j["time_real"] = seconds;
  ordered_json milter = ordered_json::object();
  if (!outcome.add_headers.empty() || outcome.authentication_results) {
    // Rspamd: {"Name": {"value": v, "order": 0}}; a name added twice becomes an array.
    ordered_json add = ordered_json::object();
    if (outcome.authentication_results)
      add["Authentication-Results"] = {{"value", *outcome.authentication_results}, {"order", 0}};
    for (const server::Header& h : outcome.add_headers) {
      ordered_json entry = {{"value", h.value}, {"order", 0}};
      auto it = add.find(h.name);
      if (it == add.end()) {
        add[h.name] = std::move(entry);
      } else {
        if (!it->is_array())
          *it = ordered_json::array({*it});
        it->push_back(std::move(entry));
      }
    }
    milter["add_headers"] = std::move(add);
  }
  if (!outcome.remove_headers.empty()) {
    ordered_json remove = ordered_json::object();
    for (const std::string& name : outcome.remove_headers)
      remove[name] = 0;  // 0 = every instance
    milter["remove_headers"] = std::move(remove);
  }
  if (!outcome.forged_authentication_results.empty()) {
    // Rspamd's shape holds one index per name: one forged copy by its index, several: all.
    if (!milter.contains("remove_headers"))
      milter["remove_headers"] = ordered_json::object();
    milter["remove_headers"]["Authentication-Results"] =
        outcome.forged_authentication_results.size() == 1 ? outcome.forged_authentication_results[0]
                                                          : 0;
  }
  if (!milter.empty())
    j["milter"] = std::move(milter);
  for (const server::Header& h : outcome.prepend_headers) {
    // Rspamd's reply carries its DKIM signature as "dkim-signature" (the value to add).
    if (h.name == "DKIM-Signature")
      j["dkim-signature"] = h.value;
  }
  return dump(j);
}

std::string rspamd_already_learned_message(const std::string& message_id, store::Class cls) {
  return fmt::format("<{}> has been already learned as {}, ignore it",
                     message_id.empty() ? "undef" : message_id, store::to_string(cls));
}

}  // namespace mailsift::http
