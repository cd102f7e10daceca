// A PAM application as small as su: pam_start_confdir() over a service directory of the
// test's, pam_authenticate() with the answers it reads from standard input (one a line),
// pam_end(). It reports the descriptors a module left open after pam_end() or held open
// without close-on-exec while it ran (a program the application runs would inherit
// them), and how many it held at the prompts (so that a report of none means something).
// Run with libpam as it is, no pam_wrapper: the tests run it as a setuid program runs.
#include <dirent.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <syslog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>
#include <string>

namespace {

std::set<int> open_fds() {
    std::set<int> fds;
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) {
        std::perror("/proc/self/fd");
        std::exit(2);
    }
    while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] != '.') {
            fds.insert(std::atoi(entry->d_name));
        }
    }
    fds.erase(dirfd(dir));
    closedir(dir);
    return fds;
}

struct Seen {
    std::set<int> before;
    std::set<int> inheritable;
    size_t held = 0;
    int prompts = 0;
};

int converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* seen = static_cast<Seen*>(data);
    auto* replies =
        static_cast<pam_response*>(calloc(static_cast<size_t>(n), sizeof(pam_response)));
    if (replies == nullptr) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < n; ++i) {
        if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF && msg[i]->msg_style != PAM_PROMPT_ECHO_ON) {
            continue;
        }
        ++seen->prompts;
        size_t held = 0;
        for (int fd : open_fds()) {
            if (seen->before.contains(fd)) {
                continue;
            }
            ++held;
            int flags = fcntl(fd, F_GETFD);
            if (flags >= 0 && (flags & FD_CLOEXEC) == 0) {
                seen->inheritable.insert(fd);
            }
        }
        seen->held = std::max(seen->held, held);
        std::string line;
        std::getline(std::cin, line);
        replies[i].resp = strdup(line.c_str());
    }
    *resp = replies;
    return PAM_SUCCESS;
}

std::string list(const std::set<int>& fds) {
    std::string out;
    for (int fd : fds) {
        out += (out.empty() ? "" : ",") + std::to_string(fd);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: lwauth-pam-host CONFDIR SERVICE USER\n";
        return 2;
    }
    // As su and sshd: the log socket is open before PAM starts.
    openlog("lwauth-pam-host", LOG_NDELAY | LOG_PID, LOG_AUTHPRIV);
    Seen seen;
    seen.before = open_fds();
    pam_conv conv{converse, &seen};
    pam_handle_t* pamh = nullptr;
    int result = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &pamh);
    if (result == PAM_SUCCESS) {
        result = pam_authenticate(pamh, 0);
    }
    pam_end(pamh, result);
    std::set<int> leaked;
    for (int fd : open_fds()) {
        if (!seen.before.contains(fd)) {
            leaked.insert(fd);
        }
    }
    std::cout << "result=" << result << "\nprompts=" << seen.prompts << "\nheld=" << seen.held
              << "\ninheritable=" << list(seen.inheritable) << "\nleaked=" << list(leaked) << "\n";
    return 0;
}
