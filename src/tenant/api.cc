#include "tenant/api.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <exception>

#include "core/ascii.h"
#include "http/api_reply.h"
#include "tenant/tenant_json.h"

namespace mailsift::tenant {
namespace {

using http::ApiCall;
using http::ApiReply;

constexpr std::string_view kPrefix = "/api/v1/";

using http::api_error;
ApiReply bad(const std::string& message) {
  return api_error(400, ErrorKind::kMalformed, message);
}
ApiReply not_found(const std::string& what) {
  return api_error(404, ErrorKind::kPermanent, fmt::format("no {}", what));
}
ApiReply forbidden(const std::string& message) {
  return api_error(403, ErrorKind::kPermanent, message);
}
// malformed 400, permanent 422, temporary 503, config 500.
ApiReply from_error(const Error& e) {
  return api_error(e);
}
ApiReply ok(const Json& j, int status = 200) {
  return {status, dump(j)};
}
ApiReply method_not_allowed(std::string_view allowed) {
  return api_error(405, ErrorKind::kPermanent, fmt::format("method not allowed; use {}", allowed));
}

std::string param(const ApiCall& c, std::string_view name) {
  for (const auto& [k, v] : c.query)
    if (k == name)
      return v;
  return {};
}

// A JSON object body, or a 400 saying why not.
Result<Json> parse_body(std::string_view body) {
  if (body.empty())
    return Error::malformed("request body is missing (a JSON object is expected)");
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Error::malformed("request body is not valid JSON");
  if (!j.is_object())
    return Error::malformed("request body must be a JSON object");
  return j;
}

// Optional string field: absent = "", wrong type = error.
Result<std::string> string_field(const Json& j, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required)
      return Error::malformed(fmt::format("field '{}' is required", name));
    return std::string();
  }
  if (!it->is_string())
    return Error::malformed(fmt::format("field '{}' must be a string", name));
  std::string s = it->get<std::string>();
  if (s.size() > 1024)
    return Error::malformed(fmt::format("field '{}' is longer than 1024 bytes", name));
  return s;
}

// Reports whether the principal may see/change the target; nullopt when allowed.
std::optional<ApiReply> check_access(TenantStore& store, const Principal& who, Level level,
                                     const std::string& id) {
  auto a = authorize(store, who, Target{level, id});
  if (!a)
    return from_error(a.error());
  switch (*a) {
    case Access::kAllowed:
      return std::nullopt;
    case Access::kForbidden:
      return forbidden("this key may not do that");
    case Access::kNotFound:
      return not_found(fmt::format("{} '{}'", to_string(level), id));
  }
  return forbidden("this key may not do that");
}

// level + id from query parameters or a body, checked: (level, id) or an error reply.
Result<std::pair<Level, std::string>> level_and_id(const std::string& level_text,
                                                   const std::string& id) {
  auto level = level_from_string(level_text);
  if (!level || *level == Level::kGlobal)
    return Error::malformed("'level' must be reseller, domain or user");
  if (id.empty())
    return Error::malformed("'id' is required");
  std::string norm = *level == Level::kUser ? normalise_address(id) : ascii_lower(id);
  return std::make_pair(*level, norm);
}

}  // namespace

Result<Principal> authenticate_bearer(TenantStore& s, std::string_view authorization) {
  auto key = http::bearer_key(authorization);
  if (!key)
    return Error::permanent("missing 'Authorization: Bearer <key>'");
  return authenticate(s, *key);
}

http::ApiReply refuse_unauthenticated(const Error& e) {
  if (e.kind == ErrorKind::kTemporary)
    return api_error(503, e.kind, e.message);
  return api_error(401, ErrorKind::kPermanent, e.message);
}

TenantApi::TenantApi(TenantStore& store, PolicyDefaults defaults, ListCheckScores scores,
                     Clock clock)
    : store_(store), defaults_(defaults), scores_(scores), clock_(std::move(clock)) {}

bool TenantApi::handles(std::string_view path) const {
  if (!path.starts_with(kPrefix))
    return false;
  path.remove_prefix(kPrefix.size());
  return path == "resellers" || path == "domains" || path == "users" || path == "policy" ||
         path == "lists" || path == "lists/check" || path == "keys";
}

ApiReply TenantApi::handle(const ApiCall& call) {
  try {
    return handle_unchecked(call);
  } catch (const std::exception& e) {
    return api_error(500, ErrorKind::kConfig, std::string("internal error: ") + e.what());
  } catch (...) {
    return api_error(500, ErrorKind::kConfig, "internal error");
  }
}

ApiReply TenantApi::handle_unchecked(const ApiCall& call) {
  // Authentication first: nothing about tenants is answered without a valid key.
  auto who_r = authenticate_bearer(store_, call.authorization);
  if (!who_r)
    return refuse_unauthenticated(who_r.error());
  const Principal who = *who_r;
  const std::string path(call.path.substr(kPrefix.size()));
  const bool get = call.method == "GET", post = call.method == "POST";
  if (path == "keys" ||
      (call.method == "DELETE" && (path == "resellers" || path == "domains" || path == "users")))
    return handle_removal(call, who, path);

  if (path == "resellers") {
    if (get) {
      Json out = Json::array();
      if (who.role == Role::kAdmin) {
        auto all = store_.list_resellers();
        if (!all)
          return from_error(all.error());
        for (const auto& r : *all)
          out.push_back(to_json(r));
      } else {
        auto r = store_.get_reseller(who.reseller);
        if (!r)
          return from_error(r.error());
        if (*r)
          out.push_back(to_json(**r));
      }
      return ok(Json{{"resellers", out}});
    }
    if (!post)
      return method_not_allowed("GET, POST, DELETE");
    if (who.role != Role::kAdmin)
      return forbidden("only an admin key may create resellers");
    auto body = parse_body(call.body);
    if (!body)
      return from_error(body.error());
    auto id = string_field(*body, "id", true);
    if (!id)
      return from_error(id.error());
    auto name = string_field(*body, "name", false);
    if (!name)
      return from_error(name.error());
    if (auto st = add_reseller(store_, clock_, *id, *name); !st)
      return from_error(st.error());
    auto r = store_.get_reseller(ascii_lower(*id));
    if (!r || !*r)
      return from_error(r ? Error::temporary("reseller vanished") : r.error());
    return ok(to_json(**r), 201);
  }

  if (path == "domains") {
    if (get) {
      std::string reseller = ascii_lower(param(call, "reseller"));
      if (who.role == Role::kReseller) {
        if (!reseller.empty() && reseller != who.reseller)
          return not_found(fmt::format("reseller '{}'", reseller));
        reseller = who.reseller;
      }
      auto all = store_.list_domains(reseller);
      if (!all)
        return from_error(all.error());
      Json out = Json::array();
      for (const auto& d : *all)
        out.push_back(to_json(d));
      return ok(Json{{"domains", out}});
    }
    if (!post)
      return method_not_allowed("GET, POST, DELETE");
    auto body = parse_body(call.body);
    if (!body)
      return from_error(body.error());
    auto name = string_field(*body, "name", true);
    if (!name)
      return from_error(name.error());
    auto reseller = string_field(*body, "reseller", who.role == Role::kAdmin);
    if (!reseller)
      return from_error(reseller.error());
    std::string owner = reseller->empty() ? who.reseller : ascii_lower(*reseller);
    if (who.role == Role::kReseller && owner != who.reseller)
      return forbidden("a reseller key may only create domains for its own reseller");
    if (auto st = add_domain(store_, clock_, *name, owner); !st)
      return from_error(st.error());
    auto d = store_.get_domain(ascii_lower(*name));
    if (!d || !*d)
      return from_error(d ? Error::temporary("domain vanished") : d.error());
    return ok(to_json(**d), 201);
  }

  if (path == "users") {
    if (get) {
      std::string domain = ascii_lower(param(call, "domain"));
      std::vector<User> users;
      if (!domain.empty()) {
        if (auto denied = check_access(store_, who, Level::kDomain, domain))
          return *denied;
        auto all = store_.list_users(domain);
        if (!all)
          return from_error(all.error());
        users = std::move(all).value();
      } else if (who.role == Role::kAdmin) {
        auto all = store_.list_users("");
        if (!all)
          return from_error(all.error());
        users = std::move(all).value();
      } else {
        auto domains = store_.list_domains(who.reseller);
        if (!domains)
          return from_error(domains.error());
        for (const auto& d : *domains) {
          auto part = store_.list_users(d.name);
          if (!part)
            return from_error(part.error());
          users.insert(users.end(), part->begin(), part->end());
        }
      }
      Json out = Json::array();
      for (const auto& u : users)
        out.push_back(to_json(u));
      return ok(Json{{"users", out}});
    }
    if (!post)
      return method_not_allowed("GET, POST, DELETE");
    auto body = parse_body(call.body);
    if (!body)
      return from_error(body.error());
    auto address = string_field(*body, "address", true);
    if (!address)
      return from_error(address.error());
    std::string a = normalise_address(*address);
    auto at = a.rfind('@');
    if (at == std::string::npos)
      return bad(fmt::format("'{}' is not a mailbox address", *address));
    if (auto denied = check_access(store_, who, Level::kDomain, a.substr(at + 1)))
      return *denied;
    if (auto st = add_user(store_, clock_, a); !st)
      return from_error(st.error());
    auto u = store_.get_user(a);
    if (!u || !*u)
      return from_error(u ? Error::temporary("user vanished") : u.error());
    return ok(to_json(**u), 201);
  }

  if (path == "policy") {
    if (get) {
      std::string user = param(call, "user");
      if (!user.empty()) {
        std::string u = normalise_address(user);
        if (auto denied = check_access(store_, who, Level::kUser, u))
          return *denied;
        auto e = effective_policy(store_, defaults_, u);
        if (!e)
          return from_error(e.error());
        return ok(to_json(*e));
      }
      auto target = level_and_id(param(call, "level"), param(call, "id"));
      if (!target)
        return bad(target.error().message + " (or give ?user= for the effective policy)");
      if (auto denied = check_access(store_, who, target->first, target->second))
        return *denied;
      auto p = store_.get_policy(target->first, target->second);
      if (!p)
        return from_error(p.error());
      return ok(Json{
          {"level", to_string(target->first)}, {"id", target->second}, {"policy", to_json(*p)}});
    }
    if (!post)
      return method_not_allowed("GET, POST");
    auto body = parse_body(call.body);
    if (!body)
      return from_error(body.error());
    auto level = string_field(*body, "level", true);
    if (!level)
      return from_error(level.error());
    auto id = string_field(*body, "id", true);
    if (!id)
      return from_error(id.error());
    auto target = level_and_id(*level, *id);
    if (!target)
      return from_error(target.error());
    if (auto denied = check_access(store_, who, target->first, target->second))
      return *denied;
    auto current = store_.get_policy(target->first, target->second);
    if (!current)
      return from_error(current.error());
    PolicyOverrides p = *current;
    // Merge: a present key sets the value, null clears it (inherit again), absent keeps it.
    for (const auto& [key, value] : body->items()) {
      if (key == "level" || key == "id")
        continue;
      if (key == "spam_action") {
        if (value.is_null()) {
          p.spam_action.reset();
        } else {
          auto a =
              value.is_string() ? spam_action_from_string(value.get<std::string>()) : std::nullopt;
          if (!a)
            return bad("'spam_action' must be \"folder\", \"tag_subject\", \"reject\" or null");
          p.spam_action = a;
        }
      } else if (key == "spam_score" || key == "reject_score") {
        auto& field = key == "spam_score" ? p.spam_score : p.reject_score;
        if (value.is_null())
          field.reset();
        else if (value.is_number())
          field = value.get<double>();
        else
          return bad(fmt::format("'{}' must be a number or null", key));
      } else if (key == "learning_enabled") {
        if (value.is_null())
          p.learning_enabled.reset();
        else if (value.is_boolean())
          p.learning_enabled = value.get<bool>();
        else
          return bad("'learning_enabled' must be true, false or null");
      } else {
        return bad(
            fmt::format("unknown field '{}' (level, id, spam_action, spam_score, reject_score, "
                        "learning_enabled)",
                        key));
      }
    }
    if (auto st = validate(p); !st)
      return from_error(st.error());
    if (auto st = store_.set_policy(target->first, target->second, p); !st)
      return from_error(st.error());
    return ok(
        Json{{"level", to_string(target->first)}, {"id", target->second}, {"policy", to_json(p)}});
  }

  if (path == "lists") {
    if (get) {
      auto target = level_and_id(param(call, "level"), param(call, "id"));
      if (!target)
        return from_error(target.error());
      if (auto denied = check_access(store_, who, target->first, target->second))
        return *denied;
      auto entries = store_.list_entries(target->first, target->second);
      if (!entries)
        return from_error(entries.error());
      Json out = Json::array();
      for (const auto& e : *entries)
        out.push_back(to_json(e));
      return ok(Json{{"entries", out}});
    }
    if (call.method == "DELETE") {
      std::string id_text = param(call, "id");
      char* end = nullptr;
      long long id = std::strtoll(id_text.c_str(), &end, 10);
      if (id_text.empty() || *end != '\0' || id <= 0)
        return bad("'id' must be a positive entry id");
      auto e = store_.get_list_entry(id);
      if (!e)
        return from_error(e.error());
      if (!*e)
        return not_found(fmt::format("list entry {}", id));
      if (auto denied = check_access(store_, who, (*e)->level, (*e)->owner))
        return denied->status == 404 ? not_found(fmt::format("list entry {}", id)) : *denied;
      auto removed = store_.remove_list_entry(id);
      if (!removed)
        return from_error(removed.error());
      return ok(Json{{"removed", to_json(**e)}});
    }
    if (!post)
      return method_not_allowed("GET, POST, DELETE");
    auto body = parse_body(call.body);
    if (!body)
      return from_error(body.error());
    auto level = string_field(*body, "level", true);
    if (!level)
      return from_error(level.error());
    auto id = string_field(*body, "id", true);
    if (!id)
      return from_error(id.error());
    auto target = level_and_id(*level, *id);
    if (!target)
      return from_error(target.error());
    auto kind_text = string_field(*body, "kind", true);
    if (!kind_text)
      return from_error(kind_text.error());
    auto kind = list_kind_from_string(*kind_text);
    if (!kind)
      return bad("'kind' must be \"block\" or \"allow\"");
    auto entry = string_field(*body, "entry", true);
    if (!entry)
      return from_error(entry.error());
    auto note = string_field(*body, "note", false);
    if (!note)
      return from_error(note.error());
    std::optional<int64_t> expires;
    if (auto it = body->find("expires_at"); it != body->end() && !it->is_null()) {
      if (!it->is_number_integer())
        return bad("'expires_at' must be unix seconds (integer) or null");
      expires = it->get<int64_t>();
    }
    if (auto denied = check_access(store_, who, target->first, target->second))
      return *denied;
    auto added = add_list_entry(store_, clock_, target->first, target->second, *kind, *entry,
                                who.describe(), *note, expires);
    if (!added)
      return from_error(added.error());
    return ok(to_json(*added), 201);
  }

  if (path == "lists/check") {
    if (!get)
      return method_not_allowed("GET");
    ListCheckInput in;
    in.user = normalise_address(param(call, "user"));
    if (in.user.empty())
      return bad("'user' is required");
    in.sender_address = param(call, "from");
    in.client_ip = param(call, "ip");
    if (!in.client_ip.empty() && !parse_ip(in.client_ip))
      return bad(fmt::format("'ip' {} is not an IP address", in.client_ip));
    for (const auto& [k, v] : call.query)
      if (k == "domain")
        in.sender_domains.push_back(v);
    std::string dmarc = param(call, "dmarc");  // "pass" | "fail" | "" (unknown = fail closed)
    if (!dmarc.empty() && dmarc != "pass" && dmarc != "fail")
      return bad("'dmarc' must be pass or fail");
    in.dmarc_failed_for_domain = dmarc != "pass";
    if (auto denied = check_access(store_, who, Level::kUser, in.user))
      return *denied;
    auto r = evaluate_lists(store_, scores_, in, clock_());
    if (!r)
      return from_error(r.error());
    Json j = to_json(*r);
    j["user"] = in.user;
    return ok(j);
  }
  return not_found("such endpoint");
}

namespace {
Json key_json(const ApiKeyRecord& k) {
  return Json{{"id", k.hash.substr(0, 16)}, {"role", k.role == Role::kAdmin ? "admin" : "reseller"},
              {"reseller", k.reseller},     {"label", k.label},
              {"created_at", k.created_at}, {"created_at_iso", iso8601(k.created_at)}};
}
Json removal_json(const Removal& r) {
  return Json{{"level", to_string(r.level)},    {"id", r.id},
              {"domains", r.domains},           {"users", r.users},
              {"list_entries", r.list_entries}, {"policies", r.policies},
              {"api_keys", r.api_keys}};
}
}  // namespace

// Removal and key revocation. A reseller key may remove its own domains and users and revoke
// its own keys; another reseller's objects answer 404 as if they did not exist; removing a
// reseller (and revoking admin keys) is for admin keys only (403).
ApiReply TenantApi::handle_removal(const ApiCall& call, const Principal& who,
                                   const std::string& path) {
  if (path == "keys") {
    if (call.method == "GET") {
      auto keys = store_.list_api_keys(who.role == Role::kAdmin ? "" : who.reseller);
      if (!keys)
        return from_error(keys.error());
      Json out = Json::array();
      for (const auto& k : *keys)
        out.push_back(key_json(k));
      return ok(Json{{"keys", out}});
    }
    if (call.method != "DELETE")
      return method_not_allowed("GET, DELETE");
    const std::string id = param(call, "id");
    if (id.empty())
      return bad("'id' (the key id from GET /api/v1/keys, or the key itself) is required");
    auto rec = find_key_for_revoke(store_, who, id);
    if (!rec)
      return from_error(rec.error());
    if (!*rec)
      return not_found(fmt::format("API key '{}'", id));
    auto removed = store_.remove_api_key((*rec)->hash);
    if (!removed)
      return from_error(removed.error());
    if (!*removed)
      return not_found(fmt::format("API key '{}'", id));
    return ok(Json{{"revoked", key_json(**rec)}});
  }
  Level level = Level::kUser;
  std::string id;
  if (path == "resellers") {
    level = Level::kReseller;
    id = ascii_lower(param(call, "id"));
    if (id.empty())
      return bad("'id' is required");
    if (who.role != Role::kAdmin)
      return forbidden("only an admin key may remove resellers");
  } else if (path == "domains") {
    level = Level::kDomain;
    id = ascii_lower(param(call, "name"));
    if (id.empty())
      return bad("'name' is required");
  } else {
    id = normalise_address(param(call, "address"));
    if (id.empty())
      return bad("'address' is required");
  }
  if (auto denied = check_access(store_, who, level, id))
    return *denied;
  auto removed = store_.remove_tenant(level, id);
  if (!removed)
    return from_error(removed.error());
  if (!*removed)
    return not_found(fmt::format("{} '{}'", to_string(level), id));
  Json out{{"removed", removal_json(**removed)}};
  if (on_removed_) {
    auto purged = on_removed_(**removed);
    out["purged"] = purged ? *purged
                           : Json{{"error",
                                   {{"kind", to_string(purged.error().kind)},
                                    {"message", purged.error().message}}}};
  }
  return ok(out);
}

}  // namespace mailsift::tenant
