// Japanese text through every channel: each channel, built from its policy section as
// lwauthd builds it, sends a Japanese code message on a real sd-event loop to its
// service's fake (tests/fakes/gateways.py), to the outbox file, or to a real SMTP server
// (aiosmtpd, smtp_server.py), and the receiving side's decoding gives the text back
// unchanged. Vonage must say type=unicode for it (a phone would show question marks
// otherwise), and the mail must be 7-bit on the wire.
#include <systemd/sd-event.h>

#include <chrono>
#include <optional>

#include "channels/channel.hpp"
#include "gateway_fixture.hpp"
#include "http/http_client.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth::test {
namespace {

const std::string kJapanese = "lwauth: 確認コードは 123456 です";
const std::string kAscii = "lwauth: your code is 123456";
const std::string kLineUser = "U0123456789abcdef0123456789abcdef";

// Each line of a JSON-lines file, parsed.
std::vector<nlohmann::json> json_lines(const fs::path& path) {
    std::vector<nlohmann::json> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        out.push_back(nlohmann::json::parse(line));
    }
    return out;
}

class ChannelText : public GatewayFakeTest {
  protected:
    void SetUp() override {
        GatewayFakeTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        sd_event* event = nullptr;
        ASSERT_GE(sd_event_new(&event), 0);
        event_.reset(event);
        client_ = std::make_unique<http::Client>(event_.get());
    }

    /// The ca_file and timeout lines of a gateway channel.
    [[nodiscard]] std::string tls_lines() const { return ca_line() + "timeout = 5s\n"; }

    /// The channel of a [channel.NAME] section, loaded and built as lwauthd does.
    std::shared_ptr<Channel> channel(const std::string& section) {
        auto loaded = policy::load_texts({{"lwauth.conf", section}});
        for (const auto& error : loaded.errors) {
            ADD_FAILURE() << error.to_string();
        }
        if (!loaded.policy || loaded.policy->channels.empty()) {
            return nullptr;
        }
        return make_channel(loaded.policy->channels.front(), *client_);
    }

    /// The webhook channel, to the fake's /webhook.
    std::shared_ptr<Channel> webhook_channel() {
        return channel("[channel.hook]\ntype = webhook\nserves = sms\nurl = " + base_url() +
                       "/webhook\nhmac_secret_file = " + secret_file("webhook", "s3cret") + "\n" +
                       tls_lines());
    }

    [[nodiscard]] fs::path outbox_path() const { return dir_ / "outbox.jsonl"; }

    /// Sends `text` to alice through the channel and runs the loop until it is done.
    Result<void> send(Channel& channel, policy::Kind kind, const std::string& destination,
                      const std::string& text) {
        OutgoingMessage message{kind, destination, "alice", SecretString(text),
                                std::chrono::minutes(5)};
        std::optional<Result<void>> outcome;
        channel.send(message, [&outcome](Result<void> result) { outcome = std::move(result); });
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!outcome && std::chrono::steady_clock::now() < deadline) {
            sd_event_run(event_.get(), 100 * 1000);
        }
        if (!outcome) {
            return Error(Errc::Internal, "the send never ended");
        }
        return std::move(*outcome);
    }

    /// The last journal entry of a gateway service.
    [[nodiscard]] nlohmann::json last_request(const std::string& service) const {
        nlohmann::json last;
        for (auto& entry : json_lines(dir_ / "gateway/requests.jsonl")) {
            if (entry.value("service", "") == service) {
                last = std::move(entry);
            }
        }
        return last;
    }

    /// Sends `text` through the channel and returns the journal entry of the `service` it
    /// reached, which must have taken it.
    nlohmann::json send_to(const std::string& service, Channel& channel, policy::Kind kind,
                           const std::string& destination, const std::string& text) {
        auto sent = send(channel, kind, destination, text);
        EXPECT_TRUE(sent) << sent.error().what();
        auto entry = last_request(service);
        EXPECT_EQ(entry["delivered"], true) << entry;
        return entry;
    }

    EventPtr event_;
    std::unique_ptr<http::Client> client_;
};

TEST_F(ChannelText, VonageSendsJapaneseAsUnicodeAndThePhoneShowsIt) {
    auto vonage = channel("[channel.sms]\ntype = vonage\napi_key = abcd1234\napi_secret_file = " +
                          secret_file("vonage", "Vq7tK2pX9mWz4RbN") +
                          "\nfrom = lwauth\nbase_url = " + base_url() + "\n" + tls_lines());
    ASSERT_TRUE(vonage);
    auto entry = send_to("vonage", *vonage, policy::Kind::Sms, "+819012345678", kJapanese);
    EXPECT_EQ(entry["params"]["type"], "unicode") << entry;
    EXPECT_EQ(entry["params"]["text"], kJapanese);
    EXPECT_EQ(entry["handset_text"], kJapanese) << "what the phone shows";

    entry = send_to("vonage", *vonage, policy::Kind::Sms, "+819012345678", kAscii);
    EXPECT_EQ(entry["params"]["type"], "text") << "GSM 7-bit: 160 characters a part, not 70";
    EXPECT_EQ(entry["handset_text"], kAscii);
}

TEST_F(ChannelText, TwilioCarriesJapaneseAsUtf8) {
    auto twilio = channel(
        "[channel.sms]\ntype = twilio\naccount_sid = ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "auth_token_file = " +
        secret_file("twilio", "twilio-test-token") +
        "\nfrom = +15005550006\nbase_url = " + base_url() + "\n" + tls_lines());
    ASSERT_TRUE(twilio);
    auto entry = send_to("twilio", *twilio, policy::Kind::Sms, "+819012345678", kJapanese);
    EXPECT_EQ(entry["params"]["Body"], kJapanese) << entry;
}

TEST_F(ChannelText, LinePushCarriesJapaneseAsUtf8) {
    auto line = channel("[channel.line]\ntype = line\nchannel_access_token_file = " +
                        secret_file("line", "line-test-channel-token") +
                        "\nuser_map_file = " + secret_file("line-users", "alice " + kLineUser) +
                        "\nbase_url = " + base_url() + "\n" + tls_lines());
    ASSERT_TRUE(line);
    auto entry = send_to("line", *line, policy::Kind::Notification, "", kJapanese);
    EXPECT_EQ(entry["params"]["messages"][0]["text"], kJapanese) << entry;
}

TEST_F(ChannelText, LineWorksCarriesJapaneseAsUtf8) {
    auto lineworks = channel(
        "[channel.lineworks]\ntype = lineworks\nclient_id = lw-test-client-id\n"
        "client_secret_file = " +
        secret_file("lineworks-client-secret", "lw-test-client-secret") +
        "\nservice_account = test.serviceaccount@example\nprivate_key_file = " +
        secret_file("lineworks-key", read_file(dir_ / "pki/lineworks.key")) +
        "\nbot_id = 2000001\nbase_url = " + base_url() + "\nauth_url = " + base_url() +
        "/oauth2/v2.0/token\nuser_id = {user}@example.com\n" + tls_lines());
    ASSERT_TRUE(lineworks);
    auto entry = send_to("lineworks", *lineworks, policy::Kind::Notification, "", kJapanese);
    EXPECT_EQ(entry["params"]["content"]["text"], kJapanese) << entry;
}

TEST_F(ChannelText, WebhookCarriesJapaneseAsUtf8UnderItsSignature) {
    auto webhook = webhook_channel();
    ASSERT_TRUE(webhook);
    // Delivered: the fake checked the signature over the UTF-8 bytes.
    auto entry = send_to("webhook", *webhook, policy::Kind::Sms, "+819012345678", kJapanese);
    EXPECT_EQ(entry["params"]["text"], kJapanese) << entry;
}

TEST_F(ChannelText, TheOutboxKeepsJapaneseAsUtf8) {
    auto outbox =
        channel("[channel.outbox]\ntype = outbox\npath = " + outbox_path().string() + "\n");
    ASSERT_TRUE(outbox);
    auto sent = send(*outbox, policy::Kind::Sms, "+819012345678", kJapanese);
    ASSERT_TRUE(sent) << sent.error().what();
    std::string raw = read_file(outbox_path());
    EXPECT_NE(raw.find(kJapanese), std::string::npos) << "UTF-8 as it is, not \\u escapes: " << raw;
    auto messages = read_outbox(outbox_path());
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].text, kJapanese);
}

// A malformed translation must not keep the code from going out: a byte that is not
// UTF-8 reaches a JSON gateway, and the outbox, as U+FFFD.
TEST_F(ChannelText, MalformedUtf8ReachesJsonGatewaysAsAReplacementCharacter) {
    const std::string malformed = "lwauth: \xe7\xa2 123456";
    const std::string replaced = "lwauth: \xef\xbf\xbd 123456";
    auto webhook = webhook_channel();
    ASSERT_TRUE(webhook);
    EXPECT_EQ(send_to("webhook", *webhook, policy::Kind::Sms, "+819012345678",
                      malformed)["params"]["text"],
              replaced);

    auto outbox =
        channel("[channel.outbox]\ntype = outbox\npath = " + outbox_path().string() + "\n");
    ASSERT_TRUE(outbox);
    auto sent = send(*outbox, policy::Kind::Sms, "+819012345678", malformed);
    ASSERT_TRUE(sent) << sent.error().what();
    auto messages = read_outbox(outbox_path());
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].text, replaced);
}

class MailText : public ChannelText {
  protected:
    void SetUp() override {
        ChannelText::SetUp();
        smtp_ = Process(
            {"/usr/bin/python3", (source_dir() / "tests/integration/smtp_server.py").string(),
             "--mode", "smtps", "--cert", (dir_ / "pki/server.pem").string(), "--key",
             (dir_ / "pki/server.key").string(), "--out", (dir_ / "smtp.jsonl").string()},
            base_env(), dir_ / "smtp.log");
        int port = wait_for_listening_port(dir_ / "smtp.log");
        ASSERT_NE(port, 0) << read_file(dir_ / "smtp.log");
        mail_ =
            channel("[channel.mail]\ntype = smtp\nurl = smtps://127.0.0.1:" + std::to_string(port) +
                    "\nfrom = lwauth <noreply@example.com>\n" + tls_lines());
        ASSERT_TRUE(mail_);
    }

    /// What the SMTP server recorded of the last message it accepted.
    [[nodiscard]] nlohmann::json last_mail() const {
        auto mails = json_lines(dir_ / "smtp.jsonl");
        return mails.empty() ? nlohmann::json() : mails.back();
    }

    Process smtp_;
    std::shared_ptr<Channel> mail_;
};

// The body of a decoded message, without the line break that ends it.
std::string body_text(const nlohmann::json& mail) {
    std::string body = mail["decoded"].value("body", "");
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
        body.pop_back();
    }
    return body;
}

TEST_F(MailText, SendsJapaneseInBase64SevenBitOnTheWire) {
    auto sent = send(*mail_, policy::Kind::Email, "alice@example.com", kJapanese);
    ASSERT_TRUE(sent) << sent.error().what();
    auto mail = last_mail();
    ASSERT_FALSE(mail.is_null()) << read_file(dir_ / "smtp.log");
    EXPECT_TRUE(mail["body_param"].is_null()) << "no BODY=8BITMIME: " << mail["mail_options"];
    EXPECT_EQ(mail["seven_bit"], true) << mail["content"];
    EXPECT_LE(mail["longest_line"].get<int>(), 76) << mail["content"];
    EXPECT_EQ(mail["decoded"]["transfer_encoding"], "base64") << mail["content"];
    EXPECT_EQ(mail["decoded"]["content_type"], "text/plain");
    EXPECT_EQ(mail["decoded"]["charset"], "utf-8");
    EXPECT_EQ(mail["decoded"]["defects"], nlohmann::json::array()) << mail["decoded"];
    EXPECT_EQ(body_text(mail), kJapanese) << mail["decoded"];
}

TEST_F(MailText, KeepsAnAsciiBodyReadableIn7bit) {
    auto sent = send(*mail_, policy::Kind::Email, "alice@example.com", kAscii);
    ASSERT_TRUE(sent) << sent.error().what();
    auto mail = last_mail();
    EXPECT_EQ(mail["seven_bit"], true);
    EXPECT_EQ(mail["decoded"]["transfer_encoding"], "7bit") << mail["content"];
    EXPECT_NE(mail["content"].get<std::string>().find("\r\n\r\n" + kAscii + "\r\n"),
              std::string::npos)
        << mail["content"];
    EXPECT_EQ(body_text(mail), kAscii);
}

}  // namespace
}  // namespace lwauth::test
