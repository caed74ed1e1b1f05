// mailsift::console::Console — the support web console: HTML pages under /console/ served by
// mailsiftd's HTTP server, for support agents (admin keys) and resellers (reseller keys).
//
// Owns: the console's routes, login/logout and sessions (session.h), CSRF checks, per-object
// authorization of everything it shows, and the pages: dashboard (charts as inline SVG),
// decision search with a time zone, one decision's explanation, train from history (a logged
// decision reported spam / not spam for its recipient through the feedback API), bounce
// diagnosis, a user's effective policy and lists, and the case-lookup and domain-doctor pages,
// which call the JSON API extensions (/api/v1/case, /api/v1/doctor/D) in-process with the
// session's key and render their JSON. It is an http::ApiExtension chained in front of the
// feedback and tenant APIs: paths outside /console go to `next`.
//
// Authorization: a reseller session sees only recipients (and so decisions, users, lists) of
// its own tenants: every object goes through tenant::authorize(); other resellers' objects are
// answered 404 "not found" exactly like missing ones (names cannot be probed).
// Failure semantics: handle() never throws; bad form input is a 400 page naming the problem; a
// store failure is a 503 page; a missing or expired session redirects to the login page (GET)
// or is a 401 page (POST); a POST without the session's CSRF token is a 403 page.
// SECURITY: reads untrusted browser input (form.h parses it) and shows untrusted mail data;
// every value is HTML-escaped (html.h). Responses carry a Content-Security-Policy that allows
// no script at all, no-store caching and frame denial. The cookie is HttpOnly, SameSite=Strict;
// it is not Secure because mailsiftd serves plain HTTP (put TLS in front for remote access).
#pragma once

#include <map>
#include <string>

#include "console/session.h"
#include "decisions/decisions.h"
#include "http/api_extension.h"
#include "support/support.h"
#include "tenant/tenant.h"

namespace mailsift::console {

struct ConsoleOptions {
  int64_t session_ttl_seconds = 8 * 3600;
  // The support tools' symbol registry (support::builtin_symbol_descriptions: the engine's
  // checks and the service's own symbols); descriptions are shown next to weights.
  support::SymbolDescriptions symbols;
  // The dashboard reads at most this many decisions of the period (and says so when capped).
  size_t dashboard_max_decisions = 50000;
};

class Console final : public http::ApiExtension {
 public:
  // `log` may be null (the decision pages then say the log is unavailable); `next` (the feedback
  // API, then the tenant API, and any further JSON extensions) may be null.
  Console(tenant::TenantStore& tenants, tenant::PolicyDefaults defaults,
          decisions::DecisionLog* log, http::ApiExtension* next, tenant::Clock clock,
          ConsoleOptions options = {});
  bool handles(std::string_view path) const override;
  http::ApiReply handle(const http::ApiCall& call) override;

  SessionStore& sessions() { return sessions_; }

 private:
  struct Ctx;
  http::ApiReply dispatch(const http::ApiCall& call);
  http::ApiReply login(const http::ApiCall& call);
  http::ApiReply dashboard(Ctx& c);
  http::ApiReply decision_search(Ctx& c);
  http::ApiReply decision_view(Ctx& c);
  http::ApiReply train(Ctx& c);
  http::ApiReply bounce(Ctx& c);
  http::ApiReply user_policy(Ctx& c);
  http::ApiReply case_lookup(Ctx& c);
  http::ApiReply doctor(Ctx& c);
  http::ApiReply json_page(Ctx& c, std::string_view title, std::string form,
                           std::string_view api_path,
                           const std::vector<std::pair<std::string, std::string>>& query,
                           bool submitted);
  bool visible(Ctx& c, const decisions::RecipientDecision& r);

  tenant::TenantStore& tenants_;
  tenant::PolicyDefaults defaults_;
  decisions::DecisionLog* log_;
  http::ApiExtension* next_;
  tenant::Clock clock_;
  ConsoleOptions options_;
  SessionStore sessions_;
};

// The message a "train from history" report sends: the headers the decision log kept (sender,
// subject, Message-ID) and X-Mailsift-Id naming the decision. The log keeps no body, so this is
// what is learned.
std::string history_message(const decisions::Decision& d);

}  // namespace mailsift::console
