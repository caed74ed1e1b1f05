// mailsift::core — one Prometheus metric family in the text exposition format, for the
// components that add their own lines to /metrics (fleet replay queue, Redis mirror, replicas,
// decision-log group commit). Owns nothing else; cannot fail.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailsift {

// "# HELP name help\n# TYPE name type\nname value\n"; type is "counter" or "gauge".
inline std::string prometheus_family(std::string_view name, std::string_view type,
                                     std::string_view help, uint64_t value) {
  std::string out;
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out.append(name).append(" ").append(type).append("\n").append(name).append(" ");
  out.append(std::to_string(value)).append("\n");
  return out;
}

}  // namespace mailsift
