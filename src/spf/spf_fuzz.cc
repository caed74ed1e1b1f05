// libFuzzer target: the SPF record parser and macro expander on arbitrary bytes. The input is
// parsed as a record; its domain-specs and the input itself are then expanded as macro-strings
// (domain and explanation modes). Nothing may crash, hang or touch DNS.
#include <cstddef>
#include <cstdint>
#include <string>

#include "spf/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailsift::spf;
  std::string text(reinterpret_cast<const char*>(data), size);
  MacroContext ctx;
  ctx.sender = "strong-bad@email.example.com";
  ctx.local_part = "strong-bad";
  ctx.sender_domain = "email.example.com";
  ctx.domain = "email.example.com";
  ctx.helo = "mx.example.org";
  ctx.client = *parse_address(size % 2 ? "2001:db8::cb01" : "192.0.2.3");
  ctx.validated_ptr = [] { return std::string("mx.example.org"); };
  auto rec = parse_record(text);
  if (rec.ok()) {
    for (const auto& m : rec->mechanisms) {
      if (!m.domain_spec.empty())
        (void)expand(m.domain_spec, ctx, false);
      (void)in_network(ctx.client, m.network, m.cidr4);
    }
    if (rec->redirect)
      (void)expand(*rec->redirect, ctx, false);
    if (rec->exp)
      (void)expand(*rec->exp, ctx, false);
  }
  (void)validate_domain_spec(text);
  (void)expand(text, ctx, true);
  (void)expand(text, ctx, false);
  (void)is_queryable_name(text);
  (void)parse_address(text);
  return 0;
}
