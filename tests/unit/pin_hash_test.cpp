// Quick-login PIN hashes: Argon2id through libargon2, checked against published vectors
// (so that m, t and p are known to reach libargon2 as written), the PHC string read
// strictly, and the asynchronous API on a real sd-event loop and the real worker pool.
#include "quick/pin_hash.hpp"

#include <argon2.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes.hpp"
#include "lwauth/sd_bus.hpp"
#include "lwauth/text.hpp"

namespace lwauth::quick {
namespace {

using namespace std::chrono_literals;

// The reference implementation's Argon2id (v=0x13) vectors (phc-winner-argon2,
// src/test.c): password "password", salt "somesalt", 32-byte hash. Each differs from the
// first in one cost, so a cost passed wrong or swapped gives another hash.
struct Vector {
    Argon2Params params;
    const char* phc;
};
const Vector kReference[] = {
    {{65536, 2, 1},
     "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
    {{256, 2, 1},
     "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
    {{256, 2, 2},
     "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
    {{65536, 1, 1},
     "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"},
    {{65536, 4, 1},
     "$argon2id$v=19$m=65536,t=4,p=1$c29tZXNhbHQ$kCXUjmjvc5XMqQedpMTsOv+zyJEf5PhtGiUghW9jFyw"},
};

TEST(PinHash, HashesTheReferenceVectorsOfArgon2id) {
    for (const auto& vector : kReference) {
        EXPECT_EQ(hash_pin_blocking("password", vector.params, "somesalt"), vector.phc);
    }
}

TEST(PinHash, VerifiesTheReferenceVectorsAndRefusesAnyOtherPassword) {
    for (const auto& vector : kReference) {
        EXPECT_TRUE(verify_pin_blocking("password", vector.phc).value()) << vector.phc;
        EXPECT_FALSE(verify_pin_blocking("passwore", vector.phc).value()) << vector.phc;
        EXPECT_FALSE(verify_pin_blocking("", vector.phc).value()) << vector.phc;
    }
    const char* different =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94";
    EXPECT_TRUE(verify_pin_blocking("differentpassword", different).value());
    EXPECT_FALSE(verify_pin_blocking("password", different).value());
    const char* diffsalt =
        "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw";
    EXPECT_TRUE(verify_pin_blocking("password", diffsalt).value());
}

// RFC 9106 section 5.3: the library lwauthd links computes Argon2id version 0x13.
TEST(PinHash, LinkedLibArgon2MatchesRfc9106) {
    std::vector<uint8_t> password(32, 0x01), salt(16, 0x02), secret(8, 0x03), ad(12, 0x04);
    std::vector<uint8_t> tag(32);
    argon2_context context{};
    context.out = tag.data();
    context.outlen = 32;
    context.pwd = password.data();
    context.pwdlen = 32;
    context.salt = salt.data();
    context.saltlen = 16;
    context.secret = secret.data();
    context.secretlen = 8;
    context.ad = ad.data();
    context.adlen = 12;
    context.t_cost = 3;
    context.m_cost = 32;
    context.lanes = 4;
    context.threads = 4;
    context.version = ARGON2_VERSION_13;
    ASSERT_EQ(argon2_ctx(&context, Argon2_id), ARGON2_OK);
    EXPECT_EQ(hex_encode(tag.data(), tag.size()),
              "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
}

TEST(PinHash, ReadsThePartsOfAPhcString) {
    auto parsed = parse_phc(kReference[2].phc);
    ASSERT_TRUE(parsed.ok()) << parsed.error().what();
    EXPECT_EQ(parsed->params, (Argon2Params{256, 2, 2}));
    EXPECT_EQ(parsed->salt, "somesalt");
    EXPECT_EQ(parsed->hash.size(), 32u);
}

TEST(PinHash, RefusesMalformedPhcStringsWithoutQuotingThem) {
    const std::string salt = "c29tZXNhbHQ";
    const std::string hash = "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
    const std::string costs = "m=256,t=2,p=1";
    const std::vector<std::string> bad = {
        "",
        "$argon2id",
        "password",
        "$argon2i$v=19$" + costs + "$" + salt + "$" + hash,
        "$argon2d$v=19$" + costs + "$" + salt + "$" + hash,
        "$argon2id$v=16$" + costs + "$" + salt + "$" + hash,
        "$argon2id$" + costs + "$" + salt + "$" + hash,  // no version: 0x10
        "argon2id$v=19$" + costs + "$" + salt + "$" + hash,
        "$argon2id$v=19$" + costs + "$" + salt + "$" + hash + "$",
        "$argon2id$v=19$t=2,m=256,p=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=0256,t=2,p=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=+256,t=2,p=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=256,t=2$" + salt + "$" + hash,
        "$argon2id$v=19$m=256,t=2,p=1,k=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=256,t=0,p=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=256,t=11,p=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=256,t=2,p=5$" + salt + "$" + hash,
        "$argon2id$v=19$m=1048577,t=2,p=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=99999999999999999999,t=2,p=1$" + salt + "$" + hash,
        "$argon2id$v=19$m=16,t=2,p=4$" + salt + "$" + hash,  // under 8 KiB per lane
        "$argon2id$v=19$" + costs + "$c29tZXNhbHQ=$" + hash,  // padded
        "$argon2id$v=19$" + costs + "$c29tZX-hbHQ$" + hash,   // base64url
        "$argon2id$v=19$" + costs + "$c29tZQ$" + hash,        // 5-byte salt
        "$argon2id$v=19$" + costs + "$" + salt + "$c29tZXNhbHQ",  // 8-byte hash
        "$argon2id$v=19$" + costs + "$" + salt + "$",
        "$argon2id$v=19$" + costs + "$" + salt + "$" + hash + " ",
    };
    for (const auto& phc : bad) {
        auto parsed = parse_phc(phc);
        ASSERT_FALSE(parsed.ok()) << phc;
        EXPECT_EQ(parsed.error().code(), Errc::InvalidArgument) << phc;
        std::string message = parsed.error().what();
        EXPECT_EQ(message.rfind("malformed PIN hash: ", 0), 0u) << message;
        EXPECT_EQ(message.find(salt), std::string::npos) << message;
        EXPECT_FALSE(verify_pin_blocking("password", phc).ok()) << phc;
    }
}

TEST(PinHash, NeedsRehashWhenTheStoredCostsOrSizesDifferFromThePolicy) {
    const Argon2Params fast{8192, 1, 1};
    const std::string salt(kPinSaltBytes, 's');
    const std::string phc = hash_pin_blocking("482915", fast, salt);
    EXPECT_FALSE(needs_rehash(phc, fast));
    EXPECT_TRUE(needs_rehash(phc, Argon2Params{16384, 1, 1}));
    EXPECT_TRUE(needs_rehash(phc, Argon2Params{8192, 2, 1}));
    EXPECT_TRUE(needs_rehash(phc, Argon2Params{8192, 1, 2}));
    EXPECT_TRUE(needs_rehash(phc, Argon2Params{}));
    // The reference vector's 8-byte salt is shorter than lwauthd's own.
    EXPECT_TRUE(needs_rehash(kReference[0].phc, Argon2Params{65536, 2, 1}));
    EXPECT_TRUE(needs_rehash("not a hash", fast));
}

// ---- The asynchronous API on a real loop and pool ---------------------------------------

class PinHasherTest : public ::testing::Test {
  protected:
    PinHasherTest() {
        sd_event* event = nullptr;
        EXPECT_GE(sd_event_new(&event), 0);
        event_.reset(event);
        pool_ = std::make_unique<WorkerPool>(event_.get(), 2);
    }
    ~PinHasherTest() override { pool_.reset(); }

    bool run_until(const std::function<bool()>& done) {
        auto give_up = std::chrono::steady_clock::now() + 60s;
        while (!done() && std::chrono::steady_clock::now() < give_up) {
            sd_event_run(event_.get(), 100 * 1000);
        }
        return done();
    }

    // Hashes `pin` with `params` through the pool, waiting on the loop.
    std::string hash(PinHasher& hasher, const char* pin, const Argon2Params& params) {
        std::optional<Result<std::string>> result;
        Job job = hasher.hash_pin(SecretString(pin), params,
                                  [&](Result<std::string> r) { result.emplace(std::move(r)); });
        EXPECT_TRUE(run_until([&] { return result.has_value(); }));
        return result->value();
    }

    Result<PinCheck> verify(PinHasher& hasher, const char* pin, const std::string& phc,
                            const Argon2Params& current) {
        std::optional<Result<PinCheck>> result;
        const auto loop_thread = std::this_thread::get_id();
        Job job = hasher.verify_pin(SecretString(pin), phc, current, [&](Result<PinCheck> r) {
            EXPECT_EQ(std::this_thread::get_id(), loop_thread);
            result.emplace(std::move(r));
        });
        EXPECT_FALSE(result.has_value());  // never called before the loop runs
        EXPECT_TRUE(run_until([&] { return result.has_value(); }));
        return std::move(*result);
    }

    EventPtr event_;
    std::unique_ptr<WorkerPool> pool_;
};

TEST_F(PinHasherTest, AHashFromThePoolVerifiesTheRightPinOnly) {
    OpenSslRandom random;
    PinHasher hasher(*pool_, random);
    const Argon2Params policy;  // the defaults: 19 MiB, t=2, p=1
    std::string phc = hash(hasher, "482915", policy);
    EXPECT_EQ(phc.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << phc;
    auto parsed = parse_phc(phc);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->salt.size(), kPinSaltBytes);
    EXPECT_EQ(parsed->hash.size(), kPinHashBytes);
    EXPECT_EQ(verify(hasher, "482915", phc, policy).value(), (PinCheck{true, false}));
    EXPECT_EQ(verify(hasher, "482916", phc, policy).value(), (PinCheck{false, false}));
    EXPECT_NE(hash(hasher, "482915", policy), phc);  // a fresh salt each time
}

TEST_F(PinHasherTest, TheSaltComesFromTheDaemonsRandomSource) {
    test::ScriptedRandom random({'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b',
                                 'c', 'd', 'e', 'f'});
    PinHasher hasher(*pool_, random);
    auto parsed = parse_phc(hash(hasher, "482915", Argon2Params{8192, 1, 1}));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->salt, "0123456789abcdef");
    EXPECT_EQ(random.calls(), 1u);
}

TEST_F(PinHasherTest, ARightPinUnderOldCostsAsksForARehashThatThenHolds) {
    OpenSslRandom random;
    PinHasher hasher(*pool_, random);
    const Argon2Params old_costs{8192, 1, 1};
    const Argon2Params policy{8192, 2, 1};
    std::string phc = hash(hasher, "306174", old_costs);
    EXPECT_EQ(verify(hasher, "306174", phc, policy).value(), (PinCheck{true, true}));
    // A wrong PIN never asks for one: only the right PIN may be hashed again.
    EXPECT_EQ(verify(hasher, "306175", phc, policy).value(), (PinCheck{false, false}));
    std::string rehashed = hash(hasher, "306174", policy);
    EXPECT_EQ(verify(hasher, "306174", rehashed, policy).value(), (PinCheck{true, false}));
}

TEST_F(PinHasherTest, AMalformedStoredHashComesBackAsAnErrorOnTheLoop) {
    OpenSslRandom random;
    PinHasher hasher(*pool_, random);
    auto result = verify(hasher, "482915", "$argon2id$v=19$m=8192,t=1,p=1$broken", {});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), Errc::InvalidArgument);
    EXPECT_EQ(std::string(result.error().what()).rfind("malformed PIN hash: ", 0), 0u);
}

}  // namespace
}  // namespace lwauth::quick
