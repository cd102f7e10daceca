// What every HTTP gateway channel does the same way: start the request, and treat a
// gateway that did not answer (down, TLS refused, timeout) as worth another try.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "channel.hpp"
#include "http/http_client.hpp"

namespace lwauth {

/// How a gateway's answer reads, by channel type.
using Classifier = Result<void> (*)(const std::string& channel, const http::Response& response);

/// Success when an answer arrived and the classifier must read it; for a request that got
/// none, the retryable failure with curl's reason.
[[nodiscard]] Result<void> answered(const std::string& channel, const http::Response& response);

/// Starts `request` and hands `classify`'s reading of the answer to `done`. A request
/// that cannot even start fails at once, with the reason.
void send_classified(http::Client& client, http::Request request, const std::string& channel,
                     Classifier classify, Done<void> done);

/// Builds the request, the same each time (its idempotency key included), with the time
/// it may take.
using RequestMaker = std::function<http::Request(std::chrono::milliseconds timeout)>;

/// send_classified for a service that knows a repeated request by its idempotency key. A
/// request that timed out or got a 5xx may have been taken all the same, so it is sent
/// once more, identical, before `done` hears of a failure; the service answers a repeat
/// of a request it took without sending the message again. Both fit in `budget` (the
/// channel's timeout): the first gets two thirds of it, the repeat what is left, if that
/// is at least a quarter. It is one send for the caps.
void send_idempotent(http::Client& client, const RequestMaker& make,
                     std::chrono::milliseconds budget, const std::string& channel,
                     Classifier classify, Done<void> done);

}  // namespace lwauth
