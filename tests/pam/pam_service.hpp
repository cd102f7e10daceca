// pam_wrapper's service directory for a test program that uses one PAM service.
#pragma once

#include <security/pam_appl.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "conversation.hpp"
#include "harness.hpp"

namespace lwauth::test {

inline constexpr const char* kPamMatrix = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so";
/// Sets PAM_RHOST and PAM_TTY from the test's environment, as sshd and login set them.
inline constexpr const char* kPamSetItems =
    "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so";

/// DESIGN.md's stack with its passwordless stage: PAM_RHOST and PAM_TTY from the
/// environment, pam_lwauth.so mode=primary (with `primary_args`), the password
/// (`matrix`), and pam_lwauth.so mode=second_factor when `second_factor`.
inline std::string passwordless_stack(const std::string& matrix, const std::string& primary_args,
                                      bool second_factor) {
    std::string module = LWAUTH_PAM_MODULE_PATH;
    std::string stack = "auth optional " + std::string(kPamSetItems) +
                        "\nauth [success=done ignore=ignore default=die] " + module +
                        " mode=primary" + primary_args + "\nauth requisite " + matrix + "\n";
    if (second_factor) {
        stack += "auth required " + module + " mode=second_factor\n";
    }
    return stack + "account required " + matrix + "\n";
}

/// Points pam_wrapper at DIR/pam.d and writes DIR/passdb, where every test user has
/// `password` for each of `services`; pam_matrix.so with its argument over that passdb.
inline std::string use_pam_dir(const fs::path& dir, const std::string& password,
                               const std::vector<std::string>& services) {
    setenv("PAM_WRAPPER_SERVICE_DIR", (dir / "pam.d").c_str(), 1);
    std::string passdb;
    for (const auto& service : services) {
        for (const auto& u : test_users()) {
            passdb += u.name + ":" + password + ":" + service + "\n";
        }
    }
    write_file(dir / "passdb", passdb);
    return std::string(kPamMatrix) + " passdb=" + (dir / "passdb").string();
}

/// Makes the service `name`, once per process (pam_wrapper reads its service directory
/// once): its stack is `stack(matrix)`, `matrix` being pam_matrix.so over a password
/// database where every test user has `password` for `name`.
inline void make_pam_service(const std::string& name, const std::string& password,
                             const std::function<std::string(const std::string&)>& stack) {
    static TempDir* dir = nullptr;
    if (dir != nullptr) {
        return;
    }
    static TempDir services("lwauth-pam-" + name);
    dir = &services;
    std::string matrix = use_pam_dir(dir->path(), password, {name});
    write_file(dir->path() / "pam.d" / name, stack(matrix));
}

/// The person at the terminal of a passwordless method: at a prompt that contains
/// `method_prompt`, what `at_method` says (given all that was shown so far; nullopt ends
/// the conversation); at one that asks for a password, `password`.
struct Person {
    std::string method_prompt;
    std::string password;
    std::function<std::optional<std::string>(const std::string& shown)> at_method;
    std::string shown;  // every message and prompt, one a line
    int method_prompts = 0;
    int password_prompts = 0;
};

/// The conversation function of a Person (`data`).
inline int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* person = static_cast<Person*>(data);
    return reply_reading(n, msg, resp, person->shown, [person](const std::string& text) {
        std::optional<std::string> answer;
        if (text.find(person->method_prompt) != std::string::npos && person->at_method) {
            ++person->method_prompts;
            answer = person->at_method(person->shown);
        } else if (text.find("assword") != std::string::npos) {
            ++person->password_prompts;
            answer = person->password;
        }
        return answer;
    });
}

}  // namespace lwauth::test
