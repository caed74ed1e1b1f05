#include "tenant/tenant_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "core/ascii.h"
#include "fleet/fleet_tenant.h"
#include "tenant/list_check.h"
#include "tenant/tenant.h"
#include "tenant/tenant_json.h"

namespace mailsift::tenant {

namespace {
constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTemporary = 3;

int exit_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::kTemporary:
      return kExitTemporary;
    case ErrorKind::kPermanent:
      return kExitRefused;
    default:
      return kExitUsage;
  }
}

// unix seconds, +Nd/+Nh/+Nm (from now), or YYYY-MM-DDTHH:MM:SSZ.
Result<int64_t> parse_time(const std::string& text, int64_t now) {
  if (text.empty())
    return Error::malformed("empty time");
  char* end = nullptr;
  if (text[0] == '+') {
    long long n = std::strtoll(text.c_str() + 1, &end, 10);
    int64_t unit = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : 0;
    if (end == text.c_str() + 1 || unit == 0 || end[1] != '\0' || n <= 0 || n > 100000)
      return Error::malformed(fmt::format("'{}': use +Nd, +Nh or +Nm", text));
    return now + n * unit;
  }
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end == '\0')
    return static_cast<int64_t>(v);
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!rest || *rest != '\0')
    return Error::malformed(
        fmt::format("'{}' is not a time (unix seconds, +30d, or 2027-01-31T00:00:00Z)", text));
  return static_cast<int64_t>(timegm(&tm));
}

std::string who_runs() {
  const char* u = std::getenv("USER");
  return fmt::format("cli:{}", u && *u ? u : "unknown");
}

}  // namespace

struct TenantCommands::Impl {
  CLI::App* tenant = nullptr;
  CLI::App* lists = nullptr;
  CLI::App *reseller_add, *reseller_list, *domain_add, *domain_list, *user_add, *user_list;
  CLI::App *policy_set, *policy_show, *key_create;
  CLI::App *reseller_remove, *domain_remove, *user_remove, *key_list, *key_revoke;
  CLI::App *lists_add, *lists_remove, *lists_show, *lists_check;

  bool json = false;
  std::string id, name, reseller, domain, user, action, learning, label, entry, note, expires, by,
      from, ip, dmarc;
  std::vector<std::string> clear, sender_domains;
  double spam_score = 0, reject_score = 0;
  CLI::Option *spam_score_opt = nullptr, *reject_score_opt = nullptr;
  bool admin = false, block = false, allow = false;
  int64_t entry_id = 0;

  std::unique_ptr<TenantStore> store;
  Clock clock = system_clock();

  void owner_options(CLI::App* c) {
    c->add_option("--user", user, "Mailbox address");
    c->add_option("--domain", domain, "Domain name");
    c->add_option("--reseller", reseller, "Reseller id");
  }
  // Exactly one of --user/--domain/--reseller.
  Result<std::pair<Level, std::string>> owner() const {
    int n = !user.empty() + !domain.empty() + !reseller.empty();
    if (n != 1)
      return Error::malformed("give exactly one of --user, --domain, --reseller");
    if (!user.empty())
      return std::make_pair(Level::kUser, normalise_address(user));
    if (!domain.empty())
      return std::make_pair(Level::kDomain, ascii_lower(domain));
    return std::make_pair(Level::kReseller, ascii_lower(reseller));
  }

  int fail(std::ostream& err, const Error& e) {
    err << "mailsift: " << e.describe() << "\n";
    return exit_for(e);
  }

  int run(const Config& config, const std::string& data_dir, std::ostream& out, std::ostream& err);
  int run_lists(const Config& config, std::ostream& out, std::ostream& err);
};

TenantCommands::TenantCommands(CLI::App& app) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.tenant = app.add_subcommand("tenant", "Manage resellers, domains, users, policies, API keys");
  m.tenant->require_subcommand(1);
  auto* reseller = m.tenant->add_subcommand("reseller", "Resellers")->require_subcommand(1);
  m.reseller_add = reseller->add_subcommand("add", "Add a reseller");
  m.reseller_add->add_option("id", m.id, "Reseller id [a-z0-9._-]")->required();
  m.reseller_add->add_option("--name", m.name, "Display name");
  m.reseller_list = reseller->add_subcommand("list", "List resellers");
  auto* domain = m.tenant->add_subcommand("domain", "Domains")->require_subcommand(1);
  m.domain_add = domain->add_subcommand("add", "Add a domain to a reseller");
  m.domain_add->add_option("name", m.name, "Domain name")->required();
  m.domain_add->add_option("--reseller", m.reseller, "Owning reseller")->required();
  m.domain_list = domain->add_subcommand("list", "List domains");
  m.domain_list->add_option("--reseller", m.reseller, "Only this reseller's domains");
  auto* user = m.tenant->add_subcommand("user", "Users (mailboxes)")->require_subcommand(1);
  m.user_add = user->add_subcommand("add", "Add a mailbox (its domain must exist)");
  m.user_add->add_option("address", m.name, "Mailbox address")->required();
  m.user_list = user->add_subcommand("list", "List users");
  m.user_list->add_option("--domain", m.domain, "Only this domain's users");
  auto* policy = m.tenant->add_subcommand("policy", "Policy per level")->require_subcommand(1);
  m.policy_set = policy->add_subcommand("set", "Set (or --clear) a level's own policy values");
  m.owner_options(m.policy_set);
  m.policy_set->add_option("--action", m.action, "Spam action")
      ->check(CLI::IsMember({"folder", "tag_subject", "reject"}));
  m.spam_score_opt =
      m.policy_set->add_option("--spam-score", m.spam_score, "Spam (spam folder) threshold");
  m.reject_score_opt =
      m.policy_set->add_option("--reject-score", m.reject_score, "Reject threshold");
  m.policy_set->add_option("--learning", m.learning, "Learning from this level's users")
      ->check(CLI::IsMember({"on", "off"}));
  m.policy_set->add_option("--clear", m.clear, "Inherit this field again (repeatable)")
      ->check(CLI::IsMember({"spam_action", "spam_score", "reject_score", "learning_enabled"}));
  m.policy_show =
      policy->add_subcommand("show", "Effective policy and where each value comes from");
  m.owner_options(m.policy_show);
  auto* key = m.tenant->add_subcommand("key", "API keys")->require_subcommand(1);
  m.key_create = key->add_subcommand("create", "Create an API key (printed once)");
  m.key_create->add_flag("--admin", m.admin, "Admin key: sees and changes everything");
  m.key_create->add_option("--reseller", m.reseller, "Reseller key: only this reseller's data");
  m.key_create->add_option("--label", m.label, "What the key is for");
  // Removal and revocation (docs/tenants.md "Removing tenants and keys").
  m.reseller_remove = reseller->add_subcommand(
      "remove", "Remove a reseller with its domains, users, policies, lists and API keys");
  m.reseller_remove->add_option("id", m.id, "Reseller id")->required();
  m.domain_remove =
      domain->add_subcommand("remove", "Remove a domain with its users, policies and lists");
  m.domain_remove->add_option("name", m.name, "Domain name")->required();
  m.user_remove = user->add_subcommand("remove", "Remove a mailbox with its policy and lists");
  m.user_remove->add_option("address", m.name, "Mailbox address")->required();
  m.key_list = key->add_subcommand("list", "List API keys (id, role, reseller, label)");
  m.key_list->add_option("--reseller", m.reseller, "Only this reseller's keys");
  m.key_revoke = key->add_subcommand("revoke", "Revoke an API key (refused at once)");
  m.key_revoke->add_option("key", m.id, "Key id (12+ hex digits from key list) or the key")
      ->required();

  m.lists = app.add_subcommand("lists", "Block/allow lists of users, domains and resellers");
  m.lists->require_subcommand(1);
  m.lists_add = m.lists->add_subcommand("add", "Add a block or allow entry");
  m.owner_options(m.lists_add);
  m.lists_add->add_flag("--block", m.block, "Block list");
  m.lists_add->add_flag("--allow", m.allow, "Allow list");
  m.lists_add->add_option("entry", m.entry, "address, domain, *.domain, IP or CIDR")->required();
  m.lists_add->add_option("--note", m.note, "Why (shown by lists check)");
  m.lists_add->add_option("--expires", m.expires, "unix seconds, +30d, +12h, or ISO time (UTC)");
  m.lists_add->add_option("--by", m.by, "Who adds it (default cli:$USER)");
  m.lists_remove = m.lists->add_subcommand("remove", "Remove an entry by id");
  m.lists_remove->add_option("id", m.entry_id, "Entry id (lists show)")->required();
  m.lists_show = m.lists->add_subcommand("show", "Show one owner's entries");
  m.owner_options(m.lists_show);
  m.lists_check =
      m.lists->add_subcommand("check", "Which entries match this sender for this user, since when");
  m.lists_check->add_option("--user", m.user, "Recipient mailbox")->required();
  m.lists_check->add_option("--from", m.from, "Sender address");
  m.lists_check->add_option("--ip", m.ip, "Client IP");
  m.lists_check->add_option("--domain", m.sender_domains, "More sender domains (header From)");
  m.lists_check->add_option("--dmarc", m.dmarc, "DMARC result for the sender domain")
      ->check(CLI::IsMember({"pass", "fail"}));
  for (CLI::App* c :
       {m.reseller_list, m.domain_list, m.user_list, m.policy_set, m.policy_show, m.key_create,
        m.lists_add, m.lists_remove, m.lists_show, m.lists_check, m.reseller_add, m.domain_add,
        m.user_add, m.reseller_remove, m.domain_remove, m.user_remove, m.key_list, m.key_revoke})
    c->add_flag("--json", m.json, "JSON output");
}

TenantCommands::~TenantCommands() = default;

bool TenantCommands::selected() const {
  return impl_->tenant->parsed() || impl_->lists->parsed();
}

int TenantCommands::run(const Config& config, const std::string& data_dir, std::ostream& out,
                        std::ostream& err) {
  return impl_->run(config, data_dir, out, err);
}

int TenantCommands::Impl::run(const Config& config, const std::string& data_dir, std::ostream& out,
                              std::ostream& err) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    err << fmt::format("mailsift: cannot create data dir {}: {}\n", data_dir, ec.message());
    return kExitUsage;
  }
  // tenant.backend: the CLI edits the same store mailsiftd reads (SQLite or the fleet's
  // PostgreSQL).
  auto opened = fleet::open_configured_tenant_store(config, data_dir);
  if (!opened)
    return fail(err, opened.error());
  store = std::move(opened).value();
  TenantStore& s = *store;
  auto done = [&](const Status& st, const Json& j, const std::string& text) {
    if (!st)
      return fail(err, st.error());
    out << (json ? dump(j) : text) << "\n";
    return kExitOk;
  };

  if (reseller_add->parsed()) {
    Status st = add_reseller(s, clock, id, name);
    return done(st, Json{{"added", ascii_lower(id)}}, "added reseller " + ascii_lower(id));
  }
  if (domain_add->parsed()) {
    Status st = add_domain(s, clock, name, reseller);
    return done(st, Json{{"added", ascii_lower(name)}}, "added domain " + ascii_lower(name));
  }
  if (user_add->parsed()) {
    Status st = add_user(s, clock, name);
    return done(st, Json{{"added", normalise_address(name)}},
                "added user " + normalise_address(name));
  }
  if (reseller_list->parsed()) {
    auto all = s.list_resellers();
    if (!all)
      return fail(err, all.error());
    Json j = Json::array();
    std::string text;
    for (const auto& r : *all) {
      j.push_back(to_json(r));
      text += fmt::format("{}\t{}\tsince {}\n", r.id, r.name, iso8601(r.created_at));
    }
    out << (json ? dump(j) + "\n" : text);
    return kExitOk;
  }
  if (domain_list->parsed()) {
    auto all = s.list_domains(ascii_lower(reseller));
    if (!all)
      return fail(err, all.error());
    Json j = Json::array();
    std::string text;
    for (const auto& d : *all) {
      j.push_back(to_json(d));
      text += fmt::format("{}\treseller {}\tsince {}\n", d.name, d.reseller, iso8601(d.created_at));
    }
    out << (json ? dump(j) + "\n" : text);
    return kExitOk;
  }
  if (user_list->parsed()) {
    auto all = s.list_users(ascii_lower(domain));
    if (!all)
      return fail(err, all.error());
    Json j = Json::array();
    std::string text;
    for (const auto& u : *all) {
      j.push_back(to_json(u));
      text += fmt::format("{}\tsince {}\n", u.address, iso8601(u.created_at));
    }
    out << (json ? dump(j) + "\n" : text);
    return kExitOk;
  }
  if (policy_set->parsed()) {
    auto o = owner();
    if (!o)
      return fail(err, o.error());
    auto p = s.get_policy(o->first, o->second);
    if (!p)
      return fail(err, p.error());
    if (!action.empty())
      p->spam_action = spam_action_from_string(action);
    if (spam_score_opt->count() > 0)
      p->spam_score = spam_score;
    if (reject_score_opt->count() > 0)
      p->reject_score = reject_score;
    if (!learning.empty())
      p->learning_enabled = learning == "on";
    for (const auto& f : clear) {
      if (f == "spam_action")
        p->spam_action.reset();
      else if (f == "spam_score")
        p->spam_score.reset();
      else if (f == "reject_score")
        p->reject_score.reset();
      else
        p->learning_enabled.reset();
    }
    if (auto st = validate(*p); !st)
      return fail(err, st.error());
    Status st = s.set_policy(o->first, o->second, *p);
    Json j{{"level", to_string(o->first)}, {"id", o->second}, {"policy", to_json(*p)}};
    return done(st, j, fmt::format("{} {}: {}", to_string(o->first), o->second, dump(to_json(*p))));
  }
  if (policy_show->parsed()) {
    auto o = owner();
    if (!o)
      return fail(err, o.error());
    if (o->first == Level::kReseller) {
      auto r = s.get_reseller(o->second);
      if (!r)
        return fail(err, r.error());
      if (!*r)
        return fail(err, Error::permanent(fmt::format("no reseller '{}'", o->second)));
      auto p = s.get_policy(o->first, o->second);
      if (!p)
        return fail(err, p.error());
      Json j{{"level", "reseller"}, {"id", o->second}, {"policy", to_json(*p)}};
      return done(Ok{}, j,
                  fmt::format("reseller {} (own values; unset = config): {}", o->second,
                              dump(to_json(*p))));
    }
    Result<bool> known = false;
    if (o->first == Level::kUser) {
      auto u = s.get_user(o->second);
      known = u ? Result<bool>(u->has_value()) : Result<bool>(u.error());
    } else {
      auto d = s.get_domain(o->second);
      known = d ? Result<bool>(d->has_value()) : Result<bool>(d.error());
    }
    if (!known)
      return fail(err, known.error());
    if (!*known)
      return fail(err, Error::permanent(fmt::format("no {} '{}'", to_string(o->first), o->second)));
    auto e = effective_policy(s, PolicyDefaults::from_config(config), o->second);
    if (!e)
      return fail(err, e.error());
    std::string text = fmt::format("effective policy for {} {}\n", to_string(o->first), o->second);
    text += fmt::format("  spam_action       {:<12} from {}\n", to_string(e->spam_action.value),
                        e->spam_action.from.describe());
    text += fmt::format("  spam_score        {:<12} from {}\n", e->spam_score.value,
                        e->spam_score.from.describe());
    text += fmt::format("  reject_score      {:<12} from {}\n", e->reject_score.value,
                        e->reject_score.from.describe());
    text +=
        fmt::format("  learning_enabled  {:<12} from {}", e->learning_enabled.value ? "on" : "off",
                    e->learning_enabled.from.describe());
    return done(Ok{}, to_json(*e), text);
  }
  if (key_create->parsed()) {
    if (admin == !reseller.empty())
      return fail(err, Error::malformed("give --admin or --reseller ID"));
    auto k = create_api_key(s, clock, admin ? Role::kAdmin : Role::kReseller, reseller, label);
    if (!k)
      return fail(err, k.error());
    Json j{{"key", k->key},
           {"role", admin ? "admin" : "reseller"},
           {"reseller", k->record.reseller},
           {"label", label}};
    return done(Ok{}, j, k->key);
  }
  if (reseller_remove->parsed() || domain_remove->parsed() || user_remove->parsed()) {
    Level level = reseller_remove->parsed() ? Level::kReseller
                  : domain_remove->parsed() ? Level::kDomain
                                            : Level::kUser;
    std::string target = level == Level::kReseller ? ascii_lower(id)
                         : level == Level::kDomain ? ascii_lower(name)
                                                   : normalise_address(name);
    auto r = s.remove_tenant(level, target);
    if (!r)
      return fail(err, r.error());
    if (!*r)
      return fail(err, Error::permanent(fmt::format("no {} '{}'", to_string(level), target)));
    const Removal& rm = **r;
    Json j{{"removed",
            {{"level", to_string(rm.level)},
             {"id", rm.id},
             {"domains", rm.domains},
             {"users", rm.users},
             {"list_entries", rm.list_entries},
             {"policies", rm.policies},
             {"api_keys", rm.api_keys}}}};
    return done(Ok{}, j,
                fmt::format("removed {} {}: {} domain(s), {} user(s), {} list entries, {} "
                            "policies, {} API key(s)",
                            to_string(rm.level), rm.id, rm.domains.size(), rm.users.size(),
                            rm.list_entries, rm.policies, rm.api_keys));
  }
  if (key_list->parsed()) {
    auto keys = s.list_api_keys(ascii_lower(reseller));
    if (!keys)
      return fail(err, keys.error());
    Json j = Json::array();
    std::string text;
    for (const auto& k : *keys) {
      const char* role = k.role == Role::kAdmin ? "admin" : "reseller";
      j.push_back(Json{{"id", k.hash.substr(0, 16)},
                       {"role", role},
                       {"reseller", k.reseller},
                       {"label", k.label},
                       {"created_at", k.created_at}});
      text +=
          fmt::format("{}\t{}{}\t{}\tsince {}\n", k.hash.substr(0, 16), role,
                      k.reseller.empty() ? "" : " " + k.reseller, k.label, iso8601(k.created_at));
    }
    out << (json ? dump(j) + "\n" : text);
    return kExitOk;
  }
  if (key_revoke->parsed()) {
    auto rec = find_key_for_revoke(s, Principal{Role::kAdmin, ""}, id);
    if (!rec)
      return fail(err, rec.error());
    if (!*rec)
      return fail(err, Error::permanent(fmt::format("no API key '{}'", id)));
    auto removed = s.remove_api_key((*rec)->hash);
    if (!removed)
      return fail(err, removed.error());
    return done(Ok{}, Json{{"revoked", (*rec)->hash.substr(0, 16)}},
                "revoked key " + (*rec)->hash.substr(0, 16));
  }
  return run_lists(config, out, err);
}

int TenantCommands::Impl::run_lists(const Config& config, std::ostream& out, std::ostream& err) {
  TenantStore& s = *store;
  auto entry_line = [](const ListEntry& e) {
    std::string line =
        fmt::format("{}\t{}\t{} {}\t({} {})\tsince {} by {}", e.id, to_string(e.kind),
                    to_string(e.pattern.type), display(e.pattern), to_string(e.level), e.owner,
                    iso8601(e.created_at), e.created_by);
    if (e.expires_at)
      line += " until " + iso8601(*e.expires_at);
    if (!e.note.empty())
      line += "\tnote: " + e.note;
    return line;
  };
  if (lists_add->parsed()) {
    auto o = owner();
    if (!o)
      return fail(err, o.error());
    if (block == allow)
      return fail(err, Error::malformed("give --block or --allow"));
    std::optional<int64_t> until;
    if (!expires.empty()) {
      auto t = parse_time(expires, clock());
      if (!t)
        return fail(err, t.error());
      until = *t;
    }
    auto e =
        add_list_entry(s, clock, o->first, o->second, block ? ListKind::kBlock : ListKind::kAllow,
                       entry, by.empty() ? who_runs() : by, note, until);
    if (!e)
      return fail(err, e.error());
    out << (json ? dump(to_json(*e)) : "added " + entry_line(*e)) << "\n";
    return kExitOk;
  }
  if (lists_remove->parsed()) {
    auto e = s.get_list_entry(entry_id);
    if (!e)
      return fail(err, e.error());
    if (!*e)
      return fail(err, Error::permanent(fmt::format("no list entry {}", entry_id)));
    auto r = s.remove_list_entry(entry_id);
    if (!r)
      return fail(err, r.error());
    out << (json ? dump(Json{{"removed", to_json(**e)}}) : "removed " + entry_line(**e)) << "\n";
    return kExitOk;
  }
  if (lists_show->parsed()) {
    auto o = owner();
    if (!o)
      return fail(err, o.error());
    auto entries = s.list_entries(o->first, o->second);
    if (!entries)
      return fail(err, entries.error());
    Json j = Json::array();
    for (const auto& e : *entries) {
      j.push_back(to_json(e));
      if (!json)
        out << entry_line(e) << "\n";
    }
    if (json)
      out << dump(j) << "\n";
    return kExitOk;
  }
  if (lists_check->parsed()) {
    ListCheckInput in;
    in.user = normalise_address(user);
    in.sender_address = from;
    in.sender_domains = sender_domains;
    in.client_ip = ip;
    if (!ip.empty() && !parse_ip(ip))
      return fail(err, Error::malformed(fmt::format("--ip {} is not an IP address", ip)));
    in.dmarc_failed_for_domain = dmarc != "pass";
    auto r = evaluate_lists(s, ListCheckScores::from_config(config), in, clock());
    if (!r)
      return fail(err, r.error());
    if (json) {
      Json j = to_json(*r);
      j["user"] = in.user;
      out << dump(j) << "\n";
      return kExitOk;
    }
    out << fmt::format("{}: {}\n", in.user,
                       r->verdict
                           ? fmt::format("{} ({})", to_string(*r->verdict), r->symbols[0].name)
                           : std::string("not listed"));
    for (size_t i = 0; i < r->decision.matches.size(); ++i) {
      const auto& m = r->decision.matches[i];
      bool deciding = r->decision.deciding && *r->decision.deciding == i;
      out << fmt::format("  {} {}\tmatched {}\n", deciding ? "*" : " ", entry_line(m.entry),
                         m.matched);
    }
    for (const auto& sym : r->symbols)
      if (sym.name == "ALLOW_DMARC_FAIL_IGNORED")
        out << fmt::format("  note: allow entries ignored, DMARC {}: {}\n",
                           dmarc.empty() ? "not given (--dmarc pass to apply them)" : "failed",
                           sym.detail);
    return kExitOk;
  }
  err << "mailsift: no command\n";
  return kExitUsage;
}

}  // namespace mailsift::tenant
