// `lwauthctl policy edit` against the real lwauthd: scripted editors stand in for the
// administrator; what reaches lwauth.conf, what lwauthd reloads, and what is refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "harness.hpp"

namespace lwauth::test {
namespace {

// lwauthd logs this once per successful reload (daemon/main.cpp).
constexpr const char* kReloadedLine = "policy reloaded from ";

// Appended by the good editor: 8-digit codes, which bob's next code shows.
constexpr const char* kGoodEdit = "\n[code]\nlength = 8\n";
// Appended by the broken editor; the value is on the third appended line.
constexpr const char* kBrokenEdit = "\n[code]\nlength = banana\n";

size_t count_of(const std::string& text, const std::string& what) {
    size_t count = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++count;
    }
    return count;
}

class PolicyEdit : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        fs::create_directories(scratch_dir());
        original_ = read_file(conf());
    }

    [[nodiscard]] fs::path conf() const { return daemon_->config_dir() / "lwauth.conf"; }
    [[nodiscard]] fs::path lock_path() const { return daemon_->config_dir() / ".lwauth.conf.lock"; }
    // $TMPDIR of lwauthctl: its private copies go here and must be gone afterwards.
    [[nodiscard]] fs::path scratch_dir() const { return dir_ / "tmp"; }
    [[nodiscard]] fs::path runs_file() const { return dir_ / "editor-runs"; }

    // A shell script editor: counts its runs in runs_file(), then runs `body` with the
    // file to edit as $1 and the run number as $n.
    std::string editor(const std::string& name, const std::string& body) const {
        fs::path path = dir_ / name;
        write_file(path,
                   "#!/bin/sh\n"
                   "n=$(cat " +
                       runs_file().string() +
                       " 2>/dev/null || echo 0)\n"
                       "n=$((n + 1))\n"
                       "echo $n > " +
                       runs_file().string() + "\n" + body + "\n",
                   fs::perms(0755));
        return path.string();
    }
    std::string appending_editor(const std::string& text) const {
        return editor("append.sh", "printf '%s' '" + text + "' >> \"$1\"");
    }

    [[nodiscard]] int editor_runs() const {
        std::string text = read_file(runs_file());
        return text.empty() ? 0 : std::stoi(text);
    }

    RunResult edit(const std::map<std::string, std::string>& editor_env,
                   const std::string& input = "", bool json_output = false) const {
        auto env = daemon_->client_env();
        env["TMPDIR"] = scratch_dir().string();
        for (const auto& [k, v] : editor_env) {
            env[k] = v;
        }
        std::vector<std::string> argv{lwauthctl_path().string()};
        if (json_output) {
            argv.emplace_back("--json");
        }
        for (const char* arg : {"policy", "edit"}) {
            argv.emplace_back(arg);
        }
        argv.push_back(daemon_->config_dir().string());
        return run(argv, env, 0, input);
    }

    [[nodiscard]] size_t reloads() const { return count_of(daemon_->log(), kReloadedLine); }

    // Nothing is left behind: no private copy, no staged file next to lwauth.conf.
    void expect_no_leftovers() const {
        EXPECT_TRUE(fs::is_empty(scratch_dir())) << "a private copy was left in $TMPDIR";
        for (const auto& entry : fs::directory_iterator(daemon_->config_dir())) {
            std::string name = entry.path().filename().string();
            EXPECT_TRUE(name == "lwauth.conf" || name == ".lwauth.conf.lock")
                << "left behind: " << entry.path();
        }
    }

    // The line of kBrokenEdit's bad value once appended to the original file.
    [[nodiscard]] std::string broken_line() const {
        auto lines = std::count(original_.begin(), original_.end(), '\n');
        return conf().string() + ":" + std::to_string(lines + 3) + ":";
    }

    TempDir dir_{"lwauth-policy-edit"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
    std::string original_;
};

TEST_F(PolicyEdit, GoodEditIsInstalledWithItsOwnerAndModeAndReloaded) {
    ASSERT_EQ(chown(conf().c_str(), 0, 40001), 0);
    ASSERT_EQ(chmod(conf().c_str(), 0640), 0);
    size_t before = reloads();

    auto result = edit({{"EDITOR", appending_editor(kGoodEdit)}});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find(conf().string() + " was installed and lwauthd reloaded it."),
              std::string::npos)
        << result.out;
    EXPECT_EQ(read_file(conf()), original_ + kGoodEdit);
    struct stat st {};
    ASSERT_EQ(stat(conf().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, 40001u);
    EXPECT_EQ(reloads(), before + 1) << daemon_->log();
    expect_no_leftovers();

    // The running daemon uses it: 8-digit codes.
    ASSERT_EQ(daemon_->ctl("bob", {"contact", "add", "email", "bob@example.com"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().code().size(), 8u);
}

// lwauthd refuses a lwauth.conf that is not root's or that others may write; the edit
// installs one it will read, and says so.
TEST_F(PolicyEdit, AFileLwauthdWouldRefuseIsInstalledAsRootsWithoutWriteForOthers) {
    ASSERT_EQ(chown(conf().c_str(), 40001, 40001), 0);
    ASSERT_EQ(chmod(conf().c_str(), 0666), 0);
    auto refused = daemon_->ctl("root", {"policy", "reload"});
    ASSERT_EQ(refused.exit_code, 5) << refused.err;

    auto result = edit({{"EDITOR", appending_editor(kGoodEdit)}});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.err.find(conf().string() + " is now owned by root with mode 0644"),
              std::string::npos)
        << result.err;
    struct stat st {};
    ASSERT_EQ(lstat(conf().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(st.st_uid, 0u);
    ASSERT_EQ(daemon_->ctl("bob", {"contact", "add", "email", "bob@example.com"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().code().size(), 8u);

    // Without a change to the text, the repair alone is installed.
    ASSERT_EQ(chmod(conf().c_str(), 0664), 0);
    auto unchanged = edit({{"EDITOR", "true"}});
    ASSERT_EQ(unchanged.exit_code, 0) << unchanged.out << unchanged.err;
    EXPECT_NE(unchanged.err.find("is now owned by root with mode 0644"), std::string::npos)
        << unchanged.err;
    ASSERT_EQ(lstat(conf().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
}

TEST_F(PolicyEdit, ALinkInPlaceOfLwauthConfIsNotEdited) {
    fs::path real = dir_ / "real.conf";
    fs::copy_file(conf(), real);
    fs::remove(conf());
    fs::create_symlink(real, conf());
    auto result = edit({{"EDITOR", appending_editor(kGoodEdit)}});
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    EXPECT_NE(result.err.find("is a symbolic link"), std::string::npos) << result.err;
    EXPECT_EQ(editor_runs(), 0);
    EXPECT_TRUE(fs::is_symlink(conf()));
}

TEST_F(PolicyEdit, BrokenEditIsNotInstalled) {
    size_t before = reloads();
    auto result = edit({{"EDITOR", appending_editor(kBrokenEdit)}}, "x\n");
    EXPECT_EQ(result.exit_code, 5) << result.err;
    EXPECT_NE(result.err.find(broken_line()), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("1 error; " + conf().string() + " was not changed."),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("(e)dit again, e(x)it without saving"), std::string::npos);
    EXPECT_EQ(read_file(conf()), original_);
    EXPECT_EQ(reloads(), before);
    EXPECT_EQ(editor_runs(), 1);
    expect_no_leftovers();
}

TEST_F(PolicyEdit, WithoutAnAnswerTheBrokenEditIsAbandoned) {
    auto result = edit({{"EDITOR", appending_editor(kBrokenEdit)}});
    EXPECT_EQ(result.exit_code, 5) << result.err;
    EXPECT_EQ(read_file(conf()), original_);
    EXPECT_EQ(editor_runs(), 1);
    expect_no_leftovers();
}

TEST_F(PolicyEdit, EditAgainKeepsTheEditsAndInstallsTheFix) {
    size_t before = reloads();
    // The second run only works on the first run's text: the copy must have been kept.
    std::string fixer =
        editor("fix.sh", "if [ $n -eq 1 ]; then printf '%s' '" + std::string(kBrokenEdit) +
                             "' >> \"$1\"; "
                             "else sed -i 's/length = banana/length = 8/' \"$1\"; fi");
    // An answer that means nothing is asked again.
    auto result = edit({{"EDITOR", fixer}}, "maybe\ne\n");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(editor_runs(), 2);
    EXPECT_EQ(count_of(result.err, "What now?"), 2u) << result.err;
    EXPECT_EQ(read_file(conf()), original_ + kGoodEdit);
    EXPECT_EQ(reloads(), before + 1) << daemon_->log();
    expect_no_leftovers();
}

TEST_F(PolicyEdit, NoChangeInstallsAndReloadsNothing) {
    size_t before = reloads();
    auto result = edit({{"EDITOR", "true"}});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("No changes; " + conf().string() + " was left as it was."),
              std::string::npos)
        << result.out;
    EXPECT_EQ(read_file(conf()), original_);
    EXPECT_EQ(reloads(), before);
    expect_no_leftovers();
}

TEST_F(PolicyEdit, SecondEditorIsRefusedNamingTheLock) {
    int fd = open(lock_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
    auto result = edit({{"EDITOR", appending_editor(kGoodEdit)}});
    close(fd);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find(conf().string() + " is being edited by someone else (lock " +
                              lock_path().string() + "); try again later."),
              std::string::npos)
        << result.err;
    EXPECT_EQ(editor_runs(), 0);
    EXPECT_EQ(read_file(conf()), original_);
    expect_no_leftovers();
}

TEST_F(PolicyEdit, FailedEditorChangesNothing) {
    size_t before = reloads();
    auto failed = edit({{"EDITOR", "false"}});
    EXPECT_EQ(failed.exit_code, 1) << failed.err;
    EXPECT_NE(failed.err.find("exited with status 1"), std::string::npos) << failed.err;
    // Even when it saved a good file before failing.
    std::string saved_then_failed =
        editor("fail.sh", "printf '%s' '" + std::string(kGoodEdit) + "' >> \"$1\"; exit 3");
    auto result = edit({{"EDITOR", saved_then_failed}});
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find("exited with status 3; " + conf().string() + " was not changed."),
              std::string::npos)
        << result.err;
    EXPECT_EQ(read_file(conf()), original_);
    EXPECT_EQ(reloads(), before);
    expect_no_leftovers();
}

TEST_F(PolicyEdit, DaemonDownStillInstallsAndSaysItWasNotReloaded) {
    ASSERT_EQ(daemon_->stop(), 0);
    auto result = edit({{"EDITOR", appending_editor(kGoodEdit)}});
    EXPECT_EQ(result.exit_code, 4) << result.err;
    EXPECT_NE(result.err.find(conf().string() + " was installed, but lwauthd did not reload it: "),
              std::string::npos)
        << result.err;
    EXPECT_EQ(read_file(conf()), original_ + kGoodEdit);
    expect_no_leftovers();
}

TEST_F(PolicyEdit, JsonReportsTheOutcome) {
    auto good = edit({{"EDITOR", appending_editor(kGoodEdit)}}, "", /*json_output=*/true);
    ASSERT_EQ(good.exit_code, 0) << good.err;
    auto report = nlohmann::json::parse(good.out);
    EXPECT_EQ(report["file"], conf().string());
    EXPECT_EQ(report["installed"], true);
    EXPECT_EQ(report["reloaded"], true);
    EXPECT_TRUE(report["errors"].empty());

    std::string installed = read_file(conf());
    auto broken = edit({{"EDITOR", editor("break.sh", "printf '%s' '" + std::string(kBrokenEdit) +
                                                          "' >> \"$1\"")}},
                       "x\n", /*json_output=*/true);
    EXPECT_EQ(broken.exit_code, 5) << broken.err;
    auto refused = nlohmann::json::parse(broken.out);
    EXPECT_EQ(refused["installed"], false);
    EXPECT_EQ(refused["reloaded"], false);
    ASSERT_EQ(refused["errors"].size(), 1u) << broken.out;
    EXPECT_EQ(refused["errors"][0]["file"], conf().string());
    EXPECT_EQ(refused["errors"][0]["line"],
              std::count(installed.begin(), installed.end(), '\n') + 3);
    EXPECT_EQ(read_file(conf()), installed);
}

TEST_F(PolicyEdit, VisualWinsAndEditorsWithArgumentsWork) {
    // "sh SCRIPT" is an editor command with an argument; $EDITOR would fail.
    auto result = edit({{"VISUAL", "sh " + appending_editor(kGoodEdit)}, {"EDITOR", "false"}});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(editor_runs(), 1);
    EXPECT_EQ(read_file(conf()), original_ + kGoodEdit);
}

TEST_F(PolicyEdit, DropInsAreCheckedWithTheEdit) {
    write_file(daemon_->config_dir() / "lwauth.conf.d/10-site.conf",
               "[lockout]\nduration = 5 minutes\n");
    size_t before = reloads();
    auto result = edit({{"EDITOR", appending_editor(kGoodEdit)}}, "x\n");
    EXPECT_EQ(result.exit_code, 5) << result.err;
    EXPECT_NE(result.err.find("10-site.conf:2:"), std::string::npos) << result.err;
    EXPECT_EQ(read_file(conf()), original_);
    EXPECT_EQ(reloads(), before);
}

TEST_F(PolicyEdit, NewFileIsRootOwnedAndWorldReadable) {
    fs::remove(conf());
    original_.clear();
    std::string writer = editor(
        "new.sh", "printf '%s' '" + default_test_policy(dir_ / "outbox.jsonl") + "' > \"$1\"");
    auto result = edit({{"EDITOR", writer}});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(read_file(conf()), default_test_policy(dir_ / "outbox.jsonl"));
    struct stat st {};
    ASSERT_EQ(stat(conf().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(st.st_gid, 0u);
    expect_no_leftovers();
}

}  // namespace
}  // namespace lwauth::test
