// mailsift::fuzzy — near-duplicate fingerprints and the memory of reported messages.
//
// Owns: turning a message into a min-hash signature of its normalised word shingles, estimating
// similarity between two signatures, and remembering / looking up fingerprints per scope through
// store::Store (LSH band hashes find candidates, the full signature decides).
//
// Normalisation is what makes one campaign's variants match: ASCII lower-case; words holding a
// digit (tracking ids, amounts, dates), long hex-ish or very long words become one placeholder
// "#" (runs collapse); URLs become host + path words (query, fragment and scheme dropped); e-mail
// addresses become "@" + domain words; punctuation and whitespace only separate words.
// Normalisation is idempotent: the joined words normalise to themselves. The subject,
// the visible text of every text part (never hidden_text: hash-busters hide random text there)
// and the host + path of every URL in the message are used.
//
// Failure semantics: fingerprinting never fails; too little text gives !usable() (a short
// message has too few shingles for a meaningful match). FuzzyMemory calls return the store's
// error (kTemporary) unchanged.
//
// SECURITY: reads untrusted text. Work is bounded: at most kMaxWords words are read and at most
// kMaxShingles shingles (the smallest hashes, a consistent bottom-k sample) enter the signature.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "mime/message.h"
#include "store/store.h"

namespace mailsift::fuzzy {

inline constexpr size_t kMaxWords = 200000;
inline constexpr size_t kMaxShingles = 4096;

struct Params {
  size_t num_hashes = 128;   // signature length (min-hash functions)
  size_t bands = 32;         // LSH bands; num_hashes / bands rows each (must divide evenly)
  size_t shingle_words = 4;  // words per shingle
  size_t min_shingles = 6;   // fewer distinct shingles: not usable
  double match_threshold = 0.70;
};

struct Fingerprint {
  std::vector<uint32_t> signature;  // empty when not usable
  std::vector<uint64_t> bands;      // one hash per band, band index mixed in
  size_t shingle_count = 0;         // distinct shingles seen (before the kMaxShingles cap)
  bool usable() const { return !signature.empty(); }
};

// The normalised word sequence of a text (exposed for tests and diagnostics).
std::vector<std::string> normalise_words(std::string_view text);

Fingerprint fingerprint(const mime::Message& msg, const Params& p = {});
// Raw or already-normalised text (it is normalised again; normalisation is idempotent).
Fingerprint fingerprint_text(std::string_view text, const Params& p = {});

// Estimated Jaccard similarity of the shingle sets: the fraction of equal signature slots.
// 0 when either is unusable or they were made with different num_hashes.
double similarity(const Fingerprint& a, const Fingerprint& b);

struct Match {
  std::string message_digest;  // the best-matching remembered message
  store::Class cls;
  double similarity;
  store::Scope scope;  // where it was remembered
  size_t reporters;    // distinct reporters of records at or above threshold (all scopes, among
                       // the candidates examined); "" (operator/CLI) counts as one reporter
};

class FuzzyMemory {
 public:
  // Candidates examined per scope.
  static constexpr size_t kCandidatesPerScope = 64;

  explicit FuzzyMemory(store::Store& store, Params p = {});

  // Stores (replaces) the record for (scope, digest, reporter). An unusable fingerprint is not
  // stored and returns Ok: there is nothing to match against later.
  Status remember(const store::Scope& scope, const std::string& digest, store::Class cls,
                  const std::string& reporter, const Fingerprint& fp, int64_t now_unix);
  // Removes every reporter's record of the digest in the scope.
  Status forget(const store::Scope& scope, const std::string& digest);
  // Best match at or above the threshold over the given scopes; on equal similarity the scope
  // listed first wins (callers pass the most specific first: user, domain, reseller, global).
  Result<std::optional<Match>> best_match(std::span<const store::Scope> scopes,
                                          const Fingerprint& fp);

  const Params& params() const { return params_; }

 private:
  store::Store& store_;
  Params params_;
};

}  // namespace mailsift::fuzzy
