// main() of the tests under tests/pam.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

// libpam must be redirected by pam_wrapper from the first instruction, so the test
// re-executes itself with the wrapper preloaded (the same whether run by ctest or by hand).
int main(int argc, char** argv) {
    if (std::getenv("PAM_WRAPPER") == nullptr) {
        setenv("PAM_WRAPPER", "1", 1);
        setenv("LD_PRELOAD", "libpam_wrapper.so", 1);
        // pam_wrapper comes before the sanitizer runtime in the asan preset.
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 0);
        execv("/proc/self/exe", argv);
        perror("execv /proc/self/exe");
        return 127;
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
