// Log in with LINE from end to end: the real lwauthd on a private bus with its LINE
// endpoint, the fake LINE Login provider (tests/fakes/line_login.py) over TLS with the
// test PKI, the test phone (tests/fakes/line_phone.py) following the links that are
// printed, the real `lwauthctl line link`, and the real pam_lwauth.so mode=primary loaded
// by libpam under pam_wrapper, driven as a person at the terminal would.
#include <gtest/gtest.h>
extern "C" {
#include <libpamtest.h>  // a C header without extern "C" of its own
}
#include <security/pam_appl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "codes.hpp"
#include "conversation.hpp"
#include "harness.hpp"
#include "line/subject.hpp"
#include "pam_service.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kPassword = "correct horse";
constexpr const char* kFakeSub = LineProvider::kSub;
constexpr const char* kOtherSub = "U-other";
const std::string kSubjectKey(32, 's');     // [line] subject_key_file
const std::string kNewSubjectKey(40, 'n');  // the key after a rotation

// The person at the terminal: the password when asked, and `at_method` (given all that
// was shown so far) for LINE's prompt.
Person new_person() {
    Person person;
    person.method_prompt = "Approve in LINE";
    person.password = kPassword;
    return person;
}

class LineLogin : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // DESIGN.md's full stack, less 2-step (bob has no contact for it). timeout=60: an
        // Enter that waits sees a 30 s link expire.
        make_pam_service("line", kPassword, [](const std::string& matrix) {
            return "auth [success=done ignore=ignore default=die] " +
                   std::string(LWAUTH_PAM_MODULE_PATH) +
                   " mode=primary timeout=60\nauth requisite " + matrix + "\naccount required " +
                   matrix + "\n";
        });
    }

    void SetUp() override {
        ASSERT_TRUE(line_.ready()) << line_.log();
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy());
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->log_shows("event=line-listening")) << daemon_->log();
        // The module runs inside this process: point it at the private bus.
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
    }

    [[nodiscard]] std::string public_url() const {
        return "http://127.0.0.1:" + std::to_string(port_);
    }

    [[nodiscard]] std::string policy() const {
        return default_test_policy(dir_ / "outbox.jsonl") +
               "[policy]\nadmin_group = lwadmins\nlogin_with_line = allowed\n" +
               line_.policy_section(public_url(), port_, kSubjectKey) + "link_lifetime = 30s\n";
    }

    // The fake provider's next decision or fault.
    void control(const std::string& body) {
        ASSERT_TRUE(line_.control(body)) << body;
    }

    // The phone opens `url` and, with `pick`, picks that number on the page.
    void phone(const std::string& url, std::optional<int> pick) {
        std::string answer = line_.phone(url, pick);
        EXPECT_TRUE(json::parse(answer, nullptr, false).is_object()) << answer;
        phone_pages_ += answer;
    }

    RunResult ctl(const std::string& user, const std::vector<std::string>& args) {
        RunResult r = daemon_->ctl(user, args);
        outputs_ += r.out + r.err;
        return r;
    }

    static int other_number(int number) {
        return number == 10 ? 11 : number - 1;
    }

    // pam_authenticate for `user` in the LINE stack.
    int authenticate(const std::string& user, Person& person) {
        struct pam_testcase tests[] = {pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS)};
        _pamtest_conv("line", user.c_str(), converse, &person, tests, 1, nullptr);
        return tests[0].op_rv;
    }

    // A person who, at LINE's prompt, has the phone open the link shown and pick `pick`
    // of the number shown (the number itself by default), then presses Enter.
    Person person_with_phone(std::function<std::optional<int>(int shown)> pick) {
        Person person = new_person();
        person.at_method = [this, pick](const std::string& shown) {
            PrintedLink printed =
                last_printed_link(shown, R"(Then pick this number in LINE: (\d+))");
            shown_links_.push_back(printed);
            if (printed.url.empty() || printed.number < 0) {
                return std::optional<std::string>();
            }
            phone(printed.url, pick(printed.number));
            return std::optional<std::string>("");
        };
        return person;
    }

    // Links bob's LINE account (the fake's --sub) as the person would.
    void link_bob() {
        RunResult r = line_.link(*daemon_, "bob", dir_ / "link.log");
        outputs_ += r.out;
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err << daemon_->log();
        ASSERT_NE(r.out.find("LINE is linked: you can log in with LINE.\n"), std::string::npos)
            << r.out;
    }

    [[nodiscard]] std::string sql(const std::string& statement) const {
        RunResult r =
            run({"/usr/bin/sqlite3", (daemon_->state_dir() / "lwauth.db").string(), statement},
                base_env());
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out;
    }

    [[nodiscard]] int passwordless_failures(const std::string& user) const {
        std::string out =
            sql("SELECT passwordless_failures FROM users WHERE name = '" + user + "';");
        return out.empty() ? -1 : std::stoi(out);
    }

    [[nodiscard]] static std::string expected_hash(const std::string& sub,
                                                   const std::string& key = kSubjectKey) {
        return line::SubjectHasher(Hasher(SecretString(key))).hash(LineProvider::kChannelId, sub);
    }

    // lwauthd restarted with kNewSubjectKey as [line] subject_key_file and, with `keep_old`,
    // the key before it (DIR/subject.key, kSubjectKey) in subject_old_key_files.
    void rotate_subject_key(bool keep_old) {
        fs::path old_key = dir_.path() / "subject.key";
        fs::path new_key = dir_.path() / "subject-2.key";
        write_file(new_key, kNewSubjectKey + "\n", fs::perms(0600));
        std::string text = policy();
        std::string named = "\nsubject_key_file = " + old_key.string() + "\n";
        size_t at = text.find(named);
        ASSERT_NE(at, std::string::npos) << text;
        text.replace(at, named.size(),
                     "\nsubject_key_file = " + new_key.string() + "\n" +
                         (keep_old ? "subject_old_key_files = " + old_key.string() + "\n" : ""));
        size_t listening = daemon_->log_count("event=line-listening");
        EXPECT_EQ(daemon_->stop(), 0) << daemon_->log();
        daemon_->write_policy(text);
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->log_shows("event=line-listening", listening + 1)) << daemon_->log();
    }

    [[nodiscard]] std::string bobs_link() const {
        return sql("SELECT line_link FROM users WHERE name = 'bob';");
    }

    // A login of bob's that LINE ends without a login: PAM_AUTH_ERR, the password never
    // asked, `why` shown, and one more failure counted.
    void expect_refused(Person& person, const std::string& why) {
        int failures = passwordless_failures("bob");
        EXPECT_EQ(authenticate("bob", person), PAM_AUTH_ERR) << person.shown;
        EXPECT_EQ(person.method_prompts, 1) << person.shown;
        EXPECT_EQ(person.password_prompts, 0) << person.shown;
        EXPECT_NE(person.shown.find(why), std::string::npos) << person.shown;
        EXPECT_EQ(passwordless_failures("bob"), failures + 1);
    }

    // A login of bob's where LINE proved nothing: the module gives way (PAM_IGNORE) to the
    // password, which logs in; `why` shown; nothing counted.
    void expect_password_instead(Person& person, const std::string& why) {
        EXPECT_EQ(authenticate("bob", person), PAM_SUCCESS) << person.shown;
        EXPECT_EQ(person.method_prompts, 1) << person.shown;
        EXPECT_EQ(person.password_prompts, 1) << person.shown;
        EXPECT_NE(person.shown.find("\n" + why + "\nLog in with your password instead.\n"),
                  std::string::npos)
            << person.shown;
        EXPECT_EQ(passwordless_failures("bob"), 0);
    }

    TempDir dir_{"lwauth-line-login"};
    int port_ = pick_free_port();  // [line] listen
    LineProvider line_{dir_.path(), public_url() + "/line/callback"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
    std::vector<PrintedLink> shown_links_;  // what the module showed at each LINE prompt
    std::string outputs_;                   // everything lwauthctl printed
    std::string phone_pages_;               // every answer the phone got
};

TEST_F(LineLogin, LinkThenLogInWithThePhoneAndNoPassword) {
    link_bob();
    EXPECT_NE(ctl("bob", {"status"}).out.find("\nLINE:                  linked\n"),
              std::string::npos)
        << outputs_;
    EXPECT_EQ(sql("SELECT line_link FROM users WHERE name = 'bob';"),
              expected_hash(kFakeSub) + "\n");

    Person person = person_with_phone([](int shown) { return shown; });
    EXPECT_EQ(authenticate("bob", person), PAM_SUCCESS) << person.shown << daemon_->log();
    EXPECT_EQ(person.password_prompts, 0) << person.shown;
    EXPECT_EQ(person.method_prompts, 1) << person.shown;
    ASSERT_EQ(shown_links_.size(), 1u);
    EXPECT_EQ(shown_links_[0].url.rfind(public_url() + "/l", 0), 0u) << person.shown;
    EXPECT_NE(
        person.shown.find("Log in with LINE: open this link on your phone or scan the code\n" +
                          shown_links_[0].url + "\n"),
        std::string::npos)
        << person.shown;
    EXPECT_NE(person.shown.find("\u2580"), std::string::npos) << "its QR code: " << person.shown;
    EXPECT_TRUE(daemon_->log_shows("event=line-outcome")) << daemon_->log();
}

TEST_F(LineLogin, ALinkUnderTheOldSubjectKeyLogsInAndIsKeptAgainUnderTheNewOne) {
    link_bob();
    ASSERT_EQ(bobs_link(), expected_hash(kFakeSub) + "\n");
    rotate_subject_key(true);

    Person person = person_with_phone([](int shown) { return shown; });
    EXPECT_EQ(authenticate("bob", person), PAM_SUCCESS) << person.shown << daemon_->log();
    EXPECT_EQ(person.password_prompts, 0) << person.shown;
    EXPECT_EQ(bobs_link(), expected_hash(kFakeSub, kNewSubjectKey) + "\n")
        << "kept again under the new key";
    EXPECT_TRUE(daemon_->log_shows("event=line-relinked")) << daemon_->log();
    EXPECT_EQ(passwordless_failures("bob"), 0);

    // The old key can go now: the link matches under the new key alone.
    rotate_subject_key(false);
    Person again = person_with_phone([](int shown) { return shown; });
    EXPECT_EQ(authenticate("bob", again), PAM_SUCCESS) << again.shown << daemon_->log();
    EXPECT_EQ(again.password_prompts, 0) << again.shown;
    EXPECT_EQ(daemon_->log_count("event=line-relinked"), 1u) << daemon_->log();
    EXPECT_EQ(daemon_->log_count("event=line-other-account"), 0u) << daemon_->log();
}

TEST_F(LineLogin, ALinkUnderAKeyThatIsGoneIsNotTheUsersAndStaysAsItWas) {
    link_bob();
    rotate_subject_key(false);
    Person person = person_with_phone([](int shown) { return shown; });
    expect_refused(person, "\nThis LINE account is not the one linked to your login.\n");
    EXPECT_TRUE(daemon_->log_shows("event=line-other-account")) << daemon_->log();
    EXPECT_EQ(bobs_link(), expected_hash(kFakeSub) + "\n");
}

TEST_F(LineLogin, AnotherLineAccountIsRefusedAndCounted) {
    link_bob();
    control(R"({"service": "authorize", "mode": "approve", "sub": "U-other"})");
    Person person = person_with_phone([](int shown) { return shown; });
    expect_refused(person, "\nThis LINE account is not the one linked to your login.\n");
    EXPECT_TRUE(daemon_->log_shows("event=line-other-account")) << daemon_->log();
}

TEST_F(LineLogin, AccessDeniedInLineIsRefusedAndCounted) {
    link_bob();
    control(R"({"service": "authorize", "mode": "deny"})");
    Person person = person_with_phone([](int) { return std::nullopt; });
    expect_refused(person, "\nRefused in LINE.\n");
}

TEST_F(LineLogin, AWrongNumberIsRefusedAndCounted) {
    link_bob();
    Person person = person_with_phone([](int shown) { return other_number(shown); });
    expect_refused(person, "\nThe wrong number was picked in LINE.\n");
    EXPECT_NE(phone_pages_.find("not the number"), std::string::npos) << phone_pages_;
}

TEST_F(LineLogin, TheTokenEndpointFailingGivesWayToThePassword) {
    link_bob();
    control(R"({"service": "token", "mode": "500"})");
    Person person = person_with_phone([](int) { return std::nullopt; });
    expect_password_instead(person, "LINE's token endpoint failed.");
}

TEST_F(LineLogin, AnExpiredLinkIsRefusedAndCounted) {
    link_bob();
    // The person presses Enter without opening the link: the login waits for LINE until the
    // link's 30 s are over.
    Person person = new_person();
    person.at_method = [](const std::string&) { return std::optional<std::string>(""); };
    auto started = std::chrono::steady_clock::now();
    expect_refused(person, "\nThe LINE link expired before it was approved. Log in again.\n");
    EXPECT_GE(std::chrono::steady_clock::now() - started, 29s);
    EXPECT_EQ(person.shown.find("Log in with your password instead."), std::string::npos)
        << person.shown;
}

TEST_F(LineLogin, NeitherTheSubNorItsHashIsShownLoggedOrKeptInTheClear) {
    link_bob();
    Person approved = person_with_phone([](int shown) { return shown; });
    ASSERT_EQ(authenticate("bob", approved), PAM_SUCCESS) << approved.shown;
    control(R"({"service": "authorize", "mode": "approve", "sub": "U-other"})");
    Person other = person_with_phone([](int shown) { return shown; });
    ASSERT_EQ(authenticate("bob", other), PAM_AUTH_ERR) << other.shown;

    for (const auto& args :
         std::vector<std::vector<std::string>>{{"admin", "show", "bob"},
                                               {"--json", "admin", "show", "bob"},
                                               {"admin", "users"},
                                               {"--json", "admin", "users"}}) {
        RunResult r = ctl("frank", args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"status"}, {"--json", "status"}}) {
        EXPECT_EQ(ctl("bob", args).exit_code, 0);
    }
    std::string hash = expected_hash(kFakeSub);
    std::string other_hash = expected_hash(kOtherSub);
    std::string shown = outputs_ + approved.shown + other.shown;
    std::string log = daemon_->log();
    for (const std::string& secret : {std::string(kFakeSub), std::string(kOtherSub),
                                      hash.substr(0, 8), other_hash.substr(0, 8)}) {
        EXPECT_EQ(shown.find(secret), std::string::npos) << secret << " in " << shown;
        EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in " << log;
    }
    // Every text of the store (.dump writes each row of each table): the link's keyed hash
    // once, in bob's line_link, and neither `sub`.
    std::string dump = sql(".dump");
    EXPECT_EQ(dump.find(kFakeSub), std::string::npos) << dump;
    EXPECT_EQ(dump.find(kOtherSub), std::string::npos) << dump;
    EXPECT_EQ(dump.find(other_hash.substr(0, 8)), std::string::npos) << dump;
    size_t at = dump.find(hash);
    EXPECT_NE(at, std::string::npos) << dump;
    EXPECT_EQ(dump.find(hash.substr(0, 8), at + 1), std::string::npos) << dump;
    EXPECT_EQ(sql("SELECT name FROM users WHERE line_link = '" + hash + "';"), "bob\n");
}

}  // namespace
}  // namespace lwauth::test
