// mailsift::store::TokenTable — compact in-memory token -> counts map (internal to store/).
//
// Owns: one scope's token counts as an open-addressing table (linear probing, 16-byte slots,
// load factor 0.70 after a rebuild — 0.5 below 64k tokens — at most 0.85) so a scan can look up
// hundreds of tokens in a few microseconds. lookup_many() computes every slot first and prefetches
// it, because on a multi-million-token table nearly every probe is a cache miss and overlapping
// them is what makes the batch fast.
//
// Failure semantics: none; allocation failure throws std::bad_alloc like any container (callers
// at the store boundary catch it). Not thread-safe; the owning store serialises access.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <utility>

#include "core/huge_pages.h"
#include "store/store.h"

namespace mailsift::store {

class TokenTable {
 public:
  TokenTable() = default;

  // Prepare for about n entries (avoids rehashing while bulk-loading).
  void reserve(size_t n) {
    if (n > size_ && capacity_for(n) > slots_.size())
      rebuild(capacity_for(n));
  }

  // Insert or overwrite. A {0,0} value is kept as a slot (reads the same as absent); it is
  // dropped by the next rebuild.
  void set(uint64_t token, TokenCounts counts) {
    if (token == kEmpty) {
      zero_ = counts;
      has_zero_ = true;
      return;
    }
    if ((size_ + 1) * 100 > slots_.size() * kMaxLoadPercent)
      rebuild(capacity_for(live() + 1));
    size_t i = index_of(token);
    for (;;) {
      Slot& s = slots_[i];
      if (s.token == token) {
        s.ham = counts.ham;
        s.spam = counts.spam;
        return;
      }
      if (s.token == kEmpty) {
        s = Slot{token, counts.ham, counts.spam};
        ++size_;
        return;
      }
      if (++i == slots_.size())
        i = 0;
    }
  }

  TokenCounts get(uint64_t token) const {
    if (slots_.empty())
      return token == kEmpty && has_zero_ ? zero_ : TokenCounts{};
    return probe_from(index_of(token), token);
  }

  // out[i] = get(tokens[i]); out must have room for tokens.size() entries.
  void lookup_many(std::span<const uint64_t> tokens, TokenCounts* out) const {
    if (slots_.empty()) {
      for (size_t i = 0; i < tokens.size(); ++i)
        out[i] = get(tokens[i]);
      return;
    }
    // Two passes over blocks: first compute and prefetch every home slot of the block, then
    // probe. Issuing all misses of a block before touching any keeps many in flight at once.
    constexpr size_t kBlock = 64;
    size_t home[kBlock];
    for (size_t base = 0; base < tokens.size(); base += kBlock) {
      const size_t n = std::min(kBlock, tokens.size() - base);
      for (size_t i = 0; i < n; ++i) {
        home[i] = index_of(tokens[base + i]);
        __builtin_prefetch(&slots_[home[i]]);
      }
      for (size_t i = 0; i < n; ++i)
        out[base + i] = probe_from(home[i], tokens[base + i]);
    }
  }

  size_t size() const { return size_ + (has_zero_ ? 1 : 0); }  // includes {0,0} slots
  size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

  // The raw slot array and the few fields around it, for the on-disk snapshot image
  // (snapshot_image.h). The layout depends on sizeof(Slot) and on mix(): change either and bump
  // kImageFormat so old images are ignored instead of misread.
  static constexpr uint32_t kImageFormat = 1;
  struct ImageView {
    const void* slots;
    size_t slot_count;  // capacity; index_of() depends on it, so an image restores it exactly
    size_t used;        // occupied slots excluding token 0
    bool has_zero;
    TokenCounts zero;
  };
  ImageView image() const { return {slots_.begin(), slots_.size(), size_, has_zero_, zero_}; }

  // Replaces the contents with an image: allocates slot_count slots and lets fill(dst, bytes)
  // copy the raw slots in. Returns false (table left empty) when fill fails or the image is
  // inconsistent (`used` must match the occupied slots, which also catches a wrong slot size).
  template <typename Fill>
  bool load_image(size_t slot_count, size_t used, bool has_zero, TokenCounts zero, Fill&& fill) {
    Slots fresh(slot_count, /*clear=*/false);
    if (slot_count > 0 && !fill(static_cast<void*>(fresh.begin()), slot_count * sizeof(Slot))) {
      *this = TokenTable();
      return false;
    }
    size_t occupied = 0;
    for (const Slot& s : fresh)
      occupied += s.token != kEmpty ? 1 : 0;
    if (occupied != used || (slot_count > 0 && used >= slot_count)) {  // probes need a free slot
      *this = TokenTable();
      return false;
    }
    slots_ = std::move(fresh);
    size_ = used;
    has_zero_ = has_zero;
    zero_ = zero;
    return true;
  }

 private:
  TokenCounts probe_from(size_t i, uint64_t token) const {
    if (token == kEmpty)
      return has_zero_ ? zero_ : TokenCounts{};
    for (;;) {
      const Slot& s = slots_[i];
      if (s.token == token)
        return {s.ham, s.spam};
      if (s.token == kEmpty)
        return {};
      if (++i == slots_.size())
        i = 0;
    }
  }

  struct Slot {
    uint64_t token;  // kEmpty marks a free slot; token 0 itself lives in zero_
    uint32_t ham;
    uint32_t spam;
  };
  static_assert(sizeof(Slot) == 16);
  static constexpr uint64_t kEmpty = 0;
  static constexpr size_t kTargetLoadPercent = 70;
  static constexpr size_t kMaxLoadPercent = 85;

  // Small tables (most user/domain scopes) stay cache-resident, so they can afford a lower load
  // factor: scans mostly look up tokens a small scope has never seen, and with linear probing
  // an unsuccessful probe is what grows with load.
  static size_t capacity_for(size_t n) {
    return n < kSmallTable ? n * 2 + 16 : n * 100 / kTargetLoadPercent + 16;
  }
  static constexpr size_t kSmallTable = 1 << 16;

  // Tokens are usually hashes already, but callers may pass small integers; mix so they spread.
  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
  // Maps the hash onto [0, capacity) without requiring a power-of-two capacity, so the table
  // can be sized to exactly the target load factor (that is what keeps it near 23 bytes/token).
  size_t index_of(uint64_t token) const {
    return static_cast<size_t>((static_cast<unsigned __int128>(mix(token)) * slots_.size()) >> 64);
  }

  size_t live() const {
    size_t n = 0;
    for (const Slot& s : slots_)
      n += (s.token != kEmpty && (s.ham | s.spam) != 0) ? 1 : 0;
    return n;
  }

  // Slot array; large ones are 2 MiB-aligned and marked for transparent huge pages, because
  // with 4 KiB pages nearly every probe in a multi-million-token table is also a TLB miss.
  class Slots {
   public:
    Slots() = default;
    explicit Slots(size_t n, bool clear = true) : n_(n) {
      data_.reset(
          static_cast<Slot*>(allocate_maybe_huge(n * sizeof(Slot), alignof(Slot), kHugePageBytes)));
      if (clear) {
        for (size_t i = 0; i < n; ++i)
          data_[i] = Slot{kEmpty, 0, 0};
      }
    }
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    Slot& operator[](size_t i) { return data_[i]; }
    const Slot& operator[](size_t i) const { return data_[i]; }
    Slot* begin() const { return data_.get(); }
    Slot* end() const { return data_.get() + n_; }

   private:
    struct Free {
      void operator()(Slot* p) const { std::free(p); }
    };
    std::unique_ptr<Slot[], Free> data_;
    size_t n_ = 0;
  };

  void rebuild(size_t capacity) {
    Slots old(capacity);
    std::swap(old, slots_);
    size_ = 0;
    for (const Slot& s : old) {
      if (s.token == kEmpty || (s.ham | s.spam) == 0)
        continue;
      size_t i = index_of(s.token);
      while (slots_[i].token != kEmpty) {
        if (++i == slots_.size())
          i = 0;
      }
      slots_[i] = s;
      ++size_;
    }
  }

  Slots slots_;
  size_t size_ = 0;  // occupied slots (excluding token 0)
  bool has_zero_ = false;
  TokenCounts zero_{};
};

}  // namespace mailsift::store
