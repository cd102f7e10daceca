// LINE Login v2.1's two requests from lwauthd: the authorization URL the phone's browser
// is sent to, and the token request that exchanges the callback's code for the ID token
// (OpenID Connect Core 1.0 section 3.1; LINE Login v2.1 API reference, "Issue access
// token"). Building and reading only: http::Client sends the request.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "http/http_client.hpp"
#include "line/pkce.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::line {

using policy::IdTokenAlg;

/// The LINE Login channel as the policy's [line] section describes it.
struct ClientConfig {
    std::string channel_id;    // client_id, and the ID token's `aud`
    std::string redirect_uri;  // the callback URL registered on the LINE Developers console
    std::string authorize_url = "https://access.line.me/oauth2/v2.1/authorize";
    std::string token_url = "https://api.line.me/oauth2/v2.1/token";
    std::string issuer = "https://access.line.me";
    IdTokenAlg id_token_alg = IdTokenAlg::Hs256;
    std::optional<std::chrono::seconds> max_age;  // sent, and auth_time checked, when set
    std::string ui_locales;                       // sent when not empty
};

/// The largest token endpoint answer read; an ID token with `scope=openid` is well
/// under 2 KiB, the access and refresh tokens beside it smaller still.
inline constexpr size_t kMaxTokenAnswer = 64 * 1024;

/// `authorize_url` with response_type=code, client_id, redirect_uri, state,
/// scope=openid (nothing else: no profile, no email is ever released), nonce,
/// code_challenge, code_challenge_method=S256, and max_age and ui_locales when set; every
/// value percent-encoded. An authorize_url holding a query already gets "&" before them.
[[nodiscard]] std::string authorize_url(const ClientConfig& client, const AuthRequest& request);

/// The token request: POST to `token_url`, application/x-www-form-urlencoded,
/// grant_type=authorization_code, code, redirect_uri, client_id, client_secret and
/// code_verifier. Its body holds the code, the secret and the verifier: the caller sends
/// it and drops it, and never logs it.
[[nodiscard]] http::Request token_request(const ClientConfig& client,
                                          const SecretString& channel_secret,
                                          const SecretString& code, const AuthRequest& request);

/// What lwauthd keeps of the token endpoint's answer: the ID token alone (the access and
/// refresh tokens are never read).
struct TokenAnswer {
    SecretString id_token;
};

/// Reads the token endpoint's answer. A 200 with a JSON object holding a string
/// `id_token` is the answer. Otherwise:
/// - AccessDenied: LINE refused the code (`invalid_grant`: expired, used, another
///   redirect_uri or code_verifier) or the user (`access_denied`);
/// - Unavailable: no answer, 5xx or 429, another OAuth error (`invalid_client`: the
///   channel ID or secret is wrong), an answer too large, not JSON, or without
///   `id_token`.
/// The text names the HTTP status and the OAuth `error` code, never a token, a secret or
/// the answer's body (whose `error_description` is not quoted either: it is the server's
/// free text).
[[nodiscard]] Result<TokenAnswer> parse_token_answer(const http::Response& response);

}  // namespace lwauth::line
