#include "gateway.hpp"

#include "../log.hpp"

namespace lwauth {

Result<void> answered(const std::string& channel, const http::Response& response) {
    if (response.status != 0) {
        return {};
    }
    return send_failure(
        channel + ": " + (response.timed_out ? "no answer in time" : response.error), true);
}

void send_classified(http::Client& client, http::Request request, const std::string& channel,
                     Classifier classify, Done<void> done) {
    try {
        client.perform(std::move(request), [channel, classify, done](http::Response response) {
            done(classify(channel, response));
        });
    } catch (const std::exception& e) {
        done(send_failure(channel + ": " + e.what()));
    }
}

void send_idempotent(http::Client& client, const RequestMaker& make,
                     std::chrono::milliseconds budget, const std::string& channel,
                     Classifier classify, Done<void> done) {
    using SteadyClock = std::chrono::steady_clock;
    auto started = SteadyClock::now();
    auto repeat = [&client, make, budget, started, channel, classify,
                   done](http::Response response) {
        auto left = budget - std::chrono::duration_cast<std::chrono::milliseconds>(
                                 SteadyClock::now() - started);
        Result<void> first = classify(channel, response);
        if (first.ok() || !(response.timed_out || response.status >= 500) || left < budget / 4) {
            done(std::move(first));
            return;
        }
        log_event(LogLevel::Warning, "gateway-repeat",
                  std::string(first.error().what()) +
                      "; sending the same request once more, with the same idempotency key");
        send_classified(client, make(left), channel, classify, done);
    };
    try {
        client.perform(make(budget * 2 / 3), std::move(repeat));
    } catch (const std::exception& e) {
        done(send_failure(channel + ": " + e.what()));
    }
}

}  // namespace lwauth
