// Symbol descriptions: what each symbol name in a logged decision means. The checks declare
// their own (scan::Check::symbols); the few symbols added outside a check are declared here.
#include <fmt/format.h>

#include "auth/auth_check.h"
#include "outbound/replies.h"
#include "scan/engine.h"
#include "support/support.h"
#include "tenant/list_check.h"

namespace mailsift::support {

void SymbolDescriptions::add(std::string_view name, std::string_view description) {
  by_name_.insert_or_assign(std::string(name), std::string(description));
}

void SymbolDescriptions::add(const std::vector<scan::SymbolInfo>& infos) {
  for (const auto& i : infos)
    add(i.name, i.description);
}

std::string SymbolDescriptions::describe(std::string_view name) const {
  if (auto it = by_name_.find(name); it != by_name_.end())
    return it->second;
  // Families whose names are built at run time from configuration or a rule name.
  for (std::string_view family : {"RBL_", "URIBL_", "DBL_", "OUTBOUND_"}) {
    if (name.substr(0, family.size()) == family) {
      if (auto it = by_name_.find(std::string(family) + "<LIST>"); it != by_name_.end())
        return it->second;
      if (auto it = by_name_.find(std::string(family) + "<rule>"); it != by_name_.end())
        return it->second;
    }
  }
  return "";
}

SymbolDescriptions service_symbol_descriptions() {
  SymbolDescriptions out;
  // server::ScanService's per-recipient sender lists (policy file lists).
  out.add("USER_ALLOWLIST", "Envelope sender is on the recipient's allow list");
  out.add("USER_BLOCKLIST", "Envelope sender is on the recipient's block list");
  out.add("ALLOW_DMARC_FAIL_IGNORED", "allow-list entry ignored: the sender fails DMARC");
  out.add(tenant::list_symbols());
  // Declared by the check itself; a check built without a resolver only to read them.
  auth::AuthCheck auth_check(auth::AuthOptions{}, nullptr, [] { return int64_t{0}; });
  out.add(auth_check.symbols());
  // outbound::PolicyService logs "OUTBOUND_" + the reply table's rule name.
  for (const auto& spec : outbound::reply_table()) {
    out.add(fmt::format("OUTBOUND_{}", spec.name),
            fmt::format("outbound policy refused or deferred the message: {} ({})", spec.name,
                        spec.text));
  }
  out.add("OUTBOUND_<rule>", "outbound policy refused or deferred the message (see the reply)");
  out.add("OUTBOUND_AUTO_HOLD",
          "compromised-account detection put the sender on hold with this request");
  return out;
}

Result<SymbolDescriptions> builtin_symbol_descriptions(const Config& config, store::Store& store) {
  auto engine = scan::Engine::create(config, store);
  if (!engine)
    return engine.error();
  return builtin_symbol_descriptions(**engine);
}

SymbolDescriptions builtin_symbol_descriptions(const scan::Engine& engine) {
  SymbolDescriptions out = service_symbol_descriptions();
  out.add(engine.all_symbols());
  return out;
}

// ---- Read-only outbound store ---------------------------------------------------------------

namespace {

class ReadOnlyStore final : public outbound::OutboundStore {
 public:
  explicit ReadOnlyStore(outbound::OutboundStore& inner) : inner_(inner) {}
  Result<std::optional<outbound::AccountStatus>> get_status(
      const outbound::Subject& subject) override {
    return inner_.get_status(subject);
  }
  Status put_status(const outbound::AccountStatus&) override { return Ok{}; }
  Result<std::vector<outbound::AccountStatus>> restricted() override { return inner_.restricted(); }
  Status add_count(std::string_view, int64_t, int64_t, int64_t) override { return Ok{}; }
  Result<int64_t> sum_counts(std::string_view key, int64_t first, int64_t last) override {
    return inner_.sum_counts(key, first, last);
  }
  Result<bool> touch_member(std::string_view key, std::string_view member, int64_t now_ms,
                            int64_t) override {
    auto has = inner_.has_member(key, member, now_ms);
    if (!has)
      return has.error();
    return !*has;
  }
  Result<bool> has_member(std::string_view key, std::string_view member,
                          int64_t since_ms) override {
    return inner_.has_member(key, member, since_ms);
  }
  Result<int64_t> count_members(std::string_view key, int64_t since_ms) override {
    return inner_.count_members(key, since_ms);
  }
  Result<std::optional<std::string>> get_value(std::string_view key) override {
    return inner_.get_value(key);
  }
  Status put_value(std::string_view, std::string_view) override { return Ok{}; }
  Status add_alert(const outbound::Alert&) override { return Ok{}; }
  Result<std::vector<outbound::Alert>> alerts(std::string_view subject_key, size_t limit) override {
    return inner_.alerts(subject_key, limit);
  }

 private:
  outbound::OutboundStore& inner_;
};

}  // namespace

std::unique_ptr<outbound::OutboundStore> read_only(outbound::OutboundStore& inner) {
  return std::make_unique<ReadOnlyStore>(inner);
}

}  // namespace mailsift::support
