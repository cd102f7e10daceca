// One PAM service for a test binary under tests/pam, as pam_wrapper reads it.
#pragma once

#include <cstdlib>
#include <string>

#include "harness.hpp"

namespace lwauth::test {

constexpr const char* kPamMatrix = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so";

/// pam_wrapper reads its service directory once per process, at the first pam_start(), and
/// keeps its copy: this makes it once (later calls do nothing) and points
/// PAM_WRAPPER_SERVICE_DIR at it. `service`'s stack is the lines `before`, then the
/// password (pam_matrix, requisite) and its account check, with `password` as every test
/// user's password for `service`.
inline void make_pam_service(const std::string& service, const std::string& before,
                             const std::string& password) {
    static TempDir* made = nullptr;
    if (made != nullptr) {
        return;
    }
    static TempDir services("lwauth-" + service + "-pam");
    made = &services;
    setenv("PAM_WRAPPER_SERVICE_DIR", (services.path() / "pam.d").c_str(), 1);
    std::string passdb;
    for (const auto& u : test_users()) {
        passdb += u.name + ":" + password + ":" + service + "\n";
    }
    write_file(services.path() / "passdb", passdb);
    std::string matrix =
        std::string(kPamMatrix) + " passdb=" + (services.path() / "passdb").string();
    write_file(services.path() / "pam.d" / service,
               before + "auth requisite " + matrix + "\naccount required " + matrix + "\n");
}

}  // namespace lwauth::test
