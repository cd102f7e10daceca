// What the login benchmarks share: libpam under pam_wrapper, one login through it, and
// lwauthd's users (user0...) with 2-step on and an email under login_cost's policy.
#pragma once

#include <security/pam_appl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "codes.hpp"
#include "harness.hpp"
#include "store/sqlite_store.hpp"

namespace lwauth::bench {

/// libpam must be redirected by pam_wrapper from the start: re-executes the program with
/// it preloaded, unless it is already. Returns only when it is (or exec failed: 127).
inline int under_pam_wrapper(char** argv) {
    if (std::getenv("PAM_WRAPPER") != nullptr) {
        return 0;
    }
    setenv("PAM_WRAPPER", "1", 1);
    setenv("LD_PRELOAD", "libpam_wrapper.so", 1);
    execv("/proc/self/exe", argv);
    perror("execv /proc/self/exe");
    return 127;
}

struct Person {
    std::function<std::string()> answer;  // the answer to every prompt
    int prompts = 0;
};

inline int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* person = static_cast<Person*>(data);
    auto* replies = static_cast<struct pam_response*>(
        calloc(static_cast<size_t>(n), sizeof(struct pam_response)));
    if (replies == nullptr) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < n; ++i) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            ++person->prompts;
            replies[i].resp = strdup(person->answer().c_str());
        }
    }
    *resp = replies;
    return PAM_SUCCESS;
}

/// pam_start, pam_authenticate, pam_end: the result of pam_authenticate.
inline int one_login(const char* service, const char* user, Person& person) {
    struct pam_conv conv {
        converse, &person
    };
    pam_handle_t* pamh = nullptr;
    int rc = pam_start(service, user, &conv, &pamh);
    if (rc != PAM_SUCCESS) {
        return rc;
    }
    rc = pam_authenticate(pamh, 0);
    pam_end(pamh, rc);
    return rc;
}

/// 2-step optional, email codes to the outbox, caps that a benchmark does not reach.
inline std::string login_policy(const test::fs::path& outbox) {
    return "[policy]\ntwo_step = optional\n"
           "\n[code]\nchannels = email\nresend_interval = 0s\nmax_sends_per_hour = 1000\n"
           "max_sends_per_destination_per_hour = 1000\nmax_sends_per_host_per_hour = 100000\n"
           "\n[lockout]\nmax_failures = 1000\nduration = 15m\n"
           "\n[channel.outbox]\ntype = outbox\npath = " +
           outbox.string() + "\n";
}

/// `names` in the user database of lwauthd and the bus (added to the harness's users).
inline void add_users(const test::Daemon& daemon, const std::vector<std::string>& names) {
    std::string passwd = test::read_file(daemon.passwd_path());
    std::string group = test::read_file(daemon.group_path());
    for (size_t i = 0; i < names.size(); ++i) {
        const std::string& name = names[i];
        std::string id = std::to_string(50000 + i);
        passwd += name + ":x:" + id + ":" + id + ":" + name + ":/nonexistent:/bin/sh\n";
        group += name + ":x:" + id + ":\n";
    }
    test::write_file(daemon.passwd_path(), passwd);
    test::write_file(daemon.group_path(), group);
}

/// A state directory holding `names`, each with 2-step on and an email, written through
/// the real store. lwauthd starts only on a state directory of its own with no group or
/// other bits.
inline void fill_state(const test::fs::path& state, const std::vector<std::string>& names) {
    test::fs::create_directories(state);
    test::fs::permissions(state, test::fs::perms::owner_all);
    OpenSslRandom random;
    SqliteStore store(
        (state / "lwauth.db").string(),
        ContactCipher(load_or_create_key((state / "contacts.key").string(), random), random));
    for (const auto& name : names) {
        store.save_contact(name, {"email", name + "@example.com"});
        store.set_two_step(name, true);
    }
}

}  // namespace lwauth::bench
