// The webhook channel's signature and the HTTP answer classification shared by gateways.
#include "channels/webhook.hpp"

#include <gtest/gtest.h>

#include "sent.hpp"

namespace lwauth {
namespace {

// RFC 4231, test case 2: HMAC-SHA256 with key "Jefe".
TEST(WebhookSignature, MatchesThePublishedHmacSha256Vector) {
    EXPECT_EQ(WebhookChannel::signature_header("Jefe", "what do ya want for nothing?"),
              "X-Lwauth-Signature: "
              "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

http::Response answer(long status) {
    http::Response r;
    r.status = status;
    r.body = R"({"message": "The 'To' number +819012345678 is not a valid phone number."})";
    return r;
}

TEST(ClassifyHttp, TwoHundredsAreDelivered) {
    EXPECT_TRUE(classify_http("gw", answer(200)).ok());
    EXPECT_TRUE(classify_http("gw", answer(201)).ok());
    EXPECT_TRUE(classify_http("gw", answer(204)).ok());
}

TEST(ClassifyHttp, ThrottlingAndServerErrorsAreRetryable) {
    for (long status : {408L, 429L, 500L, 502L, 503L}) {
        Result<void> r = classify_http("gw", answer(status));
        EXPECT_FALSE(r.ok()) << status;
        EXPECT_TRUE(retryable(r)) << status;
        EXPECT_NE(reason_of(r).find("HTTP " + std::to_string(status)), std::string::npos);
    }
}

TEST(ClassifyHttp, OtherRefusalsArePermanent) {
    for (long status : {400L, 401L, 403L, 404L}) {
        Result<void> r = classify_http("gw", answer(status));
        EXPECT_FALSE(r.ok());
        EXPECT_FALSE(retryable(r)) << status;
    }
}

TEST(ClassifyHttp, NeverEchoesTheGatewaysBody) {
    Result<void> r = classify_http("gw", answer(400));
    EXPECT_EQ(reason_of(r).find("9012345678"), std::string::npos) << reason_of(r);
}

TEST(ClassifyHttp, NoAnswerIsRetryableAndSaysWhy) {
    http::Response timed_out;
    timed_out.timed_out = true;
    timed_out.error = "Operation timed out";
    Result<void> r = classify_http("gw", timed_out);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(retryable(r));
    EXPECT_NE(reason_of(r).find("no answer in time"), std::string::npos);
}

}  // namespace
}  // namespace lwauth

#include "channels/twilio.hpp"

namespace lwauth {
namespace {

http::Response twilio(long status, const std::string& body) {
    http::Response r;
    r.status = status;
    r.body = body;
    return r;
}

TEST(TwilioValidityPeriod, IsTheCodesLifetimeWithinWhatTwilioAccepts) {
    EXPECT_EQ(twilio_validity_period(std::chrono::seconds(300)), 300);
    EXPECT_EQ(twilio_validity_period(std::chrono::seconds(0)), 1);
    EXPECT_EQ(twilio_validity_period(std::chrono::seconds(36000)), 36000);
    EXPECT_EQ(twilio_validity_period(std::chrono::hours(11)), 36000);
}

TEST(ClassifyTwilio, CreatedIsDelivered) {
    EXPECT_TRUE(classify_twilio("t", twilio(201, R"({"sid": "SM0123", "status": "queued"})")).ok());
}

TEST(ClassifyTwilio, KnownPermanentCodesSayWhy) {
    Result<void> r = classify_twilio(
        "t",
        twilio(400, R"({"code": 21211, "message": "The 'To' number +819012345678 is not a valid )"
                    R"(phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", )"
                    R"("status": 400})"));
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(retryable(r));
    EXPECT_EQ(reason_of(r), "t: the destination is not a valid phone number (Twilio error 21211)");
    for (int code : {21408, 21610, 21612, 21614}) {
        Result<void> p = classify_twilio(
            "t", twilio(400, R"({"code": )" + std::to_string(code) + R"(, "status": 400})"));
        EXPECT_FALSE(retryable(p)) << code;
        EXPECT_NE(reason_of(p).find(std::to_string(code)), std::string::npos);
    }
}

TEST(ClassifyTwilio, ThrottlingAndServerErrorsAreRetryable) {
    EXPECT_TRUE(retryable(classify_twilio("t", twilio(429, R"({"code": 20429, "status": 429})"))));
    EXPECT_TRUE(retryable(classify_twilio("t", twilio(503, "<html>down</html>"))));
}

TEST(ClassifyTwilio, BadCredentialsArePermanent) {
    Result<void> r = classify_twilio("t", twilio(401, R"({"code": 20003, "status": 401})"));
    EXPECT_FALSE(retryable(r));
    EXPECT_NE(reason_of(r).find("authentication failed"), std::string::npos);
}

TEST(ClassifyTwilio, AnUnreadableCreatedAnswerCountsAsDeliveredSoNoSecondMessageGoesOut) {
    EXPECT_TRUE(classify_twilio("t", twilio(201, "not json")).ok());
}

}  // namespace
}  // namespace lwauth
