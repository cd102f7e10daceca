#include "gateway.hpp"

namespace lwauth {

std::optional<SendResult> unanswered(const std::string& channel, const http::Response& response) {
    if (response.status != 0) {
        return std::nullopt;
    }
    return SendResult::failed(
        channel + ": " + (response.timed_out ? "no answer in time" : response.error), true);
}

void send_classified(http::Client& client, http::Request request, const std::string& channel,
                     Classifier classify, SendDone done) {
    try {
        client.perform(std::move(request), [channel, classify, done](http::Response response) {
            done(classify(channel, response));
        });
    } catch (const std::exception& e) {
        done(SendResult::failed(channel + ": " + e.what()));
    }
}

}  // namespace lwauth
