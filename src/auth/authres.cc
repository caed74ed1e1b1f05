#include "auth/authres.h"

#include <cctype>

namespace mailsift::auth {
namespace {

// Property values may be addresses (local@domain) which RFC 8601 allows unquoted as
// "[local-part "@"] domain-name"; everything else that is not a token gets quoted.
bool is_pvalue(std::string_view v) {
  if (v.empty())
    return false;
  for (unsigned char c : v) {
    if (c <= 32 || c >= 127)
      return false;
    if (std::string_view("()<>,;:\\\"[]?=").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  }
  return true;
}

std::string quoted(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\r' || c == '\n')
      c = ' ';
    out += c;
  }
  out += '"';
  return out;
}

std::string comment_text(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '(' || c == ')' || c == '\\')
      out += '\\';
    if (c == '\r' || c == '\n')
      c = ' ';
    out += c;
  }
  return out;
}

void skip_cfws(std::string_view s, size_t& i) {
  int depth = 0;
  while (i < s.size()) {
    char c = s[i];
    if (depth > 0) {
      if (c == '\\' && i + 1 < s.size()) {
        i += 2;
        continue;
      }
      if (c == '(')
        ++depth;
      if (c == ')')
        --depth;
      ++i;
      continue;
    }
    if (c == '(') {
      ++depth;
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else {
      break;
    }
  }
}

}  // namespace

std::string render_authentication_results(std::string_view authserv_id,
                                          const std::vector<MethodResult>& results) {
  std::string out(authserv_id);
  if (results.empty())
    return out + "; none";
  for (const auto& r : results) {
    out += ";\r\n\t";
    out += r.method;
    out += '=';
    out += r.result;
    if (!r.comment.empty())
      out += " (" + comment_text(r.comment) + ")";
    if (!r.reason.empty())
      out += " reason=" + quoted(r.reason);
    for (const auto& p : r.properties) {
      if (p.value.empty())
        continue;
      out += ' ';
      out += p.ptype;
      out += '.';
      out += p.property;
      out += '=';
      out += is_pvalue(p.value) ? p.value : quoted(p.value);
    }
  }
  return out;
}

std::string authserv_id_of(std::string_view v) {
  size_t i = 0;
  skip_cfws(v, i);
  std::string id;
  if (i < v.size() && v[i] == '"') {
    ++i;
    while (i < v.size() && v[i] != '"') {
      if (v[i] == '\\' && i + 1 < v.size())
        ++i;
      id += v[i++];
    }
    return id;
  }
  while (i < v.size()) {
    unsigned char c = v[i];
    if (c == ';' || c == '(' || std::isspace(c))
      break;
    id += static_cast<char>(c);
    ++i;
  }
  return id;
}

bool claims_authserv_id(std::string_view header_value, std::string_view authserv_id) {
  std::string id = authserv_id_of(header_value);
  if (id.size() != authserv_id.size() || id.empty())
    return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(id[i])) !=
        std::tolower(static_cast<unsigned char>(authserv_id[i])))
      return false;
  }
  return true;
}

}  // namespace mailsift::auth
