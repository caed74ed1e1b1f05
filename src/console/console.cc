#include "console/console.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "bounce/bounce.h"
#include "console/form.h"
#include "console/html.h"
#include "core/ascii.h"
#include "decisions/timezone.h"

namespace mailsift::console {

using http::ApiCall;
using http::ApiReply;
using nlohmann::ordered_json;

struct Console::Ctx {
  const ApiCall& call;
  Session session;
  Fields params;                               // query parameters (GET) or form fields (POST)
  std::unordered_map<std::string, bool> seen;  // authorization cache for this request
  std::string who() const { return session.principal.describe(); }
};

namespace {

constexpr const char* kSessionCookie = "msc_session";
constexpr const char* kLoginCookie = "msc_login";

const char* const kZones[] = {"UTC",
                              "America/Toronto",
                              "America/New_York",
                              "America/Chicago",
                              "America/Denver",
                              "America/Los_Angeles",
                              "America/Vancouver",
                              "America/Sao_Paulo",
                              "Europe/London",
                              "Europe/Paris",
                              "Europe/Berlin",
                              "Africa/Johannesburg",
                              "Asia/Kolkata",
                              "Asia/Tokyo",
                              "Asia/Singapore",
                              "Australia/Sydney",
                              "Pacific/Auckland"};

const char* const kActions[] = {"no action", "add header", "rewrite subject", "soft reject",
                                "reject"};

void security_headers(ApiReply& r) {
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
}

ApiReply html(int status, std::string body) {
  ApiReply r{status, std::move(body)};
  security_headers(r);
  return r;
}

ApiReply redirect(std::string location) {
  ApiReply r = html(303, "");
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

std::string error_box(std::string_view message) {
  return "<div class=\"error\" role=\"alert\">" + escape(message) + "</div>";
}

std::string input(std::string_view label, std::string_view name, std::string_view value,
                  std::string_view placeholder = {}) {
  return fmt::format(
      "<label>{0}<input name=\"{1}\" id=\"f-{1}\" value=\"{2}\" placeholder=\"{3}\"></label>",
      escape(label), escape(name), escape(value), escape(placeholder));
}

std::string select(std::string_view label, std::string_view name, std::string_view current,
                   const std::vector<std::pair<std::string, std::string>>& options) {
  std::string out =
      fmt::format("<label>{0}<select name=\"{1}\" id=\"f-{1}\">", escape(label), escape(name));
  bool found = false;
  for (const auto& [value, text] : options) {
    bool sel = value == current;
    found = found || sel;
    out += fmt::format("<option value=\"{}\"{}>{}</option>", escape(value), sel ? " selected" : "",
                       escape(text));
  }
  if (!found && !current.empty())
    out += fmt::format("<option value=\"{0}\" selected>{0}</option>", escape(current));
  return out + "</select></label>";
}

std::string zone_select(std::string_view current) {
  std::vector<std::pair<std::string, std::string>> opts;
  for (const char* z : kZones)
    opts.emplace_back(z, z);
  return select("Time zone", "tz", current.empty() ? "UTC" : current, opts);
}

// The zone a page uses: the parameter (validated), else UTC.
Result<std::string> zone_param(const Fields& params) {
  std::string tz = field(params, "tz");
  if (tz.empty())
    return std::string("UTC");
  return decisions::canonical_zone_name(tz);
}

std::string when(int64_t ms, const std::string& tz) {
  auto z = decisions::to_zone(ms, tz);
  if (!z)
    return decisions::format_utc_iso(ms);
  return z->local + " " + z->abbreviation;
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& q) {
  std::string out;
  for (const auto& [k, v] : q) {
    out += out.empty() ? "?" : "&";
    auto enc = [](std::string_view s) {
      std::string r;
      for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@')
          r += static_cast<char>(c);
        else
          r += fmt::format("%{:02X}", c);
      }
      return r;
    };
    out += enc(k) + "=" + enc(v);
  }
  return out;
}

std::string csrf_field(const Session& s) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + escape(s.csrf) + "\">";
}

std::string cookie_value(std::string_view header, std::string_view name) {
  return field(parse_cookies(header), name);
}

std::string error_message(const std::string& body) {
  auto j = ordered_json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string())
      return e["message"].get<std::string>();
    if (e.is_string())
      return e.get<std::string>();
  }
  return body.substr(0, 300);
}

int status_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kMalformed:
      return 400;
    case ErrorKind::kPermanent:
      return 422;
    case ErrorKind::kTemporary:
      return 503;
    case ErrorKind::kConfig:
      return 500;
  }
  return 500;
}

}  // namespace

std::string history_message(const decisions::Decision& d) {
  // Header values come from the log; strip CR/LF so a logged value cannot add header lines.
  auto clean = [](std::string s) {
    for (char& c : s)
      if (c == '\r' || c == '\n')
        c = ' ';
    return s;
  };
  std::string out;
  out += "X-Mailsift-Id: " + clean(d.id) + "\r\n";
  if (!d.mail_from.empty()) {
    out += "Return-Path: <" + clean(d.mail_from) + ">\r\n";
    out += "From: <" + clean(d.mail_from) + ">\r\n";
  }
  if (!d.message_id.empty())
    out += "Message-ID: " + clean(d.message_id) + "\r\n";
  out += "Subject: " + clean(d.subject) + "\r\n";
  out += "\r\n" + clean(d.subject) + "\r\n";
  return out;
}

Console::Console(tenant::TenantStore& tenants, tenant::PolicyDefaults defaults,
                 decisions::DecisionLog* log, http::ApiExtension* next, tenant::Clock clock,
                 ConsoleOptions options)
    : tenants_(tenants),
      defaults_(defaults),
      log_(log),
      next_(next),
      clock_(clock),
      options_(std::move(options)),
      sessions_(clock, options_.session_ttl_seconds) {}

bool Console::handles(std::string_view path) const {
  return path == "/console" || path.starts_with("/console/") || (next_ && next_->handles(path));
}

ApiReply Console::handle(const ApiCall& call) {
  if (!(call.path == "/console" || call.path.starts_with("/console/"))) {
    if (next_)
      return next_->handle(call);
    return {404, R"({"error":{"kind":"permanent","message":"no such endpoint"}})"};
  }
  try {
    return dispatch(call);
  } catch (const std::exception& e) {
    return html(500, page("Error", error_box(std::string("internal error: ") + e.what()), false));
  } catch (...) {
    return html(500, page("Error", error_box("internal error"), false));
  }
}

ApiReply Console::login(const ApiCall& call) {
  if (call.method == "GET") {
    auto nonce = random_token();
    if (!nonce)
      return html(503, page("Log in", error_box(nonce.error().message), false));
    std::string body =
        "<p>Log in with a tenant API key (admin or reseller; <code>mailsift tenant key "
        "create</code>).</p><form method=\"post\" action=\"/console/login\" class=\"search\">"
        "<input type=\"hidden\" name=\"csrf\" value=\"" +
        escape(*nonce) +
        "\"><label>API key<input type=\"password\" name=\"key\" id=\"f-key\" "
        "autocomplete=\"off\" size=\"70\"></label><button type=\"submit\" id=\"login\">Log "
        "in</button></form>";
    ApiReply r = html(200, page("Log in", body, false));
    // Login CSRF: the form's token must match this cookie (double submit), so another site
    // cannot log a browser in under its own key.
    r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) + "=" + *nonce +
                                             "; Path=/console/login; Max-Age=900; HttpOnly; "
                                             "SameSite=Strict");
    return r;
  }
  if (call.method != "POST")
    return html(405, page("Log in", error_box("use GET or POST"), false));
  auto form = parse_form(call.body, call.content_type);
  auto again = [](int status, std::string_view msg) {
    return html(status, page("Log in",
                             error_box(msg) +
                                 "<p><a href=\"/console/login\" id=\"retry\">Try again</a></p>",
                             false));
  };
  if (!form)
    return again(400, form.error().message);
  const std::string nonce = cookie_value(call.cookie, kLoginCookie);
  if (nonce.empty() || !same_token(nonce, field(*form, "csrf")))
    return again(403, "The login form expired or was not sent by this console; load it again.");
  std::string key = field(*form, "key");
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back())))
    key.pop_back();
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front())))
    key.erase(key.begin());
  if (key.empty())
    return again(400, "Enter an API key.");
  auto who = tenant::authenticate(tenants_, key);
  if (!who)
    return again(
        who.error().kind == ErrorKind::kTemporary ? 503 : 401,
        who.error().kind == ErrorKind::kTemporary ? who.error().message : "Unknown API key.");
  auto s = sessions_.create(*who, key);
  if (!s)
    return again(503, s.error().message);
  ApiReply r = redirect("/console/");
  r.headers.emplace_back("Set-Cookie",
                         fmt::format("{}={}; Path=/console; Max-Age={}; HttpOnly; "
                                     "SameSite=Strict",
                                     kSessionCookie, s->token, sessions_.ttl_seconds()));
  r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) +
                                           "=; Path=/console/login; Max-Age=0; HttpOnly; "
                                           "SameSite=Strict");
  return r;
}

ApiReply Console::dispatch(const ApiCall& call) {
  const std::string_view path = call.path;
  if (path == "/console")
    return redirect("/console/");
  if (path == "/console/login")
    return login(call);
  auto session = sessions_.find(cookie_value(call.cookie, kSessionCookie));
  if (!session) {
    if (call.method == "GET")
      return redirect("/console/login");
    return html(401, page("Logged out",
                          error_box("Your session expired; log in again.") +
                              "<p><a href=\"/console/login\">Log in</a></p>",
                          false));
  }
  Ctx c{call, std::move(*session), {}, {}};
  if (call.method == "POST") {
    auto form = parse_form(call.body, call.content_type);
    if (!form)
      return html(400,
                  page("Bad form", error_box(form.error().message), true, c.who(), c.session.csrf));
    c.params = std::move(*form);
    if (!same_token(field(c.params, "csrf"), c.session.csrf))
      return html(403, page("Forbidden",
                            error_box("The form's CSRF token is missing or wrong; reload the "
                                      "page and submit again."),
                            true, c.who(), c.session.csrf));
  } else if (call.method == "GET") {
    c.params = call.query;
  } else {
    return html(405, page("Method not allowed", error_box("use GET or POST"), true, c.who(),
                          c.session.csrf));
  }
  if (path == "/console/logout") {
    if (call.method != "POST")
      return html(405, page("Log out", error_box("log out with the button (POST)"), true, c.who(),
                            c.session.csrf));
    sessions_.erase(c.session.token);
    ApiReply r = redirect("/console/login");
    r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) +
                                             "=; Path=/console; Max-Age=0; HttpOnly; "
                                             "SameSite=Strict");
    return r;
  }
  struct Route {
    std::string_view path;
    bool post;
    ApiReply (Console::*fn)(Ctx&);
  };
  static const Route kRoutes[] = {
      {"/console/", false, &Console::dashboard},
      {"/console/decisions", false, &Console::decision_search},
      {"/console/decision", false, &Console::decision_view},
      {"/console/train", true, &Console::train},
      {"/console/bounce", true, &Console::bounce},
      {"/console/user", false, &Console::user_policy},
      {"/console/case", false, &Console::case_lookup},
      {"/console/doctor", false, &Console::doctor},
  };
  for (const auto& r : kRoutes) {
    if (r.path != path)
      continue;
    if (call.method == "POST" && !r.post)
      return html(405, page("Method not allowed", error_box("this page takes GET"), true, c.who(),
                            c.session.csrf));
    if (call.method == "GET" && path == "/console/train")
      return redirect("/console/decisions");
    return (this->*r.fn)(c);
  }
  return html(404,
              page("Not found", error_box("No such console page."), true, c.who(), c.session.csrf));
}

bool Console::visible(Ctx& c, const decisions::RecipientDecision& r) {
  if (c.session.principal.role == tenant::Role::kAdmin)
    return true;
  tenant::Target t;
  if (!r.user.empty())
    t = {tenant::Level::kUser, ascii_lower(r.user)};
  else if (!r.domain.empty())
    t = {tenant::Level::kDomain, ascii_lower(r.domain)};
  else
    return false;  // no tenant known: only admins see it
  std::string key = std::to_string(static_cast<int>(t.level)) + ":" + t.id;
  auto it = c.seen.find(key);
  if (it != c.seen.end())
    return it->second;
  auto a = tenant::authorize(tenants_, c.session.principal, t);
  bool ok = a && *a == tenant::Access::kAllowed;
  c.seen[key] = ok;
  return ok;
}

// ---- dashboard ----------------------------------------------------------------------------

ApiReply Console::dashboard(Ctx& c) {
  auto tz = zone_param(c.params);
  std::string period = field(c.params, "period");
  if (period.empty())
    period = "24h";
  std::string form = "<form method=\"get\" action=\"/console/\" class=\"search\">" +
                     select("Period", "period", period,
                            {{"6h", "last 6 hours"},
                             {"24h", "last 24 hours"},
                             {"7d", "last 7 days"},
                             {"30d", "last 30 days"}}) +
                     zone_select(tz ? *tz : field(c.params, "tz")) +
                     "<button type=\"submit\" id=\"show\">Show</button></form>";
  auto fail = [&](int status, std::string_view msg) {
    return html(status, page("Dashboard", form + error_box(msg), true, c.who(), c.session.csrf));
  };
  if (!tz)
    return fail(400, tz.error().message);
  auto span = decisions::parse_duration_ms(period);
  if (!span || *span <= 0 || *span > 31LL * 86'400'000)
    return fail(400, "period must be a duration up to 31 days, e.g. 24h or 7d");
  if (!log_)
    return fail(503, "the decision log is not available");
  const int64_t now = clock_() * 1000;
  const int64_t bucket = *span > 2LL * 86'400'000 ? 86'400'000 : 3'600'000;
  const int64_t end = (now / bucket + 1) * bucket;
  const int64_t start = end - ((*span + bucket - 1) / bucket) * bucket;
  decisions::Query q;
  q.since_unix_ms = start;
  q.limit = options_.dashboard_max_decisions;
  if (c.session.principal.role == tenant::Role::kReseller)
    q.reseller = c.session.principal.reseller;
  auto found = log_->query(q);
  if (!found)
    return fail(status_for(found.error()), found.error().message);
  std::vector<double> per_bucket(static_cast<size_t>((end - start) / bucket), 0);
  std::map<std::string, double> actions;
  std::map<std::string, double> symbols;
  size_t decisions_shown = 0, recipients_shown = 0;
  for (const auto& d : *found) {
    bool any = false;
    for (const auto& r : d.recipients) {
      if (!visible(c, r))
        continue;
      any = true;
      ++recipients_shown;
      actions[r.action] += 1;
      for (const auto& s : r.symbols)
        symbols[s.name] += 1;
    }
    if (!any)
      continue;
    ++decisions_shown;
    if (d.time_unix_ms >= start && d.time_unix_ms < end)
      per_bucket[static_cast<size_t>((d.time_unix_ms - start) / bucket)] += 1;
  }
  std::vector<Bar> time_bars;
  for (size_t i = 0; i < per_bucket.size(); ++i) {
    const int64_t t = start + static_cast<int64_t>(i) * bucket;
    auto z = decisions::to_zone(t, *tz);
    std::string label = z ? (bucket == 3'600'000 ? z->local.substr(11, 5) : z->local.substr(5, 5))
                          : std::to_string(i);
    time_bars.push_back({label, per_bucket[i]});
  }
  std::vector<Bar> action_bars;
  for (const auto& [a, n] : actions)
    action_bars.push_back({a, n});
  std::vector<Bar> symbol_bars;
  for (const auto& [s, n] : symbols)
    symbol_bars.push_back({s, n});
  std::sort(symbol_bars.begin(), symbol_bars.end(), [](const Bar& a, const Bar& b) {
    return a.value > b.value || (a.value == b.value && a.label < b.label);
  });
  if (symbol_bars.size() > 12)
    symbol_bars.resize(12);
  std::string body = form;
  body += fmt::format("<p id=\"totals\">{} decisions, {} recipients from {} to {}.</p>",
                      decisions_shown, recipients_shown, escape(when(start, *tz)),
                      escape(when(end, *tz)));
  if (found->size() >= options_.dashboard_max_decisions)
    body += error_box(fmt::format("Only the newest {} decisions of the period are counted.",
                                  options_.dashboard_max_decisions));
  const size_t every = std::max<size_t>(1, time_bars.size() / 12);
  body += "<div class=\"charts\">" +
          svg_columns(bucket == 3'600'000 ? "Decisions per hour (" + *tz + ")"
                                          : "Decisions per day (" + *tz + ")",
                      time_bars, every) +
          svg_rows("Actions (per recipient)", action_bars) + svg_rows("Top symbols", symbol_bars) +
          "</div>";
  return html(200, page("Dashboard", body, true, c.who(), c.session.csrf));
}

// ---- decisions ----------------------------------------------------------------------------

ApiReply Console::decision_search(Ctx& c) {
  const Fields& p = c.params;
  auto tz = zone_param(p);
  std::vector<std::pair<std::string, std::string>> action_opts = {{"", "any"}};
  for (const char* a : kActions)
    action_opts.emplace_back(a, a);
  std::string form =
      "<form method=\"get\" action=\"/console/decisions\" class=\"search\" id=\"search\">" +
      input("Sender", "sender", field(p, "sender")) +
      input("Recipient", "recipient", field(p, "recipient")) +
      input("User", "user", field(p, "user")) + input("Domain", "domain", field(p, "domain")) +
      select("Action", "action", field(p, "action"), action_opts) +
      select("Direction", "direction", field(p, "direction"),
             {{"", "any"}, {"inbound", "inbound"}, {"outbound", "outbound"}}) +
      input("From (local time)", "from", field(p, "from"), "2026-11-27 10:00") +
      input("To (local time)", "to", field(p, "to"), "2026-11-27 11:00") +
      zone_select(tz ? *tz : field(p, "tz")) + input("Limit", "limit", field(p, "limit"), "100") +
      "<button type=\"submit\" id=\"search-button\">Search</button></form>";
  auto fail = [&](int status, std::string_view msg) {
    return html(status, page("Decisions", form + error_box(msg), true, c.who(), c.session.csrf));
  };
  if (!tz)
    return fail(400, tz.error().message);
  if (!log_)
    return fail(503, "the decision log is not available");
  decisions::Query q;
  q.sender = field(p, "sender");
  q.recipient = field(p, "recipient");
  q.user = field(p, "user");
  q.domain = field(p, "domain");
  q.action = field(p, "action");
  q.direction = field(p, "direction");
  if (!q.direction.empty() && q.direction != "inbound" && q.direction != "outbound")
    return fail(400, "direction must be inbound or outbound");
  for (const auto& [name, target] :
       {std::pair{"from", &q.since_unix_ms}, std::pair{"to", &q.until_unix_ms}}) {
    std::string text = field(p, name);
    if (text.empty())
      continue;
    auto t = decisions::parse_time(text, *tz);
    if (!t)
      return fail(400, std::string(name) + ": " + t.error().message);
    *target = *t;
  }
  q.limit = 100;
  if (std::string l = field(p, "limit"); !l.empty()) {
    if (l.size() > 4 || !std::all_of(l.begin(), l.end(), ::isdigit) || std::stoul(l) == 0)
      return fail(400, "limit must be a number from 1 to 9999");
    q.limit = std::stoul(l);
  }
  if (c.session.principal.role == tenant::Role::kReseller)
    q.reseller = c.session.principal.reseller;
  auto found = log_->query(q);
  if (!found)
    return fail(status_for(found.error()), found.error().message);
  std::string rows;
  size_t shown = 0;
  for (const auto& d : *found) {
    std::string rcpts;
    for (const auto& r : d.recipients) {
      if (!visible(c, r))
        continue;
      rcpts += fmt::format("<li>{} — <b>{}</b> ({})</li>", escape(r.address), escape(r.action),
                           escape(number(r.score)));
    }
    if (rcpts.empty())
      continue;
    ++shown;
    rows += fmt::format(
        "<tr class=\"decision\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><ul>{}</ul></td>"
        "<td><a class=\"explain\" href=\"/console/decision{}\">explain</a></td></tr>",
        escape(when(d.time_unix_ms, *tz)), escape(d.direction),
        escape(d.mail_from.empty() ? "<>" : d.mail_from), escape(d.subject), rcpts,
        escape(query_string({{"id", d.id}, {"tz", *tz}})));
  }
  std::string body = form;
  body += fmt::format("<p id=\"count\">{} decision{} (times in {}).</p>", shown,
                      shown == 1 ? "" : "s", escape(*tz));
  if (shown > 0)
    body +=
        "<table id=\"results\"><tr><th>Time</th><th>Direction</th><th>Sender</th>"
        "<th>Subject</th><th>Recipients — action (score)</th><th></th></tr>" +
        rows + "</table>";
  return html(200, page("Decisions", body, true, c.who(), c.session.csrf));
}

ApiReply Console::decision_view(Ctx& c) {
  auto tz = zone_param(c.params);
  auto fail = [&](int status, std::string_view msg) {
    return html(status, page("Decision", error_box(msg), true, c.who(), c.session.csrf));
  };
  if (!tz)
    return fail(400, tz.error().message);
  const std::string id = field(c.params, "id");
  if (id.empty())
    return fail(400, "which decision? (id= is missing)");
  if (!log_)
    return fail(503, "the decision log is not available");
  decisions::Query q;
  q.id = id;
  q.limit = 1;
  auto found = log_->query(q);
  if (!found)
    return fail(status_for(found.error()), found.error().message);
  std::vector<const decisions::RecipientDecision*> mine;
  if (!found->empty())
    for (const auto& r : found->front().recipients)
      if (visible(c, r))
        mine.push_back(&r);
  if (mine.empty())
    return fail(404, "No decision " + id + " that you may see.");
  const auto& d = found->front();
  auto row = [](std::string_view k, std::string_view v) {
    return "<dt>" + escape(k) + "</dt><dd>" + escape(v) + "</dd>";
  };
  std::string body = "<h2>Envelope</h2><dl id=\"envelope\">";
  body += row("Decision ID", d.id);
  body += row("Time",
              when(d.time_unix_ms, *tz) + "  (" + decisions::format_utc_iso(d.time_unix_ms) + ")");
  body += row("Direction", d.direction) + row("Node", d.node) + row("Queue ID", d.queue_id);
  body += row("Sender (MAIL FROM)", d.mail_from.empty() ? "<>" : d.mail_from);
  body += row("Subject", d.subject) + row("Message-ID", d.message_id);
  body +=
      row("Client IP", d.client_ip) + row("HELO", d.helo) + row("Authenticated user", d.auth_user);
  body += row("Scan time", fmt::format("{} ms", number(static_cast<double>(d.elapsed_us) / 1000)));
  for (const auto& e : d.errors)
    body += row("Error", e);
  body += "</dl>";
  for (const auto* r : mine) {
    body += "<h2>Recipient " + escape(r->address) + "</h2><dl class=\"recipient\">";
    body += row("Action", r->action) + row("Score", number(r->score));
    body += row("SMTP reply", r->smtp_reply.empty() ? "(accepted)" : r->smtp_reply);
    body += row("Decided at", r->stage) + row("User", r->user) + row("Domain", r->domain) +
            row("Reseller", r->reseller) + row("Policy", r->policy_source);
    body +=
        "</dl><table class=\"symbols\"><tr><th>Symbol</th><th>Weight</th><th>Description</th></tr>";
    auto syms = r->symbols;
    std::sort(syms.begin(), syms.end(),
              [](const auto& a, const auto& b) { return std::abs(a.score) > std::abs(b.score); });
    for (const auto& s : syms) {
      body += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", escape(s.name),
                          escape(number(s.score)), escape(options_.symbols.describe(s.name)));
    }
    body += "</table>";
    const std::string user = r->user.empty() ? ascii_lower(r->address) : ascii_lower(r->user);
    if (!user.empty() && user.find('@') != std::string::npos) {
      body += "<form method=\"post\" action=\"/console/train\" class=\"search train\">" +
              csrf_field(c.session) + "<input type=\"hidden\" name=\"id\" value=\"" + escape(d.id) +
              "\"><input type=\"hidden\" name=\"user\" value=\"" + escape(user) +
              "\"><span>Train for " + escape(user) +
              ":</span><button type=\"submit\" name=\"kind\" value=\"spam\" "
              "class=\"train-spam\">Mark as spam</button><button type=\"submit\" name=\"kind\" "
              "value=\"ham\" class=\"train-ham\">Mark as not spam</button></form>";
    }
  }
  return html(200, page("Decision", body, true, c.who(), c.session.csrf));
}

ApiReply Console::train(Ctx& c) {
  auto fail = [&](int status, std::string_view msg) {
    return html(status, page("Train from history", error_box(msg), true, c.who(), c.session.csrf));
  };
  const std::string id = field(c.params, "id");
  const std::string user = ascii_lower(field(c.params, "user"));
  const std::string kind = field(c.params, "kind");
  if (id.empty() || user.empty())
    return fail(400, "id and user are required");
  if (kind != "spam" && kind != "ham")
    return fail(400, "kind must be spam or ham");
  if (!log_)
    return fail(503, "the decision log is not available");
  if (!next_ || !next_->handles("/api/v1/report/spam"))
    return fail(404, "training is not available in this build (no feedback API)");
  decisions::Query q;
  q.id = id;
  q.limit = 1;
  auto found = log_->query(q);
  if (!found)
    return fail(status_for(found.error()), found.error().message);
  const decisions::RecipientDecision* target = nullptr;
  if (!found->empty())
    for (const auto& r : found->front().recipients)
      if ((ascii_lower(r.user) == user || ascii_lower(r.address) == user) && visible(c, r))
        target = &r;
  if (!target)
    return fail(404, "No decision " + id + " for " + user + " that you may see.");
  const std::string body = history_message(found->front());
  std::vector<std::pair<std::string, std::string>> query = {{"user", user}};
  if (!target->domain.empty())
    query.emplace_back("domain", target->domain);
  if (!target->reseller.empty())
    query.emplace_back("reseller", target->reseller);
  const std::string path = kind == "spam" ? "/api/v1/report/spam" : "/api/v1/report/ham";
  const std::string auth = "Bearer " + c.session.api_key;
  ApiReply reply = next_->handle(ApiCall{"POST", path, query, auth, body});
  std::string out = "<p><a href=\"/console/decision" + escape(query_string({{"id", id}})) +
                    "\">Back to the decision</a></p>";
  if (reply.status != 200)
    return html(reply.status >= 400 ? reply.status : 502,
                page("Train from history",
                     error_box("The feedback service refused: " + error_message(reply.body)) + out,
                     true, c.who(), c.session.csrf));
  auto j = ordered_json::parse(reply.body, nullptr, false);
  out = "<div class=\"ok\" id=\"trained\">Reported decision " + escape(id) + " as " +
        (kind == "spam" ? "spam" : "not spam") + " for " + escape(user) + ".</div>" +
        (j.is_discarded() ? "<pre>" + escape(reply.body) + "</pre>" : json_to_html(j)) +
        "<p class=\"note\">The decision log keeps the envelope and headers, not the body: the "
        "report teaches the sender, subject and Message-ID.</p>" +
        out;
  return html(200, page("Train from history", out, true, c.who(), c.session.csrf));
}

// ---- bounce -------------------------------------------------------------------------------

ApiReply Console::bounce(Ctx& c) {
  std::string form =
      "<form method=\"post\" action=\"/console/bounce\" enctype=\"multipart/form-data\" "
      "id=\"bounce-form\">" +
      csrf_field(c.session) +
      "<p><label>Paste the bounce (the whole message, headers included)<br><textarea "
      "name=\"message\" id=\"f-message\"></textarea></label></p><p><label>or upload a .eml file "
      "<input type=\"file\" name=\"file\" id=\"f-file\"></label></p><button type=\"submit\" "
      "id=\"diagnose\">Diagnose</button></form>";
  if (c.call.method == "GET")
    return html(200, page("Bounce diagnosis", form, true, c.who(), c.session.csrf));
  std::string raw = field(c.params, "file");
  if (raw.empty())
    raw = field(c.params, "message");
  auto fail = [&](int status, std::string_view msg) {
    return html(status,
                page("Bounce diagnosis", error_box(msg) + form, true, c.who(), c.session.csrf));
  };
  if (raw.find_first_not_of(" \t\r\n") == std::string::npos)
    return fail(400, "Paste a bounce or choose a file.");
  auto report = mailsift::bounce::parse(raw);
  if (!report)
    return fail(400, "Not a mail message: " + report.error().message);
  const auto& r = *report;
  auto row = [](std::string_view k, std::string_view v) {
    return "<dt>" + escape(k) + "</dt><dd>" + escape(v) + "</dd>";
  };
  std::string body = "<dl id=\"bounce-summary\">";
  body += row("Kind", mailsift::bounce::to_string(r.kind)) + row("Recognised as", r.vendor) +
          row("Reporting MTA", r.reporting_mta) + row("Subject", r.subject) + row("From", r.from);
  body += row("Original sender", r.original.from) + row("Original recipient", r.original.to) +
          row("Original Message-ID", r.original.message_id) +
          row("Original subject", r.original.subject);
  body += "</dl>";
  if (r.recipients.empty())
    body += "<p>No failed recipients found.</p>";
  for (const auto& rc : r.recipients) {
    body += "<h2>" + escape(rc.address) + "</h2><dl class=\"bounce-recipient\">";
    body += row("Reason", rc.reason) + row("Hard bounce", rc.hard_bounce ? "yes" : "no") +
            row("Action", rc.action) + row("Status", rc.status) + row("Reply code", rc.reply_code) +
            row("Remote MTA", rc.remote_mta) + row("Command", rc.command) +
            row("Diagnostic", rc.diagnostic);
    body += row("What happened", rc.advice.summary) + row("For support", rc.advice.support) +
            row("For the user", rc.advice.user);
    if (!rc.advice.blocklist.empty())
      body += row("Blocklist", rc.advice.blocklist);
    if (!rc.advice.checks.empty()) {
      std::string checks;
      for (const auto& ch : rc.advice.checks)
        checks += (checks.empty() ? "" : ", ") + ch;
      body += row("Checks to run", checks);
    }
    body += "</dl>";
  }
  return html(200, page("Bounce diagnosis", body + "<h2>Diagnose another</h2>" + form, true,
                        c.who(), c.session.csrf));
}

// ---- user policy --------------------------------------------------------------------------

ApiReply Console::user_policy(Ctx& c) {
  const std::string user = ascii_lower(field(c.params, "user"));
  std::string options;
  {
    // The users this session may pick (capped: big installations type the address).
    std::vector<std::string> users;
    auto domains = tenants_.list_domains(
        c.session.principal.role == tenant::Role::kReseller ? c.session.principal.reseller : "");
    if (domains)
      for (const auto& d : *domains) {
        auto us = tenants_.list_users(d.name);
        if (us)
          for (const auto& u : *us)
            if (users.size() < 500)
              users.push_back(u.address);
      }
    for (const auto& u : users)
      options += "<option value=\"" + escape(u) + "\">";
  }
  std::string form = "<form method=\"get\" action=\"/console/user\" class=\"search\">" +
                     std::string(
                         "<label>User<input name=\"user\" id=\"f-user\" list=\"users\" "
                         "size=\"40\" value=\"") +
                     escape(user) + "\"></label><datalist id=\"users\">" + options +
                     "</datalist><button type=\"submit\" id=\"show\">Show</button></form>";
  auto fail = [&](int status, std::string_view msg) {
    return html(status, page("User policy", form + error_box(msg), true, c.who(), c.session.csrf));
  };
  if (user.empty())
    return html(200, page("User policy", form, true, c.who(), c.session.csrf));
  if (user.find('@') == std::string::npos)
    return fail(400, "enter a mailbox address (user@domain)");
  auto access = tenant::authorize(tenants_, c.session.principal, {tenant::Level::kUser, user});
  if (!access)
    return fail(status_for(access.error()), access.error().message);
  if (*access != tenant::Access::kAllowed)
    return fail(404, "No user " + user + " that you may see.");
  auto eff = tenant::effective_policy(tenants_, defaults_, user);
  if (!eff)
    return fail(status_for(eff.error()), eff.error().message);
  std::string body = form +
                     "<h2>Effective policy</h2><table id=\"policy\"><tr><th>Setting</th>"
                     "<th>Value</th><th>Comes from</th></tr>";
  auto prow = [&](std::string_view k, std::string_view v, const tenant::Provenance& p) {
    body += "<tr><td>" + escape(k) + "</td><td>" + escape(v) + "</td><td>" + escape(p.describe()) +
            "</td></tr>";
  };
  prow("spam action", tenant::to_string(eff->spam_action.value), eff->spam_action.from);
  prow("spam score", number(eff->spam_score.value), eff->spam_score.from);
  prow("reject score", number(eff->reject_score.value), eff->reject_score.from);
  prow("learning", eff->learning_enabled.value ? "on" : "off", eff->learning_enabled.from);
  body += "</table>";
  body +=
      "<h2>Block and allow lists</h2><table id=\"lists\"><tr><th>Level</th><th>Owner</th>"
      "<th>List</th><th>Entry</th><th>Type</th><th>Note</th><th>By</th><th>Added (UTC)</th>"
      "<th>Expires (UTC)</th></tr>";
  size_t n = 0;
  const std::pair<tenant::Level, std::string> owners[] = {
      {tenant::Level::kUser, eff->user},
      {tenant::Level::kDomain, eff->domain},
      {tenant::Level::kReseller, eff->reseller}};
  for (const auto& [level, owner] : owners) {
    if (owner.empty())
      continue;
    auto entries = tenants_.list_entries(level, owner);
    if (!entries)
      return fail(status_for(entries.error()), entries.error().message);
    for (const auto& e : *entries) {
      ++n;
      body += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td><td>{}</td></tr>",
          escape(tenant::to_string(e.level)), escape(e.owner), escape(tenant::to_string(e.kind)),
          escape(tenant::display(e.pattern)), escape(tenant::to_string(e.pattern.type)),
          escape(e.note), escape(e.created_by),
          escape(decisions::format_utc_iso(e.created_at * 1000)),
          escape(e.expires_at ? decisions::format_utc_iso(*e.expires_at * 1000) : "never"));
    }
  }
  body += "</table>";
  if (n == 0)
    body +=
        "<p id=\"no-entries\">No block or allow entries for this user, its domain or its "
        "reseller.</p>";
  body += "<p><a href=\"/console/decisions" + escape(query_string({{"user", user}})) +
          "\">This user's decisions</a></p>";
  return html(200, page("User policy", body, true, c.who(), c.session.csrf));
}

// ---- JSON extensions: case lookup, domain doctor -----------------------------------------

ApiReply Console::json_page(Ctx& c, std::string_view title, std::string form,
                            std::string_view api_path,
                            const std::vector<std::pair<std::string, std::string>>& query,
                            bool submitted) {
  if (!submitted)
    return html(200, page(title, form, true, c.who(), c.session.csrf));
  if (!next_ || !next_->handles(api_path))
    return html(404, page(title,
                          form + "<div class=\"error\" id=\"unavailable\">" +
                              escape(std::string(title)) + " is not available in this build (no " +
                              escape(std::string(api_path)) + " endpoint).</div>",
                          true, c.who(), c.session.csrf));
  const std::string auth = "Bearer " + c.session.api_key;
  ApiReply reply = next_->handle(ApiCall{"GET", api_path, query, auth, ""});
  auto j = ordered_json::parse(reply.body, nullptr, false);
  if (reply.status == 404 && error_message(reply.body).starts_with("no such endpoint"))
    return html(404, page(title,
                          form + "<div class=\"error\" id=\"unavailable\">" +
                              escape(std::string(title)) + " is not available in this build.</div>",
                          true, c.who(), c.session.csrf));
  if (reply.status != 200)
    return html(
        reply.status >= 400 ? reply.status : 502,
        page(title, form + error_box(error_message(reply.body)), true, c.who(), c.session.csrf));
  std::string report = j.is_discarded() ? "<pre>" + escape(reply.body) + "</pre>"
                                        : json_to_html(j, /*sections=*/true);
  return html(200, page(title, form + "<div id=\"report\">" + report + "</div>", true, c.who(),
                        c.session.csrf));
}

ApiReply Console::case_lookup(Ctx& c) {
  const Fields& p = c.params;
  std::string form =
      "<form method=\"get\" action=\"/console/case\" class=\"search\" id=\"case-form\">" +
      input("Reseller", "reseller", field(p, "reseller")) +
      input("User", "user", field(p, "user")) + input("Sender", "from", field(p, "from")) +
      input("Recipient", "to", field(p, "to")) +
      input("When (local time)", "at", field(p, "at"), "2026-11-27 10:15") +
      zone_select(field(p, "tz")) + input("Window", "window", field(p, "window"), "30m") +
      "<button type=\"submit\" id=\"lookup\">Look up</button></form>";
  std::vector<std::pair<std::string, std::string>> query;
  for (const char* k : {"reseller", "user", "from", "to", "at", "tz", "window"})
    if (std::string v = field(p, k); !v.empty())
      query.emplace_back(k, v);
  const bool submitted = !field(p, "at").empty() || !field(p, "user").empty();
  return json_page(c, "Case lookup", form, "/api/v1/case", query, submitted);
}

ApiReply Console::doctor(Ctx& c) {
  const std::string domain = ascii_lower(field(c.params, "domain"));
  std::string form = "<form method=\"get\" action=\"/console/doctor\" class=\"search\">" +
                     input("Domain", "domain", domain, "example.com") +
                     "<button type=\"submit\" id=\"check\">Check</button></form>";
  if (!domain.empty() &&
      (domain.size() > 253 || !std::all_of(domain.begin(), domain.end(), [](char ch) {
         return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-';
       })))
    return html(400, page("Domain doctor", form + error_box("not a domain name: " + domain), true,
                          c.who(), c.session.csrf));
  return json_page(c, "Domain doctor", form, "/api/v1/doctor/" + domain, {}, !domain.empty());
}

}  // namespace mailsift::console
