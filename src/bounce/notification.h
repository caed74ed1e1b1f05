// mailsift::bounce JSON notifications — Amazon SES bounce / complaint / delivery notifications
// (delivered by SNS as mail whose body is JSON, the SES message itself a JSON string inside).
//
// Owns: reading those documents into a Report and raw Recipients (reason left empty unless SES's
// bounceSubType is the only information; the caller classifies and advises).
// Failure semantics: never throws (nlohmann::json is used with exceptions disabled); returns
// false when the body is not such a notification, leaving the report's kind untouched.
#pragma once

#include <string_view>
#include <vector>

#include "bounce/bounce.h"

namespace mailsift::bounce {

bool parse_json_notification(std::string_view body, Report& rep,
                             std::vector<Recipient>& recipients);

}  // namespace mailsift::bounce
