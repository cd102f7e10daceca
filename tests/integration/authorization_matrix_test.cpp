// Who may call what, as one table: every method lwauthd serves on its three interfaces
// (read from the running daemon's introspection, that is from its vtables) against every
// kind of caller, behind the shipped bus policy and behind a bus that allows everything.
// A method added to a vtable without a row here fails the test, and so does a row whose
// arguments no longer match the method's.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

constexpr const char* kLogin = "org.lwauth.Auth1.Login";
constexpr const char* kAccount = "org.lwauth.Auth1.Account";
constexpr const char* kAdmin = "org.lwauth.Auth1.Admin";
constexpr const char* kProfilePhone = "+819087654321";
// No entry in the tests' passwd (nor the bus's): a caller lwauthd cannot name.
constexpr uid_t kNoPasswdUid = 40999;

// A caller and the user it aims at (the user argument of Login.Start and of the Admin
// methods; the Account methods take none and act on the caller's own account).
struct Column {
    const char* name;
    uid_t caller;
    const char* target;
};

const std::vector<Column>& columns() {
    static const std::vector<Column> kColumns = {
        {"root", 0, "alice"},
        {"the user", uid_of("alice"), "alice"},
        {"another user", uid_of("bob"), "alice"},
        {"admin on a user", uid_of("frank"), "alice"},
        {"admin on root", uid_of("frank"), "root"},
        {"admin on an admin", uid_of("frank"), "grace"},
        {"no passwd entry", kNoPasswdUid, "alice"},
    };
    return kColumns;
}

// What one cell must give.
//   A  allowed: the call reaches the account it aims at (it may still fail for a reason
//      of that account, such as ReauthRequired or NotEnabled, never for who calls)
//   D  denied: AccessDenied, from the bus or from lwauthd
//   N  no account: NotFound, lwauthd cannot name the caller's user
//   L  not the caller's login: NoSuchLogin, or for Cancel an answer that says nothing;
//      the login of another connection goes on untouched
// One letter per column, in the order of columns().
struct Row {
    const char* interface;
    const char* member;
    const char* in_signature;
    const char* expected;
    // The arguments, given the target user and the id of a login in progress.
    std::function<void(sd_bus_message*, const std::string& target, const std::string& login)>
        append;
};

using Args = std::function<void(sd_bus_message*, const std::string&, const std::string&)>;

Args none() {
    return [](sd_bus_message*, const std::string&, const std::string&) {};
}
Args strings(std::vector<std::string> values) {
    return [values](sd_bus_message* m, const std::string&, const std::string&) {
        for (const auto& v : values) {
            sd_bus_message_append(m, "s", v.c_str());
        }
    };
}
// The target user, then `rest`.
Args user_and(std::vector<std::string> rest) {
    return [rest](sd_bus_message* m, const std::string& target, const std::string&) {
        sd_bus_message_append(m, "s", target.c_str());
        for (const auto& v : rest) {
            sd_bus_message_append(m, "s", v.c_str());
        }
    };
}
// The login in progress, then `rest`.
Args login_and(std::vector<std::string> rest) {
    return [rest](sd_bus_message* m, const std::string&, const std::string& login) {
        sd_bus_message_append(m, "s", login.c_str());
        for (const auto& v : rest) {
            sd_bus_message_append(m, "s", v.c_str());
        }
    };
}

// Account: everyone with a user name, on their own account. Admin reads: root and the
// admin group. Admin changes: root, and the group on users outside it.
constexpr const char* kEveryUser = "AAAAAAN";
constexpr const char* kAdminRead = "ADDAAAD";
constexpr const char* kAdminChange = "ADDADDD";
constexpr const char* kOwnLoginOnly = "LLLLLLL";

const std::vector<Row>& rows() {
    static const std::vector<Row> kRows = {
        {kLogin, "Start", "a{sv}", "AADDDDD",
         [](sd_bus_message* m, const std::string& target, const std::string&) {
             sd_bus_message_append(m, "a{sv}", 2, "user", "s", target.c_str(), "mode", "s",
                                   "second_factor");
         }},
        {kLogin, "Answer", "ss", kOwnLoginOnly, login_and({"000000"})},
        {kLogin, "Cancel", "s", kOwnLoginOnly, login_and({})},
        {kLogin, "Confirm", "s", kOwnLoginOnly, login_and({})},

        {kAccount, "Status", "", kEveryUser, none()},
        {kAccount, "AddContact", "ss", kEveryUser, strings({"email", "x@example.com"})},
        {kAccount, "UseProfileContact", "s", kEveryUser, strings({"phone"})},
        {kAccount, "ConfirmContact", "ss", kEveryUser, strings({"email", "000000"})},
        {kAccount, "RemoveContact", "s", kEveryUser, strings({"email"})},
        {kAccount, "SetTwoStep", "b", kEveryUser,
         [](sd_bus_message* m, const std::string&, const std::string&) {
             sd_bus_message_append(m, "b", 0);
         }},
        {kAccount, "StartReauth", "", kEveryUser, none()},
        {kAccount, "Reauth", "s", kEveryUser, strings({"000000"})},
        {kAccount, "Forget", "", kEveryUser, none()},
        {kAccount, "LinkLine", "", kEveryUser, none()},
        {kAccount, "LineLinkStatus", "", kEveryUser, none()},
        {kAccount, "UnlinkLine", "", kEveryUser, none()},
        {kAccount, "SetPin", "s", kEveryUser, strings({"482913"})},
        {kAccount, "RemovePin", "", kEveryUser, none()},
        {kAccount, "AddTotp", "", kEveryUser, none()},
        {kAccount, "ConfirmTotp", "s", kEveryUser, strings({"000000"})},
        {kAccount, "RemoveTotp", "", kEveryUser, none()},
        {kAccount, "GenerateRecoveryCodes", "", kEveryUser, none()},

        {kAdmin, "ListUsers", "", "ADDAAAD", none()},
        {kAdmin, "ShowUser", "s", kAdminRead, user_and({})},
        {kAdmin, "ShowPolicy", "s", kAdminRead, user_and({})},
        {kAdmin, "SetContact", "sss", kAdminChange, user_and({"phone", kProfilePhone})},
        {kAdmin, "RemoveContact", "ss", kAdminChange, user_and({"phone"})},
        {kAdmin, "Unlock", "s", kAdminChange, user_and({})},
        {kAdmin, "Reset", "ss", kAdminChange, user_and({"all"})},
        {kAdmin, "ReloadPolicy", "", "ADDAAAD", none()},
        {kAdmin, "TestSend", "s", kAdminChange, user_and({})},
        {kAdmin, "RecoveryCodes", "s", kAdminChange, user_and({})},
        {kAdmin, "Rekey", "", "ADDAAAD", none()},
    };
    return kRows;
}

// Every method of lwauth's interfaces in lwauthd's introspection (which sd-bus writes from
// the vtables), "Interface.Member" -> its input signature.
std::map<std::string, std::string> served_methods(const std::string& xml) {
    std::map<std::string, std::string> out;
    static const std::regex kTag(R"(<(interface|method|arg)\s+([^>]*?)/?>)");
    static const std::regex kName(R"re(name="([^"]*)")re");
    static const std::regex kType(R"re(type="([^"]*)")re");
    static const std::regex kIn(R"re(direction="in")re");
    std::string interface;
    std::string method;
    for (auto it = std::sregex_iterator(xml.begin(), xml.end(), kTag); it != std::sregex_iterator();
         ++it) {
        std::string tag = (*it)[1];
        std::string attrs = (*it)[2];
        std::smatch m;
        if (tag == "interface" && std::regex_search(attrs, m, kName)) {
            interface = m[1];
            method.clear();
        } else if (tag == "method" && std::regex_search(attrs, m, kName)) {
            method = m[1];
            if (interface.starts_with("org.lwauth.Auth1.")) {
                out[interface + "." + method];
            }
        } else if (tag == "arg" && !method.empty() && interface.starts_with("org.lwauth.Auth1.") &&
                   std::regex_search(attrs, kIn) && std::regex_search(attrs, m, kType)) {
            out[interface + "." + method] += m[1];
        }
    }
    return out;
}

std::string introspect(const std::string& address) {
    sd_bus* bus = nullptr;
    if (sd_bus_new(&bus) < 0) {
        return "";
    }
    std::unique_ptr<sd_bus, decltype(&sd_bus_flush_close_unref)> owned(bus,
                                                                       sd_bus_flush_close_unref);
    sd_bus_message* reply = nullptr;
    const char* xml = nullptr;
    if (sd_bus_set_address(bus, address.c_str()) < 0 || sd_bus_set_bus_client(bus, 1) < 0 ||
        sd_bus_start(bus) < 0 ||
        sd_bus_call_method(bus, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                           "org.freedesktop.DBus.Introspectable", "Introspect", nullptr, &reply,
                           "") < 0) {
        return "";
    }
    std::unique_ptr<sd_bus_message, decltype(&sd_bus_message_unref)> answer(reply,
                                                                            sd_bus_message_unref);
    return sd_bus_message_read(reply, "s", &xml) >= 0 ? xml : "";
}

// Whether `error` is what a cell expecting `want` may give.
bool fits(char want, const std::string& member, const std::string& error) {
    bool denied = error == "org.lwauth.Auth1.Error.AccessDenied" ||
                  error == "org.freedesktop.DBus.Error.AccessDenied";
    switch (want) {
        case 'D':
            return denied;
        case 'N':
            return error == "org.lwauth.Auth1.Error.NotFound";
        case 'L':
            return error == "org.lwauth.Auth1.Error.NoSuchLogin" ||
                   (member == "Cancel" && error.empty());
        case 'A':
            // Reaching the account: no refusal for who calls, and no failure of the call
            // itself (a missing reply, a wrong signature, an unknown method).
            return !denied && error != "org.lwauth.Auth1.Error.NoSuchLogin" &&
                   !error.starts_with("org.freedesktop.DBus.Error.") &&
                   error != "org.lwauth.Auth1.Error.Internal" && error != "send-failed" &&
                   error != "no-reply";
        default:
            return false;
    }
}

// A login of alice's that root started on a connection of its own (as sshd's PAM stack
// would): the target of Answer, Cancel and Confirm, which no other connection may touch.
class OwnedLogin {
  public:
    explicit OwnedLogin(const std::string& address) {
        if (sd_bus_new(&bus_) < 0 || sd_bus_set_address(bus_, address.c_str()) < 0 ||
            sd_bus_set_bus_client(bus_, 1) < 0 || sd_bus_start(bus_) < 0) {
            return;
        }
        sd_bus_message* reply = nullptr;
        if (call("Start", &reply, [](sd_bus_message* m) {
                return sd_bus_message_append(m, "a{sv}", 2, "user", "s", "alice", "mode", "s",
                                             "second_factor");
            }) >= 0) {
            const char* id = nullptr;
            if (sd_bus_message_read(reply, "s", &id) >= 0 && id != nullptr) {
                id_ = id;
            }
        }
        sd_bus_message_unref(reply);
    }
    ~OwnedLogin() { sd_bus_flush_close_unref(bus_); }
    OwnedLogin(const OwnedLogin&) = delete;
    OwnedLogin& operator=(const OwnedLogin&) = delete;

    [[nodiscard]] const std::string& id() const { return id_; }
    [[nodiscard]] std::string unique_name() const {
        const char* name = nullptr;
        return sd_bus_get_unique_name(bus_, &name) >= 0 && name != nullptr ? name : "";
    }

    /// Answers the login; its verdict, or the D-Bus error name.
    std::string answer(const std::string& code) {
        sd_bus_message* reply = nullptr;
        int r = call("Answer", &reply, [&](sd_bus_message* m) {
            return sd_bus_message_append(m, "ss", id_.c_str(), code.c_str());
        });
        std::string verdict = error_;
        if (r >= 0) {
            const char* v = nullptr;
            sd_bus_message_read(reply, "s", nullptr);
            sd_bus_message_skip(reply, "a(ss)sb");
            sd_bus_message_read(reply, "s", &v);
            verdict = v != nullptr ? v : "";
        }
        sd_bus_message_unref(reply);
        return verdict;
    }

  private:
    template <class Fill>
    int call(const char* member, sd_bus_message** reply, Fill fill) {
        sd_bus_message* m = nullptr;
        int r = sd_bus_message_new_method_call(bus_, &m, "org.lwauth.Auth1", "/org/lwauth/Auth1",
                                               kLogin, member);
        if (r >= 0) {
            r = fill(m);
        }
        sd_bus_error error = SD_BUS_ERROR_NULL;
        if (r >= 0) {
            r = sd_bus_call(bus_, m, 30 * 1000 * 1000, &error, reply);
        }
        error_ = error.name != nullptr ? error.name : (r < 0 ? "errno" : "");
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        return r;
    }

    sd_bus* bus_ = nullptr;
    std::string id_;
    std::string error_;
};

// Adds to a file of nss_wrapper's in a new file (inode and time), so that a running
// dbus-daemon reads it again at its next lookup.
void append_file(const fs::path& path, const std::string& text) {
    fs::path next = path.string() + ".new";
    write_file(next, read_file(path) + text, fs::perms(0644));
    fs::last_write_time(next, fs::last_write_time(path) + std::chrono::seconds(2));
    fs::rename(next, path);
}

class AuthorizationMatrix : public ::testing::TestWithParam<bool> {
  protected:
    void SetUp() override {
        // The bus refuses a connection from a UID it cannot name: it has a user database
        // of its own, where kNoPasswdUid has an entry that lwauthd's lacks. Root may
        // monitor it (CallsFromClientsThatLeaveAtOnceChangeNothing).
        const fs::path bus_dir = dir_ / "bus";
        fs::create_directories(bus_dir);
        bus_ = std::make_unique<PrivateBus>(
            bus_dir, /*permissive=*/GetParam(),
            R"(<policy user="root"><allow send_destination="org.freedesktop.DBus"
                 send_interface="org.freedesktop.DBus.Monitoring"/></policy>)");
        append_file(bus_dir / "passwd", "ghost:x:40999:40999:ghost:/nonexistent:/bin/false\n");
        append_file(bus_dir / "group", "ghost:x:40999:\n");
        daemon_ = std::make_unique<Daemon>(
            dir_.path(), bus_->address(),
            default_test_policy(dir_ / "outbox.jsonl",
                                "[policy]\nadmin_group = lwadmins\ntotp = allowed\n\n"
                                "[quick_login]\npin = allowed\n"));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    // What a snapshot of everything lwauthd keeps shows: the database and the outbox.
    std::string state() const {
        return daemon_->sql(".dump") +
               "\noutbox: " + std::to_string(read_outbox(daemon_->outbox()).size());
    }

    // The replies of one column's caller to the rows whose cells hold one of `letters`,
    // one call after another on one connection: "Interface.Member" -> error ("" success).
    std::map<std::string, std::string> run_column(const Column& column, const std::string& letters,
                                                  size_t index, const std::string& login) {
        std::vector<CallRound> rounds;
        std::vector<std::string> names;
        for (const Row& row : rows()) {
            if (letters.find(row.expected[index]) == std::string::npos) {
                continue;
            }
            std::string target = column.target;
            Args append = row.append;
            rounds.push_back(
                {row.interface, row.member, [append, target, login](const std::vector<CallReply>&) {
                     return std::vector<Append>{
                         [append, target, login](sd_bus_message* m) { append(m, target, login); }};
                 }});
            names.push_back(std::string(row.interface) + "." + row.member);
        }
        std::map<std::string, std::string> out;
        if (rounds.empty()) {
            return out;
        }
        auto replies = call_rounds_as(bus_->address(), column.caller, rounds);
        for (size_t i = 0; i < names.size(); ++i) {
            out[names[i]] =
                i < replies.size() && replies[i].size() == 1 ? replies[i][0].error : "no-reply";
        }
        return out;
    }

    // Runs the cells of `letters` in every column and checks each against its row.
    void run_cells(const std::string& letters, const std::string& login) {
        for (size_t c = 0; c < columns().size(); ++c) {
            const Column& column = columns()[c];
            auto replies = run_column(column, letters, c, login);
            for (const Row& row : rows()) {
                char want = row.expected[c];
                if (letters.find(want) == std::string::npos) {
                    continue;
                }
                std::string name = std::string(row.interface) + "." + row.member;
                EXPECT_TRUE(fits(want, row.member, replies[name]))
                    << name << " by " << column.name << " (on " << column.target << "): expected "
                    << want << ", got '" << replies[name] << "'";
            }
        }
    }

    TempDir dir_{"lwauth-authz"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_P(AuthorizationMatrix, EveryMethodOfEveryInterfaceHasARowWithItsArguments) {
    std::string xml = introspect(bus_->address());
    ASSERT_FALSE(xml.empty());
    std::map<std::string, std::string> served = served_methods(xml);
    std::map<std::string, std::string> listed;
    for (const Row& row : rows()) {
        listed[std::string(row.interface) + "." + row.member] = row.in_signature;
        EXPECT_EQ(std::string(row.expected).size(), columns().size()) << row.member;
    }
    for (const auto& [name, signature] : served) {
        ASSERT_TRUE(listed.contains(name)) << name << " is served but has no row in the matrix";
        EXPECT_EQ(listed[name], signature) << name << "'s arguments changed";
    }
    for (const auto& [name, signature] : listed) {
        EXPECT_TRUE(served.contains(name)) << name << " has a row but is not served";
    }
    // Login, Account and Admin, all of them.
    EXPECT_EQ(served.size(), 33U) << xml;
}

TEST_P(AuthorizationMatrix, EachCallerReachesExactlyTheAllowedSet) {
    for (const char* user : {"alice", "root", "grace"}) {
        ASSERT_TRUE(daemon_->enroll(user, "email", std::string(user) + "@example.com"))
            << daemon_->log();
    }
    OwnedLogin owned(bus_->address());
    ASSERT_FALSE(owned.id().empty()) << daemon_->log();
    std::string code = read_outbox(daemon_->outbox()).back().code();
    ASSERT_FALSE(code.empty());

    // Every refusal first: none of them may change anything lwauthd keeps...
    const std::string before = state();
    run_cells("DNL", owned.id());
    EXPECT_EQ(state(), before) << "a refused call changed something";
    // ...nor touch root's login of alice on its own connection: no try was counted and it
    // was not cancelled, so its code still lets her in.
    EXPECT_EQ(owned.answer(code), "success") << daemon_->log();

    // Then what each caller may do.
    run_cells("A", owned.id());
    EXPECT_TRUE(daemon_->running());
}

// CVE-2021-3560 (polkit): a caller that leaves the bus before the daemon asks who it was
// made the lookup fail, and the failure was taken for root. 1,000 calls from bob, each on
// a connection closed as soon as the call is written, change nothing.
TEST_P(AuthorizationMatrix, CallsFromClientsThatLeaveAtOnceChangeNothing) {
    for (const char* user : {"alice", "root"}) {
        ASSERT_TRUE(daemon_->enroll(user, "email", std::string(user) + "@example.com"))
            << daemon_->log();
    }
    const std::string before = state();
    const size_t reloads = daemon_->log_count("event=reload-requested");
    constexpr size_t kAttempts = 1000;
    // lwauthd asks the bus who sent each call (a new connection each time, never known
    // before): the monitor tells when it has taken up all of them.
    BusMonitor asked(bus_->address(), "GetConnectionUnixUser");

    pid_t pid = fork();
    if (pid == 0) {
        if (!become(uid_of("bob"))) {
            _exit(3);
        }
        size_t sent = 0;
        for (size_t i = 0; i < kAttempts; ++i) {
            sd_bus* bus = nullptr;
            if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, bus_->address().c_str()) < 0 ||
                sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
                _exit(4);
            }
            sd_bus_message* m = nullptr;
            const char* target = i % 2 == 0 ? "alice" : "root";
            int r = 0;
            switch (i % 5) {
                case 0:
                    r = sd_bus_message_new_method_call(bus, &m, "org.lwauth.Auth1",
                                                       "/org/lwauth/Auth1", kAdmin, "Reset");
                    r = r < 0 ? r : sd_bus_message_append(m, "ss", target, "all");
                    break;
                case 1:
                    r = sd_bus_message_new_method_call(bus, &m, "org.lwauth.Auth1",
                                                       "/org/lwauth/Auth1", kAdmin, "SetContact");
                    r = r < 0 ? r : sd_bus_message_append(m, "sss", target, "phone", kProfilePhone);
                    break;
                case 2:
                    r = sd_bus_message_new_method_call(bus, &m, "org.lwauth.Auth1",
                                                       "/org/lwauth/Auth1", kAdmin, "ReloadPolicy");
                    break;
                case 3:
                    r = sd_bus_message_new_method_call(
                        bus, &m, "org.lwauth.Auth1", "/org/lwauth/Auth1", kAdmin, "RecoveryCodes");
                    r = r < 0 ? r : sd_bus_message_append(m, "s", target);
                    break;
                default:
                    r = sd_bus_message_new_method_call(bus, &m, "org.lwauth.Auth1",
                                                       "/org/lwauth/Auth1", kLogin, "Start");
                    r = r < 0 ? r
                              : sd_bus_message_append(m, "a{sv}", 2, "user", "s", target, "mode",
                                                      "s", "second_factor");
                    break;
            }
            if (r >= 0 && sd_bus_send(bus, m, nullptr) >= 0) {
                ++sent;
            }
            sd_bus_message_unref(m);
            sd_bus_flush_close_unref(bus);  // gone before the reply, maybe before the lookup
        }
        _exit(sent == kAttempts ? 0 : 5);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

    std::set<std::string> callers;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (callers.size() < kAttempts && std::chrono::steady_clock::now() < deadline) {
        for (const auto& name : asked.calls()) {
            callers.insert(name);
        }
    }
    ASSERT_GE(callers.size(), kAttempts) << "lwauthd did not take up every call";
    EXPECT_EQ(state(), before) << "a call of bob's changed something";
    EXPECT_EQ(daemon_->log_count("event=reload-requested"), reloads);
    EXPECT_TRUE(daemon_->running());
    EXPECT_TRUE(daemon_->enroll("bob", "email", "bob@example.com")) << "lwauthd still serves";
}

// Signals lwauthd believes come from the bus driver alone. bob says that root's PAM client
// left the bus, to lwauthd and to everyone, then calls lwauthd on the same connection: by
// its reply, lwauthd has had whatever the bus passed on. Root's login goes on.
TEST_P(AuthorizationMatrix, ASpoofedNameOwnerChangedLeavesTheLoginAlone) {
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    OwnedLogin owned(bus_->address());
    ASSERT_FALSE(owned.id().empty()) << daemon_->log();
    const std::string code = read_outbox(daemon_->outbox()).back().code();
    const std::string victim = owned.unique_name();
    ASSERT_FALSE(victim.empty());

    pid_t pid = fork();
    if (pid == 0) {
        sd_bus* bus = nullptr;
        if (!become(uid_of("bob")) || sd_bus_new(&bus) < 0 ||
            sd_bus_set_address(bus, bus_->address().c_str()) < 0 ||
            sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
            _exit(3);
        }
        for (const char* destination : {"org.lwauth.Auth1", static_cast<const char*>(nullptr)}) {
            sd_bus_message* m = nullptr;
            if (sd_bus_message_new_signal(bus, &m, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                          "NameOwnerChanged") < 0 ||
                (destination != nullptr && sd_bus_message_set_destination(m, destination) < 0) ||
                sd_bus_message_append(m, "sss", victim.c_str(), victim.c_str(), "") < 0 ||
                sd_bus_send(bus, m, nullptr) < 0) {
                _exit(4);
            }
            sd_bus_message_unref(m);
        }
        int r = sd_bus_call_method(bus, "org.lwauth.Auth1", "/org/lwauth/Auth1", kAccount, "Status",
                                   nullptr, nullptr, "");
        sd_bus_flush_close_unref(bus);
        _exit(r >= 0 ? 0 : 5);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

    EXPECT_EQ(owned.answer(code), "success") << daemon_->log();
    EXPECT_EQ(daemon_->log().find("login-abandoned"), std::string::npos) << daemon_->log();
}

std::string BusPolicyName(const ::testing::TestParamInfo<bool>& param) {
    return param.param ? "PermissiveBus" : "ShippedBusPolicy";
}

INSTANTIATE_TEST_SUITE_P(BusPolicy, AuthorizationMatrix, ::testing::Values(false, true),
                         BusPolicyName);

}  // namespace
}  // namespace lwauth::test
