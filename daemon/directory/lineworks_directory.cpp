#include "directory/lineworks_directory.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "channels/lineworks.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

constexpr auto kStopCheck = std::chrono::milliseconds(100);

[[noreturn]] void fail(const std::string& what) {
    throw Error(Errc::Unavailable, "LINE WORKS directory: " + what);
}

// "HTTP 503 (INTERNAL_SERVER_ERROR)", or "no answer: why".
std::string answered(const http::Response& response) {
    if (response.status == 0) {
        return "no answer: " + (response.timed_out ? std::string("timed out") : response.error);
    }
    auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    std::string code = lineworks_error_code(body);
    return "HTTP " + std::to_string(response.status) + (code.empty() ? "" : " (" + code + ")");
}

bool token_refused(const http::Response& response) {
    if (response.status == 401) {
        return true;
    }
    auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    return response.status == 403 && lineworks_error_code(body) == "UNAUTHORIZED";
}

std::optional<long long> whole_seconds(const std::map<std::string, std::string>& headers,
                                       const std::string& name) {
    auto it = headers.find(name);
    if (it == headers.end()) {
        return std::nullopt;
    }
    long long value = 0;
    const std::string& text = it->second;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
        return std::nullopt;
    }
    return value;
}

std::optional<std::string> text_field(const nlohmann::json& member, const char* key) {
    if (!member.contains(key) || !member[key].is_string() ||
        member[key].get_ref<const std::string&>().empty()) {
        return std::nullopt;
    }
    return member[key].get<std::string>();
}

}  // namespace

RequestPacer::RequestPacer(int per_minute, Now now, Sleep sleep)
    : per_minute_(per_minute), now_(std::move(now)), sleep_(std::move(sleep)) {
    if (!sleep_) {
        sleep_ = [this](Clock::duration d) {
            for (auto end = Clock::now() + d; !stopping_ && Clock::now() < end;) {
                std::this_thread::sleep_for(std::min<Clock::duration>(end - Clock::now(), kStopCheck));
            }
        };
    }
}

void RequestPacer::sleep_for(Clock::duration d) {
    if (d > Clock::duration::zero()) {
        sleep_(d);
    }
    if (stopping_) {
        throw Error(Errc::Unavailable, "lwauthd is stopping");
    }
}

void RequestPacer::before_request() {
    sleep_for(hold_until_ - now_());
    while (!sent_.empty() && sent_.front() + kWindow <= now_()) {
        sent_.pop_front();
    }
    while (sent_.size() >= static_cast<size_t>(per_minute_)) {
        sleep_for(sent_.front() + kWindow - now_());
        sent_.pop_front();
    }
    sent_.push_back(now_());
}

LineWorksDirectory::LineWorksDirectory(const policy::ChannelConfig& channel,
                                       SecretString client_secret,
                                       const SecretString& private_key_pem,
                                       std::shared_ptr<RequestPacer> pacer)
    : channel_(channel),
      base_url_(channel.option("base_url")),
      client_secret_(std::move(client_secret)),
      private_key_(load_rsa_private_key(private_key_pem)),
      ids_(channel, kLineWorksIdForm),
      pacer_(std::move(pacer)) {
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
}

std::vector<DirectoryEntry> LineWorksDirectory::lookup(const std::vector<std::string>& users) {
    std::vector<DirectoryEntry> entries;
    entries.reserve(users.size());
    for (const std::string& user : users) {
        entries.push_back(lookup_one(user));
    }
    return entries;
}

void LineWorksDirectory::get_token() {
    http::Request request =
        lineworks_token_request(channel_, client_secret_, private_key_.get(), kScope);
    http::Response response = http::perform_blocking(std::move(request));
    Result<LineWorksToken> token =
        parse_lineworks_token("LINE WORKS directory", response, kScope);
    wipe_string(response.body);
    if (!token) {
        throw Error(Errc::Unavailable, token.error().what());
    }
    access_token_ = std::move(token->access_token);
}

http::Response LineWorksDirectory::get_member(const std::string& user_id) {
    http::Request request;
    request.method = "GET";
    request.url = base_url_ + "/v1.0/users/" + lineworks_path_segment(user_id);
    std::string token(access_token_.view());
    ScopedWipe wipe_token(token);
    request.headers = {"Authorization: Bearer " + token, "Accept: application/json"};
    request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(channel_.timeout);
    request.ca_file = channel_.option("ca_file");
    request.proxy = channel_.option("proxy");
    pacer_->before_request();
    http::Response response = http::perform_blocking(std::move(request));
    return response;
}

DirectoryEntry LineWorksDirectory::lookup_one(const std::string& user) {
    // A user with no ID of LINE WORKS' form (no user_id template and not in the map) is
    // no member: nobody to ask about.
    Result<std::string> user_id = ids_.lookup(user);
    if (!user_id) {
        return DirectoryEntry{user, false, std::nullopt, std::nullopt};
    }
    bool refreshed = false;
    int rate_limited = 0;
    for (;;) {
        if (access_token_.empty()) {
            get_token();
        }
        http::Response response = get_member(*user_id);
        if (response.status == 200) {
            return parse_lineworks_member(user, response.body);
        }
        if (response.status == 404) {
            return DirectoryEntry{user, false, std::nullopt, std::nullopt};
        }
        if (token_refused(response) && !refreshed) {
            refreshed = true;
            access_token_.clear();
            continue;
        }
        if (response.status == 429 && ++rate_limited <= kMaxRateLimited) {
            pacer_->hold_until(pacer_->now() + lineworks_retry_after(response, kMaxRateLimitWait));
            continue;
        }
        std::string what = "GET /v1.0/users answered " + answered(response);
        if (token_refused(response)) {
            fail(what + ": the access token was refused again after a refresh");
        }
        if (response.status == 403) {
            fail(what + ": the app may not read members; grant it the OAuth scope " +
                 std::string(kScope) + " in the Developer Console");
        }
        if (response.status == 429) {
            fail(what + ": still rate limited after " + std::to_string(kMaxRateLimited) +
                 " waits; another app of the domain may be using the limit up");
        }
        fail(what);
    }
}

DirectoryEntry parse_lineworks_member(const std::string& user, const std::string& body) {
    auto member = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!member.is_object()) {
        fail("GET /v1.0/users answered HTTP 200 with a body that is not a member's JSON");
    }
    return DirectoryEntry{user, true, text_field(member, "cellPhone"), text_field(member, "email")};
}

std::chrono::seconds lineworks_retry_after(const http::Response& response,
                                           std::chrono::seconds most) {
    std::optional<long long> wait = whole_seconds(response.headers, "retry-after");
    if (!wait) {
        wait = whole_seconds(response.headers, "ratelimit-reset");
    }
    long long seconds = wait.value_or(most.count());
    return std::chrono::seconds(std::clamp<long long>(seconds, 1, most.count()));
}

}  // namespace lwauth
