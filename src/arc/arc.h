// mailsift::arc — Authenticated Received Chain (RFC 8617): chain validation and sealing.
//
// Owns: validate() over the raw message (ARC set structure, i= sequence, cv= rules, the newest
// ARC-Message-Signature verified like DKIM, every ARC-Seal verified over the sets in order) and
// seal() producing the three fields a forwarding hop prepends. Crypto, canonicalisation and key
// records are those of src/dkim.
//
// Failure semantics: validation never throws; the outcome is data:
//   none  no ARC header fields at all;
//   fail  anything wrong: structure (missing/duplicate set members, gaps, more than 50 sets, a
//         malformed field), cv= rules, a failing AMS(N) or AS, an unusable key. `reason` says
//         which. A key lookup that failed temporarily is also `fail`, with `temporary` set, so
//         a caller can tempfail instead of acting on it;
//   pass  the whole chain verifies.
// seal() returns kConfig for an unusable key or options, kPermanent when the chain already has
// 50 sets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dkim/dkim.h"
#include "dns/resolver.h"

namespace mailsift::arc {

enum class ChainStatus { kNone, kPass, kFail };
const char* to_string(ChainStatus cv);  // "none", "pass", "fail"

struct InstanceInfo {
  int instance = 0;
  std::string ams_domain;                     // d= of ARC-Message-Signature
  std::string seal_domain;                    // d= of ARC-Seal
  std::string authserv_id;                    // from ARC-Authentication-Results
  dkim::Status ams = dkim::Status::kNeutral;  // AMS result where it was evaluated
};

struct ChainResult {
  ChainStatus cv = ChainStatus::kNone;
  int instances = 0;       // highest instance (N)
  int oldest_pass = 0;     // lowest i whose AMS and all newer ones pass (RFC 8617 §5.2 step 7);
                           // 0 when none
  bool temporary = false;  // the failure came from a temporary DNS error
  std::string reason;
  std::vector<InstanceInfo> sets;  // by instance, 1..N (empty on structural failure)
};

struct ValidateOptions {
  int max_instances = 50;        // RFC 8617 §4.2.1
  unsigned min_rsa_bits = 1024;  // as for DKIM (RFC 8301)
};

ChainResult validate(std::string_view raw, dns::Resolver& resolver,
                     const ValidateOptions& options = {});

struct SealOptions {
  std::string domain;    // d= of AMS and AS
  std::string selector;  // s=
  // Fields for the AMS h= (each signed as often as it occurs, the new AAR counting as present);
  // empty = dkim::default_signed_headers(). ARC-Seal is never signed (RFC 8617 §4.1.2).
  std::vector<std::string> headers;
};

struct SealedFields {
  std::string seal;                    // "ARC-Seal: ...\r\n"
  std::string message_signature;       // "ARC-Message-Signature: ...\r\n"
  std::string authentication_results;  // "ARC-Authentication-Results: ...\r\n"
  // The three in the order they are prepended (AS on top).
  std::string prepend() const { return seal + message_signature + authentication_results; }
};

// Seals `raw` as instance N+1. `authserv_id` and `authentication_results_text` (the results
// after the authserv-id, e.g. "spf=pass smtp.mailfrom=a@b; dkim=pass header.d=b") become the
// AAR; `chain` is this hop's validation of the incoming chain (cv= of the new seal). With cv=fail
// the seal covers only its own set, as RFC 8617 §5.1.2 lets a sealer record a broken chain.
// Always relaxed/relaxed, rsa-sha256 (or ed25519-sha256 for an Ed25519 key), t=now.
Result<SealedFields> seal(std::string_view raw, const dkim::SigningKey& key,
                          const SealOptions& options, std::string_view authserv_id,
                          std::string_view authentication_results_text, int64_t now,
                          const ChainResult& chain);

}  // namespace mailsift::arc
