// Japanese and English through the real PAM stack: the real pam_lwauth.so under libpam
// (pam_wrapper), the real lwauthd on a private bus reading the build tree's catalogs, a
// session whose locale is set in the PAM environment (pam_putenv, as pam_env sets it) or
// in the application's own. The code message is read back from the outbox.
#include <gtest/gtest.h>
#include <security/pam_appl.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "conversation.hpp"
#include "harness.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kPamMatrix = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so";
constexpr const char* kPassword = "correct horse";
constexpr const char* kEmail = "alice@example.com";

// What the person saw, and how they answer: the password, then a wrong code once, then
// the right one from the outbox.
struct Session {
    const fs::path* outbox = nullptr;
    std::string shown;
    std::vector<std::string> prompts;
    int code_prompts = 0;
};

std::string latest_code(const fs::path& outbox) {
    auto messages = read_outbox(outbox);
    return messages.empty() ? "" : messages.back().code();
}

int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* session = static_cast<Session*>(data);
    return reply_reading(n, msg, resp, session->shown,
                         [session](const std::string& text) -> std::optional<std::string> {
                             session->prompts.push_back(text);
                             if (session->prompts.size() == 1) {
                                 return kPassword;  // pam_matrix asks first
                             }
                             std::string code = latest_code(*session->outbox);
                             if (session->code_prompts++ == 0) {
                                 code.back() = code.back() == '0' ? '1' : '0';
                             }
                             return code;
                         });
}

class PamLanguage : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (pam_dir_ != nullptr) {
            return;  // pam_wrapper reads its service directory once per process
        }
        static TempDir services("lwauth-language-pam");
        pam_dir_ = &services;
        setenv("PAM_WRAPPER_SERVICE_DIR", (pam_dir_->path() / "pam.d").c_str(), 1);
        std::string passdb;
        for (const auto& u : test_users()) {
            passdb += u.name + ":" + kPassword + ":two_step\n";
        }
        write_file(pam_dir_->path() / "passdb", passdb);
        std::string matrix =
            std::string(kPamMatrix) + " passdb=" + (pam_dir_->path() / "passdb").string();
        write_file(pam_dir_->path() / "pam.d" / "two_step",
                   "auth requisite " + matrix + "\nauth required " + LWAUTH_PAM_MODULE_PATH +
                       " mode=second_factor\naccount required " + matrix + "\n");
    }

    void SetUp() override {
        // The application's own locale is this test's to set: none unless a test says.
        for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
            unsetenv(name);
        }
        // The module reads its own lines from the build tree's catalogs too.
        setenv("LWAUTH_LOCALEDIR", LWAUTH_BUILD_LOCALEDIR, 1);
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy());
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->enroll("alice", "email", kEmail));
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_->address().c_str(), 1);
    }

    void TearDown() override {
        unsetenv("LANG");
    }

    [[nodiscard]] virtual std::string policy() const {
        return default_test_policy(dir_ / "outbox.jsonl");
    }

    // pam_authenticate of alice with `locale` as the session's LANG ("" for none set in
    // the PAM environment).
    int log_in(const std::string& locale, Session& session) {
        fs::path outbox = daemon_->outbox();
        session.outbox = &outbox;
        struct pam_conv conv = {converse, &session};
        pam_handle_t* pamh = nullptr;
        int rc = pam_start("two_step", "alice", &conv, &pamh);
        if (rc != PAM_SUCCESS) {
            return rc;
        }
        if (!locale.empty()) {
            pam_putenv(pamh, ("LANG=" + locale).c_str());
        }
        rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
        return rc;
    }

    [[nodiscard]] std::string last_message() const {
        auto messages = read_outbox(daemon_->outbox());
        return messages.empty() ? "" : messages.back().text;
    }

    static inline TempDir* pam_dir_ = nullptr;
    TempDir dir_{"lwauth-pam-language"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(PamLanguage, AJapaneseSessionIsAskedAndToldInJapanese) {
    Session session;
    ASSERT_EQ(log_in("ja_JP.UTF-8", session), PAM_SUCCESS) << session.shown << daemon_->log();
    ASSERT_EQ(session.prompts.size(), 3u) << session.shown;
    EXPECT_EQ(session.prompts[1], "確認コード: ");
    EXPECT_NE(session.shown.find("確認コードをa•••@example.com宛てにメールで送信しました。"),
              std::string::npos)
        << session.shown;
    EXPECT_NE(session.shown.find("コードが正しくありません。あと2回試せます。"), std::string::npos)
        << session.shown;
    EXPECT_EQ(session.shown.find("Verification code"), std::string::npos) << session.shown;
    std::string message = last_message();
    EXPECT_NE(message.find("lwauth: 確認コードは "), std::string::npos) << message;
    EXPECT_NE(message.find("有効期限は5分です。"), std::string::npos) << message;
}

TEST_F(PamLanguage, TheApplicationsOwnLocaleCountsWhenThePamEnvironmentHasNone) {
    setenv("LANG", "ja_JP.UTF-8", 1);
    Session session;
    ASSERT_EQ(log_in("", session), PAM_SUCCESS) << session.shown << daemon_->log();
    EXPECT_EQ(session.prompts[1], "確認コード: ") << session.shown;
}

TEST_F(PamLanguage, AnEnglishOrUnsetSessionWithoutPolicyLanguageIsInEnglish) {
    Session session;
    ASSERT_EQ(log_in("C", session), PAM_SUCCESS) << session.shown << daemon_->log();
    EXPECT_EQ(session.prompts[1], "Verification code: ");
    EXPECT_NE(last_message().find("lwauth: your verification code is "), std::string::npos)
        << last_message();
}

TEST_F(PamLanguage, TheModulesOwnLinesFollowTheSessionToo) {
    daemon_->stop();
    Session session;
    EXPECT_EQ(log_in("ja_JP.UTF-8", session), PAM_AUTHINFO_UNAVAIL);
    EXPECT_NE(session.shown.find("ログイン確認サービスを利用できません。"), std::string::npos)
        << session.shown;
}

// [policy] language = ja: the language of sessions whose locale names none lwauth has.
class PamPolicyLanguage : public PamLanguage {
  protected:
    [[nodiscard]] std::string policy() const override {
        std::string text = default_test_policy(dir_ / "outbox.jsonl");
        text.replace(text.find("[policy]\n"), 9, "[policy]\nlanguage = ja\n");
        return text;
    }
};

TEST_F(PamPolicyLanguage, ACSessionGetsThePolicysJapanese) {
    Session session;
    ASSERT_EQ(log_in("C", session), PAM_SUCCESS) << session.shown << daemon_->log();
    EXPECT_EQ(session.prompts[1], "確認コード: ") << session.shown;
    EXPECT_NE(last_message().find("lwauth: 確認コードは "), std::string::npos) << last_message();
}

TEST_F(PamPolicyLanguage, AnEnglishSessionStaysEnglish) {
    Session session;
    ASSERT_EQ(log_in("en_US.UTF-8", session), PAM_SUCCESS) << session.shown << daemon_->log();
    EXPECT_EQ(session.prompts[1], "Verification code: ") << session.shown;
    EXPECT_NE(session.shown.find("A verification code was sent by email"), std::string::npos)
        << session.shown;
    EXPECT_NE(last_message().find("lwauth: your verification code is "), std::string::npos)
        << last_message();
}

// lwauthctl follows its own locale (GNU gettext). The host has no ja_JP.UTF-8: the test
// generates one with localedef into a directory of its own, named by LOCPATH, which glibc
// reads for a program that is not setuid; the host's /usr/lib/locale is never touched.
class LwauthctlLanguage : public PamLanguage {
  protected:
    // lwauthctl `args` as alice in `locale`.
    [[nodiscard]] RunResult ctl(const std::string& locale, const std::vector<std::string>& args,
                                std::optional<uid_t> uid = uid_of("alice")) const {
        std::map<std::string, std::string> env = daemon_->client_env();
        env["LANG"] = locale;
        env["LOCPATH"] = locales_->path().string();
        std::vector<std::string> argv{lwauthctl_path().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, env, uid);
    }
    // lwauthctl `args` as root (an administrator) in `locale`.
    [[nodiscard]] RunResult admin_ctl(const std::string& locale,
                                      const std::vector<std::string>& args) const {
        return ctl(locale, args, std::nullopt);
    }
    [[nodiscard]] RunResult status(const std::string& locale) const {
        return ctl(locale, {"status"});
    }

    static void SetUpTestSuite() {
        PamLanguage::SetUpTestSuite();
        if (locales_ != nullptr) {
            return;
        }
        static TempDir made_here("lwauth-locales");
        locales_ = &made_here;
        fs::permissions(locales_->path(), fs::perms(0755));  // read by the test user
        RunResult made = run({"/usr/bin/localedef", "-i", "ja_JP", "-f", "UTF-8",
                              (locales_->path() / "ja_JP.UTF-8").string()},
                             base_env());
        ASSERT_EQ(made.exit_code, 0) << made.err;
    }

    static inline TempDir* locales_ = nullptr;
};

TEST_F(LwauthctlLanguage, PrintsJapaneseInAJapaneseLocale) {
    RunResult r = status("ja_JP.UTF-8");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("ユーザー:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2 段階認証:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("a•••@example.com（確認済み）"), std::string::npos) << r.out;
}

TEST_F(LwauthctlLanguage, TranslatesLwauthdsRefusal) {
    RunResult r = ctl("ja_JP.UTF-8", {"admin", "show", "bob"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("権限がありません: この操作は root またはポリシーの管理者グループのメンバーだけが"
                         "実行できます。\n"),
              std::string::npos)
        << r.err;
}

// The descriptions of the commands and options are lwauthctl's; CLI11's own words
// ("Usage", "OPTIONS", "SUBCOMMANDS") stay English.
TEST_F(LwauthctlLanguage, HelpIsJapaneseInAJapaneseLocale) {
    RunResult r = ctl("ja_JP.UTF-8", {"--help"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* shown : {"lwauth のログイン設定を管理します", "このヘルプを表示して終了します",
                              "機械で読み取れる JSON で出力します", "ログイン設定を表示します",
                              "アカウントの 2 段階認証をオンまたはオフにします"}) {
        EXPECT_NE(r.out.find(shown), std::string::npos) << shown << "\n" << r.out;
    }
    RunResult sub = ctl("ja_JP.UTF-8", {"admin", "reset", "--help"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    EXPECT_NE(sub.out.find("ユーザー名"), std::string::npos) << sub.out;
    EXPECT_NE(sub.out.find("pin、line、contacts、hosts、totp または all"), std::string::npos)
        << sub.out;
}

TEST_F(LwauthctlLanguage, AdminUsersIsJapaneseInAJapaneseLocale) {
    RunResult r = admin_ctl("ja_JP.UTF-8", {"admin", "users"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("ユーザー"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2 段階認証"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("いいえ"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("USER"), std::string::npos) << r.out;

    RunResult reset = admin_ctl("ja_JP.UTF-8", {"admin", "reset", "alice", "hosts"});
    ASSERT_EQ(reset.exit_code, 0) << reset.err;
    EXPECT_EQ(
        reset.out,
        "alice の記憶した場所を消去しました。それぞれの場所からの次回のログインでは確認コードを"
        "求めます。\n");
}

// lwauthd writes an error with a value in English from a pattern; lwauthctl finds the
// pattern and fills the same value into its translation.
TEST_F(LwauthctlLanguage, TranslatesLwauthdsErrorWithAUserName) {
    RunResult r = admin_ctl("ja_JP.UTF-8", {"admin", "show", "ghost"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err, "lwauthctl: このホストにユーザー「ghost」はいません。\n");
    RunResult en = admin_ctl("en_US.UTF-8", {"admin", "show", "ghost"});
    EXPECT_EQ(en.err, "lwauthctl: There is no user 'ghost' on this host.\n");
}

// A fixed refusal, marked where lwauthd throws it, looked up by lwauthctl as it arrives.
TEST_F(LwauthctlLanguage, TranslatesLwauthdsFixedRefusal) {
    RunResult r = ctl("ja_JP.UTF-8", {"line", "link"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.err,
              "lwauthctl: このホストでは、あなたのアカウントで LINE によるログインが有効になって"
              "いません。\n");
}

TEST_F(LwauthctlLanguage, SaysAUsageErrorInJapanese) {
    RunResult r = ctl("ja_JP.UTF-8", {"bogus"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err.rfind("lwauthctl: lwauthctl のコマンド「bogus」は不明です。次のいずれかを指定"
                          "してください: status, ",
                          0),
              0u)
        << r.err;
    RunResult contact = ctl("ja_JP.UTF-8", {"contact"});
    EXPECT_EQ(contact.exit_code, 2) << contact.err;
    EXPECT_EQ(contact.err.rfind("lwauthctl: lwauthctl contact にはコマンドが必要です。", 0), 0u)
        << contact.err;
}

// A cap of sends: lwauthd words the wait in English from a counted pattern, lwauthctl
// fills the same number into the Japanese.
class LwauthctlRateLimitLanguage : public LwauthctlLanguage {
  protected:
    [[nodiscard]] std::string policy() const override {
        std::string text = default_test_policy(dir_ / "outbox.jsonl");
        text.replace(text.find("max_sends_per_hour = 100"), 24, "max_sends_per_hour = 1");
        return text.replace(text.find("two_step = optional"), 19,
                            "two_step = optional\nself_service_reauth = none");
    }
};

TEST_F(LwauthctlRateLimitLanguage, TellsTheWaitInJapanese) {
    RunResult first = ctl("ja_JP.UTF-8", {"contact", "add", "phone", "+81 90 0000 0011"});
    RunResult second = ctl("ja_JP.UTF-8", {"contact", "add", "phone", "+81 90 0000 0012"});
    EXPECT_NE(second.exit_code, 0) << first.err << second.out;
    EXPECT_NE(
        second.err.find("lwauthctl: 短時間に送信されたコードが多すぎます。次のコードは60分後に"
                        "送信できます。\n"),
        std::string::npos)
        << first.err << second.err;
}

// No channel reaches alice's email, so a change that needs proof cannot get it: the
// change, one of lwauthd's phrases, is translated inside the sentence that names it.
class LwauthctlUnreachableLanguage : public LwauthctlLanguage {
  protected:
    [[nodiscard]] std::string policy() const override {
        std::string text = default_test_policy(dir_ / "outbox.jsonl");
        return text.replace(text.find("channels = sms, email"), 21, "channels = sms");
    }
};

TEST_F(LwauthctlUnreachableLanguage, TranslatesTheChangeInsideTheSentence) {
    RunResult r = ctl("ja_JP.UTF-8", {"contact", "add", "phone", "+81 90 0000 0011"});
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.err,
              "lwauthctl: 電話番号の追加には確認済みの電話番号またはメールアドレスへのコードが必要"
              "ですが、このホストにはそこへ届く送信手段がありません。管理者に問い合わせてください。"
              "\n");
    RunResult en = ctl("en_US.UTF-8", {"contact", "add", "phone", "+81 90 0000 0011"});
    EXPECT_EQ(en.err,
              "lwauthctl: Adding a phone number needs a code to your verified phone number or "
              "email address, and no channel on this host reaches them; ask your administrator.\n");
}

TEST_F(LwauthctlLanguage, PrintsEnglishInAnEnglishLocale) {
    RunResult r = status("en_US.UTF-8");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("User:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(verified)"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lwauth::test
