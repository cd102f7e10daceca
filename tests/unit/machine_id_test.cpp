// The identifier that keys what is bound to this machine in a shared store: derived from
// the machine ID as sd_id128_get_machine_app_specific(3) derives it, and no start without
// a machine ID.
#include "store/machine_id.hpp"

#include <gtest/gtest.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

namespace fs = std::filesystem;

class MachineKey : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "lwauth-machine-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path file(const std::string& content) const {
        fs::path path = dir_ / "machine-id";
        std::ofstream(path, std::ios::trunc) << content;
        return path;
    }

    fs::path dir_;
};

TEST_F(MachineKey, IsStableHexAndNotTheMachineIdItself) {
    const std::string id = "0123456789abcdef0123456789abcdef";
    std::string key = machine_key(file(id + "\n"));
    EXPECT_EQ(key.size(), 32u);
    EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos) << key;
    EXPECT_NE(key, id);
    EXPECT_EQ(machine_key(file(id + "\n")), key);
    EXPECT_NE(machine_key(file("fedcba9876543210fedcba9876543210\n")), key)
        << "another machine, another key";
}

TEST_F(MachineKey, MatchesSystemdsDerivationForThisMachine) {
    sd_id128_t machine;
    if (sd_id128_get_machine(&machine) < 0) {
        GTEST_SKIP() << "this machine has no machine ID";
    }
    char text[SD_ID128_STRING_MAX];
    // The same ID read from another file takes the derivation of lwauth's own; the
    // default file, sd_id128_get_machine_app_specific's.
    EXPECT_EQ(machine_key(file(std::string(sd_id128_to_string(machine, text)) + "\n")),
              machine_key(kMachineIdFile));
}

TEST_F(MachineKey, RefusesAMissingEmptyOrUninitializedMachineIdSayingHowToMakeOne) {
    for (const char* content : {"", "\n", "uninitialized\n", "not-an-id\n",
                                "00000000000000000000000000000000\n"}) {
        fs::path path = file(content);
        try {
            (void)machine_key(path);
            ADD_FAILURE() << "accepted \"" << content << "\"";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("systemd-machine-id-setup"), std::string::npos)
                << e.what();
        }
    }
    try {
        (void)machine_key(dir_ / "nowhere");
        ADD_FAILURE() << "accepted a missing file";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is missing"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace lwauth
