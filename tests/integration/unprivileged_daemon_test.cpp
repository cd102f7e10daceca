// lwauthd as the shipped unit runs it: as its own system user lwauth (kDaemonUid), not root,
// with its state directory its own (as systemd's StateDirectory= leaves it) and its secret
// files in the packages' layout: a directory root:lwauth 0750 and files root:lwauth 0640.
// The code goes through the webhook gateway, signed with the secret lwauthd read through
// its group, so a login that succeeds is one that used the secret.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gateway_fixture.hpp"

namespace lwauth::test {
namespace {

class UnprivilegedDaemon : public GatewayTest {
  protected:
    void prepare_daemon() override {
        daemon_->run_as(kDaemonUid);
        ASSERT_TRUE(give_to_daemon(daemon_->state_dir(), true));
        ASSERT_TRUE(give_to_daemon(daemon_->outbox(), false));
    }

    std::string gateway_channels() override {
        return "[channel.gateway]\ntype = webhook\nserves = sms\nurl = " + base_url() +
               "/webhook\nhmac_secret_file = " + secret().string() + "\n" + ca_line() +
               "timeout = 2s\n";
    }

    // The webhook's secret as the packages lay it out: /etc/lwauth/secrets is root:lwauth
    // 0750, the file in it root:lwauth 0640.
    fs::path secret() {
        fs::path dir = dir_ / "secrets";
        fs::path path = dir / "webhook";
        if (!fs::exists(path)) {
            fs::create_directories(dir);
            EXPECT_EQ(::chown(dir.c_str(), 0, kDaemonUid), 0);
            EXPECT_EQ(::chmod(dir.c_str(), 0750), 0);
            write_file(path, "s3cret\n", fs::perms(0640));
            EXPECT_EQ(::chown(path.c_str(), 0, kDaemonUid), 0);
        }
        return path;
    }

    // The "Uid:" line of lwauthd's /proc/PID/status: real, effective, saved, fs.
    [[nodiscard]] std::string daemon_uids() const {
        std::ifstream status("/proc/" + std::to_string(daemon_->pid()) + "/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.starts_with("Uid:")) {
                return line;
            }
        }
        return "";
    }

    [[nodiscard]] std::string last_code() const {
        auto texts = delivered("webhook");
        return texts.empty() ? "" : code_in(texts.back().value("text", ""));
    }
};

TEST_F(UnprivilegedDaemon, ALoginThroughADaemonOfItsOwnUserSucceeds) {
    std::string uid = std::to_string(kDaemonUid);
    EXPECT_EQ(daemon_uids(), "Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid);

    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
        << daemon_->log();
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", last_code()}).exit_code, 0)
        << daemon_->log();
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(delivered("webhook").size(), 2u) << "the codes went through the signed gateway";
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());

    // What lwauthd made in its state directory is its own.
    struct stat st {};
    ASSERT_EQ(::stat((daemon_->state_dir() / "lwauth.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kDaemonUid);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(UnprivilegedDaemon, ASecretFileOthersMayReadIsRefusedWithItsReason) {
    ASSERT_EQ(::chmod(secret().c_str(), 0644), 0);
    const std::string uid = std::to_string(kDaemonUid);
    const std::string reason = "hmac_secret_file: " + secret().string() +
                               " must be owned by root with group gid " + uid +
                               " and mode 0640, or by uid " + uid +
                               " with mode 0600, so that lwauthd (uid " + uid +
                               ") reads it and nobody else but root does; it is owned by root, "
                               "group gid " +
                               uid + ", with mode 0644";

    auto reload = daemon_->ctl("root", {"policy", "reload"});
    EXPECT_EQ(reload.exit_code, 5) << reload.out << reload.err;
    EXPECT_NE(reload.err.find(reason), std::string::npos) << reload.err;
    // lwauthctl judges the file as the installed lwauthd would: as the user lwauth, on a
    // host that has it (here the test's user database).
    auto env = nss_wrapper_env(dir_.path());
    env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_->address();
    auto check = run({lwauthctl_path().string(), "policy", "check",
                      daemon_->config_dir().string()},
                     env, 0);
    EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
    EXPECT_NE(check.err.find(reason), std::string::npos) << check.err;

    daemon_->stop();
    EXPECT_FALSE(daemon_->start());
    EXPECT_NE(daemon_->log().find(reason), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("refusing to start"), std::string::npos) << daemon_->log();

    // Its group may read it, never write it.
    ASSERT_EQ(::chmod(secret().c_str(), 0660), 0);
    EXPECT_FALSE(daemon_->start());
    ASSERT_EQ(::chmod(secret().c_str(), 0640), 0);
    EXPECT_TRUE(daemon_->start()) << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
