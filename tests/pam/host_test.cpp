// pam_lwauth.so in a PAM application with libpam as it is (lwauth-pam-host, no
// pam_wrapper), as su and sshd load it: it leaves no descriptor behind in the application
// and none that a program the application runs would inherit, and, loaded into a setuid
// program, it takes nothing from the caller's environment: not the login socket
// (LWAUTH_LOGIN_SOCKET), not the bus (DBUS_SYSTEM_BUS_ADDRESS).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <security/pam_appl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

// What lwauth-pam-host reported, key=value a line.
std::map<std::string, std::string> report(const std::string& out) {
    std::map<std::string, std::string> fields;
    size_t at = 0;
    while (at < out.size()) {
        size_t end = out.find('\n', at);
        std::string line = out.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (auto eq = line.find('='); eq != std::string::npos) {
            fields[line.substr(0, eq)] = line.substr(eq + 1);
        }
        at = end == std::string::npos ? out.size() : end + 1;
    }
    return fields;
}

class PamHost : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
        write_file(
            dir_ / "pam.d" / "lwauth-host",
            "auth required " + std::string(LWAUTH_PAM_MODULE_PATH) + " mode=second_factor\n");
    }

    [[nodiscard]] std::vector<std::string> host_argv() const {
        return {LWAUTH_PAM_HOST_PATH, (dir_ / "pam.d").string(), "lwauth-host", "alice"};
    }

    // The host as root, `env` its environment, answering with the code sent to alice.
    std::map<std::string, std::string> log_in(const std::map<std::string, std::string>& env) {
        size_t sent = read_outbox(daemon_->outbox()).size();
        RunResult r = run_with_late_input(
            host_argv(), env, std::nullopt, "",
            [&](const std::function<bool()>& child_runs) -> std::string {
                auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
                while (child_runs() && std::chrono::steady_clock::now() < deadline) {
                    auto messages = read_outbox(daemon_->outbox());
                    if (messages.size() > sent) {
                        return messages.back().code() + "\n";
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                }
                return "";
            });
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        return report(r.out);
    }

    // The host in a mount namespace of its own where /run is empty (no system bus, no
    // login socket where lwauth looks by default), with real UID `ruid` and effective UID
    // 0, as a setuid-root program runs when `ruid` starts it; `env` is its environment.
    // Three wrong answers are on its standard input.
    std::map<std::string, std::string> run_setuid(uid_t ruid,
                                                  const std::map<std::string, std::string>& env) {
        TempDir io("lwauth-host-io");
        write_file(io / "in", "000000\n000000\n000000\n");
        pid_t pid = fork();
        if (pid == 0) {
            int in = ::open((io / "in").c_str(), O_RDONLY);
            int out = ::open((io / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
                unshare(CLONE_NEWNS) != 0 ||
                mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
                mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") != 0 ||
                setgroups(0, nullptr) != 0 || setresuid(ruid, 0, 0) != 0) {
                _exit(126);
            }
            std::vector<std::string> strings;
            for (const auto& [k, v] : env) {
                strings.push_back(k + "=" + v);
            }
            std::vector<char*> envp;
            for (auto& s : strings) {
                envp.push_back(s.data());
            }
            envp.push_back(nullptr);
            std::vector<std::string> args = host_argv();
            std::vector<char*> argv;
            for (auto& a : args) {
                argv.push_back(a.data());
            }
            argv.push_back(nullptr);
            execve(argv[0], argv.data(), envp.data());
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
        return report(read_file(io / "out"));
    }

    TempDir dir_{"lwauth-host"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(PamHost, OverTheLoginSocketNoDescriptorIsLeftOrInherited) {
    auto env = base_env();
    env["LWAUTH_LOGIN_SOCKET"] = daemon_->login_socket().string();
    auto seen = log_in(env);
    EXPECT_EQ(seen["result"], std::to_string(PAM_SUCCESS)) << daemon_->log();
    EXPECT_NE(seen["held"], "0") << "the module held its connection at the prompt";
    EXPECT_EQ(seen["inheritable"], "") << "without close-on-exec";
    EXPECT_EQ(seen["leaked"], "") << "open after pam_end";
}

TEST_F(PamHost, OverTheBusNoDescriptorIsLeftOrInherited) {
    auto env = daemon_->client_env();
    env["LWAUTH_LOGIN_SOCKET"] = (dir_ / "no-such.socket").string();
    auto seen = log_in(env);
    EXPECT_EQ(seen["result"], std::to_string(PAM_SUCCESS)) << daemon_->log();
    EXPECT_NE(seen["held"], "0");
    EXPECT_EQ(seen["inheritable"], "");
    EXPECT_EQ(seen["leaked"], "");
}

TEST_F(PamHost, InASetuidProgramTheCallersSocketAndBusAreIgnored) {
    size_t sent = read_outbox(daemon_->outbox()).size();
    for (const char* name : {"LWAUTH_LOGIN_SOCKET", "DBUS_SYSTEM_BUS_ADDRESS"}) {
        auto env = base_env();
        env[name] = name == std::string("LWAUTH_LOGIN_SOCKET") ? daemon_->login_socket().string()
                                                               : bus_->address();
        // Started by root, the environment is the application's to give: lwauthd is
        // reached and asks for the code...
        auto as_root = run_setuid(0, env);
        EXPECT_NE(as_root["result"], std::to_string(PAM_AUTHINFO_UNAVAIL)) << name;
        EXPECT_NE(as_root["prompts"], "0") << name;
        // (Its wrong answers counted: no lockout for the next run.)
        EXPECT_EQ(daemon_->ctl("root", {"admin", "unlock", "alice"}).exit_code, 0);
        // ...started by alice, it is hers: neither is used, nothing else is there, and the
        // login fails closed, lwauthd never asked.
        size_t asked = read_outbox(daemon_->outbox()).size();
        auto as_alice = run_setuid(uid_of("alice"), env);
        EXPECT_EQ(as_alice["result"], std::to_string(PAM_AUTHINFO_UNAVAIL)) << name;
        EXPECT_EQ(as_alice["prompts"], "0") << name;
        EXPECT_EQ(read_outbox(daemon_->outbox()).size(), asked) << name << ": no code was sent";
    }
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), sent + 2) << "one code for each root run";
}

}  // namespace
}  // namespace lwauth::test
