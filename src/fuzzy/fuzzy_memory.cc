// FuzzyMemory: fingerprints per scope through store::Store.
#include <set>

#include "fuzzy/fingerprint.h"

namespace mailsift::fuzzy {

FuzzyMemory::FuzzyMemory(store::Store& store, Params p) : store_(store), params_(p) {}

Status FuzzyMemory::remember(const store::Scope& scope, const std::string& digest, store::Class cls,
                             const std::string& reporter, const Fingerprint& fp, int64_t now_unix) {
  if (!fp.usable())
    return Ok{};
  store::FuzzyRecord record;
  record.message_digest = digest;
  record.cls = cls;
  record.bands = fp.bands;
  record.signature = fp.signature;
  record.reporter = reporter;
  record.added_unix = now_unix;
  return store_.fuzzy_add(scope, record);
}

Status FuzzyMemory::forget(const store::Scope& scope, const std::string& digest) {
  return store_.fuzzy_remove(scope, digest);
}

Result<std::optional<Match>> FuzzyMemory::best_match(std::span<const store::Scope> scopes,
                                                     const Fingerprint& fp) {
  std::optional<Match> best;
  if (!fp.usable())
    return best;
  std::set<std::string> reporters;
  for (const store::Scope& scope : scopes) {
    auto candidates = store_.fuzzy_candidates(scope, fp.bands, kCandidatesPerScope);
    if (!candidates)
      return candidates.error();
    for (const store::FuzzyRecord& r : *candidates) {
      Fingerprint other;
      other.signature = r.signature;
      const double sim = similarity(fp, other);
      if (sim < params_.match_threshold)
        continue;
      reporters.insert(r.reporter);
      if (!best || sim > best->similarity) {
        best = Match{r.message_digest, r.cls, sim, scope, 0};
      }
    }
  }
  if (best)
    best->reporters = reporters.size();
  return best;
}

}  // namespace mailsift::fuzzy
