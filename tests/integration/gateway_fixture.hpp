// The real lwauthd delivering through a gateway fake (tests/fakes/gateways.py) over TLS
// with a test CA, with an outbox channel behind the gateway for fallback.
//
// A test fixture derives from GatewayTest and returns its [channel.*] sections from
// gateway_channels(); they come before the outbox, so they are tried first. One that
// drives channels itself, without lwauthd, derives from GatewayFakeTest.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "lwauth/i18n.hpp"

namespace lwauth::test {

// The gateway fake alone, over TLS with the test PKI in dir_/pki.
class GatewayFakeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto pki = run({"/bin/bash", (source_dir() / "tests/fakes/make_test_pki.sh").string(),
                        (dir_ / "pki").string()},
                       base_env());
        ASSERT_EQ(pki.exit_code, 0) << pki.err;
        fs::create_directories(dir_ / "gateway");
        std::vector<std::string> argv = {"/usr/bin/python3",
                                         (source_dir() / "tests/fakes/gateways.py").string(),
                                         "--cert",
                                         (dir_ / "pki" / (server_cert() + ".pem")).string(),
                                         "--key",
                                         (dir_ / "pki" / (server_cert() + ".key")).string(),
                                         "--state-dir",
                                         (dir_ / "gateway").string(),
                                         "--webhook-secret",
                                         "s3cret",
                                         "--lineworks-public-key",
                                         (dir_ / "pki/lineworks.pub.pem").string()};
        for (auto& arg : gateway_args()) {
            argv.push_back(std::move(arg));
        }
        gateway_ = Process(argv, base_env(), dir_ / "gateway.log");
        port_ = wait_for_listening_port(dir_ / "gateway.log");
        ASSERT_NE(port_, 0) << read_file(dir_ / "gateway.log");
    }

    /// The certificate the fake presents, by its name in make_test_pki.sh.
    [[nodiscard]] virtual std::string server_cert() const { return "server"; }

    /// More options of gateways.py (what the services' accounts are like).
    [[nodiscard]] virtual std::vector<std::string> gateway_args() const { return {}; }

    /// https://127.0.0.1:PORT
    [[nodiscard]] std::string base_url() const {
        return "https://127.0.0.1:" + std::to_string(port_);
    }
    /// The ca_file line every gateway channel needs.
    [[nodiscard]] std::string ca_line() const {
        return "ca_file = " + (dir_ / "pki/ca.pem").string() + "\n";
    }

    /// Writes a root-owned 0600 secret file and returns its path.
    std::string secret_file(const std::string& name, const std::string& content) {
        fs::path path = dir_ / "secrets" / name;
        write_file(path, content + "\n", fs::perms(0600));
        return path.string();
    }

    /// The journal entries of the requests a gateway service accepted as deliveries,
    /// oldest first (with what the service adds, such as Vonage's handset_text).
    [[nodiscard]] std::vector<nlohmann::json> deliveries(const std::string& service) const {
        std::vector<nlohmann::json> out;
        for (auto& entry : requests(service)) {
            if (entry.value("delivered", false)) {
                out.push_back(std::move(entry));
            }
        }
        return out;
    }

    /// The requests a gateway service accepted as deliveries, oldest first (their
    /// parsed form or JSON parameters).
    [[nodiscard]] std::vector<nlohmann::json> delivered(const std::string& service) const {
        std::vector<nlohmann::json> out;
        for (auto& entry : deliveries(service)) {
            out.push_back(std::move(entry["params"]));
        }
        return out;
    }

    /// The first run of 6-10 digits in a text.
    [[nodiscard]] static std::string code_in(const std::string& text) {
        OutboxMessage m;
        m.text = text;
        return m.code();
    }

    /// The contact confirmation message for `code` as the Japanese catalog of the build
    /// tree words it, with lwauthd's default 5-minute lifetime: what a user whose
    /// [policy] language is ja must receive.
    [[nodiscard]] static std::string japanese_confirmation(const std::string& code) {
        auto ja = Catalog::parse(
            read_file(fs::path(LWAUTH_BUILD_LOCALEDIR) / "ja/LC_MESSAGES/lwauth.mo"));
        const char* form = ja.find(
            "lwauth: your confirmation code is %1$s. It expires in %2$s. Never share it with "
            "anyone.");
        const char* minutes = ja.find_plural("%s minute", "%s minutes", 5);
        if (form == nullptr || minutes == nullptr) {
            ADD_FAILURE() << "the Japanese catalog lacks the confirmation message";
            return {};
        }
        return format_text(form, {code, format_text(minutes, {"5"})});
    }

    /// Every request a gateway service got (delivered or not), oldest first.
    [[nodiscard]] std::vector<nlohmann::json> requests(const std::string& service) const {
        std::vector<nlohmann::json> out;
        std::ifstream in(dir_ / "gateway/requests.jsonl");
        std::string line;
        while (std::getline(in, line)) {
            auto entry = nlohmann::json::parse(line);
            if (entry.value("service", "") == service) {
                out.push_back(entry);
            }
        }
        return out;
    }

    /// A [channel.lineworks] section with the fake's service account and bot, and `more`
    /// lines (user_id, timeout).
    [[nodiscard]] std::string lineworks_channel(const std::string& more) {
        return "[channel.lineworks]\ntype = lineworks\nclient_id = lw-test-client-id\n"
               "client_secret_file = " +
               secret_file("lineworks-client-secret", "lw-test-client-secret") +
               "\nservice_account = test.serviceaccount@example\nprivate_key_file = " +
               secret_file("lineworks-key", read_file(dir_ / "pki/lineworks.key")) +
               "\nbot_id = 2000001\nbase_url = " + base_url() + "\nauth_url = " + base_url() +
               "/oauth2/v2.0/token\n" + ca_line() + more;
    }

    /// Injects a fault: POST /_control with the given JSON.
    void control(const std::string& json) {
        auto r = gateway_control(base_url(), dir_ / "pki/ca.pem", json);
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    TempDir dir_{"lwauth-gateway"};
    Process gateway_;
    int port_ = 0;
};

// The real lwauthd delivering through the gateway fake.
class GatewayTest : public GatewayFakeTest {
  protected:
    void SetUp() override {
        GatewayFakeTest::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy());
        prepare_daemon();
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    /// Runs before lwauthd's first start (to run it as another user, say).
    virtual void prepare_daemon() {}

    /// Gives `user` a verified phone through a webhook channel (the code read from what
    /// the webhook fake delivered) while it answers at once.
    void enroll(const std::string& user, const std::string& phone) {
        ASSERT_EQ(daemon_->ctl(user, {"contact", "add", "phone", phone}).exit_code, 0)
            << daemon_->log();
        std::string code = code_in(delivered("webhook").back().value("text", ""));
        ASSERT_EQ(daemon_->ctl(user, {"contact", "confirm", "phone", code}).exit_code, 0);
    }

    /// The [channel.*] sections of the gateway(s) under test.
    [[nodiscard]] virtual std::string gateway_channels() = 0;

    /// The [code] channels line: the kinds a code goes to, in order.
    [[nodiscard]] virtual std::string code_channels() const { return "sms, email, notification"; }

    /// Sections before [code] ([policy], [user:NAME]...); none by default.
    [[nodiscard]] virtual std::string policy_sections() const { return ""; }

    [[nodiscard]] std::string policy() {
        return policy_sections() + "[code]\nchannels = " + code_channels() +
               "\nresend_interval = 0s\n"
               "max_sends_per_hour = 100\nmax_sends_per_destination_per_hour = 100\n\n" +
               gateway_channels() +
               "\n[channel.outbox]\ntype = outbox\npath = " + (dir_ / "outbox.jsonl").string() +
               "\n";
    }

    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

}  // namespace lwauth::test
