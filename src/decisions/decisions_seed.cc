// decisions_seed — TEST ONLY: writes decisions given as JSON into a data dir's decision log, the
// way mailsiftd will, so `mailsift log` can be tested end to end before the daemon exists.
//
// Usage: decisions_seed DATA_DIR [FILE|-]
// Input: a JSON array of decisions or one decision object per line (decision_json.h shape);
// "id" may be omitted (a new one is minted from the decision's time).
// Exit: 0 all written, 1 bad input, 3 store unavailable.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "decisions/decision_json.h"
#include "decisions/decisions.h"

using namespace mailsift::decisions;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: decisions_seed DATA_DIR [FILE|-]\n";
    return 2;
  }
  const std::string dir = argv[1];
  const std::string input = argc == 3 ? argv[2] : "-";
  std::string text;
  if (input == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(input, std::ios::binary);
    if (!in) {
      std::cerr << "decisions_seed: cannot read " << input << "\n";
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<nlohmann::json> items;
  auto whole = nlohmann::json::parse(text, nullptr, false);
  if (!whole.is_discarded() && whole.is_array()) {
    items.assign(whole.begin(), whole.end());
  } else {
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos)
        end = text.size();
      std::string line = text.substr(start, end - start);
      start = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) {
        std::cerr << "decisions_seed: not JSON: " << line << "\n";
        return 1;
      }
      items.push_back(std::move(j));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto log = open_sqlite_log((std::filesystem::path(dir) / kDecisionsFileName).string());
  if (!log) {
    std::cerr << "decisions_seed: " << log.error().describe() << "\n";
    return 3;
  }
  for (const auto& item : items) {
    auto d = decision_from_json(item);
    if (!d) {
      std::cerr << "decisions_seed: " << d.error().describe() << "\n";
      return 1;
    }
    if (d->id.empty())
      d->id = new_decision_id(d->time_unix_ms);
    if (auto s = (*log)->record(*d); !s) {
      std::cerr << "decisions_seed: " << s.error().describe() << "\n";
      return s.error().kind == mailsift::ErrorKind::kTemporary ? 3 : 1;
    }
    std::cout << d->id << "\n";
  }
  return 0;
}
