// Tests for mailsift::mime: every feature, every fact, limits, and real-corpus robustness.
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "mime/charset.h"
#include "mime/codec.h"
#include "mime/extract.h"
#include "mime/facts.h"
#include "mime/message.h"

namespace mailsift::mime {
namespace {

// Messages hold views into their input, so inputs are kept alive for the whole test run.
std::string_view keep(std::string raw) {
  static std::deque<std::string> inputs;
  inputs.push_back(std::move(raw));
  return inputs.back();
}

Message must_parse(std::string raw_in, const Limits& limits = {}) {
  std::string_view raw = keep(std::move(raw_in));
  auto r = parse(raw, limits);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  if (!r.ok())
    return {};
  Message m = std::move(r).value();
  for (const auto& f : m.facts)
    EXPECT_TRUE(is_known_fact(f)) << f;
  std::set<std::string> uniq(m.facts.begin(), m.facts.end());
  EXPECT_EQ(uniq.size(), m.facts.size()) << "facts must be unique";
  return m;
}

// Complete top-level headers so MISSING_* facts stay quiet unless a test wants them.
const std::string kHead =
    "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: test\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <1@example.com>\nMIME-Version: 1.0\n";

const Url* find_url(const Message& m, std::string_view url) {
  for (const auto& u : m.urls) {
    if (u.url == url)
      return &u;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(MimeParse, RejectsNonMail) {
  struct Case {
    std::string name, input;
  } cases[] = {
      {"empty", ""},
      {"binary", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16)},
      {"prose", "Hello there, this is just some text.\nNo headers here.\n"},
      {"leading space", " Subject: x\n\nbody"},
      {"mbox line only", "From someone Mon Jan 1 00:00:00 2024\n"},
      {"zip", std::string("PK\x03\x04\x14\0\0\0", 8)},
  };
  for (const auto& c : cases) {
    auto r = parse(c.input);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().kind, ErrorKind::kMalformed) << c.name;
  }
}

TEST(MimeParse, RejectsOversize) {
  Limits l;
  l.max_message_bytes = 10;
  auto r = parse("Subject: x\n\nlonger than ten bytes", l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kMalformed);
}

TEST(MimeParse, AcceptsMboxFromLine) {
  Message m = must_parse("From alice@example.com Mon Jan  1 00:00:00 2024\n" + kHead + "\nhi\n");
  ASSERT_NE(m.header("From"), nullptr);
  EXPECT_EQ(m.header("from")->value, "Alice <alice@example.com>");
  EXPECT_EQ(m.texts.at(0).text, "hi");
}

TEST(MimeParse, HeaderOnlyMessage) {
  Message m = must_parse("Subject: only headers");
  EXPECT_EQ(m.subject(), "only headers");
  EXPECT_TRUE(m.parts[0].raw_body.empty());
}

// ---------------------------------------------------------------------------------------------
// Headers

TEST(MimeHeaders, UnfoldingAndViews) {
  std::string raw = kHead + "X-Long: first\n  second\n\tthird\n\nbody";
  auto r = parse(raw);
  ASSERT_TRUE(r.ok());
  const Message& m = r.value();
  const Header* h = m.header("x-long");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->value, "first  second\tthird");
  EXPECT_EQ(h->raw_value, " first\n  second\n\tthird");
  // Zero-copy: name and raw_value point into the input.
  EXPECT_GE(h->name.data(), raw.data());
  EXPECT_LT(h->name.data(), raw.data() + raw.size());
  EXPECT_EQ(m.raw.data(), raw.data());
}

TEST(MimeHeaders, MultipleAndCaseInsensitive) {
  Message m = must_parse(kHead + "Received: a\nreceived: b\nRECEIVED: c\n\nx");
  auto all = m.headers("Received");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2]->value, "c");
  EXPECT_EQ(m.header("nope"), nullptr);
}

TEST(MimeHeaders, LineEndings) {
  for (std::string eol : {"\r\n", "\n", "\r"}) {
    std::string raw = "From: a@b.com" + eol + "Subject: hello" + eol + "  world" + eol + eol +
                      "line1" + eol + "line2" + eol;
    Message m = must_parse(raw);
    EXPECT_EQ(m.subject(), "hello  world") << (eol == "\r" ? "CR" : eol == "\n" ? "LF" : "CRLF");
    ASSERT_EQ(m.texts.size(), 1u);
    EXPECT_EQ(m.texts[0].text, "line1\nline2");
    EXPECT_EQ(m.has_fact("MIME_BARE_CR"), eol == "\r");
  }
}

TEST(MimeHeaders, EncodedWords) {
  struct Case {
    const char* raw;
    const char* want;
    bool broken;
  } cases[] = {
      {"=?utf-8?B?SGVsbG8gV8O2cmxk?=", "Hello Wörld", false},
      {"=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème", false},
      {"=?utf-8?q?a?= =?utf-8?q?b?=", "ab", false},  // whitespace between words dropped
      {"=?utf-8?q?a?=\n =?utf-8?q?b?=", "ab", false},
      {"x =?utf-8?q?a?= y", "x a y", false},
      // A multi-byte character split across two words.
      {"=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=", "éé", false},
      {"=?utf-8?B?4oKs?=", "€", false},
      {"=?windows-1252?Q?=80?=", "€", false},
      {"=?utf-8*en?Q?lang?=", "lang", false},
      {"=?utf-8?X?bad?=", "=?utf-8?X?bad?=", true},
      {"=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated", true},
      {"=?gb2312?B?xOO6ww==?=", "你好", false},
      {"=?ks_c_5601-1987?B?vsiz58fPvLy/5A==?=", "안녕하세요", false},
      {"plain ascii", "plain ascii", false},
  };
  for (const auto& c : cases) {
    Message m = must_parse("From: a@b.com\nSubject: " + std::string(c.raw) + "\n\nx");
    EXPECT_EQ(m.subject(), c.want) << c.raw;
    EXPECT_EQ(m.has_fact("ENCODED_WORD_BROKEN"), c.broken) << c.raw;
  }
}

TEST(MimeHeaders, Raw8Bit) {
  Message utf = must_parse("From: a@b.com\nSubject: Grüße\n\nx");
  EXPECT_EQ(utf.subject(), "Grüße");
  EXPECT_TRUE(utf.has_fact("HEADER_8BIT_RAW"));
  Message latin = must_parse(
      "From: a@b.com\nSubject: Gr\xfc\xdf"
      "e\n\nx");
  EXPECT_EQ(latin.subject(), "Grüße");
  EXPECT_TRUE(latin.has_fact("HEADER_8BIT_RAW"));
}

TEST(MimeHeaders, MissingHeaderFacts) {
  Message full = must_parse(kHead + "\nbody");
  for (const char* f :
       {"MISSING_FROM", "MISSING_DATE", "MISSING_MESSAGE_ID", "MISSING_SUBJECT", "MISSING_TO"}) {
    EXPECT_FALSE(full.has_fact(f)) << f;
  }
  Message bare = must_parse("X-Foo: bar\n\nbody");
  for (const char* f :
       {"MISSING_FROM", "MISSING_DATE", "MISSING_MESSAGE_ID", "MISSING_SUBJECT", "MISSING_TO"}) {
    EXPECT_TRUE(bare.has_fact(f)) << f;
  }
}

TEST(MimeHeaders, DuplicateAndMalformed) {
  Message dup = must_parse(kHead + "Subject: again\n\nx");
  EXPECT_TRUE(dup.has_fact("HEADER_DUPLICATE"));
  Message bad = must_parse(kHead + "this line is not a header\nmore body\n");
  EXPECT_TRUE(bad.has_fact("HEADER_MALFORMED"));
  EXPECT_EQ(bad.texts.at(0).text, "this line is not a header\nmore body");
}

TEST(MimeHeaders, Limits) {
  Limits l;
  l.max_headers = 5;
  Message many = must_parse(kHead + "A: 1\nB: 2\n\nbody", l);
  EXPECT_TRUE(many.has_fact("HEADER_TOO_MANY"));
  EXPECT_EQ(many.parts[0].headers.size(), 5u);
  EXPECT_EQ(many.texts.at(0).text, "body");

  Limits big;
  big.max_header_bytes = 1000;
  std::string raw = kHead + "X-Big: " + std::string(5000, 'a') + "\nX-After: 1\n\nbody";
  Message m = must_parse(raw, big);
  EXPECT_TRUE(m.has_fact("HEADER_TOO_BIG"));
  EXPECT_EQ(m.header("X-After"), nullptr);
  EXPECT_EQ(m.texts.at(0).text, "body");
}

TEST(MimeAddress, ExtractAddress) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"Alice <Alice@Example.COM>", "alice@example.com"},
      {"alice@example.com", "alice@example.com"},
      {"alice@example.com (Alice)", "alice@example.com"},
      {"\"Paypal <service@paypal.com>\" <evil@bad.example>", "evil@bad.example"},
      {"\"a@b.com\" <c@d.com>", "c@d.com"},
      {"<@route.example:user@host.example>", "user@host.example"},
      {"a@b.com, c@d.com", "a@b.com"},
      {"undisclosed-recipients:;", ""},
      {"", ""},
      {"<<<>>>", ""},
  };
  for (const auto& c : cases)
    EXPECT_EQ(extract_address(c.in), c.want) << c.in;
  EXPECT_EQ(address_domain("alice@example.com"), "example.com");
  EXPECT_EQ(address_domain("nodomain"), "");
}

// ---------------------------------------------------------------------------------------------
// Parameters (RFC 2045 / RFC 2231)

TEST(MimeParams, StructuredFields) {
  struct Case {
    const char* in;
    const char* param;
    const char* want;
  } cases[] = {
      {"text/plain; charset=\"UTF-8\"", "charset", "UTF-8"},
      {"text/plain; charset=us-ascii (Plain Text)", "charset", "us-ascii"},
      {"multipart/mixed; boundary=\"a;b\\\"c\"", "boundary", "a;b\"c"},
      {"application/pdf; name*=utf-8''%E2%82%AC%20rate.pdf", "name", "€ rate.pdf"},
      {"application/pdf; name*0=\"long\"; name*1=\"name.pdf\"", "name", "longname.pdf"},
      {"application/pdf; name*0*=iso-8859-1'de'B%FCro; name*1*=%2Epdf", "name", "Büro.pdf"},
      {"application/pdf; name=\"plain.pdf\"; name*=utf-8''better.pdf", "name", "better.pdf"},
      {"text/plain;;; ;charset=x;garbage;=;a=", "charset", "x"},
      {"text/plain; charset=\"unterminated", "charset", "unterminated"},
  };
  for (const auto& c : cases) {
    detail::HeaderTextFlags flags;
    auto f = detail::parse_structured(c.in, flags);
    const std::string* v = f.get(c.param);
    ASSERT_NE(v, nullptr) << c.in;
    EXPECT_EQ(*v, c.want) << c.in;
  }
  detail::HeaderTextFlags flags;
  EXPECT_EQ(detail::parse_structured("Text/HTML (comment) ; x=y", flags).value, "text/html");
}

TEST(MimeParams, FilenamesOnParts) {
  std::string raw = kHead +
                    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                    "Content-Type: application/octet-stream; name=\"=?utf-8?B?w6l0w6kucGRm?=\"\n\n"
                    "x\n--b\n"
                    "Content-Type: application/octet-stream\n"
                    "Content-Disposition: attachment;\n filename*0*=utf-8''%C3%A9;\n"
                    " filename*1=t.txt\n\nx\n--b--\n";
  Message m = must_parse(raw);
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].filename, "été.pdf");
  EXPECT_EQ(m.attachments[1].filename, "ét.txt");
  EXPECT_EQ(m.parts[m.attachments[1].part].disposition, "attachment");
}

// ---------------------------------------------------------------------------------------------
// Structure

TEST(MimeStructure, MultipartAlternative) {
  std::string raw = kHead +
                    "Content-Type: multipart/alternative; boundary=\"XX\"\n\n"
                    "preamble text\n--XX\nContent-Type: text/plain\n\nplain body\n"
                    "--XX\nContent-Type: text/html\n\n<p>html body</p>\n--XX--\nepilogue\n";
  Message m = must_parse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_TRUE(m.parts[0].is_multipart);
  EXPECT_EQ(m.parts[0].content_type, "multipart/alternative");
  EXPECT_EQ(m.parts[0].boundary, "XX");
  EXPECT_EQ(m.parts[0].preamble, "preamble text");
  EXPECT_EQ(m.parts[0].epilogue, "epilogue\n");
  EXPECT_EQ(m.parts[1].parent, 0);
  EXPECT_EQ(m.parts[1].depth, 1);
  EXPECT_EQ(m.parts[1].raw_body, "plain body");
  ASSERT_EQ(m.texts.size(), 2u);
  EXPECT_EQ(m.texts[0].text, "plain body");
  EXPECT_FALSE(m.texts[0].from_html);
  EXPECT_EQ(m.texts[1].text, "html body");
  EXPECT_TRUE(m.texts[1].from_html);
  EXPECT_FALSE(m.has_fact("HTML_ONLY"));
  EXPECT_TRUE(m.facts.empty()) << m.facts.front();
}

TEST(MimeStructure, CrlfMultipartAndPrefixBoundaries) {
  // Inner boundary shares the outer one as a prefix: must not split the outer early.
  std::string raw =
      "From: a@b.com\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\nMIME-Version: 1.0\r\n"
      "\r\n--=_b\r\nContent-Type: multipart/alternative; boundary=\"=_b_inner\"\r\n\r\n"
      "--=_b_inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--=_b_inner--\r\n"
      "--=_b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--=_b--\r\n";
  Message m = must_parse(raw);
  ASSERT_EQ(m.parts.size(), 4u);
  EXPECT_EQ(m.parts[2].raw_body, "inner text");
  EXPECT_EQ(m.parts[3].raw_body, "second");
  EXPECT_EQ(m.parts[3].parent, 0);
  EXPECT_FALSE(m.has_fact("MIME_MISSING_END_BOUNDARY"));
}

TEST(MimeStructure, BoundaryFacts) {
  Message missing_end =
      must_parse(kHead +
                 "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\n"
                 "\nsecond\n");
  EXPECT_TRUE(missing_end.has_fact("MIME_MISSING_END_BOUNDARY"));
  ASSERT_EQ(missing_end.texts.size(), 2u);
  EXPECT_EQ(missing_end.texts[1].text, "second");

  Message never = must_parse(kHead + "Content-Type: multipart/mixed; boundary=zz\n\njust text\n");
  EXPECT_TRUE(never.has_fact("MIME_BAD_BOUNDARY"));
  EXPECT_EQ(never.texts.at(0).text, "just text");

  Message none = must_parse(kHead + "Content-Type: multipart/mixed\n\n--x\n\ntext\n");
  EXPECT_TRUE(none.has_fact("MIME_BAD_BOUNDARY"));
  EXPECT_EQ(none.texts.size(), 1u);
}

TEST(MimeStructure, MessageRfc822AndBase64Inner) {
  std::string inner = "From: inner@x.com\nSubject: inner subject\n\ninner body\n";
  std::string raw = kHead +
                    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nouter\n--b\n"
                    "Content-Type: message/rfc822\n\n" +
                    inner + "--b--\n";
  Message m = must_parse(raw);
  ASSERT_EQ(m.parts.size(), 4u);
  EXPECT_TRUE(m.parts[2].is_message);
  EXPECT_EQ(m.parts[3].parent, 2);
  EXPECT_EQ(m.parts[3].depth, 2);
  ASSERT_EQ(m.parts[3].headers.size(), 2u);
  EXPECT_EQ(m.parts[3].headers[1].value, "inner subject");
  EXPECT_EQ(m.subject(), "test");  // root headers only
  EXPECT_EQ(m.texts.at(1).text, "inner body");

  std::string b64 = kHead +
                    "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
                    "U3ViamVjdDogZW5jb2RlZAoKaGlkZGVuIGJvZHkK\n";
  Message e = must_parse(b64);
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[1].headers.at(0).value, "encoded");
  EXPECT_EQ(e.texts.at(0).text, "hidden body");
  Message copy = e;  // views into owned buffers survive copies
  e = Message();
  EXPECT_EQ(copy.parts[1].headers.at(0).name, "Subject");
}

TEST(MimeStructure, DigestDefaultsToRfc822) {
  std::string raw = kHead +
                    "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
                    "Subject: digest item\n\nitem body\n--d--\n";
  Message m = must_parse(raw);
  ASSERT_GE(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].content_type, "message/rfc822");
  EXPECT_EQ(m.parts[2].headers.at(0).value, "digest item");
}

std::string nested(int depth) {
  std::string body = "leaf text\n";
  for (int i = depth; i > 0; --i) {
    std::string b = "b" + std::to_string(i);
    body = "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n" +
           (i == depth ? "\n" : "") + body + "\n--" + b + "--\n";
  }
  return kHead + body;
}

TEST(MimeLimits, DeepNesting) {
  Limits l;
  l.max_depth = 4;
  Message m = must_parse(nested(10), l);
  EXPECT_TRUE(m.has_fact("MIME_TOO_DEEP"));
  for (const auto& p : m.parts)
    EXPECT_LE(p.depth, 4);
  Message ok = must_parse(nested(3), l);
  EXPECT_FALSE(ok.has_fact("MIME_TOO_DEEP"));
  EXPECT_EQ(ok.texts.at(0).text, "leaf text");
  // Caller limits far above the hard cap are still safe.
  Limits huge;
  huge.max_depth = 1000000;
  Message deep = must_parse(nested(200), huge);
  EXPECT_TRUE(deep.has_fact("MIME_TOO_DEEP"));
}

TEST(MimeLimits, DeepRfc822Nesting) {
  std::string raw = "Subject: leaf\n\nbottom\n";
  for (int i = 0; i < 40; ++i)
    raw = "Subject: s\nContent-Type: message/rfc822\n\n" + raw;
  Limits l;
  l.max_depth = 8;
  Message m = must_parse(raw, l);
  EXPECT_TRUE(m.has_fact("MIME_TOO_DEEP"));
  EXPECT_LE(m.parts.size(), 9u);
}

TEST(MimeLimits, ManyParts) {
  std::string raw = kHead + "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 50; ++i)
    raw += "--b\n\npart " + std::to_string(i) + "\n";
  raw += "--b--\n";
  Limits l;
  l.max_parts = 10;
  Message m = must_parse(raw, l);
  EXPECT_TRUE(m.has_fact("MIME_TOO_MANY_PARTS"));
  EXPECT_EQ(m.parts.size(), 10u);
}

TEST(MimeLimits, TextTruncatedAndUrlLimit) {
  Limits l;
  l.max_text_bytes = 100;
  l.max_urls = 3;
  std::string body;
  for (int i = 0; i < 50; ++i)
    body += "see http://h" + std::to_string(i) + ".example.com/ now\n";
  Message m = must_parse(kHead + "\n" + body, l);
  EXPECT_TRUE(m.has_fact("TEXT_TRUNCATED"));
  EXPECT_LE(m.texts.at(0).text.size(), 100u);
  EXPECT_LE(m.urls.size(), 3u);
  // UTF-8 is never cut mid-character.
  Limits u;
  u.max_text_bytes = 7;
  Message e = must_parse("From: a@b.c\nContent-Type: text/plain; charset=utf-8\n\néééééé\n", u);
  EXPECT_TRUE(detail::is_valid_utf8(e.texts.at(0).text));
  EXPECT_EQ(e.texts.at(0).text, "ééé");
}

TEST(MimeStructure, MissingMimeVersion) {
  Message m =
      must_parse("From: a@b.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n");
  EXPECT_TRUE(m.has_fact("MIME_MISSING_MIME_VERSION"));
  Message plain = must_parse("From: a@b.com\n\nplain old mail\n");
  EXPECT_FALSE(plain.has_fact("MIME_MISSING_MIME_VERSION"));
}

TEST(MimeStructure, BadContentTypeAndEncoding) {
  Message m =
      must_parse(kHead + "Content-Type: garbage\nContent-Transfer-Encoding: x-weird\n\nhi\n");
  EXPECT_TRUE(m.has_fact("MIME_BAD_CONTENT_TYPE"));
  EXPECT_TRUE(m.has_fact("MIME_UNKNOWN_ENCODING"));
  EXPECT_EQ(m.parts[0].content_type, "text/plain");
  EXPECT_EQ(m.texts.at(0).text, "hi");
}

// ---------------------------------------------------------------------------------------------
// Transfer decoding

TEST(MimeDecode, Base64) {
  struct Case {
    std::string in, want;
    bool ok;
  } cases[] = {
      {"SGVsbG8=", "Hello", true},
      {"SGVs\r\nbG8=\r\n", "Hello", true},
      {"SGVsbG8", "Hello", true},  // missing padding tolerated
      {"SG Vs\tbG8=", "Hello", true},
      {"SGVs*bG8=", "Hello", false},      // junk
      {"SGVsbG8=SGk=", "HelloHi", true},  // concatenated blobs
      {"SGVsbG8hS", "Hello!", false},     // dangling sextet
      {"", "", true},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(detail::decode_base64(c.in, out), c.ok) << c.in;
    EXPECT_EQ(out, c.want) << c.in;
  }
}

TEST(MimeDecode, QuotedPrintable) {
  struct Case {
    std::string in, want;
    bool ok;
  } cases[] = {
      {"caf=C3=A9", "café", true},         {"soft=\r\nbreak", "softbreak", true},
      {"soft=\nbreak", "softbreak", true}, {"soft=  \nbreak", "softbreak", true},
      {"lower=3d", "lower=", true},        {"a=ZZb", "a=ZZb", false},
      {"price=5", "price=5", false},       {"end=", "end", true},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(detail::decode_qp(c.in, out), c.ok) << c.in;
    EXPECT_EQ(out, c.want) << c.in;
  }
}

TEST(MimeDecode, Uuencode) {
  std::string out;
  EXPECT_TRUE(detail::decode_uu("begin 644 a.txt\n#0V%T\n`\nend\n", out));
  EXPECT_EQ(out, "Cat");
}

TEST(MimeDecode, PartFacts) {
  Message b = must_parse(kHead + "Content-Transfer-Encoding: base64\n\nSGVs!!bG8=\n");
  EXPECT_TRUE(b.has_fact("MIME_BAD_BASE64"));
  EXPECT_EQ(b.texts.at(0).text, "Hello");
  Message q = must_parse(kHead + "Content-Transfer-Encoding: quoted-printable\n\nx=QQ\n");
  EXPECT_TRUE(q.has_fact("MIME_BAD_QP"));
  Message bin = must_parse(kHead + "Content-Transfer-Encoding: 8bit\n\nplain\n");
  EXPECT_EQ(bin.parts[0].decoded, "plain\n");
}

// ---------------------------------------------------------------------------------------------
// Charsets

TEST(MimeCharset, Conversions) {
  struct Case {
    const char* charset;
    std::string in;
    std::string want;
    bool invalid;
    bool unknown;
  } cases[] = {
      {"utf8", "caf\xc3\xa9", "café", false, false},
      {"latin1", "caf\xe9", "café", false, false},
      {"iso-8859-1", "\x80", "€", false, false},  // read as windows-1252 like browsers
      {"windows-1251", "\xcf\xf0\xe8\xe2\xe5\xf2", "Привет", false, false},
      {"koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет", false, false},
      {"gb2312", "\xc4\xe3\xba\xc3", "你好", false, false},
      {"ks_c_5601-1987", "\xbe\xc8\xb3\xe7", "안녕", false, false},
      {"iso-8859-8-i", "\xf9\xec\xe5\xed", "שלום", false, false},
      {"shift_jis", "\x82\xb1\x82\xf1", "こん", false, false},
      {"iso-2022-jp", "\x1b$B$3$s\x1b(B", "こん", false, false},
      {"us-ascii", "caf\xe9", "café", true, false},
      {"utf-8",
       "bad\xff"
       "byte",
       "bad\xef\xbf\xbd"
       "byte",
       true, false},
      {"x-no-such-charset", "caf\xe9", "café", false, true},
      {"x-no-such-charset", "plain", "plain", false, true},
  };
  for (const auto& c : cases) {
    std::string out;
    auto st = detail::to_utf8(c.in, c.charset, out);
    EXPECT_EQ(out, c.want) << c.charset;
    EXPECT_EQ(st.invalid, c.invalid) << c.charset;
    EXPECT_EQ(st.unknown_charset, c.unknown) << c.charset;
  }
}

TEST(MimeCharset, PartFacts) {
  Message lie = must_parse(kHead + "Content-Type: text/plain; charset=us-ascii\n\ncaf\xe9\n");
  EXPECT_TRUE(lie.has_fact("MIME_CHARSET_LIE"));
  EXPECT_EQ(lie.texts.at(0).text, "café");
  Message badutf = must_parse(kHead + "Content-Type: text/plain; charset=utf-8\n\n\xc3\x28\n");
  EXPECT_TRUE(badutf.has_fact("MIME_CHARSET_LIE"));
  Message unknown = must_parse(kHead + "Content-Type: text/plain; charset=klingon\n\nx\xe9\n");
  EXPECT_TRUE(unknown.has_fact("MIME_UNKNOWN_CHARSET"));
  EXPECT_EQ(unknown.texts.at(0).text, "xé");
  Message nocs = must_parse(kHead + "\ncaf\xe9\n");
  EXPECT_TRUE(nocs.has_fact("MIME_8BIT_NO_CHARSET"));
  EXPECT_FALSE(nocs.has_fact("MIME_CHARSET_LIE"));
  Message meta = must_parse(kHead +
                            "Content-Type: text/html; charset=DEFAULT\n\n"
                            "<meta http-equiv=\"Content-Type\" content=\"text/html; "
                            "charset=windows-1251\"><p>\xcf\xf0\xe8\xe2\xe5\xf2</p>");
  EXPECT_EQ(meta.texts.at(0).text, "Привет");
}

// ---------------------------------------------------------------------------------------------
// HTML

std::string html_msg(const std::string& html) {
  return kHead + "Content-Type: text/html; charset=utf-8\n\n" + html;
}

TEST(MimeHtml, TextExtraction) {
  struct Case {
    const char* html;
    const char* want;
  } cases[] = {
      {"<p>Hello   <b>world</b></p>", "Hello world"},
      {"<html><head><title>T</title><style>p{}</style></head><body>x</body></html>", "x"},
      {"a<script>var s='<p>no</p>';</script>b", "ab"},
      {"a<!-- hidden comment -->b", "ab"},
      {"Vi<!-- -->ag<b></b>ra", "Viagra"},
      {"line1<br>line2<div>line3</div>", "line1\nline2\nline3"},
      {"&lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42; &eacute; &euro; &nbsp;x",
       "<tag> & \"q\" AB é € x"},
      {"&unknown; &amp", "&unknown; &"},
      {"&#150;", "–"},  // C1 numeric references read as windows-1252
      {"a < b and c<3", "a < b and c<3"},
      {"<p>unterminated <b", "unterminated"},
      {"<td>a</td><td>b</td>", "a b"},
      {"zero&#8203;width", "zerowidth"},
      {"<HEAD><TITLE>x</TITLE>missing body tag<p>shown</p>", "shown"},
  };
  for (const auto& c : cases) {
    Message m = must_parse(html_msg(c.html));
    ASSERT_EQ(m.texts.size(), 1u) << c.html;
    EXPECT_EQ(m.texts[0].text, c.want) << c.html;
    EXPECT_TRUE(m.texts[0].from_html);
  }
  EXPECT_TRUE(must_parse(html_msg("<p>only html</p>")).has_fact("HTML_ONLY"));
  EXPECT_TRUE(must_parse(html_msg("zero&#8203;width")).has_fact("TEXT_ZERO_WIDTH"));
}

TEST(MimeHtml, HiddenText) {
  struct Case {
    const char* html;
    bool hidden;
  } cases[] = {
      {"<div style=\"display:none\">secret</div>shown", true},
      {"<span style=\"visibility: hidden\">secret</span>shown", true},
      {"<span style=\"font-size:0px\">secret</span>shown", true},
      {"<span style=\"FONT-SIZE: 1px\">secret</span>shown", true},
      {"<font color=\"#ffffff\">secret</font>shown", true},
      {"<font color=white>secret</font>shown", true},
      {"<body bgcolor=\"#000000\"><font color=\"#000001\">secret</font>"
       "<font color=white>shown</font></body>",
       true},
      {"<div style=\"color:#fff;background-color:#fff\">secret</div>shown", true},
      {"<div hidden>secret</div>shown", true},
      {"<div style=\"opacity:0\">secret</div>shown", true},
      {"<table bgcolor=black><tr><td><font color=white>visible</font></td></tr></table>shown",
       false},
      {"<td background=\"x.gif\"><font color=white>visible</font></td>shown", false},
      {"<font size=1>small print</font>shown", false},
      {"<span style=\"font-size:12px\">normal</span>shown", false},
  };
  for (const auto& c : cases) {
    Message m = must_parse(html_msg(c.html));
    ASSERT_EQ(m.texts.size(), 1u);
    EXPECT_EQ(m.has_fact("HTML_HIDDEN_TEXT"), c.hidden) << c.html;
    if (c.hidden) {
      EXPECT_EQ(m.texts[0].hidden_text, "secret") << c.html;
      EXPECT_EQ(m.texts[0].text, "shown") << c.html;
    } else {
      EXPECT_TRUE(m.texts[0].hidden_text.empty()) << c.html;
    }
  }
}

TEST(MimeHtml, LinksAndMismatch) {
  Message m = must_parse(
      html_msg("<a href=\"http://evil.example.net/login\">https://www.paypal.com/signin</a><br>"
               "<a href=\"https://www.paypal.com/x\">paypal.com</a>"
               "<a href=\"http://Shop.Example.com/a?b=1&amp;c=2\">Click <b>here</b></a>"
               "<a href=\"mailto:Sales@Example.com?subject=hi\">mail us</a>"
               "<a href=\"javascript:void(0)\">js</a><a href=\"#top\">top</a>"
               "<img src=\"http://img.example.org/pixel.gif\">"
               "<A HREF=http://sub.paypal.com/>www.paypal.com</A>"));
  EXPECT_TRUE(m.has_fact("HTML_LINK_MISMATCH"));
  const Url* evil = find_url(m, "http://evil.example.net/login");
  ASSERT_NE(evil, nullptr);
  EXPECT_EQ(evil->host, "evil.example.net");
  EXPECT_EQ(evil->anchor_text, "https://www.paypal.com/signin");
  EXPECT_TRUE(evil->text_mismatch);
  EXPECT_TRUE(evil->from_html);
  const Url* real = find_url(m, "https://www.paypal.com/x");
  ASSERT_NE(real, nullptr);
  EXPECT_FALSE(real->text_mismatch);
  const Url* shop = find_url(m, "http://Shop.Example.com/a?b=1&c=2");
  ASSERT_NE(shop, nullptr);
  EXPECT_EQ(shop->host, "shop.example.com");
  EXPECT_EQ(shop->anchor_text, "Click here");
  const Url* img = find_url(m, "http://img.example.org/pixel.gif");
  ASSERT_NE(img, nullptr);
  EXPECT_TRUE(img->anchor_text.empty());
  const Url* sub = find_url(m, "http://sub.paypal.com/");
  ASSERT_NE(sub, nullptr);
  EXPECT_FALSE(sub->text_mismatch);  // subdomain of the shown host
  EXPECT_EQ(find_url(m, "javascript:void(0)"), nullptr);
  EXPECT_EQ(find_url(m, "#top"), nullptr);
  // A URL shown as visible text is collected too, without a mismatch of its own.
  const Url* shown = find_url(m, "https://www.paypal.com/signin");
  ASSERT_NE(shown, nullptr);
  EXPECT_FALSE(shown->text_mismatch);
  EXPECT_EQ(m.emails, std::vector<std::string>{"sales@example.com"});
  // Anchor text never leaks into the href.
  EXPECT_EQ(m.texts[0].text.find("http://evil"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// URLs and addresses in text

TEST(MimeUrls, PlainText) {
  Message m = must_parse(
      kHead +
      "\nVisit HTTP://Example.COM/Path?q=1, or www.foo.org/bar. Also (see http://x.y/a_(b)) and\n"
      "ftp://files.example.net/f.zip! Dup: http://example.com/path?q=1 no: notwww.x.com\n"
      "https://user@login.example.com:8080/x and www. and mail John.Doe@Example.ORG or "
      "x@localhost.\n");
  std::vector<std::string> urls, hosts;
  for (const auto& u : m.urls) {
    urls.push_back(u.url);
    hosts.push_back(u.host);
  }
  EXPECT_EQ(urls, (std::vector<std::string>{"http://Example.COM/Path?q=1", "www.foo.org/bar",
                                            "http://x.y/a_(b)", "ftp://files.example.net/f.zip",
                                            "http://example.com/path?q=1",
                                            "https://user@login.example.com:8080/x"}));
  EXPECT_EQ(hosts,
            (std::vector<std::string>{"example.com", "www.foo.org", "x.y", "files.example.net",
                                      "example.com", "login.example.com"}));
  EXPECT_EQ(m.emails, std::vector<std::string>{"john.doe@example.org"});
}

TEST(MimeUrls, Dedup) {
  Message m = must_parse(kHead + "\nhttp://a.example/ http://a.example/ HTTP://a.example/\n");
  EXPECT_EQ(m.urls.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Attachments

std::string attachment_msg(const std::string& filename, const std::string& type,
                           const std::string& base64) {
  return kHead + "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nsee attached\n--b\n" +
         "Content-Type: " + type + "; name=\"" + filename + "\"\n" +
         "Content-Disposition: attachment; filename=\"" + filename + "\"\n" +
         "Content-Transfer-Encoding: base64\n\n" + base64 + "\n--b--\n";
}

TEST(MimeAttachments, SniffingAndFacts) {
  struct Case {
    const char* filename;
    const char* type;
    const char* base64;
    const char* sniffed;
    bool mismatch;
    bool executable;
  } cases[] = {
      {"doc.pdf", "application/pdf", "JVBERi0xLjQK", "application/pdf", false, false},
      {"doc.pdf", "application/pdf", "TVqQAAMAAAAEAAAA", "application/x-dosexec", true, true},
      {"setup.exe", "application/octet-stream", "TVqQAAMAAAAEAAAA", "application/x-dosexec", false,
       true},
      {"a.zip", "application/zip", "UEsDBBQAAAAIAA==", "application/zip", false, false},
      {"a.rar", "application/x-rar", "UmFyIRoHAM+QcwAADQ==", "application/x-rar", false, false},
      {"a.7z", "application/octet-stream", "N3q8ryccAAQ=", "application/x-7z-compressed", false,
       false},
      {"a.gz", "application/gzip", "H4sIAAAAAAAAAw==", "application/gzip", false, false},
      {"a.png", "image/png", "iVBORw0KGgoAAAANSUhEUg==", "image/png", false, false},
      {"a.jpg", "image/jpeg", "/9j/4AAQSkZJRg==", "image/jpeg", false, false},
      {"a.gif", "image/gif", "R0lGODlhAQABAA==", "image/gif", false, false},
      {"a.jpg", "image/jpeg", "R0lGODlhAQABAA==", "image/gif", true, false},
      {"run", "application/octet-stream", "f0VMRgIBAQA=", "application/x-elf", false, true},
      {"x.sh", "text/x-sh", "IyEvYmluL3NoCmVjaG8gaGkK", "text/x-shellscript", false, true},
      {"invoice.html", "text/html", "PGh0bWw+PGJvZHk+aGk8L2JvZHk+PC9odG1sPg==", "text/html", false,
       false},
      {"invoice.js", "application/javascript", "dmFyIHg9MTs=", "", false, true},
  };
  for (const auto& c : cases) {
    Message m = must_parse(attachment_msg(c.filename, c.type, c.base64));
    ASSERT_EQ(m.attachments.size(), 1u) << c.filename;
    const Attachment& a = m.attachments[0];
    EXPECT_EQ(a.filename, c.filename);
    EXPECT_EQ(a.declared_type, c.type);
    EXPECT_EQ(a.sniffed_type, c.sniffed) << c.filename << " " << c.base64;
    EXPECT_EQ(m.has_fact("ATTACHMENT_TYPE_MISMATCH"), c.mismatch) << c.filename << " " << c.base64;
    EXPECT_EQ(m.has_fact("ATTACHMENT_EXECUTABLE"), c.executable) << c.filename;
    EXPECT_EQ(a.size, m.parts[a.part].decoded.size());
    EXPECT_EQ(a.sha256.size(), 64u);
  }
}

TEST(MimeAttachments, Sha256AndText) {
  Message m = must_parse(attachment_msg("a.txt", "text/plain", "YWJj"));  // "abc"
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(m.attachments[0].size, 3u);
  // Attached text is not part of the readable text.
  ASSERT_EQ(m.texts.size(), 1u);
  EXPECT_EQ(m.texts[0].text, "see attached");
}

// ---------------------------------------------------------------------------------------------
// Facts table

TEST(MimeFacts, TableIsCompleteAndUnique) {
  const auto& all = all_facts();
  EXPECT_EQ(all.size(), static_cast<size_t>(Fact::kCount));
  std::set<std::string_view> names;
  for (const auto& f : all) {
    EXPECT_FALSE(f.description.empty()) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
  }
  for (const char* required : {"MIME_BAD_BOUNDARY",
                               "MIME_MISSING_END_BOUNDARY",
                               "MISSING_FROM",
                               "MISSING_DATE",
                               "MISSING_MESSAGE_ID",
                               "MISSING_SUBJECT",
                               "MISSING_TO",
                               "MIME_CHARSET_LIE",
                               "MIME_UNKNOWN_CHARSET",
                               "MIME_BAD_BASE64",
                               "MIME_BAD_QP",
                               "HEADER_8BIT_RAW",
                               "HTML_LINK_MISMATCH",
                               "HTML_HIDDEN_TEXT",
                               "HTML_ONLY",
                               "MIME_TOO_DEEP",
                               "MIME_TOO_MANY_PARTS",
                               "HEADER_TOO_BIG",
                               "TEXT_TRUNCATED",
                               "ATTACHMENT_TYPE_MISMATCH",
                               "ATTACHMENT_EXECUTABLE",
                               "MIME_MISSING_MIME_VERSION",
                               "ENCODED_WORD_BROKEN"}) {
    EXPECT_TRUE(is_known_fact(required)) << required;
  }
  EXPECT_EQ(fact_name(Fact::kHtmlOnly), "HTML_ONLY");
}

// ---------------------------------------------------------------------------------------------
// Robustness over real files

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(MimeRobustness, SharedTestdataNeverCrashes) {
  std::filesystem::path dir =
      std::filesystem::path(MAILSIFT_SOURCE_DIR) / ".." / "shared" / "testdata";
  if (!std::filesystem::is_directory(dir))
    GTEST_SKIP() << "no " << dir;
  size_t files = 0, parsed = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    std::string bytes = read_file(e.path());
    auto r = parse(bytes);
    ++files;
    if (r.ok()) {
      ++parsed;
      for (const auto& f : r->facts)
        EXPECT_TRUE(is_known_fact(f));
    }
    if (e.path().extension() == ".eml" && !bytes.empty()) {
      EXPECT_TRUE(r.ok()) << e.path();  // every .eml fixture is mail
    }
  }
  EXPECT_GT(files, 0u);
  EXPECT_GT(parsed, 0u);
}

TEST(MimeRobustness, SpamAssassinCorpusAllParse) {
  const char* env = std::getenv("MAILSIFT_CORPUS_DIR");
  std::filesystem::path dir = env ? env : "/root/.cache/mailsift-corpus/package/data";
  if (!std::filesystem::is_directory(dir))
    GTEST_SKIP() << "no corpus at " << dir;
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".txt")
      continue;
    ++files;
    std::string bytes = read_file(e.path());
    auto r = parse(bytes);
    ASSERT_TRUE(r.ok()) << e.path() << ": " << r.error().describe();
    EXPECT_FALSE(r->parts.empty());
  }
  if (!env) {
    EXPECT_EQ(files, 6046u);
  }
}

// Both spellings of "www." are found in document order, also when one of them never occurs
// again (each pattern is searched once per hit, so thousands of links stay linear).
TEST(MimeExtract, BareWwwLinksInOrderBothCases) {
  std::vector<std::string> got;
  auto collect = [&got](std::string_view u) {
    got.emplace_back(u);
    return true;
  };
  detail::scan_urls("see WWW.A.example, www.b.example and WWW.c.example/x", collect);
  EXPECT_EQ(got, (std::vector<std::string>{"WWW.A.example", "www.b.example", "WWW.c.example/x"}));
  got.clear();
  std::string many;
  for (int i = 0; i < 3000; ++i)
    many += "link www.site" + std::to_string(i) + ".example\n";
  detail::scan_urls(many, collect);
  ASSERT_EQ(got.size(), 3000u);
  EXPECT_EQ(got.back(), "www.site2999.example");
}

}  // namespace
}  // namespace mailsift::mime
