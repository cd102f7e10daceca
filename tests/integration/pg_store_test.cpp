// [store] backend = postgresql across hosts: two real lwauthd, each on its own private bus
// with its own state directory (the code and contact keys copied from the first, as an
// administrator distributes them), sharing one database on the tests' PostgreSQL 15
// cluster (tests/support/pg-cluster, the CTest fixture "postgres"). Logins run over the
// Login interface as the module runs them.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPhone = "+819012345678";
constexpr int kMaxFailures = 5;

std::string pg_host() {
    const char* host = std::getenv("LWAUTH_TEST_PGHOST");
    return host != nullptr ? host : "";
}

// The cluster's script, as root: halt or resume the server (an outage).
void cluster(const std::string& action) {
    std::string command =
        std::string(LWAUTH_SOURCE_DIR) + "/tests/support/pg-cluster " + action + " " + pg_host();
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// Every process of the cluster (the postmaster, from postmaster.pid, and its children,
// the backends among them) stopped with SIGSTOP while this lives: a server that hangs,
// neither answering nor closing its connections. SIGCONT when it dies.
class FrozenCluster {
  public:
    FrozenCluster() {
        std::ifstream pid_file(pg_host() + "/data/postmaster.pid");
        pid_t postmaster = 0;
        pid_file >> postmaster;
        if (postmaster <= 0) {
            return;
        }
        pids_.push_back(postmaster);
        for (const auto& entry : fs::directory_iterator("/proc")) {
            std::ifstream stat(entry.path() / "stat");
            std::string line;
            if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) {
                continue;
            }
            std::istringstream rest(line.substr(line.rfind(')') + 2));
            char state = 0;
            pid_t parent = 0;
            rest >> state >> parent;
            if (parent == postmaster) {
                pids_.push_back(std::stoi(entry.path().filename().string()));
            }
        }
        for (pid_t pid : pids_) {
            ::kill(pid, SIGSTOP);
        }
    }
    ~FrozenCluster() {
        for (pid_t pid : pids_) {
            ::kill(pid, SIGCONT);
        }
    }
    FrozenCluster(const FrozenCluster&) = delete;
    FrozenCluster& operator=(const FrozenCluster&) = delete;
    [[nodiscard]] bool frozen() const { return pids_.size() > 1; }

  private:
    std::vector<pid_t> pids_;
};

class PgStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (pg_host().empty() || !fs::exists(pg_host() + "/.s.PGSQL.5432")) {
            GTEST_SKIP() << "no PostgreSQL cluster: run through ctest (fixture postgres)";
        }
        password_ = read_file(pg_host() + "/password");
        while (!password_.empty() && password_.back() == '\n') {
            password_.pop_back();
        }
        database_ = "hosts_" + std::to_string(getpid());
        admin("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
        admin("CREATE DATABASE " + database_);
        write_file(dir_ / "pg-password", password_ + "\n", fs::perms(0600));
        // The fleet's keys, as an administrator distributes them to every host.
        write_file(dir_ / "code.key", std::string(32, 'c'), fs::perms(0600));
        write_file(dir_ / "contacts.key", std::string(64, 'f') + "\n", fs::perms(0600));
    }
    void TearDown() override {
        b_.reset();
        a_.reset();
        if (!database_.empty()) {
            admin("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
        }
    }

    void admin(const std::string& sql) const {
        std::string conninfo =
            "host=" + pg_host() + " user=lwauth dbname=postgres password=" + password_;
        PGconn* conn = PQconnectdb(conninfo.c_str());
        PQclear(PQexec(conn, sql.c_str()));
        PQfinish(conn);
    }

    std::string policy(const fs::path& outbox, int max_sends_per_hour, int fleet) const {
        return "[policy]\ntwo_step = optional\nremember_host = 1h\n"
               "\n[quick_login]\npin = allowed\nargon2_memory = 8M\nargon2_time = 1\n"
               "\n[code]\nchannels = sms\nresend_interval = 0s\ntries = " +
               std::to_string(tries_) +
               "\n"
               "max_sends_per_fleet_per_hour = " +
               std::to_string(fleet) +
               "\nmax_sends_per_hour = " + std::to_string(max_sends_per_hour) +
               "\nmax_sends_per_destination_per_hour = 100\n"
               "max_sends_per_host_per_hour = 1000\n"
               "\n[lockout]\nmax_failures = " +
               std::to_string(kMaxFailures) +
               "\nduration = 15m\n"
               "\n[channel.outbox]\ntype = outbox\npath = " +
               outbox.string() +
               "\n\n[store]\nbackend = postgresql\n"
               "url = host=" +
               pg_host() + " user=lwauth dbname=" + database_ +
               "\npassword_file = " + (dir_ / "pg-password").string() +
               "\ncode_key_file = " + (dir_ / "code.key").string() +
               "\ncontacts_key_file = " + contacts_keys_ + "\n";
    }

    /// Host A, then host B, with the keys the policy names: both open the contacts either
    /// sealed and count the same destination hash; no state file is copied.
    void start_hosts(int max_sends_per_hour = 100, int fleet = 0) {
        fs::create_directories(dir_ / "a");
        fs::create_directories(dir_ / "b");
        bus_a_ = std::make_unique<PrivateBus>(dir_ / "a");
        a_ = std::make_unique<Daemon>(dir_ / "a", bus_a_->address(),
                                      policy(dir_ / "a/outbox.jsonl", max_sends_per_hour, fleet));
        ASSERT_TRUE(a_->start()) << a_->log();
        bus_b_ = std::make_unique<PrivateBus>(dir_ / "b");
        b_ = std::make_unique<Daemon>(dir_ / "b", bus_b_->address(),
                                      policy(dir_ / "b/outbox.jsonl", max_sends_per_hour, fleet));
        ASSERT_TRUE(b_->start()) << b_->log();
    }

    /// A login on `daemon` answered with the latest code it sent (or `answer`).
    static LoginResult login(const Daemon& daemon, const std::string& user,
                             const std::string& answer = "") {
        return login_as_root(daemon.bus_address(), user, answer.empty() ? latest(daemon) : answer);
    }
    static std::string latest(const Daemon& daemon) {
        auto messages = read_outbox(daemon.outbox());
        return messages.empty() ? "" : messages.back().code();
    }
    static LoginResult login_with_latest(const Daemon& daemon, const std::string& user) {
        return login_as_root_with(daemon.bus_address(), user, [&] { return latest(daemon); });
    }
    static size_t sent(const Daemon& daemon) { return read_outbox(daemon.outbox()).size(); }

    /// alice adds kPhone on A: the code sent, and a wrong one.
    std::pair<std::string, std::string> add_phone_on_a() {
        auto added = a_->ctl("alice", {"contact", "add", "phone", kPhone});
        EXPECT_EQ(added.exit_code, 0) << added.err << a_->log();
        std::string code = latest(*a_);
        EXPECT_FALSE(code.empty());
        std::string wrong = code;
        if (!wrong.empty()) {
            wrong.back() = code.back() == '0' ? '1' : '0';
        }
        return {code, wrong};
    }

    /// A full login of `user` on `daemon` from `place`, with the code sent, confirmed as
    /// pam_setcred confirms it: what opens the window to set a PIN on that machine.
    static void full_login(const Daemon& daemon, const std::string& user, LoginPlace place) {
        place.confirm = true;
        LoginResult result =
            login_as_root_from(daemon.bus_address(), user, place, [&] { return latest(daemon); });
        ASSERT_EQ(result.verdict, "success") << daemon.log();
        ASSERT_EQ(result.confirmed, "ok") << daemon.log();
    }
    /// The user's phone, then a full login on the console of `daemon` and kPin set there.
    static void enroll_with_pin(const Daemon& daemon, const std::string& user) {
        ASSERT_TRUE(daemon.enroll(user, "phone", kPhone)) << daemon.log();
        full_login(daemon, user, {"login", "", "tty1"});
        RunResult set = daemon.ctl(user, {"pin", "set"}, std::string(kPin) + "\n" + kPin + "\n");
        ASSERT_EQ(set.exit_code, 0) << set.out << set.err << daemon.log();
    }
    /// A mode=primary login on the console answered with `pin`.
    static LoginResult pin_login(const Daemon& daemon, const std::string& user,
                                 const std::string& pin) {
        return login_as_root_from(daemon.bus_address(), user, kConsole, [&] { return pin; });
    }
    /// A 2-step login from `place`: how many prompts it asked (0: remembered there).
    static int prompts_from(const Daemon& daemon, const std::string& user,
                            const LoginPlace& place) {
        LoginResult result =
            login_as_root_from(daemon.bus_address(), user, place, [&] { return latest(daemon); });
        EXPECT_EQ(result.verdict, "success") << daemon.log();
        return result.prompts;
    }
    /// Runs SQL on the shared database; the first column of its rows, one a line.
    std::string sql(const std::string& statements) const {
        std::string conninfo =
            "host=" + pg_host() + " user=lwauth dbname=" + database_ + " password=" + password_;
        PGconn* conn = PQconnectdb(conninfo.c_str());
        PGresult* result = PQexec(conn, statements.c_str());
        std::string out;
        EXPECT_TRUE(PQresultStatus(result) == PGRES_TUPLES_OK ||
                    PQresultStatus(result) == PGRES_COMMAND_OK)
            << PQerrorMessage(conn);
        for (int row = 0; row < PQntuples(result); ++row) {
            out += std::string(PQgetvalue(result, row, 0)) + "\n";
        }
        PQclear(result);
        PQfinish(conn);
        return out;
    }
    static std::string host_name() {
        char name[256] = {};
        EXPECT_EQ(::gethostname(name, sizeof name - 1), 0);
        return name;
    }

    static inline const LoginPlace kConsole{"login", "", "tty1", "primary"};
    static inline const LoginPlace kSsh{"sshd", "192.0.2.7", ""};
    static constexpr const char* kPin = "480213";

    TempDir dir_{"lwauth-pg"};
    // The value of [store] contacts_key_file, and the lines after it (old keys).
    std::string contacts_keys_ = (dir_ / "contacts.key").string();
    std::string password_;
    std::string database_;
    int tries_ = 1;  // [code] tries
    std::unique_ptr<PrivateBus> bus_a_;
    std::unique_ptr<PrivateBus> bus_b_;
    std::unique_ptr<Daemon> a_;
    std::unique_ptr<Daemon> b_;
};

TEST_F(PgStoreTest, AContactEnrolledOnOneHostLogsInOnAnother) {
    start_hosts();
    ASSERT_TRUE(a_->enroll("alice", "phone", kPhone)) << a_->log();

    LoginResult result = login_with_latest(*b_, "alice");
    EXPECT_EQ(result.verdict, "success") << b_->log();
    EXPECT_EQ(result.prompts, 1);
    auto messages = read_outbox(b_->outbox());
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].destination, kPhone) << "B opened the contact A sealed";
    for (const Daemon* host : {a_.get(), b_.get()}) {
        EXPECT_FALSE(fs::exists(host->state_dir() / "contacts.key"));
        EXPECT_FALSE(fs::exists(host->state_dir() / "code.key"));
    }

    // And A the contact B sealed.
    ASSERT_TRUE(b_->enroll("bob", "phone", "+819087654321")) << b_->log();
    EXPECT_EQ(login_with_latest(*a_, "bob").verdict, "success") << a_->log();
}

TEST_F(PgStoreTest, AContactConfirmationStartedOnOneHostIsFinishedOnAnother) {
    start_hosts();
    std::string code = add_phone_on_a().first;
    EXPECT_NE(b_->ctl("alice", {"--json", "status"}).out.find("\"pending_phone\""),
              std::string::npos)
        << "B shows the confirmation A started";

    auto confirmed = b_->ctl("alice", {"contact", "confirm", "phone", code});
    EXPECT_EQ(confirmed.exit_code, 0) << confirmed.err << b_->log();
    auto status = a_->ctl("alice", {"--json", "status"});
    EXPECT_NE(status.out.find("\"two_step\": true"), std::string::npos) << status.out;
    EXPECT_EQ(status.out.find("\"pending_phone\""), std::string::npos) << status.out;
    EXPECT_NE(a_->ctl("alice", {"contact", "confirm", "phone", code}).exit_code, 0)
        << "a code confirms once, on any host";
    EXPECT_EQ(login_with_latest(*a_, "alice").verdict, "success") << a_->log();
}

TEST_F(PgStoreTest, WrongConfirmationCodesOnTwoHostsStopAtExactlyTheTries) {
    tries_ = 3;
    start_hosts();
    std::string code;
    std::string wrong;
    std::tie(code, wrong) = add_phone_on_a();

    // The tries are the confirmation's, wherever the answers come from: A, B, then A.
    auto first = a_->ctl("alice", {"contact", "confirm", "phone", wrong});
    EXPECT_EQ(first.exit_code, 1);
    EXPECT_NE(first.err.find("2 tries left"), std::string::npos) << first.err;
    auto second = b_->ctl("alice", {"contact", "confirm", "phone", wrong});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("1 try left"), std::string::npos) << second.err << b_->log();
    auto third = a_->ctl("alice", {"contact", "confirm", "phone", wrong});
    EXPECT_EQ(third.exit_code, 1);
    EXPECT_NE(third.err.find("no tries are left"), std::string::npos) << third.err;

    // Used up on both: the right code saves nothing now.
    for (Daemon* host : {b_.get(), a_.get()}) {
        EXPECT_NE(host->ctl("alice", {"contact", "confirm", "phone", code}).exit_code, 0)
            << host->log();
        EXPECT_NE(host->ctl("alice", {"--json", "status"}).out.find("\"two_step\": false"),
                  std::string::npos);
    }
}

TEST_F(PgStoreTest, WrongConfirmationCodesOnTwoHostsAtOnceAreEachCounted) {
    tries_ = 4;
    start_hosts();
    std::string code;
    std::string wrong;
    std::tie(code, wrong) = add_phone_on_a();

    // As many wrong answers as there are tries, half on each host, at once.
    std::vector<std::thread> answers;
    for (int i = 0; i < tries_; ++i) {
        Daemon& host = i % 2 == 0 ? *a_ : *b_;
        answers.emplace_back([&host, &wrong] {
            (void)host.ctl("alice", {"contact", "confirm", "phone", wrong});
        });
    }
    for (auto& t : answers) {
        t.join();
    }
    EXPECT_NE(a_->ctl("alice", {"contact", "confirm", "phone", code}).exit_code, 0)
        << "the other host's answers took tries too";
    EXPECT_EQ(a_->log_count("event=contact-verified") + b_->log_count("event=contact-verified"),
              0u);
}

// Whether `daemon` opens `user`'s sealed contact: lwauthctl status shows it masked.
bool opens(const Daemon& daemon, const std::string& user) {
    auto status = daemon.ctl(user, {"--json", "status"});
    return status.exit_code == 0 && status.out.find("\u2022") != std::string::npos;
}

TEST_F(PgStoreTest, ARekeyLetsEveryHostDropTheOldContactsKey) {
    start_hosts();
    ASSERT_TRUE(a_->enroll("alice", "phone", kPhone)) << a_->log();
    ASSERT_TRUE(b_->enroll("bob", "phone", "+819087654321")) << b_->log();

    // The rotation: a new key on every host, the old one named as old.
    auto restart = [&] {
        for (Daemon* host : {a_.get(), b_.get()}) {
            ASSERT_EQ(host->stop(), 0) << host->log();
            host->write_policy(policy(
                host == a_.get() ? dir_ / "a/outbox.jsonl" : dir_ / "b/outbox.jsonl", 100, 0));
            ASSERT_TRUE(host->start()) << host->log();
        }
    };
    write_file(dir_ / "contacts-new.key", std::string(64, 'e') + "\n", fs::perms(0600));
    contacts_keys_ = (dir_ / "contacts-new.key").string() +
                     "\ncontacts_old_key_files = " + (dir_ / "contacts.key").string();
    restart();
    for (Daemon* host : {a_.get(), b_.get()}) {
        EXPECT_TRUE(opens(*host, "alice")) << host->log();
        EXPECT_TRUE(opens(*host, "bob")) << host->log();
    }

    // Not for a user outside the admin group.
    RunResult refused = b_->ctl("bob", {"admin", "rekey"});
    EXPECT_NE(refused.exit_code, 0) << refused.out;
    EXPECT_EQ(b_->log_count("event=admin-rekey"), 0U) << b_->log();

    RunResult rekey = a_->ctl("root", {"--json", "admin", "rekey"});
    ASSERT_EQ(rekey.exit_code, 0) << rekey.out << rekey.err << a_->log();
    EXPECT_NE(rekey.out.find("\"resealed\": 2"), std::string::npos) << rekey.out;
    EXPECT_NE(rekey.out.find("\"unopenable\": 0"), std::string::npos) << rekey.out;
    EXPECT_TRUE(a_->log_shows("event=admin-rekey")) << a_->log();
    // Run again (from the other host): nothing left under the old key.
    RunResult again = b_->ctl("root", {"admin", "rekey"});
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err << b_->log();
    EXPECT_NE(again.out.find("Already under the current key: 2"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("contacts_old_key_files may be removed"), std::string::npos)
        << again.out;

    // The old key out of the policy: both hosts still open both contacts and log in.
    contacts_keys_ = (dir_ / "contacts-new.key").string();
    restart();
    for (Daemon* host : {a_.get(), b_.get()}) {
        EXPECT_TRUE(opens(*host, "alice")) << host->log();
        EXPECT_TRUE(opens(*host, "bob")) << host->log();
    }
    EXPECT_EQ(login_with_latest(*b_, "alice").verdict, "success") << b_->log();
    EXPECT_EQ(login_with_latest(*a_, "bob").verdict, "success") << a_->log();
}

// A and B run on one machine here, so they have one host name, as clones of one image or
// two hosts called localhost do; each has a machine ID of its own.
TEST_F(PgStoreTest, APinSetOnOneMachineDoesNotLogInOnAnotherOfTheSameHostName) {
    start_hosts();
    ASSERT_NO_FATAL_FAILURE(enroll_with_pin(*a_, "alice"));
    ASSERT_EQ(pin_login(*a_, "alice", kPin).verdict, "success") << a_->log();

    LoginResult on_b = pin_login(*b_, "alice", kPin);
    EXPECT_EQ(on_b.verdict, "ignore") << "B has no PIN of alice's: " << b_->log();
    EXPECT_EQ(on_b.prompts, 0);
    EXPECT_NE(a_->ctl("alice", {"--json", "status"}).out.find("\"pin_set\": true"),
              std::string::npos);
    EXPECT_NE(b_->ctl("alice", {"--json", "status"}).out.find("\"pin_set\": false"),
              std::string::npos);
}

TEST_F(PgStoreTest, APlaceRememberedOnOneMachineDoesNotSkipTwoStepOnAnother) {
    start_hosts();
    ASSERT_TRUE(a_->enroll("alice", "phone", kPhone)) << a_->log();
    EXPECT_EQ(prompts_from(*a_, "alice", kSsh), 1);
    EXPECT_EQ(prompts_from(*a_, "alice", kSsh), 0) << "remembered on A";

    size_t before = sent(*b_);
    EXPECT_EQ(prompts_from(*b_, "alice", kSsh), 1) << "B asks for the code: " << b_->log();
    EXPECT_EQ(sent(*b_), before + 1);
}

TEST_F(PgStoreTest, AnUpgradeAdoptsThePinAndPlacesKeptUnderTheHostName) {
    start_hosts();
    ASSERT_NO_FATAL_FAILURE(enroll_with_pin(*a_, "alice"));
    EXPECT_EQ(prompts_from(*a_, "alice", kSsh), 1);
    EXPECT_EQ(a_->stop(), 0);
    EXPECT_EQ(b_->stop(), 0);

    // The rows as an older lwauthd kept them: under the host's name, no machine seen yet;
    // and a PIN of another host's name, which is not this machine's to take.
    const std::string name = host_name();
    sql("UPDATE host_users SET host = '" + name + "' WHERE pin_hash IS NOT NULL;"
        "UPDATE remembered_hosts SET host = '" + name + "';"
        "INSERT INTO host_users (host, user_name, pin_hash) "
        "SELECT 'elsewhere', user_name, pin_hash FROM host_users WHERE host = '" + name + "';"
        "DELETE FROM machines;");
    ASSERT_EQ(sql("SELECT count(*) FROM host_users WHERE host = '" + name + "'"), "1\n");

    const std::string adopted = "event=machine-rows-adopted host=" + name + " count=";
    ASSERT_EQ(a_->log_count(adopted + "0]"), 1u) << "A's first start, before: " << a_->log();
    ASSERT_TRUE(a_->start()) << a_->log();
    EXPECT_TRUE(a_->log_shows(adopted + "3]"))
        << "the PIN's row and two places, the console and ssh: " << a_->log();
    EXPECT_EQ(pin_login(*a_, "alice", kPin).verdict, "success") << "kept its PIN: " << a_->log();
    EXPECT_EQ(prompts_from(*a_, "alice", kSsh), 0) << "and its place";
    EXPECT_EQ(sql("SELECT count(*) FROM host_users WHERE host = '" + name + "'"), "0\n");
    EXPECT_EQ(sql("SELECT count(*) FROM host_users WHERE host = 'elsewhere'"), "1\n")
        << "another host name's rows are left alone";

    // B, the same name, starts after: the rows are A's now, and B takes nothing.
    ASSERT_TRUE(b_->start()) << b_->log();
    EXPECT_TRUE(b_->log_shows(adopted + "0]", 2)) << b_->log();
    EXPECT_EQ(b_->log_count("event=machine-rows-adopted"), 2u) << b_->log();
    EXPECT_EQ(pin_login(*b_, "alice", kPin).verdict, "ignore") << b_->log();

    // Adopted once: restarted, A takes no rows a clone not yet upgraded writes later.
    sql("UPDATE host_users SET host = '" + name + "' WHERE host = 'elsewhere'");
    EXPECT_EQ(a_->stop(), 0);
    ASSERT_TRUE(a_->start()) << a_->log();
    EXPECT_EQ(pin_login(*a_, "alice", kPin).verdict, "success") << a_->log();
    EXPECT_EQ(sql("SELECT count(*) FROM host_users WHERE host = '" + name + "'"), "1\n");
    EXPECT_EQ(a_->log_count("event=machine-rows-adopted"), 2u) << "not a third time: " << a_->log();
}

TEST_F(PgStoreTest, LwauthdRefusesToStartWithoutAMachineId) {
    fs::create_directories(dir_ / "a");
    bus_a_ = std::make_unique<PrivateBus>(dir_ / "a");
    a_ = std::make_unique<Daemon>(dir_ / "a", bus_a_->address(),
                                  policy(dir_ / "a/outbox.jsonl", 100, 0));
    for (const std::string& content : {std::string(), std::string("uninitialized\n")}) {
        write_file(a_->machine_id_file(), content, fs::perms(0444));
        EXPECT_FALSE(a_->start()) << a_->log();
        EXPECT_TRUE(a_->log_shows("event=start-failed")) << a_->log();
        EXPECT_TRUE(a_->log_shows("systemd-machine-id-setup")) << a_->log();
    }
    fs::remove(a_->machine_id_file());
    EXPECT_FALSE(a_->start()) << a_->log();
    EXPECT_TRUE(a_->log_shows("is missing; make one with systemd-machine-id-setup")) << a_->log();
    EXPECT_EQ(sql("SELECT count(*) FROM pg_tables WHERE tablename = 'host_users'"), "0\n")
        << "refused before it touched the database";
}

TEST_F(PgStoreTest, WrongCodesOnTwoHostsLockAtExactlyMaxFailures) {
    start_hosts();
    ASSERT_TRUE(a_->enroll("alice", "phone", kPhone)) << a_->log();

    // One wrong code per login ([code] tries = 1), alternately on A and on B: denied,
    // not locked.
    for (int i = 0; i < kMaxFailures - 1; ++i) {
        Daemon& host = i % 2 == 0 ? *a_ : *b_;
        EXPECT_EQ(login(host, "alice", "000000").verdict, "denied") << host.log();
    }
    // The fifth, on B after two on each host, is the one that locks.
    size_t before = sent(*b_);
    EXPECT_EQ(login(*b_, "alice", "000000").verdict, "maxtries") << b_->log();
    EXPECT_EQ(sent(*b_), before + 1) << "not locked before it: a code was sent";

    // The fifth wrong code, whichever host counted it, locked the account on both.
    for (Daemon* host : {a_.get(), b_.get()}) {
        size_t sent_before = sent(*host);
        LoginResult locked = login_with_latest(*host, "alice");
        EXPECT_NE(locked.verdict, "success") << host->log();
        EXPECT_EQ(sent(*host), sent_before) << "no code is sent to a locked account";
    }
}

TEST_F(PgStoreTest, SendsFromTwoHostsStopAtExactlyTheUserCap) {
    constexpr int kCap = 4;
    start_hosts(kCap);
    ASSERT_TRUE(a_->enroll("bob", "phone", kPhone)) << a_->log();
    size_t enrolment = sent(*a_);  // the confirmation's code: a budget of its own

    std::vector<std::thread> logins;
    for (int i = 0; i < 2 * kCap; ++i) {
        Daemon& host = i % 2 == 0 ? *a_ : *b_;
        logins.emplace_back([&host] { (void)login(host, "bob", "1"); });
    }
    for (auto& t : logins) {
        t.join();
    }
    EXPECT_EQ(sent(*a_) - enrolment + sent(*b_), static_cast<size_t>(kCap))
        << a_->log() << b_->log();
}

TEST_F(PgStoreTest, TheFleetCapCountsTheSendsOfEveryHost) {
    constexpr int kFleet = 5;  // two confirmations, then three login codes
    start_hosts(100, kFleet);
    ASSERT_TRUE(a_->enroll("alice", "phone", kPhone)) << a_->log();
    ASSERT_TRUE(b_->enroll("bob", "phone", "+819087654321")) << b_->log();
    size_t confirmations = sent(*a_) + sent(*b_);

    std::vector<std::thread> logins;
    for (int i = 0; i < 8; ++i) {
        Daemon& host = i % 2 == 0 ? *a_ : *b_;
        logins.emplace_back([&host, i] { (void)login(host, i < 4 ? "alice" : "bob", "1"); });
    }
    for (auto& t : logins) {
        t.join();
    }
    EXPECT_EQ(sent(*a_) + sent(*b_) - confirmations, static_cast<size_t>(kFleet) - confirmations)
        << a_->log() << b_->log();
}

TEST_F(PgStoreTest, ADatabaseOutageAnswersUnavailableThenLoginsRecover) {
    start_hosts();
    ASSERT_TRUE(a_->enroll("carol", "phone", kPhone)) << a_->log();

    // The code is sent; the database goes away before the user types it.
    auto typed = std::chrono::steady_clock::time_point{};
    LoginResult result = login_as_root_with(a_->bus_address(), "carol", [&] {
        cluster("halt");
        typed = std::chrono::steady_clock::now();
        return latest(*a_);
    });
    auto answered_in = std::chrono::steady_clock::now() - typed;
    cluster("resume");
    // The module's failmode decides what Unavailable becomes (PAM_AUTHINFO_UNAVAIL).
    EXPECT_EQ(result.verdict, "org.lwauth.Auth1.Error.Unavailable") << a_->log();
    EXPECT_LT(answered_in, 10s) << "within the module's deadline (30 s by default)";

    // Without a restart, lwauthd connects again by itself.
    LoginResult again;
    for (int attempt = 0; attempt < 20 && again.verdict != "success"; ++attempt) {
        std::this_thread::sleep_for(500ms);
        again = login_with_latest(*a_, "carol");
    }
    EXPECT_EQ(again.verdict, "success") << a_->log();
}

// A database that comes back with a schema newer than lwauthd's (another host upgraded
// it during an outage) is never used: every call fails, not only the first.
TEST_F(PgStoreTest, ASchemaNewerThanLwauthdsFoundLateIsNeverUsed) {
    fs::create_directories(dir_ / "a");
    bus_a_ = std::make_unique<PrivateBus>(dir_ / "a");
    a_ = std::make_unique<Daemon>(dir_ / "a", bus_a_->address(),
                                  policy(dir_ / "a/outbox.jsonl", 100, 0));
    ASSERT_TRUE(a_->start()) << a_->log();
    std::string conninfo =
        "host=" + pg_host() + " user=lwauth dbname=" + database_ + " password=" + password_;
    PGconn* conn = PQconnectdb(conninfo.c_str());
    PQclear(PQexec(conn, "INSERT INTO schema_version VALUES (999)"));
    PQfinish(conn);
    cluster("halt");  // lwauthd's connections go away with it
    cluster("resume");
    for (int attempt = 0; attempt < 3; ++attempt) {
        std::this_thread::sleep_for(1100ms);  // past the pause between connection attempts
        EXPECT_FALSE(a_->enroll("carol", "phone", kPhone)) << "attempt " << attempt;
    }
    EXPECT_TRUE(a_->log_shows("newer than this lwauthd")) << a_->log();
    EXPECT_EQ(sent(*a_), 0u);
}

// Booting before the network, or the server restarting, must not keep lwauthd down:
// it starts, answers Unavailable (the module's failmode decides), and serves once the
// database is back, creating its tables then.
TEST_F(PgStoreTest, LwauthdStartsWhileTheDatabaseIsDownAndServesWhenItIsBack) {
    cluster("halt");
    fs::create_directories(dir_ / "a");
    bus_a_ = std::make_unique<PrivateBus>(dir_ / "a");
    a_ = std::make_unique<Daemon>(dir_ / "a", bus_a_->address(),
                                  policy(dir_ / "a/outbox.jsonl", 100, 0));
    bool started = a_->start();
    LoginResult down = login_as_root(a_->bus_address(), "carol", "000000");
    cluster("resume");
    ASSERT_TRUE(started) << a_->log();
    EXPECT_NE(a_->log().find("event=store-unreachable"), std::string::npos) << a_->log();
    EXPECT_EQ(down.verdict, "org.lwauth.Auth1.Error.Unavailable") << a_->log();

    bool enrolled = false;
    for (int attempt = 0; attempt < 20 && !enrolled; ++attempt) {
        std::this_thread::sleep_for(500ms);
        enrolled = a_->enroll("carol", "phone", kPhone);
    }
    ASSERT_TRUE(enrolled) << a_->log();
    EXPECT_EQ(login_with_latest(*a_, "carol").verdict, "success") << a_->log();
}

// The failure matrix's hung database (docs/SECURITY.md): every server process stopped, so
// that lwauthd's statements wait on connections that stay open. The login ends before the
// client's deadline (what the module says as its timeout=), as unavailable: the module
// refuses it whatever its failmode, since lwauthd answered. Nothing is let through.
TEST_F(PgStoreTest, AHungDatabaseEndsTheLoginBeforeTheModulesDeadlineAsUnavailable) {
    start_hosts();
    ASSERT_TRUE(a_->enroll("carol", "phone", kPhone)) << a_->log();
    LoginPlace place;
    place.reply_timeout_usec = 8'000'000;
    std::chrono::steady_clock::duration took{};
    LoginResult result;
    {
        FrozenCluster frozen;
        ASSERT_TRUE(frozen.frozen()) << "the server and its backends";
        auto started = std::chrono::steady_clock::now();
        result = login_as_root_from(a_->bus_address(), "carol", place, [&] { return latest(*a_); });
        took = std::chrono::steady_clock::now() - started;
    }
    EXPECT_EQ(result.verdict, "unavailable") << a_->log();
    EXPECT_EQ(result.prompts, 0);
    EXPECT_LT(took, 8s) << "answered before the client gave up";
    EXPECT_TRUE(a_->log_shows("event=reply-deadline")) << a_->log();

    // The server going on, lwauthd serves again without a restart.
    LoginResult again;
    for (int attempt = 0; attempt < 20 && again.verdict != "success"; ++attempt) {
        again = login_with_latest(*a_, "carol");
        if (again.verdict != "success") {
            std::this_thread::sleep_for(500ms);
        }
    }
    EXPECT_EQ(again.verdict, "success") << a_->log();
}

// The connection threads serve logins before the account calls of the bus: a local user's
// flood of Status calls, while the database is slow, neither refuses a login (before,
// the one queue of 64 was full and the login answered unavailable) nor keeps it waiting
// behind the flood.
TEST_F(PgStoreTest, AFloodOfStatusCallsDoesNotRefuseALogin) {
    start_hosts();
    ASSERT_TRUE(a_->enroll("carol", "phone", kPhone)) << a_->log();
    // The users table held by another session: every operation of lwauthd waits on it.
    std::string conninfo = "host=" + pg_host() + " user=lwauth dbname=" + database_ +
                           " password=" + password_;
    PGconn* holder = PQconnectdb(conninfo.c_str());
    ASSERT_EQ(PQstatus(holder), CONNECTION_OK) << PQerrorMessage(holder);
    PQclear(PQexec(holder, "BEGIN"));
    PGresult* locked = PQexec(holder, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
    ASSERT_EQ(PQresultStatus(locked), PGRES_COMMAND_OK) << PQerrorMessage(holder);
    PQclear(locked);
    auto release = [&] {
        if (holder != nullptr) {
            PQclear(PQexec(holder, "COMMIT"));
            PQfinish(holder);
            holder = nullptr;
        }
    };

    std::vector<std::vector<CallReply>> flood;
    std::thread flooding([&] {
        flood = call_rounds_as(a_->bus_address(), uid_of("alice"),
                               {{"org.lwauth.Auth1.Account", "Status",
                                 [](const std::vector<CallReply>&) {
                                     return std::vector<Append>(150, [](sd_bus_message*) {});
                                 }}});
    });
    // The queue of the account calls is full once lwauthd says so.
    for (int i = 0; i < 300 && !a_->log_shows("event=store-busy"); ++i) {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(a_->log_shows("event=store-busy")) << a_->log();
    EXPECT_TRUE(a_->log_shows("queue=others")) << a_->log();

    // The table is let go a moment after the login has started, while it waits.
    std::thread letting_go([&] {
        std::this_thread::sleep_for(1500ms);
        release();
    });
    LoginResult result = login_with_latest(*a_, "carol");
    letting_go.join();
    flooding.join();
    release();
    EXPECT_EQ(result.verdict, "success") << a_->log();
    EXPECT_FALSE(a_->log_shows("queue=logins")) << a_->log();
    ASSERT_EQ(flood.size(), 1u);
    size_t refused = 0;
    for (const auto& reply : flood[0]) {
        refused += reply.error.empty() ? 0 : 1;
    }
    EXPECT_GT(refused, 0u) << "the flood filled the queue of the account calls";
}

}  // namespace
}  // namespace lwauth::test
