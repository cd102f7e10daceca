// Replay and races through the real lwauthd on the private bus: many calls in flight at
// once on one connection, as a PAM stack driven by a script would send them. A code, an
// authenticator app's code and a recovery code each let exactly one login in; every wrong
// answer is counted; sends stop at exactly each cap however many logins ask at once.
// Each test runs on both stores: SQLite (one lwauthd) and PostgreSQL (two lwauthd, each
// on its own bus, sharing one database on the tests' cluster, the fixture "postgres", as
// pg_store_test.cpp's hosts do), the calls then split between the two hosts, sent at once.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <sstream>
#include <vector>

#include "harness.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;

constexpr const char* kLogin = "org.lwauth.Auth1.Login";
constexpr size_t kAtOnce = 50;

Append start_for(const std::string& user) {
    return [user](sd_bus_message* m) {
        sd_bus_message_append(m, "a{sv}", 2, "user", "s", user.c_str(), "mode", "s",
                              "second_factor");
    };
}

Append answer(const std::string& id, const std::string& text) {
    return
        [id, text](sd_bus_message* m) { sd_bus_message_append(m, "ss", id.c_str(), text.c_str()); };
}

// kAtOnce logins, all started at once, then `answers` to them, all at once: the replies
// of each round.
CallRound starts(std::vector<std::string> users) {
    return {kLogin, "Start", [users](const std::vector<CallReply>&) {
                std::vector<Append> calls;
                for (const auto& user : users) {
                    calls.push_back(start_for(user));
                }
                return calls;
            }};
}

size_t successes(const std::vector<CallReply>& replies) {
    return static_cast<size_t>(std::count_if(replies.begin(), replies.end(), [](const auto& r) {
        return r.error.empty() && r.verdict == "success";
    }));
}

std::string verdicts(const std::vector<CallReply>& replies) {
    std::string out;
    for (const auto& r : replies) {
        out += (r.error.empty() ? r.verdict : r.error) + " ";
    }
    return out;
}

enum class Store { sqlite, postgresql };

std::string pg_host() {
    const char* host = std::getenv("LWAUTH_TEST_PGHOST");
    return host != nullptr ? host : "";
}

class Races : public ::testing::TestWithParam<Store> {
  protected:
    void SetUp() override {
        if (GetParam() != Store::postgresql) {
            return;
        }
        if (pg_host().empty() || !fs::exists(pg_host() + "/.s.PGSQL.5432")) {
            GTEST_SKIP() << "no PostgreSQL cluster: run through ctest (fixture postgres)";
        }
        password_ = read_file(pg_host() + "/password");
        while (!password_.empty() && password_.back() == '\n') {
            password_.pop_back();
        }
        database_ = "races_" + std::to_string(getpid());
        pg("postgres", "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
        pg("postgres", "CREATE DATABASE " + database_);
        write_file(dir_ / "pg-password", password_ + "\n", fs::perms(0600));
    }
    void TearDown() override {
        hosts_.clear();
        buses_.clear();
        if (!database_.empty()) {
            pg("postgres", "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
        }
    }

    // The first row's first value of `sql` on the cluster's `database` ("" when none).
    std::string pg(const std::string& database, const std::string& sql) const {
        std::string conninfo =
            "host=" + pg_host() + " user=lwauth dbname=" + database + " password=" + password_;
        PGconn* conn = PQconnectdb(conninfo.c_str());
        PGresult* result = PQexec(conn, sql.c_str());
        std::string value = PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
        PQclear(result);
        PQfinish(conn);
        return value;
    }

    // The tests' policy with authenticator apps allowed, no lockout in the way of counting,
    // and `changed` (key -> value) in place of the test policy's own lines; with
    // PostgreSQL, a second host with the first one's keys on the same database.
    void start(std::map<std::string, std::string> changed = {}) {
        changed.emplace("max_failures", "1000");
        start_host(dir_.path(), changed);
        if (GetParam() == Store::postgresql && !HasFatalFailure()) {
            fs::create_directories(dir_ / "b/state");
            fs::permissions(dir_ / "b/state", fs::perms::owner_all);
            for (const char* key : {"code.key", "contacts.key"}) {
                fs::copy_file(daemon().state_dir() / key, dir_ / "b/state" / key);
            }
            start_host(dir_ / "b", changed);
        }
    }

    void start_host(const fs::path& dir, const std::map<std::string, std::string>& changed) {
        std::string policy =
            default_test_policy(dir / "outbox.jsonl", "[policy]\ntotp = allowed\n");
        for (const auto& [key, value] : changed) {
            std::regex line("(^|\n)" + key + " = [^\n]*");
            std::string replaced = std::regex_replace(policy, line, "$1" + key + " = " + value);
            if (replaced == policy) {
                // Not in the test policy: [code] holds every other key these tests change.
                replaced = std::regex_replace(policy, std::regex("\\[code\\]\n"),
                                              "[code]\n" + key + " = " + value + "\n");
            }
            policy = replaced;
        }
        if (GetParam() == Store::postgresql) {
            policy += "\n[store]\nbackend = postgresql\nurl = host=" + pg_host() +
                      " user=lwauth dbname=" + database_ +
                      "\npassword_file = " + (dir_ / "pg-password").string() + "\n";
        }
        buses_.push_back(std::make_unique<PrivateBus>(dir));
        hosts_.push_back(std::make_unique<Daemon>(dir, buses_.back()->address(), policy));
        ASSERT_TRUE(hosts_.back()->start()) << hosts_.back()->log();
    }

    // The first host: the one that enrols, and the only one with SQLite.
    [[nodiscard]] Daemon& daemon() const { return *hosts_.front(); }

    std::vector<std::vector<CallReply>> as_root(const std::vector<CallRound>& rounds) {
        return call_rounds_as(buses_.front()->address(), 0, rounds);
    }

    // `rounds_of(logins)` on every host at once (one child process a host, forked before
    // any of them runs: a fork from a second thread can deadlock in the sanitizers'
    // runtime), the kAtOnce logins shared between the hosts: each host's replies of each
    // round, one host after another.
    std::vector<std::vector<CallReply>> on_every_host(
        const std::function<std::vector<CallRound>(size_t first, size_t logins)>& rounds_of) {
        const size_t share = kAtOnce / hosts_.size();
        std::vector<std::pair<pid_t, int>> children;
        for (size_t h = 0; h < hosts_.size(); ++h) {
            int fds[2];
            if (pipe(fds) != 0) {
                ADD_FAILURE() << "pipe";
                break;
            }
            pid_t pid = fork();
            if (pid == 0) {
                close(fds[0]);
                std::string text;
                for (const auto& round :
                     call_rounds_as(buses_[h]->address(), 0, rounds_of(h * share, share))) {
                    for (const auto& r : round) {
                        text += r.error + "\t" + r.id + "\t" + r.verdict + "\n";
                    }
                    text += "\n";
                }
                bool written = ::write(fds[1], text.data(), text.size()) ==
                               static_cast<ssize_t>(text.size());
                _exit(written ? 0 : 1);
            }
            close(fds[1]);
            children.emplace_back(pid, fds[0]);
        }
        std::vector<std::vector<CallReply>> rounds;
        for (const auto& [pid, fd] : children) {
            std::string text;
            char buffer[4096];
            for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
                text.append(buffer, static_cast<size_t>(n));
            }
            close(fd);
            int status = 0;
            waitpid(pid, &status, 0);
            std::istringstream lines(text);
            size_t r = 0;
            for (std::string line; std::getline(lines, line);) {
                if (line.empty()) {
                    ++r;
                    continue;
                }
                rounds.resize(std::max(rounds.size(), r + 1));
                CallReply reply;
                std::istringstream fields(line);
                std::getline(fields, reply.error, '\t');
                std::getline(fields, reply.id, '\t');
                std::getline(fields, reply.verdict, '\t');
                rounds[r].push_back(std::move(reply));
            }
        }
        return rounds;
    }

    // The messages to `destination` in every host's outbox.
    [[nodiscard]] size_t sent_to(const std::string& destination) const {
        size_t n = 0;
        for (const auto& host : hosts_) {
            auto all = read_outbox(host->outbox());
            n += static_cast<size_t>(std::count_if(all.begin(), all.end(), [&](const auto& m) {
                return m.destination == destination;
            }));
        }
        return n;
    }

    [[nodiscard]] int failures(const std::string& user) const {
        const std::string query = "SELECT failures FROM users WHERE name = '" + user + "';";
        std::string out = GetParam() == Store::postgresql ? pg(database_, query) : daemon().sql(query);
        return out.empty() ? 0 : std::stoi(out);
    }

    // Adds an authenticator app for `user` (no contact: no step-up); its base32 secret.
    std::string add_app(const std::string& user) {
        RunResult add = daemon().ctl(user, {"--json", "totp", "add"});
        EXPECT_EQ(add.exit_code, 0) << add.out << add.err << daemon().log();
        std::string uri = json::parse(add.out, nullptr, false).value("uri", "");
        auto at = uri.find("secret=");
        std::string secret = uri.substr(at + 7, uri.find('&', at) - at - 7);
        RunResult confirm = daemon().ctl(user, {"totp", "confirm", oathtool_totp(secret)});
        EXPECT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err << daemon().log();
        return secret;
    }

    // kAtOnce logins of `user` started at once (shared between the hosts), then each
    // answered with `code` at once: the answers' replies.
    std::vector<CallReply> fifty_logins_answering(const std::string& user,
                                                  const std::string& code) {
        auto rounds = on_every_host([&](size_t, size_t logins) -> std::vector<CallRound> {
            return {starts(std::vector<std::string>(logins, user)),
                    {kLogin, "Answer", [code](const std::vector<CallReply>& started) {
                         std::vector<Append> calls;
                         for (const auto& s : started) {
                             calls.push_back(answer(s.id, code));
                         }
                         return calls;
                     }}};
        });
        EXPECT_EQ(rounds.size(), 2U);
        if (rounds.size() != 2) {
            return {};
        }
        EXPECT_EQ(rounds[0].size(), kAtOnce);
        for (const auto& s : rounds[0]) {
            EXPECT_EQ(s.error, "") << verdicts(rounds[0]);
        }
        return rounds[1];
    }

    // Every host's log, for a failure's message.
    [[nodiscard]] std::string logs() const {
        std::string out;
        for (const auto& host : hosts_) {
            out += host->log();
        }
        return out;
    }

    TempDir dir_{"lwauth-races"};
    std::string password_;
    std::string database_;
    std::vector<std::unique_ptr<PrivateBus>> buses_;
    std::vector<std::unique_ptr<Daemon>> hosts_;
};

// A login lives on the host that started it: one host's, on either store.
TEST_P(Races, OneRightCodeAnsweredFiftyTimesAtOnceLetsOneIn) {
    start();
    ASSERT_TRUE(daemon().enroll("alice", "email", "alice@example.com")) << daemon().log();
    const fs::path outbox = daemon().outbox();
    auto rounds = as_root(
        {starts({"alice"}), {kLogin, "Answer", [outbox](const std::vector<CallReply>& started) {
                                 // The code the login sent, typed fifty times at once.
                                 std::string code = latest_code(outbox, "alice@example.com");
                                 std::string id = started.empty() ? "" : started[0].id;
                                 return std::vector<Append>(kAtOnce, answer(id, code));
                             }}});
    ASSERT_EQ(rounds.size(), 2U);
    ASSERT_EQ(rounds[1].size(), kAtOnce);
    EXPECT_EQ(successes(rounds[1]), 1U) << verdicts(rounds[1]) << daemon().log();
    // The others find the login ended; with PostgreSQL, whose store answers off lwauthd's
    // loop, some come while the right answer is still being checked: refused as such.
    for (const auto& r : rounds[1]) {
        if (r.error.empty() && r.verdict == "success") {
            continue;
        }
        if (GetParam() == Store::postgresql && r.error == "org.lwauth.Auth1.Error.InvalidArgument") {
            continue;
        }
        EXPECT_EQ(r.error, "org.lwauth.Auth1.Error.NoSuchLogin") << "the login ended";
    }
}

TEST_P(Races, WrongAnswersToFiftyLoginsAtOnceAreEachCounted) {
    // One try a code: each wrong answer ends its login and counts once.
    start({{"tries", "1"}});
    ASSERT_TRUE(daemon().enroll("alice", "email", "alice@example.com")) << daemon().log();
    ASSERT_EQ(failures("alice"), 0);
    std::vector<fs::path> outboxes;
    for (const auto& host : hosts_) {
        outboxes.push_back(host->outbox());
    }
    auto rounds = on_every_host([&](size_t, size_t logins) -> std::vector<CallRound> {
        return {starts(std::vector<std::string>(logins, "alice")),
                {kLogin, "Answer", [outboxes](const std::vector<CallReply>& started) {
                     // A code none of the fifty was sent (on any host).
                     std::vector<OutboxMessage> messages;
                     for (const auto& outbox : outboxes) {
                         auto more = read_outbox(outbox);
                         messages.insert(messages.end(), more.begin(), more.end());
                     }
                     std::string wrong = "000000";
                     for (int n = 0; std::any_of(messages.begin(), messages.end(),
                                                 [&](const auto& m) { return m.code() == wrong; });
                          ++n) {
                         wrong = std::to_string(100000 + n);
                     }
                     std::vector<Append> calls;
                     for (const auto& s : started) {
                         calls.push_back(answer(s.id, wrong));
                     }
                     return calls;
                 }}};
    });
    ASSERT_EQ(rounds.size(), 2U);
    ASSERT_EQ(rounds[1].size(), kAtOnce);
    EXPECT_EQ(successes(rounds[1]), 0U);
    EXPECT_EQ(failures("alice"), static_cast<int>(kAtOnce)) << verdicts(rounds[1]);
}

TEST_P(Races, SendsForFiftyLoginsAtOnceStopAtExactlyTheUsersCap) {
    start({{"max_sends_per_hour", "8"}});
    ASSERT_TRUE(daemon().enroll("alice", "email", "alice@example.com")) << daemon().log();
    // Confirmations have a budget of their own (delivery.cpp): the cap is the logins'.
    const size_t confirmations = sent_to("alice@example.com");
    auto rounds = on_every_host([](size_t, size_t logins) -> std::vector<CallRound> {
        return {starts(std::vector<std::string>(logins, "alice"))};
    });
    ASSERT_EQ(rounds.size(), 1U);
    EXPECT_EQ(sent_to("alice@example.com") - confirmations, 8U) << verdicts(rounds[0]) << logs();
}

TEST_P(Races, SendsForFiftyLoginsAtOnceStopAtExactlyTheDestinationsCap) {
    start({{"max_sends_per_destination_per_hour", "8"}});
    for (const char* user : {"alice", "bob"}) {
        ASSERT_TRUE(daemon().enroll(user, "email", "shared@example.com")) << daemon().log();
    }
    const size_t confirmations = sent_to("shared@example.com");
    auto rounds = on_every_host([](size_t first, size_t logins) -> std::vector<CallRound> {
        std::vector<std::string> users;
        for (size_t i = first; i < first + logins; ++i) {
            users.emplace_back(i % 2 == 0 ? "alice" : "bob");
        }
        return {starts(users)};
    });
    ASSERT_EQ(rounds.size(), 1U);
    EXPECT_EQ(sent_to("shared@example.com") - confirmations, 8U) << verdicts(rounds[0]) << logs();
}

const std::vector<std::string> kFiveUsers = {"alice", "bob", "carol", "dave", "erin"};

// Logins of the five users in turn, `logins` of them from the `first`th.
std::vector<CallRound> five_users_logins(size_t first, size_t logins) {
    std::vector<std::string> many;
    for (size_t i = first; i < first + logins; ++i) {
        many.push_back(kFiveUsers[i % kFiveUsers.size()]);
    }
    return {starts(many)};
}

// The host's cap is a host's own, and the two lwauthd of the PostgreSQL case run on one
// machine, under one host name (pg_store.cpp, host_key): one host's logins, on either store.
TEST_P(Races, SendsForFiftyLoginsAtOnceStopAtExactlyTheHostsCap) {
    start({{"max_sends_per_host_per_hour", "12"}});
    for (const auto& user : kFiveUsers) {
        ASSERT_TRUE(daemon().enroll(user, "email", user + "@example.com")) << daemon().log();
    }
    auto rounds = as_root(five_users_logins(0, kAtOnce));
    ASSERT_EQ(rounds.size(), 1U);
    // The host's cap counts the five confirmations with the logins' codes.
    EXPECT_EQ(read_outbox(daemon().outbox()).size(), 12U) << verdicts(rounds[0]);
}

// The fleet's cap: every host's codes together (with SQLite, the one host's again).
TEST_P(Races, SendsForFiftyLoginsAtOnceStopAtExactlyTheFleetsCap) {
    start({{"max_sends_per_fleet_per_hour", "12"}});
    for (const auto& user : kFiveUsers) {
        ASSERT_TRUE(daemon().enroll(user, "email", user + "@example.com")) << daemon().log();
    }
    auto rounds = on_every_host(five_users_logins);
    ASSERT_EQ(rounds.size(), 1U);
    size_t sent = 0;
    for (const auto& host : hosts_) {
        sent += read_outbox(host->outbox()).size();
    }
    // The five confirmations count too, as for the host's cap.
    EXPECT_EQ(sent, 12U) << verdicts(rounds[0]) << logs();
}

TEST_P(Races, OneAppCodeInFiftyLoginsAtOnceLetsOneIn) {
    start();
    std::string secret = add_app("bob");
    // The next step's code (the enrolling code used this one's), inside the window.
    auto answers = fifty_logins_answering("bob", oathtool_totp(secret, 30));
    EXPECT_EQ(successes(answers), 1U) << verdicts(answers) << logs();
    EXPECT_EQ(failures("bob"), static_cast<int>(kAtOnce) - 1) << "each reuse counted";
}

TEST_P(Races, OneRecoveryCodeInFiftyLoginsAtOnceLetsOneIn) {
    start();
    std::string secret = add_app("bob");
    // The step-up the app's code answers (the next step's: the enrolling code used this one's).
    RunResult generated = daemon().ctl("bob", {"--json", "recovery", "generate"},
                                       oathtool_totp(secret, 30) + "\n");
    ASSERT_EQ(generated.exit_code, 0) << generated.err << daemon().log();
    auto codes = json::parse(generated.out)["codes"].get<std::vector<std::string>>();
    ASSERT_FALSE(codes.empty());
    const size_t before = codes.size();

    auto answers = fifty_logins_answering("bob", codes[0]);
    EXPECT_EQ(successes(answers), 1U) << verdicts(answers) << logs();
    json status = json::parse(daemon().ctl("bob", {"--json", "status"}).out, nullptr, false);
    EXPECT_EQ(status.value("recovery_codes", size_t{0}), before - 1) << "used once";
    EXPECT_EQ(failures("bob"), static_cast<int>(kAtOnce) - 1) << "each reuse counted";
}

INSTANTIATE_TEST_SUITE_P(OnEachStore, Races, ::testing::Values(Store::sqlite, Store::postgresql),
                         [](const ::testing::TestParamInfo<Store>& param) {
                             return param.param == Store::sqlite ? "sqlite" : "postgresql";
                         });

}  // namespace
}  // namespace lwauth::test
