// Fingerprints: normalise -> word shingles -> min-hash signature -> LSH bands.
#include "fuzzy/fingerprint.h"
#include "core/ascii.h"

// Inlined (same algorithm and version as libxxhash): the per-word hashes are of a few bytes,
// where the library call and its length dispatch are most of the cost.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <limits>

#include "core/sort_unique.h"

namespace mailsift::fuzzy {
namespace {

constexpr std::string_view kPlaceholder = "#";

bool is_space(unsigned char c) {
  return c <= 0x20;
}
bool is_word(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

// Punctuation trimmed off the ends of a raw token.
bool is_opening(char c) {
  return c == '<' || c == '(' || c == '[' || c == '{' || c == '"' || c == '\'';
}
bool is_closing(char c) {
  switch (c) {
    case '>':
    case ')':
    case ']':
    case '}':
    case '"':
    case '\'':
    case '.':
    case ',':
    case ';':
    case ':':
    case '!':
    case '?':
      return true;
    default:
      return false;
  }
}

// s.find_first_of(set) for a set of a few characters: std::string_view's version makes a
// memchr call on the set for every byte of s.
size_t find_any(std::string_view s, std::string_view set) {
  for (size_t i = 0; i < s.size(); ++i)
    for (char c : set)
      if (s[i] == c)
        return i;
  return std::string_view::npos;
}

// Emits normalised words, collapsing runs of placeholders; stops after kMaxWords.
template <typename Emit>
class WordSink {
 public:
  explicit WordSink(Emit& emit) : emit_(emit) {}
  bool full() const { return count_ >= kMaxWords; }

  // One run of word characters; digit and hex say whether it has a digit and whether it is
  // all hex digits (found while words() scanned it).
  void word(std::string_view w, bool digit, bool hex) {
    if (w.empty() || full())
      return;
    if (digit || w.size() > 24 || (hex && w.size() >= 12)) {
      placeholder();
      return;
    }
    last_placeholder_ = false;
    ++count_;
    emit_(w);
  }
  void literal(std::string_view w) {  // emitted as is
    if (full())
      return;
    last_placeholder_ = false;
    ++count_;
    emit_(w);
  }
  void placeholder() {
    if (last_placeholder_ || full())
      return;
    last_placeholder_ = true;
    ++count_;
    emit_(kPlaceholder);
  }

  // Splits on non-word characters; '#' and '@' stand alone so normalised text re-normalises
  // to itself.
  void words(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && !full()) {
      while (i < s.size() && !is_word(static_cast<unsigned char>(s[i]))) {
        if (s[i] == '#')
          placeholder();
        if (s[i] == '@')
          literal("@");
        ++i;
      }
      size_t start = i;
      bool digit = false, hex = true;
      for (; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (!is_word(c))
          break;
        const bool is_digit = c >= '0' && c <= '9';
        digit |= is_digit;
        hex &= is_digit || (c >= 'a' && c <= 'f');
      }
      word(s.substr(start, i - start), digit, hex);
    }
  }

  // host + path words; scheme, userinfo, port, query and fragment dropped.
  void url(std::string_view u) {
    if (size_t scheme = u.find("://"); scheme != std::string_view::npos)
      u.remove_prefix(scheme + 3);
    size_t host_end = find_any(u, "/?#");
    std::string_view host = u.substr(0, host_end);
    std::string_view rest = host_end == std::string_view::npos ? "" : u.substr(host_end);
    if (size_t at = host.rfind('@'); at != std::string_view::npos)
      host.remove_prefix(at + 1);
    if (size_t colon = host.find(':'); colon != std::string_view::npos)
      host = host.substr(0, colon);
    // Host labels are words; one with a digit is a placeholder (per-recipient tracking
    // subdomains are common).
    words(host);
    size_t cut = find_any(rest, "?#");
    words(rest.substr(0, cut));
  }

  // A whole text: whitespace-separated raw tokens, each a URL, an address or plain words.
  void text(std::string_view t) {
    std::string token;  // the lower-cased raw token; grows only, so no copy call per token
    size_t i = 0;
    while (i < t.size() && !full()) {
      while (i < t.size() && is_space(static_cast<unsigned char>(t[i])))
        ++i;
      size_t start = i;
      while (i < t.size() && !is_space(static_cast<unsigned char>(t[i])))
        ++i;
      if (i == start)
        break;
      const size_t n = i - start;
      if (token.size() < n)
        token.resize(n);
      for (size_t j = 0; j < n; ++j)
        token[j] = ascii_lower(t[start + j]);
      std::string_view tok(token.data(), n);
      while (!tok.empty() && is_opening(tok.front()))
        tok.remove_prefix(1);
      while (!tok.empty() && is_closing(tok.back()))
        tok.remove_suffix(1);
      if (tok.find("://") != tok.npos || tok.substr(0, 4) == "www.") {
        url(tok);
      } else if (size_t at = tok.rfind('@');
                 at != tok.npos && at > 0 && tok.find('.', at) != tok.npos) {
        literal("@");  // the local part is usually the recipient: dropped
        words(tok.substr(at + 1));
      } else {
        words(tok);
      }
    }
  }

 private:
  Emit& emit_;
  size_t count_ = 0;
  bool last_placeholder_ = false;
};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Collects shingle hashes from a stream of words.
class Shingler {
 public:
  explicit Shingler(size_t k) : k_(std::max<size_t>(1, k)), ring_(2 * k_) {}
  void operator()(std::string_view w) {
    const uint64_t h = XXH3_64bits(w.data(), w.size());
    // Each hash is stored twice, k apart, so the last k words are always the contiguous
    // ring_[next_, next_ + k), oldest first: nothing is moved as the window slides.
    ring_[next_] = ring_[next_ + k_] = h;
    next_ = next_ + 1 == k_ ? 0 : next_ + 1;
    ++words_;
    if (words_ >= k_)
      hashes_.push_back(XXH3_64bits(ring_.data() + next_, k_ * sizeof(uint64_t)));
  }
  // Fewer words than one shingle still make one (tiny) shingle.
  std::vector<uint64_t> finish() {
    if (words_ > 0 && words_ < k_) {
      hashes_.push_back(XXH3_64bits(ring_.data(), words_ * sizeof(uint64_t)));
    }
    sort_unique(hashes_);
    return std::move(hashes_);
  }

 private:
  size_t k_;
  size_t words_ = 0;
  size_t next_ = 0;             // where the next word's hash goes, in [0, k)
  std::vector<uint64_t> ring_;  // 2k slots: the last k word hashes, each twice
  std::vector<uint64_t> hashes_;
};

constexpr size_t kLanes = 16;

// min over x of (a * x + b) >> 32 for kLanes hash functions at once, with a split into 32-bit
// halves so every product is 32x32->64 (vectorises on SSE2/AVX2 without 64-bit multiplies).
// This loop is most of the cost of a fingerprint. The AVX-512 clone does the 16 lanes in two
// vector multiplies instead of four: 1.6x faster where the CPU has it (same integers).
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void minhash_block(const uint32_t* a_lo, const uint32_t* a_hi, const uint64_t* b,
                   const uint32_t* x, size_t count, uint32_t* out) {
  uint32_t acc[kLanes];
  for (size_t l = 0; l < kLanes; ++l)
    acc[l] = 0xffffffffu;
  for (size_t k = 0; k < count; ++k) {
    const uint64_t xv = x[k];
    for (size_t l = 0; l < kLanes; ++l) {
      const uint64_t v =
          uint64_t{a_lo[l]} * xv + (uint64_t{a_hi[l] * static_cast<uint32_t>(xv)} << 32) + b[l];
      const uint32_t h = static_cast<uint32_t>(v >> 32);
      acc[l] = h < acc[l] ? h : acc[l];
    }
  }
  for (size_t l = 0; l < kLanes; ++l)
    out[l] = acc[l];
}

Fingerprint from_shingles(std::vector<uint64_t> shingles, const Params& p) {
  Fingerprint fp;
  fp.shingle_count = shingles.size();
  if (shingles.size() < std::max<size_t>(1, p.min_shingles) || p.num_hashes == 0)
    return fp;
  // Sorted ascending, so this keeps the kMaxShingles smallest hashes: a bottom-k sample that
  // two near-identical long texts share, which keeps their similarity estimate meaningful.
  if (shingles.size() > kMaxShingles)
    shingles.resize(kMaxShingles);

  // h_i(x) = (a_i * x + b_i) >> 32 over 32-bit x: the multiply-add-shift universal family.
  const size_t n = p.num_hashes;
  const size_t padded = (n + kLanes - 1) / kLanes * kLanes;
  // The coefficients depend only on n: made once per thread and n, not per message.
  struct Coefficients {
    size_t n = 0;
    std::vector<uint32_t> a_lo, a_hi;
    std::vector<uint64_t> b;
  };
  thread_local Coefficients co;
  if (co.n != n || co.a_lo.size() != padded) {
    co.n = n;
    co.a_lo.assign(padded, 0);
    co.a_hi.assign(padded, 0);
    co.b.assign(padded, 0);
    uint64_t state = 0x6d61696c73696674ULL;  // "mailsift": fixed, so signatures are comparable
    for (size_t i = 0; i < n; ++i) {
      const uint64_t a = splitmix64(state);
      co.a_lo[i] = static_cast<uint32_t>(a);
      co.a_hi[i] = static_cast<uint32_t>(a >> 32);
      co.b[i] = splitmix64(state);
    }
  }
  const std::vector<uint32_t>& a_lo = co.a_lo;
  const std::vector<uint32_t>& a_hi = co.a_hi;
  const std::vector<uint64_t>& b = co.b;
  std::vector<uint32_t> x(shingles.size());
  for (size_t k = 0; k < shingles.size(); ++k) {
    x[k] = static_cast<uint32_t>(shingles[k] ^ (shingles[k] >> 32));
  }
  std::vector<uint32_t> sig(padded);
  for (size_t base = 0; base < padded; base += kLanes) {
    minhash_block(a_lo.data() + base, a_hi.data() + base, b.data() + base, x.data(), x.size(),
                  sig.data() + base);
  }
  sig.resize(n);
  size_t bands = std::clamp<size_t>(p.bands, 1, p.num_hashes);
  size_t rows = p.num_hashes / bands;
  fp.bands.reserve(bands);
  for (size_t j = 0; j < bands; ++j) {
    size_t begin = j * rows, end = j + 1 == bands ? p.num_hashes : begin + rows;
    fp.bands.push_back(
        XXH3_64bits_withSeed(sig.data() + begin, (end - begin) * sizeof(uint32_t), 0xB0 + j));
  }
  fp.signature = std::move(sig);
  return fp;
}

}  // namespace

std::vector<std::string> normalise_words(std::string_view text) {
  std::vector<std::string> out;
  auto emit = [&](std::string_view w) { out.emplace_back(w); };
  WordSink<decltype(emit)> sink(emit);
  sink.text(text);
  return out;
}

Fingerprint fingerprint_text(std::string_view text, const Params& p) {
  Shingler shingler(p.shingle_words);
  WordSink<Shingler> sink(shingler);
  sink.text(text);
  return from_shingles(shingler.finish(), p);
}

Fingerprint fingerprint(const mime::Message& msg, const Params& p) {
  Shingler shingler(p.shingle_words);
  WordSink<Shingler> sink(shingler);
  if (!msg.parts.empty())
    sink.text(msg.subject());
  for (const mime::TextPart& t : msg.texts)
    sink.text(t.text);
  std::string lowered;  // one buffer for every URL
  for (const mime::Url& u : msg.urls) {
    lowered.assign(u.url);
    for (char& c : lowered)
      c = ascii_lower(c);
    sink.url(lowered);
  }
  return from_shingles(shingler.finish(), p);
}

double similarity(const Fingerprint& a, const Fingerprint& b) {
  if (!a.usable() || !b.usable() || a.signature.size() != b.signature.size())
    return 0.0;
  size_t same = 0;
  for (size_t i = 0; i < a.signature.size(); ++i)
    same += a.signature[i] == b.signature[i];
  return static_cast<double>(same) / static_cast<double>(a.signature.size());
}

}  // namespace mailsift::fuzzy
