#include "server/service.h"

#include "auth/auth_check.h"
#include "auth/authres.h"

#include <fmt/format.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "aup/outbound_profile.h"
#include "server/raw_headers.h"
#include "server/signing_step.h"

namespace mailsift::server {
namespace {

constexpr const char* kAllowSymbol = "USER_ALLOWLIST";
constexpr const char* kBlockSymbol = "USER_BLOCKLIST";

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0)
    return "mailsiftd";
  return buf;
}

std::string strip_brackets(std::string_view a) {
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>')
    a = a.substr(1, a.size() - 2);
  return std::string(a);
}

void sort_symbols(std::vector<scan::Symbol>& symbols) {
  std::sort(symbols.begin(), symbols.end(), [](const scan::Symbol& a, const scan::Symbol& b) {
    if (std::fabs(a.score) != std::fabs(b.score))
      return std::fabs(a.score) > std::fabs(b.score);
    return a.name < b.name;
  });
}

bool has_temporary_error(const scan::Verdict& v) {
  return std::any_of(v.errors.begin(), v.errors.end(),
                     [](const Error& e) { return e.kind == ErrorKind::kTemporary; });
}

// The engine decided from the content; the recipient's sender lists add one explained symbol
// and the action is chosen again from the new score (the same rule the engine applies).
void apply_sender_listing(scan::Verdict& v, const policy::RecipientPolicy& p,
                          policy::SenderListing listing, std::string_view sender,
                          double allow_score, double block_score) {
  if (listing == policy::SenderListing::kNone)
    return;
  // TODO(issue 4/5): an allow-list entry must not let through mail whose sender fails DMARC
  // (or SPF/DKIM alignment): the envelope sender is forgeable. Once the authentication checks
  // exist, apply USER_ALLOWLIST only when the sender domain is authenticated.
  const bool allowed = listing == policy::SenderListing::kAllowed;
  v.symbols.push_back(scan::Symbol{allowed ? kAllowSymbol : kBlockSymbol,
                                   allowed ? allow_score : block_score,
                                   allowed ? "Envelope sender is on the recipient's allow list"
                                           : "Envelope sender is on the recipient's block list",
                                   fmt::format("{} ({})", sender, p.actions.source)});
  v.score = 0;
  for (const auto& s : v.symbols)
    v.score += s.score;
  sort_symbols(v.symbols);
  v.action = p.actions.choose(v.score);
  if (has_temporary_error(v) && p.actions.tempfail_on_error && v.action != scan::Action::kReject) {
    v.action = scan::Action::kSoftReject;
  }
}

SmtpReply reject_reply(const std::string& id) {
  return {550, "5.7.1", fmt::format("Message rejected as spam (ref {})", id)};
}
SmtpReply tempfail_reply(const std::string& id) {
  return {451, "4.7.1",
          fmt::format("Temporary failure scanning message, try again later (ref {})", id)};
}

// "A(3.10), B(-1.00)" folded so that no header line gets much longer than 78 characters.
std::string fold_list(const std::vector<std::string>& items, size_t first_line_used) {
  std::string out;
  size_t line = first_line_used;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    if (i > 0) {
      if (line + 1 + item.size() > 78) {
        out += "\n\t";
        line = 8;
      } else {
        out += " ";
        line += 1;
      }
    }
    out += item;
    line += item.size();
  }
  return out;
}

std::vector<decisions::SymbolHit> symbol_hits(const scan::Verdict& v) {
  std::vector<decisions::SymbolHit> out;
  for (const auto& s : v.symbols)
    out.push_back({s.name, s.score});
  return out;
}

}  // namespace

std::string SmtpReply::to_string() const {
  return fmt::format("{} {} {}", code, enhanced, text);
}

struct ScanService::Impl {
  Config config;
  store::Store& store;
  decisions::DecisionLog& log;
  policy::PolicyProvider& policies;
  std::shared_ptr<const rules::RuleSet> rules;
  uint64_t generation = 0;
  std::string node;
  std::function<int64_t()> now = system_now_ms;
  std::atomic<uint64_t> log_failures{0};
  std::mutex engines_mu;
  std::map<std::thread::id, std::unique_ptr<scan::Engine>> engines;
  ScanService::CheckFactory extra_checks;
  std::shared_ptr<const signing::Signer> signer;  // DKIM/ARC keys, loaded per (re)load
  // Outbound profile (src/aup): its own engine per thread, built by aup::make_outbound_engine.
  aup::OutboundPolicy outbound_policy;
  std::map<std::thread::id, std::unique_ptr<scan::Engine>> outbound_engines;
  std::mutex reporter_mu;
  ScanService::OutboundReporter outbound_reporter;
  ScanService::OwnedDomains owned_domains;  // guarded by engines_mu

  Impl(const Config& c, store::Store& s, decisions::DecisionLog& l, policy::PolicyProvider& p)
      : config(c), store(s), log(l), policies(p) {}

  // One Engine per thread and service: engines hold rule scratch space and are not
  // thread-safe. The thread_local cache makes the common case lock-free; the map owns the
  // engines so they die with this service (a SIGHUP reload builds a new service).
  Result<scan::Engine*> engine() {
    thread_local uint64_t cached_generation = 0;
    thread_local scan::Engine* cached = nullptr;
    if (cached_generation == generation && cached)
      return cached;
    std::lock_guard<std::mutex> lock(engines_mu);
    auto& slot = engines[std::this_thread::get_id()];
    if (!slot) {
      // Authentication (SPF/DKIM/DMARC/ARC/iprev/DNSBL) needs DNS: one resolver per engine,
      // i.e. per worker thread (c-ares channels are single-threaded).
      std::vector<std::unique_ptr<scan::Check>> extra;
      if (extra_checks) {
        auto made = extra_checks();
        if (!made)
          return made.error();
        extra = std::move(made).value();
      }
      if (config.get_bool("auth.enabled")) {
        auto auth = auth::make_auth_check(config);
        if (!auth)
          return auth.error();
        extra.push_back(std::move(auth).value());
      }
      auto created = scan::Engine::create(config, store, rules, std::move(extra));
      if (!created)
        return created.error();
      slot = std::move(created).value();
    }
    cached_generation = generation;
    cached = slot.get();
    return cached;
  }

  Result<scan::Engine*> outbound_engine() {
    thread_local uint64_t cached_generation = 0;
    thread_local scan::Engine* cached = nullptr;
    if (cached_generation == generation && cached)
      return cached;
    std::lock_guard<std::mutex> lock(engines_mu);
    auto& slot = outbound_engines[std::this_thread::get_id()];
    if (!slot) {
      std::vector<std::unique_ptr<scan::Check>> extra;
      if (config.get_bool("auth.enabled")) {
        auto auth = auth::make_auth_check(config);
        if (!auth)
          return auth.error();
        extra.push_back(std::move(auth).value());
      }
      auto created =
          aup::make_outbound_engine(config, store, rules, owned_domains, std::move(extra));
      if (!created)
        return created.error();
      slot = std::move(created).value();
    }
    cached_generation = generation;
    cached = slot.get();
    return cached;
  }

  Result<ScanOutcome> scan_outbound(const ScanRequest& request);

  Status record(const decisions::Decision& d) {
    Status st = Error::temporary("decision log unavailable");
    try {
      st = log.record(d);
    } catch (const std::exception& e) {
      st = Error::temporary(fmt::format("decision log threw: {}", e.what()));
    }
    if (!st)
      log_failures.fetch_add(1, std::memory_order_relaxed);
    return st;
  }

  decisions::Decision base_decision(const std::string& id, int64_t when,
                                    const scan::Envelope& envelope) const {
    decisions::Decision d;
    d.id = id;
    d.time_unix_ms = when;
    d.node = node;
    d.direction = envelope.outbound ? "outbound" : "inbound";
    d.queue_id = envelope.queue_id;
    d.client_ip = envelope.client_ip;
    d.helo = envelope.helo;
    d.mail_from = envelope.mail_from;
    d.auth_user = envelope.auth_user;
    return d;
  }
};

namespace {
std::atomic<uint64_t> g_next_generation{1};
}

ScanService::ScanService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ScanService::~ScanService() = default;

Result<std::unique_ptr<ScanService>> ScanService::create(const Config& config, store::Store& store,
                                                         decisions::DecisionLog& log,
                                                         policy::PolicyProvider& policies,
                                                         CheckFactory extra_checks) {
  auto impl = std::make_unique<Impl>(config, store, log, policies);
  impl->extra_checks = std::move(extra_checks);
  impl->generation = g_next_generation.fetch_add(1);
  impl->outbound_policy = aup::OutboundPolicy::from_config(config);
  impl->node = config.get_string("server.node_name");
  if (impl->node.empty())
    impl->node = host_name();
  if (config.get_bool("rules.enabled")) {
    auto rules = scan::Engine::load_rules(config);
    if (!rules)
      return rules.error();
    impl->rules = std::move(rules).value();
  }
  // Signing keys are read here, so a bad key file fails the start or the SIGHUP reload.
  auto signer = signing::Signer::from_config(config);
  if (!signer)
    return signer.error();
  impl->signer = std::move(signer).value();
  // Build this thread's engine now so a broken configuration fails at start/reload, not on
  // the first message.
  auto first = impl->engine();
  if (!first)
    return first.error();
  if (impl->outbound_policy.enabled) {
    auto outbound = impl->outbound_engine();
    if (!outbound)
      return outbound.error();
  }
  return std::unique_ptr<ScanService>(new ScanService(std::move(impl)));
}

const Config& ScanService::config() const {
  return impl_->config;
}
void ScanService::set_clock(std::function<int64_t()> now) {
  impl_->now = std::move(now);
}
void ScanService::set_outbound_reporter(OutboundReporter reporter) {
  std::lock_guard<std::mutex> lock(impl_->reporter_mu);
  impl_->outbound_reporter = std::move(reporter);
}
void ScanService::set_owned_domains(OwnedDomains owned) {
  std::lock_guard<std::mutex> lock(impl_->engines_mu);
  impl_->owned_domains = std::move(owned);
  // create() already built this thread's outbound engine (config check): drop the built ones
  // and move to a new generation so no thread keeps a cached engine without the hook.
  impl_->outbound_engines.clear();
  impl_->generation = g_next_generation.fetch_add(1);
}
uint64_t ScanService::log_failures() const {
  return impl_->log_failures.load();
}

Result<std::optional<SmtpReply>> ScanService::check_recipient(const scan::Envelope& envelope,
                                                              std::string_view recipient) {
  return check_recipient_detail(envelope, recipient).reply;
}

RecipientCheck ScanService::check_recipient_detail(const scan::Envelope& envelope,
                                                   std::string_view recipient) {
  RecipientCheck out;
  Result<policy::RecipientPolicy> found = Error::temporary("policy lookup failed");
  try {
    found = impl_->policies.lookup(recipient);
  } catch (const std::exception& e) {
    found = Error::temporary(e.what());
  }
  if (!found) {
    out.reply = SmtpReply{451, "4.3.0",
                          "Temporary failure looking up the recipient's policy, try again later"};
    return out;
  }
  out.policy = std::move(found).value();
  out.reject_enabled = out.policy.actions.reject_enabled;
  // Only a block-listed sender is refused this early, and only for a recipient who opted in to
  // reject; everyone else gets the block list as a score (spam folder) after DATA.
  if (out.reject_enabled &&
      policy::classify_sender(out.policy, envelope.mail_from) == policy::SenderListing::kBlocked) {
    const int64_t when = impl_->now();
    const std::string id = decisions::new_decision_id(when);
    out.reply =
        SmtpReply{550, "5.7.1", fmt::format("Sender refused by recipient policy (ref {})", id)};
    decisions::Decision d = impl_->base_decision(id, when, envelope);
    decisions::RecipientDecision r;
    r.address = strip_brackets(recipient);
    r.user = out.policy.tenant.user;
    r.domain = out.policy.tenant.domain;
    r.reseller = out.policy.tenant.reseller;
    r.score = impl_->config.get_double("policy.blocklist_score");
    r.action = scan::to_string(scan::Action::kReject);
    r.smtp_reply = out.reply->to_string();
    r.stage = "rcpt";
    r.policy_source = out.policy.actions.source;
    r.symbols.push_back({kBlockSymbol, r.score});
    d.recipients.push_back(std::move(r));
    (void)impl_->record(d);  // counted in log_failures; the refusal stands either way
  }
  return out;
}

Result<ScanOutcome> ScanService::scan(const ScanRequest& request) {
  Impl& impl = *impl_;
  if (request.envelope.outbound && impl.outbound_policy.enabled)
    return impl.scan_outbound(request);
  auto engine = impl.engine();
  if (!engine)
    return engine.error();
  const int64_t when = impl.now();
  ScanOutcome out;
  out.decision_id = decisions::new_decision_id(when);

  // Policies first: a recipient whose policy cannot be read is tempfailed, not guessed.
  std::vector<std::string> addresses = request.recipients;
  if (addresses.empty())
    addresses.push_back("");
  std::vector<scan::RecipientRequest> requests;
  std::vector<bool> policy_failed;
  for (const std::string& address : addresses) {
    RecipientOutcome r;
    r.address = strip_brackets(address);
    bool failed = false;
    if (address.empty()) {
      r.policy.actions = scan::ActionPolicy::from_config(impl.config);
      r.policy.actions.source = "default";
    } else {
      Result<policy::RecipientPolicy> found = Error::temporary("policy lookup failed");
      try {
        found = impl.policies.lookup(address);
      } catch (const std::exception& e) {
        found = Error::temporary(e.what());
      }
      if (found) {
        r.policy = std::move(found).value();
      } else {
        failed = true;
        r.policy.actions = scan::ActionPolicy::from_config(impl.config);
        r.policy.actions.source = "unavailable: " + found.error().message;
      }
    }
    requests.push_back({r.policy.tenant, r.policy.actions});
    policy_failed.push_back(failed);
    out.recipients.push_back(std::move(r));
  }

  Result<scan::MessageVerdict> scanned = Error::temporary("scan failed");
  try {
    scanned = (*engine)->scan(request.raw, request.envelope, requests);
  } catch (const std::exception& e) {
    scanned = Error::temporary(fmt::format("scan threw: {}", e.what()));
  }
  if (!scanned)
    return scanned.error();

  const std::map<std::string, std::string> verdict_annotations = scanned->annotations;
  // "fail <from-domain> <disposition>" when DMARC failed: an allow-list entry must not let a
  // spoof of the allowed sender through (docs/per-recipient.md).
  const auto dmarc = verdict_annotations.find("dmarc");
  const bool dmarc_failed =
      dmarc != verdict_annotations.end() && dmarc->second.rfind("fail ", 0) == 0;
  const double allow_score = impl.config.get_double("policy.allowlist_score");
  const double block_score = impl.config.get_double("policy.blocklist_score");
  for (size_t i = 0; i < out.recipients.size(); ++i) {
    RecipientOutcome& r = out.recipients[i];
    r.verdict = std::move(scanned->recipients[i]);
    if (policy_failed[i]) {
      r.verdict.errors.push_back(Error::temporary("policy: " + r.policy.actions.source));
      r.verdict.action = scan::Action::kSoftReject;
    } else if (!r.address.empty()) {
      r.sender_listing = policy::classify_sender(r.policy, request.envelope.mail_from);
      if (r.sender_listing == policy::SenderListing::kAllowed && dmarc_failed) {
        r.sender_listing = policy::SenderListing::kNone;
        r.verdict.symbols.push_back({"ALLOW_DMARC_FAIL_IGNORED", 0,
                                     "allow-list entry ignored: the sender fails DMARC",
                                     dmarc->second});
      }
      apply_sender_listing(r.verdict, r.policy, r.sender_listing, request.envelope.mail_from,
                           allow_score, block_score);
    }
    r.wanted_action = r.verdict.action;
  }

  // One transaction, one end-of-data answer (see the file comment).
  const bool any_tempfail = std::any_of(out.recipients.begin(), out.recipients.end(), [](auto& r) {
    return r.verdict.action == scan::Action::kSoftReject;
  });
  const bool all_reject = std::all_of(out.recipients.begin(), out.recipients.end(), [](auto& r) {
    return r.verdict.action == scan::Action::kReject;
  });
  if (any_tempfail) {
    out.message_reply = tempfail_reply(out.decision_id);
    for (auto& r : out.recipients) {
      r.verdict.action = scan::Action::kSoftReject;
      r.reply = out.message_reply;
    }
  } else if (all_reject) {
    out.message_reply = reject_reply(out.decision_id);
    for (auto& r : out.recipients)
      r.reply = out.message_reply;
  } else {
    for (auto& r : out.recipients) {
      if (r.verdict.action == scan::Action::kReject)
        r.verdict.action = scan::Action::kAddHeader;
    }
  }

  // Headers for the delivered copy.
  const std::vector<RawHeader> incoming = raw_headers(request.raw);
  const RecipientOutcome* top = &out.recipients.front();
  for (const auto& r : out.recipients) {
    if (r.verdict.score > top->verdict.score)
      top = &r;
  }
  const scan::Verdict& tv = top->verdict;
  const bool spam = tv.is_spam();
  std::vector<std::string> names, scored;
  for (const auto& s : tv.symbols) {
    names.push_back(s.name);
    scored.push_back(fmt::format("{}({:.2f})", s.name, s.score));
  }
  out.add_headers.push_back({"X-Spam-Flag", spam ? "YES" : "NO"});
  out.add_headers.push_back({"X-Spam-Score", fmt::format("{:.2f}", tv.score)});
  const std::string status_head = fmt::format(
      "{}, score={:.2f} required={:.2f} tests=", spam ? "Yes" : "No", tv.score, tv.required_score);
  out.add_headers.push_back(
      {"X-Spam-Status", status_head + (names.empty() ? std::string("none")
                                                     : fold_list(names, 15 + status_head.size()))});
  if (!scored.empty())
    out.add_headers.push_back({"X-Spam-Symbols", fold_list(scored, 16)});
  out.add_headers.push_back({"X-Mailsift-Id", out.decision_id});
  for (const auto& r : out.recipients) {
    if (r.address.empty())
      continue;
    out.add_headers.push_back(
        {"X-Mailsift-Verdict",
         fmt::format("rcpt={}; verdict={}; action={}; score={:.2f}",
                     r.policy.tenant.user.empty() ? r.address : r.policy.tenant.user,
                     r.verdict.is_spam() ? "spam" : "ham", scan::to_string(r.verdict.action),
                     r.verdict.score)});
  }
  for (const char* own : kOwnHeaderNames) {
    if (find_raw_header(incoming, own))
      out.remove_headers.push_back(own);
  }
  if (auto ar = verdict_annotations.find("authentication-results");
      ar != verdict_annotations.end()) {
    out.authentication_results = ar->second;
    const std::string our_id = auth::authserv_id_of(ar->second);
    uint32_t index = 0;
    std::vector<uint32_t> forged;
    for (const auto& h : incoming) {
      if (h.name.size() != 22 || strncasecmp(h.name.c_str(), "Authentication-Results", 22) != 0)
        continue;
      ++index;
      if (auth::claims_authserv_id(h.value, our_id))
        forged.push_back(index);
    }
    out.forged_authentication_results.assign(forged.rbegin(), forged.rend());
  }
  const bool all_rewrite = std::all_of(out.recipients.begin(), out.recipients.end(), [](auto& r) {
    return r.verdict.action == scan::Action::kRewriteSubject;
  });
  const RawHeader* subject = find_raw_header(incoming, "Subject");
  if (all_rewrite && !out.message_reply) {
    const std::string& tag = impl.config.get_string("actions.subject_tag");
    std::string value = subject ? subject->value : std::string();
    if (value.rfind(tag, 0) != 0)
      out.new_subject = tag + value;
  }

  // DKIM signing (outbound) / ARC sealing (inbound), after the message passed.
  std::optional<std::string> signing_error = add_signatures(*impl.signer, request, out, when / 1000);

  // The decision record: what every recipient got, as the client saw it.
  decisions::Decision d = impl.base_decision(out.decision_id, when, request.envelope);
  if (signing_error)
    d.errors.push_back(*signing_error);
  if (const RawHeader* mid = find_raw_header(incoming, "Message-ID")) {
    for (char c : mid->value) {
      if (c != ' ' && c != '\t' && c != '\n')
        d.message_id += c;
    }
  }
  if (subject)
    d.subject = subject->value;
  d.digest = scanned->digest;
  d.elapsed_us = scanned->elapsed_us;
  for (const auto& r : out.recipients) {
    for (const auto& e : r.verdict.errors) {
      std::string text = e.describe();
      if (std::find(d.errors.begin(), d.errors.end(), text) == d.errors.end())
        d.errors.push_back(text);
    }
    decisions::RecipientDecision rd;
    rd.address = r.address;
    rd.user = r.policy.tenant.user;
    rd.domain = r.policy.tenant.domain;
    rd.reseller = r.policy.tenant.reseller;
    rd.score = r.verdict.score;
    rd.action = scan::to_string(r.verdict.action);
    rd.smtp_reply = r.reply ? r.reply->to_string() : "";
    rd.stage = "data";
    rd.policy_source = r.policy.actions.source;
    if (r.wanted_action != r.verdict.action) {
      rd.policy_source += fmt::format(" (wanted {})", scan::to_string(r.wanted_action));
    }
    rd.symbols = symbol_hits(r.verdict);
    d.recipients.push_back(std::move(rd));
  }
  Status logged = impl.record(d);
  if (!logged)
    out.log_error = logged.error().describe();
  return out;
}

// ---------------------------------------------------------------- outbound profile (src/aup)
// One score for the message (the recipients are other providers' users: no per-recipient
// policy), reject at outbound.aup.reject_score, never the spam folder.
Result<ScanOutcome> ScanService::Impl::scan_outbound(const ScanRequest& request) {
  auto engine = outbound_engine();
  if (!engine)
    return engine.error();
  const int64_t when = now();
  ScanOutcome out;
  out.decision_id = decisions::new_decision_id(when);
  scan::Envelope envelope = request.envelope;
  envelope.recipient_count = request.recipients.size();

  Result<scan::MessageVerdict> scanned = Error::temporary("scan failed");
  try {
    scanned = (*engine)->scan(request.raw, envelope, {});
  } catch (const std::exception& e) {
    scanned = Error::temporary(fmt::format("scan threw: {}", e.what()));
  }
  if (!scanned)
    return scanned.error();
  const scan::Verdict& verdict = scanned->recipients.front();
  const aup::OutboundDecision decision = aup::decide(verdict, outbound_policy, out.decision_id);
  scan::Action action = scan::Action::kNoAction;
  if (decision.kind != aup::OutboundDecision::kSend) {
    out.message_reply = SmtpReply{decision.smtp_code, decision.enhanced, decision.text};
    action = decision.kind == aup::OutboundDecision::kReject ? scan::Action::kReject
                                                             : scan::Action::kSoftReject;
  }
  std::vector<std::string> addresses = request.recipients;
  if (addresses.empty())
    addresses.push_back("");
  for (const std::string& address : addresses) {
    RecipientOutcome r;
    r.address = strip_brackets(address);
    r.policy.actions = scan::ActionPolicy::from_config(config);
    r.policy.actions.source = "outbound-aup";
    r.verdict = verdict;
    r.verdict.action = action;
    r.verdict.required_score = outbound_policy.reject_score;
    r.wanted_action = action;
    r.reply = out.message_reply;
    out.recipients.push_back(std::move(r));
  }
  const std::vector<RawHeader> incoming = raw_headers(request.raw);
  for (const char* own : kOwnHeaderNames) {
    if (find_raw_header(incoming, own))
      out.remove_headers.push_back(own);
  }

  // DKIM signing of what passed (add_signatures skips refused mail).
  std::optional<std::string> signing_error = add_signatures(*signer, request, out, when / 1000);

  // Decision record keyed by the sender, as the policy listener's (docs/outbound.md), so
  // `mailsift log --direction outbound --user U` finds both the RCPT and the end-of-data answers.
  decisions::Decision d = base_decision(out.decision_id, when, envelope);
  if (signing_error)
    d.errors.push_back(*signing_error);
  if (const RawHeader* mid = find_raw_header(incoming, "Message-ID")) {
    for (char c : mid->value) {
      if (c != ' ' && c != '\t' && c != '\n')
        d.message_id += c;
    }
  }
  if (const RawHeader* subject = find_raw_header(incoming, "Subject"))
    d.subject = subject->value;
  d.digest = scanned->digest;
  d.elapsed_us = scanned->elapsed_us;
  for (const auto& e : verdict.errors)
    d.errors.push_back(e.describe());
  std::string user = envelope.auth_user;
  std::transform(user.begin(), user.end(), user.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string domain(mime::address_domain(user));
  for (const auto& r : out.recipients) {
    decisions::RecipientDecision rd;
    rd.address = r.address;
    rd.user = user;
    rd.domain = domain;
    rd.score = verdict.score;
    rd.action = scan::to_string(action);
    rd.smtp_reply = r.reply ? r.reply->to_string() : "";
    rd.stage = "data";
    rd.policy_source = "outbound-aup";
    rd.symbols = symbol_hits(verdict);
    d.recipients.push_back(std::move(rd));
  }
  Status logged = record(d);
  if (!logged)
    out.log_error = logged.error().describe();

  if (decision.kind != aup::OutboundDecision::kTempfail) {
    ScanService::OutboundReporter reporter;
    {
      std::lock_guard<std::mutex> lock(reporter_mu);
      reporter = outbound_reporter;
    }
    if (reporter)
      reporter(envelope, verdict.score, scanned->digest, request.recipients.size());
  }
  return out;
}

Result<scan::LearnResult> ScanService::learn(std::string_view raw, store::Class cls,
                                             const std::string& recipient) {
  auto engine = impl_->engine();
  if (!engine)
    return engine.error();
  scan::Recipient tenant;
  if (!recipient.empty()) {
    auto found = impl_->policies.lookup(recipient);
    if (!found)
      return found.error();
    tenant = found->tenant;
  }
  return (*engine)->learn(raw, cls, tenant);
}

Result<scan::LearnResult> ScanService::unlearn(std::string_view raw, store::Class cls,
                                               const std::string& recipient) {
  auto engine = impl_->engine();
  if (!engine)
    return engine.error();
  scan::Recipient tenant;
  if (!recipient.empty()) {
    auto found = impl_->policies.lookup(recipient);
    if (!found)
      return found.error();
    tenant = found->tenant;
  }
  return (*engine)->unlearn(raw, cls, tenant);
}

}  // namespace mailsift::server
