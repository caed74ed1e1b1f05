#include "bounce/bounce.h"

#include <algorithm>
#include <cctype>

#include "bounce/advice.h"
#include "bounce/notification.h"
#include "bounce/provider_codes.h"
#include "bounce/reason.h"
#include "bounce/rhost.h"
#include "bounce/vendors.h"
#include "core/ascii.h"
#include "mime/message.h"

namespace mailsift::bounce {
namespace {

// Error sections longer than this are not bounce texts worth reading; bounding keeps the phrase
// scans linear and cheap on hostile input.
constexpr size_t kMaxSection = 64 * 1024;
constexpr size_t kMaxDiagnostic = 2048;
constexpr size_t kMaxRecipients = 1000;

char lc(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

std::string collapse(std::string_view s) {
  std::string t;
  t.reserve(std::min(s.size(), kMaxDiagnostic));
  bool space = false;
  for (char c : s) {
    if (t.size() >= kMaxDiagnostic)
      break;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !t.empty())
      t.push_back(' ');
    space = false;
    t.push_back(c);
  }
  return t;
}

// Lines of a text with any of CRLF, CR, LF endings.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      out.push_back(s.substr(start, i - start));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')
        ++i;
      start = i + 1;
    }
  }
  if (start < s.size())
    out.push_back(s.substr(start));
  return out;
}

bool istarts(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size())
    return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i)
    if (lc(s[i]) != lower_prefix[i])
      return false;
  return true;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// "name: value" fields of a header-like block (DSN fields, text/rfc822-headers, inline
// original headers), unfolded. Stops at the first blank line when `stop_at_blank`.
struct Field {
  std::string name;  // lower-case
  std::string value;
};
struct FieldBlock {
  std::vector<Field> fields;
};
std::vector<FieldBlock> parse_field_blocks(std::string_view text, bool stop_at_blank) {
  std::vector<FieldBlock> blocks(1);
  for (auto line : split_lines(text)) {
    if (trim(line).empty()) {
      if (stop_at_blank && !blocks.back().fields.empty())
        break;
      if (!blocks.back().fields.empty())
        blocks.emplace_back();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !blocks.back().fields.empty()) {
      auto& v = blocks.back().fields.back().value;
      if (v.size() < kMaxDiagnostic) {
        v.push_back(' ');
        v.append(trim(line));
      }
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 64)
      continue;
    std::string_view name = line.substr(0, colon);
    if (name.find(' ') != std::string_view::npos)
      continue;
    blocks.back().fields.push_back(
        {ascii_lower(trim(name)), std::string(trim(line.substr(colon + 1)))});
  }
  if (blocks.back().fields.empty())
    blocks.pop_back();
  return blocks;
}

const std::string* field(const FieldBlock& b, std::string_view name) {
  for (const auto& f : b.fields)
    if (f.name == name)
      return &f.value;
  return nullptr;
}

// "rfc822; user@example.com" → "user@example.com" (type prefix dropped, brackets stripped).
std::string typed_address(std::string_view v) {
  size_t semi = v.find(';');
  if (semi != std::string_view::npos)
    v = v.substr(semi + 1);
  return mime::extract_address(trim(v));
}

// "dns; mx.example.com" → "mx.example.com"
std::string typed_value(std::string_view v, std::string* type = nullptr) {
  size_t semi = v.find(';');
  if (semi != std::string_view::npos) {
    if (type)
      *type = std::string(trim(v.substr(0, semi)));
    v = v.substr(semi + 1);
  }
  return std::string(trim(v));
}

bool addr_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '+' || c == '=' || c == '%' || c == '\'' || c == '/' || c == '!' || c == '#' ||
         c == '$' || c == '&' || c == '*' || c == '?' || c == '^' || c == '`' || c == '{' ||
         c == '|' || c == '}' || c == '~';
}

struct Found {
  std::string address;  // lower-case
  size_t pos;           // in the line
};
// E-mail addresses in one line, in order.
std::vector<Found> addresses_in(std::string_view line) {
  std::vector<Found> out;
  for (size_t at = line.find('@'); at != std::string_view::npos; at = line.find('@', at + 1)) {
    size_t b = at;
    while (b > 0 && addr_char(line[b - 1]))
      --b;
    size_t e = at + 1;
    while (e < line.size() &&
           (std::isalnum(static_cast<unsigned char>(line[e])) || line[e] == '.' || line[e] == '-'))
      ++e;
    while (e > at + 1 && line[e - 1] == '.')
      --e;
    if (b == at || e == at + 1)
      continue;
    std::string_view domain = line.substr(at + 1, e - at - 1);
    if (domain.find('.') == std::string_view::npos)
      continue;
    // Strip "rfc822;" style or quote leftovers at the start.
    std::string a = ascii_lower(line.substr(b, e - b));
    while (!a.empty() && (a[0] == '.' || a[0] == '\'' || a[0] == '/' || a[0] == '='))
      a.erase(0, 1);
    if (a.empty() || a[0] == '@')
      continue;
    out.push_back({a, b});
  }
  return out;
}

bool is_system_address(std::string_view a) {
  return istarts(a, "mailer-daemon@") || istarts(a, "postmaster@") || istarts(a, "maildelivery") ||
         istarts(a, "mail-daemon@") || istarts(a, "no-reply@") || istarts(a, "noreply@") ||
         istarts(a, "bounce");
}

std::string detect_command(std::string_view lower_text) {
  struct C {
    std::string_view needle, command;
  };
  static constexpr C kCommands[] = {{"rcpt to", "RCPT"},      {"smtp:rcpt", "RCPT"},
                                    {"rcpt command", "RCPT"}, {">>> rcpt", "RCPT"},
                                    {"[rcpt_to]", "RCPT"},    {"does not like recipient", "RCPT"},
                                    {"mail from", "MAIL"},    {">>> mail", "MAIL"},
                                    {"end of data", "DATA"},  {"after data", "DATA"},
                                    {"data command", "DATA"}, {">>> data", "DATA"},
                                    {"message body", "DATA"}, {"ehlo", "EHLO"},
                                    {"helo", "HELO"},         {"initial connection", "CONN"},
                                    {"starttls", "STARTTLS"}};
  size_t best = std::string_view::npos;
  std::string_view cmd;
  for (const auto& c : kCommands) {
    size_t p = lower_text.find(c.needle);
    if (p != std::string_view::npos && (best == std::string_view::npos || p < best)) {
      best = p;
      cmd = c.command;
    }
  }
  // A transcript or an envelope summary names MAIL FROM before RCPT TO; a server that accepted
  // MAIL and refused later refused RCPT (or after), so the later command is the refused one.
  if (cmd == "MAIL") {
    size_t rcpt = lower_text.find("rcpt to", best);
    if (rcpt != std::string_view::npos)
      cmd = "RCPT";
  }
  return std::string(cmd);
}

// "host mx.example.com[192.0.2.1] said:" / "host mx.example.com [192.0.2.1]:"
std::string detect_remote_host(std::string_view lower_text) {
  for (size_t p = lower_text.find("host "); p != std::string_view::npos;
       p = lower_text.find("host ", p + 5)) {
    if (p > 0 && std::isalpha(static_cast<unsigned char>(lower_text[p - 1])))
      continue;
    size_t s = p + 5;
    size_t e = s;
    while (e < lower_text.size() && (std::isalnum(static_cast<unsigned char>(lower_text[e])) ||
                                     lower_text[e] == '.' || lower_text[e] == '-'))
      ++e;
    std::string_view name = lower_text.substr(s, e - s);
    if (name.find('.') == std::string_view::npos)
      continue;
    std::string_view rest = lower_text.substr(e, 4);
    if (!rest.empty() && (rest[0] == '[' || rest.substr(0, 2) == " [" || rest[0] == ':' ||
                          rest.substr(0, 5) == " said"))
      return std::string(name);
  }
  return {};
}

Original original_from_fields(const FieldBlock& b) {
  Original o;
  if (auto* v = field(b, "from"))
    o.from = mime::extract_address(*v);
  if (auto* v = field(b, "to"))
    o.to = mime::extract_address(*v);
  if (auto* v = field(b, "message-id"))
    o.message_id = std::string(trim(*v));
  if (auto* v = field(b, "date"))
    o.date = std::string(trim(*v));
  if (auto* v = field(b, "subject"))
    o.subject = *v;
  return o;
}

Original original_from_part(const mime::Message& m, int idx) {
  Original o;
  const auto& p = m.parts[static_cast<size_t>(idx)];
  for (const auto& h : p.headers) {
    if (istarts(h.name, "from") && h.name.size() == 4 && o.from.empty())
      o.from = mime::extract_address(h.value);
    else if (istarts(h.name, "to") && h.name.size() == 2 && o.to.empty())
      o.to = mime::extract_address(h.value);
    else if (istarts(h.name, "message-id") && h.name.size() == 10)
      o.message_id = h.value;
    else if (istarts(h.name, "date") && h.name.size() == 4)
      o.date = h.value;
    else if (istarts(h.name, "subject") && h.name.size() == 7)
      o.subject = h.value;
  }
  return o;
}

std::string header_value(const mime::Message& m, std::string_view name) {
  const mime::Header* h = m.header(name);
  return h ? h->value : std::string();
}

// The error section of a text bounce: `text` up to the first line carrying an end marker.
// Returns the section and, via `rest`, the text after the marker (the inline original).
std::string_view cut_section(std::string_view text, const Vendor* vendor, std::string_view* rest) {
  *rest = {};
  size_t pos = 0;
  while (pos < text.size() && pos < kMaxSection) {
    size_t nl = text.find_first_of("\r\n", pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string line = ascii_lower(trim(text.substr(pos, end - pos)));
    bool hit = false;
    for (auto m : generic_end_markers())
      if (contains(line, m)) {
        hit = true;
        break;
      }
    if (!hit && vendor)
      for (auto m : vendor->end_markers)
        if (contains(line, m)) {
          hit = true;
          break;
        }
    // An inline copy of the original often starts with its trace headers, without a marker.
    if (!hit && (istarts(line, "received:") || istarts(line, "return-path:")))
      hit = true;
    if (hit && pos > 0) {
      *rest = text.substr(end);
      return text.substr(0, pos);
    }
    if (nl == std::string_view::npos)
      break;
    pos = nl + 1;
  }
  return text.substr(0, std::min(text.size(), kMaxSection));
}

// Recipients named in a text bounce, each with the block of text that describes it.
struct TextRecipient {
  std::string address;
  std::string block;
};
std::vector<TextRecipient> recipients_from_text(std::string_view section,
                                                const std::vector<std::string>& exclude) {
  auto lines = split_lines(section);
  struct Hit {
    std::string address;
    size_t line;
    bool leading;
  };
  std::vector<Hit> hits;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string ll = ascii_lower(line);
    for (const auto& f : addresses_in(line)) {
      if (std::find(exclude.begin(), exclude.end(), f.address) != exclude.end())
        continue;
      if (is_system_address(f.address))
        continue;
      // Skip the sender named in a transcript or a header-ish line.
      std::string_view before = std::string_view(ll).substr(0, f.pos);
      if (contains(before, "mail from") || contains(before, "from:") ||
          contains(before, "return-path") || contains(before, "sender") ||
          contains(before, "envelope-from") || contains(before, "reply-to") ||
          contains(before, "message-id:") || contains(before, "references") ||
          contains(before, "in-reply-to") || contains(before, "delivered-to") ||
          contains(before, "x-original-to"))
        continue;
      std::string_view lead = trim(before);
      while (!lead.empty() && (lead.back() == '<' || lead.back() == '"' || lead.back() == '\'' ||
                               lead.back() == '(' || lead.back() == '['))
        lead.remove_suffix(1);
      lead = trim(lead);
      // "550 <user@host>... User unknown" (Sendmail transcripts): a bare reply code, possibly
      // after "<<<", before the address also names a recipient.
      std::string_view code = lead;
      if (code.size() >= 3 && code.substr(0, 3) == "<<<")
        code = trim(code.substr(3));
      bool reply_lead = code.size() >= 3 && (code[0] == '4' || code[0] == '5') &&
                        std::isdigit(static_cast<unsigned char>(code[1])) &&
                        std::isdigit(static_cast<unsigned char>(code[2])) &&
                        (code.size() == 3 || find_status(code.substr(3)).size() + 4 >= code.size());
      bool leading = lead.empty() || lead.back() == ':' || reply_lead ||
                     contains(lead, "rcpt to") || contains(lead, "recipient") ||
                     contains(lead, "delivery to") || contains(lead, "message to") ||
                     contains(lead, "deliver to") || contains(lead, "to:") ||
                     contains(lead, "addressed to") || contains(lead, "original-recipient") ||
                     contains(lead, "final-recipient");
      hits.push_back({f.address, i, leading});
    }
  }
  // "Your message To: a@b Subject: ... did not reach the following recipient(s):" — addresses
  // above such an announcement summarise the original; the failed ones follow it.
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string ll = ascii_lower(lines[i]);
    if (contains(ll, "following recipient") || contains(ll, "following address") ||
        contains(ll, "following destination")) {
      bool after = std::any_of(hits.begin(), hits.end(), [i](const Hit& h) { return h.line >= i; });
      if (after)
        hits.erase(
            std::remove_if(hits.begin(), hits.end(), [i](const Hit& h) { return h.line < i; }),
            hits.end());
      break;
    }
  }
  bool any_leading = std::any_of(hits.begin(), hits.end(), [](const Hit& h) { return h.leading; });
  std::vector<Hit> chosen;
  for (const auto& h : hits) {
    if (any_leading && !h.leading)
      continue;
    bool seen = std::any_of(chosen.begin(), chosen.end(),
                            [&](const Hit& c) { return c.address == h.address; });
    if (!seen)
      chosen.push_back(h);
    if (chosen.size() >= kMaxRecipients)
      break;
  }
  std::vector<TextRecipient> out;
  for (size_t k = 0; k < chosen.size(); ++k) {
    size_t from = chosen[k].line;
    size_t to = k + 1 < chosen.size() ? chosen[k + 1].line : lines.size();
    if (to <= from)
      to = from + 1;
    std::string block;
    for (size_t i = from; i < to && i < lines.size() && block.size() < kMaxDiagnostic; ++i) {
      block.append(lines[i]);
      block.push_back('\n');
    }
    // A block of just the address line: the explanation is above (one message for all) or
    // below; take the following lines of the section then.
    if (trim(block).size() <= chosen[k].address.size() + 4 && to == from + 1) {
      for (size_t i = from + 1; i < lines.size() && i < from + 8; ++i) {
        block.append(lines[i]);
        block.push_back('\n');
      }
    }
    out.push_back({chosen[k].address, std::move(block)});
  }
  return out;
}

// Which of the Status field's code and the code in the reply text to keep (Sisimai
// SMTP/Status.pm prefer()): the one whose class agrees with the reply code; otherwise the
// field, unless it is vague (X.0.0, X.Y.0, X.0.Z where the text's is not) or one of the codes
// MTAs use as catch-alls (4.4.7 "expired", 4.7.0, 5.3.x, X.5.1/2/4/5 protocol errors), or a
// 5.1.1 / 5.1.3 the text refines.
std::string prefer_status(const std::string& field, const std::string& text,
                          const std::string& reply) {
  if (field.empty())
    return text;
  if (text.empty() || field.size() < 5)
    return text.empty() ? field : text;
  if (text.size() < 5)
    return field;
  if (!reply.empty() && field[0] != text[0]) {
    if (reply[0] == field[0])
      return field;
    if (reply[0] == text[0])
      return text;
  }
  if (field == text)
    return field;
  auto has = [](const std::string& s, std::string_view what) {
    return s.find(what) != std::string::npos;
  };
  if (has(field, ".0.0"))
    return has(text, ".0.0") ? field : text;
  if (has(field, ".0") && !has(text, ".0"))
    return text;
  if (has(text, ".0.0"))
    return field;
  std::string_view f(field);
  if (f == "4.4.7" || f == "4.7.0" || f.substr(0, 4) == "5.3.")
    return text;
  std::string_view mid = f.substr(1, 4);
  if (mid == ".5.1" || mid == ".5.2" || mid == ".5.4" || mid == ".5.5")
    return text;
  if (f == "5.1.1")
    return (has(text, ".0") || text.rfind("5.5.", 0) == 0) ? field : text;
  if (f == "5.1.3" && text.rfind("5.7.", 0) == 0)
    return text;
  return field;
}

// A session transcript written as "In: <command>" / "Out: <reply>" lines (Postfix's "Transcript
// of session follows", sent to the postmaster): the failure is the first 4xx/5xx reply, to the
// command sent last before it; the 2xx replies around it say nothing about the failure.
bool transcript_error(std::string_view diag, std::string* reply, std::string* command) {
  size_t at = std::string_view::npos;
  for (size_t p = diag.find("Out: "); p != std::string_view::npos; p = diag.find("Out: ", p + 5)) {
    std::string_view code = diag.substr(p + 5, 4);
    if (code.size() == 4 && (code[0] == '4' || code[0] == '5') &&
        valid_reply_code(code.substr(0, 3)) && (code[3] == ' ' || code[3] == '-')) {
      at = p;
      break;
    }
  }
  if (at == std::string_view::npos || diag.find("In: ") == std::string_view::npos)
    return false;
  size_t end = std::min(diag.find(" In: ", at), diag.find(" Out: ", at + 5));
  *reply =
      std::string(trim(diag.substr(at + 5, end == std::string_view::npos ? end : end - at - 5)));
  size_t in = diag.rfind("In: ", at);
  command->clear();
  if (in != std::string_view::npos) {
    std::string_view w = diag.substr(in + 4);
    while (!w.empty() && w.front() == ' ')
      w.remove_prefix(1);
    for (std::string_view c : {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "STARTTLS", "AUTH"})
      if (w.substr(0, c.size()) == c)
        *command = std::string(c);
  }
  return true;
}

// Status and reply code from a diagnostic, command and remote host from its wording.
void fill_from_diagnostic(Recipient& r) {
  std::string ld = ascii_lower(r.diagnostic);
  if (r.reply_code.empty()) {
    r.reply_code = find_reply_code(r.diagnostic);
    // Sendmail wraps the remote's reply in its own: "554 <a@b>... 550 Host unknown". The code
    // right after the "<address>..." is the remote server's, and the one the sender needs.
    size_t at = r.reply_code.empty() ? std::string::npos : r.diagnostic.find(r.reply_code);
    if (at != std::string::npos) {
      std::string_view after = std::string_view(r.diagnostic).substr(at + 3);
      size_t dots = after.find("... ");
      if (dots != std::string_view::npos && dots < 200 &&
          after.substr(0, dots).find(' ', 1) == std::string_view::npos) {
        std::string inner = find_reply_code(after.substr(dots + 4, 4));
        if (!inner.empty() && inner[0] != '2')
          r.reply_code = inner;
      }
    }
  }
  std::string in_text = find_status(r.diagnostic);
  // A relay's summary quoting the remote's last reply in angle brackets ("554 4.4.7 Message
  // expired ... <421 4.4.2 Connection timed out>"): the quoted reply is the real cause.
  for (size_t lt = r.diagnostic.find('<'); lt != std::string::npos;
       lt = r.diagnostic.find('<', lt + 1)) {
    std::string_view q = std::string_view(r.diagnostic).substr(lt + 1, 16);
    std::string code = find_reply_code(q.substr(0, 4));
    if (code.empty() || q.substr(0, 3) != code || code[0] == '2')
      continue;
    std::string st = find_status(q.substr(3));
    if (!st.empty() && q.substr(4, st.size()) == st) {
      r.reply_code = code;
      r.status = st;
      in_text.clear();
      break;
    }
  }
  // The code right after the SMTP reply code is the remote server's own; earlier ones may be a
  // relay's summary ("5.1.0 - Unknown address error 550-'5.2.2 ... Mailbox full'").
  if (!r.reply_code.empty()) {
    size_t at = r.diagnostic.find(r.reply_code);
    if (at != std::string::npos) {
      std::string after = find_status(std::string_view(r.diagnostic).substr(at, 16));
      if (!after.empty())
        in_text = after;
    }
  }
  if (!in_text.empty())
    r.status = prefer_status(r.status, in_text, r.reply_code);
  if (r.command.empty())
    r.command = detect_command(ld);
  if (r.remote_mta.empty())
    r.remote_mta = detect_remote_host(ld);
}

// Sisimai's "is this failure temporary": the first status code (else reply code) of the reply
// text decides; without one, the words "temporar(y|ily)" or "persistent" do.
bool is_temporary_text(std::string_view reply_code, std::string_view diagnostic) {
  std::string code = find_status(diagnostic);
  if (code.empty())
    code = std::string(reply_code);
  if (code.empty())
    code = find_reply_code(diagnostic);
  if (!code.empty())
    return code[0] == '4';
  std::string ld = ascii_lower(diagnostic);
  return contains(ld, " temporar") || contains(ld, " persistent");
}

// The text the classifier reads. A DSN's Diagnostic-Code often keeps only the first line of a
// multi-line reply, or drops Postfix's "(in reply to RCPT TO command)"; when the human-readable
// block about the same recipient quotes the same reply, read that fuller block instead, without
// the transcript's "<<<" / ">>>" arrows.
std::string classification_text(const std::string& diagnostic, std::string_view context) {
  if (context.empty() || diagnostic.size() < 16)
    return diagnostic;
  std::string full;
  for (std::string_view w : split_lines(context)) {
    w = trim(w);
    while (w.substr(0, 3) == "<<<" || w.substr(0, 3) == ">>>")
      w = trim(w.substr(3));
    if (!full.empty())
      full.push_back(' ');
    full.append(w);
  }
  full = collapse(full);
  std::string key = ascii_lower(std::string_view(diagnostic).substr(0, 40));
  if (full.size() > diagnostic.size() && contains(ascii_lower(full), key))
    return full;
  return diagnostic;
}

// `context` is the human-readable text about this recipient (may be empty): it often names the
// refused SMTP command ("in reply to RCPT TO command") when the DSN diagnostic does not.
// `lead` is the whole human-readable text when the report has a single recipient (else empty):
// an MTA's fixed explanation often stands above the address line ("The user(s) account is
// disabled." then "<a@b>: 550 user unknown"), and it is about that one recipient.
// `bare_in_list`: nothing was said about this recipient, its line is the bare address in a list
// the notice introduces ("... failed permanently:").
void finish_recipient(Recipient& r, const Report& rep, const Vendor* vendor,
                      std::string_view context, std::string_view lead = {},
                      bool bare_in_list = false) {
  if (std::string reply, command; transcript_error(r.diagnostic, &reply, &command)) {
    r.diagnostic = std::move(reply);
    if (r.command.empty())
      r.command = std::move(command);
  }
  fill_from_diagnostic(r);
  if (r.command.empty() && !context.empty())
    r.command = detect_command(ascii_lower(collapse(context)));
  // A provider's documented error code says more than its generic wording.
  if (r.reason.empty())
    r.reason = provider_code_reason(r.diagnostic);
  // The answering provider's own rules (Sisimai's Rhost step), keyed on who answered.
  if (r.reason.empty())
    r.reason = rhost_reason(
        {r.address, r.remote_mta, rep.reporting_mta, r.diagnostic, r.status, r.command});
  if (vendor && r.reason.empty() && !vendor->states.empty()) {
    std::string ld = ascii_lower(r.diagnostic);
    for (const auto& st : vendor->states) {
      if (!contains(ld, st.marker))
        continue;
      if (r.command.empty())
        r.command = std::string(st.command);
      // A specific status in the reply (no ".0") names the reason better than the state.
      std::string_view byst = status_reason(r.status);
      bool specific = r.status.size() >= 5 && r.status.find(".0") == std::string::npos;
      r.reason = specific && !byst.empty() ? std::string(byst) : std::string(st.reason);
      break;
    }
  }
  if (vendor && r.reason.empty()) {
    // The vendor's fixed messages, in the recipient's own text first, then in the lead-in.
    for (const std::string& text : {ascii_lower(r.diagnostic), ascii_lower(lead)}) {
      for (const auto& [phrase, reason] : vendor->phrases) {
        if (contains(text, phrase)) {
          r.reason = std::string(reason);
          break;
        }
      }
      if (!r.reason.empty())
        break;
    }
  }
  if (vendor && r.reason.empty()) {
    std::string ls = ascii_lower(rep.subject);
    for (const auto& [phrase, reason] : vendor->subject_reasons) {
      if (contains(ls, phrase)) {
        r.reason = std::string(reason);
        break;
      }
    }
  }
  r.status_explicit = !r.status.empty();
  if (r.action.empty())
    r.action = (!r.status.empty() && r.status[0] == '4') ? "delayed" : "failed";
  if (r.reason.empty()) {
    std::string text = classification_text(r.diagnostic, context);
    ReasonInput in{r.status, r.reply_code, text, r.command, r.action, r.diagnostic_type};
    r.reason = classify(in);
    // The vendor's fixed meaning when its text said nothing the classifier knows.
    if (vendor && !vendor->default_reason.empty() &&
        (r.reason == "onhold" || r.reason == "undefined"))
      r.reason = std::string(vendor->default_reason);
  }
  // A bare listed address whose introduction told the classifier nothing either: unsure, so
  // `undefined`, not `onhold` (Sisimai has no diagnostic there). Not applied to an explicit
  // status, which is information.
  if (bare_in_list && r.reason == "onhold" && !r.status_explicit)
    r.reason = "undefined";
  if (r.status.empty()) {
    // No code anywhere: Sisimai's pseudo code names the reason (SMTP/Status.pm code()). It is
    // temporary (4.0.9xx) when the reply code says so or, without one, the text calls the
    // failure temporary or persistent (SMTP/Failure.pm is_temporary); an MTA's own deferral
    // reasons are temporary in its text bounces (Lhost/Exim.pm).
    bool temporary = is_temporary_text(r.reply_code, r.diagnostic);
    if (vendor)
      for (auto t : vendor->temporary_reasons)
        if (t == r.reason)
          temporary = true;
    std::string_view status_reason_name = r.reason;
    if (vendor)
      for (const auto& [command, reason] : vendor->command_status_reasons)
        if (command == r.command)
          status_reason_name = reason;
    std::string p = pseudo_status(status_reason_name, temporary);
    if (!p.empty())
      r.status = p;
    r.status_explicit = false;
  }
  if (r.reason == "delivered")
    r.action = "delivered";
  r.hard_bounce = is_hard_bounce(r.reason, r.status);
  r.advice = advise(r, rep);
}

bool is_auto_reply(const mime::Message& m, std::string_view lsubject) {
  std::string as = ascii_lower(header_value(m, "Auto-Submitted"));
  if (istarts(as, "auto-replied") || istarts(as, "auto-notified"))
    return true;
  if (m.header("X-Autoreply") || m.header("X-Autorespond") || m.header("X-Autoresponder") ||
      m.header("X-Vacation") || m.header("X-Mail-Autoreply"))
    return true;
  std::string prec = ascii_lower(header_value(m, "Precedence"));
  if (prec == "auto_reply" || prec == "auto-reply")
    return true;
  std::string suppress = ascii_lower(header_value(m, "X-Auto-Response-Suppress"));
  if (contains(suppress, "oof") || contains(suppress, "autoreply"))
    if (contains(lsubject, "automatic reply") || contains(lsubject, "out of office") ||
        istarts(lsubject, "auto:"))
      return true;
  static constexpr std::string_view kSubjects[] = {
      "auto:",          "automatic reply",      "autoreply",         "auto-reply",
      "auto reply",     "out of office",        "out of the office", "on vacation",
      "vacation reply", "away from the office", "abwesenheitsnotiz", "réponse automatique",
      "absence"};
  for (auto s : kSubjects)
    if (istarts(lsubject, s) || contains(lsubject, std::string(": ") + std::string(s)))
      return true;
  return false;
}

// True when `block` holds no word beyond `address` (list bullets, brackets, punctuation).
bool says_nothing_but(std::string_view block, std::string_view address) {
  std::string rest = ascii_lower(block);
  if (!address.empty())
    if (size_t at = rest.find(ascii_lower(address)); at != std::string::npos)
      rest.erase(at, address.size());
  for (char c : rest)
    if (std::isalnum(static_cast<unsigned char>(c)))
      return false;
  return true;
}

// True when the text before the first mention of `address` ends with a colon: a lead-in that
// introduces the list of recipients rather than explaining a failure.
bool introduces_list(std::string_view section, std::string_view address) {
  std::string l = ascii_lower(section);
  size_t at = l.find(ascii_lower(address));
  if (at == std::string::npos)
    return false;
  std::string_view before = trim(std::string_view(l).substr(0, at));
  while (!before.empty() && (before.back() == '*' || before.back() == '-' || before.back() == '<' ||
                             std::isspace(static_cast<unsigned char>(before.back()))))
    before.remove_suffix(1);
  return !before.empty() && before.back() == ':';
}

// The error on a notice line "address: error" (OpenSMTPD's form), collapsed; empty when no line
// starts with the address followed by a colon.
std::string notice_line_error(std::string_view section, std::string_view address) {
  if (address.empty())
    return {};
  for (auto line : split_lines(section)) {
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t'))
      l.remove_prefix(1);
    if (l.size() > address.size() && l[address.size()] == ':' &&
        ascii_lower(l.substr(0, address.size())) == ascii_lower(address))
      return collapse(l.substr(address.size() + 1));
  }
  return {};
}

// The first text/* body inside raw MIME the parser could not split (a boundary parameter on an
// unfolded line, say): from the blank line after its Content-Type to the next "--" line. The
// whole input when there is no such part.
std::string salvage_text(std::string_view raw) {
  auto lines = split_lines(raw);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!istarts(lines[i], "content-type:"))
      continue;
    std::string v = ascii_lower(trim(lines[i].substr(13)));
    if (v.rfind("text/", 0) != 0 || v.rfind("text/rfc822-headers", 0) == 0)
      continue;
    size_t b = i + 1;
    while (b < lines.size() && !trim(lines[b]).empty())
      ++b;
    std::string out;
    for (size_t k = b + 1; k < lines.size() && out.size() < kMaxSection; ++k) {
      if (lines[k].substr(0, 2) == "--" && lines[k].size() > 8 &&
          lines[k].find(' ') == std::string_view::npos)
        break;
      out.append(lines[k]);
      out.push_back('\n');
    }
    if (!trim(out).empty())
      return out;
  }
  return std::string(raw);
}

// Offset of delivery-status fields inside a text ("Final-Recipient:" or "Original-Recipient:"
// at a line start, followed by "Action:" or "Status:"), npos when there are none.
size_t embedded_dsn(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find_first_of("\r\n", pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    if (istarts(line, "final-recipient:") || istarts(line, "original-recipient:") ||
        istarts(line, "reporting-mta:")) {
      std::string after = ascii_lower(text.substr(pos, std::min<size_t>(text.size() - pos, 4096)));
      if (contains(after, "\naction:") || contains(after, "\nstatus:") ||
          contains(after, "\raction:") || contains(after, "\rstatus:"))
        return pos;
    }
    if (nl == std::string_view::npos)
      break;
    pos = nl + 1;
  }
  return std::string_view::npos;
}

// First readable text of a part list: text/plain preferred, else any text.
int first_text_part(const mime::Message& m, int skip_below = -1) {
  int fallback = -1;
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const auto& p = m.parts[i];
    if (p.is_multipart || p.is_message)
      continue;
    // Skip parts inside a returned message.
    bool inside_message = false;
    for (int a = p.parent; a >= 0; a = m.parts[static_cast<size_t>(a)].parent)
      if (m.parts[static_cast<size_t>(a)].is_message)
        inside_message = true;
    if (inside_message || static_cast<int>(i) == skip_below)
      continue;
    if (p.content_type == "text/plain")
      return static_cast<int>(i);
    if (fallback < 0 && p.content_type.rfind("text/", 0) == 0 &&
        p.content_type != "text/rfc822-headers")
      fallback = static_cast<int>(i);
  }
  return fallback;
}

std::string strip_html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool tag = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '<') {
      // Keep <user@example.com>: an address, not a tag.
      size_t close = s.find('>', i);
      if (close != std::string_view::npos && close - i < 256 &&
          s.substr(i, close - i).find('@') != std::string_view::npos &&
          s.substr(i, close - i).find(' ') == std::string_view::npos &&
          s.substr(i, close - i).find('=') == std::string_view::npos) {
        out.append(s.substr(i, close - i + 1));
        i = close;
        continue;
      }
      tag = true;
      if (istarts(s.substr(i), "<br") || istarts(s.substr(i), "<p") ||
          istarts(s.substr(i), "</p") || istarts(s.substr(i), "<tr") ||
          istarts(s.substr(i), "<div") || istarts(s.substr(i), "</div"))
        out.push_back('\n');
      continue;
    }
    if (c == '>' && tag) {
      tag = false;
      continue;
    }
    if (!tag)
      out.push_back(c);
  }
  return out;
}

}  // namespace

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::kBounce:
      return "bounce";
    case Kind::kVacation:
      return "vacation";
    case Kind::kFeedback:
      return "feedback";
    case Kind::kNotBounce:
      return "not-bounce";
  }
  return "not-bounce";
}

Result<Report> parse(std::string_view raw) {
  auto parsed = mime::parse(raw);
  if (!parsed.ok())
    return parsed.error();
  const mime::Message& m = *parsed;
  Report rep;
  rep.subject = m.subject();
  rep.from = mime::extract_address(header_value(m, "From"));
  const std::string lsubject = ascii_lower(rep.subject);
  const std::string lfrom = ascii_lower(header_value(m, "From"));

  int dsn = -1, arf = -1, rfc822 = -1, headers_part = -1;
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const auto& ct = m.parts[i].content_type;
    if (dsn < 0 && (ct == "message/delivery-status" || ct == "message/global-delivery-status"))
      dsn = static_cast<int>(i);
    else if (arf < 0 && ct == "message/feedback-report")
      arf = static_cast<int>(i);
    else if (rfc822 < 0 && m.parts[i].is_message && m.parts[i].parent >= 0)
      rfc822 = static_cast<int>(i);
    else if (headers_part < 0 && (ct == "text/rfc822-headers" || ct == "message/rfc822-headers" ||
                                  ct == "message/global-headers"))
      headers_part = static_cast<int>(i);
  }
  // The original message: an attached message/rfc822 (its first child holds the headers) or a
  // headers-only part.
  if (rfc822 >= 0) {
    for (size_t i = static_cast<size_t>(rfc822) + 1; i < m.parts.size(); ++i) {
      if (m.parts[i].parent == rfc822) {
        rep.original = original_from_part(m, static_cast<int>(i));
        break;
      }
    }
  } else if (headers_part >= 0) {
    auto blocks = parse_field_blocks(m.parts[static_cast<size_t>(headers_part)].decoded, true);
    if (!blocks.empty())
      rep.original = original_from_fields(blocks[0]);
  }

  // A mail client's one-click unsubscribe (Apple Mail marks it "X-Apple-Unsubscribe: true"):
  // the sender of this message opts out of the list it is addressed to. It also carries
  // "Auto-Submitted: auto-replied", so it must be recognised before auto-replies.
  if (arf < 0 && ascii_lower(trim(header_value(m, "X-Apple-Unsubscribe"))) == "true") {
    rep.kind = Kind::kFeedback;
    rep.vendor = "unsubscribe";
    Recipient r;
    r.address = rep.from;
    r.feedback_type = "opt-out";
    r.reason = "feedback";
    r.action = "failed";
    r.advice = advise(r, rep);
    rep.recipients.push_back(std::move(r));
    return rep;
  }

  // ARF feedback report (RFC 5965).
  if (arf >= 0) {
    rep.kind = Kind::kFeedback;
    rep.vendor = "arf";
    auto blocks = parse_field_blocks(m.parts[static_cast<size_t>(arf)].decoded, false);
    FieldBlock all;
    for (auto& b : blocks)
      for (auto& f : b.fields)
        all.fields.push_back(f);
    Recipient r;
    if (auto* v = field(all, "original-rcpt-to"))
      r.address = mime::extract_address(*v);
    if (r.address.empty())
      if (auto* v = field(all, "removal-recipient"))
        r.address = mime::extract_address(*v);
    if (r.address.empty())
      r.address = rep.original.to;
    if (auto* v = field(all, "feedback-type"))
      r.feedback_type = ascii_lower(trim(*v));
    if (auto* v = field(all, "reporting-mta"))
      rep.reporting_mta = typed_value(*v);
    if (auto* v = field(all, "arrival-date"))
      rep.arrival_date = *v;
    if (auto* v = field(all, "original-mail-from"); v && rep.original.from.empty())
      rep.original.from = mime::extract_address(*v);
    r.reason = "feedback";
    r.action = "failed";
    r.advice = advise(r, rep);
    rep.recipients.push_back(std::move(r));
    return rep;
  }

  // Text of the human-readable part (bounded), used by every path below.
  int text_idx = first_text_part(m);
  std::string text;
  if (text_idx >= 0) {
    const auto& p = m.parts[static_cast<size_t>(text_idx)];
    std::string_view d = p.decoded;
    if (d.size() > kMaxSection)
      d = d.substr(0, kMaxSection);
    text = p.content_type == "text/html" ? strip_html(d) : std::string(d);
  }
  // Broken MIME (an unfolded boundary parameter, say) leaves no readable leaf: read the raw body
  // rather than nothing.
  if (trim(text).empty()) {
    std::string_view d = m.parts[0].raw_body;
    text = salvage_text(d.substr(0, std::min(d.size(), kMaxSection)));
  }
  std::string head_lines;
  for (const auto& h : m.parts[0].headers) {
    if (head_lines.size() > 16384)
      break;
    head_lines.append(ascii_lower(h.name))
        .append(": ")
        .append(ascii_lower(h.value.substr(0, 200)))
        .append("\n");
  }
  std::string lbody =
      ascii_lower(std::string_view(text).substr(0, std::min<size_t>(text.size(), 4096)));
  VendorInput vin{lfrom, lsubject, head_lines, lbody};
  const Vendor* vendor = detect(vin);

  // Amazon SES notifications: JSON instead of a DSN.
  if (dsn < 0 && contains(text, "notificationType")) {
    std::vector<Recipient> rs;
    if (parse_json_notification(text, rep, rs)) {
      for (auto& r : rs) {
        if (r.reason == "feedback")
          r.advice = advise(r, rep);
        else
          finish_recipient(r, rep, nullptr, {});
        rep.recipients.push_back(std::move(r));
      }
      return rep;
    }
    rep.vendor.clear();
  }

  // RFC 3464 delivery status notification.
  // Delivery-status fields written into the text itself (a broken boundary line, or MTAs that
  // send the report inline): read them as the report, and the text before them as the prose.
  std::string_view dsn_fields;
  std::string prose = text;
  if (vendor && vendor->notice_only) {
    // The vendor's notice is the report (vendors.h): no delivery-status part is read.
  } else if (dsn >= 0) {
    dsn_fields = m.parts[static_cast<size_t>(dsn)].decoded;
  } else if (size_t at = embedded_dsn(text); at != std::string::npos) {
    dsn_fields = std::string_view(text).substr(at);
    prose = text.substr(0, at);
  }
  if (!dsn_fields.empty()) {
    rep.kind = Kind::kBounce;
    rep.vendor = vendor ? std::string(vendor->name) : "rfc3464";
    auto blocks = parse_field_blocks(dsn_fields, false);
    std::string_view rest;
    std::string_view section = cut_section(prose, vendor, &rest);
    auto text_rcpts = recipients_from_text(section, {rep.original.from, rep.from});
    // Some MTAs write several recipients into one block without blank lines between them:
    // a repeated Final-Recipient / Original-Recipient starts the next recipient.
    {
      std::vector<FieldBlock> split;
      for (auto& b : blocks) {
        FieldBlock cur;
        bool has_final = false, has_orig = false;
        for (auto& f : b.fields) {
          bool is_final = f.name == "final-recipient", is_orig = f.name == "original-recipient";
          if ((is_final && has_final) || (is_orig && has_orig)) {
            split.push_back(std::move(cur));
            cur = FieldBlock{};
            has_final = has_orig = false;
          }
          has_final |= is_final;
          has_orig |= is_orig;
          cur.fields.push_back(f);
        }
        if (!cur.fields.empty())
          split.push_back(std::move(cur));
      }
      blocks = std::move(split);
    }
    std::vector<bool> bare_diagnostic;  // per recipient: nothing but a bare word was found
    for (const auto& b : blocks) {
      if (auto* v = field(b, "reporting-mta"); v && rep.reporting_mta.empty())
        rep.reporting_mta = typed_value(*v);
      if (auto* v = field(b, "arrival-date"); v && rep.arrival_date.empty())
        rep.arrival_date = *v;
      const std::string* fin = field(b, "final-recipient");
      const std::string* orig = field(b, "original-recipient");
      if (!fin && !orig)
        continue;
      if (rep.recipients.size() >= kMaxRecipients)
        break;
      Recipient r;
      r.address = typed_address(fin ? *fin : *orig);
      if (orig) {
        std::string o = typed_address(*orig);
        if (o != r.address)
          r.original_recipient = o;
        if (r.address.empty())
          r.address = o;
      }
      if (auto* v = field(b, "action"))
        r.action = ascii_lower(trim(*v));
      std::string status_comment;
      if (auto* v = field(b, "status")) {
        r.status = find_status(*v);
        // "Status: 4.0.0 (host name lookup failure)": the comment is a diagnostic too.
        size_t open = v->find('('), close = v->rfind(')');
        if (open != std::string::npos && close != std::string::npos && close > open + 1)
          status_comment = collapse(std::string_view(*v).substr(open + 1, close - open - 1));
      }
      if (auto* v = field(b, "remote-mta"))
        r.remote_mta = ascii_lower(typed_value(*v));
      if (auto* v = field(b, "diagnostic-code")) {
        std::string type;
        r.diagnostic = collapse(typed_value(*v, &type));
        r.diagnostic_type = type.empty() ? "" : type;
        for (char& c : r.diagnostic_type)
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      if (auto* v = field(b, "last-attempt-date"))
        r.last_attempt_date = *v;
      if (r.diagnostic.empty() && !status_comment.empty() &&
          !contains(ascii_lower(status_comment), "permanent failure") &&
          !contains(ascii_lower(status_comment), "temporary failure"))
        r.diagnostic = status_comment;
      // Fill a missing or bare diagnostic from the human-readable part.
      bool bare = false;
      if (r.diagnostic.empty() || r.diagnostic.size() < 16) {
        bare = true;
        for (const auto& tr : text_rcpts) {
          if (tr.address == r.address) {
            std::string c = collapse(tr.block);
            r.diagnostic = r.diagnostic.empty() ? c : r.diagnostic + " " + c;
            bare = false;
            break;
          }
        }
        if (r.diagnostic.empty() && text_rcpts.empty()) {
          r.diagnostic = collapse(section);
          bare = false;
        }
      }
      bare_diagnostic.push_back(bare);
      rep.recipients.push_back(std::move(r));
    }
    // One recipient whose diagnostic is still a bare word ("X-Unix; 255"): the human-readable
    // part (all of it: Sendmail's transcript follows its "original message was received" line) is
    // about that recipient, whatever address it names (a pipe, an alias), so it is the
    // diagnostic, or precedes it when it does not already quote it (Sisimai RFC3464.pm).
    if (rep.recipients.size() == 1 && bare_diagnostic.front() && !text.empty()) {
      Recipient& r = rep.recipients.front();
      std::string lead =
          collapse(std::string_view(text).substr(0, std::min<size_t>(text.size(), 4096)));
      if (!r.diagnostic.empty() && !contains(ascii_lower(lead), ascii_lower(r.diagnostic)))
        lead += " " + r.diagnostic;
      r.diagnostic = std::move(lead);
    }
    if (!rep.recipients.empty()) {
      // Exchange and others write the transcript into the DSN part only; copy the human text's
      // phrase when the DSN diagnostic carries none.
      for (auto& r : rep.recipients) {
        std::string_view context;
        for (const auto& tr : text_rcpts)
          if (tr.address == r.address)
            context = tr.block;
        std::string_view lead;
        if (rep.recipients.size() == 1)
          lead = std::string_view(text).substr(0, std::min<size_t>(text.size(), 4096));
        finish_recipient(r, rep, vendor, context, lead);
      }
      return rep;
    }
    // A delivery-status part without usable recipients: fall through to the text reading.
  }

  // Auto-replies before text bounces: they are not failures, but some say "could not".
  bool bounce_like = vendor != nullptr || looks_like_bounce(vin);
  if (!bounce_like && is_auto_reply(m, lsubject)) {
    rep.kind = Kind::kVacation;
    rep.vendor = "rfc3834";
    Recipient r;
    r.address = rep.from;
    r.action = "failed";
    r.reason = "vacation";
    r.diagnostic = collapse(std::string_view(text).substr(0, std::min<size_t>(text.size(), 512)));
    r.advice = advise(r, rep);
    rep.recipients.push_back(std::move(r));
    return rep;
  }
  if (!bounce_like)
    return rep;  // kNotBounce

  // Non-standard (plain-text) bounce.
  std::string_view rest;
  std::string_view section = cut_section(text, vendor, &rest);
  if (rep.original.from.empty() && rest.size() > 0) {
    // Inline original: header lines right after the marker.
    std::string_view r = rest;
    while (!r.empty() && (r.front() == '\r' || r.front() == '\n' || r.front() == ' '))
      r.remove_prefix(1);
    auto blocks = parse_field_blocks(r.substr(0, std::min<size_t>(r.size(), 16384)), true);
    if (!blocks.empty())
      rep.original = original_from_fields(blocks[0]);
  }
  std::vector<std::string> exclude = {rep.original.from, rep.from,
                                      mime::extract_address(header_value(m, "To"))};
  std::vector<TextRecipient> found;
  // Exim and others name the failed addresses in a header.
  std::string failed = header_value(m, "X-Failed-Recipients");
  auto text_rcpts = recipients_from_text(section, exclude);
  if (!failed.empty()) {
    for (const auto& f : addresses_in(failed)) {
      TextRecipient tr{f.address, {}};
      for (const auto& t : text_rcpts)
        if (t.address == f.address)
          tr.block = t.block;
      if (tr.block.empty())
        tr.block = std::string(section);
      found.push_back(std::move(tr));
    }
  } else {
    found = std::move(text_rcpts);
  }
  if (found.empty() && !rep.original.to.empty())
    found.push_back({rep.original.to, std::string(section)});
  if (found.empty())
    found.push_back({"", std::string(section)});
  rep.kind = Kind::kBounce;
  rep.vendor = vendor ? std::string(vendor->name) : "text";
  for (auto& tr : found) {
    Recipient r;
    r.address = tr.address;
    r.diagnostic = collapse(tr.block);
    std::string own_line =
        vendor && vendor->notice_only ? notice_line_error(section, tr.address) : std::string();
    if (!own_line.empty()) {
      // "address: error" is the whole report for this recipient (vendors.h notice_only).
      r.diagnostic = std::move(own_line);
    } else if (found.size() == 1) {
      // One recipient: the whole section may hold the explanation (above the address line).
      std::string whole = collapse(section);
      if (whole.size() > r.diagnostic.size())
        r.diagnostic = whole;
    }
    std::string ld = ascii_lower(r.diagnostic);
    if (contains(lsubject, "delayed") || contains(lsubject, "delay") ||
        contains(ld, "will continue to be attempted") || contains(ld, "still being retried") ||
        contains(ld, "has not yet been delivered"))
      r.action = "delayed";
    rep.recipients.push_back(std::move(r));
  }
  bool lead_counts = rep.recipients.size() == 1 && !(vendor && vendor->notice_only);
  for (size_t i = 0; i < rep.recipients.size(); ++i) {
    Recipient& r = rep.recipients[i];
    // Lotus Notes writes the reason above the address: only a list introduction counts.
    bool bare_in_list = i < found.size() && says_nothing_but(found[i].block, r.address) &&
                        introduces_list(section, r.address);
    finish_recipient(r, rep, vendor, {}, lead_counts ? section : std::string_view{}, bare_in_list);
  }
  return rep;
}

}  // namespace mailsift::bounce
