#include "rules/rules.h"

#include <fmt/format.h>
#include <hs/hs.h>

#include <unistd.h>
#include <xxhash.h>

#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <iterator>
#include <unordered_map>
#include <utility>

#include "core/file.h"
#include "rules/rule_file.h"

namespace mailsift::rules {

using detail::EvalFn;
using detail::HeaderTest;
using detail::HeaderView;
using detail::MetaOp;
using detail::RuleSpec;

namespace {
std::mutex g_cache_mutex;
std::string g_cache_dir;  // "" = no cache

std::string compile_cache_dir() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return g_cache_dir;
}
}  // namespace

void set_compile_cache_dir(const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  g_cache_dir = ec ? std::string() : dir;
}

const char* to_string(RuleKind kind) {
  switch (kind) {
    case RuleKind::kHeader:
      return "header";
    case RuleKind::kBody:
      return "body";
    case RuleKind::kUri:
      return "uri";
    case RuleKind::kRawBody:
      return "rawbody";
    case RuleKind::kFull:
      return "full";
    case RuleKind::kFact:
      return "fact";
    case RuleKind::kEval:
      return "eval";
    case RuleKind::kMeta:
      return "meta";
  }
  return "?";
}

namespace {

struct DbFree {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using DbPtr = std::unique_ptr<hs_database_t, DbFree>;

struct ScratchFree {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i]))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  return s;
}

// Address-spec of a From/To/Reply-To style value: inside the last <...> if any, else the
// whitespace-delimited token holding '@'. "" if neither. Tolerates garbage.
std::string_view header_address(std::string_view v) {
  size_t lt = v.rfind('<');
  if (lt != std::string_view::npos) {
    size_t gt = v.find('>', lt);
    if (gt != std::string_view::npos)
      return trim(v.substr(lt + 1, gt - lt - 1));
  }
  size_t at = v.find('@');
  if (at == std::string_view::npos)
    return {};
  auto delim = [](char c) {
    return c == ' ' || c == '\t' || c == '"' || c == '(' || c == ')' || c == ',' || c == ';' ||
           c == '<' || c == '>';
  };
  size_t b = at, e = at;
  while (b > 0 && !delim(v[b - 1]))
    --b;
  while (e < v.size() && !delim(v[e]))
    ++e;
  return v.substr(b, e - b);
}

// Display name of a From/To style value: text before '<' (quotes stripped) or a trailing
// "(comment)" after a bare address. "" if none.
std::string_view header_display_name(std::string_view v) {
  size_t lt = v.rfind('<');
  std::string_view name;
  if (lt != std::string_view::npos) {
    name = trim(v.substr(0, lt));
  } else {
    size_t open = v.find('(');
    size_t close = v.rfind(')');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
      name = trim(v.substr(open + 1, close - open - 1));
    }
  }
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = trim(name.substr(1, name.size() - 2));
  }
  return name;
}

std::string_view address_domain(std::string_view addr) {
  size_t at = addr.rfind('@');
  return at == std::string_view::npos ? std::string_view() : addr.substr(at + 1);
}

const mime::Header* first_header(const mime::Message& msg, std::string_view name) {
  if (msg.parts.empty())
    return nullptr;
  for (const auto& h : msg.parts[0].headers) {
    if (iequals(h.name, name))
      return &h;
  }
  return nullptr;
}

bool ends_with_icase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

// True if the readable text has at least n non-whitespace bytes; stops as soon as it knows.
bool visible_at_least(const mime::Message& msg, size_t n) {
  if (n == 0)
    return true;
  size_t seen = 0;
  for (const auto& t : msg.texts) {
    for (char c : t.text) {
      seen += (c != ' ' && c != '\t' && c != '\r' && c != '\n');
      if (seen >= n)
        return true;
    }
  }
  return false;
}

// ASCII letters and capitals in the readable text. Branch-free with 32-bit counters so the
// compiler vectorises it (texts are capped far below 4 GiB by mime::Limits).
void count_caps(const mime::Message& msg, size_t* letters, size_t* upper) {
  for (const auto& t : msg.texts) {
    uint32_t l = 0, u = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(t.text.data());
    for (size_t i = 0; i < t.text.size(); ++i) {
      unsigned char c = p[i];
      l += static_cast<unsigned char>((c | 0x20) - 'a') < 26;
      u += static_cast<unsigned char>(c - 'A') < 26;
    }
    *letters += l;
    *upper += u;
  }
}

bool run_eval(EvalFn fn, int64_t arg, const mime::Message& msg) {
  switch (fn) {
    case EvalFn::kHtmlOnly:
      return !msg.texts.empty() && std::all_of(msg.texts.begin(), msg.texts.end(),
                                               [](const mime::TextPart& t) { return t.from_html; });
    case EvalFn::kHiddenText: {
      size_t hidden = 0;
      for (const auto& t : msg.texts)
        hidden += trim(t.hidden_text).size();
      return hidden >= static_cast<size_t>(std::max<int64_t>(arg, 1));
    }
    case EvalFn::kLinkTextMismatch:
      return std::any_of(msg.urls.begin(), msg.urls.end(),
                         [](const mime::Url& u) { return u.text_mismatch; });
    case EvalFn::kUrlCount:
      return msg.urls.size() >= static_cast<size_t>(arg);
    case EvalFn::kNoVisibleText:
      return !visible_at_least(msg, 1);
    case EvalFn::kExecutableAttachment: {
      static constexpr std::string_view kExts[] = {
          ".exe", ".scr", ".pif", ".com", ".bat", ".cmd", ".vbs", ".vbe", ".js",  ".jse",
          ".wsf", ".wsh", ".hta", ".lnk", ".msi", ".jar", ".ps1", ".cpl", ".reg", ".dll"};
      for (const auto& a : msg.attachments) {
        if (a.sniffed_type == "application/x-dosexec" ||
            a.sniffed_type == "application/x-msdownload" ||
            a.sniffed_type == "application/x-executable") {
          return true;
        }
        for (auto ext : kExts) {
          if (ends_with_icase(trim(a.filename), ext))
            return true;
        }
      }
      return false;
    }
    case EvalFn::kReplyToDiffers: {
      const mime::Header* from = first_header(msg, "From");
      const mime::Header* reply = first_header(msg, "Reply-To");
      if (from == nullptr || reply == nullptr)
        return false;
      std::string_view fd = address_domain(header_address(from->value));
      std::string_view rd = address_domain(header_address(reply->value));
      return !fd.empty() && !rd.empty() && !iequals(fd, rd);
    }
    case EvalFn::kBodyCapsPercent: {
      size_t letters = 0, upper = 0;
      count_caps(msg, &letters, &upper);
      // Short texts ("OK", a signature) say nothing about shouting.
      return letters >= 100 && upper * 100 >= static_cast<size_t>(arg) * letters;
    }
    case EvalFn::kImageWithLittleText: {
      bool image = false;
      for (const auto& a : msg.attachments) {
        image |= a.declared_type.rfind("image/", 0) == 0 || a.sniffed_type.rfind("image/", 0) == 0;
      }
      for (size_t i = 1; i < msg.parts.size() && !image; ++i) {
        image = msg.parts[i].content_type.rfind("image/", 0) == 0;
      }
      return image && !visible_at_least(msg, static_cast<size_t>(arg));
    }
  }
  return false;
}

int on_match(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
             unsigned int /*flags*/, void* ctx) {
  static_cast<uint8_t*>(ctx)[id] = 1;
  return 0;  // keep scanning: other rules in the same database may still match
}

}  // namespace

struct RuleSet::Compiled {
  struct ViewDb {
    HeaderView view;
    DbPtr db;
  };
  struct HeaderGroup {  // all rules about one header name
    std::vector<ViewDb> views;
    std::vector<uint32_t> exists, not_exists, negated;
  };

  std::string origin;
  std::vector<RuleInfo> infos;
  std::vector<RuleSpec> specs;
  std::unordered_map<std::string, uint32_t> index_of;
  std::unordered_map<std::string, uint32_t> group_of;  // lower-case header name -> groups index
  std::vector<HeaderGroup> groups;
  DbPtr all_db;
  std::vector<uint32_t> all_negated;
  DbPtr body_db, uri_db, rawbody_db, full_db;
  std::unordered_map<std::string, std::vector<uint32_t>> fact_rules;
  std::vector<uint32_t> eval_rules;
  std::vector<uint32_t> meta_order;

  std::vector<hs_database_t*> all_databases() const {
    std::vector<hs_database_t*> out;
    for (const auto& g : groups) {
      for (const auto& v : g.views)
        out.push_back(v.db.get());
    }
    for (const DbPtr* d : {&all_db, &body_db, &uri_db, &rawbody_db, &full_db}) {
      if (*d)
        out.push_back(d->get());
    }
    return out;
  }
};

namespace {

// One block-mode database over the given rules; hs ids are rule indices so a match marks its
// rule directly. A pattern vectorscan rejects is reported with its line.
Result<DbPtr> compile_db(const std::vector<uint32_t>& rule_ids, const std::vector<RuleSpec>& specs,
                         std::string_view origin) {
  if (rule_ids.empty())
    return DbPtr();
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  for (uint32_t id : rule_ids) {
    exprs.push_back(specs[id].pattern.c_str());
    flags.push_back(specs[id].hs_flags | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY);
  }
  // Compiling is the slow part of loading (about a second for the shipped set), so compiled
  // databases are cached on disk, keyed by everything that determines them.
  std::string cache_file;
  if (std::string dir = compile_cache_dir(); !dir.empty()) {
    XXH3_state_t* st = XXH3_createState();
    XXH3_128bits_reset(st);
    const char* version = hs_version();
    XXH3_128bits_update(st, version, std::strlen(version));
    for (size_t i = 0; i < rule_ids.size(); ++i) {
      XXH3_128bits_update(st, exprs[i], std::strlen(exprs[i]) + 1);
      XXH3_128bits_update(st, &flags[i], sizeof flags[i]);
      XXH3_128bits_update(st, &rule_ids[i], sizeof rule_ids[i]);
    }
    XXH128_hash_t h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    cache_file = fmt::format("{}/{:016x}{:016x}.hsdb", dir, h.high64, h.low64);
    // A missing, damaged or foreign cache file just means compiling again.
    if (auto bytes = read_whole_file(cache_file); bytes) {
      hs_database_t* cached = nullptr;
      if (hs_deserialize_database(bytes->data(), bytes->size(), &cached) == HS_SUCCESS) {
        return DbPtr(cached);
      }
    }
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  hs_error_t rc =
      hs_compile_multi(exprs.data(), flags.data(), rule_ids.data(),
                       static_cast<unsigned>(rule_ids.size()), HS_MODE_BLOCK, nullptr, &db, &err);
  if (rc != HS_SUCCESS) {
    std::string why = err != nullptr && err->message != nullptr ? err->message : "unknown error";
    int expr = err != nullptr ? err->expression : -1;
    hs_free_compile_error(err);
    if (expr >= 0 && static_cast<size_t>(expr) < rule_ids.size()) {
      const RuleSpec& s = specs[rule_ids[expr]];
      return Error::config(fmt::format("{}:{}: rule {}: vectorscan cannot compile /{}/: {}", origin,
                                       s.info.line, s.info.name, s.pattern, why));
    }
    return Error::config(
        fmt::format("{}: vectorscan cannot build a rule database: {}", origin, why));
  }
  if (!cache_file.empty()) {
    char* bytes = nullptr;
    size_t length = 0;
    if (hs_serialize_database(db, &bytes, &length) == HS_SUCCESS) {
      // Write-then-rename so a concurrent loader never reads half a file.
      std::string tmp = fmt::format("{}.{}.tmp", cache_file, ::getpid());
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(bytes, static_cast<std::streamsize>(length));
      }
      std::error_code ec;
      std::filesystem::rename(tmp, cache_file, ec);
      if (ec) std::filesystem::remove(tmp, ec);
      std::free(bytes);
    }
  }
  return DbPtr(db);
}

Status compile_into(RuleSet::Compiled& c) {
  std::vector<uint32_t> body, uri, rawbody, full, all;
  // (group, view) -> rule ids
  std::vector<std::vector<std::vector<uint32_t>>> view_rules;
  for (uint32_t i = 0; i < c.specs.size(); ++i) {
    const RuleSpec& s = c.specs[i];
    switch (s.info.kind) {
      case RuleKind::kBody:
        body.push_back(i);
        break;
      case RuleKind::kUri:
        uri.push_back(i);
        break;
      case RuleKind::kRawBody:
        rawbody.push_back(i);
        break;
      case RuleKind::kFull:
        full.push_back(i);
        break;
      case RuleKind::kFact:
        c.fact_rules[s.fact].push_back(i);
        break;
      case RuleKind::kEval:
        c.eval_rules.push_back(i);
        break;
      case RuleKind::kMeta:
        break;
      case RuleKind::kHeader: {
        if (s.header_all) {
          all.push_back(i);
          if (s.test == HeaderTest::kNotMatch)
            c.all_negated.push_back(i);
          break;
        }
        auto [it, fresh] =
            c.group_of.emplace(s.header_name, static_cast<uint32_t>(c.groups.size()));
        if (fresh) {
          c.groups.emplace_back();
          view_rules.emplace_back(4);
        }
        auto& g = c.groups[it->second];
        switch (s.test) {
          case HeaderTest::kExists:
            g.exists.push_back(i);
            break;
          case HeaderTest::kNotExists:
            g.not_exists.push_back(i);
            break;
          case HeaderTest::kNotMatch:
            g.negated.push_back(i);
            [[fallthrough]];
          case HeaderTest::kMatch:
            view_rules[it->second][static_cast<size_t>(s.view)].push_back(i);
            break;
        }
        break;
      }
    }
  }
  for (size_t g = 0; g < c.groups.size(); ++g) {
    for (size_t v = 0; v < 4; ++v) {
      auto db = compile_db(view_rules[g][v], c.specs, c.origin);
      if (!db)
        return db.error();
      if (*db)
        c.groups[g].views.push_back({static_cast<HeaderView>(v), std::move(db).value()});
    }
  }
  struct Target {
    std::vector<uint32_t>* ids;
    DbPtr* db;
  };
  for (Target t : {Target{&all, &c.all_db}, Target{&body, &c.body_db}, Target{&uri, &c.uri_db},
                   Target{&rawbody, &c.rawbody_db}, Target{&full, &c.full_db}}) {
    auto db = compile_db(*t.ids, c.specs, c.origin);
    if (!db)
      return db.error();
    *t.db = std::move(db).value();
  }
  return Ok{};
}

}  // namespace

RuleSet::RuleSet() : compiled_(std::make_unique<Compiled>()) {}
RuleSet::~RuleSet() = default;

Result<std::shared_ptr<const RuleSet>> RuleSet::load_string(std::string_view text,
                                                            std::string_view origin) {
  auto parsed = detail::parse_rule_file(text, origin);
  if (!parsed)
    return parsed.error();
  std::shared_ptr<RuleSet> set(new RuleSet());
  Compiled& c = *set->compiled_;
  c.origin = std::string(origin);
  c.specs = std::move(parsed->specs);
  c.meta_order = std::move(parsed->meta_order);
  for (uint32_t i = 0; i < c.specs.size(); ++i) {
    c.infos.push_back(c.specs[i].info);
    c.index_of.emplace(c.specs[i].info.name, i);
  }
  Status st = compile_into(c);
  if (!st)
    return st.error();
  return std::shared_ptr<const RuleSet>(std::move(set));
}

Result<std::shared_ptr<const RuleSet>> RuleSet::load_file(const std::string& path) {
  auto text = read_whole_file(path);
  if (!text)  // a rule file the operator named is configuration: kConfig, not kPermanent
    return Error::config(fmt::format("rule file: {}", text.error().message));
  return load_string(*text, path);
}

size_t RuleSet::size() const {
  return compiled_->infos.size();
}
const std::vector<RuleInfo>& RuleSet::rules() const {
  return compiled_->infos;
}
const std::string& RuleSet::origin() const {
  return compiled_->origin;
}
const RuleInfo* RuleSet::find(std::string_view name) const {
  auto it = compiled_->index_of.find(std::string(name));
  return it == compiled_->index_of.end() ? nullptr : &compiled_->infos[it->second];
}

struct Matcher::Scratch {
  std::unique_ptr<hs_scratch_t, ScratchFree> hs;
  std::string init_error;  // non-empty if scratch allocation failed; match() reports it
  std::vector<uint8_t> matched;
  std::vector<uint8_t> present;
  std::vector<int32_t> stack;
  std::string key, text;
};

Matcher::Matcher(std::shared_ptr<const RuleSet> rules)
    : rules_(std::move(rules)), scratch_(std::make_unique<Scratch>()) {
  hs_scratch_t* s = nullptr;
  for (hs_database_t* db : rules_->compiled_->all_databases()) {
    if (hs_alloc_scratch(db, &s) != HS_SUCCESS) {
      scratch_->init_error = "vectorscan scratch allocation failed";
      break;
    }
  }
  scratch_->hs.reset(s);
}

Matcher::~Matcher() = default;

Result<std::vector<RuleHit>> Matcher::match(const mime::Message& msg) {
  const RuleSet::Compiled& c = *rules_->compiled_;
  Scratch& sc = *scratch_;
  if (!sc.init_error.empty())
    return Error::temporary(sc.init_error);
  sc.matched.assign(c.specs.size(), 0);
  uint8_t* matched = sc.matched.data();
  hs_error_t scan_rc = HS_SUCCESS;
  auto scan = [&](const hs_database_t* db, std::string_view data) {
    if (db == nullptr || scan_rc != HS_SUCCESS)
      return;
    hs_error_t rc = hs_scan(db, data.empty() ? "" : data.data(), static_cast<unsigned>(data.size()),
                            0, sc.hs.get(), on_match, matched);
    if (rc != HS_SUCCESS)
      scan_rc = rc;
  };
  // hs_scan takes an unsigned length; bigger inputs (beyond mime's limits anyway) are scanned
  // in their first 4 GiB only.
  auto clamp = [](std::string_view s) { return s.substr(0, 0xffffffffu); };

  // Headers: each instance of a header with rules is scanned by its views' databases.
  sc.present.assign(c.groups.size(), 0);
  const std::vector<mime::Header>* headers = msg.parts.empty() ? nullptr : &msg.parts[0].headers;
  if (headers != nullptr && !c.groups.empty()) {
    for (const auto& h : *headers) {
      sc.key.assign(h.name);
      for (char& ch : sc.key)
        ch = ascii_lower(ch);
      auto it = c.group_of.find(sc.key);
      if (it == c.group_of.end())
        continue;
      sc.present[it->second] = 1;
      for (const auto& v : c.groups[it->second].views) {
        switch (v.view) {
          case HeaderView::kValue:
            scan(v.db.get(), clamp(h.value));
            break;
          case HeaderView::kRaw:
            scan(v.db.get(), clamp(h.raw_value));
            break;
          case HeaderView::kAddr:
            scan(v.db.get(), clamp(header_address(h.value)));
            break;
          case HeaderView::kName:
            scan(v.db.get(), clamp(header_display_name(h.value)));
            break;
        }
      }
    }
  }
  for (size_t g = 0; g < c.groups.size(); ++g) {
    const auto& grp = c.groups[g];
    bool present = sc.present[g] != 0;
    for (uint32_t r : grp.exists)
      matched[r] = present;
    for (uint32_t r : grp.not_exists)
      matched[r] = !present;
    for (uint32_t r : grp.negated)
      matched[r] = present && !matched[r];
  }
  if (c.all_db) {
    sc.text.clear();
    if (headers != nullptr) {
      for (const auto& h : *headers) {
        sc.text.append(h.name).append(": ").append(h.value).push_back('\n');
      }
    }
    scan(c.all_db.get(), clamp(sc.text));
    for (uint32_t r : c.all_negated)
      matched[r] = !matched[r];
  }

  // Body: the subject then every readable text, one line each, like SpamAssassin.
  if (c.body_db) {
    sc.text.clear();
    if (const mime::Header* subj = first_header(msg, "Subject"))
      sc.text.append(subj->value);
    sc.text.push_back('\n');
    for (const auto& t : msg.texts)
      sc.text.append(t.text).push_back('\n');
    scan(c.body_db.get(), clamp(sc.text));
  }
  if (c.uri_db) {
    for (const auto& u : msg.urls)
      scan(c.uri_db.get(), clamp(u.url));
  }
  if (c.rawbody_db && !msg.parts.empty())
    scan(c.rawbody_db.get(), clamp(msg.parts[0].raw_body));
  if (c.full_db)
    scan(c.full_db.get(), clamp(msg.raw));
  if (scan_rc != HS_SUCCESS) {
    return Error::temporary(fmt::format("vectorscan scan failed (error {})", scan_rc));
  }

  if (!c.fact_rules.empty()) {
    for (const auto& f : msg.facts) {
      auto it = c.fact_rules.find(f);
      if (it == c.fact_rules.end())
        continue;
      for (uint32_t r : it->second)
        matched[r] = 1;
    }
  }
  for (uint32_t r : c.eval_rules) {
    matched[r] = run_eval(c.specs[r].eval, c.specs[r].eval_arg, msg);
  }

  // Metas last, dependencies first (order computed at load).
  for (uint32_t r : c.meta_order) {
    auto& st = sc.stack;
    st.clear();
    for (const auto& in : c.specs[r].meta) {
      if (in.op == MetaOp::kRule) {
        st.push_back(matched[in.value]);
        continue;
      }
      if (in.op == MetaOp::kConst) {
        st.push_back(in.value);
        continue;
      }
      if (in.op == MetaOp::kNot) {
        st.back() = !st.back();
        continue;
      }
      int32_t b = st.back();
      st.pop_back();
      int32_t& a = st.back();
      switch (in.op) {
        case MetaOp::kAnd:
          a = (a != 0) && (b != 0);
          break;
        case MetaOp::kOr:
          a = (a != 0) || (b != 0);
          break;
        case MetaOp::kAdd:
          a = a + b;  // bounded: at most kMaxMetaTerms terms of 0/1 or constants <= 100000
          break;
        case MetaOp::kGt:
          a = a > b;
          break;
        case MetaOp::kGe:
          a = a >= b;
          break;
        case MetaOp::kLt:
          a = a < b;
          break;
        case MetaOp::kLe:
          a = a <= b;
          break;
        case MetaOp::kEq:
          a = a == b;
          break;
        case MetaOp::kNe:
          a = a != b;
          break;
        default:
          break;
      }
    }
    matched[r] = !st.empty() && st.back() != 0;
  }

  std::vector<RuleHit> hits;
  for (size_t i = 0; i < c.specs.size(); ++i) {
    if (matched[i] && c.infos[i].reported) {
      hits.push_back({c.infos[i].name, c.infos[i].score, c.infos[i].description});
    }
  }
  return hits;
}

}  // namespace mailsift::rules
