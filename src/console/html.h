// mailsift::console HTML building blocks: escaping, the page frame, JSON rendered as HTML and
// charts as inline SVG.
//
// Owns: turning values into markup safely. Every piece of text that reaches a page goes through
// escape() (element text and quoted attribute values alike), so a hostile Subject, symbol name
// or JSON string cannot inject markup. Pages need no network: CSS is inline, charts are SVG
// drawn on the server, there is no JavaScript.
// Failure semantics: pure functions; never throw for any input (invalid UTF-8 is passed through
// escaped byte for byte).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mailsift::console {

// & < > " ' escaped: safe in element content and in single- or double-quoted attributes.
std::string escape(std::string_view text);

// A whole page: title, navigation (when `nav` is true: the user is logged in), inline CSS.
// `body` is trusted markup built with escape().
std::string page(std::string_view title, std::string_view body, bool nav = true,
                 std::string_view who = {}, std::string_view csrf = {});

// JSON as nested HTML: objects as definition lists, arrays of objects as tables (columns = the
// union of their keys), other arrays as lists. With `sections`, each top-level key of an object
// becomes an <h2> heading.
std::string json_to_html(const nlohmann::ordered_json& value, bool sections = false);

struct Bar {
  std::string label;
  double value = 0;
};
// Vertical bars with labels under every `label_every`-th bar (decisions per hour).
std::string svg_columns(std::string_view title, const std::vector<Bar>& bars,
                        size_t label_every = 1);
// Horizontal bars, label left, value right (actions, top symbols).
std::string svg_rows(std::string_view title, const std::vector<Bar>& bars);

// "1.5" / "-3" / "12.25": scores as people read them.
std::string number(double v);

}  // namespace mailsift::console
