// mailsift::sort_unique — sort a vector of 64-bit hashes and drop duplicates, fast.
//
// Owns: the one radix sort the per-message path uses (token hashes in learn/, shingle hashes in
// fuzzy/): one bucket pass on the top bits, then one insertion-sort pass. radix_sort_by_key
// orders (hash, payload) pairs in place by a bucket pass too (the near-duplicate band index in
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
  const size_t n = v.size();
  if (n < 16) {  // (the bucket pass is already ~5x faster than std::sort at 32-128 hashes)
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return;
  }
  // Hashes are evenly spread, so scattering them by their top bits into about as many buckets
  // as there are hashes leaves an array in which an element is out of order only against a
  // neighbour from its own (tiny) bucket. One insertion-sort pass then finishes it with few
  // branch mispredictions, and a branch-free pass drops duplicates. ~3x faster than a 6-pass
  // LSD radix sort on the 500-1000 hashes of a typical message, 1.3x on 3000.
  const int bits = std::min(static_cast<int>(std::bit_width(n)), 20);
  const int shift = 64 - bits;
  const size_t buckets = size_t{1} << bits;
  // Scratch kept per thread: one allocation per thread, not per message.
  thread_local std::vector<uint64_t> tmp;
  thread_local std::vector<uint32_t> start;
  start.assign(buckets + 1, 0);
  for (uint64_t x : v)
    ++start[(x >> shift) + 1];
  for (size_t b = 1; b <= buckets; ++b)
    start[b] += start[b - 1];
  tmp.resize(n);
  for (uint64_t x : v)
    tmp[start[x >> shift]++] = x;
  uint64_t* a = tmp.data();
  // Hashes that share their top bits (crafted ones, or many repeats of two hashes that happen
  // to) would make the pass quadratic: past a budget of moves, std::sort finishes the job.
  size_t moves = 0;
  for (size_t i = 1; i < n; ++i) {
    const uint64_t x = a[i];
    size_t j = i;
    for (; j > 0 && a[j - 1] > x; --j)
      a[j] = a[j - 1];
    a[j] = x;
    moves += i - j;
    if (moves > 8 * n) {
      std::sort(a, a + n);
      break;
    }
  }
  uint64_t* out = v.data();
  out[0] = a[0];
  size_t kept = 1;
  for (size_t i = 1; i < n; ++i) {
    out[kept] = a[i];
    kept += a[i] != a[i - 1];
  }
  v.resize(kept);
  if (tmp.capacity() > (size_t{1} << 20)) {  // do not pin a huge message's buffers
    std::vector<uint64_t>().swap(tmp);
    std::vector<uint32_t>().swap(start);
  }
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
