// The Vonage and LINE push channels: request bodies and answer classification.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "channels/line_push.hpp"
#include "channels/vonage.hpp"
#include "clock.hpp"

namespace lwauth {
namespace {

http::Response answer(long status, const std::string& body) {
    http::Response r;
    r.status = status;
    r.body = body;
    return r;
}

std::string vonage_status(int status, const std::string& text) {
    return R"({"message-count": "1", "messages": [{"status": ")" + std::to_string(status) +
           R"(", "error-text": ")" + text + R"("}]})";
}

TEST(VonageForm, DropsThePlusAndEscapesEveryField) {
    EXPECT_EQ(vonage_form("abcd1234", "s&cret", "lwauth", "+819012345678", "code 123456. Bye"),
              "api_key=abcd1234&api_secret=s%26cret&from=lwauth&to=819012345678"
              "&text=code%20123456.%20Bye");
}

TEST(VonageSender, ANumberLosesItsPlusOrZeroZeroAndANameStays) {
    EXPECT_EQ(vonage_sender("+15005550006"), "15005550006");
    EXPECT_EQ(vonage_sender("0015005550006"), "15005550006");
    EXPECT_EQ(vonage_sender("15005550006"), "15005550006");
    EXPECT_EQ(vonage_sender("Acme"), "Acme");
    EXPECT_EQ(vonage_sender("+Acme"), "+Acme");
    EXPECT_EQ(vonage_sender("00Acme"), "00Acme");
    EXPECT_EQ(vonage_sender("+"), "+");
    EXPECT_EQ(vonage_form("k", "s", "+15005550006", "819012345678", "x"),
              "api_key=k&api_secret=s&from=15005550006&to=819012345678&text=x");
}

TEST(ClassifyVonage, StatusZeroIsDelivered) {
    EXPECT_TRUE(classify_vonage(
                    "v", answer(200, R"({"message-count": "1", "messages": [{"to": "819012345678",)"
                                     R"( "message-id": "0A", "status": "0"}]})"))
                    .delivered);
    EXPECT_TRUE(classify_vonage("v", answer(200, R"({"message-count": "2", "messages": [)"
                                                 R"({"status": "0"}, {"status": "0"}]})"))
                    .delivered);
}

TEST(ClassifyVonage, ThrottledAndInternalErrorsAreRetryable) {
    SendResult throttled = classify_vonage("v", answer(200, vonage_status(1, "Throttled")));
    EXPECT_FALSE(throttled.delivered);
    EXPECT_TRUE(throttled.retryable);
    EXPECT_NE(throttled.reason.find("(Vonage status 1)"), std::string::npos) << throttled.reason;
    EXPECT_TRUE(classify_vonage("v", answer(200, vonage_status(5, "Internal Error"))).retryable);
}

TEST(ClassifyVonage, OtherStatusesArePermanentAndSayWhy) {
    SendResult r = classify_vonage("v", answer(200, vonage_status(4, "Bad Credentials")));
    EXPECT_FALSE(r.delivered);
    EXPECT_FALSE(r.retryable);
    EXPECT_EQ(r.reason,
              "v: invalid credentials: check api_key and api_secret_file (Vonage status 4)");
    for (int status : {2, 3, 6, 7, 8, 9, 11, 12, 14, 15, 29, 99}) {
        SendResult p = classify_vonage("v", answer(200, vonage_status(status, "Error")));
        EXPECT_FALSE(p.delivered) << status;
        EXPECT_FALSE(p.retryable) << status;
        EXPECT_NE(p.reason.find("(Vonage status " + std::to_string(status) + ")"),
                  std::string::npos)
            << p.reason;
    }
    EXPECT_NE(classify_vonage("v", answer(200, vonage_status(7, "x"))).reason.find("barred"),
              std::string::npos);
    EXPECT_NE(classify_vonage("v", answer(200, vonage_status(29, "x"))).reason.find("whitelisted"),
              std::string::npos);
}

TEST(ClassifyVonage, NeverEchoesTheErrorText) {
    SendResult r = classify_vonage(
        "v", answer(200, vonage_status(3, "Invalid to param: +819012345678 is not valid")));
    EXPECT_FALSE(r.retryable);
    EXPECT_EQ(r.reason.find("9012345678"), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find("Invalid to param"), std::string::npos) << r.reason;
}

TEST(ClassifyVonage, HttpThrottlingAndServerErrorsAreRetryable) {
    for (long status : {429L, 500L, 503L}) {
        SendResult r = classify_vonage("v", answer(status, "Internal Server Error"));
        EXPECT_FALSE(r.delivered) << status;
        EXPECT_TRUE(r.retryable) << status;
        EXPECT_NE(r.reason.find("answered HTTP " + std::to_string(status)), std::string::npos);
    }
    EXPECT_FALSE(classify_vonage("v", answer(401, "")).retryable);
    http::Response none;
    none.timed_out = true;
    SendResult r = classify_vonage("v", none);
    EXPECT_TRUE(r.retryable);
    EXPECT_NE(r.reason.find("no answer in time"), std::string::npos);
}

TEST(ClassifyVonage, AnUnreadableSuccessCountsAsDeliveredSoNoSecondMessageGoesOut) {
    EXPECT_TRUE(classify_vonage("v", answer(200, "<html>ok</html>")).delivered);
    EXPECT_TRUE(classify_vonage("v", answer(200, R"({"message-count": "0"})")).delivered);
}

TEST(LinePushBody, IsOneTextMessageToTheDestination) {
    auto body = nlohmann::json::parse(
        line_push_body("U0123456789abcdef0123456789abcdef", "code \"123456\"\n\u00e9"));
    EXPECT_EQ(body["to"], "U0123456789abcdef0123456789abcdef");
    ASSERT_EQ(body["messages"].size(), 1u);
    EXPECT_EQ(body["messages"][0]["type"], "text");
    EXPECT_EQ(body["messages"][0]["text"], "code \"123456\"\n\u00e9");
}

class CountingRandom final : public RandomSource {
  public:
    void fill(uint8_t* buf, size_t len) override {
        for (size_t i = 0; i < len; ++i) {
            buf[i] = next_++;
        }
    }

  private:
    uint8_t next_ = 0xf0;
};

TEST(LineRetryKey, IsAVersion4Uuid) {
    CountingRandom random;
    std::string a = line_retry_key(random);
    std::string b = line_retry_key(random);
    EXPECT_EQ(a, "f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff");
    EXPECT_NE(a, b);
    OpenSslRandom real;
    std::string c = line_retry_key(real);
    ASSERT_EQ(c.size(), 36u);
    EXPECT_EQ(c[14], '4');
    EXPECT_NE(c, line_retry_key(real));
}

TEST(ClassifyLine, TwoHundredIsDelivered) {
    EXPECT_TRUE(
        classify_line("l", answer(200, R"({"sentMessages": [{"id": "1", "quoteToken": "q"}]})"))
            .delivered);
    EXPECT_TRUE(classify_line("l", answer(200, "{}")).delivered);
    EXPECT_TRUE(classify_line("l", answer(200, "not json")).delivered) << "never sent twice";
}

TEST(ClassifyLine, AnAcceptedRetryKeyIsDelivered) {
    EXPECT_TRUE(classify_line("l", answer(409, R"({"message": "The retry key is already )"
                                               R"(accepted", "sentMessages": []})"))
                    .delivered);
}

TEST(ClassifyLine, RateLimitsAndServerErrorsAreRetryable) {
    SendResult r = classify_line(
        "l",
        answer(429, R"({"message": "The API rate limit has been exceeded. Try again later."})"));
    EXPECT_FALSE(r.delivered);
    EXPECT_TRUE(r.retryable);
    EXPECT_NE(r.reason.find("rate limited"), std::string::npos);
    EXPECT_TRUE(
        classify_line("l", answer(500, R"({"message": "Internal server error"})")).retryable);
    EXPECT_TRUE(classify_line("l", answer(503, "<html></html>")).retryable);
}

TEST(ClassifyLine, TheMonthlyLimitIsPermanent) {
    SendResult r =
        classify_line("l", answer(429, R"({"message": "You have reached your monthly limit."})"));
    EXPECT_FALSE(r.retryable);
    EXPECT_NE(r.reason.find("monthly message limit"), std::string::npos);
}

TEST(ClassifyLine, RefusalsArePermanentAndSayWhy) {
    SendResult bad_token = classify_line(
        "l", answer(401, R"({"message": "Authentication failed. Confirm that the access token )"
                         R"(in the authorization header is valid."})"));
    EXPECT_FALSE(bad_token.retryable);
    EXPECT_EQ(bad_token.reason,
              "l: invalid channel access token: check channel_access_token_file (HTTP 401)");
    SendResult forbidden = classify_line("l", answer(403, R"({"message": "Access denied"})"));
    EXPECT_FALSE(forbidden.retryable);
    EXPECT_NE(forbidden.reason.find("not allowed"), std::string::npos);
    SendResult unknown =
        classify_line("l", answer(400, R"({"message": "Failed to send messages"})"));
    EXPECT_FALSE(unknown.retryable);
    EXPECT_EQ(unknown.reason,
              "l: LINE has no such user for this channel's provider: check the user's LINE user "
              "ID in user_map_file (HTTP 400)");
    SendResult refused = classify_line(
        "l", answer(400, R"x({"message": "The property, 'to', in the request body is )x"
                         R"x(invalid (line: -, column: -)"})x"));
    EXPECT_FALSE(refused.retryable);
    EXPECT_NE(refused.reason.find("not a LINE user ID"), std::string::npos) << refused.reason;
    EXPECT_FALSE(classify_line("l", answer(404, "")).retryable);
}

TEST(ClassifyLine, NeverEchoesLinesMessage) {
    SendResult r = classify_line(
        "l", answer(400, R"x({"message": "The request body has 1 error(s)", "details": [)x"
                         R"x({"message": "Invalid to U0123456789abcdef0123456789abcdef", )x"
                         R"x("property": "to"}]})x"));
    EXPECT_EQ(r.reason.find("U0123456789abcdef"), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find("request body has"), std::string::npos) << r.reason;
}

}  // namespace
}  // namespace lwauth
