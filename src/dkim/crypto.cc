// OpenSSL glue: digests, base64, public keys from p= (SubjectPublicKeyInfo or bare PKCS#1 RSA,
// raw Ed25519), key records, signature checks and signing. The OpenSSL error queue is cleared
// after every failed call so that one bad key cannot leak errors into unrelated code.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "dkim/internal.h"

namespace mailsift::dkim {
namespace detail {
namespace {

std::shared_ptr<evp_pkey_st> wrap(EVP_PKEY* k) {
  return std::shared_ptr<evp_pkey_st>(k, [](EVP_PKEY* p) { EVP_PKEY_free(p); });
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

}  // namespace

std::string digest(Hash hash, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, hash == Hash::kSha1 ? EVP_sha1() : EVP_sha256(),
             nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  int pad = 0;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
      continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    int v = b64_value(c);
    if (v < 0 || pad > 0)
      return std::nullopt;  // garbage, or data after padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (pad > 2 || bits >= 6)
    return std::nullopt;
  return out;
}

// ---- keys ------------------------------------------------------------------------------------

namespace {

Result<PublicKey> parse_public_key(std::string_view der, bool ed25519) {
  PublicKey key;
  key.ed25519 = ed25519;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  if (ed25519) {
    // RFC 8463 §4.2: p= is the bare 32-byte public key.
    if (der.size() != 32)
      return Error::permanent("ed25519 key is not 32 bytes");
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, der.size());
    if (k == nullptr) {
      ERR_clear_error();
      return Error::permanent("bad ed25519 key");
    }
    key.pkey = wrap(k);
    key.bits = 256;
    return key;
  }
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (k == nullptr) {
    // Some publishers put a bare PKCS#1 RSAPublicKey in p= (e.g. the RFC 6376 example zone).
    ERR_clear_error();
    p = reinterpret_cast<const unsigned char*>(der.data());
    k = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
  }
  if (k == nullptr) {
    ERR_clear_error();
    return Error::permanent("p= is not a public key");
  }
  key.pkey = wrap(k);
  if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA)
    return Error::permanent("k=rsa but p= is not an RSA key");
  key.bits = static_cast<unsigned>(EVP_PKEY_get_bits(k));
  return key;
}

// Decoding a SubjectPublicKeyInfo through OpenSSL 3's decoder framework costs ~170 us, six
// times the RSA-2048 verification itself, and the same few keys sign most mail. Parsed keys are
// therefore kept by their exact bytes (the DNS cache already decides how long a record is
// believed; the bytes are the key, so a hit can never be a different key). EVP_PKEYs are
// immutable once built and safe to verify with from several threads. Failures are not cached.
Result<PublicKey> cached_public_key(const std::string& der, bool ed25519) {
  constexpr size_t kMaxKeys = 4096;  // ~2 KiB each with OpenSSL's structures: ~8 MiB at most
  static std::mutex mu;
  static std::unordered_map<std::string, PublicKey> keys;
  std::string id;
  id.reserve(der.size() + 1);
  id.push_back(ed25519 ? 'e' : 'r');
  id.append(der);
  {
    std::lock_guard lock(mu);
    if (auto it = keys.find(id); it != keys.end())
      return it->second;
  }
  auto key = parse_public_key(der, ed25519);
  if (!key)
    return key;
  std::lock_guard lock(mu);
  if (keys.size() >= kMaxKeys)
    keys.clear();  // crude but bounded; a busy verifier refills the hot keys at once
  keys.emplace(std::move(id), *key);
  return key;
}

}  // namespace

Result<KeyRecord> parse_key_record(std::string_view txt) {
  auto tags = parse_tag_list(txt);
  if (!tags)
    return Error::permanent("key record syntax: " + tags.error().message);
  KeyRecord rec;
  if (tags->empty())
    return Error::permanent("empty key record");
  if (const Tag* v = find_tag(*tags, "v")) {
    // RFC 6376 §3.6.1: v= must be first and exactly DKIM1.
    if (&(*tags)[0] != v || v->value != "DKIM1")
      return Error::permanent("key record v= is not DKIM1");
  }
  if (const Tag* k = find_tag(*tags, "k")) {
    if (k->value == "ed25519")
      rec.ed25519 = true;
    else if (k->value != "rsa")
      return Error::permanent("unknown key type k=" + std::string(k->value));
  }
  if (const Tag* h = find_tag(*tags, "h"))
    rec.hashes = split_colon_list(h->value);
  if (const Tag* s = find_tag(*tags, "s")) {
    bool ok = false;
    for (const auto& t : split_colon_list(s->value))
      ok |= (t == "*" || t == "email");
    if (!ok)
      return Error::permanent("key not for email (s=)");
  }
  if (const Tag* t = find_tag(*tags, "t")) {
    for (const auto& f : split_colon_list(t->value)) {
      rec.testing |= f == "y";
      rec.strict |= f == "s";
    }
  }
  const Tag* p = find_tag(*tags, "p");
  if (p == nullptr)
    return Error::permanent("key record without p=");
  std::string p_clean = remove_fws(p->value);
  if (p_clean.empty()) {
    rec.revoked = true;
    return rec;
  }
  auto der = base64_decode(p_clean);
  if (!der)
    return Error::permanent("p= is not base64");
  auto key = cached_public_key(*der, rec.ed25519);
  if (!key)
    return key.error();
  rec.key = std::move(*key);
  return rec;
}

std::string key_query_name(std::string_view selector, std::string_view domain) {
  std::string name(selector);
  name.append("._domainkey.");
  name.append(domain);
  return name;
}

KeyLookup key_from_answer(const dns::Answer& answer) {
  KeyLookup out;
  if (answer.temporary_failure()) {
    out.status = Status::kTempError;
    out.reason = std::string("key lookup: ") + dns::to_string(answer.rcode);
    return out;
  }
  if (answer.rcode == dns::Rcode::kNxDomain || answer.records.empty()) {
    out.status = Status::kPermError;
    out.reason = "no key record";
    return out;
  }
  // Several TXT records at one name: RFC 6376 §6.1.2 leaves it open; the first usable one wins
  // (what OpenDKIM does), errors are those of the first record.
  std::string first_error;
  for (const auto& txt : answer.records) {
    auto rec = parse_key_record(txt);
    if (rec) {
      out.record = std::move(*rec);
      if (out.record.revoked) {
        out.status = Status::kPermError;
        out.reason = "key revoked (empty p=)";
      }
      return out;
    }
    if (first_error.empty())
      first_error = rec.error().message;
  }
  out.status = Status::kPermError;
  out.reason = first_error;
  return out;
}

bool verify_signature(const PublicKey& key, Algorithm alg, std::string_view data,
                      std::string_view sig) {
  if (!key.pkey)
    return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = false;
  if (alg == Algorithm::kEd25519Sha256) {
    // RFC 8463 §3: Ed25519 (pure) over the SHA-256 hash of the header data.
    std::string h = digest(Hash::kSha256, data);
    ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.pkey.get()) == 1 &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(h.data()), h.size()) == 1;
  } else {
    const EVP_MD* md = alg == Algorithm::kRsaSha1 ? EVP_sha1() : EVP_sha256();
    ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key.pkey.get()) == 1 &&
         EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  }
  EVP_MD_CTX_free(ctx);
  if (!ok)
    ERR_clear_error();
  return ok;
}

Result<std::string> sign_data(const SigningKey& key, Algorithm alg, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string input(data);
  const EVP_MD* md = nullptr;
  if (alg == Algorithm::kEd25519Sha256)
    input = digest(Hash::kSha256, data);
  else
    md = alg == Algorithm::kRsaSha1 ? EVP_sha1() : EVP_sha256();
  size_t len = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, md, nullptr, key.pkey()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    ERR_clear_error();
    return Error::config("signing failed");
  }
  return sig;
}

}  // namespace detail

// ---- SigningKey ------------------------------------------------------------------------------

Result<SigningKey> SigningKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (k == nullptr) {
    ERR_clear_error();
    return Error::config("not a PEM private key");
  }
  SigningKey key;
  key.pkey_ = detail::wrap(k);
  int id = EVP_PKEY_base_id(k);
  if (id == EVP_PKEY_ED25519) {
    key.ed25519_ = true;
    key.bits_ = 256;
  } else if (id == EVP_PKEY_RSA) {
    key.bits_ = static_cast<unsigned>(EVP_PKEY_get_bits(k));
  } else {
    return Error::config("unsupported key type (rsa and ed25519 only)");
  }
  return key;
}

Result<SigningKey> SigningKey::from_ed25519_seed(std::string_view seed) {
  if (seed.size() != 32)
    return Error::config("ed25519 seed must be 32 bytes");
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), 32);
  if (k == nullptr) {
    ERR_clear_error();
    return Error::config("bad ed25519 seed");
  }
  SigningKey key;
  key.pkey_ = detail::wrap(k);
  key.ed25519_ = true;
  key.bits_ = 256;
  return key;
}

std::string SigningKey::dns_record() const {
  std::string der;
  if (ed25519_) {
    der.resize(32);
    size_t len = 32;
    EVP_PKEY_get_raw_public_key(pkey_.get(), reinterpret_cast<unsigned char*>(der.data()), &len);
    der.resize(len);
    return "v=DKIM1; k=ed25519; p=" + detail::base64_encode(der);
  }
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(pkey_.get(), &buf);
  if (len > 0)
    der.assign(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return "v=DKIM1; k=rsa; p=" + detail::base64_encode(der);
}

}  // namespace mailsift::dkim
