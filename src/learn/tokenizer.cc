#include "learn/tokenizer.h"

#include <openssl/evp.h>
// Inlined (same algorithm and version as libxxhash): the per-word hashes are of a few bytes,
// where the library call and its length dispatch are most of the cost.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <iterator>
#include <string_view>

#include "core/sort_unique.h"

namespace mailsift::learn {
namespace {

// Feature family prefixes. Every feature text starts with one of these, so two families can
// only collide through a 64-bit hash collision. Keep them short: they are hashed per feature.
constexpr std::string_view kBody = "w:";          // visible body word
constexpr std::string_view kBodyCaps = "C:";      // ALLCAPS body word (lower-cased)
constexpr std::string_view kSubject = "s:";       // subject word
constexpr std::string_view kSubjectCaps = "sC:";  // ALLCAPS subject word
constexpr std::string_view kPunct = "p:";         // "!!", "$$" runs (body and subject)
constexpr std::string_view kLong = "long:";       // over-long word, coarse shape only
constexpr std::string_view kHidden = "hid:";      // HTML hidden-text word
constexpr std::string_view kFact = "f:";          // parser facts and our own derived facts
constexpr std::string_view kHeaderName = "hn:";   // header present
constexpr std::string_view kHeader = "h:";        // "h:<name>:<word>"
constexpr std::string_view kFrom = "from:";       // From address / domain / display-name words
constexpr std::string_view kTo = "to:";           // To/Cc addresses, domains, count bucket
constexpr std::string_view kReceived = "rcv:";    // Received header words (hosts, helo, IPs)
constexpr std::string_view kMsgId = "mid:";       // Message-ID domain / shape
constexpr std::string_view kUrl = "u:";           // URL host and parent domains
constexpr std::string_view kUrlPath = "up:";      // URL path pieces
constexpr std::string_view kEmail = "em:";        // e-mail address domains seen in bodies
constexpr std::string_view kPart = "pt:";         // MIME part types / charsets / encodings
constexpr std::string_view kAttach = "att:";      // attachment types and extensions
constexpr std::string_view kTag = "tag:";         // HTML tag / attribute names
constexpr std::string_view kStat = "n:";          // size / count buckets
constexpr std::string_view kTagValue = "tv:";     // HTML attribute value words
constexpr std::string_view kHtmlComment = "hc:";  // HTML comment words
constexpr uint64_t kPairSeed = 0x05b1a7e5u;       // OSB pair hash seed (pairs of word hashes)

// A table: the word scan tests every byte of every text, and one load beats four range tests.
constexpr std::array<bool, 256> kWordByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
  return t;
}();
bool is_word_byte(unsigned char c) {
  return kWordByte[c];
}
bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

std::string lower_copy(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = ascii_lower(c);
  return out;
}

// Calls f(word) for each word of text: runs of letters/digits/UTF-8 bytes, joined across one
// inner '.', ',', '\'', '-' or '_' (keeps "e-mail", "don't", "1,000.00", "www.example.com"), with
// a leading '$' before a digit and a trailing '%' after a digit kept (prices, rates). Also calls
// punct(run) for runs of 2+ '!' or '$'. Stops early when f returns false.
template <typename WordFn, typename PunctFn>
void for_each_word(std::string_view text, WordFn&& f, PunctFn&& punct) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '!' || c == '$') {
      size_t j = i;
      while (j < n && text[j] == static_cast<char>(c))
        ++j;
      if (j - i >= 2)
        punct(text.substr(i, std::min<size_t>(j - i, 4)));
      if (c == '$' && j - i == 1 && j < n && is_digit(static_cast<unsigned char>(text[j]))) {
        // fall through into a word that starts at the '$'
      } else {
        i = j;
        continue;
      }
    } else if (!is_word_byte(c)) {
      ++i;
      continue;
    }
    size_t start = i;
    size_t j = (c == '$') ? i + 1 : i;
    while (j < n) {
      unsigned char d = static_cast<unsigned char>(text[j]);
      if (is_word_byte(d)) {
        ++j;
        continue;
      }
      if ((d == '.' || d == ',' || d == '\'' || d == '-' || d == '_') && j + 1 < n &&
          is_word_byte(static_cast<unsigned char>(text[j + 1])) && j > start) {
        ++j;
        continue;
      }
      if (d == '%' && is_digit(static_cast<unsigned char>(text[j - 1])))
        ++j;
      break;
    }
    i = j;
    if (!f(text.substr(start, j - start)))
      return;
  }
}

class Emitter {
 public:
  Emitter(const FeatureOptions& opt, std::vector<uint64_t>* out,
          std::vector<std::pair<uint64_t, std::string>>* named)
      : opt_(opt), out_(out), named_(named) {}

  // The feature is the hash of prefix + text.
  uint64_t emit(std::string_view prefix, std::string_view text) {
    char* p = feature_buffer(prefix.size() + text.size());
    p = std::copy(prefix.begin(), prefix.end(), p);  // (memcpy of an empty view is UB)
    std::copy(text.begin(), text.end(), p);
    return finish(prefix.size() + text.size());
  }
  // emit(prefix, lower-cased text) without a temporary string.
  uint64_t emit_lower(std::string_view prefix, std::string_view text) {
    char* p = feature_buffer(prefix.size() + text.size());
    p = std::copy(prefix.begin(), prefix.end(), p);
    for (size_t i = 0; i < text.size(); ++i)
      p[i] = ascii_lower(text[i]);
    return finish(prefix.size() + text.size());
  }
  void emit2(std::string_view prefix, std::string_view a, std::string_view b) {
    tmp_.assign(a);
    tmp_.append(b);
    emit(prefix, tmp_);
  }
  void emit_pair(uint64_t a, uint64_t b, size_t distance, const std::string* name_a,
                 const std::string* name_b) {
    uint64_t v[3] = {a, b, distance};
    uint64_t h = XXH3_64bits_withSeed(v, sizeof v, kPairSeed);
    out_->push_back(h);
    if (named_ && name_a && name_b)
      named_->emplace_back(h, *name_a + " <" + std::to_string(distance) + "> " + *name_b);
  }
  bool naming() const { return named_ != nullptr; }
  const FeatureOptions& opt() const { return opt_; }

 private:
  // buf_ only grows, so composing a feature is two copies into it, without std::string's
  // assign/append bookkeeping (most of a feature's cost on short words).
  char* feature_buffer(size_t n) {
    if (buf_.size() < n)
      buf_.resize(std::max(n, 2 * buf_.size()));
    return buf_.data();
  }
  uint64_t finish(size_t n) {
    uint64_t h = XXH3_64bits(buf_.data(), n);
    out_->push_back(h);
    if (named_)
      named_->emplace_back(h, std::string(buf_.data(), n));
    return h;
  }

  const FeatureOptions& opt_;
  std::vector<uint64_t>* out_;
  std::vector<std::pair<uint64_t, std::string>>* named_;
  std::string buf_, tmp_;
};

// A stream of words with OSB (orthogonal sparse bigram) pairs: each word is paired with each of
// the previous window-1 words, the pair feature keyed by the distance. Pairs capture phrases
// ("click <1> here", "remove <2> list") that single words cannot.
class WordStream {
 public:
  WordStream(Emitter& em, std::string_view prefix, std::string_view caps_prefix, size_t max_words)
      : em_(em), prefix_(prefix), caps_prefix_(caps_prefix), max_words_(max_words) {}

  size_t words() const { return count_; }
  bool full() const { return count_ >= max_words_; }
  void reset_window() { filled_ = 0; }

  // Returns false once the word cap is reached.
  bool add(std::string_view raw) {
    if (count_ >= max_words_)
      return false;
    const FeatureOptions& opt = em_.opt();
    if (raw.size() < opt.min_word_bytes)
      return true;
    if (raw.size() > opt.max_word_bytes) {
      // Shape only: base64 junk, long URLs, hashes. Class of first byte + length decade.
      char kind = is_digit(static_cast<unsigned char>(raw[0])) ? 'd'
                  : static_cast<unsigned char>(raw[0]) >= 0x80 ? 'u'
                                                               : 'a';
      std::string shape(1, kind);
      shape += std::to_string(std::min<size_t>(raw.size() / 10, 20));
      em_.emit(kLong, shape);
      reset_window();
      return true;
    }
    ++count_;
    size_t upper = 0, lower = 0, digits = 0;
    for (char ch : raw) {
      upper += ch >= 'A' && ch <= 'Z';
      lower += ch >= 'a' && ch <= 'z';
      digits += is_digit(static_cast<unsigned char>(ch));
    }
    // The word is raw lower-cased; emit_lower hashes it without a copy. The copy in word_ is
    // made only when features are being named.
    uint64_t h;
    if (digits == raw.size() && raw.size() > 6) {
      // Long digit strings (phone numbers, ids) are unique noise; keep only their length.
      word_ = "#" + std::to_string(raw.size());
      h = em_.emit(prefix_, word_);
    } else {
      if (opt.caps_signal && upper >= 3 && lower == 0)
        em_.emit_lower(caps_prefix_, raw);
      h = em_.emit_lower(prefix_, raw);
      if (em_.naming())
        word_ = lower_copy(raw);
    }
    size_t window = opt.osb_window;
    if (window >= 2) {
      for (size_t d = 1; d < window && d <= filled_; ++d) {
        size_t idx = (pos_ + kRing - d) % kRing;
        em_.emit_pair(ring_[idx], h, d, em_.naming() ? &names_[idx] : nullptr,
                      em_.naming() ? &word_ : nullptr);
      }
      ring_[pos_] = h;
      if (em_.naming())
        names_[pos_] = word_;
      pos_ = (pos_ + 1) % kRing;
      if (filled_ < kRing)
        ++filled_;
    }
    return true;
  }

 private:
  static constexpr size_t kRing = 16;  // window is capped at 16
  Emitter& em_;
  std::string_view prefix_, caps_prefix_;
  size_t max_words_;
  size_t count_ = 0;
  uint64_t ring_[kRing] = {};
  std::string names_[kRing];
  size_t pos_ = 0, filled_ = 0;
  std::string word_;
};

void tokenize_plain(Emitter& em, std::string_view prefix, std::string_view text, size_t max_words) {
  size_t n = 0;
  for_each_word(
      text,
      [&](std::string_view w) {
        if (w.size() < em.opt().min_word_bytes || w.size() > em.opt().max_word_bytes)
          return true;
        em.emit_lower(prefix, w);
        return ++n < max_words;
      },
      [](std::string_view) {});
}

std::string_view bucket(size_t n) {
  if (n == 0)
    return "0";
  if (n == 1)
    return "1";
  if (n == 2)
    return "2";
  if (n <= 5)
    return "3-5";
  if (n <= 10)
    return "6-10";
  if (n <= 30)
    return "11-30";
  if (n <= 100)
    return "31-100";
  return "100+";
}

std::string log2_bucket(size_t n) {
  int b = 0;
  while (n > 1 && b < 40) {
    n >>= 1;
    ++b;
  }
  return std::to_string(b);
}

bool is_ip_literal(std::string_view host) {
  if (host.empty())
    return false;
  if (host.front() == '[')
    return true;
  for (char c : host)
    if (!is_digit(static_cast<unsigned char>(c)) && c != '.')
      return false;
  return true;
}

// Host plus each parent domain with at least two labels: "a.b.example.com" → itself,
// "b.example.com", "example.com".
void emit_host(Emitter& em, std::string_view prefix, std::string_view host) {
  if (host.empty())
    return;
  em.emit(prefix, host);
  if (is_ip_literal(host))
    return;
  size_t dots = static_cast<size_t>(std::count(host.begin(), host.end(), '.'));
  std::string_view rest = host;
  for (int i = 0; dots >= 2 && i < 4; ++i, --dots) {
    rest = rest.substr(rest.find('.') + 1);
    em.emit(prefix, rest);
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// "Name <a@b>" → "a@b" (lower-case), bare "a@b" too; "" when there is no '@'. Kept local (not
// mime::extract_address) so features depend only on the Message data, not parser helpers.
std::string address_of(std::string_view v) {
  size_t lt = v.rfind('<');
  if (lt != std::string_view::npos) {
    size_t gt = v.find('>', lt);
    std::string_view inner = v.substr(lt + 1, gt == std::string_view::npos ? gt : gt - lt - 1);
    if (inner.find('@') != std::string_view::npos)
      return lower_copy(trim(inner).substr(0, 200));
  }
  size_t at = v.find('@');
  if (at == std::string_view::npos)
    return {};
  size_t b = at, e = at;
  auto addr_byte = [](char c) {
    return c != ' ' && c != '\t' && c != '<' && c != '>' && c != ',' && c != '"' && c != '(' &&
           c != ')' && c != ';';
  };
  while (b > 0 && addr_byte(v[b - 1]))
    --b;
  while (e < v.size() && addr_byte(v[e]))
    ++e;
  return lower_copy(v.substr(b, std::min<size_t>(e - b, 200)));
}

std::string_view domain_of(std::string_view address) {
  size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
}

void tokenize_url(Emitter& em, const mime::Url& url) {
  std::string_view u = url.url;
  size_t scheme_end = u.find(':');
  if (scheme_end != std::string_view::npos && scheme_end < 12) {
    em.emit_lower("us:", u.substr(0, scheme_end));
  }
  std::string host = lower_copy(url.host);
  emit_host(em, kUrl, host);
  if (is_ip_literal(host))
    em.emit(kFact, "URL_IP_HOST");
  if (url.text_mismatch)
    em.emit(kFact, "URL_TEXT_MISMATCH");
  // Path pieces after the host: "/cgi-bin/remove.php?id=3" → cgi, bin, remove, php, id.
  size_t p = u.find("//");
  p = (p == std::string_view::npos) ? 0 : p + 2;
  size_t path_start = u.find_first_of("/?#", p);
  if (path_start == std::string_view::npos)
    return;
  std::string_view path = u.substr(path_start, 256);
  size_t emitted = 0;
  size_t i = 0;
  while (i < path.size() && emitted < 10) {
    while (i < path.size() && !(std::isalnum(static_cast<unsigned char>(path[i]))))
      ++i;
    size_t j = i;
    while (j < path.size() && std::isalnum(static_cast<unsigned char>(path[j])))
      ++j;
    if (j - i >= 2 && j - i <= 20) {
      em.emit_lower(kUrlPath, path.substr(i, j - i));
      ++emitted;
    }
    i = j;
  }
}

// Tag and attribute names of raw HTML (e.g. "tag:font", "tag:font.color", "tag:img.width").
// Spam favours layout tricks; names alone are cheap and stable.
// Words of an attribute value, under the attribute's name ("tv:font.face:arial").
void tokenize_attr_value(Emitter& em, const std::string& attr, std::string_view value,
                         size_t* budget) {
  for_each_word(
      value.substr(0, 200),
      [&](std::string_view w) {
        if (*budget == 0)
          return false;
        if (w.size() < 2 || w.size() > em.opt().max_word_bytes)
          return true;
        --*budget;
        std::string text = attr;
        text += ':';
        em.emit_lower(kTagValue, text + std::string(w));
        return true;
      },
      [](std::string_view) {});
}

void tokenize_html_tags(Emitter& em, std::string_view html) {
  const FeatureOptions& opt = em.opt();
  html = html.substr(0, 64 * 1024);
  size_t tags = 0;
  size_t i = 0;
  size_t value_budget = 300, comment_budget = 100;
  std::string name, attr;
  while (tags < 300) {
    i = html.find('<', i);
    if (i == std::string_view::npos || i + 1 >= html.size())
      break;
    ++i;
    if (html[i] == '!' && opt.html_comments && html.substr(i, 3) == "!--") {
      size_t end = html.find("-->", i + 3);
      std::string_view body = html.substr(i + 3, end == std::string_view::npos ? 512 : end - i - 3);
      for_each_word(
          body.substr(0, 512),
          [&](std::string_view w) {
            if (comment_budget == 0)
              return false;
            if (w.size() >= 2 && w.size() <= opt.max_word_bytes) {
              --comment_budget;
              em.emit_lower(kHtmlComment, w);
            }
            return true;
          },
          [](std::string_view) {});
      if (end != std::string_view::npos)
        i = end + 3;
      continue;
    }
    if (html[i] == '/' || html[i] == '!')
      continue;
    size_t j = i;
    while (j < html.size() && std::isalnum(static_cast<unsigned char>(html[j])) && j - i < 12)
      ++j;
    if (j == i)
      continue;
    name = lower_copy(html.substr(i, j - i));
    em.emit(kTag, name);
    ++tags;
    // Attribute names until '>' (bounded).
    size_t end = html.find('>', j);
    if (end == std::string_view::npos || end - j > 512)
      end = std::min(html.size(), j + 512);
    size_t k = j;
    while (k < end) {
      while (k < end && !std::isalpha(static_cast<unsigned char>(html[k]))) {
        if (html[k] == '"' || html[k] == '\'') {  // skip quoted values
          size_t q = html.find(html[k], k + 1);
          k = (q == std::string_view::npos || q > end) ? end : q + 1;
        } else {
          ++k;
        }
      }
      size_t a = k;
      while (k < end && (std::isalnum(static_cast<unsigned char>(html[k])) || html[k] == '-'))
        ++k;
      const bool named = k > a && k - a < 20;
      if (named) {
        attr = name;
        attr += '.';
        attr += lower_copy(html.substr(a, k - a));
        em.emit(kTag, attr);
      }
      // The value: skipped, or tokenised under the attribute name.
      while (k < end && (html[k] == ' ' || html[k] == '\t' || html[k] == '\r' || html[k] == '\n'))
        ++k;
      if (k < end && html[k] == '=') {
        ++k;
        while (k < end && (html[k] == ' ' || html[k] == '\t'))
          ++k;
        size_t v = k;
        if (k < end && (html[k] == '"' || html[k] == '\'')) {
          size_t q = html.find(html[k], k + 1);
          size_t vend = (q == std::string_view::npos || q > end) ? end : q;
          v = k + 1;
          k = vend < end ? vend + 1 : end;
          if (opt.html_attr_values && named && vend > v)
            tokenize_attr_value(em, attr, html.substr(v, vend - v), &value_budget);
        } else {
          while (k < end && html[k] != ' ' && html[k] != '\t' && html[k] != '\r' && html[k] != '\n')
            ++k;
          if (opt.html_attr_values && named && k > v)
            tokenize_attr_value(em, attr, html.substr(v, k - v), &value_budget);
        }
      }
    }
    i = end;
  }
}

void tokenize_headers(Emitter& em, const mime::Message& msg) {
  const FeatureOptions& opt = em.opt();
  if (msg.parts.empty())
    return;
  const auto& headers = msg.parts[0].headers;
  size_t received = 0, to_count = 0;
  std::string from_domain, reply_domain;
  std::string lname, prefix;  // reused for every header
  size_t header_index = 0;
  for (const mime::Header& h : headers) {
    if (++header_index > 200)
      break;
    if (h.name.empty() || h.name.size() > 40)
      continue;
    lname.resize(h.name.size());
    for (size_t i = 0; i < h.name.size(); ++i)
      lname[i] = ascii_lower(h.name[i]);
    // Our own verdict headers must never feed back into learning.
    if (lname.rfind("x-spam", 0) == 0 || lname.rfind("x-mailsift", 0) == 0)
      continue;
    if (opt.header_names)
      em.emit(kHeaderName, lname);
    std::string_view value = h.value;
    if (lname == "subject") {
      WordStream subject(em, kSubject, kSubjectCaps, opt.max_subject_words);
      for_each_word(
          value, [&](std::string_view w) { return subject.add(w); },
          [&](std::string_view run) { em.emit2(kPunct, "s", run); });
      if (trim(value).empty())
        em.emit(kFact, "SUBJECT_EMPTY");
    } else if (lname == "from") {
      std::string addr = address_of(value);
      if (!addr.empty()) {
        em.emit2(kFrom, "a:", addr);
        from_domain = std::string(domain_of(addr));
        emit_host(em, "from:d:", from_domain);
      } else {
        em.emit(kFact, "FROM_NO_ADDRESS");
      }
      size_t lt = value.find('<');
      if (lt != std::string_view::npos && lt > 0) {
        tokenize_plain(em, "from:n:", value.substr(0, lt), 10);
      } else {
        em.emit(kFact, "FROM_NO_NAME");
      }
    } else if (lname == "to" || lname == "cc") {
      size_t n = static_cast<size_t>(std::count(value.begin(), value.end(), '@'));
      to_count += n;
      std::string addr = address_of(value);
      if (!addr.empty()) {
        em.emit2(kTo, "a:", addr);
        em.emit2(kTo, "d:", domain_of(addr));
      }
      tokenize_plain(em, lname == "to" ? "to:w:" : "cc:w:", value, 20);
    } else if (lname == "reply-to") {
      std::string addr = address_of(value);
      reply_domain = std::string(domain_of(addr));
      em.emit2(kHeader, "reply-to:d:", reply_domain);
    } else if (lname == "received") {
      if (opt.received_words && received < opt.max_received) {
        ++received;
        tokenize_plain(em, kReceived, value, opt.max_header_words);
      }
    } else if (lname == "message-id") {
      std::string_view id = trim(value);
      size_t at = id.rfind('@');
      if (at == std::string_view::npos) {
        em.emit(kFact, "MSGID_NO_AT");
      } else {
        std::string_view dom = id.substr(at + 1);
        if (!dom.empty() && dom.back() == '>')
          dom.remove_suffix(1);
        em.emit_lower(kMsgId, dom.substr(0, 80));
      }
    } else if (lname == "date") {
      // Only the zone and the shape: exact dates are noise.
      std::string_view v = trim(value);
      size_t sp = v.rfind(' ');
      if (sp != std::string_view::npos)
        em.emit2(kHeader, "date:z:", v.substr(sp + 1, 12));
      if (v.find(',') == std::string_view::npos)
        em.emit(kFact, "DATE_NO_WEEKDAY");
    } else if (lname == "content-type") {
      em.emit2(kHeader, "ct:", msg.parts[0].content_type);
      em.emit2(kHeader, "cs:", msg.parts[0].charset);
    } else if (opt.transit_headers && (lname == "return-path" || lname == "delivered-to" ||
                                       lname == "references" || lname == "in-reply-to")) {
      prefix.assign(kHeader).append(lname).push_back(':');
      tokenize_plain(em, prefix, value, opt.max_header_words);
    } else if (lname == "references" || lname == "in-reply-to" || lname == "dkim-signature" ||
               lname == "domainkey-signature" || lname == "x-original-to" ||
               lname == "delivered-to" || lname == "return-path") {
      // Identifiers / signatures / transit: presence (above) is the useful part.
    } else {
      prefix.assign(kHeader).append(lname).push_back(':');
      tokenize_plain(em, prefix, value, opt.max_header_words);
    }
  }
  em.emit2(kTo, "n:", bucket(to_count));
  if (!reply_domain.empty() && reply_domain != from_domain)
    em.emit(kFact, "REPLYTO_DOMAIN_DIFF");
}

void extract(const mime::Message& msg, const FeatureOptions& opt, Emitter& em) {
  tokenize_headers(em, msg);

  // Visible text, one OSB stream with the window reset at part boundaries.
  WordStream body(em, kBody, kBodyCaps, opt.max_body_words);
  size_t text_bytes = 0, html_texts = 0, plain_texts = 0, hidden_words = 0;
  for (const mime::TextPart& t : msg.texts) {
    text_bytes += t.text.size();
    (t.from_html ? html_texts : plain_texts)++;
    body.reset_window();
    if (!body.full()) {
      for_each_word(
          t.text, [&](std::string_view w) { return body.add(w); },
          [&](std::string_view run) { em.emit2(kPunct, "b", run); });
    }
    if (!t.hidden_text.empty() && hidden_words < opt.max_hidden_words) {
      em.emit(kFact, "HTML_HIDDEN_TEXT");
      for_each_word(
          t.hidden_text,
          [&](std::string_view w) {
            if (w.size() >= opt.min_word_bytes && w.size() <= opt.max_word_bytes)
              em.emit_lower(kHidden, w);
            return ++hidden_words < opt.max_hidden_words;
          },
          [](std::string_view) {});
    }
  }
  if (opt.size_buckets) {
    em.emit2(kStat, "text:", log2_bucket(text_bytes));
    em.emit2(kStat, "words:", bucket(body.words()));
  }
  if (html_texts > 0 && plain_texts == 0)
    em.emit(kFact, "HTML_ONLY");
  if (html_texts > 0 && plain_texts > 0)
    em.emit(kFact, "HTML_AND_PLAIN");
  if (msg.texts.empty())
    em.emit(kFact, "NO_TEXT");

  // MIME structure.
  size_t part_count = 0;
  for (const mime::Part& p : msg.parts) {
    if (++part_count > 30)
      break;
    em.emit2(kPart, "t:", p.content_type);
    if (!p.charset.empty())
      em.emit2(kPart, "cs:", p.charset);
    if (!p.transfer_encoding.empty())
      em.emit2(kPart, "te:", p.transfer_encoding);
    if (opt.html_tags && p.content_type == "text/html" && !p.is_multipart)
      tokenize_html_tags(em, p.decoded);
  }
  if (opt.size_buckets)
    em.emit2(kStat, "parts:", bucket(msg.parts.size()));

  size_t urls = 0;
  for (const mime::Url& u : msg.urls) {
    if (urls++ >= opt.max_urls)
      break;
    tokenize_url(em, u);
  }
  if (opt.size_buckets)
    em.emit2(kStat, "urls:", bucket(msg.urls.size()));

  size_t emails = 0;
  for (const std::string& e : msg.emails) {
    if (emails++ >= 10)
      break;
    em.emit2(kEmail, "", domain_of(e));
  }

  for (const mime::Attachment& a : msg.attachments) {
    em.emit2(kAttach, "t:", lower_copy(a.declared_type));
    if (!a.sniffed_type.empty())
      em.emit2(kAttach, "s:", a.sniffed_type);
    size_t dot = a.filename.rfind('.');
    if (dot != std::string::npos && a.filename.size() - dot <= 8)
      em.emit2(kAttach, "x:", lower_copy(std::string_view(a.filename).substr(dot + 1)));
    em.emit2(kAttach, "z:", log2_bucket(a.size));
  }

  size_t facts = 0;
  for (const std::string& f : msg.facts) {
    if (!opt.parser_facts || facts++ >= 64)
      break;
    em.emit(kFact, f);
  }
}

// lname: the header name lower-cased.
bool transit_header(std::string_view lname) {
  return lname == "received" || lname == "return-path" || lname == "delivered-to" ||
         lname == "x-original-to" || lname.rfind("x-spam", 0) == 0 ||
         lname.rfind("x-mailsift", 0) == 0 || lname == "authentication-results" ||
         lname.rfind("arc-", 0) == 0 || lname == "received-spf" || lname == "status" ||
         lname == "x-status" || lname == "x-uid" || lname == "x-keywords" || lname == "lines" ||
         lname == "content-length";
}

}  // namespace

std::vector<uint64_t> extract_features(const mime::Message& msg, const FeatureOptions& opt) {
  std::vector<uint64_t> out;
  out.reserve(opt.max_body_words * (opt.osb_window > 1 ? opt.osb_window : 1) + 256);
  Emitter em(opt, &out, nullptr);
  extract(msg, opt, em);
  mailsift::sort_unique(out);
  return out;
}

std::vector<std::pair<uint64_t, std::string>> extract_named_features(const mime::Message& msg,
                                                                     const FeatureOptions& opt) {
  std::vector<uint64_t> hashes;
  std::vector<std::pair<uint64_t, std::string>> named;
  Emitter em(opt, &hashes, &named);
  extract(msg, opt, em);
  std::sort(named.begin(), named.end());
  named.erase(std::unique(named.begin(), named.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              named.end());
  return named;
}

namespace {

// SHA-256 fed through a local buffer: EVP_DigestUpdate costs ~1,000 instructions of overhead per
// call, and the digest is fed a few bytes at a time (one header line, one body line). The hashed
// byte stream is the same, so the digest is the same.
class BufferedSha256 {
 public:
  BufferedSha256() : ctx_(EVP_MD_CTX_new()) {
    // Fetched once: the implicit fetch behind EVP_sha256() in every Init is itself costly.
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_DigestInit_ex(ctx_, md != nullptr ? md : EVP_sha256(), nullptr);
  }
  ~BufferedSha256() { EVP_MD_CTX_free(ctx_); }
  BufferedSha256(const BufferedSha256&) = delete;
  BufferedSha256& operator=(const BufferedSha256&) = delete;

  void update(const void* data, size_t len) {
    if (used_ + len > sizeof buf_) {
      drain();
      if (len >= sizeof buf_) {
        EVP_DigestUpdate(ctx_, data, len);
        return;
      }
    }
    std::memcpy(buf_ + used_, data, len);
    used_ += len;
  }
  unsigned finish(unsigned char* md) {
    drain();
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(ctx_, md, &md_len);
    return md_len;
  }

 private:
  void drain() {
    if (used_ > 0)
      EVP_DigestUpdate(ctx_, buf_, used_);
    used_ = 0;
  }
  EVP_MD_CTX* ctx_;
  size_t used_ = 0;
  unsigned char buf_[16384];
};

}  // namespace

std::string message_digest(const mime::Message& msg) {
  BufferedSha256 sha;
  unsigned char md[EVP_MAX_MD_SIZE];
  std::string line;
  if (!msg.parts.empty()) {
    for (const mime::Header& h : msg.parts[0].headers) {
      // Name lower-cased, value whitespace-collapsed: refolding in transit does not matter.
      // Built in one reused buffer, a run of non-blank bytes at a time.
      line.resize(h.name.size());
      for (size_t i = 0; i < h.name.size(); ++i)
        line[i] = ascii_lower(h.name[i]);
      if (transit_header(line))
        continue;
      line += ':';
      std::string_view v = h.raw_value;
      auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
      size_t i = 0;
      bool first = true;
      while (i < v.size()) {
        while (i < v.size() && blank(v[i]))
          ++i;
        size_t start = i;
        while (i < v.size() && !blank(v[i]))
          ++i;
        if (i == start)
          break;
        if (!first)
          line += ' ';
        first = false;
        line.append(v.data() + start, i - start);
      }
      line += '\n';
      sha.update(line.data(), line.size());
    }
    sha.update("\n", 1);
    // Body: CRLF → LF, trailing whitespace of each line and trailing blank lines ignored.
    std::string_view body = msg.parts[0].raw_body;
    size_t pending_newlines = 0;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      std::string_view l =
          body.substr(pos, nl == std::string_view::npos ? body.size() - pos : nl - pos);
      pos = (nl == std::string_view::npos) ? body.size() : nl + 1;
      while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t'))
        l.remove_suffix(1);
      if (l.empty()) {
        ++pending_newlines;
        continue;
      }
      for (; pending_newlines > 0; --pending_newlines)
        sha.update("\n", 1);
      sha.update(l.data(), l.size());
      pending_newlines = 1;
    }
  }
  const unsigned md_len = sha.finish(md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(md_len * 2);
  for (unsigned i = 0; i < md_len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace mailsift::learn
