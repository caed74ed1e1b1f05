// mailsift::scan verdict JSON — the one-line object `mailsift scan --json` prints per message.
//
// Owns: the JSON form of a Verdict for one input path: {action, digest, elapsed_us, errors
// [{kind, message}], facts, is_spam, path, required_score, score, spam_probability (or null),
// symbols [{description, detail (when set), name, score}]}, keys sorted, no spaces — exactly
// what nlohmann::json dumps for that object. append_verdict_json writes it straight into a
// string: building the nlohmann tree first cost ~50 allocations and ~100k instructions per
// message. Numbers go through nlohmann's own formatter, so the text stays byte-identical.
//
// Failure semantics: none of its own. A string that is not valid UTF-8 (a file name, say)
// sends the whole object through nlohmann, which throws nlohmann::json::type_error (316) as the
// CLI always did for such input.
#pragma once

#include <string>
#include <string_view>

#include "scan/engine.h"

namespace mailsift::scan {

// Appends the object (no trailing newline) to out.
void append_verdict_json(std::string& out, std::string_view path, const Verdict& v);

}  // namespace mailsift::scan
