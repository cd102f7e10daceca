// The files lwauthd trusts, through the real daemon and lwauthctl: a policy file another
// user could write, a link where a policy or state file should be, a state directory
// others may write, and a FIFO in place of the outbox.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;

class TrustedFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false);
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    [[nodiscard]] fs::path conf() const { return daemon_->config_dir() / "lwauth.conf"; }
    [[nodiscard]] fs::path dropin(const std::string& name) const {
        return daemon_->config_dir() / "lwauth.conf.d" / name;
    }

    // `lwauthctl policy reload` and `policy check` as root: both refuse, naming `path`
    // and `reason`.
    void expect_refused(const fs::path& path, const std::string& reason) {
        auto reload = daemon_->ctl("root", {"policy", "reload"});
        EXPECT_EQ(reload.exit_code, 5) << reload.out << reload.err;
        EXPECT_NE(reload.err.find(path.string() + ": " + reason), std::string::npos) << reload.err;
        auto check = daemon_->ctl("root", {"policy", "check", daemon_->config_dir().string()});
        EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
        EXPECT_NE(check.err.find(path.string() + ": " + reason), std::string::npos) << check.err;
        EXPECT_TRUE(daemon_->running());
    }

    TempDir dir_{"lwauth-files"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

constexpr const char* kNotRoots =
    "must be owned by root and not writable by group or others (chmod go-w)";
constexpr const char* kLink = "is a symbolic link, which lwauth does not follow here";

// The attack as it was run: dave writes a drop-in that names his own group as the admin
// group, and reloads it through anyone's reload.
TEST_F(TrustedFiles, ADropInAnotherUserOwnsIsRefusedAndGivesHimNothing) {
    write_file(dropin("50-dave.conf"), "[policy]\ntwo_step = off\nadmin_group = dave\n",
               fs::perms(0666));
    ASSERT_EQ(::chown(dropin("50-dave.conf").c_str(), uid_of("dave"), uid_of("dave")), 0);
    expect_refused(dropin("50-dave.conf"),
                   std::string(kNotRoots) + "; it is owned by uid 40004 with mode 0666");
    EXPECT_NE(daemon_->log().find("keeping the policy that is running"), std::string::npos);

    auto admin = daemon_->ctl("dave", {"admin", "users"});
    EXPECT_EQ(admin.exit_code, 3) << admin.out << admin.err;
    auto status = daemon_->ctl("root", {"--json", "policy", "show"});
    EXPECT_EQ(status.out.find("\"two_step\": \"off\""), std::string::npos) << status.out;

    // Root's file with the same text is taken.
    ASSERT_EQ(::chown(dropin("50-dave.conf").c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(dropin("50-dave.conf").c_str(), 0644), 0);
    EXPECT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    EXPECT_EQ(daemon_->ctl("dave", {"admin", "users"}).exit_code, 0);
}

TEST_F(TrustedFiles, AWorldWritableLwauthConfIsRefusedAtReloadAndAtStart) {
    ASSERT_EQ(::chmod(conf().c_str(), 0666), 0);
    expect_refused(conf(), std::string(kNotRoots) + "; it is owned by root with mode 0666");

    daemon_->stop();
    EXPECT_FALSE(daemon_->start());
    EXPECT_NE(daemon_->log().find(conf().string() + ": " + kNotRoots), std::string::npos)
        << daemon_->log();
    EXPECT_NE(daemon_->log().find("refusing to start"), std::string::npos) << daemon_->log();
}

TEST_F(TrustedFiles, ALwauthConfThatLinksToAUsersFileIsRefused) {
    fs::path theirs = dir_ / "alice.conf";
    write_file(theirs, default_test_policy(dir_ / "outbox.jsonl", "[policy]\ntwo_step = off\n"),
               fs::perms(0644));
    ASSERT_EQ(::chown(theirs.c_str(), uid_of("alice"), uid_of("alice")), 0);
    fs::remove(conf());
    fs::create_symlink(theirs, conf());
    expect_refused(conf(), kLink);

    // Even a link to a file of root's: what is checked must be what is read.
    ASSERT_EQ(::chown(theirs.c_str(), 0, 0), 0);
    expect_refused(conf(), kLink);
}

TEST_F(TrustedFiles, APolicyDirectoryOthersMayWriteIsRefused) {
    fs::create_directories(dropin("x").parent_path());
    ASSERT_EQ(::chmod(dropin("x").parent_path().c_str(), 0777), 0);
    expect_refused(dropin("x").parent_path(),
                   std::string(kNotRoots) + "; it is owned by root with mode 0777");
    ASSERT_EQ(::chmod(dropin("x").parent_path().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(daemon_->config_dir().c_str(), 0775), 0);
    expect_refused(daemon_->config_dir(),
                   std::string(kNotRoots) + "; it is owned by root with mode 0775");
}

TEST_F(TrustedFiles, ASecretFileThatIsALinkIsRefusedByTheChecker) {
    fs::path secret = dir_ / "webhook.secret";
    write_file(secret, "e5b1d7f3a9c2048662d0a8e4c1f7b93d\n", fs::perms(0600));
    fs::create_symlink(secret, dir_ / "webhook.link");
    write_file(dropin("20-webhook.conf"),
               "[channel.hook]\ntype = webhook\nserves = sms\nurl = https://127.0.0.1:1/send\n"
               "hmac_secret_file = " +
                   (dir_ / "webhook.link").string() + "\n",
               fs::perms(0644));
    auto check = daemon_->ctl("root", {"policy", "check", daemon_->config_dir().string()});
    EXPECT_EQ(check.exit_code, 5) << check.out << check.err;
    EXPECT_NE(check.err.find("hmac_secret_file: " + (dir_ / "webhook.link").string() + " " + kLink),
              std::string::npos)
        << check.err;
    EXPECT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 5);
}

TEST_F(TrustedFiles, AStateDirectoryOthersMayWriteRefusesStart) {
    daemon_->stop();
    ASSERT_EQ(::chmod(daemon_->state_dir().c_str(), 0777), 0);
    EXPECT_FALSE(daemon_->start());
    EXPECT_NE(daemon_->log().find("state directory " + daemon_->state_dir().string() +
                                  " must be owned by root and not readable by group or others "
                                  "(chmod 0700); it is owned by root with mode 0777; refusing "
                                  "to start"),
              std::string::npos)
        << daemon_->log();

    ASSERT_EQ(::chmod(daemon_->state_dir().c_str(), 0700), 0);
    ASSERT_EQ(::chown(daemon_->state_dir().c_str(), uid_of("alice"), 0), 0);
    EXPECT_FALSE(daemon_->start());
    EXPECT_NE(daemon_->log().find("it is owned by uid 40001 with mode 0700"), std::string::npos)
        << daemon_->log();

    ASSERT_EQ(::chown(daemon_->state_dir().c_str(), 0, 0), 0);
    EXPECT_TRUE(daemon_->start()) << daemon_->log();
}

TEST_F(TrustedFiles, AStateDirectoryThatIsALinkRefusesStart) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    daemon_->stop();
    fs::path real = dir_ / "state.real";
    fs::rename(daemon_->state_dir(), real);
    fs::create_symlink(real, daemon_->state_dir());
    EXPECT_FALSE(daemon_->start());
    EXPECT_NE(daemon_->log().find("state directory " + daemon_->state_dir().string() + " " + kLink +
                                  "; refusing to start"),
              std::string::npos)
        << daemon_->log();
}

// Another user put a FIFO where the outbox was: lwauthd must not block in open(), which
// would hang every login on the host.
TEST_F(TrustedFiles, AFifoInPlaceOfTheOutboxFailsTheSendAtOnce) {
    fs::remove(daemon_->outbox());
    ASSERT_EQ(::mkfifo(daemon_->outbox().c_str(), 0600), 0);
    auto start = std::chrono::steady_clock::now();
    auto add = daemon_->ctl("alice", {"contact", "add", "email", "alice@example.com"});
    EXPECT_NE(add.exit_code, 0) << add.out << add.err;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "lwauthd blocked on the FIFO";
    EXPECT_NE(
        daemon_->log().find("outbox " + daemon_->outbox().string() + " is not a regular file"),
        std::string::npos)
        << daemon_->log();

    // With a reader on the FIFO the open succeeds; the descriptor's fstat refuses it.
    int reader = ::open(daemon_->outbox().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(reader, 0);
    add = daemon_->ctl("bob", {"contact", "add", "email", "bob@example.com"});
    EXPECT_NE(add.exit_code, 0) << add.out << add.err;
    char buffer[256];
    EXPECT_LE(::read(reader, buffer, sizeof buffer), 0) << "nothing was written to the FIFO";
    ::close(reader);
    EXPECT_TRUE(daemon_->running());
}

TEST_F(TrustedFiles, AnOutboxOfAnotherUserIsNotWrittenTo) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    ASSERT_EQ(::chown(daemon_->outbox().c_str(), uid_of("alice"), uid_of("alice")), 0);
    auto size = fs::file_size(daemon_->outbox());
    auto add = daemon_->ctl("bob", {"contact", "add", "email", "bob@example.com"});
    EXPECT_NE(add.exit_code, 0) << add.out << add.err;
    EXPECT_EQ(fs::file_size(daemon_->outbox()), size);
    EXPECT_NE(daemon_->log().find("it is owned by uid 40001 with mode 0600"), std::string::npos)
        << daemon_->log();
}

}  // namespace
}  // namespace lwauth::test
