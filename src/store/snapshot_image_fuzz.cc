// libFuzzer target: bytes → a snapshot image file (checksum resealed, key taken from the header)
// → read_snapshot_image → lookups. A hostile image must be rejected or load a table whose probes
// terminate. Seeds in corpus/snapshot_image/.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "store/snapshot_image.h"

namespace {

const std::string& scratch_path() {
  static const std::string path = [] {
    char t[] = "/tmp/mailsift-snapfuzz-XXXXXX";
    int fd = mkstemp(t);
    if (fd >= 0)
      close(fd);
    return std::string(t);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailsift::store;
  std::string bytes = seal_snapshot_image(std::string(reinterpret_cast<const char*>(data), size));
  SnapshotImageKey key;
  if (bytes.size() >= 32) {  // store_id and scope sit at offsets 16 and 24 of the header
    std::memcpy(&key.store_id, bytes.data() + 16, 8);
    std::memcpy(&key.scope, bytes.data() + 24, 8);
  }
  FILE* f = std::fopen(scratch_path().c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  TokenTable table;
  if (read_snapshot_image(scratch_path(), key, table)) {
    const uint64_t probe[] = {0, 1, 42, 0x9E3779B97F4A7C15ULL, ~uint64_t{0}};
    TokenCounts out[5];
    table.lookup_many(probe, out);
    table.set(7, {1, 2});
    (void)table.get(7);
  }
  return 0;
}
