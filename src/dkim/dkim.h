// mailsift::dkim — DKIM verification (RFC 6376, RFC 8463, RFC 8301) and signing.
//
// Owns: verify() over the raw message bytes for every DKIM-Signature (bounded), sign() producing
// a DKIM-Signature field, and SigningKey (private keys loaded from PEM or a raw Ed25519 seed).
//
// Failure semantics: verification never throws and never fails as a whole; each signature gets
// an RFC 8601 result with a reason:
//   pass       signature and body hash verify (rsa-sha1 passes too, flagged `weak`);
//   fail       body hash or signature mismatch, l= longer than the body;
//   neutral    the DKIM-Signature field is malformed or unsupported (syntax, version, algorithm,
//              i= outside d=), or it was not evaluated because of the signature limit;
//   policy     the key record forbids this use (t=s with a subdomain i=, h= excluding the hash);
//   temperror  the key lookup failed temporarily (SERVFAIL, timeout, ...): retry later;
//   permerror  no usable key (NXDOMAIN, no record, revoked, malformed record, wrong key type,
//              RSA shorter than 1024 bits), or the signature expired (x=).
// sign() returns kMalformed if the message has no From field, kConfig for an unusable key.
//
// Line ends: input with bare LF line ends is read as if every LF were CRLF (OpenDKIM does the
// same for locally submitted mail); the signature is computed over the CRLF form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dns/resolver.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace mailsift::dkim {

// RFC 8601 §2.7.1 result names.
enum class Status { kPass, kFail, kNeutral, kPolicy, kTempError, kPermError };
const char* to_string(Status status);  // "pass", "fail", ...

enum class Algorithm { kRsaSha256, kRsaSha1, kEd25519Sha256, kUnknown };
const char* to_string(Algorithm alg);  // "rsa-sha256", ...

struct SignatureResult {
  std::string domain;    // d=
  std::string selector;  // s=
  std::string identity;  // i= (default "@" + d=)
  Algorithm algorithm = Algorithm::kUnknown;
  Status result = Status::kNeutral;
  std::string reason;              // human-readable, for logs and the A-R comment
  std::string header_b;            // first 8 characters of b= (RFC 6008 header.b)
  bool testing = false;            // key record t=y: a failure must not be treated differently
  bool weak = false;               // rsa-sha1 (RFC 8301) or otherwise not to be relied upon
  unsigned key_bits = 0;           // RSA modulus size / 256 for Ed25519; 0 when no key was loaded
  int64_t body_length = -1;        // l= (-1 when absent)
  size_t unsigned_body_bytes = 0;  // canonical body octets past l=: content an attacker may add
};

struct VerifyOptions {
  size_t max_signatures = 10;       // further signatures are reported neutral, not verified
  int64_t max_future_skew = 86400;  // t= further in the future than this is permerror
  unsigned min_rsa_bits = 1024;     // RFC 8301 §3.2
};

// Verifies every DKIM-Signature field of `raw` (top to bottom, results in that order). Key
// records are fetched with one resolve_many() call. `now_unix` is the clock for t= and x=.
std::vector<SignatureResult> verify(std::string_view raw, dns::Resolver& resolver, int64_t now_unix,
                                    const VerifyOptions& options = {});

// A private key for signing (RSA or Ed25519).
class SigningKey {
 public:
  // PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY" (RSA or Ed25519). kConfig on failure.
  static Result<SigningKey> from_pem(std::string_view pem);
  // A raw 32-byte Ed25519 private seed (RFC 8032), as dkimpy stores it (base64 on disk).
  static Result<SigningKey> from_ed25519_seed(std::string_view seed32);

  bool ed25519() const { return ed25519_; }
  unsigned bits() const { return bits_; }
  // The DNS TXT record for this key: "v=DKIM1; k=rsa; p=..." (SubjectPublicKeyInfo for RSA,
  // the raw 32-byte key for Ed25519).
  std::string dns_record() const;
  evp_pkey_st* pkey() const { return pkey_.get(); }

 private:
  std::shared_ptr<evp_pkey_st> pkey_;
  bool ed25519_ = false;
  unsigned bits_ = 0;
};

// OpenDKIM-like default: the fields a replay or tampering would change.
std::vector<std::string> default_signed_headers();

struct SignOptions {
  std::string domain;    // d=
  std::string selector;  // s=
  std::string identity;  // i=, empty = omitted (means "@" + domain)
  // Fields to sign (case-insensitive); each is signed as often as it occurs. Empty = defaults.
  std::vector<std::string> headers;
  // Signed once more than it occurs, so that adding one breaks the signature.
  std::vector<std::string> oversign = {"from"};
  bool relaxed_header = true;
  bool relaxed_body = true;
  int64_t timestamp = 0;   // t=, 0 = omitted
  int64_t expiration = 0;  // x= (absolute unix time), 0 = omitted
  bool rsa_sha1 = false;   // only for tests of legacy verifiers
  // l= with the canonical body length. Lets content appended later verify (RFC 6376 §8.2), so
  // only for lists that must survive footers; off by default.
  bool body_length_tag = false;
};

// Returns the complete "DKIM-Signature: ...\r\n" field (folded) to prepend to `raw`.
Result<std::string> sign(std::string_view raw, const SigningKey& key, const SignOptions& options);

}  // namespace mailsift::dkim
