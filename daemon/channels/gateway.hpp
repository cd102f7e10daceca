// What every HTTP gateway channel does the same way: start the request, and treat a
// gateway that did not answer (down, TLS refused, timeout) as worth another try.
#pragma once

#include <optional>
#include <string>

#include "channel.hpp"
#include "http/http_client.hpp"

namespace lwauth {

/// How a gateway's answer reads, by channel type.
using Classifier = SendResult (*)(const std::string& channel, const http::Response& response);

/// The result for a request that got no answer, retryable, with curl's reason; nullopt
/// when an answer arrived and the classifier must read it.
[[nodiscard]] std::optional<SendResult> unanswered(const std::string& channel,
                                                   const http::Response& response);

/// Starts `request` and hands `classify`'s reading of the answer to `done`. A request
/// that cannot even start fails at once, with the reason.
void send_classified(http::Client& client, http::Request request, const std::string& channel,
                     Classifier classify, SendDone done);

}  // namespace lwauth
