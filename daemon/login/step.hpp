// What a login conversation says at each turn, and who it is for.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "lwauth/bus_codec.hpp"  // Step
#include "lwauth/console.hpp"    // remote_by_items
#include "lwauth/i18n.hpp"

namespace lwauth {

struct LoginContext {
    std::string user;
    std::string service;
    std::string rhost;
    std::string tty;
    std::string mode;
    std::string owner;                // unique bus name of the caller that started the login
    uint64_t reply_timeout_usec = 0;  // how long the caller waits for each reply; 0: not said
    // The module found no proof that the login sits at this machine (lwauth/console.hpp);
    // for a caller other than root, also set when its own process shows none
    // (BusService::login_start).
    bool session_remote = false;
    // Started by a caller other than root for its own user (a screen locker running as the
    // user): such a login is offered only what cannot be turned against another user,
    // and is never recorded as a full login.
    bool unprivileged = false;
    // The PAM session's locale name, as the module read it ("" when none is set).
    std::string locale{};
    // The language of the login's lines and code message: the locale's when lwauth has
    // lines in it, else the user's [policy] language (LoginEngine::start sets it).
    Language language = Language::En;

    /// Whether the login comes from another machine, as pam_fprintd decides: a remote
    /// host other than "localhost" is; otherwise the logind session says. sshd's own
    /// PAM_TTY "ssh" counts as remote too, whatever its remote host reads as.
    [[nodiscard]] bool remote() const { return remote_by_items(rhost, tty) || session_remote; }

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

/// How much of the client's wait for each reply (reply_timeout_usec) lwauthd keeps for
/// itself: a quarter, at most one second. BusService answers that much before the client
/// gives up; a method's wait for an outside event ends that much earlier again, so that
/// the method's verdict, not BusService's, is the one sent.
inline uint64_t reply_margin_usec(uint64_t reply_timeout_usec) {
    return std::min<uint64_t>(reply_timeout_usec / 4, 1000 * 1000);
}

}  // namespace lwauth
