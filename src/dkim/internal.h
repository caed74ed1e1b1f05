// mailsift::dkim::detail — the DKIM building blocks shared by dkim.cc and the ARC module.
//
// Owns: the raw header/body split, the RFC 6376 tag-list parser, simple/relaxed canonicalisation,
// header selection (h= with over-signing), the body-hash cache, key records and OpenSSL glue.
// Not a stable API: only src/dkim and src/arc include it.
//
// Failure semantics: parsers return Result (kMalformed for syntax, kPermanent for unusable keys);
// nothing throws and nothing aborts on untrusted input.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/result.h"
#include "dkim/dkim.h"
#include "dns/resolver.h"

namespace mailsift::dkim::detail {

// ---- raw message ---------------------------------------------------------------------------

// One header field exactly as received: `raw` spans the name, the colon, the value with its
// folding and the terminating CRLF (absent only if the message ends inside the header).
struct HeaderField {
  std::string_view name;  // without trailing whitespace
  std::string_view raw;
};

struct Message {
  // Owns a CRLF-normalised copy when the input had bare LFs; otherwise views point into the
  // caller's buffer, which must outlive the Message. unique_ptr keeps the buffer address stable.
  std::unique_ptr<std::string> owned;
  std::vector<HeaderField> headers;  // top to bottom
  std::string_view body;             // after the empty line; empty if there is none
};

// Splits `raw` into header fields and body. Bare LF line ends are read as CRLF (as OpenDKIM
// does for mail handed over by an MTA with local line ends); a CR not followed by LF stays data.
Message parse_message(std::string_view raw);

bool iequals(std::string_view a, std::string_view b);
std::string_view trim_fws(std::string_view s);

// ---- tag lists (RFC 6376 §3.2) ---------------------------------------------------------------

struct Tag {
  std::string_view name;
  std::string_view value;  // surrounding FWS removed; inner FWS kept
};

// Fails (kMalformed) on a bad tag name, a missing '=', a duplicate tag, control characters.
Result<std::vector<Tag>> parse_tag_list(std::string_view text);
const Tag* find_tag(const std::vector<Tag>& tags, std::string_view name);

// "a : b:c" -> {"a","b","c"} lower-cased, FWS removed. Empty items are kept as "".
std::vector<std::string> split_colon_list(std::string_view text);
std::string remove_fws(std::string_view s);

// ---- canonicalisation --------------------------------------------------------------------------

enum class Canon { kSimple, kRelaxed };

// Appends the canonical form of one raw header field; `with_crlf` false drops the final CRLF (for
// the signature header itself, RFC 6376 §3.7).
void append_canon_header(std::string& out, std::string_view raw_field, Canon canon, bool with_crlf);
// The raw field with the value of its b= tag removed (the tag and the rest kept byte-exact).
std::string strip_b_value(std::string_view raw_field);
std::string canon_body(std::string_view body, Canon canon);

// Picks, for each name in `names`, the next not-yet-used instance from the bottom of the header
// (RFC 6376 §5.4.2); nullptr where none is left (over-signing / missing header).
std::vector<const HeaderField*> select_headers(const Message& msg,
                                               const std::vector<std::string>& names);

// ---- crypto ------------------------------------------------------------------------------------

enum class Hash { kSha1, kSha256 };
std::string digest(Hash hash, std::string_view data);
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);  // skips FWS; strict otherwise

struct PublicKey {
  std::shared_ptr<evp_pkey_st> pkey;
  bool ed25519 = false;
  unsigned bits = 0;
};

// A parsed key record (RFC 6376 §3.6.1, RFC 8463 §4).
struct KeyRecord {
  bool ed25519 = false;
  std::vector<std::string> hashes;  // h=, empty = any
  bool testing = false;             // t=y
  bool strict = false;              // t=s
  bool revoked = false;             // p= empty
  PublicKey key;
};

// kPermanent on syntax errors, a v= other than DKIM1, unknown k=, a service type without
// "email" or "*", and a p= that does not decode to a key of the k= type.
Result<KeyRecord> parse_key_record(std::string_view txt);

// Outcome of a key lookup: the record, or a status with its reason (temperror on DNS trouble,
// permerror when there is no usable key).
struct KeyLookup {
  Status status = Status::kPass;
  std::string reason;
  KeyRecord record;
};
KeyLookup key_from_answer(const dns::Answer& answer);
std::string key_query_name(std::string_view selector, std::string_view domain);

// Checks `sig` over `data`: RSA PKCS#1 v1.5 with `hash`; Ed25519 over SHA-256(data) (RFC 8463).
bool verify_signature(const PublicKey& key, Algorithm alg, std::string_view data,
                      std::string_view sig);
Result<std::string> sign_data(const SigningKey& key, Algorithm alg, std::string_view data);

// ---- signature core shared by DKIM-Signature and ARC-Message-Signature ------------------------

struct SigCore {
  Algorithm alg = Algorithm::kUnknown;
  Canon header_canon = Canon::kSimple;
  Canon body_canon = Canon::kSimple;
  std::string domain;                       // d=, lower case
  std::string selector;                     // s=
  std::vector<std::string> signed_headers;  // h=, lower case
  std::string b;                            // decoded signature
  std::string bh;                           // decoded body hash
  int64_t length = -1;                      // l=, -1 when absent
  const HeaderField* field = nullptr;       // the signature header in the message
};

// Parses the tags common to DKIM and AMS (a, b, bh, c, d, h, l, s). Fails kMalformed.
Result<SigCore> parse_sig_core(const std::vector<Tag>& tags);
Result<Algorithm> parse_algorithm(std::string_view a);
Hash hash_of(Algorithm alg);
// Unsigned decimal of at most 12 digits (t=, x=, l=, i=); nullopt otherwise.
std::optional<int64_t> parse_uint(std::string_view s);

// Body hashes computed once per (canonicalisation, hash, l=).
class BodyHashCache {
 public:
  explicit BodyHashCache(const Message& msg) : msg_(msg) {}
  // Returns false if l= is longer than the canonical body. `unsigned_bytes` gets the canonical
  // octets past l=.
  bool get(Canon canon, Hash hash, int64_t length, std::string& out, size_t& unsigned_bytes);

 private:
  const Message& msg_;
  std::map<Canon, std::string> canon_;  // canonical body per canonicalisation, made once
  std::map<std::tuple<Canon, Hash, int64_t>, std::pair<std::string, size_t>> hashes_;
};

// Is the looked-up key usable for `alg`: found, type matching a=, RSA >= min_bits, key h= allowing
// the hash? Returns kPass, or the status to report (temperror, permerror, policy) with `reason`.
Status check_key(const KeyLookup& key, Algorithm alg, unsigned min_bits, std::string& reason);

// Verifies body hash and signature of `sig` with `key`. Returns kPass or kFail with a reason.
Status verify_core(const Message& msg, const SigCore& sig, const KeyRecord& key,
                   BodyHashCache& bodies, std::string& reason, size_t* unsigned_bytes);

// The header hash input: the selected headers and finally the signature field without b=.
std::string header_hash_input(const Message& msg, const std::vector<std::string>& names,
                              Canon canon, std::string_view sig_field_raw);

// Folds "tag=value; tag=value" for output: breaks before a tag when the line would exceed 76
// columns; with `break_values` also inside long b= and h= values. ARC passes false so that its
// seals are byte-identical to the ValiMail suite's standard form (an AS hashes earlier AMS/AS
// fields b= included, where a fold would become a space); the lines stay far below 998 octets.
std::string fold_tags(std::string_view field_name, const std::vector<std::string>& tags,
                      bool break_values);
// A syntactically valid domain name (labels of letters, digits, '-', '_'), for d= and s=.
bool valid_domain(std::string_view d);

}  // namespace mailsift::dkim::detail
