// mailsift::signing — what mailsiftd adds to mail it lets through: a DKIM-Signature on outbound
// mail (per From domain, keys from config) and an ARC set (RFC 8617) on inbound mail after
// authentication ran.
//
// Owns: the key table (dkim_sign.keys: DOMAIN:SELECTOR:PATH entries), loading and validating
// the private keys, choosing the key for a message (From domain, else the envelope sender's
// domain; a subdomain uses the nearest listed parent when dkim_sign.subdomains is on), the ARC
// sealing key and options (arc_seal.*), and the header fields to prepend. Crypto is src/dkim and
// src/arc.
//
// Failure semantics: Signer::from_config() is the only place keys are read (start and SIGHUP):
// an unreadable or unusable key file, a malformed entry, a bad domain/selector is kConfig naming
// the entry and the file, so a bad reload keeps the old configuration. On the per-message path
// nothing throws: no key for the domain / no From is "nothing to add"; a message that cannot be
// signed (e.g. the From field is missing) is returned as an error for the caller to log, and
// the message is delivered unsigned (never held back for it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "dkim/dkim.h"

namespace mailsift::signing {

struct KeyEntry {
  std::string domain;  // lower case, no trailing dot
  std::string selector;
  std::string path;
  dkim::SigningKey key;
};

// One header field to prepend: name and value as the milter sends them (folds as "\n\t", no
// CR, no trailing line end); `field` is the complete "Name: value\r\n" wire form.
struct Field {
  std::string name;
  std::string value;
  std::string field;
};

// "a:s1:/k/a.pem, b:s2:/k/b.pem" (commas, semicolons, newlines or spaces between entries).
// kConfig for an entry without three non-empty parts, a bad domain or selector, or a domain
// listed twice. Keys are not read.
Result<std::vector<KeyEntry>> parse_key_table(std::string_view text);

// Reads a key file: PEM (PKCS#1 RSA, PKCS#8 RSA or Ed25519), or a base64 raw 32-byte Ed25519
// seed (dkimpy's format). kConfig naming `path` when unreadable or unusable.
Result<dkim::SigningKey> load_key_file(const std::string& path);

// The domain the From field names (first address), lower case; "" when none can be read.
std::string from_domain(std::string_view raw);

// `raw` with its first Subject field's value replaced by `value` (folds as "\n<ws>"), or the
// field added at the end of the header: the message as the MTA will deliver it after a
// Subject rewrite, so a signature over it stays valid.
std::string with_subject(std::string_view raw, std::string_view value);

class Signer {
 public:
  // From dkim_sign.* and arc_seal.*; reads every key file. Returns a Signer even when both are
  // disabled (then it adds nothing).
  static Result<std::shared_ptr<const Signer>> from_config(const Config& config);

  // Tests: build from entries with keys already loaded.
  Signer(std::vector<KeyEntry> keys, dkim::SignOptions base, bool subdomains);

  bool dkim_enabled() const { return !keys_.empty(); }
  bool arc_enabled() const { return arc_key_.has_value(); }

  // The key entry used for mail from `domain` (exact, else nearest parent when subdomains are
  // on), or nullptr.
  const KeyEntry* key_for(std::string_view domain) const;

  // DKIM-Signature for an outbound message: nullopt when no key applies (no From domain and no
  // envelope domain, or none listed). `envelope_from` is the MAIL FROM address (may be empty).
  Result<std::optional<Field>> dkim_sign(std::string_view raw, std::string_view envelope_from,
                                         int64_t now_unix) const;

  // The ARC set for an inbound message, from our Authentication-Results value
  // ("authserv-id; spf=pass ..."): its arc= result is this hop's chain validation (pass / none /
  // anything else = fail). Fields in wire order, ARC-Seal first. nullopt when sealing is off.
  Result<std::optional<std::vector<Field>>> arc_seal(std::string_view raw,
                                                     std::string_view authentication_results,
                                                     int64_t now_unix) const;

  // Tests and bench: enable sealing with this key.
  void set_arc(dkim::SigningKey key, std::string domain, std::string selector);

 private:
  std::vector<KeyEntry> keys_;
  dkim::SignOptions base_;
  bool subdomains_ = true;
  std::optional<dkim::SigningKey> arc_key_;
  std::string arc_domain_, arc_selector_;
};

// Splits "Name: value\r\n" (folded with CRLF) into a Field.
Field split_field(std::string_view field);

}  // namespace mailsift::signing
