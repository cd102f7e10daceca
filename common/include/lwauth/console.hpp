// Where a login sits, for quick login: whether a PAM_TTY names a terminal of this
// machine's own seat (what lets a login with no logind session yet, login on a virtual
// console before pam_systemd makes one or a display manager's X display, count as local),
// and whether a process is in a local logind session with a seat. pam_lwauth.so asks both
// of its own process; lwauthd asks the second of a caller other than root.
#pragma once

#include <sys/types.h>

#include <string_view>

namespace lwauth {

/// Whether the PAM items alone make a login remote, whatever its session: a remote host
/// other than "localhost", or sshd's own PAM_TTY "ssh" (whatever its remote host reads as).
[[nodiscard]] inline bool remote_by_items(std::string_view rhost, std::string_view tty) {
    return (!rhost.empty() && rhost != "localhost") || tty == "ssh";
}

/// "tty1" or "/dev/tty1" (a virtual console: "tty" and digits only), or an X display of
/// this host (":0", ":1.0"). Not "/dev/pts/N", not "/dev/tty" (whatever the controlling
/// terminal is), not "ssh", not "host:0".
[[nodiscard]] inline bool is_local_console(std::string_view tty) {
    if (tty.starts_with("/dev/")) {
        tty.remove_prefix(5);
    }
    auto digits = [](std::string_view s, bool dot) {
        if (s.empty()) {
            return false;
        }
        for (char c : s) {
            if ((c < '0' || c > '9') && !(dot && c == '.')) {
                return false;
            }
        }
        return s.front() != '.' && s.back() != '.';
    };
    if (tty.starts_with("tty")) {
        return digits(tty.substr(3), false);
    }
    return tty.starts_with(":") && digits(tty.substr(1), true);
}

/// Whether process `pid` (0: this one) is in a systemd-logind session that is local and
/// has a seat: the one proof of sitting at this machine a process can give of itself.
/// No session, a remote or seatless one, or an error: false.
[[nodiscard]] bool in_local_seat_session(pid_t pid);

}  // namespace lwauth
