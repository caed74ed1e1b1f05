#include "rules/rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <set>
#include <string>
#include <thread>

namespace mailsift::rules {
namespace {

// Bytes that hand-built Messages view (Header::name, raw_value, raw_body, raw): kept for the
// whole test process so a Message may outlive its builder.
std::string_view keep(std::string s) {
  static std::deque<std::string> arena;
  return arena.emplace_back(std::move(s));
}

// Builds a mime::Message by hand (the parser is not needed).
class MessageBuilder {
 public:
  MessageBuilder& header(std::string name, std::string value) {
    headers_.push_back({keep(std::move(name)), std::move(value), {}});
    return *this;
  }
  MessageBuilder& raw_header(std::string name, std::string raw, std::string decoded) {
    headers_.push_back({keep(std::move(name)), std::move(decoded), keep(std::move(raw))});
    return *this;
  }
  MessageBuilder& text(std::string t, bool html = false, std::string hidden = {}) {
    mime::TextPart p;
    p.part = 0;
    p.from_html = html;
    p.text = std::move(t);
    p.hidden_text = std::move(hidden);
    texts_.push_back(std::move(p));
    return *this;
  }
  MessageBuilder& url(std::string u, bool mismatch = false) {
    mime::Url x;
    x.url = std::move(u);
    x.text_mismatch = mismatch;
    urls_.push_back(std::move(x));
    return *this;
  }
  MessageBuilder& raw_body(std::string b) {
    raw_body_ = keep(std::move(b));
    return *this;
  }
  MessageBuilder& raw(std::string r) {
    raw_ = keep(std::move(r));
    return *this;
  }
  MessageBuilder& fact(std::string f) {
    facts_.push_back(std::move(f));
    return *this;
  }
  MessageBuilder& attachment(std::string filename, std::string type) {
    mime::Attachment a;
    a.filename = std::move(filename);
    a.declared_type = std::move(type);
    attachments_.push_back(std::move(a));
    return *this;
  }

  mime::Message build() const {
    mime::Message m;
    m.raw = raw_;
    mime::Part root;
    for (const auto& h : headers_) {
      mime::Header mh;
      mh.name = h.name;
      mh.value = h.value;
      mh.raw_value = h.raw.empty() ? keep(h.value) : h.raw;
      root.headers.push_back(mh);
    }
    root.raw_body = raw_body_;
    m.parts.push_back(std::move(root));
    m.texts = texts_;
    m.urls = urls_;
    m.facts = facts_;
    m.attachments = attachments_;
    return m;
  }

 private:
  struct H {
    std::string_view name;
    std::string value;
    std::string_view raw;
  };
  std::vector<H> headers_;
  std::vector<mime::TextPart> texts_;
  std::vector<mime::Url> urls_;
  std::vector<std::string> facts_;
  std::vector<mime::Attachment> attachments_;
  std::string_view raw_body_, raw_;
};

std::shared_ptr<const RuleSet> load(std::string_view text) {
  auto r = RuleSet::load_string(text, "t.rules");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok())
    std::abort();
  return *r;
}

std::string load_error(std::string_view text) {
  auto r = RuleSet::load_string(text, "t.rules");
  if (r.ok())
    return "<loaded>";
  EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
  return r.error().message;
}

std::set<std::string> hit_names(const std::shared_ptr<const RuleSet>& set,
                                const mime::Message& msg) {
  Matcher m(set);
  auto hits = m.match(msg);
  EXPECT_TRUE(hits.ok());
  std::set<std::string> names;
  for (const auto& h : *hits)
    names.insert(h.name);
  return names;
}

bool fires(std::string_view rules, const mime::Message& msg, const std::string& name = "R") {
  auto set = load(rules);
  return hit_names(set, msg).count(name) == 1;
}

// ---------------------------------------------------------------- parsing

TEST(RuleFile, ParsesEveryKind) {
  auto set = load(R"(# comment line
   # indented comment

header  H1   Subject =~ /^hello/i        1.5  "Subject says hello"
header  H2   From:addr =~ /@example\.com$/  -0.5  "From example.com"   # trailing comment
header  H3   exists:List-Id              -1   "Mailing list"
header  H4   !exists:Date                0.7  "No Date"
header  H5   Message-ID !~ /^<.+@.+>$/   0.4  "Odd Message-ID"
header  H6   ALL =~ /^X-Spam-Flag: YES/m 2    "Already flagged"
body    B1   /\bclick\s+here\b/i         0.5  "Body says \"click here\""
uri     U1   /^https?:\/\/\d+\.\d+\.\d+\.\d+/ 1.5 "Link to a bare IP"
rawbody W1   /=3D/                       0.1  "QP-encoded equals signs"
full    F1   /^X-Foo:/m                  0.1  "Has X-Foo"
fact    HTML_LINK_MISMATCH               1.5  "Link text shows a different site"
fact    T1   MIME_BAD_BOUNDARY           0.3  "Broken boundary"
eval    E1   url_count(5)                0.2  "Five or more links"
meta    M1   (H1 && B1) || !U1           2.0  "Combination"
)");
  ASSERT_EQ(set->size(), 14u);
  const auto& r = set->rules();
  EXPECT_EQ(r[0].name, "H1");
  EXPECT_EQ(r[0].kind, RuleKind::kHeader);
  EXPECT_DOUBLE_EQ(r[0].score, 1.5);
  EXPECT_EQ(r[0].description, "Subject says hello");
  EXPECT_EQ(r[0].definition, "Subject =~ /^hello/i");
  EXPECT_EQ(r[0].line, 4);
  EXPECT_DOUBLE_EQ(r[1].score, -0.5);
  EXPECT_EQ(r[1].description, "From example.com");
  EXPECT_EQ(r[2].definition, "exists:List-Id");
  EXPECT_EQ(r[6].kind, RuleKind::kBody);
  EXPECT_EQ(r[6].description, "Body says \"click here\"");
  EXPECT_EQ(r[7].kind, RuleKind::kUri);
  EXPECT_EQ(r[8].kind, RuleKind::kRawBody);
  EXPECT_EQ(r[9].kind, RuleKind::kFull);
  EXPECT_EQ(r[10].kind, RuleKind::kFact);
  EXPECT_EQ(r[10].definition, "HTML_LINK_MISMATCH");
  EXPECT_EQ(r[11].definition, "MIME_BAD_BOUNDARY");
  EXPECT_EQ(r[12].kind, RuleKind::kEval);
  EXPECT_EQ(r[12].definition, "url_count(5)");
  EXPECT_EQ(r[13].kind, RuleKind::kMeta);
  EXPECT_EQ(r[13].definition, "(H1 && B1) || !U1");
  ASSERT_NE(set->find("B1"), nullptr);
  EXPECT_EQ(set->find("B1")->kind, RuleKind::kBody);
  EXPECT_EQ(set->find("NOPE"), nullptr);
  EXPECT_EQ(set->origin(), "t.rules");
}

TEST(RuleFile, EmptyFileAndCrlf) {
  EXPECT_EQ(load("")->size(), 0u);
  EXPECT_EQ(load("# only comments\r\n\r\n")->size(), 0u);
  auto set = load("body A /x/ 1 \"x\"\r\nbody B /y/ 1 \"y\"\r\n");
  EXPECT_EQ(set->size(), 2u);
  EXPECT_EQ(set->rules()[1].line, 2);
}

TEST(RuleFile, SlashInsideClassNeedsNoEscape) {
  auto set = load(R"(uri R /^https?:\/\/[^/]+\/~/ 1 "tilde path")");
  auto msg = MessageBuilder().url("http://host.example/~user").build();
  EXPECT_EQ(hit_names(set, msg).count("R"), 1u);
}

TEST(RuleFile, HelperRulesMayOmitScoreAndAreNotReported) {
  auto set = load(
      "body __A /alpha/\n"
      "body __B /beta/ 0 \"\"\n"
      "meta M __A && __B 1 \"both\"\n");
  EXPECT_FALSE(set->rules()[0].reported);
  auto names = hit_names(set, MessageBuilder().text("alpha beta").build());
  EXPECT_EQ(names, std::set<std::string>{"M"});
}

TEST(RuleFileErrors, NameTheLineAndRule) {
  EXPECT_EQ(load_error("body A /a/ 1 \"a\"\n\nbody BAD /(unclosed/ 1 \"x\"\n").substr(0, 22),
            "t.rules:3: rule BAD: v");
}

TEST(RuleFileErrors, BackreferenceAndLookaroundRejected) {
  std::string e = load_error("body OK /a/ 1 \"a\"\nbody BACKREF /(a+)\\1/ 1 \"x\"\n");
  EXPECT_NE(e.find("t.rules:2: rule BACKREF: vectorscan cannot compile"), std::string::npos) << e;
  e = load_error("header H Subject =~ /foo(?=bar)/ 1 \"x\"\n");
  EXPECT_NE(e.find("t.rules:1: rule H:"), std::string::npos) << e;
  e = load_error("uri U /(?<!a)b/ 1 \"x\"\n");
  EXPECT_NE(e.find("t.rules:1: rule U:"), std::string::npos) << e;
}

TEST(RuleFileErrors, ErrorInALaterDatabaseStillNamesItsLine) {
  // Different kinds go to different databases; the failing one is not the first compiled.
  std::string e = load_error(
      "header A Subject =~ /x/ 1 \"a\"\nbody B /y/ 1 \"b\"\n# c\nfull BAD /(?i)(x)\\1/ 1 \"c\"\n");
  EXPECT_NE(e.find("t.rules:4: rule BAD:"), std::string::npos) << e;
}

TEST(RuleFileErrors, SyntaxErrors) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"bodyy A /x/ 1 \"d\"", "t.rules:1: unknown rule kind 'bodyy'"},
      {"body A /x/ 1 \"d\"\nbody A /y/ 1 \"e\"",
       "t.rules:2: rule A: duplicate rule name (first "
       "defined on line 1)"},
      {"body A /x/", "t.rules:1: rule A: missing score"},
      {"body A /x/ 1", "t.rules:1: rule A: expected a \"description\""},
      {"body A /x/ 1 \"\"", "t.rules:1: rule A: empty description"},
      {"body A /x/ 1 \"unterminated", "t.rules:1: rule A: unterminated \"description\""},
      {"body A /x/ abc \"d\"", "t.rules:1: rule A: bad score 'abc'"},
      {"body A /x/ 1e9 \"d\"", "t.rules:1: rule A: score"},
      {"body A /x/ 1 \"d\" junk", "t.rules:1: rule A: unexpected text after the description"},
      {"body A /x/q 1 \"d\"", "t.rules:1: rule A: unknown regex flag 'q'"},
      {"body A /x 1 \"d\"", "t.rules:1: rule A: unterminated /regex/"},
      {"body A // 1 \"d\"", "t.rules:1: rule A: empty /regex/"},
      {"body A x 1 \"d\"", "t.rules:1: rule A: expected a /regex/"},
      {"body 9A /x/ 1 \"d\"", "t.rules:1: rule name '9A' must start"},
      {"body A-B /x/ 1 \"d\"", "t.rules:1: rule name 'A-B' may only contain"},
      {"body", "t.rules:1: missing rule name"},
      {"header A Subject ~ /x/ 1 \"d\"", "t.rules:1: rule A: expected =~ or !~"},
      {"header A From:email =~ /x/ 1 \"d\"", "t.rules:1: rule A: unknown header view ':email'"},
      {"header A ALL:raw =~ /x/ 1 \"d\"", "t.rules:1: rule A: ALL takes no :view"},
      {"body A /a{5000}/ 1 \"d\"", "t.rules:1: rule A: repeat bound 5000 exceeds"},
      {"eval A nosuch 1 \"d\"", "t.rules:1: rule A: unknown eval 'nosuch'"},
      {"eval A html_only(3) 1 \"d\"", "t.rules:1: rule A: eval html_only takes no argument"},
      {"eval A url_count(x) 1 \"d\"", "t.rules:1: rule A: eval url_count needs"},
      {"fact A B C 1 \"d\"", "t.rules:1: rule A: fact takes at most one"},
      {"meta M A && 1 \"d\"", "t.rules:1: rule M: meta expression ends"},
      {"meta M (A 1 \"d\"", "t.rules:1: rule M: missing ')'"},
      {"meta M A B 1 \"d\"", "t.rules:1: rule M: unexpected 'B'"},
      {"meta M  1 \"d\"", "t.rules:1: rule M: empty meta expression"},
      {"body A /x/ 1 \"d\"\nmeta M A && NOPE 1 \"d\"",
       "t.rules:2: rule M: meta references unknown rule 'NOPE'"},
  };
  for (const auto& c : cases) {
    std::string e = load_error(c.text);
    EXPECT_EQ(e.rfind(c.expect, 0), 0u) << "input: " << c.text << "\n got: " << e;
  }
}

TEST(RuleFileErrors, MetaCycles) {
  std::string e = load_error("meta A B 1 \"a\"\nmeta B C 1 \"b\"\nmeta C A || B 1 \"c\"\n");
  EXPECT_NE(e.find("meta cycle"), std::string::npos) << e;
  EXPECT_NE(e.find("A -> B -> C -> A"), std::string::npos) << e;
  e = load_error("body X /x/ 1 \"x\"\n\nmeta SELF X && SELF 1 \"s\"\n");
  EXPECT_EQ(e, "t.rules:3: rule SELF: meta cycle SELF -> SELF");
}

TEST(RuleFileErrors, DeepMetaNestingIsAnErrorNotACrash) {
  std::string expr(5000, '(');
  expr += "A" + std::string(5000, ')');
  std::string e = load_error("body A /a/ 1 \"a\"\nmeta M " + expr + " 1 \"m\"\n");
  EXPECT_NE(e.find("nested too deeply"), std::string::npos) << e;
}

TEST(RuleFileErrors, LoadFileErrors) {
  auto r = RuleSet::load_file("/nonexistent/x.rules");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConfig);
  EXPECT_NE(r.error().message.find("/nonexistent/x.rules"), std::string::npos);
}

// ---------------------------------------------------------------- matching

TEST(Match, HeaderValueAndMissingHeader) {
  const char* rules = R"(header R Subject =~ /^[^a-z]{12,}$/ 1.2 "caps")";
  EXPECT_TRUE(fires(rules, MessageBuilder().header("Subject", "FREE MONEY NOW!!").build()));
  EXPECT_FALSE(fires(rules, MessageBuilder().header("Subject", "Free money now").build()));
  EXPECT_FALSE(fires(rules, MessageBuilder().header("From", "FREE MONEY NOW!!").build()));
  // Header names are case-insensitive.
  EXPECT_TRUE(fires(rules, MessageBuilder().header("SUBJECT", "FREE MONEY NOW!!").build()));
}

TEST(Match, HeaderNegatedMatchNeedsTheHeader) {
  const char* rules = R"(header R Message-ID !~ /^<[^@>]+@[^@>]+>$/ 1 "odd id")";
  EXPECT_TRUE(fires(rules, MessageBuilder().header("Message-ID", "garbage").build()));
  EXPECT_FALSE(fires(rules, MessageBuilder().header("Message-ID", "<a@b.c>").build()));
  EXPECT_FALSE(fires(rules, MessageBuilder().build()));
  // Any matching instance clears it.
  EXPECT_FALSE(fires(
      rules,
      MessageBuilder().header("Message-ID", "garbage").header("Message-ID", "<a@b.c>").build()));
}

TEST(Match, ExistsAndNotExists) {
  const char* rules =
      "header R exists:List-Id -1 \"list\"\n"
      "header N !exists:Date 1 \"no date\"\n";
  auto set = load(rules);
  auto with = MessageBuilder().header("list-id", "<x.example.org>").build();
  EXPECT_EQ(hit_names(set, with), (std::set<std::string>{"R", "N"}));
  auto without = MessageBuilder().header("Date", "Mon, 1 Jan 2024 00:00:00 +0000").build();
  EXPECT_TRUE(hit_names(set, without).empty());
}

TEST(Match, PseudoHeaderViews) {
  auto set = load(R"(
header ADDR From:addr =~ /^bob@example\.com$/ 1 "addr"
header NAME From:name =~ /^Bob Smith$/ 1 "name"
header NONAME From:name =~ /^$/ 1 "no display name"
header RAW Subject:raw =~ /=\?utf-8\?B\?/i 1 "encoded subject"
header DEC Subject =~ /^Caf/ 1 "decoded subject"
)");
  auto named = MessageBuilder()
                   .header("From", "\"Bob Smith\" <bob@example.com>")
                   .raw_header("Subject", "=?UTF-8?B?Q2Fmw6k=?=", "Café")
                   .build();
  EXPECT_EQ(hit_names(set, named), (std::set<std::string>{"ADDR", "NAME", "RAW", "DEC"}));
  auto bare = MessageBuilder().header("From", "bob@example.com").build();
  EXPECT_EQ(hit_names(set, bare), (std::set<std::string>{"ADDR", "NONAME"}));
  auto comment = MessageBuilder().header("From", "bob@example.com (Bob Smith)").build();
  EXPECT_EQ(hit_names(set, comment), (std::set<std::string>{"ADDR", "NAME"}));
}

TEST(Match, AllHeaders) {
  const char* rules = R"(header R ALL =~ /^X-Mailer: .*bulk/mi 1 "bulk mailer")";
  EXPECT_TRUE(fires(
      rules,
      MessageBuilder().header("Subject", "hi").header("X-Mailer", "Super Bulk Sender 3").build()));
  EXPECT_FALSE(fires(rules, MessageBuilder().header("Subject", "X-Mailer: bulk").build()));
}

TEST(Match, BodyIncludesSubjectAndAllTexts) {
  const char* rules = R"(body R /\bclick\s+here\b/i 0.5 "click here")";
  EXPECT_TRUE(fires(rules, MessageBuilder().text("Please CLICK   here now").build()));
  EXPECT_TRUE(fires(rules, MessageBuilder().header("Subject", "click here").build()));
  EXPECT_TRUE(fires(rules, MessageBuilder().text("hello").text("then click here", true).build()));
  EXPECT_FALSE(fires(rules, MessageBuilder().text("clickhere").build()));
  // Parts are separate lines: a phrase does not span two texts.
  EXPECT_FALSE(
      fires(R"(body R /alpha beta/ 1 "x")", MessageBuilder().text("alpha").text("beta").build()));
}

TEST(Match, Flags) {
  auto m = MessageBuilder().text("first line\nSecond Line").build();
  EXPECT_FALSE(fires(R"(body R /second/ 1 "x")", m));
  EXPECT_TRUE(fires(R"(body R /second/i 1 "x")", m));
  EXPECT_FALSE(fires(R"(body R /first.*Second/ 1 "x")", m));
  EXPECT_TRUE(fires(R"(body R /first.*Second/s 1 "x")", m));
  EXPECT_FALSE(fires(R"(body R /^Second/ 1 "x")", m));
  EXPECT_TRUE(fires(R"(body R /^Second/m 1 "x")", m));
  EXPECT_TRUE(fires(R"(body R /^sEcond/mi 1 "x")", m));
}

TEST(Match, UriRawbodyFull) {
  auto set = load(R"(
uri IP /^https?:\/\/\d+\.\d+\.\d+\.\d+/ 1.5 "bare IP"
uri AT /^https?:\/\/[^\/]*@/ 1 "at in url"
rawbody QP /=3D/ 0.1 "qp"
full XF /^X-Foo: yes/m 0.1 "x-foo"
)");
  auto m = MessageBuilder()
               .url("https://example.com/")
               .url("http://192.168.0.1/login")
               .raw_body("a=3Db")
               .raw("X-Foo: yes\r\n\r\nbody")
               .build();
  EXPECT_EQ(hit_names(set, m), (std::set<std::string>{"IP", "QP", "XF"}));
  auto m2 = MessageBuilder().url("http://paypal.com@evil.example/").text("a=3Db").build();
  EXPECT_EQ(hit_names(set, m2), (std::set<std::string>{"AT"}));  // text is not rawbody
}

TEST(Match, FactsAndEvals) {
  auto set = load(R"(
fact HTML_LINK_MISMATCH 1.5 "mismatch"
fact BOUNDARY MIME_BAD_BOUNDARY 0.3 "bad boundary"
eval HTMLONLY html_only 0.2 "html only"
eval HIDDEN hidden_text(5) 0.5 "hidden"
eval MISMATCH link_text_mismatch 0.5 "link mismatch"
eval MANYURLS url_count(2) 0.1 "many urls"
eval EMPTY no_visible_text 0.1 "empty"
eval EXE executable_attachment 2 "exe"
eval REPLYTO reply_to_differs 0.3 "reply-to"
eval CAPS body_caps_percent(60) 0.4 "caps"
eval IMG image_with_little_text(20) 0.4 "image"
)");
  auto m = MessageBuilder()
               .fact("HTML_LINK_MISMATCH")
               .fact("SOMETHING_ELSE")
               .text("hi", true, "hidden words")
               .url("http://a.example/", true)
               .url("http://b.example/")
               .attachment("invoice.pdf.EXE", "application/octet-stream")
               .attachment("x.png", "image/png")
               .header("From", "a@one.example")
               .header("Reply-To", "<b@two.example>")
               .build();
  EXPECT_EQ(hit_names(set, m),
            (std::set<std::string>{"HTML_LINK_MISMATCH", "HTMLONLY", "HIDDEN", "MISMATCH",
                                   "MANYURLS", "EXE", "REPLYTO", "IMG"}));
  auto m2 = MessageBuilder()
                .fact("MIME_BAD_BOUNDARY")
                .header("From", "a@one.example")
                .header("Reply-To", "<b@ONE.example>")
                .text(std::string(200, 'A'))
                .text("   ")
                .build();
  EXPECT_EQ(hit_names(set, m2), (std::set<std::string>{"BOUNDARY", "CAPS"}));
  EXPECT_EQ(hit_names(set, MessageBuilder().build()), (std::set<std::string>{"EMPTY"}));
}

TEST(Match, EachRuleFiresOnce) {
  auto set = load(R"(
header RCVD Received =~ /from/ 0.5 "received"
body WORD /money/ 1 "money"
uri U /example/ 1 "example"
)");
  auto m = MessageBuilder()
               .header("Received", "from a")
               .header("Received", "from b")
               .text("money money money")
               .text("more money")
               .url("http://example.com/1")
               .url("http://example.com/2")
               .build();
  Matcher matcher(set);
  auto hits = matcher.match(m);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 3u);
  // In rule-file order, with score and description.
  EXPECT_EQ((*hits)[0].name, "RCVD");
  EXPECT_DOUBLE_EQ((*hits)[0].score, 0.5);
  EXPECT_EQ((*hits)[0].description, "received");
  EXPECT_EQ((*hits)[1].name, "WORD");
  EXPECT_EQ((*hits)[2].name, "U");
}

TEST(Match, NegativeScores) {
  auto set = load("header LIST exists:List-Id -1.5 \"list\"\n");
  Matcher matcher(set);
  auto hits = matcher.match(MessageBuilder().header("List-Id", "x").build());
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_DOUBLE_EQ((*hits)[0].score, -1.5);
}

TEST(Match, MetaLogic) {
  auto set = load(R"(
body A /alpha/ 0.1 "a"
body B /beta/ 0.1 "b"
body C /gamma/ 0.1 "c"
meta AND A && B 1 "and"
meta OR A || C 1 "or"
meta NOT !C 1 "not"
meta PREC A || B && C 1 "&& binds tighter"
meta PAREN (A || B) && C 1 "parens"
meta SUM A + B + C >= 2 1 "two of three"
meta EQ A + B == 1 1 "exactly one"
meta CHAIN AND && !PAREN 1 "meta of metas, declared before use is not required"
meta FWD LATER 1 "forward reference"
meta LATER A 1 "later"
)");
  auto m = MessageBuilder().text("alpha beta").build();
  EXPECT_EQ(hit_names(set, m), (std::set<std::string>{"A", "B", "AND", "OR", "NOT", "PREC", "SUM",
                                                      "CHAIN", "FWD", "LATER"}));
  auto m2 = MessageBuilder().text("beta gamma").build();
  EXPECT_EQ(hit_names(set, m2),
            (std::set<std::string>{"B", "C", "OR", "PREC", "PAREN", "SUM", "EQ"}));
}

TEST(Match, MatcherReuseClearsState) {
  auto set = load("body A /alpha/ 1 \"a\"\nheader N !exists:Date 1 \"n\"\n");
  Matcher matcher(set);
  auto first = matcher.match(MessageBuilder().text("alpha").build());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 2u);
  auto second = matcher.match(MessageBuilder().text("beta").header("Date", "x").build());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->empty());
}

TEST(Match, SharedRuleSetAcrossThreads) {
  auto set = load("body A /alpha/ 1 \"a\"\nuri U /evil/ 1 \"u\"\n");
  auto msg = MessageBuilder().text("alpha").url("http://evil.example/").build();
  std::vector<std::thread> threads;
  std::vector<int> counts(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Matcher m(set);
      for (int i = 0; i < 200; ++i) {
        auto hits = m.match(msg);
        if (hits.ok() && hits->size() == 2)
          ++counts[t];
      }
    });
  }
  for (auto& th : threads)
    th.join();
  for (int c : counts)
    EXPECT_EQ(c, 200);
}

TEST(Match, BinaryAndEmptyInputs) {
  auto set = load(R"(
full F /\x00\xff/ 1 "binary"
header E Subject =~ /^\s*$/ 0.3 "empty subject"
)");
  std::string bin(
      "ab\0\xff"
      "cd",
      6);
  auto m = MessageBuilder().raw(bin).header("Subject", "").build();
  EXPECT_EQ(hit_names(set, m), (std::set<std::string>{"F", "E"}));
  mime::Message nothing;  // no parts at all
  Matcher matcher(set);
  EXPECT_TRUE(matcher.match(nothing).ok());
}

// ---------------------------------------------------------------- starter rule set

TEST(DefaultRules, LoadsWithUniqueNamesAndDescriptions) {
  auto r = RuleSet::load_file(MAILSIFT_SOURCE_DIR "/rules/default.rules");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const RuleSet& set = **r;
  EXPECT_GE(set.size(), 80u);
  EXPECT_LE(set.size(), 200u);
  std::set<std::string> names;
  for (const auto& rule : set.rules()) {
    EXPECT_TRUE(names.insert(rule.name).second) << rule.name;
    if (!rule.reported)
      continue;
    EXPECT_FALSE(rule.description.empty()) << rule.name;
    EXPECT_LE(std::abs(rule.score), 3.0) << rule.name << ": keep starter scores modest";
    EXPECT_NE(rule.score, 0.0) << rule.name;
  }
}

TEST(DefaultRules, PlainHamScoresLowAndObviousSpamScoresHigh) {
  auto r = RuleSet::load_file(MAILSIFT_SOURCE_DIR "/rules/default.rules");
  ASSERT_TRUE(r.ok()) << r.error().message;
  Matcher m(*r);
  auto total = [&](const mime::Message& msg) {
    double s = 0;
    auto hits = m.match(msg);
    EXPECT_TRUE(hits.ok());
    for (const auto& h : *hits)
      s += h.score;
    return s;
  };
  auto ham = MessageBuilder()
                 .header("From", "Alice Example <alice@example.org>")
                 .header("To", "dev@lists.example.org")
                 .header("Subject", "Re: build failure on arm64")
                 .header("Date", "Tue, 2 Jan 2024 10:00:00 +0100")
                 .header("Message-ID", "<abc123@mail.example.org>")
                 .header("In-Reply-To", "<xyz@mail.example.org>")
                 .header("List-Id", "<dev.lists.example.org>")
                 .text("I think the linker flags are wrong; see the attached log.\n-- Alice")
                 .url("https://git.example.org/project/commit/1234")
                 .build();
  auto spam = MessageBuilder()
                  .header("From", "winner@198.51.100.7")
                  .header("Subject", "CONGRATULATIONS YOU HAVE WON $1,000,000!!!")
                  .text(
                      "Dear Friend, you have been selected as the lottery winner! Click here "
                      "to claim your prize now. 100% free, no risk, act now! Limited time "
                      "offer. Send your bank account details.",
                      true)
                  .url("http://198.51.100.7/claim")
                  .url("http://bit.ly/abcdef")
                  .fact("HTML_ONLY")
                  .build();
  EXPECT_LT(total(ham), 0.5);
  EXPECT_GT(total(spam), 8.0);
}

}  // namespace
}  // namespace mailsift::rules
