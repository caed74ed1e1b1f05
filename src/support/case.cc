// lookup_case: the five facts of a support case -> the decisions around that moment and the
// support article's checks. See support.h for the contract.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/ascii.h"
#include "decisions/normalize.h"
#include "decisions/timezone.h"
#include "support/client_patterns.h"
#include "support/support.h"
#include "tenant/list_entry.h"

namespace mailsift::support {
namespace {

using nlohmann::ordered_json;

std::string domain_of(std::string_view address) {
  const std::string a = tenant::normalise_address(address);
  const auto at = a.rfind('@');
  return at == std::string::npos ? std::string() : a.substr(at + 1);
}

bool same_address(std::string_view a, std::string_view b) {
  return !a.empty() && tenant::normalise_address(a) == tenant::normalise_address(b);
}

std::string local_text(int64_t ms, const std::string& zone) {
  auto z = decisions::to_zone(ms, zone);
  if (!z)
    return decisions::format_utc_iso(ms);
  return fmt::format("{} {}", z->local, z->abbreviation);
}

std::string stage_words(std::string_view stage) {
  if (stage == "rcpt")
    return "at RCPT TO, before the message content was sent";
  if (stage == "mail")
    return "at MAIL FROM, before any recipient";
  if (stage == "data")
    return "after DATA, once the content was scanned";
  return stage.empty() ? "at an unrecorded stage" : std::string(stage);
}

RecipientOutcomeText describe_recipient(const decisions::Decision& d,
                                        const decisions::RecipientDecision& r,
                                        const SymbolDescriptions* symbols) {
  RecipientOutcomeText out;
  out.address = r.address;
  out.action = r.action;
  out.stage = r.stage;
  out.smtp_reply = r.smtp_reply;
  out.policy_source = r.policy_source;
  out.score = r.score;
  const bool outbound = d.direction == "outbound";
  if (r.action == "reject") {
    out.outcome = "rejected";
    out.summary = fmt::format("rejected at SMTP {} with \"{}\"", stage_words(r.stage),
                              r.smtp_reply.empty() ? "(reply not logged)" : r.smtp_reply);
  } else if (r.action == "soft reject") {
    out.outcome = "tempfailed";
    out.summary = fmt::format(
        "temporarily refused {} with \"{}\"; the sending server retries, and bounces only when "
        "its queue lifetime runs out",
        stage_words(r.stage), r.smtp_reply.empty() ? "(reply not logged)" : r.smtp_reply);
  } else if (r.action == "add header") {
    out.outcome = "spam_folder";
    out.summary =
        fmt::format("{} the spam folder (score {:.2f})",
                    outbound ? "accepted and sent, marked as spam for" : "delivered to", r.score);
    if (r.policy_source.find("(wanted reject)") != std::string::npos)
      out.summary +=
          "; the recipient's policy wanted reject, but another recipient of the same message "
          "accepted it, so it went to the spam folder instead";
  } else if (r.action == "rewrite subject") {
    out.outcome = "subject_tagged";
    out.summary = fmt::format("delivered with the subject tagged as spam (score {:.2f})", r.score);
  } else if (r.action == "no action") {
    if (outbound) {
      out.outcome = "accepted";
      out.summary = r.stage == "data"
                        ? fmt::format("scanned and sent (score {:.2f})", r.score)
                        : fmt::format("accepted by the outbound policy {}", stage_words(r.stage));
    } else {
      out.outcome = "delivered";
      out.summary = fmt::format("delivered to the inbox (score {:.2f})", r.score);
    }
  } else {
    out.outcome = r.action.empty() ? "unknown" : r.action;
    out.summary = fmt::format("action \"{}\"", r.action);
  }
  for (const auto& s : r.symbols)
    out.symbols.push_back({s.name, s.score, symbols ? symbols->describe(s.name) : ""});
  return out;
}

bool is_auth_symbol(std::string_view n) {
  for (std::string_view p : {"R_SPF_", "R_DKIM_", "DKIM_", "DMARC_", "ARC_"}) {
    if (n.substr(0, p.size()) == p)
      return true;
  }
  return false;
}

bool bad_auth_symbol(std::string_view n) {
  for (std::string_view p : {"R_SPF_FAIL", "R_SPF_SOFTFAIL", "R_DKIM_REJECT", "DMARC_POLICY_REJECT",
                             "DMARC_POLICY_QUARANTINE", "DMARC_POLICY_SOFTFAIL", "ARC_REJECT"}) {
    if (n == p)
      return true;
  }
  return false;
}

std::string iso_s(int64_t unix_s) {
  return decisions::format_utc_iso(unix_s * 1000);
}

}  // namespace

// ---- Account -------------------------------------------------------------------------------

CaseCheck account_check(outbound::OutboundStore* store, const outbound::GuardConfig& config,
                        const std::function<int64_t()>& now_ms, std::string_view user,
                        std::string_view reseller) {
  CaseCheck c;
  c.name = "account";
  if (user.empty()) {
    c.status = "not_applicable";
    c.answer = "no user given";
    return c;
  }
  if (!store) {
    c.status = "unavailable";
    c.answer = "the outbound store is not available here (outbound.policy_listen off)";
    return c;
  }
  auto ro = read_only(*store);
  outbound::Guard guard(*ro, config,
                        now_ms ? now_ms : outbound::Guard::Clock(&outbound::Guard::system_now_ms));
  const auto who = outbound::Identity::from(user, "", reseller);
  auto usage = guard.usage(who);
  if (!usage) {
    c.status = "unavailable";
    c.answer = "outbound store: " + usage.error().describe();
    return c;
  }
  const auto& st = usage->effective;
  bool warn = st.level != outbound::Level::kActive;
  std::string text;
  if (st.level == outbound::Level::kActive) {
    text = fmt::format("{} may send (status active)", who.user);
  } else {
    text = fmt::format("{} is {} ({}{}): {}; changed {} by {}{}", who.user,
                       outbound::to_string(st.level), st.subject.describe(),
                       st.subject.kind == outbound::SubjectKind::kUser ? "" : " applies",
                       st.reason.empty() ? "(no reason)" : st.reason,
                       st.changed_at_ms ? decisions::format_utc_iso(st.changed_at_ms) : "-",
                       st.changed_by.empty() ? "-" : st.changed_by,
                       st.reversible ? "" : " (not reversible by support: needs an administrator)");
  }
  ordered_json scopes = ordered_json::array();
  for (const auto& s : usage->scopes) {
    auto lim = [](int64_t used, int64_t limit) {
      return limit > 0 ? fmt::format("{}/{}", used, limit) : fmt::format("{}/unlimited", used);
    };
    const bool at_limit = (s.messages_limit > 0 && s.messages_last_hour >= s.messages_limit) ||
                          (s.distinct_limit > 0 && s.distinct_last_day >= s.distinct_limit);
    warn = warn || at_limit;
    text += fmt::format("\n{}: messages last hour {}, distinct recipients last 24h {}{}",
                        s.subject.describe(), lim(s.messages_last_hour, s.messages_limit),
                        lim(s.distinct_last_day, s.distinct_limit), at_limit ? " — AT LIMIT" : "");
    scopes.push_back({{"subject", s.subject.key()},
                      {"messages_last_hour", s.messages_last_hour},
                      {"messages_limit", s.messages_limit},
                      {"distinct_last_day", s.distinct_last_day},
                      {"distinct_limit", s.distinct_limit},
                      {"at_limit", at_limit}});
  }
  text += fmt::format(
      "\nrecipients last 24h {}, failed {}; recipients per message limit {}; detection score "
      "{:.2f}{}",
      usage->recipients_last_day, usage->failed_last_day, config.recipients_per_message,
      usage->detect_score, usage->detect_signals.empty() ? "" : " (" + usage->detect_signals + ")");
  c.status = warn ? "warn" : "ok";
  c.answer = text;
  c.data = {{"user", who.user},
            {"status", outbound::to_string(st.level)},
            {"status_of", st.subject.key()},
            {"reason", st.reason},
            {"changed_at", st.changed_at_ms ? decisions::format_utc_iso(st.changed_at_ms) : ""},
            {"changed_by", st.changed_by},
            {"reversible", st.reversible},
            {"scopes", scopes},
            {"recipients_last_day", usage->recipients_last_day},
            {"failed_last_day", usage->failed_last_day},
            {"recipients_per_message_limit", config.recipients_per_message},
            {"detect_score", usage->detect_score},
            {"detect_signals", usage->detect_signals}};
  return c;
}

// ---- The lookup ----------------------------------------------------------------------------

Result<CaseReport> lookup_case(const CaseDeps& deps, const CaseQuery& q) {
  CaseReport rep;
  rep.query = q;
  auto zone = decisions::canonical_zone_name(q.tz);
  if (!zone)
    return zone.error();
  rep.zone = *zone;
  auto window = decisions::parse_duration_ms(q.window);
  if (!window)
    return window.error();
  rep.window_ms = *window;
  if (q.at.empty())
    return Error::malformed("--at: a date and time is required (\"2026-11-27 10:15\")");
  auto resolved = decisions::resolve_time(q.at, rep.zone);
  if (!resolved)
    return resolved.error();
  using Kind = decisions::LocalTimeResolution::Kind;
  if (resolved->kind == Kind::kNonexistent) {
    auto err = decisions::parse_time(q.at, rep.zone);  // its message explains the gap
    return Error::malformed(
        err ? fmt::format("{} does not exist in {} (clocks skipped it)", q.at, rep.zone)
            : err.error().message);
  }
  rep.instants_ms.push_back(resolved->earlier_unix_ms);
  if (resolved->kind == Kind::kAmbiguous) {
    rep.ambiguous = true;
    rep.instants_ms.push_back(resolved->later_unix_ms);
    rep.notes.push_back(
        fmt::format("{} happens twice in {} (clocks went back): searched around both {} and {}",
                    q.at, rep.zone, decisions::format_utc_iso(resolved->earlier_unix_ms),
                    decisions::format_utc_iso(resolved->later_unix_ms)));
  }
  for (int64_t t : rep.instants_ms)
    rep.ranges.push_back({t - rep.window_ms, t + rep.window_ms + 1});
  const int64_t now = deps.now_ms ? deps.now_ms() : outbound::Guard::system_now_ms();

  // Tenants: who R and U are.
  const std::string user = tenant::normalise_address(q.user);
  const std::string sender = tenant::normalise_address(q.from);
  const std::string rcpt = tenant::normalise_address(q.to);
  std::map<std::string, std::string> domain_reseller;  // cache; "" = not hosted
  auto reseller_of_domain = [&](const std::string& domain) -> std::string {
    if (domain.empty())
      return "";
    if (auto it = domain_reseller.find(domain); it != domain_reseller.end())
      return it->second;
    auto d = deps.tenants.get_domain(domain);
    std::string r = d && *d ? (*d)->reseller : "";
    domain_reseller[domain] = r;
    return r;
  };
  if (!q.reseller.empty()) {
    auto r = deps.tenants.get_reseller(q.reseller);
    if (!r)
      rep.notes.push_back("tenant store unavailable: " + r.error().describe());
    rep.reseller_known = r && *r;
    if (r && !*r)
      rep.notes.push_back(fmt::format("reseller \"{}\" is not in the tenant store", q.reseller));
  }
  if (!user.empty()) {
    auto u = deps.tenants.get_user(user);
    rep.user_known = u && *u;
    if (u && !*u) {
      rep.notes.push_back(fmt::format("user \"{}\" is not in the tenant store", user));
    } else if (u) {
      const std::string owner = reseller_of_domain((*u)->domain);
      if (!q.reseller.empty() && owner != ascii_lower(q.reseller)) {
        rep.user_known = false;
        rep.notes.push_back(
            fmt::format("user \"{}\" does not belong to reseller \"{}\"", user, q.reseller));
      }
    }
  }
  const std::string reseller = ascii_lower(q.reseller);
  // The case is scoped to reseller R: another reseller's mailboxes never appear in it.
  auto in_scope_address = [&](const std::string& address, const std::string& logged_reseller) {
    if (reseller.empty())
      return true;
    if (!logged_reseller.empty())
      return ascii_lower(logged_reseller) == reseller;
    const std::string r = reseller_of_domain(domain_of(address));
    return r.empty() || r == reseller;
  };

  // Queries. Each result is filtered again here (the matching rules of the case, not the log's).
  std::map<std::string, decisions::Decision> found;  // by id
  std::vector<decisions::Decision> bounces;
  bool truncated = false;
  Status log_error = Ok{};
  auto run = [&](decisions::Query query, std::vector<decisions::Decision>* into) {
    query.limit = deps.max_decisions;
    auto r = deps.log.query(query);
    if (!r) {
      log_error = r.error();
      return;
    }
    if (deps.max_decisions && r->size() >= deps.max_decisions)
      truncated = true;
    for (auto& d : *r) {
      if (into)
        into->push_back(d);
      else
        found.emplace(d.id, std::move(d));
    }
  };
  for (const auto& [since, until] : rep.ranges) {
    decisions::Query base;
    base.since_unix_ms = since;
    base.until_unix_ms = until;
    if (!rcpt.empty()) {
      auto x = base;
      x.direction = "inbound";
      x.recipient = rcpt;
      run(x, nullptr);
    }
    if (!user.empty()) {
      auto x = base;
      x.direction = "inbound";
      x.user = user;
      run(x, nullptr);
      x.direction = "outbound";
      run(x, nullptr);
      // SASL login is not an indexed filter: outbound decisions of the window, filtered here.
      auto y = base;
      y.direction = "outbound";
      std::vector<decisions::Decision> all;
      run(y, &all);
      for (auto& d : all) {
        if (same_address(d.auth_user, user))
          found.emplace(d.id, std::move(d));
      }
    }
    if (!sender.empty()) {
      auto x = base;
      x.direction = "outbound";
      x.sender = sender;
      run(x, nullptr);
      // Bounce heuristic: a null-sender inbound message to the sender in the window.
      auto b = base;
      b.direction = "inbound";
      b.sender = "<>";
      b.recipient = sender;
      run(b, &bounces);
    }
  }
  if (!log_error)
    return log_error.error();

  // What was searched, in words.
  std::string ranges_text;
  for (const auto& [since, until] : rep.ranges) {
    if (!ranges_text.empty())
      ranges_text += " and ";
    ranges_text += fmt::format("[{}, {}] ({} to {})", decisions::format_utc_iso(since),
                               decisions::format_utc_iso(until - 1), local_text(since, rep.zone),
                               local_text(until - 1, rep.zone));
  }
  std::vector<std::string> filters;
  if (!rcpt.empty() || !user.empty())
    filters.push_back(fmt::format("inbound to {}{}{}", rcpt.empty() ? "" : rcpt,
                                  !rcpt.empty() && !user.empty() ? " or " : "",
                                  user.empty() ? "" : "user " + user + "'s mailboxes"));
  if (!sender.empty() || !user.empty())
    filters.push_back(fmt::format("outbound from {}{}{}", sender.empty() ? "" : sender,
                                  !sender.empty() && !user.empty() ? " or " : "",
                                  user.empty() ? "" : "SASL login " + user));
  if (!sender.empty())
    filters.push_back(fmt::format("bounces: inbound null-sender (<>) mail to {}", sender));
  rep.searched =
      fmt::format("{}: UTC {}; {}{}", deps.store_description, ranges_text,
                  filters.empty() ? "no filter given" : fmt::format("{}", fmt::join(filters, "; ")),
                  reseller.empty() ? "" : "; scoped to reseller " + reseller);
  if (truncated)
    rep.notes.push_back(fmt::format(
        "more than {} decisions matched one query: the oldest were left out; narrow --window",
        deps.max_decisions));

  HostedDomainFn hosted = [&](std::string_view domain) {
    return !reseller_of_domain(std::string(domain)).empty();
  };

  // Messages, oldest first.
  std::vector<const decisions::Decision*> ordered;
  for (const auto& [id, d] : found)
    ordered.push_back(&d);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) {
    return a->time_unix_ms != b->time_unix_ms ? a->time_unix_ms < b->time_unix_ms : a->id < b->id;
  });
  std::set<std::string> client_ips;
  for (const decisions::Decision* d : ordered) {
    CaseMessage m;
    const bool outbound = d->direction == "outbound";
    m.decision_id = d->id;
    m.time_unix_ms = d->time_unix_ms;
    m.time_local = local_text(d->time_unix_ms, rep.zone);
    m.direction = d->direction;
    m.mail_from = d->mail_from;
    m.auth_user = d->auth_user;
    m.client_ip = d->client_ip;
    m.helo = d->helo;
    m.subject = d->subject;
    m.message_id = d->message_id;
    m.queue_id = d->queue_id;
    m.node = d->node;
    m.errors = d->errors;
    m.sender_matches = same_address(d->mail_from, sender);
    const bool by_user = outbound && in_scope_address(user, "") &&
                         (same_address(d->auth_user, user) ||
                          std::any_of(d->recipients.begin(), d->recipients.end(),
                                      [&](auto& r) { return same_address(r.user, user); }));
    if (outbound && !by_user &&
        !(m.sender_matches &&
          (reseller.empty() || reseller_of_domain(domain_of(sender)) == reseller)))
      continue;
    std::set<std::string> seen_auth, seen_hint;
    for (const auto& r : d->recipients) {
      if (!outbound) {
        const bool mine = (same_address(r.user, user) || same_address(r.address, rcpt)) &&
                          in_scope_address(r.address, r.reseller);
        if (!mine)
          continue;
      }
      m.recipients.push_back(describe_recipient(*d, r, deps.symbols));
      for (const auto& s : r.symbols) {
        if (is_auth_symbol(s.name) && seen_auth.insert(s.name).second)
          m.auth_results.push_back(s.name);
      }
      for (auto& h : recognise_client_patterns(*d, r, hosted)) {
        if (seen_hint.insert(h.pattern).second)
          m.hints.push_back(std::move(h));
      }
    }
    if (m.recipients.empty())
      continue;
    if (!outbound && !d->client_ip.empty())
      client_ips.insert(d->client_ip);
    // Accepted outbound mail followed by a bounce to its sender: "accepted, then bounced".
    if (outbound && !d->mail_from.empty()) {
      for (const auto& b : bounces) {
        if (b.time_unix_ms >= d->time_unix_ms &&
            std::any_of(b.recipients.begin(), b.recipients.end(),
                        [&](auto& r) { return same_address(r.address, d->mail_from); }))
          m.bounced_by.push_back(b.id);
      }
      if (!m.bounced_by.empty()) {
        for (auto& r : m.recipients) {
          if (r.outcome == "accepted" || r.outcome == "spam_folder") {
            r.outcome = "accepted_then_bounced";
            r.summary += fmt::format(
                "; then probably bounced: a null-sender message to {} arrived later in the "
                "window (decision {}) — run `mailsift bounce` on it for the reason",
                d->mail_from, fmt::join(m.bounced_by, ", "));
          }
        }
      }
    }
    rep.messages.push_back(std::move(m));
  }
  // Exact matches (sender S) first, then the user's other mail in the window.
  std::stable_sort(rep.messages.begin(), rep.messages.end(),
                   [](const CaseMessage& a, const CaseMessage& b) {
                     return a.sender_matches > b.sender_matches;
                   });
  if (rep.messages.empty())
    rep.notes.push_back("no decision matched. Searched " + rep.searched);
  else if (!sender.empty() && std::none_of(rep.messages.begin(), rep.messages.end(),
                                           [](const CaseMessage& m) { return m.sender_matches; }))
    rep.notes.push_back(fmt::format(
        "nothing from {} in the window; the messages below are the user's other mail then",
        sender));

  // ---- Checks from the support article.
  std::vector<std::string> mailboxes;
  if (!user.empty() && rep.user_known)
    mailboxes.push_back(user);
  if (!rcpt.empty() && rcpt != user) {
    auto u = deps.tenants.get_user(rcpt);
    if (u && *u && in_scope_address(rcpt, ""))
      mailboxes.push_back(rcpt);
  }

  {  // 1. The recipient's spam action.
    CaseCheck c;
    c.name = "spam_action";
    c.data = ordered_json::array();
    if (mailboxes.empty()) {
      c.status = "not_applicable";
      c.answer = "neither the user nor the recipient is a known mailbox of this reseller";
    } else {
      c.status = "info";
      for (const auto& mb : mailboxes) {
        auto p = tenant::effective_policy(deps.tenants, deps.policy_defaults, mb);
        if (!p) {
          c.status = "unavailable";
          c.answer += fmt::format("{}: tenant store unavailable: {}\n", mb, p.error().describe());
          continue;
        }
        const bool rejects = p->spam_action.value == tenant::SpamAction::kReject;
        if (rejects)
          c.status = "warn";
        const char* what = rejects ? "goes to the spam folder; from the reject score on it is "
                                     "REJECTED at SMTP (the sender gets a 550)"
                           : p->spam_action.value == tenant::SpamAction::kTagSubject
                               ? "goes to the spam folder with a tagged subject"
                               : "goes to the spam folder, never rejected";
        c.answer +=
            fmt::format("{}: spam_action={} from {}: spam {} — spam score {} (from {}){}\n", mb,
                        tenant::to_string(p->spam_action.value), p->spam_action.from.describe(),
                        what, p->spam_score.value, p->spam_score.from.describe(),
                        rejects ? fmt::format(", reject score {} (from {})", p->reject_score.value,
                                              p->reject_score.from.describe())
                                : "");
        c.data.push_back({{"mailbox", mb},
                          {"spam_action", tenant::to_string(p->spam_action.value)},
                          {"spam_action_from", p->spam_action.from.describe()},
                          {"spam_score", p->spam_score.value},
                          {"spam_score_from", p->spam_score.from.describe()},
                          {"reject_score", p->reject_score.value},
                          {"reject_score_from", p->reject_score.from.describe()}});
      }
      if (!c.answer.empty() && c.answer.back() == '\n')
        c.answer.pop_back();
    }
    rep.checks.push_back(std::move(c));
  }

  {  // 2. Block/allow entries touching the sender, its domain or the client IP.
    CaseCheck c;
    c.name = "lists";
    c.data = ordered_json::array();
    if (mailboxes.empty() || sender.empty()) {
      c.status = "not_applicable";
      c.answer = sender.empty() ? "no sender given" : "no known mailbox to check lists for";
    } else {
      c.status = "ok";
      std::vector<std::string> ips(client_ips.begin(), client_ips.end());
      ips.insert(ips.begin(), "");
      for (const auto& mb : mailboxes) {
        std::set<int64_t> seen;
        for (const auto& ip : ips) {
          tenant::SenderFacts facts{sender, {}, ip};
          auto m = tenant::match(deps.tenants, mb, facts, now / 1000);
          if (!m) {
            c.status = "unavailable";
            c.answer += fmt::format("{}: tenant store unavailable: {}\n", mb, m.error().describe());
            break;
          }
          for (size_t i = 0; i < m->matches.size(); ++i) {
            const auto& lm = m->matches[i];
            if (!seen.insert(lm.entry.id).second)
              continue;
            const bool decides = m->deciding && *m->deciding == i;
            if (lm.entry.kind == tenant::ListKind::kBlock)
              c.status = "warn";
            c.answer += fmt::format(
                "{}: {} entry {} '{}' ({} {}) matches {}, since {}, by {}{}{}{}\n", mb,
                tenant::to_string(lm.entry.kind), lm.entry.id, tenant::display(lm.entry.pattern),
                tenant::to_string(lm.entry.level), lm.entry.owner, lm.matched,
                iso_s(lm.entry.created_at), lm.entry.created_by,
                lm.entry.note.empty() ? "" : ", note: " + lm.entry.note,
                lm.entry.expires_at ? ", expires " + iso_s(*lm.entry.expires_at) : "",
                decides ? " — DECIDES" : " (overridden by a more specific entry)");
            c.data.push_back({{"mailbox", mb},
                              {"id", lm.entry.id},
                              {"kind", tenant::to_string(lm.entry.kind)},
                              {"level", tenant::to_string(lm.entry.level)},
                              {"owner", lm.entry.owner},
                              {"pattern", tenant::display(lm.entry.pattern)},
                              {"matched", lm.matched},
                              {"since", iso_s(lm.entry.created_at)},
                              {"created_by", lm.entry.created_by},
                              {"note", lm.entry.note},
                              {"deciding", decides}});
          }
        }
      }
      if (c.answer.empty())
        c.answer = fmt::format(
            "no block or allow entry of {} (or its domain or reseller) touches "
            "{}, @{}{}",
            fmt::join(mailboxes, ", "), sender, domain_of(sender),
            client_ips.empty() ? "" : fmt::format(" or client IP {}", fmt::join(client_ips, ", ")));
      else if (c.answer.back() == '\n')
        c.answer.pop_back();
    }
    rep.checks.push_back(std::move(c));
  }

  {  // 3. SPF/DKIM/DMARC as logged.
    CaseCheck c;
    c.name = "authentication";
    c.data = ordered_json::array();
    bool any_inbound = false, bad = false;
    for (const auto& m : rep.messages) {
      if (m.direction == "outbound")
        continue;
      any_inbound = true;
      std::vector<std::string> parts;
      for (const auto& s : m.auth_results) {
        parts.push_back(s);
        bad = bad || bad_auth_symbol(s);
      }
      c.answer +=
          fmt::format("{} from {}: {}\n", m.decision_id, m.mail_from.empty() ? "<>" : m.mail_from,
                      parts.empty() ? "no SPF/DKIM/DMARC symbols logged (authentication "
                                      "was off: auth.enabled)"
                                    : fmt::format("{}", fmt::join(parts, " ")));
      c.data.push_back({{"decision_id", m.decision_id}, {"symbols", m.auth_results}});
    }
    if (!any_inbound) {
      c.status = "not_applicable";
      c.answer = "no inbound message matched";
    } else {
      c.status = bad ? "warn" : "info";
      c.answer.pop_back();
    }
    rep.checks.push_back(std::move(c));
  }

  // 4. The sending account.
  rep.checks.push_back(account_check(deps.outbound, deps.guard, deps.now_ms, user, reseller));

  {  // 5. Blocklist state of the outbound IPs: those in use when each outbound message left.
    CaseCheck c;
    c.name = "outbound_ip";
    c.data = ordered_json::array();
    std::vector<const CaseMessage*> sent;
    for (const auto& m : rep.messages)
      if (m.direction == "outbound")
        sent.push_back(&m);
    std::vector<std::string> ips;  // whose current state is shown, in first-named order
    auto name_ip = [&ips](const std::string& ip) {
      if (std::find(ips.begin(), ips.end(), ip) == ips.end())
        ips.push_back(ip);
    };
    if (!deps.ip_state) {
      c.status = "unavailable";
      c.answer =
          "outbound IP blocklist state: not monitored (no outbound IP pools in ipwatch.pools)";
      rep.checks.push_back(std::move(c));
      return rep;
    }
    c.status = "ok";
    if (!sent.empty() && deps.route_at) {
      for (const CaseMessage* m : sent) {
        const OutboundRoute r = deps.route_at(m->time_unix_ms);
        ordered_json d = {{"decision_id", m->decision_id}};
        if (!r.error.empty()) {
          c.status = "warn";
          c.answer += fmt::format(
              "{}: the IP monitor's steering history could not be read ({}); "
              "every configured IP below\n",
              m->decision_id, r.error);
          for (const auto& ip : deps.outbound_ips)
            name_ip(ip);
          d["error"] = r.error;
        } else if (!r.known) {
          c.answer += fmt::format(
              "{}: no pool choice recorded before {} (the IP monitor had not "
              "run yet); every configured IP below\n",
              m->decision_id, decisions::format_utc_iso(m->time_unix_ms));
          for (const auto& ip : deps.outbound_ips)
            name_ip(ip);
          d["pool"] = nullptr;
        } else {
          c.answer += fmt::format(
              "{}: sent through {} (socketmap answer {}, in force since {})\n", m->decision_id,
              r.fallback ? "the fallback transport (no pool was healthy)" : "pool " + r.pool,
              r.transport.empty() ? "NOTFOUND = Postfix default_transport" : r.transport,
              decisions::format_utc_iso(r.since_ms));
          ordered_json then = ordered_json::array();
          for (const auto& [ip, lists] : r.listed_then) {
            name_ip(ip);
            if (!lists.empty())
              c.status = "warn";
            c.answer +=
                fmt::format("  {} at that time: {}\n", ip,
                            lists.empty() ? std::string("not listed")
                                          : fmt::format("LISTED on {}", fmt::join(lists, ", ")));
            then.push_back({{"ip", ip}, {"listed", !lists.empty()}, {"lists", lists}});
          }
          d["pool"] = r.pool;
          d["transport"] = r.transport;
          d["fallback"] = r.fallback;
          d["since"] = decisions::format_utc_iso(r.since_ms);
          d["ips_then"] = then;
        }
        c.data.push_back(std::move(d));
      }
    } else {
      c.answer = sent.empty() ? "no outbound message matched: every configured outbound IP\n"
                              : "which pool was in use is not known here: every configured IP\n";
      for (const auto& ip : deps.outbound_ips)
        name_ip(ip);
    }
    if (ips.empty()) {
      c.status = "unavailable";
      c.answer += "no outbound IPs configured to ask the IP monitor about\n";
    }
    for (const auto& ip : ips) {
      auto st = deps.ip_state(ip);
      if (!st) {
        c.answer += fmt::format("{} now: not monitored\n", ip);
        continue;
      }
      if (st->listed)
        c.status = "warn";
      c.answer += fmt::format(
          "{} now: {}{}{}\n", ip,
          st->listed ? fmt::format("LISTED on {}", fmt::join(st->lists, ", ")) : "not listed",
          st->checked_at_ms ? ", checked " + decisions::format_utc_iso(st->checked_at_ms) : "",
          st->detail.empty() ? "" : " (" + st->detail + ")");
      c.data.push_back({{"ip", ip}, {"listed", st->listed}, {"lists", st->lists}});
    }
    c.answer.pop_back();
    rep.checks.push_back(std::move(c));
  }
  return rep;
}

// ---- Rendering -----------------------------------------------------------------------------

std::string render_case_text(const CaseReport& r) {
  std::string o;
  o += fmt::format("Case: reseller {}, user {}, from {}, to {}, at {} {} (±{})\n",
                   r.query.reseller.empty() ? "-" : r.query.reseller,
                   r.query.user.empty() ? "-" : r.query.user,
                   r.query.from.empty() ? "-" : r.query.from, r.query.to.empty() ? "-" : r.query.to,
                   r.query.at, r.zone, r.query.window);
  o += "Searched: " + r.searched + "\n";
  for (const auto& n : r.notes)
    o += "Note: " + n + "\n";
  for (const auto& m : r.messages) {
    o += fmt::format("\n{} {} ({}) decision {}\n",
                     m.direction == "outbound" ? "Outbound" : "Inbound", m.time_local,
                     decisions::format_utc_iso(m.time_unix_ms), m.decision_id);
    o += fmt::format(
        "  from {}{}{}{}\n", m.mail_from.empty() ? "<>" : m.mail_from,
        m.auth_user.empty() ? " (not authenticated)" : " (SASL login " + m.auth_user + ")",
        m.client_ip.empty() ? "" : ", client " + m.client_ip,
        m.helo.empty() ? "" : " helo " + m.helo);
    if (!m.subject.empty() || !m.message_id.empty())
      o += fmt::format("  subject \"{}\"{}\n", m.subject,
                       m.message_id.empty() ? "" : " message-id " + m.message_id);
    if (!m.sender_matches)
      o += "  (not from the case's sender: other mail of this user in the window)\n";
    for (const auto& rc : m.recipients) {
      o += fmt::format("  -> {}: {}\n", rc.address.empty() ? "(no recipient)" : rc.address,
                       rc.summary);
      if (!rc.policy_source.empty())
        o += fmt::format("     policy: {}\n", rc.policy_source);
      for (const auto& s : rc.symbols)
        o += fmt::format("     {:>8.2f}  {}  {}\n", s.score, s.name,
                         s.description.empty() ? "(no description)" : s.description);
    }
    if (!m.auth_results.empty())
      o += fmt::format("  authentication: {}\n", fmt::join(m.auth_results, " "));
    for (const auto& e : m.errors)
      o += "  error: " + e + "\n";
    for (const auto& h : m.hints)
      o += fmt::format("  Likely cause [{}]: {}. {}\n    Check: {}\n", h.pattern, h.title,
                       h.explanation, h.check);
  }
  o += "\nChecks:\n";
  for (const auto& c : r.checks) {
    std::string answer = c.answer;
    for (size_t p = answer.find('\n'); p != std::string::npos; p = answer.find('\n', p + 1))
      answer.replace(p, 1, "\n    ");
    o += fmt::format("  [{}] {}:\n    {}\n", c.status, c.name, answer);
  }
  return o;
}

ordered_json case_json(const CaseReport& r) {
  ordered_json j;
  j["query"] = {{"reseller", r.query.reseller},
                {"user", r.query.user},
                {"from", r.query.from},
                {"to", r.query.to},
                {"at", r.query.at},
                {"tz", r.zone},
                {"window", r.query.window}};
  ordered_json instants = ordered_json::array();
  for (int64_t t : r.instants_ms)
    instants.push_back(decisions::format_utc_iso(t));
  j["instants_utc"] = instants;
  j["ambiguous"] = r.ambiguous;
  ordered_json ranges = ordered_json::array();
  for (const auto& [a, b] : r.ranges)
    ranges.push_back(
        {{"since", decisions::format_utc_iso(a)}, {"until", decisions::format_utc_iso(b - 1)}});
  j["ranges_utc"] = ranges;
  j["searched"] = r.searched;
  j["reseller_known"] = r.reseller_known;
  j["user_known"] = r.user_known;
  j["notes"] = r.notes;
  ordered_json msgs = ordered_json::array();
  for (const auto& m : r.messages) {
    ordered_json jm{{"decision_id", m.decision_id},
                    {"time_utc", decisions::format_utc_iso(m.time_unix_ms)},
                    {"time_local", m.time_local},
                    {"direction", m.direction},
                    {"mail_from", m.mail_from},
                    {"auth_user", m.auth_user},
                    {"client_ip", m.client_ip},
                    {"helo", m.helo},
                    {"subject", m.subject},
                    {"message_id", m.message_id},
                    {"queue_id", m.queue_id},
                    {"node", m.node},
                    {"sender_matches", m.sender_matches},
                    {"authentication", m.auth_results},
                    {"bounced_by", m.bounced_by},
                    {"errors", m.errors}};
    ordered_json rcpts = ordered_json::array();
    for (const auto& rc : m.recipients) {
      ordered_json syms = ordered_json::array();
      for (const auto& s : rc.symbols)
        syms.push_back({{"name", s.name}, {"score", s.score}, {"description", s.description}});
      rcpts.push_back({{"address", rc.address},
                       {"outcome", rc.outcome},
                       {"summary", rc.summary},
                       {"action", rc.action},
                       {"stage", rc.stage},
                       {"smtp_reply", rc.smtp_reply},
                       {"policy_source", rc.policy_source},
                       {"score", rc.score},
                       {"symbols", syms}});
    }
    jm["recipients"] = rcpts;
    ordered_json hints = ordered_json::array();
    for (const auto& h : m.hints)
      hints.push_back({{"pattern", h.pattern},
                       {"title", h.title},
                       {"explanation", h.explanation},
                       {"check", h.check}});
    jm["client_hints"] = hints;
    msgs.push_back(std::move(jm));
  }
  j["messages"] = msgs;
  ordered_json checks = ordered_json::array();
  for (const auto& c : r.checks)
    checks.push_back(
        {{"name", c.name}, {"status", c.status}, {"answer", c.answer}, {"data", c.data}});
  j["checks"] = checks;
  return j;
}

}  // namespace mailsift::support
