// mailsift::learn tokenizer — turns a parsed message into the feature hashes the statistical
// classifier counts, and computes the message digest that identifies a learned message.
//
// Owns: the feature families (body words, OSB word pairs, subject, selected headers, URLs, HTML
// facts, attachments), their text normalisation, and hashing each feature to a uint64 with XXH3
// under a per-family prefix so families never collide by construction of the text. The feature
// set of a message is returned sorted and de-duplicated (presence, not frequency, is counted).
//
// Stability contract: the same Message and FeatureOptions always give the same features, across
// runs and machines (XXH3 is endian-stable, no seeds from randomness). Changing the tokenizer
// changes the meaning of stored counts, so FeatureOptions defaults must only change together
// with a retrain; kFeatureVersion records that.
//
// Failure semantics: never fails and never throws; every loop is bounded by FeatureOptions caps,
// so cost is O(caps), not O(message size) beyond a linear scan of the texts.
//
// SECURITY: reads untrusted message content (already bounded by the mime parser's Limits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mime/message.h"

namespace mailsift::learn {

// Bump when the feature text or hashing changes (stored counts become meaningless).
inline constexpr int kFeatureVersion = 2;  // 2: 1000 words, OSB window 2, no HTML tags

struct FeatureOptions {
  size_t max_body_words = 1000;   // words of visible text tokenised (CV: 1000 ≈ 2000 > 400)
  size_t osb_window = 2;          // OSB pairs at distances 1..window-1 (<2: off). CV: 2 ≈ 3 > 5,
                                  // 0 (no pairs) clearly worse; 2 needs the fewest lookups
  size_t max_subject_words = 40;  // subject words (subject also gets OSB pairs)
  size_t max_header_words = 40;   // words taken from one header value
  size_t max_received = 6;        // Received headers tokenised (newest first)
  size_t max_hidden_words = 60;   // words of HTML hidden text
  size_t max_urls = 60;           // URLs contributing host / path features
  size_t max_word_bytes = 40;     // longer "words" become a coarse "long" feature
  size_t min_word_bytes = 2;      // shorter words are dropped
  bool caps_signal = true;        // ALLCAPS words also emit a caps feature
  bool header_names = true;       // presence of each header name ("hn:x-mailer")
  bool received_words = true;     // words of Received headers
  bool html_tags = false;         // tag / attribute names (and options below) from raw HTML source;
                                  // CV: off is better (they mark ham newsletters as much as spam)
  bool html_attr_values = false;  // words of HTML attribute values ("tv:font.color:ff0000")
  bool html_comments = false;     // words inside HTML comments ("hc:")
  bool transit_headers = false;   // Return-Path / Delivered-To / References words too
  bool size_buckets = true;       // "n:" size / count buckets
  bool parser_facts = true;       // "f:" facts reported by the mime parser
};

// Sorted, de-duplicated feature hashes.
std::vector<uint64_t> extract_features(const mime::Message& msg, const FeatureOptions& opt = {});

// Same features with their readable text ("s:free", "u:example.com", "w:click 2 here"), for
// explanations and debugging; sorted by hash, de-duplicated. Slower: not for the mail path.
std::vector<std::pair<uint64_t, std::string>> extract_named_features(
    const mime::Message& msg, const FeatureOptions& opt = {});

// Hex SHA-256 over a normalisation of the message that ignores transit headers (Received,
// Return-Path, Delivered-To, X-Original-To, our own X-Spam-* / X-Mailsift-*, the mbox "From "
// line) and line-ending / trailing-whitespace differences, so re-reporting the same delivered
// copy is idempotent.
std::string message_digest(const mime::Message& msg);

}  // namespace mailsift::learn
