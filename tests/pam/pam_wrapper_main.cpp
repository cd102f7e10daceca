// main() of the tests under tests/pam.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "harness.hpp"

// libpam must be redirected by pam_wrapper from the first instruction, so the test
// re-executes itself with the wrapper preloaded (the same whether run by ctest or by hand).
int main(int argc, char** argv) {
    if (std::getenv("PAM_WRAPPER") == nullptr) {
        setenv("PAM_WRAPPER", "1", 1);
        // In the asan preset the sanitizer runtime comes first (preload()), which also
        // makes pam_wrapper load libpam without RTLD_DEEPBIND (google/sanitizers#611).
        setenv("LD_PRELOAD", lwauth::test::preload("libpam_wrapper.so").c_str(), 1);
#ifdef LWAUTH_ASAN_RUNTIME
        // The same switch said outright: pam_wrapper 1.1.4's pwrap_load_lib_handle()
        // reads it under uid_wrapper's name, not PAM_WRAPPER_DISABLE_DEEPBIND.
        setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
        setenv("LSAN_OPTIONS", "suppressions=" LWAUTH_SOURCE_DIR "/tests/support/lsan.supp", 0);
#endif
        execv("/proc/self/exe", argv);
        perror("execv /proc/self/exe");
        return 127;
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
