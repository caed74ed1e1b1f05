// mailsift::mime facts — the closed list of anomaly names the MIME parser can record.
//
// Owns: the table of fact names and descriptions (documentation order). Message::facts only
// ever holds names from this table; rules and tests key on these names, so a name is never
// renamed once shipped. Pure data: nothing here can fail.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace mailsift::mime {

// One entry per fact; the order matches all_facts().
enum class Fact : uint8_t {
  kMissingFrom,
  kMissingDate,
  kMissingMessageId,
  kMissingSubject,
  kMissingTo,
  kHeaderTooBig,
  kHeaderTooMany,
  kHeaderMalformed,
  kHeaderDuplicate,
  kHeader8BitRaw,
  kEncodedWordBroken,
  kMimeMissingMimeVersion,
  kMimeBadContentType,
  kMimeBadBoundary,
  kMimeMissingEndBoundary,
  kMimeTooDeep,
  kMimeTooManyParts,
  kMimeUnknownEncoding,
  kMimeBadBase64,
  kMimeBadQp,
  kMimeCharsetLie,
  kMimeUnknownCharset,
  kMime8BitNoCharset,
  kMimeBareCr,
  kTextTruncated,
  kTextZeroWidth,
  kHtmlOnly,
  kHtmlHiddenText,
  kHtmlLinkMismatch,
  kAttachmentTypeMismatch,
  kAttachmentExecutable,
  kCount
};

struct FactInfo {
  std::string_view name;
  std::string_view description;
};

// Every fact, indexed by static_cast<size_t>(Fact).
const std::vector<FactInfo>& all_facts();
std::string_view fact_name(Fact fact);
bool is_known_fact(std::string_view name);

}  // namespace mailsift::mime
