#include "core/result.h"

namespace mailsift {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTemporary:
      return "temporary";
    case ErrorKind::kPermanent:
      return "permanent";
    case ErrorKind::kMalformed:
      return "malformed";
    case ErrorKind::kConfig:
      return "config";
  }
  return "unknown";
}

}  // namespace mailsift
