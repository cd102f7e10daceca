// The login state machine fed arbitrary answers: the engine as lwauthd runs it (the phone
// and code methods, a MemoryStore, FakeChannels in place of the gateways, as
// tests/unit/engine_test.cpp builds it) starts a login, then takes the fuzzer's bytes as
// a sequence of answers. An answer of one byte 0x01 is replaced by the latest code sent,
// and one of 0x02 moves the clock, so that right codes, resends and expiry are reached too.
// A success without any code the channels carried among the answers aborts: the login let
// someone in who never had the code.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "delivery.hpp"
#include "fakes.hpp"
#include "login/engine.hpp"
#include "login/methods/code_method.hpp"
#include "login/methods/phone_method.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/error.hpp"
#include "lwauth/text.hpp"
#include "store/async_store.hpp"
#include "store/memory_store.hpp"

namespace lwauth {
namespace {

constexpr const char* kPolicy = R"([policy]
two_step = optional
login_with_phone = allowed

[code]
channels = sms, email

[lockout]
max_failures = 4

[channel.sms]
type = outbox
path = /nonexistent/lwauth-fuzz/sms.jsonl
serves = sms

[channel.mail]
type = outbox
path = /nonexistent/lwauth-fuzz/mail.jsonl
serves = email
)";

const std::shared_ptr<const policy::Policy>& fuzz_policy() {
    static const auto policy = test::load_policy({{"lwauth.conf", kPolicy}});
    return policy;
}

// The code in a message the channels recorded ("... is 123456. ..."), "" when none.
std::string code_in(const std::string& text) {
    auto at = text.find(" is ");
    if (at == std::string::npos) {
        return {};
    }
    auto begin = at + 4;
    auto end = text.find('.', begin);
    return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

struct Login {
    test::FakeClock clock;
    test::SeededRandom random;
    MemoryStore store;
    ImmediateStore async_store{store};
    Hasher hasher{SecretString(std::string(32, 'k'))};
    CodeSender sender{clock, async_store, hasher};
    CodeDeps codes{clock, random, async_store, sender, hasher};
    LoginMethodTypes types{{std::make_shared<PhoneMethodType>(codes)},
                           {std::make_shared<CodeMethodType>(codes)}};
    test::FakeUsers users;
    std::vector<test::SentMessage> sent;
    std::unique_ptr<LoginEngine> engine;

    explicit Login(bool failing_sms) {
        auto sms = std::make_shared<test::FakeChannel>("sms", sent);
        sms->set_failing(failing_sms);
        sender.set_channels(
            {{"sms", sms}, {"mail", std::make_shared<test::FakeChannel>("mail", sent)}});
        store.save_contact("taro", {"phone", "+819012345678"});
        store.save_contact("taro", {"email", "taro@example.com"});
        store.set_two_step("taro", true);
        engine = std::make_unique<LoginEngine>(EngineDeps{clock, random, async_store, users},
                                               fuzz_policy(), types);
    }

    // The step the engine gave, or nullopt when it answered with an error (as the bus does).
    std::optional<Step> run(const std::function<void(Done<Step>)>& call) {
        std::optional<Result<Step>> got;
        try {
            call([&](Result<Step> r) { got = std::move(r); });
        } catch (const Error&) {
            return std::nullopt;
        }
        if (!got || !*got) {
            return std::nullopt;
        }
        return std::move(*got).value();
    }
};

}  // namespace
}  // namespace lwauth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lwauth;
    FuzzedDataProvider in(data, size);
    Login login(in.ConsumeBool());
    const char* mode = in.ConsumeBool() ? bus::kModePrimary : bus::kModeSecondFactor;
    const std::string user = in.ConsumeBool() ? "taro" : in.ConsumeRandomLengthString(16);
    auto step = login.run([&](Done<Step> done) {
        login.engine->start(LoginContext{user, "sshd", "192.0.2.7", "", mode, ":1.42"},
                            std::move(done));
    });
    bool right_code_given = false;  // an answer that was a code the channels carried
    while (step && !step->finished() && in.remaining_bytes() > 0) {
        std::string answer = in.ConsumeRandomLengthString(64);
        if (answer == "\x01" && !login.sent.empty()) {
            answer = code_in(login.sent.back().text);
        } else if (answer == "\x02") {
            login.clock.advance(in.ConsumeIntegralInRange<int64_t>(0, 3600));
            (void)login.engine->expire();
            continue;
        }
        const std::string owner = in.ConsumeBool() ? ":1.42" : ":1.43";
        for (const auto& sent : login.sent) {
            // The engine takes an answer without the white space around it (text.hpp's trim).
            right_code_given |= !answer.empty() && code_in(sent.text) == trim(answer);
        }
        const std::string id = step->id;
        step = login.run([&](Done<Step> done) {
            login.engine->answer(id, owner, SecretString(answer), std::move(done));
        });
    }
    if (step && step->verdict == bus::kVerdictSuccess && !right_code_given) {
        abort();  // let in without the code any channel carried
    }
    if (step && !step->id.empty()) {
        login.engine->cancel(step->id, ":1.42");
    }
    return 0;
}
