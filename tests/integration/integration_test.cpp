// The real lwauthd on a private dbus-daemon that uses the shipped bus policy: who may
// call what, reload and restart behaviour, what reaches disk and logs.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "login/engine.hpp"

namespace lwauth::test {
namespace {

class Integration : public ::testing::Test {
  protected:
    void SetUp() override { start(false); }

    void start(bool permissive_bus) {
        daemon_.reset();
        bus_.reset();
        bus_ = std::make_unique<PrivateBus>(dir_.path(), permissive_bus);
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    // Calls a method as `uid`; returns the D-Bus error name, or "" on success.
    std::string call_as(uid_t uid, const char* interface, const char* member,
                        const char* signature = "", const char* arg = nullptr) {
        std::string sig = signature;
        return test::call_as(bus_->address(), uid, interface, member, [&](sd_bus_message* m) {
            if (sig == "a{sv}") {
                sd_bus_message_append(m, "a{sv}", 2, "user", "s", "alice", "mode", "s",
                                      "second_factor");
            } else if (sig == "ss") {
                sd_bus_message_append(m, "ss", "0123456789abcdef", "123456");
            } else if (arg != nullptr) {
                sd_bus_message_append(m, signature, arg);
            }
        });
    }

    TempDir dir_{"lwauth-integration"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(Integration, NonRootStartsALoginForItsOwnUserOnly) {
    // The bus lets everyone call; lwauthd refuses a user other than the caller's own.
    EXPECT_EQ(call_as(65534, "org.lwauth.Auth1.Login", "Start", "a{sv}"),
              "org.lwauth.Auth1.Error.AccessDenied");
    EXPECT_EQ(call_as(40002, "org.lwauth.Auth1.Login", "Start", "a{sv}"),
              "org.lwauth.Auth1.Error.AccessDenied");
    // alice (40001) may, for alice; root for anyone.
    EXPECT_EQ(call_as(40001, "org.lwauth.Auth1.Login", "Start", "a{sv}"), "");
    EXPECT_EQ(call_as(0, "org.lwauth.Auth1.Login", "Start", "a{sv}"), "");
}

TEST_F(Integration, DaemonChecksCallersEvenWhenTheBusAllowsEverything) {
    start(/*permissive_bus=*/true);
    EXPECT_EQ(call_as(65534, "org.lwauth.Auth1.Login", "Start", "a{sv}"),
              "org.lwauth.Auth1.Error.AccessDenied");
    // A login of another connection: none, as far as this one can tell.
    EXPECT_EQ(call_as(65534, "org.lwauth.Auth1.Login", "Answer", "ss"),
              "org.lwauth.Auth1.Error.NoSuchLogin");
    EXPECT_EQ(call_as(40001, "org.lwauth.Auth1.Admin", "ReloadPolicy"),
              "org.lwauth.Auth1.Error.AccessDenied");
    EXPECT_NE(daemon_->log().find("non-root caller refused"), std::string::npos);
}

TEST_F(Integration, MalformedLoginCallsAreRefusedAndServiceGoesOn) {
    // Wrong signature: refused by sd-bus before any lwauth code runs.
    EXPECT_EQ(call_as(0, "org.lwauth.Auth1.Login", "Start", "s", "alice"),
              "org.freedesktop.DBus.Error.InvalidArgs");
    // An id that no login has.
    EXPECT_EQ(call_as(0, "org.lwauth.Auth1.Login", "Answer", "ss"),
              "org.lwauth.Auth1.Error.NoSuchLogin");
    // A login for nobody in particular.
    LoginResult empty = login_as_root(bus_->address(), "", "123456");
    EXPECT_EQ(empty.verdict, "org.lwauth.Auth1.Error.InvalidArgument");
    EXPECT_TRUE(daemon_->running());
    EXPECT_EQ(daemon_->ctl("alice", {"status"}).exit_code, 0);
}

TEST_F(Integration, UnknownUidHasNoAccountAndNobodyCannotReload) {
    // UID 40999 is in neither the bus's nor the daemon's user database.
    EXPECT_NE(call_as(40999, "org.lwauth.Auth1.Account", "Status"), "");
    EXPECT_EQ(call_as(65534, "org.lwauth.Auth1.Account", "Status"), "");
    EXPECT_EQ(call_as(65534, "org.lwauth.Auth1.Admin", "ReloadPolicy"),
              "org.lwauth.Auth1.Error.AccessDenied");
}

TEST_F(Integration, UsersActOnlyOnTheirOwnAccount) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    auto alice = daemon_->ctl("alice", {"--json", "status"});
    ASSERT_EQ(alice.exit_code, 0) << alice.err;
    EXPECT_NE(alice.out.find("\"user\": \"alice\""), std::string::npos);
    EXPECT_NE(alice.out.find("a\u2022\u2022\u2022@example.com"), std::string::npos);
    EXPECT_EQ(alice.out.find("alice@example.com"), std::string::npos)
        << "contacts are shown masked";

    // bob sees his own (empty) account, and his changes cannot reach alice's.
    auto bob = daemon_->ctl("bob", {"--json", "status"});
    EXPECT_NE(bob.out.find("\"user\": \"bob\""), std::string::npos);
    EXPECT_EQ(bob.out.find("example.com"), std::string::npos);
    EXPECT_NE(daemon_->ctl("bob", {"contact", "remove", "email"}).exit_code, 0);
    EXPECT_EQ(daemon_->ctl("bob", {"two-step", "off"}).exit_code, 0);
    auto again = daemon_->ctl("alice", {"--json", "status"});
    EXPECT_NE(again.out.find("\"two_step\": true"), std::string::npos);
    EXPECT_NE(again.out.find("\"email\""), std::string::npos);
}

TEST_F(Integration, BrokenPolicyOnReloadKeepsServing) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    daemon_->write_policy(default_test_policy(dir_ / "outbox.jsonl", "[code]\nlength = 99\n"));
    auto reload = daemon_->ctl("root", {"policy", "reload"});
    EXPECT_EQ(reload.exit_code, 5) << reload.err;
    EXPECT_NE(reload.err.find("lwauth.conf:"), std::string::npos) << reload.err;
    daemon_->reload();  // SIGHUP too
    EXPECT_TRUE(daemon_->running());
    auto status = daemon_->ctl("alice", {"status"});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    EXPECT_NE(daemon_->log().find("keeping the policy that is running"), std::string::npos)
        << daemon_->log();
    // The old policy still runs: 6-digit codes.
    EXPECT_EQ(daemon_->ctl("bob", {"contact", "add", "phone", "+81 90 1234 5678"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().code().size(), 6u);
}

TEST_F(Integration, GoodPolicyOnReloadTakesEffect) {
    daemon_->write_policy(default_test_policy(dir_ / "outbox.jsonl", "[code]\nlength = 8\n"));
    auto reload = daemon_->ctl("root", {"policy", "reload"});
    ASSERT_EQ(reload.exit_code, 0) << reload.err;
    ASSERT_EQ(daemon_->ctl("bob", {"contact", "add", "email", "bob@example.com"}).exit_code, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().code().size(), 8u);
}

// Threads of a running process: /proc/PID/task holds one entry each.
size_t thread_count(pid_t pid) {
    auto tasks = fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "task");
    return static_cast<size_t>(std::distance(tasks, fs::directory_iterator()));
}

// The event loop's thread and [daemon] workers threads; a reload does not change them.
TEST_F(Integration, RunsTheWorkerThreadsThePolicyAsksForUntilRestarted) {
    EXPECT_EQ(thread_count(daemon_->pid()), 1u + 2u) << "the default: 2 workers";
    daemon_->write_policy(default_test_policy(dir_ / "outbox.jsonl", "") +
                          "[daemon]\nworkers = 5\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    EXPECT_NE(daemon_->log().find("[daemon] changes take effect when lwauthd restarts"),
              std::string::npos)
        << daemon_->log();
    EXPECT_EQ(thread_count(daemon_->pid()), 1u + 2u);

    ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    EXPECT_EQ(thread_count(daemon_->pid()), 1u + 5u);
}

TEST_F(Integration, AdminGroupMemberMayReload) {
    daemon_->write_policy(default_test_policy(dir_ / "outbox.jsonl", "") +
                          "[policy]\nadmin_group = lwadmins\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    EXPECT_EQ(daemon_->ctl("frank", {"policy", "reload"}).exit_code, 0);
    auto denied = daemon_->ctl("alice", {"policy", "reload"});
    EXPECT_EQ(denied.exit_code, 3);
    EXPECT_NE(denied.err.find("Permission denied"), std::string::npos);
}

TEST_F(Integration, BrokenPolicyAtStartRefusesToStart) {
    daemon_->stop();
    daemon_->write_policy("[policy]\ntwo_step = sometimes\n");
    fs::remove_all(daemon_->state_dir());
    EXPECT_FALSE(daemon_->start());
    EXPECT_FALSE(fs::exists(daemon_->state_dir())) << "a refused start leaves nothing behind";
    EXPECT_NE(daemon_->log().find("lwauth.conf:2:"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("refusing to start"), std::string::npos);
}

TEST_F(Integration, SigtermStopsCleanly) {
    EXPECT_EQ(daemon_->stop(), 0);
}

TEST_F(Integration, LosingTheBusWithoutALoginSocketStopsWithAFailureForSystemdToRestart) {
    ASSERT_EQ(daemon_->stop(), 0);
    daemon_->serve_login_socket(false);
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    bus_->kill();
    EXPECT_EQ(daemon_->wait_exit(std::chrono::seconds(20)), 1);
    EXPECT_NE(daemon_->log().find("connection was lost"), std::string::npos) << daemon_->log();
}

// With the login socket lwauthd serves root's logins there while the bus is gone
// (tests/pam/login_socket_test.cpp logs in through it), and leaves for systemd to start
// it on the bus again once the bus is back.
TEST_F(Integration, LosingTheBusKeepsTheLoginSocketUntilTheBusIsBack) {
    bus_->kill();
    ASSERT_TRUE(daemon_->log_shows("bus-lost")) << daemon_->log();
    EXPECT_EQ(daemon_->wait_exit(std::chrono::seconds(3)), std::nullopt) << daemon_->log();
    bus_ = std::make_unique<PrivateBus>(dir_.path());  // at the same address
    EXPECT_EQ(daemon_->wait_exit(std::chrono::seconds(20)), 1) << daemon_->log();
    EXPECT_NE(daemon_->log().find("bus-back"), std::string::npos) << daemon_->log();
}

TEST_F(Integration, RestartKeepsContactsAndLockouts) {
    daemon_->write_policy(
        default_test_policy(dir_ / "outbox.jsonl", "[user:alice]\nlockout.max_failures = 2\n"));
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    ASSERT_TRUE(daemon_->enroll("alice", "phone", "+81 90 1234 5678"));
    LoginResult locked = login_as_root(bus_->address(), "alice", "000000x");
    ASSERT_EQ(locked.verdict, "maxtries");
    EXPECT_EQ(locked.prompts, 2);

    ASSERT_EQ(daemon_->stop(), 0);
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    auto status = daemon_->ctl("alice", {"--json", "status"});
    EXPECT_NE(status.out.find("\"phone\": \"+81 \u2022\u2022 \u2022\u2022\u2022\u2022 5678\""),
              std::string::npos)
        << status.out;
    EXPECT_NE(status.out.find("\"two_step\": true"), std::string::npos);
    EXPECT_EQ(status.out.find("\"locked_until\": 0"), std::string::npos)
        << "the lockout survives a restart";
    size_t sent = read_outbox(daemon_->outbox()).size();
    LoginResult after = login_as_root(bus_->address(), "alice", "000000");
    EXPECT_EQ(after.verdict, "maxtries");
    EXPECT_EQ(after.prompts, 0);
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent) << "no code is sent to a locked account";
}

TEST_F(Integration, ClientLeavingTheBusAbandonsItsLogin) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    // Start a login in a child process that then exits without answering.
    pid_t pid = fork();
    if (pid == 0) {
        sd_bus* bus = nullptr;
        sd_bus_new(&bus);
        sd_bus_set_address(bus, bus_->address().c_str());
        sd_bus_set_bus_client(bus, 1);
        sd_bus_start(bus);
        sd_bus_call_method(bus, "org.lwauth.Auth1", "/org/lwauth/Auth1", "org.lwauth.Auth1.Login",
                           "Start", nullptr, nullptr, "a{sv}", 2, "user", "s", "alice", "mode", "s",
                           "second_factor");
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    for (int i = 0; i < 200 && daemon_->log().find("login-abandoned") == std::string::npos; ++i) {
        usleep(20 * 1000);
    }
    EXPECT_NE(daemon_->log().find("login abandoned: its client left the bus"), std::string::npos)
        << daemon_->log();
}

TEST_F(Integration, OnlyTheBusDriverSaysThatAClientLeft) {
    // A bus that lets anyone send anyone a signal: lwauthd alone must tell a forged
    // NameOwnerChanged from the bus driver's.
    start(/*permissive_bus=*/true);
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    BusMonitor asked(bus_->address(), "GetConnectionUnixUser");
    std::string client;
    LoginResult login = login_as_root_named(bus_->address(), "alice", [&](const std::string& name) {
        client = name;
        // bob says root's PAM client has left the bus.
        RunResult forged = run({"/usr/bin/dbus-send", "--bus=" + bus_->address(), "--type=signal",
                                "--dest=org.lwauth.Auth1", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus.NameOwnerChanged", "string:" + name,
                                "string:" + name, "string:"},
                               base_env(), uid_of("bob"));
        EXPECT_EQ(forged.exit_code, 0) << forged.err;
        // Until lwauthd has handled it: ignored it, or believed it and dropped the login.
        for (int i = 0; i < 500; ++i) {
            std::string log = daemon_->log();
            if (log.find("not sent by the bus driver") != std::string::npos ||
                log.find("login-abandoned") != std::string::npos) {
                break;
            }
            usleep(20 * 1000);
        }
        return read_outbox(daemon_->outbox()).back().code();
    });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(login.prompts, 1);
    EXPECT_EQ(daemon_->log().find("login-abandoned"), std::string::npos) << daemon_->log();
    EXPECT_NE(daemon_->log().find("NameOwnerChanged not sent by the bus driver ignored"),
              std::string::npos);
    // The EUID lwauthd took for root's connection at Start still served the Answer.
    auto calls = asked.calls();
    EXPECT_EQ(std::count(calls.begin(), calls.end(), client), 1) << "asked the bus again";
}

TEST_F(Integration, TheShippedIntrospectionIsWhatLwauthdServes) {
    sd_bus* bus = nullptr;
    sd_bus_message* reply = nullptr;
    const char* xml = nullptr;
    ASSERT_GE(sd_bus_new(&bus), 0);
    std::unique_ptr<sd_bus, decltype(&sd_bus_flush_close_unref)> owned(bus,
                                                                       sd_bus_flush_close_unref);
    ASSERT_GE(sd_bus_set_address(bus, bus_->address().c_str()), 0);
    ASSERT_GE(sd_bus_set_bus_client(bus, 1), 0);
    ASSERT_GE(sd_bus_start(bus), 0);
    ASSERT_GE(sd_bus_call_method(bus, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                                 "org.freedesktop.DBus.Introspectable", "Introspect", nullptr,
                                 &reply, ""),
              0);
    std::unique_ptr<sd_bus_message, decltype(&sd_bus_message_unref)> answer(reply,
                                                                            sd_bus_message_unref);
    ASSERT_GE(sd_bus_message_read(reply, "s", &xml), 0);
    write_file(dir_ / "live.xml", xml);

    RunResult check = run(
        {"/usr/bin/python3", (source_dir() / "tests/integration/introspection_check.py").string(),
         (source_dir() / "packaging/dbus/org.lwauth.Auth1.xml").string(),
         (dir_ / "live.xml").string(),
         (source_dir() / "common/include/lwauth/bus_names.hpp").string(),
         std::to_string(LoginEngine::kMaxPendingLogins)},
        base_env());
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    EXPECT_EQ(check.out, "");
}

TEST_F(Integration, PolicyCheckReportsEveryErrorWithFileAndLine) {
    TempDir policy_dir("lwauth-policy");
    write_file(policy_dir / "lwauth.conf",
               "[policy]\ntwo_step = sometimes\n\n[code]\nlength = 99\nbogus = 1\n");
    write_file(policy_dir / "lwauth.conf.d/10-site.conf", "[lockout]\nduration = 5 minutes\n");
    auto bad = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
    EXPECT_EQ(bad.exit_code, 5);
    for (const char* where :
         {"lwauth.conf:2:", "lwauth.conf:5:", "lwauth.conf:6:", "10-site.conf:2:"}) {
        EXPECT_NE(bad.err.find(where), std::string::npos) << where << " in:\n" << bad.err;
    }
    EXPECT_NE(bad.err.find("4 errors"), std::string::npos) << bad.err;

    auto json = daemon_->ctl("root", {"policy", "check", policy_dir.path().string(), "--json"});
    EXPECT_EQ(json.exit_code, 5);
    EXPECT_NE(json.out.find("\"valid\": false"), std::string::npos) << json.out;

    auto good = daemon_->ctl("root", {"policy", "check", daemon_->config_dir().string(), "--user",
                                      "alice", "--group", "ops"});
    EXPECT_EQ(good.exit_code, 0) << good.err;
    EXPECT_NE(good.out.find("is valid"), std::string::npos);
    EXPECT_NE(good.out.find("two_step = optional"), std::string::npos) << good.out;
}

// LINE login allowed for one group needs the channel and the URL the phone reaches, each
// problem named with its file and line; an endpoint beyond loopback is warned about.
TEST_F(Integration, PolicyCheckSaysWhatLineLoginNeeds) {
    TempDir policy_dir("lwauth-policy");
    write_file(policy_dir / "lwauth.conf", "[policy]\ntwo_step = off\n");
    write_file(policy_dir / "lwauth.conf.d/20-line.conf",
               "[group:ops]\nlogin_with_line = allowed\n[line]\nchannel_id = 1657000000\n"
               "public_url = http://login.example.com\nid_token_alg = ES256\njwks_url =\n");
    auto bad = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
    EXPECT_EQ(bad.exit_code, 5) << bad.out << bad.err;
    const std::string dropin = (policy_dir / "lwauth.conf.d/20-line.conf").string();
    for (const std::string& error :
         {dropin + ":2: login_with_line = allowed requires channel_secret_file, public_url in "
                   "[line]",
          dropin + ":5: bad value 'http://login.example.com' for public_url: expected a URL "
                   "starting with https:// (http:// only to a loopback host: 127.0.0.1, [::1] "
                   "or localhost)",
          dropin + ":6: id_token_alg = ES256 requires jwks_url in [line]"}) {
        EXPECT_NE(bad.err.find(error + "\n"), std::string::npos) << error << " in:\n" << bad.err;
    }
    EXPECT_NE(bad.err.find("3 errors"), std::string::npos) << bad.err;

    write_file(policy_dir / "secret", "channel-secret\n", fs::perms(0600));
    write_file(policy_dir / "lwauth.conf.d/20-line.conf",
               "[group:ops]\nlogin_with_line = allowed\n[line]\nchannel_id = 1657000000\n"
               "channel_secret_file = " +
                   (policy_dir / "secret").string() +
                   "\npublic_url = https://login.example.com\nlisten = 0.0.0.0:8741\n");
    auto good = daemon_->ctl("root", {"policy", "check", policy_dir.path().string()});
    EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
    EXPECT_EQ(good.err, dropin +
                            ":7: listen = 0.0.0.0:8741 is not a loopback address: lwauthd's "
                            "LINE endpoint speaks plain HTTP, so it should sit behind the "
                            "site's TLS proxy (public_url) and be reachable only from it "
                            "(warning)\n");
}

// The shipped policy configures no delivery channel: policy check says so, and nothing
// else is wrong with it.
TEST_F(Integration, TheShippedPolicyDeliversNothingAndPolicyCheckSaysSo) {
    // A copy, root's as lwauth requires, whoever owns the source tree.
    TempDir shipped("lwauth-shipped");
    fs::copy(source_dir() / "etc/lwauth", shipped.path(), fs::copy_options::recursive);
    auto check = daemon_->ctl("root", {"policy", "check", shipped.path().string()});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    EXPECT_NE(check.out.find("is valid"), std::string::npos) << check.out;
    EXPECT_NE(check.err.find("no delivery channel configured"), std::string::npos) << check.err;
    EXPECT_EQ(std::count(check.err.begin(), check.err.end(), '\n'), 1) << check.err;
}

// A drop-in turns off the outbox that lwauth.conf defines: lwauthd then has nothing to send
// email with, and says so instead of writing the code to the file.
TEST_F(Integration, ADropInTurnsOffAChannelOfLwauthConf) {
    write_file(daemon_->config_dir() / "lwauth.conf.d/50-off.conf",
               "[channel.outbox]\nenabled = no\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0) << daemon_->log();
    auto add = daemon_->ctl("alice", {"contact", "add", "email", "alice@example.com"});
    EXPECT_EQ(add.exit_code, 1) << add.out << add.err;
    EXPECT_NE(add.err.find("This host cannot send email."), std::string::npos) << add.err;
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

// The subcommands `lwauthctl [PATH...] --help` lists, as full paths ("admin contact set").
std::vector<std::string> ctl_commands(const std::vector<std::string>& path = {}) {
    std::vector<std::string> argv{lwauthctl_path().string()};
    argv.insert(argv.end(), path.begin(), path.end());
    argv.emplace_back("--help");
    RunResult help = run(argv, base_env());
    std::vector<std::string> found;
    std::istringstream lines(help.out);
    bool listing = false;
    for (std::string line; std::getline(lines, line);) {
        if (line == "Subcommands:") {
            listing = true;
            continue;
        }
        std::smatch match;
        static const std::regex entry(R"(^  ([a-z][a-z-]*) )");
        if (listing && std::regex_search(line, match, entry)) {
            std::vector<std::string> sub = path;
            sub.push_back(match[1].str());
            std::string name;
            for (const auto& word : sub) {
                name += (name.empty() ? "" : " ") + word;
            }
            auto deeper = ctl_commands(sub);
            if (deeper.empty()) {
                found.push_back(name);
            }
            found.insert(found.end(), deeper.begin(), deeper.end());
        } else if (listing && line.empty()) {
            listing = false;
        }
    }
    return found;
}

// Each command lwauthctl has is a term of lwauthctl(1)'s COMMANDS (a line after .TP).
TEST_F(Integration, EveryLwauthctlCommandIsInItsManPage) {
    std::vector<std::string> terms;
    std::istringstream man(read_file(source_dir() / "docs/lwauthctl.1"));
    bool after_tp = false;
    bool in_commands = false;
    for (std::string line; std::getline(man, line);) {
        if (line.starts_with(".SH")) {
            in_commands = line == ".SH COMMANDS";
        }
        if (after_tp && in_commands) {
            // ".BI "contact add " "KIND VALUE"" -> "contact add KIND VALUE"
            std::string plain =
                std::regex_replace(line, std::regex(R"(^\.[A-Z]+ |\\f[A-Z]|")"), "");
            plain = std::regex_replace(plain, std::regex(R"(\\-)"), "-");
            terms.push_back(std::regex_replace(plain, std::regex(" +"), " "));
        }
        after_tp = line == ".TP";
    }
    std::vector<std::string> commands = ctl_commands();
    ASSERT_GE(commands.size(), 15u) << "the help lists the commands";
    for (const auto& command : commands) {
        bool found = std::any_of(terms.begin(), terms.end(), [&](const std::string& term) {
            return term == command || term.starts_with(command + " ") ||
                   term.starts_with(command + "|");
        });
        EXPECT_TRUE(found) << "lwauthctl(1) has no term for: lwauthctl " << command;
    }
}

TEST_F(Integration, TheCliSaysWhatToDoWithoutPuttingCodesOnTheCommandLine) {
    auto add = daemon_->ctl("alice", {"contact", "add", "email", "alice@example.com"});
    ASSERT_EQ(add.exit_code, 0) << add.err;
    EXPECT_NE(add.out.find("Run: lwauthctl contact confirm email, and type the code."),
              std::string::npos)
        << add.out;
    EXPECT_EQ(add.out.find("CODE"), std::string::npos) << add.out;

    // Nothing pending: said before any code is asked for (or read).
    auto none = daemon_->ctl("alice", {"contact", "confirm", "phone"}, "123456\n");
    EXPECT_EQ(none.exit_code, 1);
    EXPECT_NE(none.err.find("No phone is waiting for confirmation; add it first: lwauthctl "
                            "contact add phone NUMBER"),
              std::string::npos)
        << none.err;

    ASSERT_EQ(daemon_
                  ->ctl("alice", {"contact", "confirm", "email"},
                        read_outbox(daemon_->outbox()).back().code() + "\n")
                  .exit_code,
              0);
    // Removing the last contact turns 2-step off, and says so.
    auto removed = daemon_->ctl_with_code("alice", {"contact", "remove", "email"});
    ASSERT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_NE(removed.out.find("Your email was removed. 2-step verification is now off"),
              std::string::npos)
        << removed.out;
}

TEST_F(Integration, CtlUsageErrorsNameTheCommandAndStayJsonUnderJson) {
    auto bogus = daemon_->ctl("alice", {"bogus"});
    EXPECT_EQ(bogus.exit_code, 2);
    EXPECT_NE(bogus.err.find("unknown command 'bogus' for lwauthctl; expected one of status, "
                             "contact, two-step, line, pin, totp, recovery, forget, admin, policy"),
              std::string::npos)
        << bogus.err;
    auto missing = daemon_->ctl("alice", {"contact"});
    EXPECT_NE(missing.err.find("lwauthctl contact needs a command: one of add, confirm"),
              std::string::npos)
        << missing.err;
    auto json = daemon_->ctl("alice", {"--json", "contact", "frob"});
    EXPECT_EQ(json.exit_code, 2);
    auto parsed = nlohmann::json::parse(json.out, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << json.out;
    EXPECT_EQ(parsed["error"], "usage");
    EXPECT_NE(parsed["message"].get<std::string>().find("unknown command 'frob'"),
              std::string::npos);
}

TEST_F(Integration, CtlUsageErrorsExitTwo) {
    EXPECT_EQ(daemon_->ctl("alice", {"frobnicate"}).exit_code, 2);
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "add", "fax", "123"}).exit_code, 2);
    EXPECT_EQ(daemon_->ctl("alice", {"status", "--json"}).exit_code, 0);
}

TEST_F(Integration, StateFilesArePrivateAndHoldNoSecrets) {
    ASSERT_TRUE(daemon_->enroll("alice", "phone", "+819012345678"));
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    auto codes = read_outbox(daemon_->outbox());
    ASSERT_EQ(codes.size(), 3u) << "two confirmations, and the proof before the second";
    daemon_->stop();
    for (const char* name : {"lwauth.db", "code.key", "contacts.key"}) {
        struct stat st {};
        ASSERT_EQ(stat((daemon_->state_dir() / name).c_str(), &st), 0) << name;
        EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
    }
    struct stat st {};
    ASSERT_EQ(stat(daemon_->outbox().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::string everything = daemon_->log();
    for (const auto& entry : fs::directory_iterator(daemon_->state_dir())) {
        everything += read_file(entry.path());
    }
    for (const auto& m : codes) {
        EXPECT_EQ(everything.find(m.code()), std::string::npos)
            << "a code reached the state or the log";
    }
    EXPECT_EQ(everything.find("9012345678"), std::string::npos)
        << "a phone number is stored or logged in clear";
    EXPECT_EQ(everything.find("alice@example.com"), std::string::npos);
}

TEST_F(Integration, BadContactValuesAreRefusedClearly) {
    auto phone = daemon_->ctl("alice", {"contact", "add", "phone", "090-1234-5678"});
    EXPECT_EQ(phone.exit_code, 1);
    EXPECT_NE(phone.err.find("international form"), std::string::npos) << phone.err;
    auto email = daemon_->ctl("alice", {"contact", "add", "email", "not an address"});
    EXPECT_EQ(email.exit_code, 1);
    EXPECT_NE(email.err.find("valid email address"), std::string::npos) << email.err;
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

TEST_F(Integration, WrongConfirmationCodeSavesNothing) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "email", "alice@example.com"}).exit_code, 0);
    std::string code = read_outbox(daemon_->outbox()).back().code();
    std::string wrong = code;
    wrong.back() = code.back() == '0' ? '1' : '0';
    auto confirm = daemon_->ctl("alice", {"contact", "confirm", "email", wrong});
    EXPECT_EQ(confirm.exit_code, 1);
    EXPECT_NE(confirm.err.find("Wrong code"), std::string::npos) << confirm.err;
    auto status = daemon_->ctl("alice", {"--json", "status"});
    EXPECT_NE(status.out.find("\"two_step\": false"), std::string::npos) << status.out;
    // The right code still works (tries are left), and only once.
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "confirm", "email"}, code + "\n").exit_code, 0);
    EXPECT_NE(daemon_->ctl("alice", {"contact", "confirm", "email", code}).exit_code, 0);
}

// A small tmpfs, filled up: writes there fail with ENOSPC. Unmounted when it dies.
class FullFilesystem {
  public:
    explicit FullFilesystem(const fs::path& where) : where_(where) {
        fs::create_directories(where_);
        if (::mount("tmpfs", where_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") !=
            0) {
            throw std::runtime_error("mount tmpfs on " + where_.string() + ": " +
                                     std::strerror(errno));
        }
        std::ofstream filler(where_ / "filler");
        std::string block(4096, 'x');
        while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
            filler.flush();
        }
    }
    ~FullFilesystem() { ::umount2(where_.c_str(), MNT_DETACH); }
    FullFilesystem(const FullFilesystem&) = delete;
    FullFilesystem& operator=(const FullFilesystem&) = delete;

  private:
    fs::path where_;
};

TEST_F(Integration, FullDiskOnTheOutboxFailsClearlyAndSavesNothing) {
    // A real file on a full filesystem (the outbox refuses /dev/full: not a regular file).
    FullFilesystem full(dir_ / "full");
    daemon_->write_policy(default_test_policy(dir_ / "full/outbox.jsonl"));
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    auto add = daemon_->ctl("alice", {"contact", "add", "email", "alice@example.com"});
    EXPECT_NE(add.exit_code, 0);
    EXPECT_NE(daemon_->log().find("No space left on device"), std::string::npos) << daemon_->log();
    auto status = daemon_->ctl("alice", {"--json", "status"});
    EXPECT_EQ(status.out.find("pending_email"), std::string::npos);
}

TEST_F(Integration, AnInternalErrorIsToldInDetailToRootAlone) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    // alice's contact damaged in the database under the running lwauthd.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((daemon_->state_dir() / "lwauth.db").c_str(), &db), SQLITE_OK);
    int rc = sqlite3_exec(db, "UPDATE contacts SET sealed_value = x'00' WHERE user = 'alice'",
                          nullptr, nullptr, nullptr);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK);
    const std::string detail = "tored contact is damaged";  // lwauthctl capitalises

    auto status = daemon_->ctl("alice", {"status"});
    EXPECT_EQ(status.exit_code, 1);
    EXPECT_NE(status.err.find("Internal error; see lwauthd's log"), std::string::npos)
        << status.err;
    EXPECT_EQ(status.err.find(detail), std::string::npos) << status.err;
    EXPECT_NE(daemon_->log().find(detail), std::string::npos) << daemon_->log();

    auto shown = daemon_->ctl("root", {"admin", "show", "alice"});
    EXPECT_EQ(shown.exit_code, 1);
    EXPECT_NE(shown.err.find(detail), std::string::npos) << shown.err;
}

TEST_F(Integration, TwoStepTurnsOnWithTheFirstContactAndOffOnRequest) {
    auto before = daemon_->ctl("alice", {"--json", "status"});
    EXPECT_NE(before.out.find("\"two_step\": false"), std::string::npos);
    EXPECT_NE(daemon_->ctl("alice", {"two-step", "on"}).exit_code, 0)
        << "needs a verified contact first";
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    EXPECT_NE(daemon_->ctl("alice", {"--json", "status"}).out.find("\"two_step\": true"),
              std::string::npos);
    EXPECT_EQ(daemon_->ctl_with_code("alice", {"two-step", "off"}).exit_code, 0);
    EXPECT_NE(daemon_->ctl("alice", {"--json", "status"}).out.find("\"two_step\": false"),
              std::string::npos);
}

TEST_F(Integration, RequiredTwoStepCannotBeTurnedOff) {
    daemon_->write_policy(
        default_test_policy(dir_ / "outbox.jsonl", "[user:alice]\ntwo_step = required\n"));
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    auto off = daemon_->ctl("alice", {"two-step", "off"});
    EXPECT_EQ(off.exit_code, 1);
    EXPECT_NE(off.err.find("requires 2-step verification"), std::string::npos) << off.err;
    auto remove = daemon_->ctl("alice", {"contact", "remove", "email"});
    EXPECT_EQ(remove.exit_code, 1);
    EXPECT_NE(remove.err.find("add another"), std::string::npos) << remove.err;
}

TEST_F(Integration, CtlSaysClearlyWhenTheDaemonIsNotRunning) {
    daemon_->stop();
    auto status = daemon_->ctl("alice", {"status"});
    EXPECT_EQ(status.exit_code, 4);
    EXPECT_NE(status.err.find("lwauthd is not running"), std::string::npos) << status.err;
}

// ---- SMS pumping: however many sends are asked for, at most the caps go out --------------

TEST_F(Integration, PumpingOneAccountSendsAtMostItsHourlyCap) {
    // A drop-in, as a site would add one: later files win.
    write_file(daemon_->config_dir() / "lwauth.conf.d/50-caps.conf",
               "[code]\nmax_sends_per_hour = 4\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    int refused = 0;
    for (int i = 0; i < 30; ++i) {
        // A different number each time: the per-destination cap alone would not stop this.
        auto r = daemon_->ctl("alice",
                              {"contact", "add", "phone", "+8190000000" + std::to_string(10 + i)});
        if (r.exit_code != 0) {
            ++refused;
            EXPECT_NE(
                r.err.find("Too many codes were sent recently. The next code can be sent in "),
                std::string::npos)
                << r.err;
        }
    }
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 4u);
    EXPECT_EQ(refused, 26);
}

TEST_F(Integration, PumpingOneNumberFromManyAccountsSendsAtMostItsCap) {
    // A drop-in, as a site would add one: later files win.
    write_file(daemon_->config_dir() / "lwauth.conf.d/50-caps.conf",
               "[code]\nmax_sends_per_destination_per_hour = 3\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    for (const auto& user : test_users()) {
        for (int i = 0; i < 3; ++i) {
            (void)daemon_->ctl(user.name, {"contact", "add", "phone", "+819012345678"});
        }
    }
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 3u);
}

TEST_F(Integration, PumpingTheHostSendsAtMostTheHostCap) {
    // A drop-in, as a site would add one: later files win.
    write_file(daemon_->config_dir() / "lwauth.conf.d/50-caps.conf",
               "[code]\nmax_sends_per_host_per_hour = 5\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    int i = 0;
    for (const auto& user : test_users()) {
        for (int j = 0; j < 4; ++j, ++i) {
            (void)daemon_->ctl(user.name, {"contact", "add", "email",
                                           "pump" + std::to_string(i) + "@example.com"});
        }
    }
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 5u);
}

TEST_F(Integration, SendsCountedBeforeACrashStillCountAfterTheRestart) {
    write_file(daemon_->config_dir() / "lwauth.conf.d/50-caps.conf",
               "[code]\nmax_sends_per_hour = 3\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    ASSERT_TRUE(daemon_->enroll("alice", "phone", "+81 90 1234 5678"));
    size_t enrolled = read_outbox(daemon_->outbox()).size();
    CallRound start{"org.lwauth.Auth1.Login", "Start", [](const std::vector<CallReply>&) {
                        return std::vector<Append>{[](sd_bus_message* m) {
                            sd_bus_message_append(m, "a{sv}", 2, "user", "s", "alice", "mode", "s",
                                                  "second_factor");
                        }};
                    }};
    // A code goes out, lwauthd is killed some milliseconds later and started again.
    std::vector<std::string> verdicts;
    for (int delay_ms : {0, 10, 50, 100}) {
        auto rounds = call_rounds_as(bus_->address(), 0, {start});
        ASSERT_EQ(rounds.size(), 1u);
        ASSERT_EQ(rounds[0].size(), 1u);
        verdicts.push_back(rounds[0][0].error + rounds[0][0].verdict);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        daemon_->kill();
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }
    EXPECT_EQ(verdicts, (std::vector<std::string>{"", "", "", "denied"}))
        << "the fourth login finds the cap of 3 reached";
    EXPECT_EQ(read_outbox(daemon_->outbox()).size() - enrolled, 3u);
}

TEST_F(Integration, ACountryOutsideTheAllowListIsRefused) {
    daemon_->write_policy(default_test_policy(dir_ / "outbox.jsonl") +
                          "[code]\nsms_country_prefixes = +81\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    auto r = daemon_->ctl("alice", {"contact", "add", "phone", "+44 20 7946 0958"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("cannot be used on this host"), std::string::npos) << r.err;
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
    EXPECT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+81 90 1234 5678"}).exit_code, 0);
}

}  // namespace
}  // namespace lwauth::test
