#include "core/sort_unique.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace mailsift {
namespace {

using Pairs = std::vector<std::pair<uint64_t, int>>;

// Equal keys may come out in any order, so the check is: keys ascending, and the same pairs
// as the input (the payload is the input position, so nothing was lost or duplicated).
void expect_sorted_permutation(const Pairs& in, const Pairs& out) {
  ASSERT_EQ(in.size(), out.size());
  for (size_t i = 1; i < out.size(); ++i)
    ASSERT_LE(out[i - 1].first, out[i].first) << "at " << i;
  Pairs a = in, b = out;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
}

Pairs with_positions(const std::vector<uint64_t>& keys) {
  Pairs v;
  for (size_t i = 0; i < keys.size(); ++i)
    v.emplace_back(keys[i], static_cast<int>(i));
  return v;
}

TEST(RadixSortByKey, SortsSpreadKeysWithDuplicates) {
  std::mt19937_64 rng(7);
  for (size_t n : {0, 1, 127, 128, 1000, 100000}) {
    std::vector<uint64_t> keys;
    for (size_t i = 0; i < n; ++i)
      keys.push_back(i % 4 == 3 && i > 0 ? keys[rng() % i] : rng());  // a quarter repeats
    const Pairs in = with_positions(keys);
    Pairs v = in;
    radix_sort_by_key(v);
    expect_sorted_permutation(in, v);
    Pairs again = in;  // the same input gives the same order
    radix_sort_by_key(again);
    EXPECT_EQ(again, v) << "n=" << n;
  }
}

TEST(RadixSortByKey, KeysSharingTheirTopBitsStillSort) {
  // Every key in one bucket (the crowded-bucket path), and small keys (all top bits zero).
  std::mt19937_64 rng(11);
  std::vector<uint64_t> same_top, small;
  for (int i = 0; i < 5000; ++i) {
    same_top.push_back((uint64_t{0xABCD} << 48) | (rng() & 0xffff));
    small.push_back(rng() % 3000);
  }
  for (const auto& keys : {same_top, small}) {
    const Pairs in = with_positions(keys);
    Pairs v = in;
    radix_sort_by_key(v);
    expect_sorted_permutation(in, v);
  }
}

TEST(SortUnique, SortsAndDropsDuplicates) {
  std::mt19937_64 rng(3);
  for (size_t n : {0, 5, 127, 128, 5000}) {
    std::vector<uint64_t> v;
    for (size_t i = 0; i < n; ++i)
      v.push_back(rng() % (n / 2 + 1));
    std::vector<uint64_t> want = v;
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    sort_unique(v);
    EXPECT_EQ(v, want) << "n=" << n;
  }
}

TEST(SortUnique, SpreadHashesWithRepeats) {
  // The bucket path: evenly spread hashes, a third of them repeats of earlier ones.
  std::mt19937_64 rng(9);
  for (size_t n : {16, 17, 100, 128, 1000, 5000, 300000}) {
    std::vector<uint64_t> v;
    for (size_t i = 0; i < n; ++i)
      v.push_back(i % 3 == 2 ? v[rng() % i] : rng());
    std::vector<uint64_t> want = v;
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    sort_unique(v);
    EXPECT_EQ(v, want) << "n=" << n;
  }
}

TEST(SortUnique, InterleavedRepeatsOfHashesSharingABucket) {
  // Thousands of copies of two hashes with the same top bits, the larger first: the insertion
  // pass would move every smaller copy past all larger ones; the move budget hands over to
  // std::sort.
  std::vector<uint64_t> v;
  for (int i = 0; i < 4000; ++i)
    v.push_back(i % 2 ? 0x1234'0000'0000'0001 : 0x1234'0000'0000'0002);
  sort_unique(v);
  EXPECT_EQ(v, (std::vector<uint64_t>{0x1234'0000'0000'0001, 0x1234'0000'0000'0002}));
}

TEST(SortUnique, HashesSharingTheirTopBitsStillSort) {
  // Every hash in one bucket (the crowded-bucket path), small values (top bits all zero), and
  // a bucket of exactly-equal hashes.
  std::mt19937_64 rng(5);
  std::vector<uint64_t> same_top, small, equal(3000, 42);
  for (int i = 0; i < 5000; ++i) {
    same_top.push_back((uint64_t{0xABCD} << 48) | (rng() & 0xffff));
    small.push_back(rng() % 3000);
  }
  for (std::vector<uint64_t> v : {same_top, small, equal}) {
    std::vector<uint64_t> want = v;
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    sort_unique(v);
    EXPECT_EQ(v, want);
  }
}

}  // namespace
}  // namespace mailsift
