#include "lineworks.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "../http/url.hpp"
#include "json_text.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

constexpr auto kRefreshMargin = std::chrono::seconds(60);
constexpr auto kAssertionLifetime = std::chrono::seconds(3600);  // the service's maximum
constexpr auto kDefaultTokenLifetime = std::chrono::seconds(3600);

// An error code from the service, fit for a log line: word characters only, bounded.
std::string code_of(const nlohmann::json& body, const char* key) {
    if (!body.is_object() || !body.contains(key) || !body[key].is_string()) {
        return {};
    }
    std::string out;
    for (char c : body[key].get<std::string>()) {
        if (out.size() == 64) {
            break;
        }
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || c == '.') {
            out += c;
        }
    }
    return out;
}

// What an OAuth error means for an administrator (RFC 6749 §5.2, RFC 7523 §3.1).
std::string oauth_hint(const std::string& error, const std::string& scope) {
    if (error == "invalid_client") {
        return ": check client_id and client_secret_file";
    }
    if (error == "invalid_grant") {
        return ": the assertion was refused; check client_id, service_account, "
               "private_key_file and the system clock";
    }
    if (error == "invalid_scope") {
        return ": the app is not granted the scope '" + scope +
               "'; add it to the app's OAuth scopes in the Developer Console, or set scope";
    }
    if (error == "unauthorized_client") {
        return ": the app may not use the JWT grant";
    }
    return "";
}

std::string no_answer(const std::string& channel, const std::string& what,
                      const http::Response& response) {
    return channel + ": " + what + (response.timed_out ? "no answer in time" : response.error);
}

}  // namespace

LineWorksChannel::LineWorksChannel(const policy::ChannelConfig& config, http::Client& client,
                                   SecretString client_secret, const SecretString& private_key_pem)
    : config_(config),
      name_(config.name),
      bot_id_(config.option("bot_id")),
      base_url_(config.option("base_url")),
      scope_(config.option("scope")),
      ca_file_(config.option("ca_file")),
      proxy_(config.option("proxy")),
      timeout_(std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout)),
      client_(client),
      client_secret_(std::move(client_secret)),
      private_key_(load_rsa_private_key(private_key_pem)),
      ids_(config, kLineWorksIdForm) {
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
}

void LineWorksChannel::send(const OutgoingMessage& message, Done<void> done) {
    Result<std::string> user_id = ids_.lookup(message.user);
    if (!user_id) {
        done(send_failure(label() + ": " + user_id.error().what()));
        return;
    }
    auto job = std::make_shared<Job>();
    job->user_id = std::move(*user_id);
    job->text = message.text.clone();
    job->done = std::move(done);
    if (have_token()) {
        post_message(job);
    } else {
        wait_for_token(std::move(job));
    }
}

bool LineWorksChannel::have_token() const {
    return !access_token_.empty() && Clock::now() + kRefreshMargin < token_expires_;
}

void LineWorksChannel::wait_for_token(std::shared_ptr<Job> job) {
    waiting_.push_back(std::move(job));
    if (!token_in_flight_) {
        request_token();
    }
}

void LineWorksChannel::request_token() {
    token_in_flight_ = true;
    try {
        http::Request request =
            lineworks_token_request(config_, client_secret_, private_key_.get(), scope_);
        client_.perform(std::move(request), [self = shared_from_this()](http::Response response) {
            self->on_token(response);
        });
    } catch (const std::exception& e) {
        // The key cannot sign, or libcurl cannot start: no later try would do better.
        token_in_flight_ = false;
        std::deque<std::shared_ptr<Job>> jobs;
        jobs.swap(waiting_);
        for (const auto& job : jobs) {
            job->done(send_failure(label() + ": token request: " + e.what()));
        }
    }
}

void LineWorksChannel::on_token(const http::Response& response) {
    token_in_flight_ = false;
    Result<LineWorksToken> token = parse_lineworks_token(label(), response, scope_);
    std::deque<std::shared_ptr<Job>> jobs;
    jobs.swap(waiting_);
    if (!token) {
        for (const auto& job : jobs) {
            job->done(token.error());
        }
        return;
    }
    access_token_ = std::move(token->access_token);
    token_expires_ = Clock::now() + token->expires_in;
    for (const auto& job : jobs) {
        post_message(job);
    }
}

void LineWorksChannel::post_message(const std::shared_ptr<Job>& job) {
    http::Request request;
    request.url = base_url_ + "/v1.0/bots/" + lineworks_path_segment(bot_id_) + "/users/" +
                  lineworks_path_segment(job->user_id) + "/messages";
    std::string token(access_token_.view());
    ScopedWipe wipe_token(token);
    request.headers = {"Authorization: Bearer " + token, "Content-Type: application/json",
                       "Accept: application/json"};
    nlohmann::json body = {
        {"content", {{"type", "text"}, {"text", std::string(job->text.view())}}}};
    request.body = json_text(body);
    wipe_string(body["content"]["text"].get_ref<std::string&>());
    request.timeout = timeout_;
    request.ca_file = ca_file_;
    request.proxy = proxy_;
    try {
        client_.perform(std::move(request),
                        [self = shared_from_this(), job, token](http::Response response) mutable {
                            self->on_message(job, token, response);
                            wipe_string(token);
                        });
    } catch (const std::exception& e) {
        wipe_string(request.body);
        job->done(send_failure(label() + ": " + e.what()));
    }
}

void LineWorksChannel::on_message(const std::shared_ptr<Job>& job, const std::string& token_used,
                                  const http::Response& response) {
    LineWorksVerdict verdict = classify_lineworks(label(), response);
    if (!verdict.token_refused) {
        job->done(verdict.result);
        return;
    }
    if (job->refreshed) {
        job->done(verdict.result);
        return;
    }
    job->refreshed = true;
    if (access_token_.view() == token_used) {
        access_token_.clear();  // refused: the next send gets a new one
    }
    if (have_token()) {
        post_message(job);  // another send already brought a newer token
    } else {
        wait_for_token(job);
    }
}

std::string lineworks_path_segment(std::string_view value) {
    std::string out = http::percent_encode(value);
    for (size_t at = out.find("%40"); at != std::string::npos; at = out.find("%40", at + 1)) {
        out.replace(at, 3, "@");
    }
    return out;
}

std::string lineworks_error_code(const nlohmann::json& body) { return code_of(body, "code"); }

http::Request lineworks_token_request(const policy::ChannelConfig& config,
                                      const SecretString& client_secret, EVP_PKEY* key,
                                      const std::string& scope) {
    http::Request request;
    request.url = config.option("auth_url");
    request.headers = {"Content-Type: application/x-www-form-urlencoded",
                       "Accept: application/json"};
    request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout);
    request.ca_file = config.option("ca_file");
    request.proxy = config.option("proxy");
    const std::string client_id = config.option("client_id");
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    nlohmann::json claims = {{"iss", client_id},
                             {"sub", config.option("service_account")},
                             {"iat", now},
                             {"exp", now + kAssertionLifetime.count()}};
    std::string assertion = sign_rs256_jwt(claims, key);
    ScopedWipe wipe_assertion(assertion);
    request.body = "assertion=" + http::percent_encode(assertion) + "&grant_type=" +
                   http::percent_encode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
                   "&client_id=" + http::percent_encode(client_id) +
                   "&client_secret=" + http::percent_encode(client_secret.view()) +
                   "&scope=" + http::percent_encode(scope);
    return request;
}

Result<LineWorksToken> parse_lineworks_token(const std::string& channel,
                                             const http::Response& response,
                                             const std::string& scope) {
    if (response.status == 0) {
        return send_failure(no_answer(channel, "token request: ", response), true);
    }
    auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (response.status == 200 && body.is_object() && body.contains("access_token") &&
        body["access_token"].is_string() && !body["access_token"].get_ref<std::string&>().empty()) {
        LineWorksToken out;
        out.access_token = SecretString(body["access_token"].get_ref<std::string&>());
        wipe_string(body["access_token"].get_ref<std::string&>());
        if (body.contains("refresh_token") && body["refresh_token"].is_string()) {
            wipe_string(body["refresh_token"].get_ref<std::string&>());
        }
        out.expires_in = kDefaultTokenLifetime;
        const auto* expires = body.contains("expires_in") ? &body["expires_in"] : nullptr;
        if (expires != nullptr && expires->is_number_integer() && expires->get<long long>() > 0) {
            out.expires_in = std::chrono::seconds(expires->get<long long>());
        } else if (expires != nullptr && expires->is_string()) {
            const auto& text = expires->get_ref<const std::string&>();
            long long seconds = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
            if (ec == std::errc() && end == text.data() + text.size() && seconds > 0) {
                out.expires_in = std::chrono::seconds(seconds);
            }
        }
        return out;
    }
    std::string what = channel + ": token request answered HTTP " + std::to_string(response.status);
    std::string error = code_of(body, "error");
    std::string code = code_of(body, "code");
    if (!error.empty()) {
        what += " (" + error + ")" + oauth_hint(error, scope);
    } else if (!code.empty()) {
        what += " (" + code + ")";
    } else if (response.status == 200) {
        what += " without an access token";
    } else if (!body.is_object()) {
        what += " with a body that is not JSON";
    }
    bool retryable = response.status == 429 || response.status >= 500 || error == "server_error" ||
                     error == "temporarily_unavailable";
    return send_failure(what, retryable);
}

LineWorksVerdict classify_lineworks(const std::string& channel, const http::Response& response) {
    if (response.status == 0) {
        return {send_failure(no_answer(channel, "", response), true), false};
    }
    if (response.status >= 200 && response.status < 300) {
        return {Result<void>(), false};
    }
    auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    std::string code = code_of(body, "code");
    std::string what = channel + ": answered HTTP " + std::to_string(response.status);
    if (!code.empty()) {
        what += " (" + code + ")";
    } else if (!body.is_object()) {
        what += " with a body that is not LINE WORKS' JSON";
    }
    if (response.status == 401 || (response.status == 403 && code == "UNAUTHORIZED")) {
        return {send_failure(what + ": the access token was refused again after a refresh"), true};
    }
    switch (response.status) {
        case 400:
            return {send_failure(what + ": the message was refused as invalid"), false};
        case 403:
            return {send_failure(what + ": the bot may not send this message; check the "
                                        "bot's permissions and bot_id"),
                    false};
        case 404:
            return {send_failure(what + ": no such bot or user; check bot_id and the "
                                        "user's LINE WORKS ID"),
                    false};
        case 429:
            return {send_failure(what + ": rate limited", true), false};
        default:
            break;
    }
    return {send_failure(what, response.status >= 500), false};
}

}  // namespace lwauth
