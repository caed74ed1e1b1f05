// libFuzzer target: raw bytes -> Beast's request parser (with the server's kinds of limits) ->
// Handler (routing, query decoding, Rspamd header -> envelope mapping, reply JSON) over the fake
// backend. Several requests may follow one another in the input, as on a kept-alive connection.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/handler.h"
#include "http/reply.h"
#include "http/request.h"
#include "http/testing/fake_backend.h"

namespace bhttp = boost::beast::http;
using namespace mailsift::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Metrics metrics;
  testing::FakeBackend backend;  // fresh per input: its learn memory must not grow unbounded
  Handler handler(backend, metrics);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int requests = 0; requests < 8 && !input.empty(); ++requests) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(8192);
    parser.body_limit(65536);
    parser.eager(true);
    boost::beast::error_code ec;
    size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
    if (ec == bhttp::error::need_more) {
      parser.put_eof(ec);
      if (ec || !parser.is_done())
        return 0;
    } else if (ec) {
      // What the server sends for a request it cannot parse.
      (void)handler.transport_error(400, "malformed HTTP request: " + ec.message());
      return 0;
    }
    if (!parser.is_done())
      return 0;
    Response res = handler.handle(parser.get());
    if (res.result_int() == 200 && res.body().empty())
      __builtin_trap();  // every 200 carries a body
    (void)find_message_id(parser.get().body());
    if (used == 0)
      return 0;
    input.remove_prefix(used);
  }
  return 0;
}
