// mailsift core — large arrays on transparent huge pages.
//
// Owns: one allocation policy for the big lookup arrays (the token table's slots, the
// near-duplicate band index): from `huge_from` bytes up, 2 MiB-aligned, rounded up to whole
// 2 MiB pages and marked MADV_HUGEPAGE, because with 4 KiB pages nearly every probe of a
// multi-megabyte table is a TLB miss and filling it costs a page fault per 4 KiB (~17 us each on
// the virtualised benchmark machine). Smaller arrays get plain aligned memory.
// Fails: std::bad_alloc when the memory is not there (madvise failing is ignored: the pages are
// then ordinary ones). Release with std::free.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace mailsift {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

inline void* allocate_maybe_huge(size_t bytes, size_t alignment, size_t huge_from) {
  const bool huge = bytes >= huge_from;
  const size_t align = huge ? kHugePageBytes : alignment;
  bytes = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, bytes);
  if (!p)
    throw std::bad_alloc();
  if (huge)
    ::madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

}  // namespace mailsift
