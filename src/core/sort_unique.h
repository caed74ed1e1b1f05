// mailsift::sort_unique — sort a vector of 64-bit hashes and drop duplicates, fast.
//
// Owns: the one radix sort the per-message path uses (token hashes in learn/, shingle hashes in
// fuzzy/). An LSD radix sort (6 passes of 11 bits) is ~3x faster than std::sort for the
// 500-1500 hashes of a message. radix_sort_by_key orders (hash, payload) pairs in place by one
// bucket pass on the top bits (the near-duplicate band index in src/store, ~96k pairs at
// start-up: ~12x fewer instructions than std::sort). Failure semantics: none beyond std::bad_alloc.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

namespace mailsift {

inline void sort_unique(std::vector<uint64_t>& v) {
  if (v.size() < 128) {
    std::sort(v.begin(), v.end());
  } else {
    constexpr int kBits = 11, kBuckets = 1 << kBits;
    // The scratch buffer is kept per thread: one allocation per thread, not per message.
    thread_local std::vector<uint64_t> tmp;
    tmp.resize(v.size());
    uint32_t count[kBuckets];
    for (int shift = 0; shift < 64; shift += kBits) {
      std::fill(std::begin(count), std::end(count), 0);
      for (uint64_t x : v)
        ++count[(x >> shift) & (kBuckets - 1)];
      uint32_t sum = 0;
      for (uint32_t& c : count) {
        uint32_t n = c;
        c = sum;
        sum += n;
      }
      for (uint64_t x : v)
        tmp[count[(x >> shift) & (kBuckets - 1)]++] = x;
      v.swap(tmp);
    }
    if (tmp.capacity() > (size_t{1} << 20))
      std::vector<uint64_t>().swap(tmp);  // do not pin a huge message's buffer
  }
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Sorts by the 64-bit key only, in place; pairs with equal keys end in an unspecified (but, for
// the same input, always the same) order. For keys that are hashes (evenly spread): one counting
// pass and one in-place permutation by the top bits (American flag sort) leave ~12 pairs a
// bucket, ordered by insertion; a crowded bucket (keys crafted to share their top bits) goes
// to std::sort, so the worst case is O(n log n). No buffer the size of the input: on a machine
// where a page fault is expensive, a second 1.5 MB array cost more than the sort.
template <typename T, typename Alloc>
void radix_sort_by_key(std::vector<std::pair<uint64_t, T>, Alloc>& v) {
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (v.size() < 128) {
    std::sort(v.begin(), v.end(), by_key);
    return;
  }
  const int bits = std::clamp(static_cast<int>(std::bit_width(v.size())) - 4, 6, 13);
  const int shift = 64 - bits;
  const size_t buckets = size_t{1} << bits;
  std::vector<uint32_t> start(buckets + 1, 0);
  for (const auto& x : v)
    ++start[(x.first >> shift) + 1];
  for (size_t b = 1; b <= buckets; ++b)
    start[b] += start[b - 1];
  std::vector<uint32_t> next(start.begin(), start.end() - 1);
  for (size_t b = 0; b < buckets; ++b) {
    while (next[b] < start[b + 1]) {
      auto& x = v[next[b]];
      const size_t d = x.first >> shift;
      if (d == b)
        ++next[b];
      else
        std::swap(x, v[next[d]++]);
    }
  }
  for (size_t b = 0; b < buckets; ++b) {
    auto first = v.begin() + start[b], last = v.begin() + start[b + 1];
    if (last - first > 64) {
      std::sort(first, last, by_key);
      continue;
    }
    for (auto it = first + (first != last); it < last; ++it) {
      auto x = std::move(*it);
      auto hole = it;
      for (; hole != first && x.first < (hole - 1)->first; --hole)
        *hole = std::move(*(hole - 1));
      *hole = std::move(x);
    }
  }
}

}  // namespace mailsift
