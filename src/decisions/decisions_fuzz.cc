// Fuzzes the two readers of outside text: decision JSON (daemon API, seeder) and the time /
// duration parsers (CLI). Invariants: no crash, no exception escapes, and a decision that was
// read survives encode -> decode unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "decisions/decision_json.h"
#include "decisions/timezone.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)mailsift::decisions::parse_time(text, "America/Toronto");
  (void)mailsift::decisions::parse_duration_ms(text);
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return 0;
  auto decision = mailsift::decisions::decision_from_json(json);
  if (!decision)
    return 0;
  const auto encoded = mailsift::decisions::decision_to_json(*decision);
  const std::string dumped = encoded.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto again = nlohmann::json::parse(dumped, nullptr, false);
  // Invalid UTF-8 is replaced on dump, so only valid-UTF-8 input must round-trip exactly.
  if (encoded.dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore) == dumped) {
    auto back = mailsift::decisions::decision_from_json(again);
    if (!back || mailsift::decisions::decision_to_json(*back) != encoded)
      std::abort();
  }
  return 0;
}
