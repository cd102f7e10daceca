// Self-service and administration through the real lwauthctl against the real lwauthd:
// status, profile contacts, the admin commands, `contacts = admin`, who may call which
// method, and a privacy audit of everything lwauth writes or prints.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;

constexpr const char* kAlicePhone = "+819012345678";
constexpr const char* kProfilePhone = "+819087654321";
constexpr const char* kAliceMail = "alice@example.com";

class AdminTest : public ::testing::Test {
  protected:
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy());
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    virtual std::string contacts_mode() const { return "self"; }

    std::string policy() const {
        return default_test_policy(dir_ / "outbox.jsonl") +
               "[policy]\nadmin_group = lwadmins\nadmin_contact = the IT desk, extension 1234\n"
               "contacts = " +
               contacts_mode() + "\n\n[group:ops]\ntwo_step = required\n";
    }

    /// lwauthctl as `user`; every output is kept for the privacy audit.
    RunResult ctl(const std::string& user, const std::vector<std::string>& args,
                  const std::string& input = "") {
        RunResult r = daemon_->ctl(user, args, input);
        outputs_ += r.out + r.err;
        return r;
    }

    json ctl_json(const std::string& user, std::vector<std::string> args) {
        args.emplace_back("--json");
        RunResult r = ctl(user, args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return json::parse(r.out, nullptr, false);
    }

    std::string last_code() { return read_outbox(daemon_->outbox()).back().code(); }

    /// add + confirm through the CLI, the code from the outbox (and, with a contact
    /// verified already, the code lwauthctl asks for first).
    void enroll(const std::string& user, const std::string& kind, const std::string& value) {
        ASSERT_EQ(daemon_->ctl_with_code(user, {"contact", "add", kind, value}).exit_code, 0)
            << daemon_->log();
        ASSERT_EQ(ctl(user, {"contact", "confirm", kind, last_code()}).exit_code, 0);
    }

    TempDir dir_{"lwauth-admin"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
    std::string outputs_;
};

TEST_F(AdminTest, StatusShowsMethodsAndMaskedContacts) {
    enroll("alice", "phone", "+81 90 1234 5678");
    RunResult human = ctl("alice", {"status"});
    ASSERT_EQ(human.exit_code, 0) << human.err;
    EXPECT_NE(human.out.find("Methods offered:       2-step verification"), std::string::npos)
        << human.out;
    EXPECT_NE(human.out.find("2-step verification:   on (policy: optional)"), std::string::npos);
    EXPECT_NE(human.out.find("(login-only number, verified)"), std::string::npos) << human.out;
    EXPECT_NE(human.out.find("5678"), std::string::npos);
    EXPECT_EQ(human.out.find("9012345678"), std::string::npos);

    json s = ctl_json("alice", {"status"});
    EXPECT_EQ(s["user"], "alice");
    EXPECT_EQ(s["two_step"], true);
    EXPECT_EQ(s["methods"], json::array({"two_step"}));
    EXPECT_EQ(s["phone_source"], "self");
    EXPECT_EQ(s["line_linked"], false);
    EXPECT_EQ(s["pin_set"], false);
    EXPECT_EQ(s["locked_until"], 0);
    EXPECT_FALSE(s.contains("email"));
}

TEST_F(AdminTest, AdminUsersListsWhoHasWhatMasked) {
    enroll("alice", "phone", kAlicePhone);
    enroll("bob", "email", "bob@example.com");
    RunResult table = ctl("frank", {"admin", "users"});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_EQ(table.out.rfind("USER   2-STEP  PHONE", 0), 0u) << table.out;
    EXPECT_NE(table.out.find("\nalice  on"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("\nbob    on"), std::string::npos) << table.out;
    EXPECT_EQ(table.out.find("bob@example.com"), std::string::npos) << "masked";

    json users = ctl_json("root", {"admin", "users"});
    ASSERT_EQ(users["users"].size(), 2u) << users.dump();
    EXPECT_EQ(users["users"][0]["user"], "alice");
    EXPECT_EQ(users["users"][1]["email_source"], "self");
}

TEST_F(AdminTest, AdminShowNamesAnUnknownUser) {
    enroll("alice", "email", kAliceMail);
    RunResult shown = ctl("frank", {"admin", "show", "alice"});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("User:                  alice"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("Email:"), std::string::npos);

    RunResult unknown = ctl("root", {"admin", "show", "nosuchuser"});
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_NE(unknown.err.find("There is no user 'nosuchuser' on this host"), std::string::npos)
        << unknown.err;
}

TEST_F(AdminTest, TheProfilePhoneIsUsedForLoginOnlyOnceConfirmed) {
    ASSERT_EQ(ctl("root", {"admin", "contact", "set", "alice", "phone", kProfilePhone}).exit_code,
              0);
    json before = ctl_json("alice", {"status"});
    EXPECT_TRUE(before.contains("profile_phone")) << before.dump();
    EXPECT_FALSE(before.contains("phone")) << "not for login until the user chooses it";
    EXPECT_EQ(before["two_step"], false);
    RunResult hint = ctl("alice", {"status"});
    EXPECT_NE(hint.out.find("lwauthctl contact use-profile phone"), std::string::npos) << hint.out;

    RunResult use = ctl("alice", {"contact", "use-profile", "phone"});
    ASSERT_EQ(use.exit_code, 0) << use.err;
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kProfilePhone);
    ASSERT_EQ(ctl("alice", {"contact", "confirm", "phone", last_code()}).exit_code, 0);
    json after = ctl_json("alice", {"status"});
    EXPECT_EQ(after["phone_source"], "profile");
    EXPECT_EQ(after["two_step"], true);

    // A new profile number is not the one alice confirmed: she must confirm again.
    ASSERT_EQ(
        ctl("frank", {"admin", "contact", "set", "alice", "phone", "+819011112222"}).exit_code, 0);
    json changed = ctl_json("alice", {"status"});
    EXPECT_FALSE(changed.contains("phone")) << changed.dump();
    EXPECT_EQ(changed["two_step"], false);
}

TEST_F(AdminTest, AnAdministratorsChangeCancelsTheConfirmationOfTheOldProfileValue) {
    enroll("alice", "phone", kAlicePhone);
    const json before = ctl_json("alice", {"status"});
    for (const std::string change : {"set", "remove"}) {
        ASSERT_EQ(
            ctl("root", {"admin", "contact", "set", "alice", "phone", kProfilePhone}).exit_code, 0);
        ASSERT_EQ(daemon_->ctl_with_code("alice", {"contact", "use-profile", "phone"}).exit_code,
                  0);
        const std::string old_code = last_code();
        ASSERT_TRUE(ctl_json("alice", {"status"}).contains("pending_phone"));

        std::vector<std::string> args{"admin", "contact", change, "alice", "phone"};
        if (change == "set") {
            args.emplace_back("+819011112222");
        }
        ASSERT_EQ(ctl("frank", args).exit_code, 0) << change;
        EXPECT_FALSE(ctl_json("alice", {"status"}).contains("pending_phone")) << change;

        RunResult confirm = ctl("alice", {"contact", "confirm", "phone", old_code});
        EXPECT_EQ(confirm.exit_code, 1) << change;
        EXPECT_NE(confirm.err.find("No phone is waiting for confirmation"), std::string::npos)
            << change << ": " << confirm.err;
        json after = ctl_json("alice", {"status"});
        EXPECT_EQ(after["phone_source"], "self") << change;
        EXPECT_EQ(after["phone"], before["phone"]) << change << ": the old profile number won";
    }

    // A number of her own waiting for its code is not the administrator's to cancel.
    ASSERT_EQ(
        daemon_->ctl_with_code("alice", {"contact", "add", "phone", "+819033334444"}).exit_code, 0);
    const std::string own_code = last_code();
    ASSERT_EQ(ctl("frank", {"admin", "contact", "set", "alice", "phone", kProfilePhone}).exit_code,
              0);
    ASSERT_EQ(ctl("alice", {"contact", "confirm", "phone", own_code}).exit_code, 0);
    EXPECT_EQ(ctl_json("alice", {"status"})["phone"],
              "+81 \u2022\u2022 \u2022\u2022\u2022\u2022 4444");
}

TEST_F(AdminTest, UseProfileWithoutAProfileSaysWhatToDo) {
    RunResult r = ctl("alice", {"contact", "use-profile", "phone"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("Your profile has no phone"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("lwauthctl contact add phone"), std::string::npos);
}

TEST_F(AdminTest, RemovingTheProfileKeepsTheUsersOwnNumber) {
    enroll("alice", "phone", kAlicePhone);
    ASSERT_EQ(ctl("root", {"admin", "contact", "set", "alice", "phone", kProfilePhone}).exit_code,
              0);
    ASSERT_EQ(ctl("root", {"admin", "contact", "remove", "alice", "phone"}).exit_code, 0);
    json s = ctl_json("alice", {"status"});
    EXPECT_EQ(s["phone_source"], "self");
    EXPECT_FALSE(s.contains("profile_phone"));
    EXPECT_EQ(s["two_step"], true);

    RunResult again = ctl("root", {"admin", "contact", "remove", "alice", "phone"});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_NE(again.err.find("has no phone set by an administrator"), std::string::npos)
        << again.err;
}

TEST_F(AdminTest, UnlockEndsALockout) {
    enroll("alice", "email", kAliceMail);
    for (int i = 0; i < 2; ++i) {
        // 3 tries per code, 5 failures lock: two logins of wrong codes.
        login_as_root(bus_->address(), "alice", "000000");
    }
    json locked = ctl_json("alice", {"status"});
    ASSERT_NE(locked["locked_until"], 0) << daemon_->log();
    EXPECT_NE(ctl("alice", {"status"}).out.find("Locked until:"), std::string::npos);
    EXPECT_EQ(login_as_root_with(bus_->address(), "alice", [&] { return last_code(); }).verdict,
              "maxtries");

    ASSERT_EQ(ctl("frank", {"admin", "unlock", "alice"}).exit_code, 0);
    EXPECT_EQ(ctl_json("alice", {"status"})["locked_until"], 0);
    EXPECT_EQ(login_as_root_with(bus_->address(), "alice", [&] { return last_code(); }).verdict,
              "success");
}

TEST_F(AdminTest, ResetClearsWhatTheUserSetUp) {
    enroll("alice", "phone", kAlicePhone);
    enroll("alice", "email", kAliceMail);
    ASSERT_EQ(ctl("root", {"admin", "reset", "alice", "contacts"}).exit_code, 0);
    json s = ctl_json("alice", {"status"});
    EXPECT_FALSE(s.contains("phone"));
    EXPECT_FALSE(s.contains("email"));
    EXPECT_EQ(s["two_step"], false);

    for (const char* what : {"pin", "line", "all"}) {
        RunResult r = ctl("frank", {"admin", "reset", "alice", what});
        EXPECT_EQ(r.exit_code, 0) << what << ": " << r.err;
    }
    EXPECT_EQ(ctl("root", {"admin", "reset", "alice", "everything"}).exit_code, 2) << "usage";
    EXPECT_EQ(ctl("root", {"admin", "reset", "nosuchuser"}).exit_code, 1);
}

TEST_F(AdminTest, PolicyShowGivesTheEffectivePolicyOfTheRunningDaemon) {
    RunResult dave = ctl("frank", {"policy", "show", "dave"});
    ASSERT_EQ(dave.exit_code, 0) << dave.err;
    EXPECT_NE(dave.out.find("two_step = required"), std::string::npos) << dave.out;
    RunResult alice = ctl("root", {"policy", "show", "alice"});
    EXPECT_NE(alice.out.find("two_step = optional"), std::string::npos) << alice.out;
    EXPECT_NE(alice.out.find("admin_group = lwadmins"), std::string::npos);
    EXPECT_EQ(ctl("alice", {"policy", "show", "alice"}).exit_code, 3);
}

TEST_F(AdminTest, EveryAdminActionIsLoggedWithTheAdminsUid) {
    ASSERT_EQ(
        ctl("frank", {"admin", "contact", "set", "bob", "email", "bob@example.com"}).exit_code, 0);
    ASSERT_EQ(ctl("frank", {"admin", "unlock", "bob"}).exit_code, 0);
    ASSERT_EQ(ctl("root", {"admin", "reset", "bob", "pin"}).exit_code, 0);
    ASSERT_EQ(ctl("root", {"policy", "reload"}).exit_code, 0);
    std::string log = daemon_->log();
    std::string frank = std::to_string(uid_of("frank"));
    for (const std::string& line :
         {"event=admin-action admin_uid=" + frank + " user=bob action=contact-set detail=email",
          "event=admin-action admin_uid=" + frank + " user=bob action=unlock",
          std::string("event=admin-action admin_uid=0 user=bob action=reset detail=pin"),
          std::string("event=reload-requested admin_uid=0")}) {
        EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
    }
    EXPECT_EQ(log.find("bob@example.com"), std::string::npos);
}

TEST_F(AdminTest, UsersCannotAdminister) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"admin", "users"},
          {"admin", "show", "bob"},
          {"admin", "contact", "set", "bob", "phone", kAlicePhone},
          {"admin", "contact", "remove", "bob", "phone"},
          {"admin", "unlock", "bob"},
          {"admin", "reset", "bob"}}) {
        RunResult r = ctl("alice", args);
        EXPECT_EQ(r.exit_code, 3) << args[1];
        EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
    }
}

class AdminManagedContacts : public AdminTest {
  protected:
    std::string contacts_mode() const override { return "admin"; }

    /// The administrator's `command` on alice's phone with the database refusing what
    /// `refused` names (e.g. "INSERT ON contacts WHEN NEW.user") for her from lwauthd's
    /// next start on: the administrator is told it failed, and her profile and login
    /// contact stay as they were, codes going where the profile says.
    void expect_a_change_the_store_refuses_to_change_nothing(
        const std::vector<std::string>& command, const std::string& refused) {
        ASSERT_EQ(ctl("root", {"admin", "contact", "set", "alice", "phone", kAlicePhone}).exit_code,
                  0);
        ASSERT_EQ(ctl("alice", {"two-step", "on"}).exit_code, 0);
        json before = ctl_json("root", {"admin", "show", "alice"});
        ASSERT_TRUE(before.contains("phone") && before.contains("profile_phone")) << before.dump();

        ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
        daemon_->refuse_store_write(refused, "alice");
        ASSERT_TRUE(daemon_->start()) << daemon_->log();

        RunResult changed = ctl("root", command);
        EXPECT_NE(changed.exit_code, 0);
        EXPECT_NE(changed.err.find(Daemon::kStoreRefusal), std::string::npos) << changed.err;

        json after = ctl_json("root", {"admin", "show", "alice"});
        EXPECT_EQ(after["profile_phone"], before["profile_phone"])
            << "the profile must show the number the codes go to, and no other";
        EXPECT_EQ(after["phone"], before["phone"]);
        LoginResult login =
            login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
        EXPECT_EQ(login.verdict, "success") << daemon_->log();
        EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kAlicePhone)
            << "the code went where the profile says it goes";
    }
};

TEST_F(AdminManagedContacts, UsersAreToldWhoManagesThemAndHowToAsk) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"contact", "add", "phone", kAlicePhone},
          {"contact", "confirm", "phone", "123456"},
          {"contact", "remove", "phone"},
          {"contact", "use-profile", "phone"}}) {
        RunResult r = ctl("alice", args);
        EXPECT_EQ(r.exit_code, 1) << args[1];
        EXPECT_NE(r.err.find("Your administrator manages phone numbers and email addresses on "
                             "this host; to change yours, contact the IT desk, extension 1234."),
                  std::string::npos)
            << r.err;
    }
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty());
}

TEST_F(AdminManagedContacts, AnAdministratorsContactServesLoginsAtOnce) {
    ASSERT_EQ(ctl("frank", {"admin", "contact", "set", "alice", "phone", kProfilePhone}).exit_code,
              0);
    EXPECT_TRUE(read_outbox(daemon_->outbox()).empty()) << "no confirmation under contacts=admin";
    json s = ctl_json("alice", {"status"});
    EXPECT_EQ(s["phone_source"], "admin");
    EXPECT_EQ(s["contacts_policy"], "admin");
    EXPECT_NE(ctl("alice", {"status"}).out.find("managed by the administrator (the IT desk"),
              std::string::npos);
    ASSERT_EQ(ctl("alice", {"two-step", "on"}).exit_code, 0) << "her own switch stays hers";
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kProfilePhone);

    ASSERT_EQ(ctl("root", {"admin", "contact", "remove", "alice", "phone"}).exit_code, 0);
    json removed = ctl_json("alice", {"status"});
    EXPECT_FALSE(removed.contains("phone"));
    EXPECT_EQ(removed["two_step"], false);
}

TEST_F(AdminManagedContacts, AReplacementTheStoreFailsToSaveLeavesCodesGoingWhereTheProfileSays) {
    // The lost phone replaced; the login contact's write fails after the profile's could go
    // through.
    expect_a_change_the_store_refuses_to_change_nothing(
        {"admin", "contact", "set", "alice", "phone", kProfilePhone},
        "INSERT ON contacts WHEN NEW.user");
}

TEST_F(AdminManagedContacts, ARemovalTheStoreFailsLeavesCodesGoingWhereTheProfileSays) {
    // The lost phone removed; the login contact's removal fails after the profile's could go
    // through.
    expect_a_change_the_store_refuses_to_change_nothing(
        {"admin", "contact", "remove", "alice", "phone"}, "DELETE ON contacts WHEN OLD.user");
}

// ---- Who may call what ---------------------------------------------------------------

struct Method {
    const char* interface;
    const char* member;
    std::function<void(sd_bus_message*)> append;
};

std::vector<Method> account_methods() {
    return {
        {"org.lwauth.Auth1.Account", "Status", [](sd_bus_message*) {}},
        {"org.lwauth.Auth1.Account", "AddContact",
         [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "email", "x@example.com"); }},
        {"org.lwauth.Auth1.Account", "UseProfileContact",
         [](sd_bus_message* m) { sd_bus_message_append(m, "s", "phone"); }},
        {"org.lwauth.Auth1.Account", "ConfirmContact",
         [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "email", "000000"); }},
        {"org.lwauth.Auth1.Account", "RemoveContact",
         [](sd_bus_message* m) { sd_bus_message_append(m, "s", "email"); }},
        {"org.lwauth.Auth1.Account", "SetTwoStep",
         [](sd_bus_message* m) { sd_bus_message_append(m, "b", 0); }},
        {"org.lwauth.Auth1.Account", "StartReauth", [](sd_bus_message*) {}},
        {"org.lwauth.Auth1.Account", "Reauth",
         [](sd_bus_message* m) { sd_bus_message_append(m, "s", "000000"); }},
        {"org.lwauth.Auth1.Account", "Forget", [](sd_bus_message*) {}},
        {"org.lwauth.Auth1.Account", "LinkLine", [](sd_bus_message*) {}},
        {"org.lwauth.Auth1.Account", "LineLinkStatus", [](sd_bus_message*) {}},
        {"org.lwauth.Auth1.Account", "UnlinkLine", [](sd_bus_message*) {}},
    };
}

/// The Admin methods that change a user, aimed at `user`, in an order that root can call
/// them in (RemoveContact needs the profile SetContact gave).
std::vector<Method> admin_changes(const std::string& user) {
    return {
        {"org.lwauth.Auth1.Admin", "SetContact",
         [user](sd_bus_message* m) {
             sd_bus_message_append(m, "sss", user.c_str(), "phone", kProfilePhone);
         }},
        {"org.lwauth.Auth1.Admin", "RemoveContact",
         [user](sd_bus_message* m) { sd_bus_message_append(m, "ss", user.c_str(), "phone"); }},
        {"org.lwauth.Auth1.Admin", "Unlock",
         [user](sd_bus_message* m) { sd_bus_message_append(m, "s", user.c_str()); }},
        {"org.lwauth.Auth1.Admin", "Reset",
         [user](sd_bus_message* m) { sd_bus_message_append(m, "ss", user.c_str(), "all"); }},
    };
}

std::vector<Method> admin_methods() {
    return {
        {"org.lwauth.Auth1.Admin", "ListUsers", [](sd_bus_message*) {}},
        {"org.lwauth.Auth1.Admin", "ShowUser",
         [](sd_bus_message* m) { sd_bus_message_append(m, "s", "alice"); }},
        {"org.lwauth.Auth1.Admin", "ShowPolicy",
         [](sd_bus_message* m) { sd_bus_message_append(m, "s", "alice"); }},
        {"org.lwauth.Auth1.Admin", "SetContact",
         [](sd_bus_message* m) {
             sd_bus_message_append(m, "sss", "alice", "phone", kProfilePhone);
         }},
        {"org.lwauth.Auth1.Admin", "RemoveContact",
         [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "alice", "phone"); }},
        {"org.lwauth.Auth1.Admin", "Unlock",
         [](sd_bus_message* m) { sd_bus_message_append(m, "s", "alice"); }},
        {"org.lwauth.Auth1.Admin", "Reset",
         [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "alice", "pin"); }},
        {"org.lwauth.Auth1.Admin", "ReloadPolicy", [](sd_bus_message*) {}},
    };
}

class Authorization : public AdminTest, public ::testing::WithParamInterface<bool> {
  protected:
    // With a bus that allows every call, lwauthd alone decides.
    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path(), /*permissive=*/GetParam());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy());
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    std::string call_as(uid_t uid, const Method& method) {
        return test::call_as(bus_->address(), uid, method.interface, method.member, method.append);
    }
};

bool denied(const std::string& error) {
    return error == "org.lwauth.Auth1.Error.AccessDenied" ||
           error == "org.freedesktop.DBus.Error.AccessDenied";
}

TEST_P(Authorization, AccountMethodsActOnlyOnTheCallersOwnAccount) {
    enroll("alice", "email", kAliceMail);
    // root, another user, an admin-group member: each may call every Account method,
    // and reaches only their own account...
    for (const char* caller : {"root", "bob", "frank"}) {
        for (const Method& method : account_methods()) {
            std::string error = call_as(uid_of(caller), method);
            EXPECT_FALSE(denied(error)) << caller << " " << method.member << ": " << error;
            EXPECT_NE(error, "errno") << caller << " " << method.member;
        }
    }
    json untouched = ctl_json("alice", {"status"});
    EXPECT_EQ(untouched["email_source"], "self") << "RemoveContact by others left hers";
    EXPECT_EQ(untouched["two_step"], true) << "SetTwoStep(false) by others left hers";
    // ...and the user herself reaches hers, where what would weaken her login waits for
    // proof that it is her (self_service_reauth; the Reauth tests give it).
    for (const Method& method : account_methods()) {
        std::string error = call_as(uid_of("alice"), method);
        EXPECT_FALSE(denied(error)) << method.member << ": " << error;
        if (method.member == std::string("RemoveContact") ||
            method.member == std::string("SetTwoStep")) {
            EXPECT_EQ(error, "org.lwauth.Auth1.Error.ReauthRequired") << method.member;
        }
    }
    json after = ctl_json("alice", {"status"});
    EXPECT_EQ(after["email_source"], "self");
    EXPECT_EQ(after["two_step"], true);
}

TEST_P(Authorization, AdminMethodsAreForRootAndTheAdminGroup) {
    enroll("alice", "email", kAliceMail);
    for (const Method& method : admin_methods()) {
        for (const char* caller : {"alice", "bob"}) {
            std::string error = call_as(uid_of(caller), method);
            EXPECT_TRUE(denied(error)) << caller << " " << method.member << ": " << error;
        }
    }
    json untouched = ctl_json("alice", {"status"});
    EXPECT_TRUE(untouched.contains("email")) << "no denied call changed anything";
    EXPECT_FALSE(untouched.contains("profile_phone"));
    for (const char* caller : {"root", "frank"}) {
        for (const Method& method : admin_methods()) {
            std::string error = call_as(uid_of(caller), method);
            EXPECT_EQ(error, "") << caller << " " << method.member;
        }
    }
}

TEST_P(Authorization, ChangesToRootAndToAdministratorsAreForRootAlone) {
    // root and grace (an administrator) have 2-step on and are locked out.
    for (const char* user : {"root", "grace"}) {
        enroll(user, "email", std::string(user) + "@example.com");
        for (int i = 0; i < 2; ++i) {
            login_as_root(bus_->address(), user, "000000");
        }
    }
    const json root_before = ctl_json("root", {"status"});
    const json grace_before = ctl_json("grace", {"status"});
    ASSERT_NE(root_before["locked_until"], 0) << daemon_->log();
    ASSERT_NE(grace_before["locked_until"], 0);

    // frank (another administrator) may change neither, nor himself; grace not frank.
    const std::vector<std::pair<const char*, const char*>> refused = {
        {"frank", "root"}, {"frank", "grace"}, {"frank", "frank"}, {"grace", "frank"}};
    for (const auto& [admin, user] : refused) {
        for (const Method& method : admin_changes(user)) {
            EXPECT_EQ(call_as(uid_of(admin), method), "org.lwauth.Auth1.Error.AccessDenied")
                << admin << " " << method.member << " " << user;
        }
    }
    EXPECT_EQ(ctl_json("root", {"status"}), root_before) << "nothing changed";
    EXPECT_EQ(ctl_json("grace", {"status"}), grace_before) << "nothing changed";
    RunResult said = ctl("frank", {"admin", "reset", "root"});
    EXPECT_EQ(said.exit_code, 3);
    EXPECT_NE(said.err.find("Only root may change the login settings of root or of a member of "
                            "the admin group"),
              std::string::npos)
        << said.err;
    EXPECT_NE(daemon_->log().find("event=access-denied admin_uid=" +
                                  std::to_string(uid_of("frank")) + " user=root action=reset"),
              std::string::npos)
        << daemon_->log();
    // Reading them stays open to the group.
    Method show{"org.lwauth.Auth1.Admin", "ShowUser",
                [](sd_bus_message* m) { sd_bus_message_append(m, "s", "root"); }};
    EXPECT_EQ(call_as(uid_of("frank"), show), "");

    // Root may change them all, and an administrator an ordinary user.
    for (const auto& [admin, user] : std::vector<std::pair<const char*, const char*>>{
             {"root", "root"}, {"root", "grace"}, {"root", "frank"}, {"frank", "alice"}}) {
        for (const Method& method : admin_changes(user)) {
            EXPECT_EQ(call_as(uid_of(admin), method), "")
                << admin << " " << method.member << " " << user;
        }
    }
    for (const char* user : {"root", "grace"}) {
        json after = ctl_json(user, {"status"});
        EXPECT_EQ(after["locked_until"], 0) << user;
        EXPECT_EQ(after["two_step"], false) << user << ": reset all by root";
    }
}

std::string BusPolicyName(const ::testing::TestParamInfo<bool>& param) {
    return param.param ? "PermissiveBus" : "ShippedBusPolicy";
}

INSTANTIATE_TEST_SUITE_P(BusPolicy, Authorization, ::testing::Values(false, true), BusPolicyName);

// ---- Privacy audit -------------------------------------------------------------------

TEST_F(AdminTest, NoFullNumberOrAddressOutsideTheMessagesThatDeliverCodes) {
    enroll("alice", "phone", kAlicePhone);
    enroll("alice", "email", kAliceMail);
    ASSERT_EQ(ctl("root", {"admin", "contact", "set", "bob", "phone", kProfilePhone}).exit_code, 0);
    ASSERT_EQ(ctl("bob", {"contact", "use-profile", "phone"}).exit_code, 0);
    ASSERT_EQ(ctl("bob", {"contact", "confirm", "phone", last_code()}).exit_code, 0);
    EXPECT_EQ(login_as_root_with(bus_->address(), "alice", [&] { return last_code(); }).verdict,
              "success");
    for (const char* user : {"alice", "bob"}) {
        ctl(user, {"status"});
        ctl(user, {"status", "--json"});
        ctl("frank", {"admin", "show", user});
        ctl("frank", {"admin", "show", user, "--json"});
    }
    ctl("root", {"admin", "users"});
    ctl("root", {"admin", "users", "--json"});
    ctl("alice", {"contact", "add", "phone", "+81 90 1234 5678"});  // the same again
    daemon_->stop();

    std::vector<std::string> secrets = {kAlicePhone,   "9012345678", "09012345678",
                                        kProfilePhone, "9087654321", kAliceMail};
    auto audit = [&](const std::string& where, const std::string& text) {
        for (const auto& secret : secrets) {
            EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << where;
        }
    };
    audit("command output", outputs_);
    audit("the log", daemon_->log());
    size_t files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(daemon_->state_dir())) {
        if (entry.is_regular_file()) {
            audit(entry.path().string(), read_file(entry.path()));
            ++files;
        }
    }
    EXPECT_GE(files, 2u) << "the database and its keys were audited";
    // The outbox is the delivery itself: the codes went there, to the full destination.
    EXPECT_NE(read_file(daemon_->outbox()).find(kAlicePhone), std::string::npos);
}

// A directory group of thousands of members does not fit the 16 KiB a group lookup was
// once given: getgrgid_r answered ERANGE, and the group silently did not count.
class LargeDirectoryGroup : public AdminTest {
  protected:
    static constexpr int kMembers = 2000;

    void SetUp() override {
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                           default_test_policy(dir_ / "outbox.jsonl") +
                                               "[policy]\nadmin_group = staff\n\n"
                                               "[group:staff]\ntwo_step = required\n");
        std::string members = "alice,frank,grace";
        for (int i = 3; i < kMembers; ++i) {
            members += ",member" + std::to_string(i);
        }
        std::string group = read_file(daemon_->group_path());
        write_file(daemon_->group_path(), group + "staff:x:42000:" + members + "\n");
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }
};

TEST_F(LargeDirectoryGroup, ItsGroupSectionApplies) {
    RunResult alice = ctl("root", {"policy", "show", "alice"});
    ASSERT_EQ(alice.exit_code, 0) << alice.err;
    EXPECT_NE(alice.out.find("two_step = required"), std::string::npos) << alice.out;
    RunResult bob = ctl("root", {"policy", "show", "bob"});
    EXPECT_NE(bob.out.find("two_step = optional"), std::string::npos) << bob.out;
}

TEST_F(LargeDirectoryGroup, ItsMembersAreAdministrators) {
    RunResult users = ctl("frank", {"admin", "users"});
    EXPECT_EQ(users.exit_code, 0) << users.err << daemon_->log();
    EXPECT_EQ(ctl("bob", {"admin", "users"}).exit_code, 3);
    // And a fellow member is changed by root alone.
    RunResult unlock = ctl("frank", {"admin", "unlock", "grace"});
    EXPECT_EQ(unlock.exit_code, 3) << unlock.err;
    EXPECT_EQ(ctl("frank", {"admin", "unlock", "bob"}).exit_code, 0);
}

}  // namespace
}  // namespace lwauth::test
