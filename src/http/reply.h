// mailsift::http reply bodies: the native JSON API and the Rspamd 3.4 /checkv2 shape.
//
// Owns: how a ScanOutcome / LearnResult / Error is written as JSON. Rspamd replies keep Rspamd
// 3.4's key names and order (is_skipped, score, required_score, action, symbols, messages,
// message-id, time_real, milter) and its action strings, so existing clients parse them.
//
// Failure semantics: pure formatting, never fails. Strings from the message (symbol details,
// Message-ID) are JSON-escaped by nlohmann::json; invalid UTF-8 is replaced, not thrown on.
#pragma once

#include <string>

#include "core/result.h"
#include "http/api_reply.h"
#include "http/request.h"
#include "scan/engine.h"
#include "server/service.h"

namespace mailsift::http {

// native_error_json (the {"error":{"kind":..,"message":..}} body) is in http/api_reply.h.
// {"error":"..."} — what Rspamd's controller and normal worker send with an error status.
std::string rspamd_error_json(const std::string& message);

// POST /api/v1/scan: decision id, every recipient's verdict, headers to add/remove.
std::string native_scan_json(const server::ScanOutcome& outcome, double seconds);
// POST /api/v1/(un)learn/*: {"outcome":"learned","class":"spam","scope":"u:bob@x","digest":..}
std::string native_learn_json(const scan::LearnResult& result, store::Class cls);

// Which recipient's verdict a single-verdict (Rspamd) reply reports: Deliver-To's when it is
// among the outcomes; otherwise the recipient with the least severe action (one answer covers
// the whole transaction, and per-recipient policy must not reject mail for a recipient who
// wants it; each recipient's verdict still travels in the added headers). Ties: first.
size_t pick_reported_recipient(const server::ScanOutcome& outcome, const std::string& deliver_to);

// POST /checkv2: Rspamd 3.4's reply shape for the picked recipient.
std::string rspamd_check_json(const server::ScanOutcome& outcome, const RequestParams& params,
                              const std::string& message_id, double seconds);

// Rspamd's error text for a learn of an already learned message (sent with status 208).
std::string rspamd_already_learned_message(const std::string& message_id, store::Class cls);

}  // namespace mailsift::http
