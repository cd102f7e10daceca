// What a login conversation says at each turn, and who it is for.
#pragma once

#include <cstdint>
#include <string>

#include "lwauth/bus_codec.hpp"  // Step

namespace lwauth {

struct LoginContext {
    std::string user;
    std::string service;
    std::string rhost;
    std::string tty;
    std::string mode;
    std::string owner;  // unique bus name of the caller that started the login
    uint64_t reply_timeout_usec = 0;  // how long the caller waits for each reply; 0: not said

    /// Where the login comes from, as [policy] remember_host keeps it: the remote host,
    /// or "local:" and the terminal for a session without one; "" when the PAM
    /// application said neither (or a remote host that reads as a local origin), so that
    /// such logins are never remembered: every client of the service would share it.
    [[nodiscard]] std::string origin() const {
        if (!rhost.empty()) {
            return rhost.starts_with("local:") ? std::string() : rhost;
        }
        return tty.empty() ? std::string() : "local:" + tty;
    }
};

}  // namespace lwauth
