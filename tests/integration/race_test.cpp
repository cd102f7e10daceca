// Replay and races through the real lwauthd on the private bus: many calls in flight at
// once on one connection, as a PAM stack driven by a script would send them. A code, an
// authenticator app's code and a recovery code each let exactly one login in; every wrong
// answer is counted; sends stop at exactly each cap however many logins ask at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
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

class Races : public ::testing::Test {
  protected:
    // The tests' policy with authenticator apps allowed, no lockout in the way of counting,
    // and `changed` (key -> value) in place of the test policy's own lines.
    void start(std::map<std::string, std::string> changed = {}) {
        changed.emplace("max_failures", "1000");
        std::string policy =
            default_test_policy(dir_ / "outbox.jsonl", "[policy]\ntotp = allowed\n");
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
        bus_ = std::make_unique<PrivateBus>(dir_.path());
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy);
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    std::vector<std::vector<CallReply>> as_root(const std::vector<CallRound>& rounds) {
        return call_rounds_as(bus_->address(), 0, rounds);
    }

    [[nodiscard]] size_t sent_to(const std::string& destination) const {
        auto all = read_outbox(daemon_->outbox());
        return static_cast<size_t>(std::count_if(
            all.begin(), all.end(), [&](const auto& m) { return m.destination == destination; }));
    }

    [[nodiscard]] int failures(const std::string& user) const {
        std::string out = daemon_->sql("SELECT failures FROM users WHERE name = '" + user + "';");
        return out.empty() ? 0 : std::stoi(out);
    }

    // Adds an authenticator app for `user` (no contact: no step-up); its base32 secret.
    std::string add_app(const std::string& user) {
        RunResult add = daemon_->ctl(user, {"--json", "totp", "add"});
        EXPECT_EQ(add.exit_code, 0) << add.out << add.err << daemon_->log();
        std::string uri = json::parse(add.out, nullptr, false).value("uri", "");
        auto at = uri.find("secret=");
        std::string secret = uri.substr(at + 7, uri.find('&', at) - at - 7);
        RunResult confirm = daemon_->ctl(user, {"totp", "confirm", oathtool_totp(secret)});
        EXPECT_EQ(confirm.exit_code, 0) << confirm.out << confirm.err << daemon_->log();
        return secret;
    }

    // kAtOnce logins of `user` started at once, then each answered with `code` at once:
    // the answers' replies.
    std::vector<CallReply> fifty_logins_answering(const std::string& user,
                                                  const std::string& code) {
        auto rounds = as_root({starts(std::vector<std::string>(kAtOnce, user)),
                               {kLogin, "Answer", [code](const std::vector<CallReply>& started) {
                                    std::vector<Append> calls;
                                    for (const auto& s : started) {
                                        calls.push_back(answer(s.id, code));
                                    }
                                    return calls;
                                }}});
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

    TempDir dir_{"lwauth-races"};
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(Races, OneRightCodeAnsweredFiftyTimesAtOnceLetsOneIn) {
    start();
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    const fs::path outbox = daemon_->outbox();
    auto rounds = as_root(
        {starts({"alice"}), {kLogin, "Answer", [outbox](const std::vector<CallReply>& started) {
                                 // The code the login sent, typed fifty times at once.
                                 std::string code = latest_code(outbox, "alice@example.com");
                                 std::string id = started.empty() ? "" : started[0].id;
                                 return std::vector<Append>(kAtOnce, answer(id, code));
                             }}});
    ASSERT_EQ(rounds.size(), 2U);
    ASSERT_EQ(rounds[1].size(), kAtOnce);
    EXPECT_EQ(successes(rounds[1]), 1U) << verdicts(rounds[1]) << daemon_->log();
    for (const auto& r : rounds[1]) {
        if (!(r.error.empty() && r.verdict == "success")) {
            EXPECT_EQ(r.error, "org.lwauth.Auth1.Error.NoSuchLogin") << "the login ended";
        }
    }
}

TEST_F(Races, WrongAnswersToFiftyLoginsAtOnceAreEachCounted) {
    // One try a code: each wrong answer ends its login and counts once.
    start({{"tries", "1"}});
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    ASSERT_EQ(failures("alice"), 0);
    const fs::path outbox = daemon_->outbox();
    auto rounds =
        as_root({starts(std::vector<std::string>(kAtOnce, "alice")),
                 {kLogin, "Answer", [outbox](const std::vector<CallReply>& started) {
                      // A code none of the fifty was sent.
                      auto messages = read_outbox(outbox);
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
                  }}});
    ASSERT_EQ(rounds.size(), 2U);
    ASSERT_EQ(rounds[1].size(), kAtOnce);
    EXPECT_EQ(successes(rounds[1]), 0U);
    EXPECT_EQ(failures("alice"), static_cast<int>(kAtOnce)) << verdicts(rounds[1]);
}

TEST_F(Races, SendsForFiftyLoginsAtOnceStopAtExactlyTheUsersCap) {
    start({{"max_sends_per_hour", "8"}});
    ASSERT_TRUE(daemon_->enroll("alice", "email", "alice@example.com")) << daemon_->log();
    // Confirmations have a budget of their own (delivery.cpp): the cap is the logins'.
    const size_t confirmations = sent_to("alice@example.com");
    auto rounds = as_root({starts(std::vector<std::string>(kAtOnce, "alice"))});
    ASSERT_EQ(rounds.size(), 1U);
    EXPECT_EQ(sent_to("alice@example.com") - confirmations, 8U) << verdicts(rounds[0]);
}

TEST_F(Races, SendsForFiftyLoginsAtOnceStopAtExactlyTheDestinationsCap) {
    start({{"max_sends_per_destination_per_hour", "8"}});
    for (const char* user : {"alice", "bob"}) {
        ASSERT_TRUE(daemon_->enroll(user, "email", "shared@example.com")) << daemon_->log();
    }
    const size_t confirmations = sent_to("shared@example.com");
    std::vector<std::string> users;
    for (size_t i = 0; i < kAtOnce; ++i) {
        users.emplace_back(i % 2 == 0 ? "alice" : "bob");
    }
    auto rounds = as_root({starts(users)});
    ASSERT_EQ(rounds.size(), 1U);
    EXPECT_EQ(sent_to("shared@example.com") - confirmations, 8U) << verdicts(rounds[0]);
}

TEST_F(Races, SendsForFiftyLoginsAtOnceStopAtExactlyTheHostsCap) {
    start({{"max_sends_per_host_per_hour", "12"}});
    const std::vector<std::string> users = {"alice", "bob", "carol", "dave", "erin"};
    for (const auto& user : users) {
        ASSERT_TRUE(daemon_->enroll(user, "email", user + "@example.com")) << daemon_->log();
    }
    std::vector<std::string> many;
    for (size_t i = 0; i < kAtOnce; ++i) {
        many.push_back(users[i % users.size()]);
    }
    auto rounds = as_root({starts(many)});
    ASSERT_EQ(rounds.size(), 1U);
    // The host's cap counts the five confirmations with the logins' codes.
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 12U) << verdicts(rounds[0]);
}

TEST_F(Races, OneAppCodeInFiftyLoginsAtOnceLetsOneIn) {
    start();
    std::string secret = add_app("bob");
    // The next step's code (the enrolling code used this one's), inside the window.
    auto answers = fifty_logins_answering("bob", oathtool_totp(secret, 30));
    EXPECT_EQ(successes(answers), 1U) << verdicts(answers) << daemon_->log();
    EXPECT_EQ(failures("bob"), static_cast<int>(kAtOnce) - 1) << "each reuse counted";
}

TEST_F(Races, OneRecoveryCodeInFiftyLoginsAtOnceLetsOneIn) {
    start();
    std::string secret = add_app("bob");
    // The step-up the app's code answers (the next step's: the enrolling code used this one's).
    RunResult generated = daemon_->ctl("bob", {"--json", "recovery", "generate"},
                                       oathtool_totp(secret, 30) + "\n");
    ASSERT_EQ(generated.exit_code, 0) << generated.err << daemon_->log();
    auto codes = json::parse(generated.out)["codes"].get<std::vector<std::string>>();
    ASSERT_FALSE(codes.empty());
    const size_t before = codes.size();

    auto answers = fifty_logins_answering("bob", codes[0]);
    EXPECT_EQ(successes(answers), 1U) << verdicts(answers) << daemon_->log();
    json status = json::parse(daemon_->ctl("bob", {"--json", "status"}).out, nullptr, false);
    EXPECT_EQ(status.value("recovery_codes", size_t{0}), before - 1) << "used once";
    EXPECT_EQ(failures("bob"), static_cast<int>(kAtOnce) - 1) << "each reuse counted";
}

}  // namespace
}  // namespace lwauth::test
