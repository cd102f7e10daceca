// The Vonage and LINE push channels: request bodies and answer classification.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "channels/line_push.hpp"
#include "channels/vonage.hpp"
#include "clock.hpp"
#include "sent.hpp"

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
              "&text=code%20123456.%20Bye&type=text");
}

TEST(VonageForm, SendsJapaneseAsUnicode) {
    EXPECT_EQ(vonage_form("abcd1234", "secret", "lwauth", "+819012345678", "確認 123456"),
              "api_key=abcd1234&api_secret=secret&from=lwauth&to=819012345678"
              "&text=%E7%A2%BA%E8%AA%8D%20123456&type=unicode");
}

TEST(VonageType, TextForTheGsmAlphabetAndItsExtensionUnicodeForAnythingElse) {
    EXPECT_EQ(vonage_type("lwauth: your code is 123456. It expires in 5 minutes."), "text");
    EXPECT_EQ(vonage_type("Ça fait 5 € [ÄÖÜ] {ñ} ~ ^ | \\ @£$¥ ΔΦΓΛΩΠΨΣΘΞ\r\n\f"), "text");
    EXPECT_EQ(vonage_type("lwauth: 確認コードは 123456 です"), "unicode");
    EXPECT_EQ(vonage_type("ç"), "unicode") << "only the capital Ç is GSM";
    EXPECT_EQ(vonage_type("coûte"), "unicode");
    EXPECT_EQ(vonage_type("`"), "unicode");
    EXPECT_EQ(vonage_type("code \xff\xfe"), "unicode") << "malformed UTF-8";
    EXPECT_EQ(vonage_type("\xc3"), "unicode") << "a cut sequence";
    EXPECT_EQ(vonage_type("\xc0\x80"), "unicode") << "an overlong NUL";
    EXPECT_EQ(vonage_type(""), "text");
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
              "api_key=k&api_secret=s&from=15005550006&to=819012345678&text=x&type=text");
}

TEST(ClassifyVonage, StatusZeroIsDelivered) {
    EXPECT_TRUE(classify_vonage(
                    "v", answer(200, R"({"message-count": "1", "messages": [{"to": "819012345678",)"
                                     R"( "message-id": "0A", "status": "0"}]})"))
                    .ok());
    EXPECT_TRUE(classify_vonage("v", answer(200, R"({"message-count": "2", "messages": [)"
                                                 R"({"status": "0"}, {"status": "0"}]})"))
                    .ok());
}

TEST(ClassifyVonage, ThrottledAndInternalErrorsAreRetryable) {
    Result<void> throttled = classify_vonage("v", answer(200, vonage_status(1, "Throttled")));
    EXPECT_FALSE(throttled.ok());
    EXPECT_TRUE(retryable(throttled));
    EXPECT_NE(reason_of(throttled).find("(Vonage status 1)"), std::string::npos)
        << reason_of(throttled);
    EXPECT_TRUE(retryable(classify_vonage("v", answer(200, vonage_status(5, "Internal Error")))));
}

TEST(ClassifyVonage, OtherStatusesArePermanentAndSayWhy) {
    Result<void> r = classify_vonage("v", answer(200, vonage_status(4, "Bad Credentials")));
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(retryable(r));
    EXPECT_EQ(reason_of(r),
              "v: invalid credentials: check api_key and api_secret_file (Vonage status 4)");
    for (int status : {2, 3, 6, 7, 8, 9, 11, 12, 14, 15, 29, 99}) {
        Result<void> p = classify_vonage("v", answer(200, vonage_status(status, "Error")));
        EXPECT_FALSE(p.ok()) << status;
        EXPECT_FALSE(retryable(p)) << status;
        EXPECT_NE(reason_of(p).find("(Vonage status " + std::to_string(status) + ")"),
                  std::string::npos)
            << reason_of(p);
    }
    EXPECT_NE(reason_of(classify_vonage("v", answer(200, vonage_status(7, "x")))).find("barred"),
              std::string::npos);
    EXPECT_NE(
        reason_of(classify_vonage("v", answer(200, vonage_status(29, "x")))).find("whitelisted"),
        std::string::npos);
}

TEST(ClassifyVonage, NeverEchoesTheErrorText) {
    Result<void> r = classify_vonage(
        "v", answer(200, vonage_status(3, "Invalid to param: +819012345678 is not valid")));
    EXPECT_FALSE(retryable(r));
    EXPECT_EQ(reason_of(r).find("9012345678"), std::string::npos) << reason_of(r);
    EXPECT_EQ(reason_of(r).find("Invalid to param"), std::string::npos) << reason_of(r);
}

TEST(ClassifyVonage, HttpThrottlingAndServerErrorsAreRetryable) {
    for (long status : {429L, 500L, 503L}) {
        Result<void> r = classify_vonage("v", answer(status, "Internal Server Error"));
        EXPECT_FALSE(r.ok()) << status;
        EXPECT_TRUE(retryable(r)) << status;
        EXPECT_NE(reason_of(r).find("answered HTTP " + std::to_string(status)), std::string::npos);
    }
    EXPECT_FALSE(retryable(classify_vonage("v", answer(401, ""))));
    http::Response none;
    none.timed_out = true;
    Result<void> r = classify_vonage("v", none);
    EXPECT_TRUE(retryable(r));
    EXPECT_NE(reason_of(r).find("no answer in time"), std::string::npos);
}

TEST(ClassifyVonage, AnUnreadableSuccessCountsAsDeliveredSoNoSecondMessageGoesOut) {
    EXPECT_TRUE(classify_vonage("v", answer(200, "<html>ok</html>")).ok());
    EXPECT_TRUE(classify_vonage("v", answer(200, R"({"message-count": "0"})")).ok());
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
            .ok());
    EXPECT_TRUE(classify_line("l", answer(200, "{}")).ok());
    EXPECT_TRUE(classify_line("l", answer(200, "not json")).ok()) << "never sent twice";
}

TEST(ClassifyLine, AnAcceptedRetryKeyIsDelivered) {
    EXPECT_TRUE(classify_line("l", answer(409, R"({"message": "The retry key is already )"
                                               R"(accepted", "sentMessages": []})"))
                    .ok());
}

TEST(ClassifyLine, RateLimitsAndServerErrorsAreRetryable) {
    Result<void> r = classify_line(
        "l",
        answer(429, R"({"message": "The API rate limit has been exceeded. Try again later."})"));
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(retryable(r));
    EXPECT_NE(reason_of(r).find("rate limited"), std::string::npos);
    EXPECT_TRUE(
        retryable(classify_line("l", answer(500, R"({"message": "Internal server error"})"))));
    EXPECT_TRUE(retryable(classify_line("l", answer(503, "<html></html>"))));
}

TEST(ClassifyLine, TheMonthlyLimitIsPermanent) {
    Result<void> r =
        classify_line("l", answer(429, R"({"message": "You have reached your monthly limit."})"));
    EXPECT_FALSE(retryable(r));
    EXPECT_NE(reason_of(r).find("monthly message limit"), std::string::npos);
}

TEST(ClassifyLine, RefusalsArePermanentAndSayWhy) {
    Result<void> bad_token = classify_line(
        "l", answer(401, R"({"message": "Authentication failed. Confirm that the access token )"
                         R"(in the authorization header is valid."})"));
    EXPECT_FALSE(retryable(bad_token));
    EXPECT_EQ(reason_of(bad_token),
              "l: invalid channel access token: check channel_access_token_file (HTTP 401)");
    Result<void> forbidden = classify_line("l", answer(403, R"({"message": "Access denied"})"));
    EXPECT_FALSE(retryable(forbidden));
    EXPECT_NE(reason_of(forbidden).find("not allowed"), std::string::npos);
    Result<void> unknown =
        classify_line("l", answer(400, R"({"message": "Failed to send messages"})"));
    EXPECT_FALSE(retryable(unknown));
    EXPECT_EQ(reason_of(unknown),
              "l: LINE has no such user for this channel's provider: check the user's LINE user "
              "ID in user_map_file (HTTP 400)");
    Result<void> refused = classify_line(
        "l", answer(400, R"x({"message": "The property, 'to', in the request body is )x"
                         R"x(invalid (line: -, column: -)"})x"));
    EXPECT_FALSE(retryable(refused));
    EXPECT_NE(reason_of(refused).find("not a LINE user ID"), std::string::npos)
        << reason_of(refused);
    EXPECT_FALSE(retryable(classify_line("l", answer(404, ""))));
}

TEST(ClassifyLine, NeverEchoesLinesMessage) {
    Result<void> r = classify_line(
        "l", answer(400, R"x({"message": "The request body has 1 error(s)", "details": [)x"
                         R"x({"message": "Invalid to U0123456789abcdef0123456789abcdef", )x"
                         R"x("property": "to"}]})x"));
    EXPECT_EQ(reason_of(r).find("U0123456789abcdef"), std::string::npos) << reason_of(r);
    EXPECT_EQ(reason_of(r).find("request body has"), std::string::npos) << reason_of(r);
}

}  // namespace
}  // namespace lwauth
