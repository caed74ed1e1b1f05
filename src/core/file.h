// mailsift::read_whole_file — one file into a std::string, with one open, one fstat and one read.
//
// Owns: the shared whole-file read used where start-up or the per-message path reads files (the
// compiled vectorscan cache and rule file in src/rules, input messages in the CLI, bounce
// inputs). std::istreambuf_iterator costs tens of instructions per byte; this costs a memcpy.
//
// Failure semantics: errors are values, kind kPermanent (the file is missing, unreadable or a
// directory: retrying will not help); the message is "cannot read PATH: REASON" for a failed
// open or "error reading PATH: REASON" for a failed read, and "PATH is a directory". A file that
// changes size while it is read is read to its end as seen by read(2). An empty file is not an
// error here (callers decide).
#pragma once

#include <string>

#include "core/result.h"

namespace mailsift {

Result<std::string> read_whole_file(const std::string& path);

}  // namespace mailsift
