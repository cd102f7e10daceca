// LINE Login's requests: PKCE S256 against RFC 7636 Appendix B, state and nonce, the
// authorization URL, the token request's form body, and every kind of token endpoint
// answer (LINE Login v2.1 API reference, "Issue access token"; RFC 6749 section 5.2).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "fakes.hpp"
#include "line/oidc.hpp"
#include "line/pkce.hpp"

namespace lwauth::line {
namespace {

// RFC 7636 Appendix B: the 32 octets, the verifier they make, and its S256 challenge.
const std::vector<uint8_t> kAppendixBOctets = {
    116, 24,  223, 180, 151, 153, 224, 37,  79, 250, 96, 125, 216, 173, 187, 186,
    22,  212, 37,  77,  105, 214, 191, 240, 91, 88,  5,  88,  83,  132, 141, 121};
constexpr const char* kAppendixBVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kAppendixBChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

bool is_unreserved(const std::string& text) {
    return text.find_first_not_of(
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789-._~") == std::string::npos;
}

TEST(LinePkce, S256MatchesRfc7636AppendixB) {
    EXPECT_EQ(s256_challenge(kAppendixBVerifier), kAppendixBChallenge);
}

TEST(LinePkce, VerifierIsAppendixBFromItsOctets) {
    // state and nonce are drawn first, then the verifier's 32 octets.
    std::vector<uint8_t> script(2 * kRandomBytes, 0x55);
    script.insert(script.end(), kAppendixBOctets.begin(), kAppendixBOctets.end());
    test::ScriptedRandom random(script);
    AuthRequest request = new_auth_request(random);
    EXPECT_EQ(request.code_verifier.view(), kAppendixBVerifier);
    EXPECT_EQ(request.code_challenge, kAppendixBChallenge);
}

TEST(LinePkce, DrawsFreshUnguessableValues) {
    OpenSslRandom random;
    std::set<std::string> seen;
    for (int i = 0; i < 20; ++i) {
        AuthRequest request = new_auth_request(random);
        std::string verifier(request.code_verifier.view());
        // RFC 7636 section 4.1: 43 to 128 unreserved characters; 256 bits each here.
        EXPECT_GE(verifier.size(), 43U);
        EXPECT_LE(verifier.size(), 128U);
        EXPECT_EQ(request.state.size(), 43U);
        EXPECT_EQ(request.nonce.size(), 43U);
        for (const std::string& value : {verifier, request.state, request.nonce}) {
            EXPECT_TRUE(is_unreserved(value)) << value;
            EXPECT_TRUE(seen.insert(value).second) << "drawn twice: " << value;
        }
        EXPECT_EQ(request.code_challenge, s256_challenge(verifier));
    }
}

TEST(LinePkce, ThrowsWhenTheRandomSourceFails) {
    struct Failing final : RandomSource {
        void fill(uint8_t*, size_t) override { throw Error(Errc::Internal, "no randomness"); }
    } failing;
    EXPECT_THROW((void)new_auth_request(failing), Error);
}

ClientConfig client() {
    ClientConfig config;
    config.channel_id = "1234567890";
    config.redirect_uri = "https://login.example.com/line/callback?host=a b&x=ü#frag";
    return config;
}

AuthRequest fixed_request() {
    AuthRequest request;
    request.state = "state-1";
    request.nonce = "nonce~2";
    request.code_verifier = SecretString(kAppendixBVerifier);
    request.code_challenge = kAppendixBChallenge;
    return request;
}

TEST(LineAuthorizeUrl, CarriesEveryParameterPercentEncoded) {
    EXPECT_EQ(authorize_url(client(), fixed_request()),
              "https://access.line.me/oauth2/v2.1/authorize?response_type=code"
              "&client_id=1234567890"
              "&redirect_uri=https%3A%2F%2Flogin.example.com%2Fline%2Fcallback%3Fhost%3Da%20b"
              "%26x%3D%C3%BC%23frag"
              "&state=state-1&scope=openid&nonce=nonce~2"
              "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
              "&code_challenge_method=S256");
}

TEST(LineAuthorizeUrl, AddsMaxAgeAndUiLocalesWhenSet) {
    ClientConfig config = client();
    config.authorize_url = "http://127.0.0.1:9999/authorize?tenant=1";
    config.max_age = std::chrono::seconds(120);
    config.ui_locales = "ja en-US";
    std::string url = authorize_url(config, fixed_request());
    EXPECT_EQ(url.rfind("http://127.0.0.1:9999/authorize?tenant=1&response_type=code&", 0), 0U)
        << url;
    EXPECT_NE(url.find("&code_challenge_method=S256&max_age=120&ui_locales=ja%20en-US"),
              std::string::npos)
        << url;
}

TEST(LineTokenRequest, IsTheDocumentedFormPost) {
    ClientConfig config = client();
    config.token_url = "https://api.line.me/oauth2/v2.1/token";
    http::Request request =
        token_request(config, SecretString("s3cr&t=+"), SecretString("c/o de"), fixed_request());
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.url, "https://api.line.me/oauth2/v2.1/token");
    EXPECT_EQ(request.protocols, "https");
    EXPECT_NE(std::find(request.headers.begin(), request.headers.end(),
                        "Content-Type: application/x-www-form-urlencoded"),
              request.headers.end());
    EXPECT_EQ(request.body,
              "grant_type=authorization_code&code=c%2Fo%20de"
              "&redirect_uri=https%3A%2F%2Flogin.example.com%2Fline%2Fcallback%3Fhost%3Da%20b"
              "%26x%3D%C3%BC%23frag"
              "&client_id=1234567890&client_secret=s3cr%26t%3D%2B"
              "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

http::Response answer(long status, std::string body) {
    http::Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

constexpr const char* kIdToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJVMTIzIn0.c2lnbmF0dXJl";

// Whatever went wrong, the text never quotes the answer's tokens or its free text.
void expect_refused(const Result<TokenAnswer>& result, Errc code, const std::string& says) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), code) << result.error().what();
    std::string text = result.error().what();
    EXPECT_NE(text.find(says), std::string::npos) << text;
    for (const char* secret : {kIdToken, "AT-secret", "RT-secret", "code c0de"}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
}

TEST(LineTokenAnswer, KeepsOnlyTheIdToken) {
    Result<TokenAnswer> result = parse_token_answer(answer(
        200, std::string(R"({"access_token":"AT-secret","expires_in":2592000,"id_token":")") +
                 kIdToken + R"(","refresh_token":"RT-secret","scope":"openid",)" +
                 R"("token_type":"Bearer"})"));
    ASSERT_TRUE(result.ok()) << result.error().what();
    EXPECT_EQ(result->id_token.view(), kIdToken);
}

TEST(LineTokenAnswer, InvalidGrantIsDenied) {
    expect_refused(
        parse_token_answer(
            answer(400, R"({"error":"invalid_grant","error_description":"invalid code c0de"})")),
        Errc::AccessDenied, "HTTP 400 (invalid_grant)");
}

TEST(LineTokenAnswer, InvalidClientPointsAtTheChannelSettings) {
    expect_refused(parse_token_answer(answer(
                       401, R"({"error":"invalid_client","error_description":"code c0de"})")),
                   Errc::Unavailable, "HTTP 401 (invalid_client): check [line] channel_id");
}

TEST(LineTokenAnswer, ServerErrorsAndGarbageAreUnavailable) {
    expect_refused(parse_token_answer(answer(500, "<html>Internal Server Error</html>")),
                   Errc::Unavailable, "HTTP 500");
    expect_refused(parse_token_answer(answer(503, R"({"error":"server_error"})")),
                   Errc::Unavailable, "HTTP 503 (server_error)");
    expect_refused(parse_token_answer(answer(429, "")), Errc::Unavailable, "HTTP 429");
    expect_refused(parse_token_answer(answer(200, "id_token=AT-secret")), Errc::Unavailable,
                   "HTTP 200 without JSON");
    expect_refused(parse_token_answer(answer(200, R"(["AT-secret"])")), Errc::Unavailable,
                   "HTTP 200 without JSON");
    // An error code that is no OAuth error code is not written out.
    expect_refused(parse_token_answer(answer(400, R"({"error":"code c0de\nforged log line"})")),
                   Errc::Unavailable, "HTTP 400 (?)");
}

TEST(LineTokenAnswer, MissingIdTokenIsUnavailable) {
    expect_refused(parse_token_answer(answer(200, R"({"access_token":"AT-secret"})")),
                   Errc::Unavailable, "without an ID token");
    expect_refused(parse_token_answer(answer(200, R"({"id_token":42})")), Errc::Unavailable,
                   "without an ID token");
    expect_refused(parse_token_answer(answer(200, R"({"id_token":""})")), Errc::Unavailable,
                   "without an ID token");
}

TEST(LineTokenAnswer, OversizedAnswerIsRefusedUnread) {
    std::string body = std::string(R"({"id_token":")") + kIdToken + R"(","pad":")" +
                       std::string(kMaxTokenAnswer, 'x') + "\"}";
    expect_refused(parse_token_answer(answer(200, body)), Errc::Unavailable, "too large");
}

TEST(LineTokenAnswer, NoAnswerSaysWhy) {
    http::Response timed_out;
    timed_out.timed_out = true;
    timed_out.error = "Operation timed out after 10000 milliseconds";
    expect_refused(parse_token_answer(timed_out), Errc::Unavailable, "timed out");
    http::Response refused;
    refused.error = "Failed to connect to 127.0.0.1 port 9: Connection refused";
    expect_refused(parse_token_answer(refused), Errc::Unavailable, "Connection refused");
}

}  // namespace
}  // namespace lwauth::line
