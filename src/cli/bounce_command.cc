#include "cli/bounce_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "bounce/bounce.h"
#include "core/file.h"
#include "doctor/bounce_checks.h"
#include "doctor/doctor.h"
#include "mime/message.h"

namespace mailsift::cli {
namespace {

namespace fs = std::filesystem;

// Control characters (except newline and tab) shown as \xNN.
std::string escape_controls(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  return out;
}

bool read_file(const std::string& path, std::string& bytes, std::string& why) {
  if (path == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  auto read = mailsift::read_whole_file(path);
  if (!read) {
    // The caller prints "mailsift: PATH: WHY"; keep its two short reasons.
    why = read.error().message == path + " is a directory" ? "is a directory" : "cannot read";
    return false;
  }
  bytes = std::move(*read);
  return true;
}

// An mbox into messages: a line starting "From " after a blank line (or at the start) opens
// the next message; the "From " line itself is dropped and ">From " is unquoted.
std::vector<std::string> split_mbox(const std::string& data) {
  std::vector<std::string> out;
  std::string cur;
  bool in_msg = false;
  bool prev_blank = true;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    size_t end = nl == std::string::npos ? data.size() : nl + 1;
    std::string_view line(data.data() + pos, end - pos);
    if (prev_blank && line.substr(0, 5) == "From ") {
      if (in_msg && !cur.empty())
        out.push_back(std::move(cur));
      cur.clear();
      in_msg = true;
    } else {
      if (line.substr(0, 6) == ">From ")
        line.remove_prefix(1);
      if (in_msg)
        cur.append(line);
    }
    std::string_view t = line;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r'))
      t.remove_suffix(1);
    prev_blank = t.empty();
    pos = end;
  }
  if (in_msg && !cur.empty())
    out.push_back(std::move(cur));
  return out;
}

struct Summary {
  int messages = 0, failed = 0;
  std::map<std::string, int> kinds, reasons, domains, hard;
  void add(const bounce::Report& r) {
    ++messages;
    kinds[bounce::to_string(r.kind)]++;
    for (const auto& x : r.recipients) {
      reasons[x.reason]++;
      std::string d(mime::address_domain(x.address));
      domains[d.empty() ? "(none)" : d]++;
      hard[x.hard_bounce ? "hard" : "soft"]++;
    }
  }
};

std::vector<std::pair<std::string, int>> by_count(const std::map<std::string, int>& m) {
  std::vector<std::pair<std::string, int>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
  return v;
}

}  // namespace

void add_bounce_options(CLI::App& command, BounceOptions& o) {
  command.add_option("files", o.files, "Bounce messages, or - for standard input");
  command.add_option("--mbox", o.mbox, "Read every message of an mbox file and summarise");
  command.add_option("--maildir", o.maildir,
                     "Read every message of a maildir (cur/ and new/, or a flat directory) and "
                     "summarise");
  command.add_flag("--json", o.json, "One JSON object per line per message (summary last)");
  command.add_flag("--summary", o.summary_only, "Batch mode: print only the summary");
  command.add_flag("--live", o.live,
                   "Run the DNS checks the advice names (SPF/DKIM/DMARC of the sender's domain "
                   "with the domain doctor, PTR of a refused IP)");
  command.add_option(
      "--cluster", o.cluster,
      "--live: check the sender's domain against this cluster (default: from its MX)");
}

int run_bounce_command(const BounceOptions& o, const Config& config, std::ostream& out,
                       std::ostream& err) {
  if (o.files.empty() && o.mbox.empty() && o.maildir.empty()) {
    err << "mailsift bounce: give FILE..., -, --mbox FILE or --maildir DIR\n";
    return 2;
  }
  // --live: the doctor's resolver and clusters (an empty set when no clusters file: SPF and DKIM
  // then say they could not be checked, DMARC and PTR still are).
  doctor::LiveSetup live;
  if (o.live) {
    auto opened = doctor::open_live(config, /*clusters_required=*/false);
    if (!opened) {
      err << "mailsift: bounce --live: " << opened.error().describe() << "\n";
      return 2;
    }
    live = std::move(opened).value();
  } else if (!o.cluster.empty()) {
    err << "mailsift bounce: --cluster needs --live\n";
    return 2;
  }
  // (label, bytes) of every message, read lazily for files and maildirs.
  std::vector<std::pair<std::string, std::string>> inputs;
  Summary sum;
  int failed = 0;
  for (const auto& f : o.files) {
    std::string bytes, why;
    if (!read_file(f, bytes, why)) {
      err << fmt::format("mailsift: {}: {}\n", f, why);
      ++failed;
      continue;
    }
    inputs.emplace_back(f, std::move(bytes));
  }
  bool batch = !o.mbox.empty() || !o.maildir.empty();
  if (!o.mbox.empty()) {
    std::string data, why;
    if (!read_file(o.mbox, data, why)) {
      err << fmt::format("mailsift: {}: {}\n", o.mbox, why);
      return 2;
    }
    auto msgs = split_mbox(data);
    for (size_t i = 0; i < msgs.size(); ++i)
      inputs.emplace_back(fmt::format("{}#{}", o.mbox, i + 1), std::move(msgs[i]));
  }
  if (!o.maildir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(o.maildir, ec)) {
      err << fmt::format("mailsift: {}: not a directory\n", o.maildir);
      return 2;
    }
    std::vector<fs::path> dirs;
    for (const char* sub : {"cur", "new"})
      if (fs::is_directory(fs::path(o.maildir) / sub, ec))
        dirs.push_back(fs::path(o.maildir) / sub);
    if (dirs.empty())
      dirs.push_back(o.maildir);
    std::vector<fs::path> paths;
    for (const auto& d : dirs)
      for (const auto& e : fs::directory_iterator(d, ec))
        if (e.is_regular_file(ec))
          paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      std::string bytes, why;
      if (!read_file(p.string(), bytes, why)) {
        err << fmt::format("mailsift: {}: {}\n", p.string(), why);
        ++failed;
        continue;
      }
      inputs.emplace_back(p.string(), std::move(bytes));
    }
  }

  for (const auto& [label, bytes] : inputs) {
    auto rep = bounce::parse(bytes);
    if (!rep.ok()) {
      ++failed;
      if (o.json)
        out << nlohmann::json{{"path", label},
                              {"error",
                               {{"kind", to_string(rep.error().kind)},
                                {"message", rep.error().message}}}}
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
            << "\n";
      else
        err << fmt::format("mailsift: {}: {}\n", label, rep.error().describe());
      continue;
    }
    if (live.resolver)
      doctor::run_bounce_checks(*rep, *live.resolver, live.clusters, o.cluster);
    sum.add(*rep);
    if (batch && o.summary_only)
      continue;
    if (o.json)
      out << bounce::to_json(*rep, label) << "\n";
    else
      out << escape_controls(label) << ":\n" << escape_controls(bounce::to_text(*rep));
  }
  sum.failed = failed;

  if (batch) {
    if (o.json) {
      nlohmann::ordered_json j;
      j["summary"] = {{"messages", sum.messages}, {"failed", sum.failed}};
      for (const auto& [k, v] : by_count(sum.kinds))
        j["summary"]["kinds"][k] = v;
      for (const auto& [k, v] : by_count(sum.reasons))
        j["summary"]["reasons"][k] = v;
      for (const auto& [k, v] : by_count(sum.hard))
        j["summary"]["bounce_type"][k] = v;
      for (const auto& [k, v] : by_count(sum.domains))
        j["summary"]["recipient_domains"][k] = v;
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      out << fmt::format("summary: {} messages, {} unreadable\n", sum.messages, sum.failed);
      out << "  by kind:\n";
      for (const auto& [k, v] : by_count(sum.kinds))
        out << fmt::format("    {:>6}  {}\n", v, k);
      out << "  by reason (recipients):\n";
      for (const auto& [k, v] : by_count(sum.reasons))
        out << fmt::format("    {:>6}  {}\n", v, k);
      out << "  hard / soft:\n";
      for (const auto& [k, v] : by_count(sum.hard))
        out << fmt::format("    {:>6}  {}\n", v, k);
      out << "  by recipient domain:\n";
      for (const auto& [k, v] : by_count(sum.domains))
        out << fmt::format("    {:>6}  {}\n", v, escape_controls(k));
    }
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace mailsift::cli
