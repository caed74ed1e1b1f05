// mailsift::store — the little-endian integer arrays the SQLite store keeps in BLOB columns
// (learned tokens, fingerprint bands and signatures). One definition of the on-disk layout for the
// store that writes it and for `mailsift migrate`, which reads the files directly.
// Failure semantics: none; a BLOB whose size is not a multiple of sizeof(T) drops the partial
// tail value (a torn value is never decoded).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mailsift::store {

template <typename T>
std::string encode_le(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t v = values[i];
    for (size_t b = 0; b < sizeof(T); ++b)
      out[i * sizeof(T) + b] = static_cast<char>(v >> (8 * b));
  }
  return out;
}

template <typename T>
std::vector<T> decode_le(const void* data, int bytes) {
  std::vector<T> out(bytes > 0 ? static_cast<size_t>(bytes) / sizeof(T) : 0);
  const auto* p = static_cast<const unsigned char*>(data);
  if constexpr (std::endian::native == std::endian::little) {
    // The layout is the host's: one copy (the byte loop cost ~35 instructions a value, most of
    // loading the near-duplicate index at start-up).
    if (!out.empty())
      std::memcpy(out.data(), p, out.size() * sizeof(T));
    return out;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t v = 0;
    for (size_t b = 0; b < sizeof(T); ++b)
      v |= uint64_t{p[i * sizeof(T) + b]} << (8 * b);
    out[i] = static_cast<T>(v);
  }
  return out;
}

}  // namespace mailsift::store
