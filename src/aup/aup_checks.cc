#include "aup/aup_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/ascii.h"
#include "mime/message.h"

namespace mailsift::aup {
namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

class PhishingCheck final : public scan::Check {
 public:
  explicit PhishingCheck(const AupConfig& c)
      : score_(c.phishing_score), names_(c.phishing_symbols) {}
  std::string_view name() const override { return "aup_phishing"; }
  scan::Phase phase() const override { return scan::Phase::kPostFilter; }
  std::vector<scan::SymbolInfo> symbols() const override {
    return {{"AUP_PHISHING", "Outbound message looks like phishing (acceptable use policy)"}};
  }
  Status run(scan::ScanTask&, std::vector<scan::Symbol>& out) override {
    std::string hits;
    for (const auto& s : out) {
      if (std::find(names_.begin(), names_.end(), s.name) != names_.end())
        hits += (hits.empty() ? "" : ", ") + s.name;
    }
    if (!hits.empty())
      out.push_back({"AUP_PHISHING", score_, std::string(symbols()[0].description), hits});
    return Ok{};
  }

 private:
  double score_;
  std::vector<std::string> names_;
};

class ForgedFromCheck final : public scan::Check {
 public:
  ForgedFromCheck(const AupConfig& c, OwnedDomains owned)
      : score_(c.forged_from_score), owned_(std::move(owned)) {}
  std::string_view name() const override { return "aup_forged_from"; }
  scan::Phase phase() const override { return scan::Phase::kFilter; }
  std::vector<scan::SymbolInfo> symbols() const override {
    return {{"AUP_FORGED_FROM",
             "From address uses a domain the sending user does not own (acceptable use policy)"}};
  }
  Status run(scan::ScanTask& task, std::vector<scan::Symbol>& out) override {
    const std::string user = ascii_lower(task.envelope->auth_user);
    if (user.empty())
      return Ok{};  // not an authenticated submission: nobody to compare with
    const mime::Header* from = task.message.header("From");
    if (!from)
      return Ok{};
    const std::string address = mime::extract_address(from->value);
    const std::string domain(mime::address_domain(address));
    if (domain.empty())
      return Ok{};
    std::vector<std::string> owned;
    if (auto d = mime::address_domain(user); !d.empty())
      owned.emplace_back(d);
    if (owned_) {
      auto more = owned_(user);
      if (!more)
        return Error::permanent("owned domains of " + user + ": " + more.error().message);
      for (auto& d : *more)  // the hook usually repeats the login's own domain
        if (std::string l = ascii_lower(d); std::find(owned.begin(), owned.end(), l) == owned.end())
          owned.push_back(std::move(l));
    }
    if (owned.empty())
      return Ok{};  // a login without a domain and no tenant record: cannot judge
    for (const auto& o : owned)
      if (domain_within(domain, o))
        return Ok{};
    std::string list;
    for (const auto& o : owned)
      list += (list.empty() ? "" : ", ") + o;
    out.push_back({"AUP_FORGED_FROM", score_, std::string(symbols()[0].description),
                   fmt::format("From {} by {} (owns {})", address, user, list)});
    return Ok{};
  }

 private:
  double score_;
  OwnedDomains owned_;
};

class BulkCheck final : public scan::Check {
 public:
  explicit BulkCheck(const AupConfig& c) : score_(c.bulk_score), min_(c.bulk_recipients) {}
  std::string_view name() const override { return "aup_bulk"; }
  scan::Phase phase() const override { return scan::Phase::kFilter; }
  std::vector<scan::SymbolInfo> symbols() const override {
    return {{"AUP_BULK_NO_UNSUBSCRIBE",
             "Bulk outbound message without List-Unsubscribe (acceptable use policy)"}};
  }
  Status run(scan::ScanTask& task, std::vector<scan::Symbol>& out) override {
    const mime::Message& m = task.message;
    if (m.header("List-Unsubscribe"))
      return Ok{};
    // Header recipients: one per '@' in To/Cc (a cheap upper bound that needs no full parse).
    int64_t header_rcpts = 0;
    for (const char* name : {"To", "Cc"})
      for (const mime::Header* h : m.headers(name))
        header_rcpts += std::count(h->value.begin(), h->value.end(), '@');
    const int64_t rcpts =
        std::max(static_cast<int64_t>(task.envelope->recipient_count), header_rcpts);
    std::string why;
    if (min_ > 0 && rcpts >= min_)
      why = fmt::format("{} recipients", rcpts);
    if (const mime::Header* p = m.header("Precedence")) {
      const std::string v = ascii_lower(p->value);
      if (v == "bulk" || v == "list" || v == "junk")
        why += (why.empty() ? "" : ", ") + fmt::format("Precedence: {}", v);
    }
    if (m.header("List-Id"))
      why += (why.empty() ? "" : ", ") + std::string("List-Id");
    if (!why.empty())
      out.push_back({"AUP_BULK_NO_UNSUBSCRIBE", score_, std::string(symbols()[0].description),
                     why + ", no List-Unsubscribe"});
    return Ok{};
  }

 private:
  double score_;
  int64_t min_;
};

class MalwareCheck final : public scan::Check {
 public:
  explicit MalwareCheck(const AupConfig& c) : score_(c.malware_score) {}
  std::string_view name() const override { return "aup_malware"; }
  scan::Phase phase() const override { return scan::Phase::kFilter; }
  std::vector<scan::SymbolInfo> symbols() const override {
    return {{"AUP_MALWARE_ATTACHMENT",
             "Attachment type that carries malware: executable, double extension or macro "
             "document (acceptable use policy)"}};
  }
  Status run(scan::ScanTask& task, std::vector<scan::Symbol>& out) override {
    const mime::Message& m = task.message;
    std::string reasons;
    for (const auto& a : m.attachments) {
      std::string_view decoded;
      if (a.part >= 0 && static_cast<size_t>(a.part) < m.parts.size())
        decoded = m.parts[a.part].decoded;
      std::string why = malware_reason(a.filename, a.declared_type, a.sniffed_type, decoded);
      if (!why.empty())
        reasons += (reasons.empty() ? "" : "; ") + why;
    }
    if (!reasons.empty())
      out.push_back(
          {"AUP_MALWARE_ATTACHMENT", score_, std::string(symbols()[0].description), reasons});
    return Ok{};
  }

 private:
  double score_;
};

constexpr std::string_view kExecutable[] = {
    "exe", "scr", "com", "pif", "bat", "cmd", "vbs", "vbe", "js",  "jse", "wsf", "wsh", "msi",
    "msp", "jar", "ps1", "hta", "lnk", "cpl", "reg", "dll", "iso", "img", "vhd", "appx"};
constexpr std::string_view kMacro[] = {"docm", "dotm", "xlsm", "xltm", "xlam",
                                       "pptm", "potm", "ppsm", "ppam", "sldm"};
constexpr std::string_view kExecutableTypes[] = {
    "application/x-dosexec",     "application/x-msdownload", "application/x-msdos-program",
    "application/x-executable",  "application/x-elf",        "application/x-mach-binary",
    "application/x-ms-shortcut", "application/hta"};

template <size_t N>
bool in(std::string_view v, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

// Extensions of a file name, last first: "Invoice.PDF .exe" -> {"exe", "pdf"}.
std::vector<std::string> extensions(std::string_view filename) {
  std::string name = ascii_lower(filename);
  while (!name.empty() && (name.back() == ' ' || name.back() == '.'))
    name.pop_back();
  std::vector<std::string> out;
  for (int i = 0; i < 2; ++i) {
    auto dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0)
      break;
    std::string ext = name.substr(dot + 1);
    while (!ext.empty() && ext.back() == ' ')
      ext.pop_back();
    out.push_back(ext);
    name.resize(dot);
    while (!name.empty() && name.back() == ' ')
      name.pop_back();
  }
  return out;
}

}  // namespace

AupConfig AupConfig::from_config(const Config& c) {
  AupConfig a;
  a.phishing_score = c.get_double("outbound.aup.phishing_score");
  a.phishing_symbols = split_list(c.get_string("outbound.aup.phishing_symbols"));
  a.forged_from_score = c.get_double("outbound.aup.forged_from_score");
  a.bulk_score = c.get_double("outbound.aup.bulk_score");
  a.bulk_recipients = c.get_int("outbound.aup.bulk_recipients");
  a.malware_score = c.get_double("outbound.aup.malware_score");
  return a;
}

bool domain_within(std::string_view domain, std::string_view owner) {
  if (owner.empty() || domain.size() < owner.size())
    return false;
  if (domain.size() == owner.size())
    return domain == owner;
  return domain.substr(domain.size() - owner.size()) == owner &&
         domain[domain.size() - owner.size() - 1] == '.';
}

std::string malware_reason(std::string_view filename, std::string_view declared_type,
                           std::string_view sniffed_type, std::string_view decoded) {
  const auto ext = extensions(filename);
  if (ext.size() == 2 && in(ext[0], kExecutable) && !in(ext[1], kExecutable))
    return fmt::format("double extension {}", filename);
  if (!ext.empty() && in(ext[0], kExecutable))
    return fmt::format("executable .{} ({})", ext[0], filename);
  if (in(sniffed_type, kExecutableTypes))
    return fmt::format("executable content {} ({})", sniffed_type, filename);
  if (in(ascii_lower(declared_type), kExecutableTypes))
    return fmt::format("executable type {} ({})", declared_type, filename);
  if (!ext.empty() && in(ext[0], kMacro))
    return fmt::format("macro document .{} ({})", ext[0], filename);
  // A VBA project inside an Office file: OOXML stores it as vbaProject.bin, OLE as the
  // _VBA_PROJECT stream (UTF-16 directory name).
  using namespace std::string_view_literals;
  static constexpr std::string_view kOleVba = "_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T"sv;
  const bool office = sniffed_type == "application/x-ole-storage" ||
                      sniffed_type.rfind("application/vnd.openxmlformats-officedocument", 0) == 0;
  if (office && (decoded.find("vbaProject.bin") != std::string_view::npos ||
                 decoded.find(kOleVba) != std::string_view::npos))
    return fmt::format("macro document ({})", filename.empty() ? sniffed_type : filename);
  return "";
}

std::unique_ptr<scan::Check> make_phishing_check(const AupConfig& c) {
  return std::make_unique<PhishingCheck>(c);
}
std::unique_ptr<scan::Check> make_forged_from_check(const AupConfig& c, OwnedDomains owned) {
  return std::make_unique<ForgedFromCheck>(c, std::move(owned));
}
std::unique_ptr<scan::Check> make_bulk_check(const AupConfig& c) {
  return std::make_unique<BulkCheck>(c);
}
std::unique_ptr<scan::Check> make_malware_check(const AupConfig& c) {
  return std::make_unique<MalwareCheck>(c);
}

std::vector<std::unique_ptr<scan::Check>> make_aup_checks(const AupConfig& c, OwnedDomains owned) {
  std::vector<std::unique_ptr<scan::Check>> out;
  out.push_back(make_phishing_check(c));
  out.push_back(make_forged_from_check(c, std::move(owned)));
  out.push_back(make_bulk_check(c));
  out.push_back(make_malware_check(c));
  return out;
}

}  // namespace mailsift::aup
