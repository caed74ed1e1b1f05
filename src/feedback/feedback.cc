#include "feedback/feedback.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/ascii.h"
#include "fuzzy/fingerprint.h"
#include "learn/tokenizer.h"
#include "mime/message.h"

namespace mailsift::feedback {
namespace {

// `domain` equals `base` or is a subdomain of it.
bool within(std::string_view domain, std::string_view base) {
  if (base.empty() || domain.size() < base.size())
    return false;
  if (domain == base)
    return true;
  return domain.size() > base.size() && domain.ends_with(base) &&
         domain[domain.size() - base.size() - 1] == '.';
}

// Relaxed DKIM alignment without the PSL: d= is the From domain or a parent of it. (Stricter
// than DMARC's organisational-domain rule: a sibling subdomain does not align here, which can
// only make fewer senders "trusted".)
bool aligned(std::string_view from_domain, std::string_view dkim_domain) {
  return within(from_domain, dkim_domain);
}

}  // namespace

const char* to_string(Kind kind) {
  return kind == Kind::kSpam ? "spam" : "ham";
}

const char* to_string(Consent c) {
  switch (c) {
    case Consent::kUnknown:
      return "unknown";
    case Consent::kAccepted:
      return "accepted";
    case Consent::kDeclined:
      return "declined";
  }
  return "unknown";
}

std::optional<Consent> parse_consent(std::string_view s) {
  if (s == "unknown")
    return Consent::kUnknown;
  if (s == "accepted" || s == "accept" || s == "yes")
    return Consent::kAccepted;
  if (s == "declined" || s == "decline" || s == "no")
    return Consent::kDeclined;
  return std::nullopt;
}

Options Options::from_config(const Config& c) {
  Options o;
  o.promote_domain_reporters = static_cast<int>(c.get_int("feedback.promote_domain_reporters"));
  o.promote_global_reporters = static_cast<int>(c.get_int("feedback.promote_global_reporters"));
  o.min_reliability = c.get_double("feedback.min_reliability");
  o.disagree_probability = c.get_double("feedback.disagree_probability");
  o.block_sender_after = static_cast<int>(c.get_int("feedback.block_sender_after"));
  o.threshold_step = c.get_double("feedback.threshold_step");
  o.threshold_max_shift = c.get_double("feedback.threshold_max_shift");
  o.campaign_similarity = c.get_double("fuzzy.threshold");
  o.campaign_window_ms = c.get_int("feedback.campaign_window_hours") * 3600 * 1000;
  std::string trusted = c.get_string("feedback.trusted_senders");
  size_t pos = 0;
  while (pos <= trusted.size()) {
    size_t end = trusted.find(',', pos);
    if (end == std::string::npos)
      end = trusted.size();
    std::string item = ascii_lower(trusted.substr(pos, end - pos));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty())
      o.trusted_senders.push_back(item);
    pos = end + 1;
  }
  o.arf_spool = c.get_string("feedback.arf_spool");
  o.reporting_mta = c.get_string("feedback.reporting_mta");
  o.user_learning = c.get_bool("feedback.user_learning");
  return o;
}

FeedbackService::FeedbackService(Options options, FeedbackStore& store, Learner& learner,
                                 SenderLists* lists, DkimPassDomains dkim,
                                 std::function<int64_t()> now_ms)
    : options_(std::move(options)),
      store_(store),
      learner_(learner),
      lists_(lists),
      dkim_(std::move(dkim)),
      now_ms_(std::move(now_ms)) {}

Status FeedbackService::set_consent(const std::string& user, Consent consent) {
  if (user.empty())
    return Error::malformed("consent needs a user");
  return store_.set_consent(ascii_lower(user), consent, now_ms_());
}

double threshold_shift_for(const Options& options, const Corrections& c) {
  double shift = options.threshold_step * static_cast<double>(c.false_positive - c.missed_spam);
  return std::clamp(shift, -options.threshold_max_shift, options.threshold_max_shift);
}

double FeedbackService::shift_for(const Corrections& c) const {
  return threshold_shift_for(options_, c);
}

Result<double> FeedbackService::threshold_shift(const std::string& user) {
  auto c = store_.corrections(ascii_lower(user));
  if (!c)
    return c.error();
  return shift_for(*c);
}

Result<UserState> FeedbackService::user_state(const std::string& user_in) {
  UserState st;
  st.user = ascii_lower(user_in);
  if (st.user.empty())
    return Error::malformed("user is required");
  auto consent = store_.consent(st.user);
  if (!consent)
    return consent.error();
  st.consent = *consent;
  auto counts = store_.report_counts(st.user);
  if (!counts)
    return counts.error();
  st.spam_reports = counts->first;
  st.ham_reports = counts->second;
  auto rep = store_.reporter(st.user);
  if (!rep)
    return rep.error();
  st.reporter = *rep;
  auto corr = store_.corrections(st.user);
  if (!corr)
    return corr.error();
  st.corrections = *corr;
  st.threshold_shift = shift_for(*corr);
  return st;
}

// Order matters for "nothing lost, nothing twice": everything is read first, then the effects
// that are idempotent by themselves (learning by digest, list entries, the ARF file named by
// digest) are applied, and last the report with its counter changes is committed atomically.
// A temporary failure anywhere before the commit leaves no counted report: the retry redoes the
// idempotent effects and counts once.
Result<Response> FeedbackService::report(const Request& request) {
  if (request.user.user.empty())
    return Error::malformed("a report needs the reporting user");
  auto parsed = mime::parse(request.raw);
  if (!parsed)
    return Error::malformed("reported message does not parse: " + parsed.error().message);
  const mime::Message& msg = *parsed;

  scan::Recipient user = request.user;
  user.user = ascii_lower(user.user);
  if (user.domain.empty())
    user.domain = std::string(mime::address_domain(user.user));

  Response r;
  r.kind = request.kind;
  r.digest = learn::message_digest(msg);
  if (const auto* h = msg.header("X-Mailsift-Id"))
    r.reference = h->value;
  // The sender whose reputation the report changes is the envelope sender as delivered
  // (Return-Path), else From: the same identity the block/allow lists match at SMTP time, and
  // for mailing-list mail the list's own bounce address, so reporting a list blocks the list.
  std::string from_address;
  if (const auto* h = msg.header("From"))
    from_address = mime::extract_address(h->value);
  if (const auto* h = msg.header("Return-Path"))
    r.sender = mime::extract_address(h->value);
  if (r.sender.empty())
    r.sender = from_address;
  const std::string from_domain(mime::address_domain(from_address));
  const int64_t now = now_ms_();

  auto consent = store_.consent(user.user);
  if (!consent)
    return consent.error();
  r.consent = *consent;
  if (request.kind == Kind::kSpam)
    r.prompt_consent = r.consent != Consent::kAccepted;
  // Tenant policy "learning enabled" (read before anything is applied: a lookup failure
  // leaves nothing done).
  if (learning_) {
    auto lp = learning_(user);
    if (!lp)
      return lp.error();
    r.learning_enabled = lp->user.enabled;
    if (!lp->user.enabled)
      r.learning_off_at = lp->user.from;
    // A reporter whose own learning is off teaches no scope at all.
    r.domain_learning_enabled = lp->domain.enabled && lp->user.enabled;
    if (!lp->domain.enabled)
      r.domain_learning_off_at = lp->domain.from;
    else if (!lp->user.enabled)
      r.domain_learning_off_at = lp->user.from;
  }
  auto dup = store_.has_report(user.user, r.digest, request.kind);
  if (!dup)
    return dup.error();
  if (*dup) {
    r.duplicate = true;
    r.user_outcome = "duplicate";
    auto shift = threshold_shift(user.user);
    if (!shift)
      return shift.error();
    r.threshold_shift = *shift;
    return r;
  }

  // Trusted bulk sender: List-Unsubscribe + aligned passing DKIM from a trusted domain.
  if (const auto* lu = msg.header("List-Unsubscribe"); lu && request.kind == Kind::kSpam) {
    const auto* post = msg.header("List-Unsubscribe-Post");
    Unsubscribe u = parse_list_unsubscribe(lu->value, post ? post->value : "");
    if (dkim_ && !from_domain.empty() && (!u.http.empty() || !u.mailto.empty())) {
      for (const std::string& d : dkim_(request.raw)) {
        std::string dl = ascii_lower(d);
        if (!aligned(from_domain, dl))
          continue;
        for (const auto& t : options_.trusted_senders) {
          if (within(dl, t))
            r.trusted_sender = true;
        }
      }
    }
    if (r.trusted_sender)
      r.unsubscribe = u;
  }

  fuzzy::Fingerprint fp = fuzzy::fingerprint(msg);
  ReportRecord rec;
  rec.user = user.user;
  rec.domain = user.domain;
  rec.reseller = user.reseller;
  rec.digest = r.digest;
  rec.kind = request.kind;
  rec.sender = r.sender;
  rec.at_ms = now;
  rec.trusted = r.trusted_sender;
  rec.signature = fp.signature;
  rec.bands = fp.bands;
  ReportEffects fx;

  // The verdict the user saw (rescanned for this user) decides whether this is a correction.
  auto seen = learner_.scan(request.raw, user);
  if (!seen)
    return seen.error();
  // With learning off for the user, the report is recorded but changes none of the user's
  // learned state: no correction (threshold), no tokens, no automatic list entries.
  if (!r.learning_enabled) {
  } else if (request.kind == Kind::kSpam && !seen->is_spam() && !r.trusted_sender) {
    fx.missed_spam = 1;
    r.correction = "missed_spam";
  } else if (request.kind == Kind::kHam && seen->is_spam()) {
    fx.false_positive = 1;
    r.correction = "false_positive";
  }
  auto corr = store_.corrections(user.user);
  if (!corr)
    return corr.error();
  corr->missed_spam += fx.missed_spam;
  corr->false_positive += fx.false_positive;
  r.threshold_shift = shift_for(*corr);

  // 1. The user's own scope (its fingerprint is remembered there by the engine).
  const store::Class cls = request.kind == Kind::kSpam ? store::Class::kSpam : store::Class::kHam;
  if (options_.user_learning && r.learning_enabled) {
    auto learned = learner_.learn(request.raw, cls, scan::Recipient{user.user, "", ""});
    if (!learned)
      return learned.error();
    r.user_outcome = store::to_string(learned->outcome);
    r.fingerprint_stored = fp.usable();
  } else {
    r.user_outcome = "off";
  }

  // 3. Sender reputation for this user.
  if (!r.sender.empty()) {
    fx.sender_spam = request.kind == Kind::kSpam && !r.trusted_sender ? 1 : 0;
    fx.sender_ham = request.kind == Kind::kHam ? 1 : 0;
    auto st = store_.sender(user.user, r.sender);
    if (!st)
      return st.error();
    const int64_t spam_after = st->spam_reports + fx.sender_spam;
    if (lists_ && r.learning_enabled && fx.sender_spam && st->ham_reports == 0 &&
        spam_after >= options_.block_sender_after) {
      auto b = lists_->block_sender(user, r.sender,
                                    fmt::format("reported as spam {} times", spam_after));
      if (!b && b.error().kind == ErrorKind::kTemporary)
        return b.error();
      // e.g. the user is not in the tenant directory: the report still counts, the list
      // entry could not be made, and the response says why.
      if (!b)
        r.list_note = "sender not blocked: " + b.error().message;
      r.sender_blocked = b.ok();
    }
    if (lists_ && r.learning_enabled && fx.sender_ham) {
      auto a = lists_->allow_sender(user, r.sender, "marked as not spam");
      if (!a && a.error().kind == ErrorKind::kTemporary)
        return a.error();
      if (!a)
        r.list_note = "sender not allowed: " + a.error().message;
      r.sender_allowed = a.ok();
    }
  }

  // 2. Campaign and reporter reliability (spam reports of untrusted senders only).
  if (request.kind == Kind::kSpam && !r.trusted_sender) {
    auto global = learner_.scan(request.raw, scan::Recipient{});
    if (!global)
      return global.error();
    std::vector<ReportRecord> campaign;
    if (fp.usable()) {
      auto cands = store_.campaign_candidates(fp.bands, now - options_.campaign_window_ms);
      if (!cands)
        return cands.error();
      for (auto& c : *cands) {
        if (c.user == user.user || c.trusted || c.kind != Kind::kSpam)
          continue;
        fuzzy::Fingerprint other;
        other.signature = c.signature;
        if (fuzzy::similarity(fp, other) < options_.campaign_similarity)
          continue;
        campaign.push_back(std::move(c));
      }
    }
    const std::optional<double> p = global->spam_probability;
    if ((p && *p >= 0.5) || !campaign.empty()) {
      fx.agree = 1;
    } else if (p && *p < options_.disagree_probability) {
      fx.disagree = 1;
    }
    auto me = store_.reporter(user.user);
    if (!me)
      return me.error();
    me->agree += fx.agree;
    me->disagree += fx.disagree;
    r.reporter_reliability = me->reliability();

    // Reliable distinct reporters of this campaign, this one included when reliable.
    const bool reliable = r.reporter_reliability >= options_.min_reliability;
    std::set<std::string> users, domains, same_domain;
    if (reliable) {
      users.insert(user.user);
      domains.insert(user.domain);
      same_domain.insert(user.user);
    }
    for (const auto& c : campaign) {
      if (users.count(c.user))
        continue;
      auto st = store_.reporter(c.user);
      if (!st)
        return st.error();
      if (st->reliability() < options_.min_reliability)
        continue;
      users.insert(c.user);
      domains.insert(c.domain);
      if (c.domain == user.domain)
        same_domain.insert(c.user);
    }
    r.campaign_reporters = static_cast<int>(users.size());
    if (!reliable) {
      r.promotion_note = fmt::format(
          "reporter reliability {:.2f} is below {:.2f}: this report teaches only the user",
          r.reporter_reliability, options_.min_reliability);
    } else if (!r.domain_learning_enabled) {
      r.promotion_note = fmt::format(
          "{} reliable reporter(s) of this campaign; learning is off at {}: neither the domain "
          "nor the global scope learns from this report",
          users.size(), r.domain_learning_off_at);
    } else {
      if (static_cast<int>(same_domain.size()) >= options_.promote_domain_reporters &&
          !user.domain.empty()) {
        auto l =
            learner_.learn(request.raw, store::Class::kSpam, scan::Recipient{"", user.domain, ""});
        if (!l)
          return l.error();
        r.promoted_domain = true;
      }
      if (static_cast<int>(users.size()) >= options_.promote_global_reporters &&
          domains.size() >= 2) {
        auto l = learner_.learn(request.raw, store::Class::kSpam, scan::Recipient{});
        if (!l)
          return l.error();
        r.promoted_global = true;
      }
      r.promotion_note = fmt::format(
          "{} reliable reporter(s) of this campaign ({} in {}, {} domain(s)); the domain "
          "learns from {}, everyone from {} in 2+ domains",
          users.size(), same_domain.size(), user.domain, domains.size(),
          options_.promote_domain_reporters, options_.promote_global_reporters);
    }
  } else if (r.trusted_sender) {
    r.promotion_note = "trusted bulk sender: learned for this user only; offer unsubscribe instead";
  }

  // 5. Sharing with the spam partner: only with consent, never for trusted senders or ham.
  if (request.kind == Kind::kSpam && r.consent == Consent::kAccepted && !r.trusted_sender &&
      !options_.arf_spool.empty()) {
    ArfInput in;
    in.reporting_mta = options_.reporting_mta;
    if (const auto* h = msg.header("Return-Path"))
      in.original_mail_from = mime::extract_address(h->value);
    in.original_rcpt = user.user;
    in.reported_domain = from_domain;
    in.raw = request.raw;
    in.boundary_seed = r.digest.substr(0, 16);
    std::error_code ec;
    std::filesystem::create_directories(options_.arf_spool, ec);
    // Named by user and digest: a retried report rewrites the same file instead of adding one.
    std::string name = r.digest.substr(0, 32) + "-" + redact_address(user.user);
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
        c = '_';
    std::string path = options_.arf_spool + "/" + name + ".eml";
    std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << render_arf(in);
      out.flush();
      if (!out)
        return Error::temporary("cannot write ARF report to " + options_.arf_spool);
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec)
      return Error::temporary("cannot move ARF report into " + options_.arf_spool);
    r.shared = true;
    r.arf_path = path;
  }

  auto committed = store_.commit_report(rec, fx);
  if (!committed)
    return committed.error();
  if (!*committed)
    r.duplicate = true;  // a concurrent identical report won the race
  if (r.shared && on_shared_)
    on_shared_();  // after the commit: the relay sender picks the spool file up
  return r;
}

}  // namespace mailsift::feedback
