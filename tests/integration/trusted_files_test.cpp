// The files lwauthd trusts, through the real daemon and lwauthctl: a policy file another
// user could write, a link where a policy or state file should be, a state directory
// others may write, and a FIFO in place of the outbox; then every trusted file against
// every way of planting one (AdversarialFiles).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

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

// ---- Every trusted file against every way of planting one --------------------------------

// A file lwauth trusts, how it is laid out when all is well, and where it is judged: the
// policy's files by `lwauthctl policy reload` and `policy check`, the state by lwauthd's
// start.
enum class Judged { Policy, Start };

struct Trusted {
    const char* name;
    Judged judged;
    bool directory;
};

enum class Attack { Symlink, Hardlink, Fifo, WrongOwner, GroupWritable, WorldWritable };

struct Planted {
    Trusted file;
    Attack attack;
};

const char* attack_name(Attack a) {
    switch (a) {
        case Attack::Symlink:
            return "Symlink";
        case Attack::Hardlink:
            return "Hardlink";
        case Attack::Fifo:
            return "Fifo";
        case Attack::WrongOwner:
            return "WrongOwner";
        case Attack::GroupWritable:
            return "GroupWritable";
        case Attack::WorldWritable:
            return "WorldWritable";
    }
    return "";
}

// The files, by the name the test gives each: lwauth.conf, a drop-in, a secret file a
// drop-in names, the drop-in directory; the state directory and what lwauthd keeps in it.
const std::vector<Trusted>& trusted_files() {
    static const std::vector<Trusted> kFiles = {
        {"LwauthConf", Judged::Policy, false},   {"DropIn", Judged::Policy, false},
        {"Secret", Judged::Policy, false},       {"DropInDirectory", Judged::Policy, true},
        {"StateDirectory", Judged::Start, true}, {"CodeKey", Judged::Start, false},
        {"ContactsKey", Judged::Start, false},   {"Database", Judged::Start, false},
        {"DatabaseWal", Judged::Start, false},
    };
    return kFiles;
}

void PrintTo(const Planted& p, std::ostream* os) {
    *os << p.file.name << attack_name(p.attack);
}

std::vector<Planted> planted_files() {
    std::vector<Planted> out;
    for (const Trusted& file : trusted_files()) {
        for (Attack attack : {Attack::Symlink, Attack::Hardlink, Attack::Fifo, Attack::WrongOwner,
                              Attack::GroupWritable, Attack::WorldWritable}) {
            // A directory has no second name; the policy's directories may be links an
            // administrator made (the file they lead to is judged).
            if (file.directory && attack == Attack::Hardlink) {
                continue;
            }
            if (file.directory && file.judged == Judged::Policy && attack == Attack::Symlink) {
                continue;
            }
            // The policy's files and secrets may have another name: read with a warning
            // (OtherNames below).
            if (!file.directory && file.judged == Judged::Policy && attack == Attack::Hardlink) {
                continue;
            }
            out.push_back({file, attack});
        }
    }
    return out;
}

// A drop-in that names a secret file, both as they should be, and a place every user may
// write.
class WithDropIn : public TrustedFiles {
  protected:
    void SetUp() override {
        TrustedFiles::SetUp();
        // A place every user may write, where the link or second name is made.
        fs::create_directories(elsewhere());
        ASSERT_EQ(::chmod(elsewhere().c_str(), 01777), 0);
        // The drop-in and the secret it names, both as they should be.
        write_file(secret(), "0123456789abcdef0123456789abcdef\n", fs::perms(0600));
        write_file(dropin("20-webhook.conf"),
                   "[channel.hook]\ntype = webhook\nserves = sms\n"
                   "url = https://127.0.0.1:1/send\nhmac_secret_file = " +
                       secret().string() + "\n",
                   fs::perms(0644));
        ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0) << daemon_->log();
        // Something in the database, and its files all there.
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    }

    [[nodiscard]] fs::path elsewhere() const { return dir_ / "public"; }
    [[nodiscard]] fs::path secret() const { return daemon_->config_dir() / "webhook.secret"; }
};

class AdversarialFiles : public WithDropIn, public ::testing::WithParamInterface<Planted> {
  protected:
    [[nodiscard]] fs::path path_of(const std::string& name) const {
        const std::map<std::string, fs::path> paths = {
            {"LwauthConf", conf()},
            {"DropIn", dropin("20-webhook.conf")},
            {"Secret", secret()},
            {"DropInDirectory", dropin("x").parent_path()},
            {"StateDirectory", daemon_->state_dir()},
            {"CodeKey", daemon_->state_dir() / "code.key"},
            {"ContactsKey", daemon_->state_dir() / "contacts.key"},
            {"Database", daemon_->state_dir() / "lwauth.db"},
            {"DatabaseWal", daemon_->state_dir() / "lwauth.db-wal"},
        };
        return paths.at(name);
    }

    // Plants the attack on `path`; the words lwauth must use for it.
    std::string plant(const fs::path& path, Attack attack, bool directory) {
        struct stat st {};
        EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
        mode_t mode = st.st_mode & 07777;
        switch (attack) {
            case Attack::Symlink: {
                // The file as it was, owner and mode and all, behind a link.
                fs::path real = elsewhere() / path.filename();
                fs::rename(path, real);
                fs::create_symlink(real, path);
                return kLink;
            }
            case Attack::Hardlink:
                fs::create_hard_link(path, elsewhere() / path.filename());
                return "is a hard link";
            case Attack::Fifo:
                fs::remove_all(path);
                EXPECT_EQ(::mkfifo(path.c_str(), mode), 0);
                return directory ? "is not a directory" : "is not a regular file";
            case Attack::WrongOwner:
                EXPECT_EQ(::chown(path.c_str(), uid_of("alice"), st.st_gid), 0);
                return "it is owned by uid " + std::to_string(uid_of("alice"));
            case Attack::GroupWritable:
                EXPECT_EQ(::chmod(path.c_str(), mode | 020), 0);
                return "with mode " + mode_octal(mode | 020);
            case Attack::WorldWritable:
                EXPECT_EQ(::chmod(path.c_str(), mode | 002), 0);
                return "with mode " + mode_octal(mode | 002);
        }
        return "";
    }

    static std::string mode_octal(mode_t mode) {
        char text[8];
        std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
        return text;
    }
};

TEST_P(AdversarialFiles, IsRefusedWithAClearError) {
    const Planted& p = GetParam();
    const fs::path path = path_of(p.file.name);
    if (p.file.judged == Judged::Policy) {
        const std::string why = plant(path, p.attack, p.file.directory);
        for (const auto& args : std::vector<std::vector<std::string>>{
                 {"policy", "reload"}, {"policy", "check", daemon_->config_dir().string()}}) {
            auto r = daemon_->ctl("root", args);
            EXPECT_EQ(r.exit_code, 5) << args[1] << ": " << r.out << r.err;
            EXPECT_NE(r.err.find(path.string()), std::string::npos) << args[1] << ": " << r.err;
            EXPECT_NE(r.err.find(why), std::string::npos) << args[1] << ": " << r.err;
        }
        EXPECT_TRUE(daemon_->running());
        return;
    }
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    if (std::string(p.file.name) == "DatabaseWal") {
        // SQLite leaves none after a clean stop: one as it would make it.
        write_file(path, "", fs::perms(0600));
    }
    const std::string why = plant(path, p.attack, p.file.directory);
    EXPECT_FALSE(daemon_->start()) << "lwauthd started on a planted " << p.file.name;
    const std::string log = daemon_->log();
    EXPECT_NE(log.find("event=start-failed"), std::string::npos) << log;
    EXPECT_NE(log.find(path.string()), std::string::npos) << log;
    EXPECT_NE(log.find(why), std::string::npos) << log;
}

// Any local user can give a file another name where fs.protected_hardlinks = 0. For the
// policy and the secrets it names (root's, in directories only root may write) the other
// name changes nothing: it is said, not refused, or that user could keep lwauthd from
// starting. lwauthd's own files are still refused (AdversarialFiles: DatabaseHardlink...).
TEST_F(WithDropIn, PolicyAndSecretFilesWithAnotherNameAreReadWithAWarning) {
    const std::vector<fs::path> paths = {conf(), dropin("20-webhook.conf"), secret()};
    for (const fs::path& path : paths) {
        fs::create_hard_link(path, elsewhere() / path.filename());
    }
    auto check = daemon_->ctl("root", {"policy", "check", daemon_->config_dir().string()});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    auto reload = daemon_->ctl("root", {"policy", "reload"});
    EXPECT_EQ(reload.exit_code, 0) << reload.out << reload.err;
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    ASSERT_TRUE(daemon_->start()) << "lwauthd refused its policy for a hard link elsewhere\n"
                                  << daemon_->log();
    for (const fs::path& path : paths) {
        const std::string said = path.string() + " has another name";
        EXPECT_NE((check.out + check.err).find(said), std::string::npos) << check.out << check.err;
        EXPECT_TRUE(daemon_->log_shows(said)) << daemon_->log();
    }
    EXPECT_TRUE(daemon_->log_shows("event=policy-warning"));
    EXPECT_EQ(daemon_->ctl("alice", {"--json", "status"}).exit_code, 0) << daemon_->log();
}

// A second name of what lwauthd keeps in its state directory still refuses the start.
TEST_F(WithDropIn, TheDatabaseWithAnotherNameStillRefusesStart) {
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    fs::path db = daemon_->state_dir() / "lwauth.db";
    fs::create_hard_link(db, elsewhere() / "lwauth.db");
    EXPECT_FALSE(daemon_->start()) << daemon_->log();
    const std::string log = daemon_->log();
    EXPECT_NE(log.find("event=start-failed"), std::string::npos) << log;
    EXPECT_NE(log.find(db.string() + " is a hard link"), std::string::npos) << log;
}

std::string PlantedName(const ::testing::TestParamInfo<Planted>& param) {
    return std::string(param.param.file.name) + attack_name(param.param.attack);
}

INSTANTIATE_TEST_SUITE_P(Planted, AdversarialFiles, ::testing::ValuesIn(planted_files()),
                         PlantedName);

}  // namespace
}  // namespace lwauth::test
