// mailsift::decisions — the match keys every DecisionLog backend compares on.
//
// Owns: how a stored field and a query value are reduced to the same key, so that the memory,
// SQLite and (later) PostgreSQL backends agree on what matches (see decisions.h "Matching").
// SQLite and PostgreSQL store these keys beside the original text and index them.
//
// Failure semantics: total functions; any input (including untrusted envelope text) gives a key.
#pragma once

#include <string>
#include <string_view>

#include "core/ascii.h"

namespace mailsift::decisions {

// Envelope address: trimmed, surrounding <> removed, lower-cased; the null sender ("" or "<>")
// becomes "<>" so that it can be searched for.
std::string address_key(std::string_view address);

// Tenant user ID (usually a mailbox address) and domain: trimmed, <> removed, lower-cased; a
// domain also loses a leading '@' and a trailing '.'. Empty stays empty (unknown tenant).
std::string user_key(std::string_view user);
std::string domain_key(std::string_view domain);

// Client IP: the canonical text of an IPv4/IPv6 address (IPv4-mapped IPv6 becomes IPv4);
// anything else lower-cased as given.
std::string ip_key(std::string_view ip);

// Message-ID: trimmed and without surrounding <> (staff paste it either way); case kept.
std::string message_id_key(std::string_view message_id);

// Action and direction words: trimmed, lower-cased.
std::string word_key(std::string_view word);

}  // namespace mailsift::decisions
