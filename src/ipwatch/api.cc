#include "ipwatch/api.h"

#include <nlohmann/json.hpp>

#include "http/api_reply.h"
#include "ipwatch/json.h"

namespace mailsift::ipwatch {
namespace {

using http::ApiReply;
using nlohmann::json;
constexpr std::string_view kPrefix = "/api/v1/outbound-ips";

using http::api_error;
// temporary 503, malformed 400, permanent 404 (the store's "no such IP/pool"), config 500.
ApiReply from_error(const Error& e) {
  return api_error(e, 404);
}

}  // namespace

bool IpwatchApi::handles(std::string_view path) const {
  if (path.substr(0, kPrefix.size()) == kPrefix &&
      (path.size() == kPrefix.size() || path[kPrefix.size()] == '/'))
    return true;
  return next_ && next_->handles(path);
}

ApiReply IpwatchApi::handle(const http::ApiCall& call) {
  if (call.path.substr(0, kPrefix.size()) != kPrefix ||
      (call.path.size() != kPrefix.size() && call.path[kPrefix.size()] != '/'))
    return next_ ? next_->handle(call) : api_error(404, ErrorKind::kPermanent, "no such endpoint");
  try {
    return handle_unchecked(call);
  } catch (const std::exception& e) {
    return api_error(500, ErrorKind::kConfig, std::string("internal error: ") + e.what());
  }
}

ApiReply IpwatchApi::handle_unchecked(const http::ApiCall& call) {
  const auto key = http::bearer_key(call.authorization);
  if (!key)
    return api_error(401, ErrorKind::kPermanent, "missing 'Authorization: Bearer <admin key>'");
  auto who = auth_ ? auth_(*key) : Result<Access>(Access::kUnknown);
  if (!who)
    return from_error(who.error());
  if (*who == Access::kUnknown)
    return api_error(401, ErrorKind::kPermanent, "unknown API key");
  if (*who != Access::kAdmin)
    return api_error(403, ErrorKind::kPermanent, "outbound IPs need an admin key");

  std::string_view rest = call.path.substr(kPrefix.size());
  if (!rest.empty())
    rest.remove_prefix(1);  // '/'
  while (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  const bool get = call.method == "GET", post = call.method == "POST";

  if (rest.empty()) {
    if (!get)
      return api_error(405, ErrorKind::kPermanent, "GET only");
    auto states = read_states(store_, options_);
    if (!states)
      return from_error(states.error());
    auto delist = store_.delistings();
    if (!delist)
      return from_error(delist.error());
    auto alerts = store_.alerts(50);
    if (!alerts)
      return from_error(alerts.error());
    json out;
    out["pools"] = json::array();
    for (const auto& p : pool_states(options_, *states))
      out["pools"].push_back(to_json(p));
    const Choice c = choice_
                         ? choice_()
                         : choose_pool(pool_states(options_, *states), options_.default_transport);
    out["answer"] = {{"transport", c.transport}, {"pool", c.pool}, {"all_unhealthy", c.fallback}};
    out["ips"] = json::array();
    for (const auto& s : *states) {
      json j = to_json(s);
      j["delisting"] = nullptr;
      for (const auto& d : *delist)
        if (d.ip == s.ip)
          j["delisting"] = to_json(d);
      out["ips"].push_back(std::move(j));
    }
    out["alerts"] = json::array();
    for (const auto& a : *alerts)
      out["alerts"].push_back(to_json(a));
    return {200, out.dump()};
  }

  const auto slash = rest.find('/');
  const std::string ip_text(rest.substr(0, slash));
  const std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  auto st = read_state(store_, options_, ip_text);
  if (!st)
    return from_error(st.error());
  if (!*st)
    return api_error(404, ErrorKind::kPermanent, ip_text + " is not a configured outbound IP");
  const std::string ip = (*st)->ip;

  if (sub.empty() || sub == "history") {
    if (!get)
      return api_error(405, ErrorKind::kPermanent, "GET only");
    auto hist = store_.history(ip, 200);
    if (!hist)
      return from_error(hist.error());
    json h = json::array();
    for (const auto& e : *hist)
      h.push_back(to_json(e));
    if (sub == "history")
      return {200, json{{"ip", ip}, {"history", h}}.dump()};
    auto d = store_.delisting(ip);
    if (!d)
      return from_error(d.error());
    json out = to_json(**st);
    out["delisting"] = *d ? to_json(**d) : json(nullptr);
    out["history"] = h;
    return {200, out.dump()};
  }
  if (sub == "delisting") {
    if (get) {
      auto d = store_.delisting(ip);
      if (!d)
        return from_error(d.error());
      return {200, (*d ? to_json(**d) : json(nullptr)).dump()};
    }
    if (!post)
      return api_error(405, ErrorKind::kPermanent, "GET or POST");
    json body = json::parse(call.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return api_error(400, ErrorKind::kMalformed, "body must be a JSON object");
    std::optional<RequestState> state;
    std::string note, by = "admin-api";
    if (body.contains("state")) {
      if (!body["state"].is_string() ||
          !(state = parse_request_state(body["state"].get<std::string>())))
        return api_error(400, ErrorKind::kMalformed,
                         "state must be one of none, requested, delisted, rejected");
    }
    if (body.contains("note")) {
      if (!body["note"].is_string())
        return api_error(400, ErrorKind::kMalformed, "note must be a string");
      note = body["note"].get<std::string>();
    }
    if (body.contains("by")) {
      if (!body["by"].is_string() || body["by"].get<std::string>().empty() ||
          body["by"].get<std::string>().size() > 100)
        return api_error(400, ErrorKind::kMalformed, "by must be a non-empty string");
      by = body["by"].get<std::string>();
    }
    if (!state && note.empty())
      return api_error(400, ErrorKind::kMalformed, "give a state and/or a note");
    auto d = update_delisting(store_, options_, ip, state, note, by, clock_());
    if (!d)
      return from_error(d.error());
    return {200, to_json(*d).dump()};
  }
  return api_error(404, ErrorKind::kPermanent, "no such endpoint");
}

}  // namespace mailsift::ipwatch
