#include "console/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

namespace mailsift::console {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (!std::isfinite(v))
    return "n/a";
  std::string s = fmt::format("{:.3f}", v);
  while (!s.empty() && s.back() == '0')
    s.pop_back();
  if (!s.empty() && s.back() == '.')
    s.pop_back();
  return s == "-0" ? "0" : s;
}

namespace {

constexpr const char* kCss = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1c2430;background:#f5f6f8}
header{background:#1f3a5f;color:#fff;padding:.6em 1.2em;display:flex;flex-wrap:wrap;gap:1em;align-items:center}
header a{color:#dbe7ff;text-decoration:none}header a:hover{text-decoration:underline}
header .who{margin-left:auto;font-size:.9em}
header form{display:inline;margin:0}
main{padding:1em 1.5em;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em;border-bottom:1px solid #ccd;padding-bottom:.2em}
table{border-collapse:collapse;background:#fff;margin:.5em 0}
th,td{border:1px solid #d5d9e0;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#e8ecf3}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;background:#fff;padding:.5em;border:1px solid #d5d9e0}
dt{font-weight:600}dd{margin:0}
form.search{display:flex;flex-wrap:wrap;gap:.6em;align-items:end;background:#fff;padding:.8em;border:1px solid #d5d9e0}
form.search label{display:flex;flex-direction:column;font-size:.85em}
input,select,textarea,button{font:inherit;padding:.25em .4em}
textarea{width:100%;min-height:14em;font-family:monospace}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6em;color:#8a1111}
.ok{background:#e6f6e6;border:1px solid #9c9;padding:.6em}
.note{color:#556;font-size:.9em}
.charts{display:flex;flex-wrap:wrap;gap:1em}
.charts svg{background:#fff;border:1px solid #d5d9e0}
code,pre{font-family:monospace;font-size:.92em}pre{white-space:pre-wrap;background:#fff;padding:.5em;border:1px solid #d5d9e0}
)css";

}  // namespace

std::string page(std::string_view title, std::string_view body, bool nav, std::string_view who,
                 std::string_view csrf) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>" +
      escape(title) + " — mailsift console</title><style>" + kCss + "</style></head><body>";
  out += "<header><strong>mailsift console</strong>";
  if (nav) {
    out +=
        "<a href=\"/console/\">Dashboard</a><a href=\"/console/decisions\">Decisions</a>"
        "<a href=\"/console/case\">Case lookup</a><a href=\"/console/bounce\">Bounce</a>"
        "<a href=\"/console/user\">User policy</a><a href=\"/console/doctor\">Domain doctor</a>";
    out += "<span class=\"who\">" + escape(who) +
           " <form method=\"post\" action=\"/console/logout\"><input type=\"hidden\" "
           "name=\"csrf\" value=\"" +
           escape(csrf) + "\"><button type=\"submit\" id=\"logout\">Log out</button></form></span>";
  }
  out += "</header><main><h1>" + escape(title) + "</h1>";
  out += body;
  out += "</main></body></html>\n";
  return out;
}

namespace {

using nlohmann::ordered_json;

std::string scalar(const ordered_json& v) {
  if (v.is_string())
    return escape(v.get<std::string>());
  if (v.is_null())
    return "<span class=\"note\">—</span>";
  if (v.is_number_float())
    return escape(number(v.get<double>()));
  return escape(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string render(const ordered_json& v, int depth);

std::string render_table(const ordered_json& arr, int depth) {
  std::vector<std::string> cols;
  std::set<std::string> seen;
  for (const auto& row : arr)
    for (const auto& [k, _] : row.items())
      if (seen.insert(k).second)
        cols.push_back(k);
  std::string out = "<table><tr>";
  for (const auto& c : cols)
    out += "<th>" + escape(c) + "</th>";
  out += "</tr>";
  for (const auto& row : arr) {
    out += "<tr>";
    for (const auto& c : cols) {
      auto it = row.find(c);
      out += "<td>" + (it == row.end() ? std::string() : render(*it, depth + 1)) + "</td>";
    }
    out += "</tr>";
  }
  return out + "</table>";
}

std::string render(const ordered_json& v, int depth) {
  if (depth > 32)
    return "<span class=\"note\">(nested too deeply)</span>";
  if (v.is_object()) {
    if (v.empty())
      return "<span class=\"note\">(none)</span>";
    std::string out = "<dl>";
    for (const auto& [k, item] : v.items())
      out += "<dt>" + escape(k) + "</dt><dd>" + render(item, depth + 1) + "</dd>";
    return out + "</dl>";
  }
  if (v.is_array()) {
    if (v.empty())
      return "<span class=\"note\">(none)</span>";
    bool objects = std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_object(); });
    if (objects)
      return render_table(v, depth);
    std::string out = "<ul>";
    for (const auto& e : v)
      out += "<li>" + render(e, depth + 1) + "</li>";
    return out + "</ul>";
  }
  return scalar(v);
}

}  // namespace

std::string json_to_html(const ordered_json& value, bool sections) {
  if (!sections || !value.is_object())
    return render(value, 0);
  std::string out;
  std::string scalars;
  for (const auto& [k, item] : value.items()) {
    if (item.is_object() || item.is_array())
      out += "<h2>" + escape(k) + "</h2>" + render(item, 1);
    else
      scalars += "<dt>" + escape(k) + "</dt><dd>" + scalar(item) + "</dd>";
  }
  return (scalars.empty() ? std::string() : "<dl>" + scalars + "</dl>") + out;
}

std::string svg_columns(std::string_view title, const std::vector<Bar>& bars, size_t label_every) {
  const double width = 640, height = 240, left = 40, bottom = 40, top = 28;
  double max = 0;
  for (const auto& b : bars)
    max = std::max(max, b.value);
  if (max <= 0)
    max = 1;
  const double slot = bars.empty() ? 0 : (width - left - 10) / static_cast<double>(bars.size());
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\"><title>{2}</title>"
      "<text x=\"{3}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{2}</text>"
      "<text x=\"4\" y=\"{4}\" font-size=\"10\">{5}</text>"
      "<line x1=\"{3}\" y1=\"{6}\" x2=\"{7}\" y2=\"{6}\" stroke=\"#889\"/>",
      width, height, escape(title), left, top + 10, escape(number(max)), height - bottom,
      width - 10);
  for (size_t i = 0; i < bars.size(); ++i) {
    const double h = (height - bottom - top) * bars[i].value / max;
    const double x = left + slot * static_cast<double>(i);
    out += fmt::format(
        "<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"#3b6ea5\"><title>{}: {}</title></rect>",
        x + 1, height - bottom - h, std::max(1.0, slot - 2), h, escape(bars[i].label),
        escape(number(bars[i].value)));
    if (label_every > 0 && i % label_every == 0)
      out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\">{}</text>", x + 1,
                         height - bottom + 14, escape(bars[i].label));
  }
  return out + "</svg>";
}

std::string svg_rows(std::string_view title, const std::vector<Bar>& bars) {
  const double width = 520, row = 22, top = 30, label_w = 200;
  const double height = top + row * static_cast<double>(std::max<size_t>(bars.size(), 1)) + 10;
  double max = 0;
  for (const auto& b : bars)
    max = std::max(max, b.value);
  if (max <= 0)
    max = 1;
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\"><title>{2}</title>"
      "<text x=\"4\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{2}</text>",
      width, height, escape(title));
  if (bars.empty())
    out += fmt::format("<text x=\"4\" y=\"{}\" font-size=\"12\">no data</text>", top + 14);
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = top + row * static_cast<double>(i);
    const double w = (width - label_w - 60) * bars[i].value / max;
    std::string label =
        bars[i].label.size() > 30 ? bars[i].label.substr(0, 29) + "…" : bars[i].label;
    out += fmt::format(
        "<text x=\"4\" y=\"{0:.1f}\" font-size=\"12\">{1}</text>"
        "<rect class=\"bar\" x=\"{2}\" y=\"{3:.1f}\" width=\"{4:.1f}\" height=\"{5}\" "
        "fill=\"#3b6ea5\"><title>{6}: {7}</title></rect>"
        "<text x=\"{8:.1f}\" y=\"{0:.1f}\" font-size=\"12\">{7}</text>",
        y + 14, escape(label), label_w, y + 3, std::max(1.0, w), row - 6, escape(bars[i].label),
        escape(number(bars[i].value)), label_w + std::max(1.0, w) + 6);
  }
  return out + "</svg>";
}

}  // namespace mailsift::console
