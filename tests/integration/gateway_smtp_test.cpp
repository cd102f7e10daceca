// Email through a real SMTP server (aiosmtpd, tests/integration/smtp_server.py) with the
// test PKI: STARTTLS, implicit TLS, AUTH, and the refusals that must fall back to the
// outbox without sending anything in clear.
#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

class SmtpTest : public GatewayTest {
  protected:
    // Starts the SMTP server as the fixture asks for the policy, before lwauthd starts.
    std::string gateway_channels() override {
        if (mode_ == "down") {
            return channel_section("smtp://127.0.0.1:1");
        }
        std::vector<std::string> argv = {
            "/usr/bin/python3",
            (source_dir() / "tests/integration/smtp_server.py").string(),
            "--mode",
            mode_,
            "--cert",
            (dir_ / "pki" / (cert_ + ".pem")).string(),
            "--key",
            (dir_ / "pki" / (cert_ + ".key")).string(),
            "--out",
            (dir_ / "smtp.jsonl").string(),
            "--auth",
            "lwauth:smtp-test-password"};
        if (refuse_rcpt_) {
            argv.emplace_back("--refuse-rcpt");
        }
        argv.insert(argv.end(), faults_.begin(), faults_.end());
        smtp_ = Process(argv, base_env(), dir_ / "smtp.log");
        int port = 0;
        port = wait_for_listening_port(dir_ / "smtp.log");
        EXPECT_NE(port, 0) << read_file(dir_ / "smtp.log");
        std::string scheme = mode_ == "smtps" ? "smtps" : "smtp";
        return channel_section(scheme + "://127.0.0.1:" + std::to_string(port));
    }

    std::string channel_section(const std::string& url) {
        return "[channel.mail]\ntype = smtp\nurl = " + url +
               "\nusername = lwauth\npassword_file = " + secret_file("smtp", password_) +
               "\nfrom = " + from_ + "\n" + subject_line_ + body_line_ + ehlo_line_ + ca_line() +
               "timeout = 2s\n";
    }

    /// The messages the server accepted, oldest first.
    [[nodiscard]] std::vector<nlohmann::json> received() const {
        std::vector<nlohmann::json> out;
        std::ifstream in(dir_ / "smtp.jsonl");
        std::string line;
        while (std::getline(in, line)) {
            out.push_back(nlohmann::json::parse(line));
        }
        return out;
    }

    [[nodiscard]] int add_alice() {
        return daemon_->ctl("alice", {"contact", "add", "email", "alice@example.com"}).exit_code;
    }

    std::string mode_ = "starttls";
    std::string from_ = "LWAuth <noreply@example.com>";
    std::string cert_ = "server";
    std::string subject_line_;
    std::string body_line_;
    std::string password_ = "smtp-test-password";  // what lwauthd sends
    std::string ehlo_line_;
    bool refuse_rcpt_ = false;
    std::vector<std::string> faults_;  // smtp_server.py's --greet-delay, --stall...
    Process smtp_;
};

// Every line break of a message is CRLF.
void expect_crlf_only(const std::string& message) {
    for (size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\n') {
            ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i << ":\n" << message;
        } else if (message[i] == '\r') {
            ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
        }
    }
}

class SmtpStarttls : public SmtpTest {};

TEST_F(SmtpStarttls, DeliversAWellFormedMessageWhoseCodeConfirms) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto mail = received();
    ASSERT_EQ(mail.size(), 1u) << read_file(dir_ / "smtp.log") << daemon_->log();
    EXPECT_EQ(mail[0]["mail_from"], "noreply@example.com");
    EXPECT_EQ(mail[0]["rcpt_tos"], nlohmann::json::array({"alice@example.com"}));
    EXPECT_EQ(mail[0]["tls"], true) << "upgraded with STARTTLS";
    EXPECT_EQ(mail[0]["login"], "lwauth") << "authenticated";
    EXPECT_EQ(mail[0]["seven_bit"], true);
    EXPECT_EQ(mail[0]["decoded"]["from_name"], "LWAuth");
    std::string message = mail[0]["content"];
    expect_crlf_only(message);
    auto end = message.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << message;
    std::string headers = "\r\n" + message.substr(0, end + 2);
    for (const char* header :
         {"\r\nDate: ", "\r\nMessage-ID: <", "\r\nFrom: LWAuth <noreply@example.com>\r\n",
          "\r\nTo: alice@example.com\r\n", "\r\nSubject: Your verification code\r\n",
          "\r\nMIME-Version: 1.0\r\n", "\r\nContent-Type: text/plain; charset=UTF-8\r\n",
          "\r\nContent-Transfer-Encoding: 7bit\r\n"}) {
        EXPECT_NE(headers.find(header), std::string::npos) << header << " in\n" << headers;
    }
    EXPECT_NE(headers.find("@lwauth."), std::string::npos) << headers;
    EXPECT_NE(headers.find(" +0000\r\n"), std::string::npos) << "a UTC date";
    std::string code = code_in(message.substr(end + 4));
    ASSERT_FALSE(code.empty()) << message;
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "email", code}).exit_code, 0)
        << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

class SmtpImplicitTls : public SmtpTest {
  protected:
    SmtpImplicitTls() {
        mode_ = "smtps";
        subject_line_ = "subject = 確認コード\n";
    }
};

TEST_F(SmtpImplicitTls, DeliversOverSmtpsWithAnEncodedSubject) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto mail = received();
    ASSERT_EQ(mail.size(), 1u) << read_file(dir_ / "smtp.log") << daemon_->log();
    EXPECT_EQ(mail[0]["tls"], true);
    std::string message = mail[0]["content"];
    EXPECT_NE(message.find("\r\nSubject: =?UTF-8?B?56K66KqN44Kz44O844OJ?=\r\n"), std::string::npos)
        << message;
    EXPECT_FALSE(code_in(message.substr(message.find("\r\n\r\n"))).empty());
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

class SmtpWithABodyTemplate : public SmtpTest {
  protected:
    SmtpWithABodyTemplate() {
        write_file(dir_ / "mail-body.txt",
                   "Hello {user},\n\n{message}\n\nSent by lwauth on {hostname}.\n");
        body_line_ = "body_file = " + (dir_ / "mail-body.txt").string() + "\n";
    }
};

TEST_F(SmtpWithABodyTemplate, FillsTheTemplate) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto messages = received();
    ASSERT_EQ(messages.size(), 1u) << daemon_->log();
    std::string message = messages[0]["content"];
    size_t body = message.find("\r\n\r\n");
    ASSERT_NE(body, std::string::npos);
    std::string text = message.substr(body + 4);
    EXPECT_EQ(text.rfind("Hello alice,\r\n\r\nlwauth: your confirmation code is ", 0), 0u) << text;
    EXPECT_NE(text.find("\r\n\r\nSent by lwauth on "), std::string::npos) << text;
    EXPECT_EQ(text.find("{hostname}"), std::string::npos) << text;
    EXPECT_FALSE(code_in(text).empty());
}

// A Japanese sender name, subject and body template, long enough to fold: the message
// crosses the wire in 7 bits (libcurl never asks for 8BITMIME), in lines of at most 78
// characters, and a mail reader decodes every part of it back.
class SmtpInJapanese : public SmtpTest {
  protected:
    SmtpInJapanese() {
        subject_line_ = "subject = " + kSubject + "\n";
        from_ = kSender + " <noreply@example.com>";
        write_file(dir_ / "mail-body.txt", kGreeting + "\n\n{message}\n\n" + kClosing + "\n");
        body_line_ = "body_file = " + (dir_ / "mail-body.txt").string() + "\n";
    }
    const std::string kSubject =
        "【lwauth】ログインの確認コードをお送りします（このメールには返信しないでください）";
    const std::string kSender = "株式会社エルダブリュー認証 情報システム部 ログイン確認サービス";
    const std::string kGreeting = "{user} 様";
    const std::string kClosing = "このメールに心当たりがない場合は、管理者に連絡してください。";
};

TEST_F(SmtpInJapanese, CrossesTheWireIn7BitsAndDecodesBack) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto mail = received();
    ASSERT_EQ(mail.size(), 1u) << read_file(dir_ / "smtp.log") << daemon_->log();
    std::string message = mail[0]["content"];
    EXPECT_EQ(mail[0]["seven_bit"], true) << message;
    EXPECT_TRUE(mail[0]["body_param"].is_null()) << "no BODY=8BITMIME: " << mail[0]["mail_options"];
    EXPECT_LE(mail[0]["longest_line"].get<int>(), 78) << message;
    expect_crlf_only(message);
    const auto& decoded = mail[0]["decoded"];
    EXPECT_EQ(decoded["defects"], nlohmann::json::array()) << decoded;
    EXPECT_EQ(decoded["subject"], kSubject) << message;
    EXPECT_EQ(decoded["from_name"], kSender) << message;
    EXPECT_EQ(decoded["from_address"], "noreply@example.com");
    EXPECT_EQ(decoded["transfer_encoding"], "base64");
    EXPECT_EQ(decoded["charset"], "utf-8");
    std::string body = decoded.value("body", "");
    EXPECT_EQ(body.rfind("alice 様\r\n\r\nlwauth: ", 0), 0u) << body;
    EXPECT_NE(body.find("\r\n\r\n" + kClosing + "\r\n"), std::string::npos) << body;
    std::string code = code_in(body);
    ASSERT_FALSE(code.empty()) << body;
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "email", code}).exit_code, 0)
        << daemon_->log();
}

// A user whose [policy] language is ja: lwauthd words the confirmation code message from
// its Japanese catalog, the message crosses the wire in 7 bits, and a mail reader decodes
// it back to exactly that text, whose code confirms the address.
class SmtpToAJapaneseUser : public SmtpTest {
  protected:
    [[nodiscard]] std::string policy_sections() const override {
        return "[policy]\nlanguage = ja\n\n";
    }
};

TEST_F(SmtpToAJapaneseUser, SendsTheCatalogsJapaneseIn7BitsAndItsCodeConfirms) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto mail = received();
    ASSERT_EQ(mail.size(), 1u) << read_file(dir_ / "smtp.log") << daemon_->log();
    EXPECT_EQ(mail[0]["seven_bit"], true) << mail[0]["content"];
    EXPECT_TRUE(mail[0]["body_param"].is_null()) << "no BODY=8BITMIME: " << mail[0]["mail_options"];
    const auto& decoded = mail[0]["decoded"];
    EXPECT_EQ(decoded["defects"], nlohmann::json::array()) << decoded;
    EXPECT_EQ(decoded["transfer_encoding"], "base64") << mail[0]["content"];
    EXPECT_EQ(decoded["charset"], "utf-8");
    // No subject in the policy: lwauth's own, in the user's language.
    EXPECT_EQ(decoded["subject"], "確認コードのお知らせ") << mail[0]["content"];
    std::string body = decoded.value("body", "");
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) {
        body.pop_back();
    }
    std::string code = code_in(body);
    ASSERT_FALSE(code.empty()) << body;
    EXPECT_EQ(body, japanese_confirmation(code));
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "email", code}).exit_code, 0)
        << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

// An administrator's own subject is sent as written, whatever the user's language, even
// when it is the words of lwauth's default.
class SmtpToAJapaneseUserWithTheAdministratorsSubject : public SmtpToAJapaneseUser {
  protected:
    SmtpToAJapaneseUserWithTheAdministratorsSubject() {
        subject_line_ = "subject = Your verification code\n";
    }
};

TEST_F(SmtpToAJapaneseUserWithTheAdministratorsSubject, KeepsTheSubjectAsWritten) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto mail = received();
    ASSERT_EQ(mail.size(), 1u) << read_file(dir_ / "smtp.log") << daemon_->log();
    EXPECT_EQ(mail[0]["decoded"]["subject"], "Your verification code") << mail[0]["content"];
    EXPECT_NE(mail[0]["content"].get<std::string>().find("\r\nSubject: Your verification code\r\n"),
              std::string::npos)
        << mail[0]["content"];
}

class SmtpWithATemplateWithoutTheCode : public SmtpTest {
  protected:
    SmtpWithATemplateWithoutTheCode() {
        write_file(dir_ / "mail-body.txt", "Hello {user}, here is nothing.\n");
        body_line_ = "body_file = " + (dir_ / "mail-body.txt").string() + "\n";
    }
};

TEST_F(SmtpWithATemplateWithoutTheCode, SendsNothingAndFallsBack) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_TRUE(received().empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("has no {message}, so no code"), std::string::npos)
        << daemon_->log();
}

class SmtpWithoutStarttls : public SmtpTest {
  protected:
    SmtpWithoutStarttls() { mode_ = "plain"; }
};

TEST_F(SmtpWithoutStarttls, SendsNothingInClearAndFallsBack) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_TRUE(received().empty()) << "nothing sent without TLS";
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("STARTTLS"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos) << daemon_->log();
}

class SmtpRefusingTheRecipient : public SmtpTest {
  protected:
    SmtpRefusingTheRecipient() { refuse_rcpt_ = true; }
};

TEST_F(SmtpRefusingTheRecipient, IsPermanentWithItsReasonAndFallsBack) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_TRUE(received().empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "one message for one code";
    EXPECT_NE(daemon_->log().find("the server refused the recipient mailbox (SMTP 550)"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("alice@example.com"), std::string::npos)
        << "no address in the log";
}

class SmtpWithAWrongPassword : public SmtpTest {
  protected:
    SmtpWithAWrongPassword() { password_ = "not-the-password"; }
};

TEST_F(SmtpWithAWrongPassword, IsPermanentWithItsReasonAndFallsBack) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_TRUE(received().empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("refused the credentials: check username and password_file "
                                  "(SMTP 535)"),
              std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=no"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("not-the-password"), std::string::npos);
}

class SmtpSelfSigned : public SmtpTest {
  protected:
    SmtpSelfSigned() { cert_ = "selfsigned"; }
};

TEST_F(SmtpSelfSigned, RefusesTheCertificateAndFallsBack) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_TRUE(received().empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("certificate"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
}

class SmtpForAnotherHost : public SmtpTest {
  protected:
    SmtpForAnotherHost() { cert_ = "wronghost"; }
};

TEST_F(SmtpForAnotherHost, RefusesTheCertificateAndFallsBack) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_TRUE(received().empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("127.0.0.1"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("smtp-test-password"), std::string::npos);
}

class SmtpDown : public SmtpTest {
  protected:
    SmtpDown() { mode_ = "down"; }
};

TEST_F(SmtpDown, FallsBackWithARetryableReason) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("event=delivery-failed"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
    EXPECT_EQ(daemon_->log().find("alice@example.com"), std::string::npos);
}

class SmtpSilent : public SmtpTest {
  protected:
    SmtpSilent() { mode_ = "silent"; }
};

TEST_F(SmtpSilent, TimesOutAndFallsBackWithOneMessage) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("event=delivery-failed"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos);
}

// `timeout = 2s` is the wait for each reply: a greeting and a reply to the "." that take
// 1.5 s each make a transaction longer than 2 s, which is fine.
class SmtpSlowToGreet : public SmtpTest {
  protected:
    SmtpSlowToGreet() { faults_ = {"--greet-delay", "1.5", "--dot-delay", "1.5"}; }
};

TEST_F(SmtpSlowToGreet, DeliversWithinEachStagesLimit) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_EQ(received().size(), 1u) << read_file(dir_ / "smtp.log") << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << daemon_->log();
    EXPECT_NE(daemon_->log().find("event=code-sent user=alice channel=mail"), std::string::npos)
        << daemon_->log();
}

class SmtpStallingAfterData : public SmtpTest {
  protected:
    SmtpStallingAfterData() { faults_ = {"--stall", "data"}; }
};

TEST_F(SmtpStallingAfterData, NothingWasSentSoItFallsBack) {
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "one reply's wait";
    EXPECT_TRUE(received().empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << daemon_->log();
    EXPECT_NE(daemon_->log().find("retryable=yes"), std::string::npos) << daemon_->log();
}

// The server has the message and never answers the final ".": it may have accepted it, so
// no other channel sends the code again.
class SmtpStallingAfterTheDot : public SmtpTest {
  protected:
    SmtpStallingAfterTheDot() { faults_ = {"--stall", "dot"}; }
};

TEST_F(SmtpStallingAfterTheDot, CountsAsDeliveredAndNeverSendsTwice) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    EXPECT_EQ(received().size(), 1u) << read_file(dir_ / "smtp.log");
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << daemon_->log();
    EXPECT_NE(daemon_->log().find("no reply after the end of the message"), std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("event=code-sent user=alice channel=mail"), std::string::npos);
}

TEST_F(SmtpStarttls, SaysEhloWithTheHostsFullName) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto mail = received();
    ASSERT_EQ(mail.size(), 1u) << daemon_->log();
    auto fqdn = run({"/usr/bin/hostname", "--fqdn"}, base_env());
    ASSERT_EQ(fqdn.exit_code, 0) << fqdn.err;
    EXPECT_EQ(mail[0]["ehlo"].get<std::string>() + "\n", fqdn.out);
}

class SmtpWithAnEhloName : public SmtpTest {
  protected:
    SmtpWithAnEhloName() { ehlo_line_ = "ehlo_name = mail-client.example.org\n"; }
};

TEST_F(SmtpWithAnEhloName, SaysEhloWithIt) {
    ASSERT_EQ(add_alice(), 0) << daemon_->log();
    auto mail = received();
    ASSERT_EQ(mail.size(), 1u) << daemon_->log();
    EXPECT_EQ(mail[0]["ehlo"], "mail-client.example.org");
}

}  // namespace
}  // namespace lwauth::test
