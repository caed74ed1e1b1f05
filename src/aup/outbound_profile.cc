#include "aup/outbound_profile.h"

#include <fmt/format.h>

#include <algorithm>

#include "outbound/replies.h"

namespace mailsift::aup {

OutboundPolicy OutboundPolicy::from_config(const Config& c) {
  OutboundPolicy p;
  p.enabled = c.get_bool("outbound.aup.enabled");
  p.reject_score = c.get_double("outbound.aup.reject_score");
  return p;
}

Config outbound_engine_config(const Config& config) {
  Config c = config;
  // Both names are declared parameters, so set() cannot fail.
  (void)c.set("bayes.enabled", "false");
  (void)c.set("fuzzy.enabled", "false");
  return c;
}

Result<std::unique_ptr<scan::Engine>> make_outbound_engine(
    const Config& config, store::Store& store, std::shared_ptr<const rules::RuleSet> rules,
    OwnedDomains owned, std::vector<std::unique_ptr<scan::Check>> extra) {
  auto checks = make_aup_checks(AupConfig::from_config(config), std::move(owned));
  for (auto& c : extra)
    checks.push_back(std::move(c));
  return scan::Engine::create(outbound_engine_config(config), store, std::move(rules),
                              std::move(checks));
}

OutboundDecision decide(const scan::Verdict& v, const OutboundPolicy& policy,
                        std::string_view ref) {
  OutboundDecision d;
  d.score = v.score;
  for (const auto& s : v.symbols) {
    if (s.name.rfind("AUP_", 0) == 0 && s.score > 0) {
      // "phishing (PHISHING_LINK)": the description's head, then what matched.
      std::string what = s.description;
      if (auto paren = what.find(" ("); paren != std::string::npos)
        what.resize(paren);
      d.reason += (d.reason.empty() ? "" : "; ") + what;
      if (!s.detail.empty())
        d.reason += " [" + s.detail + "]";
    }
  }
  const bool temporary = std::any_of(v.errors.begin(), v.errors.end(), [](const Error& e) {
    return e.kind == ErrorKind::kTemporary;
  });
  if (v.score >= policy.reject_score) {
    if (d.reason.empty())
      d.reason = fmt::format("content scored {:.1f} (limit {:.1f})", v.score, policy.reject_score);
    d.kind = OutboundDecision::kReject;
    const std::string full = outbound::render_reply(outbound::ReplyKind::kAcceptableUse, false,
                                                    {"", d.reason, std::string(ref)});
    // "550 5.7.1 text" -> parts.
    d.smtp_code = 550;
    d.enhanced = full.substr(4, 5);
    d.text = full.substr(10);
  } else if (temporary) {
    d.kind = OutboundDecision::kTempfail;
    d.smtp_code = 451;
    d.enhanced = "4.7.1";
    d.text = fmt::format("Temporary failure scanning message, try again later (ref {})", ref);
  }
  return d;
}

}  // namespace mailsift::aup
