#include "signing/signing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "arc/arc.h"
#include "core/ascii.h"
#include "dmarc/dmarc.h"

namespace mailsift::signing {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool valid_label_text(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.')
    return false;
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0)
        return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return false;
    if (++label > 63)
      return false;
  }
  return true;
}

// One top-level header field: [begin, end) of the raw bytes (end after its line end), and the
// name. Stops at the first empty line.
struct RawField {
  size_t begin = 0, end = 0, colon = 0;
  std::string_view name;
};

std::vector<RawField> header_fields(std::string_view raw) {
  std::vector<RawField> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    size_t line_end = eol == std::string_view::npos ? raw.size() : eol + 1;
    std::string_view line = raw.substr(pos, line_end - pos);
    if (line == "\r\n" || line == "\n" || line.empty())
      break;
    if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) {
      out.back().end = line_end;  // continuation of the previous field
    } else {
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        RawField f;
        f.begin = pos;
        f.end = line_end;
        f.colon = pos + colon;
        f.name = trim(line.substr(0, colon));
        out.push_back(f);
      }
    }
    pos = line_end;
  }
  return out;
}

// The wire form of a value with "\n"-folds (as the milter carries them): CRLF folds.
std::string crlf_value(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
      out += '\r';
    out += value[i];
  }
  return out;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::config(fmt::format("cannot read key file {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return Error::config(fmt::format("cannot read key file {}", path));
  return ss.str();
}

std::optional<std::string> base64_decode(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '=')
      continue;
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

Field split_field(std::string_view field) {
  Field f;
  f.field = std::string(field);
  size_t colon = field.find(':');
  f.name = std::string(trim(field.substr(0, colon)));
  std::string_view v =
      colon == std::string_view::npos ? std::string_view() : field.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r'))
    v.remove_suffix(1);
  for (char c : v) {
    if (c != '\r')
      f.value += c;
  }
  return f;
}

Result<std::vector<KeyEntry>> parse_key_table(std::string_view text) {
  std::vector<KeyEntry> out;
  std::string item;
  auto flush = [&]() -> Status {
    std::string_view e = trim(item);
    if (e.empty())
      return {};
    size_t a = e.find(':');
    size_t b = a == std::string_view::npos ? a : e.find(':', a + 1);
    if (b == std::string_view::npos)
      return Error::config(
          fmt::format("dkim_sign.keys: entry '{}' is not DOMAIN:SELECTOR:PATH", e));
    KeyEntry k;
    k.domain = ascii_lower(trim(e.substr(0, a)));
    while (!k.domain.empty() && k.domain.back() == '.')
      k.domain.pop_back();
    k.selector = std::string(trim(e.substr(a + 1, b - a - 1)));
    k.path = std::string(trim(e.substr(b + 1)));
    if (!valid_label_text(k.domain))
      return Error::config(fmt::format("dkim_sign.keys: bad domain in '{}'", e));
    if (!valid_label_text(k.selector))
      return Error::config(fmt::format("dkim_sign.keys: bad selector in '{}'", e));
    if (k.path.empty())
      return Error::config(fmt::format("dkim_sign.keys: no key file in '{}'", e));
    for (const auto& prev : out)
      if (prev.domain == k.domain)
        return Error::config(fmt::format("dkim_sign.keys: domain {} listed twice", k.domain));
    out.push_back(std::move(k));
    return {};
  };
  bool comment = false;  // '#' to the end of the line
  for (char c : text) {
    if (c == '#')
      comment = true;
    if (comment) {
      if (c != '\n')
        continue;
      comment = false;
    }
    if (c == ',' || c == ';' || c == '\n' || c == ' ' || c == '\t' || c == '\r') {
      if (auto st = flush(); !st)
        return st.error();
      item.clear();
    } else {
      item += c;
    }
  }
  if (auto st = flush(); !st)
    return st.error();
  return out;
}

Result<dkim::SigningKey> load_key_file(const std::string& path) {
  auto text = read_file(path);
  if (!text)
    return text.error();
  if (text->find("-----BEGIN") != std::string::npos) {
    auto key = dkim::SigningKey::from_pem(*text);
    if (!key)
      return Error::config(fmt::format("key file {}: {}", path, key.error().message));
    return key;
  }
  auto seed = base64_decode(trim(*text));
  if (!seed || seed->size() != 32)
    return Error::config(
        fmt::format("key file {}: neither PEM nor a base64 32-byte Ed25519 seed", path));
  auto key = dkim::SigningKey::from_ed25519_seed(*seed);
  if (!key)
    return Error::config(fmt::format("key file {}: {}", path, key.error().message));
  return key;
}

std::string from_domain(std::string_view raw) {
  std::vector<std::string> values;
  for (const RawField& f : header_fields(raw)) {
    if (f.name.size() == 4 && ascii_lower(f.name) == "from")
      values.emplace_back(raw.substr(f.colon + 1, f.end - f.colon - 1));
  }
  if (values.empty())
    return {};
  auto d = dmarc::author_domain(values);
  return d ? ascii_lower(*d) : std::string();
}

std::string with_subject(std::string_view raw, std::string_view value) {
  const std::vector<RawField> fields = header_fields(raw);
  const std::string field = "Subject: " + crlf_value(value) + "\r\n";
  for (const RawField& f : fields) {
    if (f.name.size() == 7 && ascii_lower(f.name) == "subject") {
      std::string out(raw.substr(0, f.begin));
      out += field;
      out += raw.substr(f.end);
      return out;
    }
  }
  size_t at = fields.empty() ? 0 : fields.back().end;
  std::string out(raw.substr(0, at));
  out += field;
  out += raw.substr(at);
  return out;
}

Signer::Signer(std::vector<KeyEntry> keys, dkim::SignOptions base, bool subdomains)
    : keys_(std::move(keys)), base_(std::move(base)), subdomains_(subdomains) {}

Result<std::shared_ptr<const Signer>> Signer::from_config(const Config& config) {
  std::vector<KeyEntry> keys;
  dkim::SignOptions base;
  if (config.get_bool("dkim_sign.enabled")) {
    auto table = parse_key_table(config.get_string("dkim_sign.keys"));
    if (!table)
      return table.error();
    keys = std::move(table).value();
    if (keys.empty())
      return Error::config("dkim_sign.enabled is on but dkim_sign.keys lists no key");
    for (KeyEntry& k : keys) {
      auto key = load_key_file(k.path);
      if (!key)
        return Error::config(fmt::format("dkim_sign.keys {}: {}", k.domain, key.error().message));
      k.key = std::move(key).value();
    }
    std::string headers = config.get_string("dkim_sign.headers");
    std::string item;
    for (char c : headers + ":") {
      if (c == ':' || c == ',' || std::isspace(static_cast<unsigned char>(c))) {
        if (!item.empty())
          base.headers.push_back(ascii_lower(item));
        item.clear();
      } else {
        item += c;
      }
    }
    if (!base.headers.empty() &&
        std::find(base.headers.begin(), base.headers.end(), "from") == base.headers.end())
      return Error::config("dkim_sign.headers must include From (RFC 6376 §5.4)");
    const std::string canon = ascii_lower(config.get_string("dkim_sign.canonicalization"));
    size_t slash = canon.find('/');
    std::string h = canon.substr(0, slash);
    std::string b = slash == std::string::npos ? "simple" : canon.substr(slash + 1);
    if ((h != "relaxed" && h != "simple") || (b != "relaxed" && b != "simple"))
      return Error::config(fmt::format(
          "dkim_sign.canonicalization '{}': expected relaxed/relaxed, simple/simple, ...", canon));
    base.relaxed_header = h == "relaxed";
    base.relaxed_body = b == "relaxed";
    base.expiration = config.get_int("dkim_sign.expire_seconds");  // relative until signing
  }
  auto signer = std::make_shared<Signer>(std::move(keys), std::move(base),
                                         config.get_bool("dkim_sign.subdomains"));
  if (config.get_bool("arc_seal.enabled")) {
    const std::string& domain = config.get_string("arc_seal.domain");
    const std::string& selector = config.get_string("arc_seal.selector");
    const std::string& path = config.get_string("arc_seal.key");
    if (!valid_label_text(ascii_lower(domain)) || !valid_label_text(selector) || path.empty())
      return Error::config(
          "arc_seal.enabled needs arc_seal.domain, arc_seal.selector and "
          "arc_seal.key");
    auto key = load_key_file(path);
    if (!key)
      return Error::config(fmt::format("arc_seal.key: {}", key.error().message));
    signer->set_arc(std::move(key).value(), ascii_lower(domain), selector);
  }
  return std::shared_ptr<const Signer>(std::move(signer));
}

void Signer::set_arc(dkim::SigningKey key, std::string domain, std::string selector) {
  arc_key_ = std::move(key);
  arc_domain_ = std::move(domain);
  arc_selector_ = std::move(selector);
}

const KeyEntry* Signer::key_for(std::string_view domain) const {
  std::string d = ascii_lower(domain);
  while (!d.empty() && d.back() == '.')
    d.pop_back();
  while (!d.empty()) {
    for (const KeyEntry& k : keys_)
      if (k.domain == d)
        return &k;
    if (!subdomains_)
      return nullptr;
    size_t dot = d.find('.');
    if (dot == std::string::npos)
      return nullptr;
    d.erase(0, dot + 1);
  }
  return nullptr;
}

Result<std::optional<Field>> Signer::dkim_sign(std::string_view raw, std::string_view envelope_from,
                                               int64_t now_unix) const {
  if (keys_.empty())
    return std::optional<Field>();
  std::string domain = from_domain(raw);
  if (domain.empty()) {
    size_t at = envelope_from.rfind('@');
    if (at != std::string_view::npos)
      domain = ascii_lower(envelope_from.substr(at + 1));
  }
  const KeyEntry* entry = domain.empty() ? nullptr : key_for(domain);
  if (!entry)
    return std::optional<Field>();
  dkim::SignOptions options = base_;
  options.domain = entry->domain;
  options.selector = entry->selector;
  options.timestamp = now_unix;
  options.expiration = base_.expiration > 0 ? now_unix + base_.expiration : 0;
  auto field = dkim::sign(raw, entry->key, options);
  if (!field)
    return field.error();
  return std::optional<Field>(split_field(*field));
}

Result<std::optional<std::vector<Field>>> Signer::arc_seal(std::string_view raw,
                                                           std::string_view authentication_results,
                                                           int64_t now_unix) const {
  if (!arc_key_)
    return std::optional<std::vector<Field>>();
  size_t semi = authentication_results.find(';');
  std::string_view id = trim(authentication_results.substr(0, semi));
  std::string_view results = semi == std::string_view::npos
                                 ? std::string_view()
                                 : trim(authentication_results.substr(semi + 1));
  // This hop's chain validation, as our A-R states it (src/auth writes "arc=<cv>").
  arc::ChainResult chain;
  chain.cv = arc::ChainStatus::kNone;
  for (size_t pos = results.find("arc="); pos != std::string_view::npos;
       pos = results.find("arc=", pos + 1)) {
    if (pos > 0 && results[pos - 1] != ' ' && results[pos - 1] != ';' && results[pos - 1] != '\t' &&
        results[pos - 1] != '\n')
      continue;
    std::string_view v = results.substr(pos + 4);
    chain.cv = v.rfind("pass", 0) == 0   ? arc::ChainStatus::kPass
               : v.rfind("none", 0) == 0 ? arc::ChainStatus::kNone
                                         : arc::ChainStatus::kFail;
    break;
  }
  // Folds of our A-R value ("\n\t") become spaces in the AAR: it is one logical line.
  std::string text;
  for (char c : results)
    text += (c == '\n' || c == '\r') ? ' ' : c;
  arc::SealOptions options;
  options.domain = arc_domain_;
  options.selector = arc_selector_;
  auto sealed = arc::seal(raw, *arc_key_, options, id, text, now_unix, chain);
  if (!sealed)
    return sealed.error();
  return std::optional<std::vector<Field>>(
      std::vector<Field>{split_field(sealed->seal), split_field(sealed->message_signature),
                         split_field(sealed->authentication_results)});
}

}  // namespace mailsift::signing
