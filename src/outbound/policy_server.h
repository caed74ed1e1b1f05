// mailsift::outbound policy delegation — the Postfix check_policy_service listener.
//
// Owns:
//  - PolicyService: one request -> one action. For requests with a sasl_username (authenticated
//    = outbound) at protocol_state MAIL or RCPT it asks the Guard (status, limits, counting,
//    detection) and answers DUNNO (let the other restrictions decide) or the refusal reply from
//    replies.h as a numeric access(5) action ("550 5.7.1 ...", "451 4.7.1 ..."; numeric so the
//    client sees exactly the documented code: a plain REJECT would become 554). Every such
//    decision is written to the decision log (direction "outbound", stage "mail"/"rcpt",
//    policy_source "outbound-policy", the reply as the client sees it). Unauthenticated requests
//    and other protocol states get DUNNO and are not logged.
//  - PolicyServer: the Boost.Asio listener (TCP or unix socket, no thread per connection, one
//    strand per connection, idle timeout), many requests per connection as Postfix expects.
//
// Failure semantics: a Guard/store error answers "451 4.3.0 ..." (never a silent accept) and is
// logged in the decision's errors. A decision log write failure is logged on stderr; the reply is
// still sent. A malformed request closes the connection without a reply (Postfix retries, then
// applies smtpd_policy_service_default_action).
// Threading: PolicyService::handle is thread-safe; the server calls it on connection strands.
// SECURITY: reads untrusted bytes (bounded by PolicyLimits); attribute values are written to the
// decision log and stderr log only through their escaping writers.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "decisions/decisions.h"
#include "outbound/guard.h"
#include "outbound/policy_codec.h"

namespace mailsift::outbound {

struct PolicyServiceOptions {
  std::string node;  // decision log node name
  // Reseller of a user (tenants); empty function or "" = unknown.
  std::function<std::string(const std::string& user, const std::string& domain)> reseller_of;
};

class PolicyService {
 public:
  PolicyService(Guard& guard, decisions::DecisionLog& log, PolicyServiceOptions options,
                Guard::Clock clock = &Guard::system_now_ms);
  // The action for one request (without "action=").
  std::string handle(const PolicyRequest& request);

 private:
  Guard& guard_;
  decisions::DecisionLog& log_;
  PolicyServiceOptions options_;
  Guard::Clock clock_;
};

struct PolicyServerOptions {
  std::string listen = "inet:127.0.0.1:10040";  // as server.milter_listen; port 0 = any
  std::chrono::milliseconds idle_timeout{300000};
  PolicyLimits limits;
  std::function<std::string(const PolicyRequest&)> handler;  // returns the action
};

class PolicyServer {
 public:
  static Result<std::unique_ptr<PolicyServer>> start(boost::asio::io_context& io,
                                                     PolicyServerOptions options);
  ~PolicyServer();
  PolicyServer(const PolicyServer&) = delete;
  PolicyServer& operator=(const PolicyServer&) = delete;

  void stop();  // stop accepting and close every connection (Postfix reconnects elsewhere)
  uint16_t port() const;
  size_t connections() const;

  struct State;

 private:
  explicit PolicyServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace mailsift::outbound
