// mailsift::ipwatch::IpwatchApi — the outbound-IP endpoints of mailsiftd's HTTP API, for support
// tools (admin API key only: `Authorization: Bearer <key>`, checked by the injected callback,
// in mailsiftd tenant::authenticate with role admin).
//
//   GET  /api/v1/outbound-ips                     pools (health, the transport answered now),
//                                                 every IP's state and delisting record, alerts
//   GET  /api/v1/outbound-ips/IP                  one IP: state, delisting record, history
//   GET  /api/v1/outbound-ips/IP/history          its listing episodes, newest first
//   POST /api/v1/outbound-ips/IP/delisting        {"state":"none|requested|delisted|rejected",
//                                                  "note":"...", "by":"..."} (each optional;
//                                                  by defaults to "admin-api")
// Paths it does not own go to `next`.
//
// Failure semantics: 401 without a valid admin key (403 for a valid non-admin key), 404 for an IP
// that is not configured, 400 for a malformed body or state, 405 wrong method, 503 when the store
// fails (kTemporary). Errors are {"error":{"kind","message"}}. handle() never throws.
#pragma once

#include <functional>
#include <string_view>

#include "core/result.h"
#include "http/api_extension.h"
#include "ipwatch/monitor.h"

namespace mailsift::ipwatch {

class IpwatchApi final : public http::ApiExtension {
 public:
  enum class Access { kAdmin, kNotAdmin, kUnknown };
  // Maps a bearer key to who it is; kTemporary errors answer 503.
  using Authenticate = std::function<Result<Access>(std::string_view key)>;

  IpwatchApi(Store& store, Options options, std::function<Choice()> choice, Authenticate auth,
             std::function<int64_t()> clock, http::ApiExtension* next)
      : store_(store),
        options_(std::move(options)),
        choice_(std::move(choice)),
        auth_(std::move(auth)),
        clock_(std::move(clock)),
        next_(next) {}
  bool handles(std::string_view path) const override;
  http::ApiReply handle(const http::ApiCall& call) override;

 private:
  http::ApiReply handle_unchecked(const http::ApiCall& call);
  Store& store_;
  Options options_;
  std::function<Choice()> choice_;
  Authenticate auth_;
  std::function<int64_t()> clock_;
  http::ApiExtension* next_;
};

}  // namespace mailsift::ipwatch
