// The smtp channel's message builder and the classification of SMTP transactions.
#include "channels/smtp.hpp"

#include <gtest/gtest.h>

#include "lwauth/error.hpp"
#include "lwauth/text.hpp"
#include "sent.hpp"

namespace lwauth {
namespace {

// 2026-11-25 18:50:10 UTC, a Wednesday.
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1795632610));

std::string email(std::string_view subject = "Your verification code",
                  std::string_view text = "lwauth: your code is 123456") {
    return build_email("LWAuth <noreply@example.com>", "alice@example.com", subject, text, kNow,
                       "<0123abcd@lwauth.host.example>");
}

// The header block: everything before the first empty line.
std::string headers_of(const std::string& message) {
    return message.substr(0, message.find("\r\n\r\n") + 2);
}

TEST(BuildEmail, HasEveryHeaderThenTheText) {
    EXPECT_EQ(email(),
              "Date: Wed, 25 Nov 2026 18:50:10 +0000\r\n"
              "Message-ID: <0123abcd@lwauth.host.example>\r\n"
              "From: LWAuth <noreply@example.com>\r\n"
              "To: alice@example.com\r\n"
              "Subject: Your verification code\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=UTF-8\r\n"
              "Content-Transfer-Encoding: 7bit\r\n"
              "\r\n"
              "lwauth: your code is 123456\r\n");
}

TEST(BuildEmail, EveryLineEndsWithCrlf) {
    std::string message = email("Code", "line one\nline two\r\nline three\rline four\n\n.");
    for (size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\n') {
            ASSERT_GT(i, 0u);
            EXPECT_EQ(message[i - 1], '\r') << "bare LF at " << i;
        }
        if (message[i] == '\r') {
            ASSERT_LT(i + 1, message.size());
            EXPECT_EQ(message[i + 1], '\n') << "bare CR at " << i;
        }
    }
    EXPECT_NE(message.find("\r\n\r\nline one\r\nline two\r\nline three\r\nline four\r\n\r\n.\r\n"),
              std::string::npos)
        << message;
    EXPECT_TRUE(message.ends_with("\r\n"));
}

TEST(BuildEmail, RefusesLineBreaksInHeaderValues) {
    for (const char* evil :
         {"alice@example.com\r\nBcc: eve@example.com", "alice@example.com\nBcc: eve@example.com",
          "alice@example.com\r", "alice@example.com\x7f"}) {
        std::string to(evil);
        EXPECT_THROW((void)build_email("noreply@example.com", to, "Code", "123456", kNow, "<a@b>"),
                     Error)
            << to;
        EXPECT_THROW((void)build_email("noreply@example.com", "bob@example.com", to, "123456", kNow,
                                       "<a@b>"),
                     Error);
        EXPECT_THROW((void)build_email(to, "bob@example.com", "Code", "123456", kNow, "<a@b>"),
                     Error);
    }
    std::string with_nul("alice@example.com\0Bcc", 21);
    EXPECT_THROW((void)build_email("noreply@example.com", with_nul, "Code", "1", kNow, "<a@b>"),
                 Error);
}

TEST(BuildEmail, TheErrorDoesNotQuoteTheAddress) {
    try {
        (void)build_email("noreply@example.com", "alice@example.com\r\nBcc: x", "Code", "1", kNow,
                          "<a@b>");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).find("alice"), std::string::npos) << e.what();
    }
}

TEST(BuildEmail, EncodesANonAsciiSubjectWithRfc2047) {
    std::string headers = headers_of(email("確認コード"));
    // base64("確認コード") in UTF-8
    EXPECT_NE(headers.find("Subject: =?UTF-8?B?56K66KqN44Kz44O844OJ?=\r\n"), std::string::npos)
        << headers;
    for (unsigned char c : headers) {
        EXPECT_LT(c, 0x80) << "the headers are ASCII";
    }
}

TEST(BuildEmail, SplitsALongSubjectIntoWholeCharacterWords) {
    std::string subject;
    for (int i = 0; i < 30; ++i) {
        subject += "é";  // two bytes each
    }
    std::string encoded = encode_header_text(subject);
    size_t words = 0;
    size_t at = 0;
    while (at < encoded.size()) {
        size_t end = encoded.find("\r\n ", at);
        std::string word = encoded.substr(at, end == std::string::npos ? end : end - at);
        ++words;
        EXPECT_TRUE(word.starts_with("=?UTF-8?B?") && word.ends_with("?=")) << word;
        EXPECT_LE(word.size(), 75u);
        at = end == std::string::npos ? encoded.size() : end + 3;
    }
    EXPECT_EQ(words, 2u) << encoded;
    EXPECT_NE(encoded.find("=?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=?="),
              std::string::npos)
        << encoded;
}

TEST(BuildEmail, SendsAJapaneseBodyAsBase64InLinesOf76) {
    std::string text = "lwauth: 確認コードは 123456 です。";
    for (int i = 0; i < 3; ++i) {
        text += "\nこのコードは 10 分間有効です。";
    }
    std::string message = email("確認コード", text);
    EXPECT_NE(headers_of(message).find("\r\nContent-Transfer-Encoding: base64\r\n"),
              std::string::npos)
        << message;
    for (unsigned char c : message) {
        ASSERT_LT(c, 0x80) << "7-bit on the wire:\n" << message;
    }
    std::string body = message.substr(message.find("\r\n\r\n") + 4);
    std::string joined;
    for (size_t at = 0; at < body.size();) {
        size_t end = body.find("\r\n", at);
        ASSERT_NE(end, std::string::npos) << body;
        EXPECT_LE(end - at, 76u) << body;
        joined += body.substr(at, end - at);
        at = end + 2;
    }
    std::string crlf_text = text;
    for (size_t at = 0; (at = crlf_text.find('\n', at)) != std::string::npos; at += 2) {
        crlf_text.replace(at, 1, "\r\n");
    }
    EXPECT_EQ(joined, base64_encode(crlf_text + "\r\n")) << "the text in CRLF lines, encoded";
}

TEST(EncodeMailBody, KeepsShortAsciiLinesAs7bit) {
    MailBody body = encode_mail_body("Hello,\nyour code is 123456\n");
    EXPECT_EQ(body.transfer_encoding, "7bit");
    EXPECT_EQ(body.text, "Hello,\r\nyour code is 123456\r\n");
}

TEST(EncodeMailBody, EncodesAnAsciiLineLongerThan998Octets) {
    EXPECT_EQ(encode_mail_body(std::string(998, 'a')).transfer_encoding, "7bit");
    EXPECT_EQ(encode_mail_body(std::string(999, 'a')).transfer_encoding, "base64");
    EXPECT_EQ(encode_mail_body("bell \a").transfer_encoding, "base64");
}

TEST(EncodeMailbox, EncodesAJapaneseDisplayNameAndKeepsTheAddress) {
    EXPECT_EQ(encode_mailbox("From", "確認 <noreply@example.com>"),
              "=?UTF-8?B?56K66KqN?= <noreply@example.com>");
    EXPECT_EQ(encode_mailbox("From", "\"確認 \\\"lwauth\\\"\" <noreply@example.com>"),
              "=?UTF-8?B?" + base64_encode("確認 \"lwauth\"") + "?= <noreply@example.com>")
        << "an encoded-word never stands in quotes";
    EXPECT_EQ(encode_mailbox("From", "LWAuth <noreply@example.com>"),
              "LWAuth <noreply@example.com>");
    EXPECT_EQ(encode_mailbox("To", "alice@example.com"), "alice@example.com");
}

TEST(EncodeMailbox, FoldsALongDisplayNameWithinLinesOf78) {
    std::string name;
    for (int i = 0; i < 12; ++i) {
        name += "株式会社";  // 12 bytes each
    }
    std::string header =
        "From: " + encode_mailbox("From", name + " <no-reply-verification@mail.example.com>");
    size_t lines = 0;
    for (size_t at = 0; at < header.size(); ++lines) {
        size_t end = header.find("\r\n", at);
        end = end == std::string::npos ? header.size() : end;
        EXPECT_LE(end - at, 78u) << header;
        EXPECT_TRUE(lines == 0 || header[at] == ' ') << "a continuation starts with SP";
        at = end + 2;
    }
    EXPECT_EQ(lines, 5u) << header;  // four words, then the address on its own line
    EXPECT_TRUE(header.ends_with("\r\n <no-reply-verification@mail.example.com>")) << header;
}

TEST(BuildEmail, KeepsAnAsciiSubjectAsItIs) {
    EXPECT_EQ(encode_header_text("Your code"), "Your code");
}

TEST(FillEmailBody, FillsTheKnownFieldsAndKeepsTheRest) {
    EXPECT_EQ(fill_email_body("Hello {user},\n\n{message}\n\n-- {hostname} {other} {", "CODE",
                              "alice", "web1"),
              "Hello alice,\n\nCODE\n\n-- web1 {other} {");
    EXPECT_EQ(fill_email_body("{message}{message}", "x", "u", "h"), "xx");
}

TEST(EnvelopeAddress, TakesTheAddressOutOfAMailbox) {
    EXPECT_EQ(envelope_address("LWAuth <noreply@example.com>"), "<noreply@example.com>");
    EXPECT_EQ(envelope_address("noreply@example.com"), "<noreply@example.com>");
    EXPECT_EQ(envelope_address(" noreply@example.com "), "<noreply@example.com>");
}

http::Response reply(long status, std::string error = {}) {
    http::Response r;
    r.status = status;
    r.error = std::move(error);
    return r;
}

TEST(ClassifySmtp, AnAcceptedMessageIsDelivered) {
    EXPECT_TRUE(classify_smtp("smtp mail", reply(250)).ok());
}

TEST(ClassifySmtp, FiveHundredsArePermanentWithTheirReason) {
    auto refused = classify_smtp("smtp mail", reply(550, "RCPT failed: 550"));
    EXPECT_FALSE(refused.ok());
    EXPECT_FALSE(retryable(refused));
    EXPECT_EQ(reason_of(refused), "smtp mail: the server refused the recipient mailbox (SMTP 550)");
    auto auth = classify_smtp("smtp mail", reply(535, "Login denied"));
    EXPECT_FALSE(retryable(auth));
    EXPECT_NE(reason_of(auth).find("credentials"), std::string::npos);
}

TEST(ClassifySmtp, FourHundredsAndBrokenConnectionsAreRetryable) {
    EXPECT_TRUE(retryable(classify_smtp("smtp mail", reply(451, "RCPT failed: 451"))));
    EXPECT_TRUE(retryable(classify_smtp("smtp mail", reply(0, "Couldn't connect to server"))));
    auto clear = classify_smtp("smtp mail", reply(250, "STARTTLS not supported."));
    EXPECT_FALSE(clear.ok());
    EXPECT_TRUE(retryable(clear));
    EXPECT_NE(reason_of(clear).find("STARTTLS"), std::string::npos);
    auto slow = reply(0, "Operation timed out");
    slow.timed_out = true;
    EXPECT_TRUE(retryable(classify_smtp("smtp mail", slow)));
}

TEST(ClassifySmtp, NoReplyAfterTheWholeMessageCountsAsDelivered) {
    auto stalled = reply(354, "server response timeout");
    stalled.timed_out = true;
    stalled.mail_data_sent = true;
    EXPECT_TRUE(classify_smtp("smtp mail", stalled).ok());
    auto broken = reply(354, "Connection reset by peer");
    broken.mail_data_sent = true;
    EXPECT_TRUE(classify_smtp("smtp mail", broken).ok());
}

TEST(ClassifySmtp, ARefusalOfTheMessageAfterItsEndStillFails) {
    auto refused = reply(554, "DATA failed: 554");
    refused.mail_data_sent = true;
    EXPECT_FALSE(classify_smtp("smtp mail", refused).ok());
    auto deferred = reply(451, "DATA failed: 451");
    deferred.mail_data_sent = true;
    EXPECT_FALSE(classify_smtp("smtp mail", deferred).ok());
    EXPECT_TRUE(retryable(classify_smtp("smtp mail", deferred)));
}

TEST(SmtpUrlWithEhlo, SetsThePathLibcurlSaysEhloWith) {
    EXPECT_EQ(smtp_url_with_ehlo("smtp://mail.example.com:587", "host.example.org"),
              "smtp://mail.example.com:587/host.example.org");
    EXPECT_EQ(smtp_url_with_ehlo("smtps://mail.example.com/old.name", "h.example.org"),
              "smtps://mail.example.com/h.example.org");
    EXPECT_EQ(smtp_url_with_ehlo("smtp://[2001:db8::1]:25", "[192.0.2.1]"),
              "smtp://[2001:db8::1]:25/%5B192.0.2.1%5D");
}

TEST(SmtpLimits, EachStageFromTheReplyTimeout) {
    SmtpLimits limits = smtp_limits(std::chrono::seconds(10));
    EXPECT_EQ(limits.connect, std::chrono::seconds(15));
    EXPECT_EQ(limits.reply, std::chrono::seconds(10));
    EXPECT_EQ(limits.stall, std::chrono::seconds(10));
    EXPECT_EQ(limits.transaction, std::chrono::seconds(20));
    EXPECT_LT(limits.transaction, std::chrono::seconds(29)) << "pam_lwauth's default, less 1 s";
}

TEST(SmtpUrl, APathNamesTheEhloName) {
    EXPECT_TRUE(smtp_url_names_ehlo("smtp://mail.example.com:587/client.example.com"));
    EXPECT_FALSE(smtp_url_names_ehlo("smtp://mail.example.com:587"));
    EXPECT_FALSE(smtp_url_names_ehlo("smtp://mail.example.com/"));
    EXPECT_FALSE(smtp_url_names_ehlo("smtps://mail.example.com/?x"));
}

TEST(SmtpLimits, HalfSecondsOfTheConnectLimitAreKept) {
    EXPECT_EQ(smtp_limits(std::chrono::seconds(1)).connect, std::chrono::milliseconds(1500));
    EXPECT_EQ(smtp_limits(std::chrono::seconds(5)).connect, std::chrono::milliseconds(7500));
}

}  // namespace
}  // namespace lwauth
