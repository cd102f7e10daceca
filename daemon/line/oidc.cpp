#include "line/oidc.hpp"

#include <nlohmann/json.hpp>

#include <string_view>
#include <utility>
#include <vector>

#include "http/url.hpp"
#include "line/json_wipe.hpp"

namespace lwauth::line {
namespace {

using Params = std::vector<std::pair<std::string_view, std::string_view>>;

// name=value pairs joined by "&", every value percent-encoded (the names are ours).
std::string encode_params(const Params& params) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) {
            out += '&';
        }
        out.append(name);
        out += '=';
        out += http::percent_encode(value);
    }
    return out;
}

// An OAuth error code (RFC 6749 section 5.2: printable ASCII, no quote or backslash) as
// it may be written in a log line; anything else is not quoted.
std::string error_code_of(const nlohmann::json& body) {
    if (!body.is_object() || !body.contains("error") || !body["error"].is_string()) {
        return {};
    }
    const auto& code = body["error"].get_ref<const std::string&>();
    if (code.empty() || code.size() > 64) {
        return "?";
    }
    for (char c : code) {
        bool fits = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
        if (!fits) {
            return "?";
        }
    }
    return code;
}

Error refused(const http::Response& response, const nlohmann::json& body) {
    std::string error = error_code_of(body);
    std::string what = "the LINE token endpoint answered HTTP " + std::to_string(response.status);
    if (!error.empty()) {
        what += " (" + error + ")";
    }
    bool denied = response.status >= 400 && response.status < 500 &&
                  (error == "invalid_grant" || error == "access_denied");
    if (denied) {
        return Error(Errc::AccessDenied, what + ": the authorization code was not accepted");
    }
    if (error == "invalid_client" || error == "unauthorized_client") {
        return Error(Errc::Unavailable, what + ": check [line] channel_id and the channel secret");
    }
    return Error(Errc::Unavailable, what);
}

}  // namespace

std::string authorize_url(const ClientConfig& client, const AuthRequest& request) {
    std::string max_age = client.max_age ? std::to_string(client.max_age->count()) : "";
    Params params = {{"response_type", "code"},
                     {"client_id", client.channel_id},
                     {"redirect_uri", client.redirect_uri},
                     {"state", request.state},
                     {"scope", "openid"},
                     {"nonce", request.nonce},
                     {"code_challenge", request.code_challenge},
                     {"code_challenge_method", "S256"}};
    if (client.max_age) {
        params.emplace_back("max_age", max_age);
    }
    if (!client.ui_locales.empty()) {
        params.emplace_back("ui_locales", client.ui_locales);
    }
    char glue = client.authorize_url.find('?') == std::string::npos ? '?' : '&';
    return client.authorize_url + glue + encode_params(params);
}

http::Request token_request(const ClientConfig& client, const SecretString& channel_secret,
                            const SecretString& code, const AuthRequest& request) {
    http::Request out;
    out.method = "POST";
    out.url = client.token_url;
    out.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
    out.body = encode_params({{"grant_type", "authorization_code"},
                              {"code", code.view()},
                              {"redirect_uri", client.redirect_uri},
                              {"client_id", client.channel_id},
                              {"client_secret", channel_secret.view()},
                              {"code_verifier", request.code_verifier.view()}});
    return out;
}

Result<TokenAnswer> parse_token_answer(const http::Response& response) {
    if (response.status == 0) {
        return Error(Errc::Unavailable, "no answer from the LINE token endpoint: " +
                                            (response.timed_out ? "timed out" : response.error));
    }
    if (response.body.size() > kMaxTokenAnswer) {
        return Error(Errc::Unavailable, "the LINE token endpoint's answer (HTTP " +
                                            std::to_string(response.status) + ") is too large");
    }
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    JsonWipe wipe_body(body);  // it holds the access and refresh tokens too
    if (response.status != 200) {
        return refused(response, body);
    }
    if (!body.is_object()) {
        return Error(Errc::Unavailable, "the LINE token endpoint answered HTTP 200 without JSON");
    }
    auto it = body.find("id_token");
    if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        return Error(Errc::Unavailable,
                     "the LINE token endpoint answered HTTP 200 without an ID token "
                     "(is openid in the channel's scopes?)");
    }
    return TokenAnswer{SecretString(it->get_ref<const std::string&>())};
}

}  // namespace lwauth::line
