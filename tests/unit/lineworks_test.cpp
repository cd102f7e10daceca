// LINE WORKS: token answers and bot message answers.
#include "channels/lineworks.hpp"

#include <gtest/gtest.h>

#include "sent.hpp"

namespace lwauth {
namespace {

http::Response answer(long status, std::string body) {
    http::Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

const char kToken[] = "kr1AAAsecret-token";

TEST(LineWorksToken, ReadsExpiresInAsAString) {
    auto t = parse_lineworks_token(
        "lw", answer(200, R"({"access_token": "kr1AAAsecret-token", "refresh_token": "r",
                              "scope": "bot", "token_type": "Bearer", "expires_in": "86400"})"));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->access_token.view(), kToken);
    EXPECT_EQ(t->expires_in, std::chrono::seconds(86400));
}

TEST(LineWorksToken, ReadsExpiresInAsANumber) {
    auto t = parse_lineworks_token(
        "lw", answer(200, R"({"access_token": "kr1AAAsecret-token", "expires_in": 3600})"));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->expires_in, std::chrono::seconds(3600));
}

TEST(LineWorksToken, AMissingOrUnreadableLifetimeMeansAnHour) {
    for (const char* body : {R"({"access_token": "kr1AAAsecret-token"})",
                             R"({"access_token": "kr1AAAsecret-token", "expires_in": "soon"})",
                             R"({"access_token": "kr1AAAsecret-token", "expires_in": "-5"})"}) {
        auto t = parse_lineworks_token("lw", answer(200, body));
        ASSERT_TRUE(t.ok()) << body;
        EXPECT_EQ(t->expires_in, std::chrono::seconds(3600)) << body;
    }
}

TEST(LineWorksToken, AnOAuthErrorGivesItsCodeAndAHint) {
    auto t = parse_lineworks_token(
        "lineworks lw",
        answer(400, R"({"error": "invalid_grant", "error_description": "secret details"})"));
    EXPECT_FALSE(t.ok());
    EXPECT_FALSE(retryable(t));
    EXPECT_NE(reason_of(t).find("lineworks lw: token request answered HTTP 400 (invalid_grant)"),
              std::string::npos)
        << reason_of(t);
    EXPECT_NE(reason_of(t).find("private_key_file"), std::string::npos);
    EXPECT_EQ(reason_of(t).find("secret details"), std::string::npos);

    t = parse_lineworks_token("lw", answer(401, R"({"error": "invalid_client"})"));
    EXPECT_NE(reason_of(t).find("(invalid_client): check client_id and client_secret_file"),
              std::string::npos)
        << reason_of(t);
}

TEST(LineWorksToken, ARefusedScopeIsPermanentAndNamed) {
    auto t = parse_lineworks_token(
        "lw", answer(400, R"({"error": "invalid_scope", "error_description": "not allowed"})"),
        "bot.message user.read");
    EXPECT_FALSE(t.ok());
    EXPECT_FALSE(retryable(t));
    EXPECT_EQ(reason_of(t),
              "lw: token request answered HTTP 400 (invalid_scope): the app is not granted the "
              "scope 'bot.message user.read'; add it to the app's OAuth scopes in the Developer "
              "Console, or set scope");
}

TEST(LineWorksToken, ServerTroubleIsRetryable) {
    auto t = parse_lineworks_token("lw", answer(500, R"({"error": "server_error"})"));
    EXPECT_FALSE(t.ok());
    EXPECT_TRUE(retryable(t));
    t = parse_lineworks_token("lw", answer(429, R"({"code": "TOO_MANY_REQUESTS"})"));
    EXPECT_TRUE(retryable(t));
    EXPECT_NE(reason_of(t).find("TOO_MANY_REQUESTS"), std::string::npos);
    http::Response none;
    none.timed_out = true;
    t = parse_lineworks_token("lw", none);
    EXPECT_TRUE(retryable(t));
    EXPECT_NE(reason_of(t).find("no answer in time"), std::string::npos);
}

TEST(LineWorksToken, ASuccessWithoutATokenIsAFailure) {
    auto t = parse_lineworks_token("lw", answer(200, "<html>"));
    EXPECT_FALSE(t.ok());
    t = parse_lineworks_token("lw", answer(200, R"({"access_token": ""})"));
    EXPECT_FALSE(t.ok());
    EXPECT_NE(reason_of(t).find("without an access token"), std::string::npos);
}

TEST(LineWorksMessage, CreatedIsDelivered) {
    auto v = classify_lineworks("lw", answer(201, ""));
    EXPECT_TRUE(v.result.ok());
    EXPECT_FALSE(v.token_refused);
}

TEST(LineWorksMessage, ARefusedTokenAsksForANewOne) {
    auto v = classify_lineworks("lw", answer(401, R"({"code": "UNAUTHORIZED"})"));
    EXPECT_TRUE(v.token_refused);
    EXPECT_FALSE(v.result.ok());
    v = classify_lineworks("lw",
                           answer(403, R"({"code": "UNAUTHORIZED", "description": "expired"})"));
    EXPECT_TRUE(v.token_refused);
    EXPECT_NE(reason_of(v.result).find("refused again after a refresh"), std::string::npos);
}

TEST(LineWorksMessage, OtherRefusalsArePermanent) {
    auto v = classify_lineworks(
        "lw", answer(403, R"({"code": "FORBIDDEN", "description": "user alice@x"})"));
    EXPECT_FALSE(v.token_refused);
    EXPECT_FALSE(retryable(v.result));
    EXPECT_NE(reason_of(v.result).find("answered HTTP 403 (FORBIDDEN)"), std::string::npos);
    EXPECT_EQ(reason_of(v.result).find("alice"), std::string::npos) << "no description echoed";
    v = classify_lineworks("lw", answer(404, R"({"code": "NOT_FOUND"})"));
    EXPECT_FALSE(retryable(v.result));
    EXPECT_NE(reason_of(v.result).find("check bot_id"), std::string::npos);
    v = classify_lineworks("lw", answer(400, R"({"code": "INVALID_PARAMETER"})"));
    EXPECT_FALSE(retryable(v.result));
}

TEST(LineWorksMessage, ThrottlingAndServerErrorsAreRetryable) {
    auto v = classify_lineworks("lw", answer(429, R"({"code": "TOO_MANY_REQUESTS"})"));
    EXPECT_TRUE(retryable(v.result));
    EXPECT_NE(reason_of(v.result).find("answered HTTP 429 (TOO_MANY_REQUESTS): rate limited"),
              std::string::npos)
        << reason_of(v.result);
    v = classify_lineworks("lw", answer(500, R"({"code": "INTERNAL_SERVER_ERROR"})"));
    EXPECT_TRUE(retryable(v.result));
    v = classify_lineworks("lw", answer(502, "<html>"));
    EXPECT_TRUE(retryable(v.result));
    EXPECT_NE(reason_of(v.result).find("not LINE WORKS' JSON"), std::string::npos);
    http::Response none;
    none.error = "connection refused";
    v = classify_lineworks("lw", none);
    EXPECT_TRUE(retryable(v.result));
    EXPECT_NE(reason_of(v.result).find("connection refused"), std::string::npos);
}

TEST(LineWorksMessage, ErrorCodesAreSanitized) {
    auto v = classify_lineworks("lw", answer(403, R"({"code": "BAD\nCODE: x"})"));
    EXPECT_EQ(reason_of(v.result).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace lwauth
