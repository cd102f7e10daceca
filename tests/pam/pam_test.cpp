// The real pam_lwauth.so, loaded by the real libpam (redirected by pam_wrapper to the
// service files written here), driven by libpamtest against real stack layouts, with the
// real lwauthd on a private bus. Codes are read from the outbox while the conversation
// runs, as a person would read their phone.
#include <gtest/gtest.h>
extern "C" {
#include <libpamtest.h>  // a C header without extern "C" of its own
}
#include <security/pam_appl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "conversation.hpp"
#include "harness.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPamMatrix = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so";
constexpr const char* kPamSetItems = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so";
constexpr const char* kPamDeny = "/usr/lib/x86_64-linux-gnu/security/pam_deny.so";
constexpr const char* kPassword = "correct horse";

// What the person at the keyboard does.
struct Person {
    std::string password = kPassword;
    // Called for the code prompt; nullopt makes the conversation fail.
    std::function<std::optional<std::string>(int turn)> answer_code;
    std::vector<std::string> infos;
    std::vector<std::string> errors;
    int code_prompts = 0;
    int password_prompts = 0;
};

int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* person = static_cast<Person*>(data);
    return reply_each(n, msg, resp, [person](int style, const std::string& text) {
        std::optional<std::string> answer;
        if (style == PAM_TEXT_INFO) {
            person->infos.push_back(text);
        } else if (style == PAM_ERROR_MSG) {
            person->errors.push_back(text);
        } else if (text.find("assword") != std::string::npos) {
            ++person->password_prompts;
            answer = person->password;
        } else if (text.find("code") != std::string::npos && person->answer_code) {
            answer = person->answer_code(person->code_prompts++);
        }
        return answer;
    });
}

class Pam : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), false, bus_config());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy());
        daemon_->set_program(daemon_program());
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        // The module runs inside this process: point it at the private bus.
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
    }

    // pam_wrapper reads its service directory once per process, at the first pam_start(),
    // and keeps its copy: every suite of this process shares one directory, made once, and
    // the service files and passdb never change.
    static void SetUpTestSuite() {
        if (pam_dir_ != nullptr) {
            return;
        }
        static TempDir services("lwauth-pam-services");
        pam_dir_ = &services;
        setenv("PAM_WRAPPER_SERVICE_DIR", (pam_dir_->path() / "pam.d").c_str(), 1);
        std::string passdb;
        for (const auto& service : {"two_step", "full", "safe", "bad_timeout", "bad_mode",
                                    "short_timeout", "safe_short_timeout", "two_step_from",
                                    "password_first", "password_or_passwordless"}) {
            for (const auto& u : test_users()) {
                passdb += u.name + ":" + kPassword + ":" + service + "\n";
            }
            // A user named by a LINE user ID, for the LINE push test.
            passdb += std::string("U0123456789abcdef0123456789abcdef:") + kPassword + ":" +
                      service + "\n";
        }
        write_file(pam_dir_->path() / "passdb", passdb);
        std::string matrix =
            std::string(kPamMatrix) + " passdb=" + (pam_dir_->path() / "passdb").string();
        std::string module = LWAUTH_PAM_MODULE_PATH;
        write_service("two_step", "auth requisite " + matrix + "\nauth required " + module +
                                      " mode=second_factor\n");
        // PAM_RHOST and PAM_TTY from the test's environment (pam_wrapper's pam_set_items),
        // as sshd and login set them.
        write_service("two_step_from", "auth optional " + std::string(kPamSetItems) +
                                           "\nauth requisite " + matrix + "\nauth required " +
                                           module + " mode=second_factor\n");
        write_service("full", "auth [success=done ignore=ignore default=die] " + module +
                                  " mode=primary\nauth requisite " + matrix + "\nauth required " +
                                  module + " mode=second_factor\n");
        // lwauth's stack for an SSH key (pam_lwauth.8): the key was the first factor.
        write_service("ssh_key", "auth [success=done ignore=ignore default=die] " + module +
                                     " mode=second_factor\nauth requisite " + kPamDeny + "\n");
        // A wrong password that does not stop the stack at once (`required`).
        write_service("password_first", "auth required " + matrix + "\nauth required " + module +
                                            " mode=second_factor\n");
        // The password, or else a passwordless login that is the whole login
        // (`success=done`): only the password is followed by mode=second_factor.
        write_service("password_or_passwordless",
                      "auth [success=1 default=ignore] " + matrix +
                          "\nauth [success=done ignore=ignore default=die] " + module +
                          " mode=primary\nauth required " + module + " mode=second_factor\n");
        write_service("safe", "auth requisite " + matrix + "\nauth required " + module +
                                  " mode=second_factor failmode=safe\n");
        write_service("bad_timeout", "auth requisite " + matrix + "\nauth required " + module +
                                         " mode=second_factor timeout=soon\n");
        write_service("bad_mode", "auth requisite " + matrix + "\nauth required " + module +
                                      " mode=sideways failmode=safe\n");
        write_service("short_timeout", "auth requisite " + matrix + "\nauth required " + module +
                                           " mode=second_factor timeout=2 nonsense_option\n");
        // The passwordless stage alone, for the test daemon's method that waits.
        write_service("wait", "auth required " + module + " mode=primary timeout=4\n");
        write_service("wait_short", "auth required " + module + " mode=primary timeout=2\n");
        write_service("safe_short_timeout", "auth requisite " + matrix + "\nauth required " +
                                                module +
                                                " mode=second_factor failmode=safe timeout=3\n");
    }

    // What the private bus allows beyond the shipped policy, and the lwauthd to run.
    virtual std::string bus_config() {
        return "";
    }
    virtual fs::path daemon_program() {
        return lwauthd_path();
    }

    virtual std::string policy() {
        return default_test_policy(dir_ / "outbox.jsonl",
                                   "[user:carol]\nlockout.max_failures = 3\ncode.tries = 10\n"
                                   "[user:erin]\ntwo_step = required\n"
                                   "[user:dave]\ncode.lifetime = 30s\n"
                                   "[user:grace]\ntotp = allowed\n");
    }

    static void write_service(const std::string& name, const std::string& text) {
        write_file(pam_dir_->path() / "pam.d" / name,
                   text + "account required " + kPamMatrix +
                       " passdb=" + (pam_dir_->path() / "passdb").string() + "\n");
    }

    // Runs pam_authenticate for user in service; returns what libpam returned.
    int authenticate(const std::string& service, const std::string& user, Person& person) {
        struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
        _pamtest_conv(service.c_str(), user.c_str(), converse, &person, tests, 1, nullptr);
        return tests[0].op_rv;
    }

    // pam_authenticate, then (when it succeeded) pam_setcred(PAM_ESTABLISH_CRED) as sshd,
    // login, su and sudo call it, then pam_end; `between` runs on the handle after
    // pam_authenticate.
    // What pam_authenticate returned, and pam_setcred's in `setcred_rc`.
    static int authenticate_then_setcred(const std::string& service, const std::string& user,
                                         Person& person,
                                         const std::function<void(pam_handle_t*)>& between,
                                         int& setcred_rc) {
        struct pam_conv conv = {converse, &person};
        pam_handle_t* pamh = nullptr;
        int rc = pam_start(service.c_str(), user.c_str(), &conv, &pamh);
        if (rc != PAM_SUCCESS) {
            return rc;
        }
        rc = pam_authenticate(pamh, 0);
        between(pamh);
        setcred_rc = rc == PAM_SUCCESS ? pam_setcred(pamh, PAM_ESTABLISH_CRED) : -1;
        pam_end(pamh, rc);
        return rc;
    }

    // The user's last full login as the state database keeps it; 0 when never.
    [[nodiscard]] int64_t full_login_at(const std::string& user) const {
        RunResult r =
            run({"/usr/bin/sqlite3", (daemon_->state_dir() / "lwauth.db").string(),
                 "SELECT COALESCE(MAX(full_login_at), 0) FROM users WHERE name = '" + user + "'"},
                base_env());
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.exit_code == 0 ? std::stoll(r.out) : -1;
    }

    // Adds an authenticator app for `user` through lwauthctl and confirms it with the code
    // of the current step: its base32 secret, "" when that failed.
    std::string add_app(const std::string& user) {
        RunResult add = daemon_->ctl(user, {"--json", "totp", "add"});
        EXPECT_EQ(add.exit_code, 0) << add.err << daemon_->log();
        auto reply = nlohmann::json::parse(add.out, nullptr, false);
        std::string uri = reply.is_object() ? reply.value("uri", "") : "";
        auto at = uri.find("secret=");
        std::string secret = at == std::string::npos ? "" : uri.substr(at + 7, 32);
        RunResult confirm = daemon_->ctl(user, {"totp", "confirm", oathtool_totp(secret, 0)});
        EXPECT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err << daemon_->log();
        return confirm.exit_code == 0 ? secret : "";
    }

    // The newest code sent to a destination.
    std::string latest_code(const std::string& destination) {
        return test::latest_code(daemon_->outbox(), destination);
    }

    size_t sent() {
        return read_outbox(daemon_->outbox()).size();
    }

    static std::string wrong(const std::string& code) {
        std::string w = code.empty() ? "000000" : code;
        w.back() = w.back() == '0' ? '1' : '0';
        return w;
    }

    static inline TempDir* pam_dir_ = nullptr;
    TempDir dir_{"lwauth-pam"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(Pam, RightCodeSucceeds) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) { return latest_code("alice@example.com"); };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_SUCCESS);
    EXPECT_EQ(alice.code_prompts, 1);
    ASSERT_FALSE(alice.infos.empty());
    EXPECT_NE(alice.infos[0].find("by email to a\u2022\u2022\u2022@example.com"), std::string::npos)
        << alice.infos[0];
}

TEST_F(Pam, AnAuthenticatorAppCodeFromOathtoolLogsInOnce) {
    std::string secret = add_app("grace");
    ASSERT_FALSE(secret.empty());

    // The step after the enrolling code's, as the app shows it next.
    std::string code = oathtool_totp(secret, 30);
    Person grace;
    grace.answer_code = [&](int) { return code; };
    size_t before = sent();
    EXPECT_EQ(authenticate("two_step", "grace", grace), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(grace.code_prompts, 1);
    EXPECT_EQ(sent(), before) << "nothing is sent to a user with an app";
    Person again;
    again.answer_code = [&](int) { return code; };
    EXPECT_EQ(authenticate("two_step", "grace", again), PAM_AUTH_ERR) << "used once";
}

TEST_F(Pam, WrongCodeIsDeniedAfterTheTriesForOneCode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) { return wrong(latest_code("alice@example.com")); };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_AUTH_ERR);
    EXPECT_EQ(alice.code_prompts, 3);  // [code] tries = 3
    ASSERT_FALSE(alice.errors.empty());
    EXPECT_NE(alice.errors.back().find("No tries are left"), std::string::npos);
}

TEST_F(Pam, ReusedCodeIsDenied) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person first;
    std::string used;
    first.answer_code = [&](int) { return used = latest_code("alice@example.com"); };
    ASSERT_EQ(authenticate("two_step", "alice", first), PAM_SUCCESS);
    Person second;
    second.answer_code = [&](int) {
        // A new code was sent for this login; the old one must not open it.
        EXPECT_NE(latest_code("alice@example.com"), used);
        return used;
    };
    EXPECT_EQ(authenticate("two_step", "alice", second), PAM_AUTH_ERR);
}

TEST_F(Pam, ExpiredCodeIsDenied) {
    ASSERT_TRUE(daemon_->enroll("dave", "email", "dave@example.com"));
    Person dave;
    dave.answer_code = [&](int) {
        // dave's policy gives codes 30 s; wait them out as a slow person would.
        sleep(31);
        return latest_code("dave@example.com");
    };
    EXPECT_EQ(authenticate("two_step", "dave", dave), PAM_AUTH_ERR);
    ASSERT_FALSE(dave.errors.empty());
    EXPECT_NE(dave.errors.back().find("expired"), std::string::npos);
}

TEST_F(Pam, LocksOutAfterMaxFailuresAndStaysLocked) {
    ASSERT_TRUE(daemon_->enroll("carol", "phone", "+819012345678"));
    Person carol;
    carol.answer_code = [&](int) { return wrong(latest_code("+819012345678")); };
    EXPECT_EQ(authenticate("two_step", "carol", carol), PAM_MAXTRIES);
    EXPECT_EQ(carol.code_prompts, 3);  // carol: lockout.max_failures = 3
    EXPECT_NE(carol.errors.back().find("locked for 15 minutes"), std::string::npos)
        << carol.errors.back();

    // Even the right code is refused while locked; no code is sent.
    size_t before = sent();
    Person again;
    again.answer_code = [&](int) { return latest_code("+819012345678"); };
    EXPECT_EQ(authenticate("two_step", "carol", again), PAM_MAXTRIES);
    EXPECT_EQ(again.code_prompts, 0);
    EXPECT_EQ(sent(), before);
    EXPECT_NE(again.errors.back().find("Try again in 15 minutes"), std::string::npos);
}

TEST_F(Pam, ResendReplacesTheCode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    std::string first;
    alice.answer_code = [&](int turn) -> std::optional<std::string> {
        if (turn == 0) {
            first = latest_code("alice@example.com");
            return "r";
        }
        if (turn == 1) {
            return first;  // replaced: wrong now (unless the new code happens to be equal)
        }
        return latest_code("alice@example.com");
    };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_SUCCESS);
    if (first != latest_code("alice@example.com")) {
        EXPECT_EQ(alice.code_prompts, 3);
        EXPECT_EQ(alice.errors.size(), 1u);
    }
    EXPECT_EQ(sent(), 3u);  // confirmation, first code, resent code
}

TEST_F(Pam, ConversationErrorIsNotSuccess) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [](int) { return std::nullopt; };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_CONV_ERR);
}

TEST_F(Pam, DaemonAbsentDeniesUnderSecureFailmode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    daemon_->stop();
    Person alice;
    alice.answer_code = [](int) { return std::string("123456"); };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_AUTHINFO_UNAVAIL);
    ASSERT_FALSE(alice.errors.empty());
    EXPECT_NE(alice.errors[0].find("not available"), std::string::npos);
}

TEST_F(Pam, DaemonAbsentPassesUnderSafeFailmode) {
    daemon_->stop();
    Person alice;
    EXPECT_EQ(authenticate("safe", "alice", alice), PAM_SUCCESS);
    EXPECT_EQ(alice.code_prompts, 0);
    // ...but the password is still checked.
    Person intruder;
    intruder.password = "guess";
    EXPECT_EQ(authenticate("safe", "alice", intruder), PAM_AUTH_ERR);
}

TEST_F(Pam, DeliveryFailureFailsClosedEvenUnderSafeFailmode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    // A full disk under the outbox: lwauthd is up but cannot deliver. failmode=safe is
    // only for an unreachable daemon; this is the daemon's decision, and it fails closed.
    daemon_->write_policy(default_test_policy("/dev/full"));
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0);
    Person alice;
    alice.answer_code = [](int) { return std::string("123456"); };
    EXPECT_EQ(authenticate("safe", "alice", alice), PAM_AUTHINFO_UNAVAIL);
    EXPECT_EQ(alice.code_prompts, 0);
    ASSERT_FALSE(alice.errors.empty());
    EXPECT_NE(alice.errors[0].find("could not be sent"), std::string::npos) << alice.errors[0];
}

TEST_F(Pam, DaemonKilledMidConversationIsUnavailable) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) {
        std::string code = latest_code("alice@example.com");
        daemon_->kill();
        return code;
    };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_AUTHINFO_UNAVAIL);
}

TEST_F(Pam, RestartedDaemonDoesNotTakeOverALogin) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) {
        std::string code = latest_code("alice@example.com");
        daemon_->kill();
        EXPECT_TRUE(daemon_->start());
        return code;
    };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_AUTHINFO_UNAVAIL);
}

TEST_F(Pam, UserWithoutTwoStepUnderOptionalPasses) {
    Person bob;
    bob.answer_code = [](int) { return std::string("000000"); };
    EXPECT_EQ(authenticate("two_step", "bob", bob), PAM_SUCCESS);
    EXPECT_EQ(bob.code_prompts, 0);
    EXPECT_EQ(sent(), 0u);
}

TEST_F(Pam, RequiredWithoutContactIsDeniedWithWhatToDo) {
    Person erin;
    EXPECT_EQ(authenticate("two_step", "erin", erin), PAM_AUTH_ERR);
    ASSERT_FALSE(erin.errors.empty());
    EXPECT_NE(erin.errors[0].find("Ask your administrator"), std::string::npos) << erin.errors[0];
}

TEST_F(Pam, RequiredWithOnlyAProfileContactSendsTheCodeThereAndKeepsIt) {
    constexpr const char* kProfilePhone = "+819055556666";
    ASSERT_EQ(
        daemon_->ctl("root", {"admin", "contact", "set", "erin", "phone", kProfilePhone}).exit_code,
        0);
    Person erin;
    erin.answer_code = [&](int) { return latest_code(kProfilePhone); };
    EXPECT_EQ(authenticate("two_step", "erin", erin), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(erin.code_prompts, 1);
    std::string infos;
    for (const auto& line : erin.infos) {
        infos += line + "\n";
    }
    EXPECT_NE(infos.find("the code went to the one in your profile"), std::string::npos) << infos;
    EXPECT_NE(infos.find("+81 \u2022\u2022 \u2022\u2022\u2022\u2022 6666 now receives your "
                         "verification codes"),
              std::string::npos)
        << infos;
    EXPECT_EQ(infos.find(kProfilePhone), std::string::npos);

    // It is erin's login contact now, from the profile.
    auto status = daemon_->ctl("erin", {"--json", "status"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    auto json = nlohmann::json::parse(status.out);
    EXPECT_EQ(json.value("phone_source", ""), "profile") << status.out;
    EXPECT_EQ(json.value("two_step", false), true) << status.out;
}

TEST_F(Pam, WrongPasswordStopsBeforeAnyCodeIsSent) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    size_t before = sent();
    Person intruder;
    intruder.password = "guess";
    intruder.answer_code = [](int) { return std::string("000000"); };
    EXPECT_EQ(authenticate("two_step", "alice", intruder), PAM_AUTH_ERR);
    EXPECT_EQ(intruder.code_prompts, 0);
    EXPECT_EQ(sent(), before);
}

TEST_F(Pam, FullStackRunsPasswordThenCode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) { return latest_code("alice@example.com"); };
    EXPECT_EQ(authenticate("full", "alice", alice), PAM_SUCCESS);
    EXPECT_EQ(alice.password_prompts, 1);
    EXPECT_EQ(alice.code_prompts, 1);
}

TEST_F(Pam, FullStackDeniesAWrongCode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) { return wrong(latest_code("alice@example.com")); };
    EXPECT_EQ(authenticate("full", "alice", alice), PAM_AUTH_ERR);
}

TEST_F(Pam, FullStackWithoutTwoStepNeedsOnlyThePassword) {
    Person bob;
    EXPECT_EQ(authenticate("full", "bob", bob), PAM_SUCCESS);
    EXPECT_EQ(bob.password_prompts, 1);
    EXPECT_EQ(bob.code_prompts, 0);
}

TEST_F(Pam, FullStackWithDaemonAbsentDenies) {
    daemon_->stop();
    Person bob;
    int rc = authenticate("full", "bob", bob);
    EXPECT_NE(rc, PAM_SUCCESS);
    EXPECT_NE(rc, PAM_IGNORE);
}

TEST_F(Pam, MalformedOptionsFailClosed) {
    Person bob;
    EXPECT_EQ(authenticate("bad_timeout", "bob", bob), PAM_SERVICE_ERR);
    // failmode=safe does not rescue a malformed option.
    EXPECT_EQ(authenticate("bad_mode", "bob", bob), PAM_SERVICE_ERR);
}

TEST_F(Pam, UnknownOptionsAreIgnored) {
    Person bob;
    EXPECT_EQ(authenticate("short_timeout", "bob", bob), PAM_SUCCESS);
}

TEST_F(Pam, StoppedDaemonIsNotWaitedForPastTheTimeout) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) {
        // Freeze lwauthd: the module must give up after timeout=2 instead of hanging.
        daemon_->freeze();
        return latest_code("alice@example.com");
    };
    EXPECT_EQ(authenticate("short_timeout", "alice", alice), PAM_AUTHINFO_UNAVAIL);
}

// ---- lwauthd that the bus cannot start ----------------------------------------------------

// No lwauthd on the bus, only the shipped activation file: the bus tries to start lwauthd
// for the call and answers with why it could not. That is lwauthd out of reach, so
// failmode= decides, and the user is told the service is not available.
class PamActivation : public Pam {
  protected:
    void SetUp() override {
        fs::create_directories(dir_ / "services");
        fs::copy_file(source_dir() / "packaging/dbus/org.lwauth.Auth1.service",
                      dir_ / "services/org.lwauth.Auth1.service");
        bus_ = std::make_unique<PrivateBus>(
            dir_.path(), false,
            "<servicedir>" + (dir_ / "services").string() +
                "</servicedir>\n<policy user=\"root\"><allow own=\"org.freedesktop.systemd1\"/>"
                "</policy>",
            systemd_activation());
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
    }
    virtual bool systemd_activation() {
        return false;
    }

    void expect_unavailable_then_safe_passes() {
        Person alice;
        alice.answer_code = [](int) { return std::string("123456"); };
        EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_AUTHINFO_UNAVAIL);
        ASSERT_FALSE(alice.errors.empty());
        EXPECT_NE(alice.errors.back().find("not available"), std::string::npos)
            << alice.errors.back();
        Person again;
        EXPECT_EQ(authenticate("safe", "alice", again), PAM_SUCCESS)
            << "failmode=safe applies: lwauthd cannot be reached";
        EXPECT_EQ(again.code_prompts, 0);
    }
};

TEST_F(PamActivation, AFailedSpawnIsUnavailable) {
    // Without systemd the shipped file's Exec=/bin/false fails the spawn.
    expect_unavailable_then_safe_passes();
}

class PamSystemdActivation : public PamActivation {
  protected:
    bool systemd_activation() override { return true; }
};

TEST_F(PamSystemdActivation, AMaskedUnitIsUnavailable) {
    FakeSystemd systemd(bus_->address(), "org.freedesktop.systemd1.UnitMasked",
                        "Unit lwauthd.service is masked.");
    ASSERT_TRUE(systemd.ready());
    expect_unavailable_then_safe_passes();
}

// ---- 2-step through PAM with each gateway channel -----------------------------------------

// The same stack, with codes travelling through a gateway fake over TLS instead of the
// outbox: the PAM conversation reads each code from what the gateway received.
class PamThroughGateway : public Pam {
  protected:
    void SetUp() override {
        auto pki = run({"/bin/bash", (source_dir() / "tests/fakes/make_test_pki.sh").string(),
                        (dir_ / "pki").string()},
                       base_env());
        ASSERT_EQ(pki.exit_code, 0) << pki.err;
        fs::create_directories(dir_ / "gateway");
        gateway_ = Process(
            {"/usr/bin/python3", (source_dir() / "tests/fakes/gateways.py").string(), "--cert",
             (dir_ / "pki/server.pem").string(), "--key", (dir_ / "pki/server.key").string(),
             "--state-dir", (dir_ / "gateway").string(), "--webhook-secret", "s3cret",
             "--lineworks-public-key", (dir_ / "pki/lineworks.pub.pem").string()},
            base_env(), dir_ / "gateway.log");
        port_ = wait_for_listening_port(dir_ / "gateway.log");
        ASSERT_NE(port_, 0) << read_file(dir_ / "gateway.log");
        Pam::SetUp();
    }

    std::string secret(const std::string& name, const std::string& content) {
        fs::path path = dir_ / "secrets" / name;
        write_file(path, content + "\n", fs::perms(0600));
        return path.string();
    }

    std::string common() const {
        return "base_url = https://127.0.0.1:" + std::to_string(port_) +
               "\nca_file = " + (dir_ / "pki/ca.pem").string() + "\ntimeout = 5s\n";
    }

    // The gateway's [channel.*] section, and the [code] channels order.
    virtual std::string section() = 0;
    virtual std::string kinds() {
        return "sms, email";
    }

    std::string policy() override {
        return "[code]\nchannels = " + kinds() +
               "\nresend_interval = 0s\nmax_sends_per_hour = 100\n"
               "max_sends_per_destination_per_hour = 100\n\n" +
               section() +
               "\n[channel.outbox]\ntype = outbox\npath = " + (dir_ / "outbox.jsonl").string() +
               "\n";
    }

    // The code in the newest message the gateway's `service` accepted.
    std::string gateway_code(const std::string& service) {
        std::ifstream in(dir_ / "gateway/requests.jsonl");
        std::string line;
        std::string text;
        while (std::getline(in, line)) {
            auto entry = nlohmann::json::parse(line);
            if (entry.value("service", "") != service || !entry.value("delivered", false)) {
                continue;
            }
            const auto& params = entry["params"];
            for (const char* key : {"Body", "text"}) {
                if (params.contains(key)) {
                    text = params[key].get<std::string>();
                }
            }
            if (params.contains("content")) {
                text = params["content"].value("text", "");
            }
            if (params.contains("messages") && !params["messages"].empty()) {
                text = params["messages"][0].value("text", "");
            }
        }
        OutboxMessage m;
        m.text = text;
        return m.code();
    }

    // Enrolls alice's phone through the gateway, then logs her in through PAM with the
    // code the gateway received.
    void phone_login_through(const std::string& service) {
        ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
            << daemon_->log();
        ASSERT_EQ(
            daemon_->ctl("alice", {"contact", "confirm", "phone", gateway_code(service)}).exit_code,
            0);
        Person alice;
        alice.answer_code = [&](int) { return gateway_code(service); };
        EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_SUCCESS) << daemon_->log();
        EXPECT_EQ(alice.code_prompts, 1);
        EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << "every code went by the gateway";
    }

    Process gateway_;
    int port_ = 0;
};

class PamThroughTwilio : public PamThroughGateway {
    std::string section() override {
        return "[channel.twilio]\ntype = twilio\naccount_sid = ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
               "auth_token_file = " +
               secret("twilio", "twilio-test-token") + "\nfrom = +15005550006\n" + common();
    }
};

class PamThroughVonage : public PamThroughGateway {
    std::string section() override {
        return "[channel.vonage]\ntype = vonage\napi_key = abcd1234\napi_secret_file = " +
               secret("vonage", "Vq7tK2pX9mWz4RbN") + "\nfrom = lwauth\n" + common();
    }
};

class PamThroughWebhook : public PamThroughGateway {
    std::string section() override {
        return "[channel.hook]\ntype = webhook\nserves = sms\nurl = https://127.0.0.1:" +
               std::to_string(port_) + "/webhook\nhmac_secret_file = " + secret("hook", "s3cret") +
               "\nca_file = " + (dir_ / "pki/ca.pem").string() + "\n";
    }
};

class PamThroughLineWorks : public PamThroughGateway {
    std::string section() override {
        return "[channel.works]\ntype = lineworks\nclient_id = lw-test-client-id\n"
               "client_secret_file = " +
               secret("lw-secret", "lw-test-client-secret") +
               "\nservice_account = test.serviceaccount@example\nprivate_key_file = " +
               secret("lw-key", read_file(dir_ / "pki/lineworks.key")) +
               "\nbot_id = 2000001\nauth_url = https://127.0.0.1:" + std::to_string(port_) +
               "/oauth2/v2.0/token\nuser_id = {user}@example.com\n" + common();
    }
    std::string kinds() override { return "notification, email"; }
};

// Email through a real SMTP server (aiosmtpd) with STARTTLS under the test CA.
class PamThroughSmtp : public PamThroughGateway {
    std::string section() override {
        smtp_ = Process(
            {"/usr/bin/python3", (source_dir() / "tests/integration/smtp_server.py").string(),
             "--mode", "starttls", "--cert", (dir_ / "pki/server.pem").string(), "--key",
             (dir_ / "pki/server.key").string(), "--out", (dir_ / "smtp.jsonl").string(), "--auth",
             "lwauth:smtp-test-password"},
            base_env(), dir_ / "smtp.log");
        int port = 0;
        port = wait_for_listening_port(dir_ / "smtp.log");
        EXPECT_NE(port, 0) << read_file(dir_ / "smtp.log");
        return "[channel.mail]\ntype = smtp\nurl = smtp://127.0.0.1:" + std::to_string(port) +
               "\nusername = lwauth\npassword_file = " + secret("smtp", "smtp-test-password") +
               "\nfrom = lwauth <noreply@example.com>\nca_file = " +
               (dir_ / "pki/ca.pem").string() + "\ntimeout = 5s\n";
    }
    std::string kinds() override { return "email"; }

  protected:
    std::string mailed_code() {
        std::ifstream in(dir_ / "smtp.jsonl");
        std::string line;
        std::string content;
        while (std::getline(in, line)) {
            content = nlohmann::json::parse(line).value("content", "");
        }
        OutboxMessage m;
        m.text = content.substr(std::min(content.size(), content.find("\r\n\r\n")));
        return m.code();
    }

    Process smtp_;
};

// LINE push to a user whose name happens to be a LINE user ID, mapped to it.
class PamThroughLine : public PamThroughGateway {
    std::string section() override {
        return "[channel.line]\ntype = line\nchannel_access_token_file = " +
               secret("line", "line-test-channel-token") + "\nuser_map_file = " +
               secret("line-users", std::string(kLineUser) + " " + kLineUser) + "\n" + common() +
               "\n[user:" + kLineUser + "]\ntwo_step = required\n";
    }
    std::string kinds() override { return "notification"; }

  protected:
    static constexpr const char* kLineUser = "U0123456789abcdef0123456789abcdef";
};

TEST_F(PamThroughSmtp, TwoStepWithACodeByEmail) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "email", "alice@example.com"}).exit_code, 0)
        << daemon_->log();
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "confirm", "email", mailed_code()}).exit_code, 0);
    Person alice;
    alice.answer_code = [&](int) { return mailed_code(); };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_SUCCESS) << daemon_->log();
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << "every code went by email";
}

TEST_F(PamThroughLine, TwoStepWithACodeAsALineMessage) {
    Person user;
    user.answer_code = [&](int) { return gateway_code("line"); };
    EXPECT_EQ(authenticate("two_step", kLineUser, user), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(user.code_prompts, 1);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
    ASSERT_FALSE(user.infos.empty());
    EXPECT_NE(user.infos.back().find("A verification code was sent as a LINE message"),
              std::string::npos)
        << user.infos.back();
}

TEST_F(PamThroughTwilio, TwoStepWithACodeByTwilio) {
    phone_login_through("twilio");
}

TEST_F(PamThroughVonage, TwoStepWithACodeByVonage) {
    phone_login_through("vonage");
}

TEST_F(PamThroughWebhook, TwoStepWithACodeByTheSitesGateway) {
    phone_login_through("webhook");
}

TEST_F(PamThroughLineWorks, TwoStepWithACodeAsALineWorksNotification) {
    // The email is confirmed through the outbox; the login code goes as a notification.
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    Person alice;
    alice.answer_code = [&](int) { return gateway_code("lineworks"); };
    EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_SUCCESS) << daemon_->log();
    ASSERT_FALSE(alice.infos.empty());
    // Named by the messenger the user knows, not as a "service notification".
    EXPECT_NE(alice.infos.back().find("A verification code was sent as a LINE WORKS message"),
              std::string::npos)
        << alice.infos.back();
}

// A gateway that holds every request longer than the module waits: lwauthd answers
// `unavailable` itself before the module's timeout=, so failmode=safe (which only
// applies when lwauthd cannot be reached) does not let the login through.
class PamThroughAHangingGateway : public PamThroughGateway {
    std::string section() override {
        return "[channel.hook]\ntype = webhook\nserves = sms\nurl = https://127.0.0.1:" +
               std::to_string(port_) + "/webhook\nhmac_secret_file = " + secret("hook", "s3cret") +
               "\nca_file = " + (dir_ / "pki/ca.pem").string() + "\ntimeout = 60s\n";
    }
};

TEST_F(PamThroughAHangingGateway, ASlowGatewayFailsClosedEvenUnderSafeFailmode) {
    ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", "+819012345678"}).exit_code, 0)
        << daemon_->log();
    ASSERT_EQ(
        daemon_->ctl("alice", {"contact", "confirm", "phone", gateway_code("webhook")}).exit_code,
        0);
    auto r = gateway_control("https://127.0.0.1:" + std::to_string(port_), dir_ / "pki/ca.pem",
                             R"({"service": "webhook", "mode": "slow:60000", "count": 0})");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Person alice;
    alice.answer_code = [&](int) { return gateway_code("webhook"); };
    auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(authenticate("safe_short_timeout", "alice", alice), PAM_AUTHINFO_UNAVAIL)
        << daemon_->log();
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_LT(took, std::chrono::seconds(10)) << "answered before the gateway did";
    EXPECT_EQ(alice.code_prompts, 0);
    ASSERT_FALSE(alice.errors.empty());
    EXPECT_NE(alice.errors.back().find("could not be verified in time"), std::string::npos)
        << alice.errors.back();
    EXPECT_NE(daemon_->log().find("reply-deadline"), std::string::npos) << daemon_->log();
}

// ---- mode=primary: log in with phone number, on the full stack ---------------------------

class PamPhoneLogin : public Pam {
  protected:
    std::string policy() override {
        return Pam::policy() +
               "\n[policy]\nlogin_with_phone = allowed\n[user:dave]\nlogin_with_phone = "
               "disabled\n";
    }

    void SetUp() override {
        Pam::SetUp();
        if (IsSkipped()) {
            return;
        }
        ASSERT_TRUE(daemon_->enroll("alice", "phone", kPhone)) << daemon_->log();
    }

    static constexpr const char* kPhone = "+819012345678";
};

TEST_F(PamPhoneLogin, APhoneCodeLogsInWithoutThePasswordOrASecondCode) {
    size_t before = sent();
    Person alice;
    alice.password = "never asked";
    alice.answer_code = [&](int) { return latest_code(kPhone); };
    EXPECT_EQ(authenticate("full", "alice", alice), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(alice.password_prompts, 0);
    EXPECT_EQ(alice.code_prompts, 1);
    EXPECT_EQ(sent(), before + 1) << "one code, by SMS";
    ASSERT_FALSE(alice.infos.empty());
    EXPECT_NE(alice.infos[0].find("by SMS to +81 \u2022\u2022 \u2022\u2022\u2022\u2022 5678"),
              std::string::npos)
        << alice.infos[0];
}

TEST_F(PamPhoneLogin, ChoosingThePasswordRunsThePasswordThen2Step) {
    Person alice;
    alice.answer_code = [&](int turn) -> std::optional<std::string> {
        return turn == 0 ? std::string("p") : latest_code(kPhone);
    };
    EXPECT_EQ(authenticate("full", "alice", alice), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(alice.password_prompts, 1);
    EXPECT_EQ(alice.code_prompts, 2) << "the phone login's prompt, then 2-step's";
}

// A screen locker keeps one handle: pam_authenticate and pam_setcred for each unlock.
// A passwordless login that ended a pam_authenticate (`success=done`, no mode=second_factor
// line after it) is forgotten at pam_setcred, so a later password on the same handle is
// still followed by its code.
TEST_F(PamPhoneLogin, APasswordlessLoginIsForgottenAtSetcred) {
    Person alice;
    alice.password = "wrong horse";
    alice.answer_code = [&](int) {
        alice.password = kPassword;  // the next unlock uses the password
        return latest_code(kPhone);
    };
    struct pam_testcase tests[] = {
        pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
        pam_test_flags(PAMTEST_SETCRED, PAM_SUCCESS, PAM_REFRESH_CRED),
        pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
    };
    _pamtest_conv("password_or_passwordless", "alice", converse, &alice, tests, 3, nullptr);
    EXPECT_EQ(tests[0].op_rv, PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(tests[1].op_rv, PAM_SUCCESS);
    EXPECT_EQ(tests[2].op_rv, PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(alice.password_prompts, 2);
    EXPECT_EQ(alice.code_prompts, 2) << "the phone login's code, then the password's";
}

TEST_F(PamPhoneLogin, AWrongCodeDeniesTheWholeStack) {
    Person alice;
    alice.answer_code = [&](int) { return wrong(latest_code(kPhone)); };
    EXPECT_EQ(authenticate("full", "alice", alice), PAM_AUTH_ERR);
    EXPECT_EQ(alice.password_prompts, 0) << "a failed method never falls to the password";
}

TEST_F(PamPhoneLogin, AMethodDisabledForTheUserIsNotOffered) {
    ASSERT_TRUE(daemon_->enroll("dave", "phone", "+819011112222"));
    Person dave;
    dave.answer_code = [&](int) { return latest_code("+819011112222"); };
    EXPECT_EQ(authenticate("full", "dave", dave), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(dave.password_prompts, 1);
    EXPECT_EQ(dave.code_prompts, 1) << "only 2-step's";
}

TEST_F(PamPhoneLogin, AnUnknownUserIsTreatedLikeAUserWithOnlyAPassword) {
    size_t before = sent();
    Person unknown;
    unknown.password = "guess";
    Person bob;
    bob.password = "guess";
    int unknown_rc = authenticate("full", "nosuchuser", unknown);
    int bob_rc = authenticate("full", "bob", bob);
    EXPECT_NE(unknown_rc, PAM_SUCCESS);
    EXPECT_NE(bob_rc, PAM_SUCCESS);
    for (const Person* p : {&unknown, &bob}) {
        EXPECT_EQ(p->password_prompts, 1);
        EXPECT_EQ(p->code_prompts, 0);
        EXPECT_TRUE(p->infos.empty());
        EXPECT_TRUE(p->errors.empty());
    }
    EXPECT_EQ(sent(), before);
}

TEST_F(PamPhoneLogin, ThePasswordIsNotAskedWhenTheCodeAfterItCannotBeSent) {
    fs::create_directories(daemon_->config_dir() / "lwauth.conf.d");
    write_file(daemon_->config_dir() / "lwauth.conf.d" / "50-cap.conf",
               "[code]\nmax_sends_per_hour = 1\n");
    ASSERT_EQ(daemon_->ctl("root", {"policy", "reload"}).exit_code, 0) << daemon_->log();
    Person first;
    first.answer_code = [&](int) { return latest_code(kPhone); };
    ASSERT_EQ(authenticate("two_step", "alice", first), PAM_SUCCESS) << daemon_->log();

    // The hour's 2-step code is spent: choosing the password would end in a refusal.
    Person alice;
    alice.answer_code = [&](int) -> std::optional<std::string> { return std::string("p"); };
    EXPECT_EQ(authenticate("full", "alice", alice), PAM_AUTH_ERR);
    EXPECT_EQ(alice.password_prompts, 0);
    ASSERT_FALSE(alice.errors.empty());
    EXPECT_NE(alice.errors.back().find("password would not help now"), std::string::npos)
        << alice.errors.back();
    EXPECT_NE(alice.errors.back().find("The next code can be sent in"), std::string::npos)
        << alice.errors.back();
}

// Anybody who knows a user name can start a phone login through sshd. What they do
// there is counted apart from the user's password + 2-step login, which keeps its own
// lockout and caps: the shipped defaults of both budgets.
class PamPhoneLoginUnderAttack : public PamPhoneLogin {
  protected:
    std::string policy() override {
        return "[policy]\ntwo_step = optional\nlogin_with_phone = allowed\n"
               "[code]\nchannels = sms, email\nresend_interval = 0s\n"
               "[lockout]\nmax_failures = 5\nduration = 15m\n"
               "[channel.outbox]\ntype = outbox\npath = " +
               (dir_ / "outbox.jsonl").string() + "\n";
    }

    // The real alice: the password instead of the phone (or no phone login offered),
    // then the 2-step code.
    int real_user_logs_in(Person& alice) {
        alice.answer_code = [&](int) -> std::optional<std::string> {
            if (!alice.password_prompts) {
                return std::string("p");
            }
            return latest_code(kPhone);
        };
        return authenticate("full", "alice", alice);
    }
};

TEST_F(PamPhoneLoginUnderAttack, WrongCodesBeforeThePasswordNeverLockTheUserOut) {
    for (int connection = 0; connection < 2; ++connection) {
        Person attacker;
        attacker.password = "not known";
        attacker.answer_code = [&](int) { return wrong(latest_code(kPhone)); };
        EXPECT_NE(authenticate("full", "alice", attacker), PAM_SUCCESS);
        EXPECT_EQ(attacker.password_prompts, 0);
    }
    Person alice;
    EXPECT_EQ(real_user_logs_in(alice), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(alice.password_prompts, 1);
}

TEST_F(PamPhoneLoginUnderAttack, ConnectionsThatTurnToAWrongPasswordLeaveTheUsersCodes) {
    for (int connection = 0; connection < 4; ++connection) {
        Person attacker;
        attacker.password = "not known";
        attacker.answer_code = [](int) { return std::string("p"); };
        EXPECT_EQ(authenticate("full", "alice", attacker), PAM_AUTH_ERR);
    }
    Person alice;
    EXPECT_EQ(real_user_logs_in(alice), PAM_SUCCESS) << daemon_->log();
    for (const auto& e : alice.errors) {
        EXPECT_EQ(e.find("Too many codes"), std::string::npos) << e;
    }
}

class PamPhoneLoginElsewhere : public PamPhoneLogin {
  protected:
    std::string policy() override {
        return PamPhoneLogin::policy() + "\n[login]\nphone_services = sshd\n";
    }
};

TEST_F(PamPhoneLoginElsewhere, AMethodLimitedToAnotherServiceIsNotOffered) {
    Person alice;
    alice.answer_code = [&](int) { return latest_code(kPhone); };
    EXPECT_EQ(authenticate("full", "alice", alice), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(alice.password_prompts, 1);
    EXPECT_EQ(alice.code_prompts, 1) << "only 2-step's";
}

// The module's ABI is the PAM entry points and nothing else (a version script hides the
// rest, so nothing of lwauth can clash with the application that loads it).
TEST(PamModule, ExportsOnlyThePamEntryPoints) {
    auto nm = run({"/usr/bin/nm", "-D", "--defined-only", LWAUTH_PAM_MODULE_PATH}, base_env());
    ASSERT_EQ(nm.exit_code, 0) << nm.err;
    std::vector<std::string> exported;
    std::istringstream lines(nm.out);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string address, type, name;
        fields >> address >> type >> name;
        if (type == "T" || type == "D" || type == "B" || type == "R") {
            exported.push_back(name);
        }
    }
    std::sort(exported.begin(), exported.end());
    EXPECT_EQ(exported, (std::vector<std::string>{"pam_sm_authenticate", "pam_sm_setcred"}));
}

// Every library the module names is loaded into su, sudo or login at each pam_start: it
// names only libc, libstdc++, libpam and libsystemd (sd-bus), never libcrypto or SQLite.
TEST(PamModule, NeedsOnlyTheLibrariesItCalls) {
    auto readelf = run({"/usr/bin/readelf", "-d", LWAUTH_PAM_MODULE_PATH}, base_env());
    ASSERT_EQ(readelf.exit_code, 0) << readelf.err;
    std::set<std::string> allowed = {"libc.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                                     "libm.so.6", "libpam.so.0",    "libsystemd.so.0"};
#ifdef __SANITIZE_ADDRESS__
    // The asan preset's build, never shipped, links the sanitizers' runtimes.
    allowed.insert({"libasan.so.8", "libubsan.so.1"});
#endif
    std::istringstream lines(readelf.out);
    std::string line;
    int needed = 0;
    while (std::getline(lines, line)) {
        size_t open = line.find("(NEEDED)");
        if (open == std::string::npos) {
            continue;
        }
        size_t from = line.find('[');
        size_t to = line.find(']', from);
        ASSERT_NE(to, std::string::npos) << line;
        std::string library = line.substr(from + 1, to - from - 1);
        EXPECT_TRUE(allowed.contains(library)) << "pam_lwauth.so needs " << library;
        ++needed;
    }
    EXPECT_GE(needed, 3) << readelf.out;
}

class PamEnrollGrace : public Pam {
  protected:
    std::string policy() override { return Pam::policy() + "\n[policy]\nenroll_grace = 3s\n"; }
};

TEST_F(PamEnrollGrace, AUserWithNoContactIsLetInUntilTheGraceEnds) {
    Person erin;
    EXPECT_EQ(authenticate("two_step", "erin", erin), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(erin.code_prompts, 0);
    EXPECT_EQ(sent(), 0u);
    ASSERT_FALSE(erin.infos.empty());
    EXPECT_NE(erin.infos[0].find("You may log in without a code until"), std::string::npos)
        << erin.infos[0];
    EXPECT_NE(erin.infos[0].find("lwauthctl contact add phone"), std::string::npos);
    // The password is still checked during the grace.
    Person intruder;
    intruder.password = "guess";
    EXPECT_EQ(authenticate("two_step", "erin", intruder), PAM_AUTH_ERR);

    // Counted from that first login: once it is over, the refusal of old.
    sleep(4);
    Person later;
    EXPECT_EQ(authenticate("two_step", "erin", later), PAM_AUTH_ERR);
    ASSERT_FALSE(later.errors.empty());
    EXPECT_NE(later.errors[0].find("Ask your administrator to register one for you"),
              std::string::npos)
        << later.errors[0];
}

class PamRememberHost : public Pam {
  protected:
    std::string policy() override { return Pam::policy() + "\n[policy]\nremember_host = 1h\n"; }
};

TEST_F(PamRememberHost, ASecondLoginFromTheSameHostAndServiceNeedsNoCode) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    setenv("PAM_RHOST", "192.0.2.7", 1);
    Person first;
    first.answer_code = [&](int) { return latest_code("alice@example.com"); };
    ASSERT_EQ(authenticate("two_step_from", "alice", first), PAM_SUCCESS) << daemon_->log();
    size_t before = sent();

    Person again;
    again.answer_code = [](int) { return std::nullopt; };
    EXPECT_EQ(authenticate("two_step_from", "alice", again), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(again.code_prompts, 0);
    EXPECT_EQ(sent(), before);
    ASSERT_FALSE(again.infos.empty());
    EXPECT_NE(again.infos[0].find("No verification code needed"), std::string::npos);
    // ...but the password still is.
    Person intruder;
    intruder.password = "guess";
    EXPECT_EQ(authenticate("two_step_from", "alice", intruder), PAM_AUTH_ERR);

    // Another remote host asks for a code.
    setenv("PAM_RHOST", "192.0.2.8", 1);
    Person elsewhere;
    elsewhere.answer_code = [&](int) { return latest_code("alice@example.com"); };
    EXPECT_EQ(authenticate("two_step_from", "alice", elsewhere), PAM_SUCCESS);
    EXPECT_EQ(elsewhere.code_prompts, 1);
    unsetenv("PAM_RHOST");
}

TEST_F(PamRememberHost, AServiceThatSaysNeitherHostNorTerminalIsNeverRemembered) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    for (int login = 0; login < 2; ++login) {
        Person alice;
        alice.answer_code = [&](int) { return latest_code("alice@example.com"); };
        EXPECT_EQ(authenticate("two_step", "alice", alice), PAM_SUCCESS);
        EXPECT_EQ(alice.code_prompts, 1) << "login " << login;
    }
}

class PamRememberHostUnrestricted : public Pam {
  protected:
    std::string policy() override {
        return Pam::policy() + "\n[policy]\nremember_host = 1h\nrequire_unrestricted = yes\n";
    }
};

// Under require_unrestricted no place is remembered: a place remembered after a code by
// SMS or email (before the policy, or on another host of a shared store) would stand in
// for the app or recovery code the policy asks for.
TEST_F(PamRememberHostUnrestricted, EveryLoginAsksForTheUnrestrictedFactorAgain) {
    std::string secret = add_app("grace");
    ASSERT_FALSE(secret.empty());
    setenv("PAM_RHOST", "192.0.2.7", 1);
    std::string code = oathtool_totp(secret, 30);
    Person first;
    first.answer_code = [&](int) { return code; };
    ASSERT_EQ(authenticate("two_step_from", "grace", first), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(first.code_prompts, 1);

    Person again;
    again.answer_code = [](int) { return std::nullopt; };
    EXPECT_NE(authenticate("two_step_from", "grace", again), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(again.code_prompts, 1) << "the place was not remembered";
    EXPECT_EQ(daemon_->log().find("host-remembered"), std::string::npos) << daemon_->log();
    unsetenv("PAM_RHOST");
}

// ---- A method that waits for an outside event ---------------------------------------------

using namespace std::chrono_literals;

// The test daemon (lwauthd-wait-test, tests/support/wait_daemon.cpp) offers its method
// "test-wait" to everyone in mode=primary: after "Test wait code (timer MS or signal): "
// it holds the reply to Answer until its timer fires or org.lwauth.Test1.Decided(user,
// verdict) arrives, each through LoginEngine::notify.
class PamWaitingMethod : public Pam {
  protected:
    // The shipped policy denies all that is sent to lwauthd's name, broadcast signals
    // included: a source of signals needs its own allow rule, as fprintd's will.
    std::string bus_config() override {
        return R"(<policy user="root"><allow own="org.lwauth.Test1"/>
            <allow send_destination="org.lwauth.Auth1" send_type="signal"
                   send_interface="org.lwauth.Test1" send_member="Decided"/></policy>)";
    }
    fs::path daemon_program() override { return wait_daemon_path(); }

    // Decided(user, verdict), sent by the owner of org.lwauth.Test1.
    bool decide(const std::string& user, const std::string& verdict) {
        return emit_signal_as(bus_->address(), "org.lwauth.Test1", "/org/lwauth/Test1",
                              "org.lwauth.Test1", "Decided", [&](sd_bus_message* m) {
                                  sd_bus_message_append(m, "ss", user.c_str(), verdict.c_str());
                              });
    }

    // Waits up to 10 s for lwauthd's log to hold `text` at least `count` times.
    bool log_shows(const std::string& text, size_t count = 1) {
        return daemon_->log_shows(text, count);
    }

    // pam_authenticate on a thread of its own, `answer` typed at the method's prompt.
    std::future<int> log_in(const std::string& service, Person& person, const std::string& answer) {
        person.answer_code = [answer](int) { return answer; };
        return std::async(std::launch::async, [this, service, &person] {
            return authenticate(service, "alice", person);
        });
    }

    // How long a login of alice in `service` took, and what it returned.
    std::pair<int, std::chrono::milliseconds> timed_login(const std::string& service,
                                                          Person& person,
                                                          const std::string& answer) {
        auto begin = std::chrono::steady_clock::now();
        int rc = log_in(service, person, answer).get();
        return {rc, std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - begin)};
    }
};

TEST_F(PamWaitingMethod, TheConversationWaitsForTheSignalThenSucceeds) {
    Person alice;
    auto login = log_in("wait", alice, "signal");
    ASSERT_TRUE(log_shows("event=test-wait")) << daemon_->log();
    // Told how long it may wait: timeout=4 less twice the reply margin of 1 s.
    EXPECT_NE(daemon_->log().find("waiting for a signal, at most 2000 ms"), std::string::npos);
    EXPECT_EQ(login.wait_for(500ms), std::future_status::timeout) << "pam_authenticate waits";
    ASSERT_TRUE(decide("alice", "success"));
    ASSERT_EQ(login.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(login.get(), PAM_SUCCESS) << daemon_->log();
    EXPECT_EQ(alice.code_prompts, 1);
    EXPECT_TRUE(log_shows("event=test-event-delivered"));
}

TEST_F(PamWaitingMethod, TheSignalCanDeny) {
    Person alice;
    auto login = log_in("wait", alice, "signal");
    ASSERT_TRUE(log_shows("event=test-wait")) << daemon_->log();
    ASSERT_TRUE(decide("alice", "denied"));
    ASSERT_EQ(login.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(login.get(), PAM_AUTH_ERR) << daemon_->log();
    EXPECT_TRUE(log_shows("event=test-event-delivered"));
    EXPECT_EQ(daemon_->log().find("event=login-wait-timeout"), std::string::npos)
        << "denied by the signal, not by the deadline";
}

TEST_F(PamWaitingMethod, TheMethodsTimerEndsTheWait) {
    Person alice;
    auto [rc, took] = timed_login("wait", alice, "timer 400");
    EXPECT_EQ(rc, PAM_SUCCESS) << daemon_->log();
    EXPECT_GE(took, 400ms);
    EXPECT_TRUE(log_shows("event=test-event-delivered"));
}

TEST_F(PamWaitingMethod, TheDeadlineDeniesBeforeTheModuleGivesUp) {
    Person alice;
    auto [rc, took] = timed_login("wait_short", alice, "timer 60000");
    EXPECT_EQ(rc, PAM_AUTH_ERR) << daemon_->log();
    // timeout=2: the wait is 2 s less twice the reply margin of 0.5 s.
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 1900ms);
    ASSERT_FALSE(alice.errors.empty());
    EXPECT_EQ(alice.errors.back(), "The login was not confirmed in time. Please log in again.");
    EXPECT_TRUE(log_shows("event=login-wait-timeout"));
    EXPECT_EQ(daemon_->log().find("event=reply-deadline"), std::string::npos)
        << "the method's verdict, not BusService's unavailable";
}

TEST_F(PamWaitingMethod, AKilledClientEndsTheWaitAndALateSignalDoesNothing) {
    pid_t pid = fork();
    if (pid == 0) {
        Person alice;
        alice.answer_code = [](int) { return std::string("signal"); };
        _exit(authenticate("wait", "alice", alice) == PAM_SUCCESS ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    Process client = Process::adopt(pid);
    ASSERT_TRUE(log_shows("event=test-wait")) << daemon_->log();
    client.stop(SIGKILL);
    ASSERT_TRUE(log_shows("event=login-abandoned")) << daemon_->log();
    ASSERT_TRUE(decide("alice", "success"));
    ASSERT_TRUE(log_shows("event=test-event-refused")) << daemon_->log();
    EXPECT_NE(daemon_->log().find("refused: no such login"), std::string::npos) << daemon_->log();
    EXPECT_EQ(daemon_->log().find("event=login-end"), std::string::npos);
}

// The module never cancels while it waits for a reply: a client of the bus does it here,
// on the connection that started the login, as the Login interface allows.
TEST_F(PamWaitingMethod, ACancelEndsTheWaitAndALateSignalDoesNothing) {
    sd_bus* raw = nullptr;
    ASSERT_GE(sd_bus_new(&raw), 0);
    std::unique_ptr<sd_bus, decltype(&sd_bus_flush_close_unref)> bus(raw, sd_bus_flush_close_unref);
    ASSERT_GE(sd_bus_set_address(raw, bus_->address().c_str()), 0);
    ASSERT_GE(sd_bus_set_bus_client(raw, 1), 0);
    ASSERT_GE(sd_bus_start(raw), 0);
    sd_bus_message* reply = nullptr;
    ASSERT_GE(sd_bus_call_method(raw, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                                 "org.lwauth.Auth1.Login", "Start", nullptr, &reply, "a{sv}", 2,
                                 "user", "s", "alice", "mode", "s", "primary"),
              0);
    const char* id = nullptr;
    ASSERT_GE(sd_bus_message_read(reply, "s", &id), 0);
    std::string login_id = id;
    sd_bus_message_unref(reply);
    std::optional<std::string> answered;  // the Answer's error name, "" for a step
    auto on_answer = [](sd_bus_message* m, void* userdata, sd_bus_error*) {
        const sd_bus_error* e = sd_bus_message_get_error(m);
        *static_cast<std::optional<std::string>*>(userdata) = e != nullptr ? e->name : "";
        return 0;
    };
    ASSERT_GE(sd_bus_call_method_async(raw, nullptr, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                                       "org.lwauth.Auth1.Login", "Answer", on_answer, &answered,
                                       "ss", login_id.c_str(), "signal"),
              0);
    ASSERT_GE(sd_bus_flush(raw), 0);
    ASSERT_TRUE(log_shows("event=test-wait")) << daemon_->log();
    ASSERT_GE(
        sd_bus_call_method(raw, "org.lwauth.Auth1", "/org/lwauth/Auth1", "org.lwauth.Auth1.Login",
                           "Cancel", nullptr, nullptr, "s", login_id.c_str()),
        0);
    for (int i = 0; i < 100 && !answered; ++i) {
        if (sd_bus_process(raw, nullptr) == 0) {
            sd_bus_wait(raw, 50 * 1000);
        }
    }
    EXPECT_EQ(answered, std::optional<std::string>("org.lwauth.Auth1.Error.NoSuchLogin"));
    EXPECT_TRUE(log_shows("event=login-cancel"));
    ASSERT_TRUE(decide("alice", "success"));
    ASSERT_TRUE(log_shows("event=test-event-refused")) << daemon_->log();
    EXPECT_EQ(daemon_->log().find("event=login-end"), std::string::npos);
}

// ---- Full logins: recorded at pam_setcred, once the whole stack let the user in -------

TEST_F(Pam, TheSshKeyStackRefusingAUserWithoutTwoStepRecordsNoFullLogin) {
    // bob has no contact: lwauth says ignore, and pam_deny refuses him.
    Person bob;
    EXPECT_EQ(authenticate("ssh_key", "bob", bob), PAM_AUTH_ERR);
    EXPECT_EQ(full_login_at("bob"), 0) << daemon_->log();
}

TEST_F(Pam, AWrongPasswordBeforeARequiredSecondFactorRecordsNoFullLogin) {
    Person bob;
    bob.password = "wrong horse";
    EXPECT_EQ(authenticate("password_first", "bob", bob), PAM_AUTH_ERR);
    EXPECT_EQ(bob.password_prompts, 1);
    EXPECT_EQ(full_login_at("bob"), 0) << daemon_->log();
}

TEST_F(Pam, AFullLoginIsRecordedWhenTheApplicationEstablishesCredentials) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) { return latest_code("alice@example.com"); };
    int64_t before = std::time(nullptr);
    int64_t at_verdict = -1;
    int setcred_rc = -1;
    EXPECT_EQ(authenticate_then_setcred(
                  "two_step", "alice", alice,
                  [&](pam_handle_t*) { at_verdict = full_login_at("alice"); }, setcred_rc),
              PAM_SUCCESS);
    EXPECT_EQ(at_verdict, 0) << "the stack had not finished yet";
    EXPECT_EQ(setcred_rc, PAM_SUCCESS);
    EXPECT_GE(full_login_at("alice"), before) << daemon_->log();

    // The password alone (bob, no contact) is a full login too, once established.
    Person bob;
    setcred_rc = -1;
    EXPECT_EQ(authenticate_then_setcred(
                  "two_step", "bob", bob, [](pam_handle_t*) {}, setcred_rc),
              PAM_SUCCESS);
    EXPECT_EQ(setcred_rc, PAM_SUCCESS);
    EXPECT_GE(full_login_at("bob"), before) << daemon_->log();
}

TEST_F(Pam, SetcredSucceedsWhenLwauthdCannotConfirm) {
    Person bob;
    int setcred_rc = -1;
    EXPECT_EQ(
        authenticate_then_setcred(
            "two_step", "bob", bob, [&](pam_handle_t*) { (void)daemon_->stop(); }, setcred_rc),
        PAM_SUCCESS);
    EXPECT_EQ(setcred_rc, PAM_SUCCESS) << "the credentials are the stack's business";
}

TEST_F(Pam, AFullLoginIsNotRecordedForAnotherUserThanTheVerdicts) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com"));
    Person alice;
    alice.answer_code = [&](int) { return latest_code("alice@example.com"); };
    int setcred_rc = -1;
    EXPECT_EQ(authenticate_then_setcred(
                  "two_step", "alice", alice,
                  [](pam_handle_t* pamh) { ASSERT_EQ(pam_set_item(pamh, PAM_USER, "bob"), 0); },
                  setcred_rc),
              PAM_SUCCESS);
    EXPECT_EQ(setcred_rc, PAM_SUCCESS);
    EXPECT_EQ(full_login_at("alice"), 0) << daemon_->log();
    EXPECT_EQ(full_login_at("bob"), 0) << daemon_->log();
}

TEST_F(Pam, SetcredDoesNotWaitTheWholeTimeoutForAHungLwauthd) {
    Person bob;
    int setcred_rc = -1;
    auto started = std::chrono::steady_clock::now();
    // two_step waits 30 s (the default timeout=) for each reply of pam_authenticate;
    // Confirm waits a few seconds. 20 s leaves room for a loaded machine.
    EXPECT_EQ(authenticate_then_setcred(
                  "two_step", "bob", bob,
                  [&](pam_handle_t*) {
                      daemon_->freeze();
                      started = std::chrono::steady_clock::now();
                  },
                  setcred_rc),
              PAM_SUCCESS);
    EXPECT_EQ(setcred_rc, PAM_SUCCESS) << "the credentials are the stack's business";
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
}

// ---- the failure matrix: lwauthd killed mid-login (docs/SECURITY.md) --------------------

// lwauthd SIGKILLed while the gateway fake holds the login's code: counted, not yet sent.
// The module cannot reach lwauthd any more, so failmode= decides; after the restart the
// send is still counted.
class PamKilledWhileSending : public PamThroughGateway {
  protected:
    std::string section() override {
        return "[channel.hook]\ntype = webhook\nserves = sms\nurl = https://127.0.0.1:" +
               std::to_string(port_) + "/webhook\nhmac_secret_file = " + secret("hook", "s3cret") +
               "\nca_file = " + (dir_ / "pki/ca.pem").string() + "\ntimeout = 60s\n";
    }
    std::string policy() override {
        return "[policy]\nlogin_with_phone = allowed\n\n" + PamThroughGateway::policy();
    }

    void SetUp() override {
        PamThroughGateway::SetUp();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        ASSERT_EQ(daemon_->ctl("alice", {"contact", "add", "phone", kPhone}).exit_code, 0)
            << daemon_->log();
        ASSERT_EQ(daemon_->ctl("alice", {"contact", "confirm", "phone", gateway_code("webhook")})
                      .exit_code,
                  0);
    }

    [[nodiscard]] size_t webhook_requests() const {
        return gateway_requests(dir_ / "gateway/requests.jsonl", "webhook");
    }

    // pam_authenticate in `service` while the gateway holds the next request, which kills
    // lwauthd; lwauthd started again after. What libpam returned.
    int authenticate_killed_while_sending(const std::string& service, Person& person) {
        auto r = gateway_control("https://127.0.0.1:" + std::to_string(port_), dir_ / "pki/ca.pem",
                                 R"({"service": "webhook", "mode": "timeout", "count": 1})");
        EXPECT_EQ(r.exit_code, 0) << r.err;
        size_t held = webhook_requests() + 1;
        std::thread killer([&] {
            for (int i = 0; i < 2000 && webhook_requests() < held; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            daemon_->kill();
        });
        int rc = authenticate(service, "alice", person);
        killer.join();
        EXPECT_EQ(webhook_requests(), held) << "killed while the gateway held the code";
        EXPECT_EQ(daemon_->sql("PRAGMA integrity_check;"), "ok\n");
        EXPECT_TRUE(daemon_->start()) << daemon_->log();
        return rc;
    }

    [[nodiscard]] std::string sends(const std::string& key) const {
        return daemon_->sql("SELECT count(*) FROM send_log WHERE keys LIKE '%\"" + key + "\"%';");
    }

    // Someone who would type a code, were one ever asked.
    static Person typing_a_code() {
        Person person;
        person.answer_code = [](int) { return std::string("000000"); };
        return person;
    }

    static constexpr const char* kPhone = "+819012345678";
};

TEST_F(PamKilledWhileSending, SecureFailmodeRefusesAndTheCodeStaysCounted) {
    Person alice = typing_a_code();
    EXPECT_EQ(authenticate_killed_while_sending("two_step", alice), PAM_AUTHINFO_UNAVAIL);
    EXPECT_EQ(alice.code_prompts, 0);
    EXPECT_EQ(sends("user:alice"), "1\n");
}

TEST_F(PamKilledWhileSending, SafeFailmodeLeavesTheLoginToThePasswordAndTheCodeStaysCounted) {
    Person alice = typing_a_code();
    EXPECT_EQ(authenticate_killed_while_sending("safe", alice), PAM_SUCCESS);
    EXPECT_EQ(alice.password_prompts, 1);
    EXPECT_EQ(sends("user:alice"), "1\n");
}

TEST_F(PamKilledWhileSending, APasswordlessCodeRefusesTheWholeStackAndStaysCounted) {
    Person alice = typing_a_code();
    EXPECT_EQ(authenticate_killed_while_sending("full", alice), PAM_AUTHINFO_UNAVAIL);
    EXPECT_EQ(alice.password_prompts, 0) << "mode=primary's failure is not PAM_IGNORE";
    EXPECT_EQ(sends("passwordless-user:alice"), "1\n");
}

}  // namespace
}  // namespace lwauth::test
