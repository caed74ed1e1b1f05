// mailsift::sort_unique — sort a vector of 64-bit hashes and drop duplicates, fast.
//
// Owns: the one radix sort the per-message path uses (token hashes in learn/, shingle hashes in
// fuzzy/): one bucket pass on the top bits, then insertion sort per bucket. radix_sort_by_key
// orders (hash, payload) pairs in place the same way (the near-duplicate band index in
// src/store, ~96k pairs at start-up: ~12x fewer instructions than std::sort). Failure
// semantics: none beyond std::bad_alloc.
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
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return;
  }
  // One counting pass and one scatter by the top bits (~8 hashes a bucket), then insertion
  // sort per bucket, deduplicating on the way back: equal hashes share a bucket. For the
  // 500-5000 hashes of a message this is ~4x fewer instructions than an LSD radix sort, whose
  // six passes each clear and sum 2048 counters. A crowded bucket (hashes crafted to share
  // their top bits) goes to std::sort, so the worst case stays O(n log n).
  const int bits = std::clamp(static_cast<int>(std::bit_width(v.size())) - 3, 6, 16);
  const int shift = 64 - bits;
  const size_t buckets = size_t{1} << bits;
  // Scratch kept per thread: one allocation per thread, not per message.
  thread_local std::vector<uint64_t> tmp;
  thread_local std::vector<uint32_t> start;
  tmp.resize(v.size());
  start.assign(buckets + 1, 0);
  for (uint64_t x : v)
    ++start[(x >> shift) + 1];
  for (size_t b = 1; b <= buckets; ++b)
    start[b] += start[b - 1];
  for (uint64_t x : v)
    tmp[start[x >> shift]++] = x;  // start[b] ends as the end of bucket b
  size_t out = 0, first = 0;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t last = start[b];
    uint64_t* lo = tmp.data() + first;
    uint64_t* hi = tmp.data() + last;
    if (hi - lo > 64) {
      std::sort(lo, hi);
    } else {
      for (uint64_t* it = lo + (lo != hi); it < hi; ++it) {
        const uint64_t x = *it;
        uint64_t* hole = it;
        for (; hole != lo && x < hole[-1]; --hole)
          *hole = hole[-1];
        *hole = x;
      }
    }
    for (const uint64_t* it = lo; it < hi; ++it)
      if (it == lo || *it != it[-1])
        v[out++] = *it;
    first = last;
  }
  v.resize(out);
  if (tmp.capacity() > (size_t{1} << 20))
    std::vector<uint64_t>().swap(tmp);  // do not pin a huge message's buffer
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
