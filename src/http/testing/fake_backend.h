// Test double for mailsift::http::ScanBackend (tests, fuzzer, http_test_server --fake).
//
// Scripted by trigger words in the message: "REJECTME" -> reject with a 550 reply; "SPAMWORD"
// -> add header; "TEMPFAIL" -> kTemporary error; "NOTMAIL" -> kMalformed; otherwise no action.
// Learning remembers (digest, class) so the second identical learn is "already learned".
// Thread-safe; counts calls so tests can assert what reached the backend.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "http/backend.h"

namespace mailsift::http::testing {

class FakeBackend : public ScanBackend {
 public:
  std::atomic<bool> healthy{true};
  std::atomic<int> scans{0};
  std::atomic<int> learns{0};
  std::mutex mu;
  server::ScanRequest last_request_copy;  // raw not kept (view); envelope and recipients are
  std::string last_raw;
  std::string last_learn_recipient;

  Result<server::ScanOutcome> scan(const server::ScanRequest& request) override {
    scans.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu);
      last_request_copy.envelope = request.envelope;
      last_request_copy.recipients = request.recipients;
      last_raw = std::string(request.raw);
    }
    std::string_view raw = request.raw;
    if (raw.find("TEMPFAIL") != raw.npos)
      return Error::temporary("store unavailable (fake)");
    if (raw.find("NOTMAIL") != raw.npos)
      return Error::malformed("not a mail message (fake)");
    server::ScanOutcome out;
    out.decision_id = "20261128T120000Z-fake" + std::to_string(scans.load());
    std::vector<std::string> rcpts = request.recipients;
    if (rcpts.empty())
      rcpts.push_back("");
    for (const std::string& r : rcpts) {
      server::RecipientOutcome ro;
      ro.address = r;
      ro.verdict.required_score = 6;
      ro.verdict.symbols.push_back({"FAKE_BASE", 0.5, "Every message gets this", ""});
      ro.verdict.score = 0.5;
      if (raw.find("SPAMWORD") != raw.npos) {
        ro.verdict.symbols.insert(ro.verdict.symbols.begin(),
                                  {"FAKE_SPAMWORD", 9.0, "Contains the spam word", "SPAMWORD"});
        ro.verdict.score += 9.0;
        ro.verdict.action = scan::Action::kAddHeader;
      }
      // Per-recipient policy: only "strict@" recipients reject.
      if (raw.find("REJECTME") != raw.npos) {
        ro.verdict.score += 20;
        ro.verdict.symbols.insert(ro.verdict.symbols.begin(),
                                  {"FAKE_REJECT", 20.0, "Reject trigger", ""});
        if (r.rfind("strict@", 0) == 0 || r.empty()) {
          ro.verdict.action = scan::Action::kReject;
          ro.reply = server::SmtpReply{550, "5.7.1", "Message refused as spam"};
        } else {
          ro.verdict.action = scan::Action::kAddHeader;
        }
      }
      out.recipients.push_back(std::move(ro));
    }
    out.add_headers.push_back(
        {"X-Spam-Flag", out.recipients.front().verdict.is_spam() ? "YES" : "NO"});
    out.add_headers.push_back({"X-Mailsift-Id", out.decision_id});
    out.remove_headers.push_back("X-Spam-Flag");
    return out;
  }

  Result<scan::LearnResult> learn(std::string_view raw, store::Class cls,
                                  const std::string& recipient) override {
    return change(raw, cls, recipient, false);
  }
  Result<scan::LearnResult> unlearn(std::string_view raw, store::Class cls,
                                    const std::string& recipient) override {
    return change(raw, cls, recipient, true);
  }
  Status fuzzy(std::string_view raw, store::Class, const std::string&, FuzzyOp) override {
    if (raw.find("TEMPFAIL") != raw.npos)
      return Error::temporary("fuzzy store unavailable (fake)");
    return Ok{};
  }
  Status health() override {
    if (healthy.load())
      return Ok{};
    return Error::temporary("store unreachable (fake)");
  }

 private:
  Result<scan::LearnResult> change(std::string_view raw, store::Class cls,
                                   const std::string& recipient, bool unlearn) {
    learns.fetch_add(1);
    if (raw.find("TEMPFAIL") != raw.npos)
      return Error::temporary("store unavailable (fake)");
    std::lock_guard<std::mutex> lock(mu);
    last_learn_recipient = recipient;
    std::string key = recipient + "\n" + std::string(raw);
    scan::LearnResult r;
    r.digest = std::to_string(std::hash<std::string>{}(key));
    r.scope =
        recipient.empty() ? store::Scope::global() : store::Scope{store::Level::kUser, recipient};
    auto it = learned_.find(key);
    if (unlearn) {
      if (it != learned_.end() && it->second == cls) {
        learned_.erase(it);
        r.outcome = store::LearnOutcome::kUnlearned;
      } else {
        r.outcome = store::LearnOutcome::kNotLearned;
      }
    } else if (it == learned_.end()) {
      learned_[key] = cls;
      r.outcome = store::LearnOutcome::kLearned;
    } else if (it->second == cls) {
      r.outcome = store::LearnOutcome::kAlreadyLearned;
    } else {
      it->second = cls;
      r.outcome = store::LearnOutcome::kRelearned;
    }
    return r;
  }
  std::map<std::string, store::Class> learned_;
};

}  // namespace mailsift::http::testing
