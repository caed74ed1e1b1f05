#include "core/sort_unique.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace mailsift {
namespace {

using Pairs = std::vector<std::pair<uint64_t, int>>;

// The reference: std::stable_sort by key; the payload records the input position, so equal
// keys must come out in input order.
Pairs reference(Pairs v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return v;
}

Pairs with_positions(const std::vector<uint64_t>& keys) {
  Pairs v;
  for (size_t i = 0; i < keys.size(); ++i)
    v.emplace_back(keys[i], static_cast<int>(i));
  return v;
}

TEST(RadixSortByKey, MatchesStableSortOnSpreadKeysWithDuplicates) {
  std::mt19937_64 rng(7);
  for (size_t n : {0, 1, 127, 128, 1000, 100000}) {
    std::vector<uint64_t> keys;
    for (size_t i = 0; i < n; ++i)
      keys.push_back(i % 4 == 3 && i > 0 ? keys[rng() % i] : rng());  // a quarter repeats
    Pairs v = with_positions(keys);
    Pairs want = reference(v);
    radix_sort_by_key(v);
    EXPECT_EQ(v, want) << "n=" << n;
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
    Pairs v = with_positions(keys);
    Pairs want = reference(v);
    radix_sort_by_key(v);
    EXPECT_EQ(v, want);
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

}  // namespace
}  // namespace mailsift
