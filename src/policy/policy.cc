#include "policy/policy.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "core/ascii.h"

namespace mailsift::policy {
namespace {

// "<Bob@Example.TEST>" -> "bob@example.test". Whitespace and angle brackets are envelope syntax,
// not part of the address; addresses are compared case-insensitively (see docs/per-recipient.md).
std::string normalise_address(std::string_view raw) {
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.front())))
    raw.remove_prefix(1);
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back())))
    raw.remove_suffix(1);
  if (raw.size() >= 2 && raw.front() == '<' && raw.back() == '>')
    raw = raw.substr(1, raw.size() - 2);
  return ascii_lower(raw);
}

std::string domain_of(std::string_view address) {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

// One [resellers.X] / [domains.X] / [users.X] table: only the fields it sets.
struct Overrides {
  std::optional<double> add_header, rewrite_subject, reject;
  std::optional<bool> rewrite_subject_enabled, reject_enabled, tempfail_on_error;
  std::vector<std::string> allow_senders, block_senders;
  std::string reseller;  // domains only: the domain's reseller

  void apply_to(RecipientPolicy& p) const {
    if (add_header)
      p.actions.add_header = *add_header;
    if (rewrite_subject)
      p.actions.rewrite_subject = *rewrite_subject;
    if (reject)
      p.actions.reject = *reject;
    if (rewrite_subject_enabled)
      p.actions.rewrite_subject_enabled = *rewrite_subject_enabled;
    if (reject_enabled)
      p.actions.reject_enabled = *reject_enabled;
    if (tempfail_on_error)
      p.actions.tempfail_on_error = *tempfail_on_error;
    p.allow_senders.insert(p.allow_senders.end(), allow_senders.begin(), allow_senders.end());
    p.block_senders.insert(p.block_senders.end(), block_senders.begin(), block_senders.end());
  }
};

using Table = std::map<std::string, Overrides, std::less<>>;

Status validate_sender_entry(const std::string& where, const std::string& entry) {
  if (entry.find('@') == std::string::npos || entry.back() == '@' || entry == "@." ||
      entry.find_first_of(" \t<>,") != std::string::npos) {
    return Error::config(fmt::format(
        "{}: '{}' is not a sender entry (use user@domain, @domain or @.domain)", where, entry));
  }
  return Ok{};
}

Result<Overrides> parse_overrides(const std::string& where, const toml::table& t, bool is_domain) {
  Overrides o;
  for (const auto& entry : t) {
    // Not a structured binding: clang 14 cannot capture those in the lambdas below.
    const toml::node& node = entry.second;
    const std::string key(entry.first.str());
    const std::string at = fmt::format("{}.{}", where, key);
    auto number = [&](std::optional<double>& out) -> Status {
      auto v = node.value<double>();  // integers convert too
      if (!v || *v < -1000 || *v > 1000) {
        return Error::config(fmt::format("{}: expected a number in [-1000, 1000]", at));
      }
      out = *v;
      return Ok{};
    };
    auto boolean = [&](std::optional<bool>& out) -> Status {
      auto v = node.value<bool>();
      if (!v)
        return Error::config(fmt::format("{}: expected true or false", at));
      out = *v;
      return Ok{};
    };
    auto list = [&](std::vector<std::string>& out) -> Status {
      const toml::array* arr = node.as_array();
      if (!arr)
        return Error::config(fmt::format("{}: expected an array of strings", at));
      for (const auto& item : *arr) {
        auto s = item.value<std::string>();
        if (!s)
          return Error::config(fmt::format("{}: expected an array of strings", at));
        std::string entry = ascii_lower(*s);
        Status st = validate_sender_entry(at, entry);
        if (!st)
          return st.error();
        out.push_back(std::move(entry));
      }
      return Ok{};
    };
    Status st = Ok{};
    if (key == "add_header")
      st = number(o.add_header);
    else if (key == "rewrite_subject")
      st = number(o.rewrite_subject);
    else if (key == "reject")
      st = number(o.reject);
    else if (key == "rewrite_subject_enabled")
      st = boolean(o.rewrite_subject_enabled);
    else if (key == "reject_enabled")
      st = boolean(o.reject_enabled);
    else if (key == "tempfail_on_error")
      st = boolean(o.tempfail_on_error);
    else if (key == "allow_senders")
      st = list(o.allow_senders);
    else if (key == "block_senders")
      st = list(o.block_senders);
    else if (key == "reseller" && is_domain) {
      auto v = node.value<std::string>();
      if (!v || v->empty())
        st = Error::config(fmt::format("{}: expected a reseller id", at));
      else
        o.reseller = *v;
    } else {
      st = Error::config(fmt::format("{}: unknown key", at));
    }
    if (!st)
      return st.error();
  }
  return o;
}

Result<Table> parse_section(const toml::table& root, const char* section, bool is_domain,
                            bool lower_keys) {
  Table out;
  const toml::node* node = root.get(section);
  if (!node)
    return out;
  const toml::table* t = node->as_table();
  if (!t)
    return Error::config(fmt::format("policy: [{}] must be a table", section));
  for (const auto& [key_node, entry] : *t) {
    const std::string name = lower_keys ? ascii_lower(key_node.str()) : std::string(key_node.str());
    const std::string where = fmt::format("{}.\"{}\"", section, name);
    const toml::table* et = entry.as_table();
    if (!et)
      return Error::config(fmt::format("policy: {} must be a table", where));
    auto parsed = parse_overrides(where, *et, is_domain);
    if (!parsed)
      return parsed.error();
    if (!out.emplace(name, std::move(parsed).value()).second) {
      return Error::config(
          fmt::format("policy: {} is given twice (names are case-insensitive)", where));
    }
  }
  return out;
}

class LayeredProvider final : public PolicyProvider {
 public:
  LayeredProvider(scan::ActionPolicy defaults, Table resellers, Table domains, Table users)
      : defaults_(std::move(defaults)),
        resellers_(std::move(resellers)),
        domains_(std::move(domains)),
        users_(std::move(users)) {}

  Result<RecipientPolicy> lookup(std::string_view recipient_address) override {
    RecipientPolicy p;
    p.actions = defaults_;
    p.tenant.user = normalise_address(recipient_address);
    p.tenant.domain = domain_of(p.tenant.user);
    std::string source;
    auto note = [&](const char* level, const std::string& id) {
      source += fmt::format("{}{}:{}", source.empty() ? "" : ",", level, id);
    };
    const auto domain = domains_.find(p.tenant.domain);
    if (domain != domains_.end())
      p.tenant.reseller = domain->second.reseller;
    // Least specific first, so the user's own entry wins field by field.
    if (!p.tenant.reseller.empty()) {
      const auto reseller = resellers_.find(p.tenant.reseller);
      if (reseller != resellers_.end()) {
        reseller->second.apply_to(p);
        note("reseller", p.tenant.reseller);
      }
    }
    if (domain != domains_.end()) {
      domain->second.apply_to(p);
      note("domain", p.tenant.domain);
    }
    const auto user = users_.find(p.tenant.user);
    if (user != users_.end()) {
      user->second.apply_to(p);
      note("user", p.tenant.user);
    }
    p.actions.source = source.empty() ? "default" : source;
    return p;
  }

 private:
  scan::ActionPolicy defaults_;
  Table resellers_, domains_, users_;
};

bool entry_matches(const std::string& entry, const std::string& sender,
                   const std::string& sender_domain) {
  if (entry.size() > 2 && entry[0] == '@' && entry[1] == '.') {
    const std::string_view dom = std::string_view(entry).substr(2);
    if (sender_domain == dom)
      return true;
    return sender_domain.size() > dom.size() &&
           sender_domain.compare(sender_domain.size() - dom.size(), dom.size(), dom) == 0 &&
           sender_domain[sender_domain.size() - dom.size() - 1] == '.';
  }
  if (entry[0] == '@')
    return sender_domain == std::string_view(entry).substr(1);
  return sender == entry;
}

Result<std::unique_ptr<PolicyProvider>> from_table(const Config& config, const toml::table& root,
                                                   const std::string& origin) {
  for (const auto& [key, node] : root) {
    if (key.str() != "resellers" && key.str() != "domains" && key.str() != "users") {
      return Error::config(fmt::format(
          "{}: unknown section [{}] (expected resellers, domains, users)", origin, key.str()));
    }
  }
  auto resellers = parse_section(root, "resellers", false, false);
  if (!resellers)
    return Error::config(fmt::format("{}: {}", origin, resellers.error().message));
  auto domains = parse_section(root, "domains", true, true);
  if (!domains)
    return Error::config(fmt::format("{}: {}", origin, domains.error().message));
  auto users = parse_section(root, "users", false, true);
  if (!users)
    return Error::config(fmt::format("{}: {}", origin, users.error().message));
  return std::unique_ptr<PolicyProvider>(std::make_unique<LayeredProvider>(
      scan::ActionPolicy::from_config(config), std::move(resellers).value(),
      std::move(domains).value(), std::move(users).value()));
}

}  // namespace

SenderListing classify_sender(const RecipientPolicy& policy, std::string_view sender) {
  const std::string address = normalise_address(sender);
  if (address.empty() || address.find('@') == std::string::npos)
    return SenderListing::kNone;
  const std::string domain = domain_of(address);
  auto listed = [&](const std::vector<std::string>& entries) {
    return std::any_of(entries.begin(), entries.end(), [&](const std::string& e) {
      return !e.empty() && entry_matches(e, address, domain);
    });
  };
  if (listed(policy.block_senders))
    return SenderListing::kBlocked;
  if (listed(policy.allow_senders))
    return SenderListing::kAllowed;
  return SenderListing::kNone;
}

std::unique_ptr<PolicyProvider> make_default_provider(const Config& config) {
  return std::make_unique<LayeredProvider>(scan::ActionPolicy::from_config(config), Table{},
                                           Table{}, Table{});
}

Result<std::unique_ptr<PolicyProvider>> load_policy_file(const Config& config,
                                                         const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Error::config(
        fmt::format("policy file {}: {} (line {})", path, e.description(), e.source().begin.line));
  } catch (const std::exception& e) {
    return Error::config(fmt::format("policy file {}: {}", path, e.what()));
  }
  return from_table(config, root, path);
}

Result<std::unique_ptr<PolicyProvider>> parse_policy(const Config& config,
                                                     std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Error::config(
        fmt::format("policy: {} (line {})", e.description(), e.source().begin.line));
  }
  return from_table(config, root, "policy");
}

}  // namespace mailsift::policy
