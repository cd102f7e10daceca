// The asan preset's sanitizers in the processes a test starts (docs/SECURITY.md,
// "Sanitizers"): their reports go to one directory per test process, which this checks
// after the last test. Nothing here does anything in the other presets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "harness.hpp"

namespace lwauth::test {

#ifdef LWAUTH_ASAN_RUNTIME

namespace {

// Made on first use (the pam tests re-execute themselves before any test starts), world
// writable and sticky: lwauthd run as lwauth and lwauthctl run as a test user write here.
const fs::path& reports_dir() {
    static const fs::path dir = [] {
        std::string tmpl = "/tmp/lwauth-sanitizer.XXXXXX";
        if (mkdtemp(tmpl.data()) == nullptr) {
            throw std::runtime_error("mkdtemp " + tmpl);
        }
        fs::permissions(tmpl, fs::perms(01777));
        return fs::path(tmpl);
    }();
    return dir;
}

// Every report a child wrote (ASan's and UBSan's log_path: one file per process) fails
// the test program, with the report in its output.
class SanitizerReports : public ::testing::Environment {
  public:
    void TearDown() override {
        const fs::path& dir = reports_dir();
        for (const auto& entry : fs::directory_iterator(dir)) {
            ADD_FAILURE() << "sanitizer report of a child process (" << entry.path().filename()
                          << "):\n"
                          << read_file(entry.path());
        }
        if (std::getenv("LWAUTH_TEST_KEEP") == nullptr) {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    }
};

[[maybe_unused]] const auto* const kReports =
    ::testing::AddGlobalTestEnvironment(new SanitizerReports);

}  // namespace

void add_sanitizer_env(std::map<std::string, std::string>& env) {
    std::string dir = reports_dir().string();
    // verify_asan_link_order=0: nss_wrapper's LD_PRELOAD comes before the runtime that
    // lwauthd links; a process killed by a signal has no leak check, one that exits has.
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=1:log_path=" + dir + "/asan";
    env["LSAN_OPTIONS"] = "suppressions=" LWAUTH_SOURCE_DIR "/tests/support/lsan.supp";
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:log_path=" + dir + "/ubsan";
}

std::string preload(const std::string& libs) {
    return LWAUTH_ASAN_RUNTIME " " + libs;
}

#else

void add_sanitizer_env(std::map<std::string, std::string>& /*env*/) {}

std::string preload(const std::string& libs) {
    return libs;
}

#endif

}  // namespace lwauth::test
