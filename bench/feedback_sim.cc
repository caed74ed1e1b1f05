// feedback_sim — does mailsift learn from its users? (issue 5's benchmark)
//
// A population of users receives the TEST split of the SpamAssassin corpus in date order, on an
// engine whose global scope was trained on the TRAIN split (what a new deployment starts with).
// Each user sees every verdict and corrects the mistakes they notice: spam in the inbox is
// reported as spam, their ham in Junk as "not spam". Users differ in taste and honesty:
//   - list-hater@b.example treats the busiest mailing list of the stream (most frequent List-Id
//     among its ham, chosen at run time) as spam; list-lover@a.example, who receives the same
//     list, wants it;
//   - abuser@a.example reports every ham message they receive as spam (and nothing else);
//   - the others are honest and take the corpus labels as their truth.
// Each message goes to one user (a hash of its name), list messages to both list users.
//
// Modes, on identical deliveries:
//   per-user     reports go through FeedbackService (user scope, campaign promotion only with
//                several reliable reporters, reliability, sender blocks, threshold shifts);
//   global-only  every report is learned straight into the global scope (a filter without
//                per-user learning);
//   per-user-no-abuser  per-user, with the abuser behaving honestly: the difference in honest
//                users' false positives is the abuser's effect on everyone else.
// Errors are counted per user against that user's truth, over all deliveries and after the
// first 500. Nothing here is tuned: the engine and feedback run on their config defaults.
//
// Usage: feedback_sim CORPUS_DIR (with train.tsv/test.tsv from bench/corpus.sh)
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "feedback/feedback.h"
#include "mime/message.h"
#include "scan/engine.h"
#include "store/store.h"

using namespace mailsift;

namespace {

struct Mail {
  std::string name;
  bool spam = false;
  std::string raw;
  int64_t date = 0;
  std::string list_id;
  std::string envelope_sender;  // Return-Path
};

std::vector<Mail> load(const std::string& tsv) {
  std::vector<Mail> out;
  std::ifstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string path, label, name;
    std::getline(ss, path, '\t');
    std::getline(ss, label, '\t');
    std::getline(ss, name, '\t');
    std::ifstream f(path, std::ios::binary);
    std::stringstream body;
    body << f.rdbuf();
    Mail m{name, label == "spam", body.str()};
    auto parsed = mime::parse(m.raw);
    if (parsed) {
      if (const auto* d = parsed->header("Date")) {
        std::tm tm{};
        const char* s = d->value.c_str();
        if (const char* comma = std::strchr(s, ','))
          s = comma + 1;
        if (strptime(s, " %d %b %Y %H:%M:%S", &tm))
          m.date = timegm(&tm);
      }
      if (const auto* l = parsed->header("List-Id"))
        m.list_id = l->value;
      if (const auto* r = parsed->header("Return-Path"))
        m.envelope_sender = mime::extract_address(r->value);
    }
    out.push_back(std::move(m));
  }
  return out;
}

struct Counts {
  int fp = 0, fn = 0, ham = 0, spam = 0;
  int fp_after = 0, fn_after = 0, ham_after = 0, spam_after = 0;
};

// The per-user block/allow lists the feedback writes to, matched on the envelope sender at scan
// time with the policy's USER_BLOCKLIST / USER_ALLOWLIST scores, as mailsiftd does.
class SimLists : public feedback::SenderLists {
 public:
  Status block_sender(const scan::Recipient& u, const std::string& a, const std::string&) override {
    blocked.insert({u.user, a});
    allowed.erase({u.user, a});
    return Ok{};
  }
  Status allow_sender(const scan::Recipient& u, const std::string& a, const std::string&) override {
    allowed.insert({u.user, a});
    blocked.erase({u.user, a});
    return Ok{};
  }
  std::set<std::pair<std::string, std::string>> blocked, allowed;
};

enum class Mode { kPerUser, kGlobalOnly, kPerUserNoAbuser };
const char* mode_name(Mode m) {
  return m == Mode::kPerUser      ? "per-user"
         : m == Mode::kGlobalOnly ? "global-only"
                                  : "per-user-no-abuser";
}

std::map<std::string, Counts> run(Mode mode, const std::vector<Mail>& train,
                                  const std::vector<Mail>& stream, const std::string& list,
                                  const std::vector<std::string>& users) {
  Config config;
  auto store = store::make_memory_store();
  auto engine = scan::Engine::create(config, *store);
  if (!engine) {
    std::fprintf(stderr, "engine: %s\n", engine.error().describe().c_str());
    std::exit(1);
  }
  for (bool spam : {false, true}) {
    std::vector<std::string_view> raws;
    for (const auto& m : train)
      if (m.spam == spam)
        raws.push_back(m.raw);
    (void)(*engine)->learn_batch(raws, spam ? store::Class::kSpam : store::Class::kHam, {});
  }
  auto fstore = feedback::make_memory_store();
  feedback::EngineLearner learner(**engine);
  SimLists lists;
  int64_t clock = 0;
  feedback::FeedbackService service(feedback::Options::from_config(config), *fstore, learner,
                                    &lists, nullptr, [&] { return clock; });
  const double add_header = config.get_double("actions.add_header");
  const double block_score = config.get_double("policy.blocklist_score");
  const double allow_score = config.get_double("policy.allowlist_score");

  std::map<std::string, Counts> counts;
  size_t delivered = 0;
  for (const auto& m : stream) {
    clock = m.date * 1000;
    std::vector<std::string> rcpts;
    if (!list.empty() && m.list_id == list) {
      rcpts = {"list-lover@a.example", "list-hater@b.example"};
    } else {
      rcpts = {users[std::hash<std::string>{}(m.name) % users.size()]};
    }
    for (const auto& user : rcpts) {
      ++delivered;
      const bool after = delivered > 500;
      bool truth = m.spam;
      if (user == "list-hater@b.example" && !list.empty() && m.list_id == list)
        truth = true;
      scan::Recipient rcpt{user, "", ""};
      rcpt.domain = std::string(mime::address_domain(user));
      auto v = (*engine)->scan(m.raw, rcpt);
      if (!v)
        continue;
      double shift = 0, list_score = 0;
      if (mode != Mode::kGlobalOnly) {
        shift = service.threshold_shift(user).value();
        if (lists.blocked.count({user, m.envelope_sender}))
          list_score = block_score;
        if (lists.allowed.count({user, m.envelope_sender}))
          list_score = allow_score;
      }
      const bool said_spam = v->score + list_score >= add_header + shift;
      Counts& c = counts[user];
      (truth ? c.spam : c.ham)++;
      if (after)
        (truth ? c.spam_after : c.ham_after)++;
      if (said_spam && !truth) {
        ++c.fp;
        if (after)
          ++c.fp_after;
      }
      if (!said_spam && truth) {
        ++c.fn;
        if (after)
          ++c.fn_after;
      }
      // What the user reports.
      std::optional<feedback::Kind> report;
      const bool abusive = user == "abuser@a.example" && mode != Mode::kPerUserNoAbuser;
      if (abusive) {
        if (!m.spam)
          report = feedback::Kind::kSpam;
      } else if (said_spam != truth) {
        report = truth ? feedback::Kind::kSpam : feedback::Kind::kHam;
      }
      if (!report)
        continue;
      if (mode == Mode::kGlobalOnly) {
        (void)(*engine)->learn(
            m.raw, *report == feedback::Kind::kSpam ? store::Class::kSpam : store::Class::kHam,
            scan::Recipient{});
      } else {
        feedback::Request req{rcpt, *report, m.raw};
        auto r = service.report(req);
        if (!r)
          std::fprintf(stderr, "report failed: %s\n", r.error().describe().c_str());
      }
    }
  }
  return counts;
}

double pct(int a, int b) {
  return b ? 100.0 * a / b : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: feedback_sim CORPUS_DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  auto train = load(dir + "/train.tsv");
  auto stream = load(dir + "/test.tsv");
  std::stable_sort(stream.begin(), stream.end(),
                   [](const Mail& a, const Mail& b) { return a.date < b.date; });
  std::map<std::string, int> lists;
  for (const auto& m : stream)
    if (!m.spam && !m.list_id.empty())
      ++lists[m.list_id];
  std::string busiest;
  int most = 0;
  for (const auto& [id, n] : lists)
    if (n > most)
      most = n, busiest = id;
  std::printf(
      "feedback_sim: %zu train (global scope), %zu delivered in date order; list the "
      "list-hater rejects: %s (%d messages)\n",
      train.size(), stream.size(), busiest.c_str(), most);
  const std::vector<std::string> users = {"ann@a.example", "ben@a.example", "abuser@a.example",
                                          "cat@b.example", "dan@b.example"};
  std::map<Mode, std::map<std::string, Counts>> results;
  for (Mode mode : {Mode::kPerUser, Mode::kGlobalOnly, Mode::kPerUserNoAbuser}) {
    results[mode] = run(mode, train, stream, busiest, users);
    std::printf("\n== %s ==\n%-22s %6s %6s %6s %6s | after first 500: %6s %8s %6s %8s\n",
                mode_name(mode), "user", "ham", "FP", "spam", "FN", "FP", "FPR", "FN", "FNR");
    int errs = 0;
    for (const auto& [user, c] : results[mode]) {
      std::printf("%-22s %6d %6d %6d %6d | %23d %7.3f%% %6d %7.3f%%\n", user.c_str(), c.ham, c.fp,
                  c.spam, c.fn, c.fp_after, pct(c.fp_after, c.ham_after), c.fn_after,
                  pct(c.fn_after, c.spam_after));
      if (user != "abuser@a.example")
        errs += c.fp_after + c.fn_after;
    }
    std::printf("errors after the first 500 (all users but the abuser): %d\n", errs);
  }
  auto errors = [&](Mode m) {
    int e = 0;
    for (const auto& [user, c] : results[m])
      if (user != "abuser@a.example")
        e += c.fp_after + c.fn_after;
    return e;
  };
  const int per_user = errors(Mode::kPerUser), global = errors(Mode::kGlobalOnly);
  std::printf("\nTarget 1: per-user errors <= half of global-only after 500: %d vs %d -> %s\n",
              per_user, global, 2 * per_user <= global ? "MET" : "NOT MET");
  bool ok = true;
  for (const auto& [user, c] : results[Mode::kPerUser]) {
    if (user == "abuser@a.example")
      continue;
    const auto& base = results[Mode::kPerUserNoAbuser][user];
    double with = pct(c.fp_after, c.ham_after), without = pct(base.fp_after, base.ham_after);
    std::printf("  %-22s honest FPR after 500: %.3f%% with abuser, %.3f%% without\n", user.c_str(),
                with, without);
    if (with > without && with > 0.1)
      ok = false;
  }
  std::printf("Target 2: no honest user's FPR rises above 0.1%% because of the abuser -> %s\n",
              ok ? "MET" : "NOT MET");
  return 0;
}
