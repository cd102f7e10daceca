// pam_lwauth.so: a thin relay between the PAM conversation and lwauthd.
//
// The module decides nothing: it passes the daemon's lines and prompts to the user, the
// user's answers to the daemon, and maps the daemon's verdict to a PAM code. When the
// daemon cannot be reached, failmode= decides, because that must be decided without it.
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "lwauth/bus_codec.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/console.hpp"
#include "lwauth/error.hpp"
#include "lwauth/files.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/sd_bus.hpp"
#include "lwauth/secret.hpp"
#include "options.hpp"

namespace lwauth {
namespace {

// The most pam_setcred waits for Confirm: only the record of a full login waits on it,
// and a hung lwauthd must not hold up the session for the whole timeout=.
constexpr uint64_t kConfirmTimeoutUsec = 5 * kUsecPerSec;

// The login socket to try: socket=, else LWAUTH_LOGIN_SOCKET (read as sd-bus reads
// DBUS_SYSTEM_BUS_ADDRESS, with secure_getenv(): never from a setuid caller's
// environment), else the default.
std::string login_socket_path(const Options& options) {
    if (!options.socket.empty()) {
        return options.socket;
    }
    const char* env = secure_getenv("LWAUTH_LOGIN_SOCKET");
    if (env != nullptr && socket_path_ok(env)) {
        return env;
    }
    return bus::kLoginSocketPath;
}

// Whether the socket at `path`, whose listener runs as `server_uid`, can only be lwauthd's:
// the socket is the listener's; its directory is root's or the listener's and open to no
// group or other; each directory above is root's and open to no group or other but
// sticky (/tmp) — not even sticky above a directory of the listener's, which anyone could
// have made first in /tmp: no one else could have put a socket there or swapped it. Else
// `why`.
bool socket_path_trusted(const std::string& path, uid_t server_uid, std::string& why) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != server_uid) {
        why = path + ": not a socket of its listener's (uid " + std::to_string(server_uid) + ")";
        return false;
    }
    std::string dir = path;  // absolute (socket_path_ok)
    bool below_not_roots = false;
    for (bool first = true; dir != "/"; first = false) {
        size_t slash = dir.find_last_of('/');
        dir.erase(slash == 0 ? 1 : slash);
        if (::lstat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
            why = dir + ": not a directory";
            return false;
        }
        bool owner_ok = st.st_uid == 0 || (first && st.st_uid == server_uid);
        bool open = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
        bool sticky = (st.st_mode & S_ISVTX) != 0;
        if (!owner_ok || (open && (first || !sticky || below_not_roots))) {
            why = dir + ": owned by uid " + std::to_string(st.st_uid) +
                  " or writable by others, so the socket in it may be anyone's";
            return false;
        }
        below_not_roots = st.st_uid != 0;
    }
    return true;
}

// One place for the daemon's verdicts.
int verdict_to_pam(std::string_view verdict) {
    if (verdict == bus::kVerdictSuccess) {
        return PAM_SUCCESS;
    }
    if (verdict == bus::kVerdictIgnore) {
        return PAM_IGNORE;
    }
    if (verdict == bus::kVerdictDenied) {
        return PAM_AUTH_ERR;
    }
    if (verdict == bus::kVerdictMaxTries) {
        return PAM_MAXTRIES;
    }
    if (verdict == bus::kVerdictUnavailable) {
        return PAM_AUTHINFO_UNAVAIL;
    }
    return PAM_SERVICE_ERR;
}

// The PAM session's locale: LC_ALL, else LC_MESSAGES, else LANG, as a program of the
// session reads them, from the PAM environment (pam_env, the application), else from the
// application's own environment. "" when none is set.
std::string session_locale(pam_handle_t* pamh) {
    constexpr const char* kNames[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (const char* name : kNames) {
        const char* value = pam_getenv(pamh, name);
        if (value != nullptr && *value != '\0') {
            return value;
        }
    }
    for (const char* name : kNames) {
        const char* value = std::getenv(name);
        if (value != nullptr && *value != '\0') {
            return value;
        }
    }
    return "";
}

class Relay {
  public:
    Relay(pam_handle_t* pamh, const Options& options)
        : pamh_(pamh), options_(options), locale_(session_locale(pamh)) {}

    int run();
    // After a verdict that carried a full login's handle: keeps it, with the connection
    // that got it, in the PAM handle for pam_sm_setcred (confirm_full_login).
    int keep_for_confirm(int rc);

  private:
    // A failed bus call: unreachable daemon → failmode; anything else → its PAM code.
    int bus_failure(const BusError& error, int r, const char* what);
    int unavailable(const std::string& why);
    int call(const char* method, BusMessagePtr& request, Step& step, const char* what);
    int send_and_wait(sd_bus_message* request, BusError& error, BusMessagePtr& reply);
    // Waits for bus_ to finish its authentication, until `deadline`: 1 when it did, 0
    // when the peer closed the connection, else a negative errno (-ETIMEDOUT).
    int wait_ready(uint64_t deadline);
    // Connects to lwauthd's login socket: 1 when connected, 0 when the socket is absent
    // or refuses this connection (`why` says how; the bus serves the login then), or
    // -ETIMEDOUT when lwauthd there did not answer by the deadline.
    int connect_private(std::string& why);
    // Where later calls of this login go: the lwauthd that answered Start on the bus, or
    // the peer of the private connection (nullptr).
    [[nodiscard]] const char* destination() const {
        return daemon_.empty() ? nullptr : daemon_.c_str();
    }
    // The login's first step: Start with the session's context.
    int start(const char* user, Step& step);
    // Asks the step's prompt; the answer, or PAM_CONV_ERR when the conversation failed.
    int prompt(const Step& step, SecretString& answer);
    // Sends the answer (wiped once sent); the next step.
    int answer(const std::string& id, SecretString& answer, Step& step);
    const char* item(int type) const;
    int show(const Step& step);
    void cancel(const std::string& id);
    // The module's own line in the session's language (lwauthd says the rest), or
    // English when lwauth has no catalog for it: lwauthd's policy is not known here.
    std::string own_line(const char* msgid) const;

    pam_handle_t* pamh_;
    const Options& options_;
    BusPtr bus_;
    bool private_ = false;     // bus_ is the login socket's connection
    std::string daemon_;       // unique name of the lwauthd that answered Start on the bus
    std::string unconfirmed_;  // the handle of a success or ignore, for Confirm
    std::string user_;         // the user lwauthd gave that verdict for
    std::string locale_;       // the session's, passed in Start's context
};

std::string Relay::own_line(const char* msgid) const {
    auto language = language_of_locale(locale_);
    if (!language || *language == Language::En) {
        return msgid;
    }
    // Read for this line only: the module keeps nothing between calls, and shows its own
    // lines only when a login cannot go on.
    Catalog catalog = Catalog::load(*language);
    const char* found = catalog.find(msgid);
    return found != nullptr ? found : msgid;
}

int Relay::unavailable(const std::string& why) {
    if (options_.failmode_safe) {
        pam_syslog(
            pamh_, LOG_CRIT,
            "lwauthd is not available (%s); failmode=safe lets the login go on WITHOUT lwauth",
            why.c_str());
        return PAM_IGNORE;
    }
    pam_syslog(pamh_, LOG_ERR, "lwauthd is not available (%s); login refused (failmode=secure)",
               why.c_str());
    pam_error(pamh_, "%s",
              own_line(N_("The login verification service is not available. Try again later or "
                          "contact your administrator."))
                  .c_str());
    return PAM_AUTHINFO_UNAVAIL;
}

int Relay::bus_failure(const BusError& error, int r, const char* what) {
    std::string why =
        std::string(what) + ": " + (error.is_set() ? error.message() : errno_string(r));
    // Only an lwauthd that cannot be reached is left to failmode=. An error that lwauthd
    // itself answered (even its own "unavailable", such as a full disk) is a decision of
    // the daemon and fails closed.
    bool from_daemon =
        error.is_set() && std::string_view(error.name()).starts_with("org.lwauth.Auth1.Error.");
    Errc code = error.is_set() ? from_dbus_error(error.name()) : Errc::Unavailable;
    if (!from_daemon && code == Errc::Unavailable) {
        return unavailable(why);
    }
    pam_syslog(pamh_, LOG_ERR, "lwauthd refused the login (%s)", why.c_str());
    if (code == Errc::NoSuchLogin) {
        pam_error(pamh_, "%s",
                  own_line(N_("This login has timed out. Please log in again.")).c_str());
    } else if (code == Errc::Unavailable) {
        pam_error(pamh_, "%s",
                  own_line(N_("The login verification service cannot serve this login right now. "
                              "Try again later."))
                      .c_str());
    }
    return to_pam_code(code);
}

uint64_t monotonic_usec() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * kUsecPerSec +
           static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// Runs `bus` until done() says 1 (or a negative errno), or until `deadline`: 1 when done,
// -ETIMEDOUT at the deadline, else the negative errno of done() or of sd-bus (a
// connection that broke).
template <class Done>
int run_bus_until(sd_bus* bus, uint64_t deadline, Done done) {
    for (;;) {
        int r = done();
        if (r != 0) {
            return r;
        }
        r = sd_bus_process(bus, nullptr);
        if (r < 0) {
            return r;
        }
        if (r > 0) {
            continue;
        }
        uint64_t now = monotonic_usec();
        if (now >= deadline) {
            return -ETIMEDOUT;
        }
        r = sd_bus_wait(bus, deadline - now);
        if (r < 0 && r != -EINTR) {
            return r;
        }
    }
}

// sd_bus_call() sends nothing until the bus has answered Hello. A call sent
// asynchronously follows Hello on the wire instead (the bus handles a connection's
// messages in order): Start then costs no round trip of its own for the connection.
// A connection that closes gets an error reply from sd-bus itself; the timeout is kept
// here.
int Relay::send_and_wait(sd_bus_message* request, BusError& error, BusMessagePtr& reply) {
    struct Wait {
        BusMessagePtr reply;
    } wait;
    sd_bus_slot* raw_slot = nullptr;
    int r = sd_bus_call_async(
        bus_.get(), &raw_slot, request,
        [](sd_bus_message* m, void* userdata, sd_bus_error*) {
            static_cast<Wait*>(userdata)->reply.reset(sd_bus_message_ref(m));
            return 0;
        },
        &wait, options_.timeout_usec);
    if (r < 0) {
        return r;
    }
    BusSlotPtr slot(raw_slot);
    r = run_bus_until(bus_.get(), monotonic_usec() + options_.timeout_usec,
                      [&] { return wait.reply ? 1 : 0; });
    if (r < 0) {
        return r;
    }
    if (const sd_bus_error* e = sd_bus_message_get_error(wait.reply.get())) {
        sd_bus_error_copy(error.get(), e);
        int errno_value = sd_bus_message_get_errno(wait.reply.get());
        return errno_value > 0 ? -errno_value : -EIO;
    }
    reply = std::move(wait.reply);
    return 1;
}

int Relay::call(const char* method, BusMessagePtr& request, Step& step, const char* what) {
    BusError error;
    BusMessagePtr reply;
    int r = send_and_wait(request.get(), error, reply);
    if (r < 0) {
        return bus_failure(error, r, what);
    }
    sd_bus_message* raw = reply.get();
    if (daemon_.empty() && !private_) {
        const char* sender = sd_bus_message_get_sender(raw);
        if (sender == nullptr) {
            return PAM_SERVICE_ERR;
        }
        daemon_ = sender;
    }
    try {
        step = bus::read_step(raw);
    } catch (const Error& e) {
        pam_syslog(pamh_, LOG_ERR, "malformed reply from lwauthd to %s: %s", method, e.what());
        return PAM_SERVICE_ERR;
    }
    return PAM_SUCCESS;
}

int Relay::show(const Step& step) {
    for (const auto& [kind, text] : step.messages) {
        int rc = kind == bus::kMessageError ? pam_error(pamh_, "%s", text.c_str())
                                            : pam_info(pamh_, "%s", text.c_str());
        if (rc != PAM_SUCCESS) {
            return PAM_CONV_ERR;
        }
    }
    return PAM_SUCCESS;
}

void Relay::cancel(const std::string& id) {
    if (id.empty() || (daemon_.empty() && !private_)) {
        return;
    }
    BusError error;
    sd_bus_call_method(bus_.get(), destination(), bus::kObjectPath, bus::kLoginInterface,
                       bus::kLoginCancel, error.get(), nullptr, "s", id.c_str());
}

// Whether this login cannot be shown to sit at this machine, for quick login: only a
// positive proof reads as local. Either the logind session of this process is local and
// has a seat (a graphical session, its screen locker, a console session), or PAM_TTY is a
// virtual console or an X display of this host (login on tty1 and display managers
// authenticate before pam_systemd makes the session). Anything else reads as remote: no
// session (a process under user@.service such as `systemd-run --user --pty su`, a cron
// job), logind unable to say, a session without a seat, a remote one. pam_fprintd reads
// "no session" as local; lwauth does not, since quick login is bound to the machine.
// What PAM_RHOST and PAM_TTY already settle is not asked of logind (reading this
// process's cgroup and the session's files costs a login tens of microseconds): a remote
// host or sshd's "ssh" is remote whatever the session (LoginContext::remote), and a
// console or display of this host is local.
bool session_is_remote(const char* rhost, const char* tty) {
    return remote_by_items(rhost, tty) || (!is_local_console(tty) && !in_local_seat_session(0));
}

const char* Relay::item(int type) const {
    const void* value = nullptr;
    if (pam_get_item(pamh_, type, &value) != PAM_SUCCESS || value == nullptr) {
        return "";
    }
    return static_cast<const char*>(value);
}

int Relay::wait_ready(uint64_t deadline) {
    int r = run_bus_until(bus_.get(), deadline, [this] {
        int ready = sd_bus_is_ready(bus_.get());
        if (ready != 0) {
            return ready;
        }
        return sd_bus_is_open(bus_.get()) > 0 ? 0 : -ECONNRESET;
    });
    if (r > 0) {
        return 1;
    }
    return r == -ETIMEDOUT ? r : 0;
}

int Relay::connect_private(std::string& why) {
    std::string path = login_socket_path(options_);
    // Non-blocking: a backlog that is full (lwauthd hung) refuses at once.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
        why = errno_string(-errno);
        return 0;
    }
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);  // socket_path_ok
    if (::connect(fd.get(), reinterpret_cast<const struct sockaddr*>(&address), sizeof(address)) <
        0) {
        why = path + ": " + errno_string(-errno);
        return 0;
    }
    // Who listens: the kernel's record of the listener, and where its socket lies.
    struct ucred server {};
    socklen_t size = sizeof(server);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &server, &size) < 0) {
        why = path + ": " + errno_string(-errno);
        return 0;
    }
    if (!socket_path_trusted(path, server.uid, why)) {
        pam_syslog(pamh_, LOG_WARNING, "login socket not used: %s", why.c_str());
        return 0;
    }
    sd_bus* bus = nullptr;
    int r = sd_bus_new(&bus);
    bus_.reset(bus);
    if (r >= 0) {
        r = sd_bus_set_fd(bus, fd.get(), fd.get());
    }
    if (r >= 0) {
        (void)fd.release();  // the bus's now
        r = sd_bus_start(bus);
    }
    if (r >= 0) {
        // lwauthd closes a connection it will not serve before it authenticates it.
        r = wait_ready(monotonic_usec() + options_.timeout_usec);
    }
    if (r > 0) {
        private_ = true;
        return 1;
    }
    bus_.reset();
    if (r == -ETIMEDOUT) {
        return r;
    }
    why = path + (r == 0 ? ": lwauthd closed the connection" : ": " + errno_string(r));
    return 0;
}

int Relay::start(const char* user, Step& step) {
    // Root's logins go to lwauthd's login socket, with no bus broker between; it takes
    // root alone, so another caller (a screen locker running as the user) goes to the bus.
    std::string why = "not root";
    int r = ::geteuid() == 0 ? connect_private(why) : 0;
    if (r < 0) {
        return unavailable("no answer on lwauthd's login socket: " + errno_string(r));
    }
    if (r == 0) {
        if (options_.debug) {
            pam_syslog(pamh_, LOG_DEBUG, "login socket not used (%s); using the system bus",
                       why.c_str());
        }
        // sd-bus reads DBUS_SYSTEM_BUS_ADDRESS with secure_getenv(), so a setuid caller
        // (su, sudo) cannot point the module at a bus of the user's choosing.
        sd_bus* bus = nullptr;
        r = sd_bus_open_system(&bus);
        if (r < 0) {
            return unavailable("cannot connect to the system bus: " + errno_string(r));
        }
        bus_.reset(bus);
    }

    sd_bus_message* raw = nullptr;
    if (sd_bus_message_new_method_call(bus_.get(), &raw, private_ ? nullptr : bus::kServiceName,
                                       bus::kObjectPath, bus::kLoginInterface,
                                       bus::kLoginStart) < 0) {
        return PAM_BUF_ERR;
    }
    BusMessagePtr request(raw);
    // The module's own wait goes with it, so that lwauthd answers (as unavailable, which
    // fails closed) before this module would give up and leave the login to failmode=.
    try {
        bus::append_start_context(
            raw,
            {user, item(PAM_SERVICE), item(PAM_RHOST), item(PAM_TTY), options_.mode,
             options_.timeout_usec, session_is_remote(item(PAM_RHOST), item(PAM_TTY)), locale_});
    } catch (const Error&) {
        return PAM_BUF_ERR;
    }
    return call(bus::kLoginStart, request, step, "Start");
}

int Relay::prompt(const Step& step, SecretString& answer) {
    char* response = nullptr;
    int rc = pam_prompt(pamh_, step.echo ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, &response,
                        "%s", step.prompt.c_str());
    if (rc != PAM_SUCCESS || response == nullptr) {
        if (response != nullptr) {
            secure_wipe(response, std::strlen(response));
            std::free(response);
        }
        pam_syslog(pamh_, LOG_NOTICE, "conversation failed; login cancelled");
        return PAM_CONV_ERR;
    }
    answer = SecretString(response);
    secure_wipe(response, std::strlen(response));
    std::free(response);
    return PAM_SUCCESS;
}

int Relay::answer(const std::string& id, SecretString& answer, Step& step) {
    // Later calls go to the unique name that started the login: if that lwauthd has
    // gone, the bus says so at once instead of handing the login to a new instance. On
    // the login socket they go over the connection that started it, which ends with
    // that lwauthd.
    sd_bus_message* raw = nullptr;
    if (sd_bus_message_new_method_call(bus_.get(), &raw, destination(), bus::kObjectPath,
                                       bus::kLoginInterface, bus::kLoginAnswer) < 0) {
        return PAM_BUF_ERR;
    }
    BusMessagePtr request(raw);
    sd_bus_message_sensitive(raw);
    if (sd_bus_message_append(raw, "ss", id.c_str(), answer.c_str()) < 0) {
        return PAM_BUF_ERR;
    }
    answer.clear();
    return call(bus::kLoginAnswer, request, step, "Answer");
}

int Relay::run() {
    const char* user = nullptr;
    int rc = pam_get_user(pamh_, &user, nullptr);
    if (rc != PAM_SUCCESS || user == nullptr || *user == '\0') {
        return rc == PAM_SUCCESS ? PAM_USER_UNKNOWN : rc;
    }
    user_ = user;
    Step step;
    rc = start(user, step);
    if (rc != PAM_SUCCESS) {
        return rc;
    }
    for (;;) {
        if (options_.debug) {
            pam_syslog(pamh_, LOG_DEBUG, "step: %zu message(s), %s, verdict '%s'",
                       step.messages.size(), step.prompt.empty() ? "no prompt" : "prompt",
                       step.verdict.c_str());
        }
        if (show(step) != PAM_SUCCESS) {
            cancel(step.id);
            return PAM_CONV_ERR;
        }
        if (!step.verdict.empty()) {
            unconfirmed_ = step.id;
            return verdict_to_pam(step.verdict);
        }
        SecretString reply;
        if (prompt(step, reply) != PAM_SUCCESS) {
            cancel(step.id);
            return PAM_CONV_ERR;
        }
        Step following;
        rc = answer(step.id, reply, following);
        if (rc != PAM_SUCCESS) {
            return rc;
        }
        step = std::move(following);
    }
}

// A full login that lwauthd records only when pam_sm_setcred confirms it: the verdict
// alone is not the stack's result (pam_deny may follow, or a `required` module may have
// failed already). lwauthd takes Confirm only from the connection that got the handle,
// so that connection is kept until then, or until pam_end.
struct Unconfirmed {
    BusPtr bus;          // the bus, or the login socket's connection
    std::string daemon;  // "" on the login socket
    std::string id;
    std::string user;  // confirmed only while PAM_USER is still this user
};
constexpr const char* kUnconfirmedData = "pam_lwauth_unconfirmed";

void drop_unconfirmed(pam_handle_t*, void* data, int) {
    delete static_cast<Unconfirmed*>(data);
}

int Relay::keep_for_confirm(int rc) {
    if ((rc != PAM_SUCCESS && rc != PAM_IGNORE) || unconfirmed_.empty()) {
        return rc;
    }
    auto* kept = new Unconfirmed{std::move(bus_), daemon_, std::move(unconfirmed_), user_};
    sd_bus_set_method_call_timeout(kept->bus.get(),
                                   std::min(options_.timeout_usec, kConfirmTimeoutUsec));
    if (pam_set_data(pamh_, kUnconfirmedData, kept, drop_unconfirmed) != PAM_SUCCESS) {
        delete kept;  // the full login is then not recorded: quick login is not re-armed
    }
    return rc;
}

// A passwordless login (mode=primary) that succeeded in this pam_authenticate, for the
// user it proved: mode=second_factor after it in the same stack asks nothing more.
// pam-auth-update puts lwauth's Additional line after its Primary block, which a
// primary success jumps to the end of, so both run when both profiles are enabled.
constexpr const char* kPrimaryDoneData = "pam_lwauth_primary_done";

void drop_primary_done(pam_handle_t*, void* data, int) {
    delete static_cast<std::string*>(data);
}

// The user mode=primary proved in this pam_authenticate, taken once; "" if none.
std::string take_primary_done(pam_handle_t* pamh) {
    const void* data = nullptr;
    if (pam_get_data(pamh, kPrimaryDoneData, &data) != PAM_SUCCESS || data == nullptr) {
        return "";
    }
    std::string user = *static_cast<const std::string*>(data);
    pam_set_data(pamh, kPrimaryDoneData, nullptr, nullptr);
    return user;
}

// pam_setcred after the whole stack let the user in: the full login is recorded. Whatever
// lwauthd answers, the credentials are the stack's business: this never fails them.
void confirm_full_login(pam_handle_t* pamh, int flags) {
    constexpr int kEstablishing = PAM_ESTABLISH_CRED | PAM_REINITIALIZE_CRED | PAM_REFRESH_CRED;
    const void* data = nullptr;
    if ((flags & kEstablishing) == 0 ||
        pam_get_data(pamh, kUnconfirmedData, &data) != PAM_SUCCESS || data == nullptr) {
        return;
    }
    const auto* kept = static_cast<const Unconfirmed*>(data);
    const void* user = nullptr;
    if (pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS || user == nullptr ||
        kept->user != static_cast<const char*>(user)) {
        // The credentials are for another user than the one lwauthd verified.
        pam_syslog(pamh, LOG_NOTICE, "the full login was not recorded: the user changed");
    } else if (sd_bus_is_open(kept->bus.get()) > 0) {
        // Another connection could not confirm it: lwauthd holds the handle for this one.
        BusError error;
        int r = sd_bus_call_method(kept->bus.get(),
                                   kept->daemon.empty() ? nullptr : kept->daemon.c_str(),
                                   bus::kObjectPath, bus::kLoginInterface, bus::kLoginConfirm,
                                   error.get(), nullptr, "s", kept->id.c_str());
        if (r < 0) {
            pam_syslog(pamh, LOG_NOTICE, "the full login was not recorded (%s)",
                       error.is_set() ? error.message() : errno_string(r).c_str());
        }
    }
    pam_set_data(pamh, kUnconfirmedData, nullptr, nullptr);  // once; the connection closes
}

int setcred(pam_handle_t* pamh, int flags) noexcept {
    // A passwordless login left by a pam_authenticate that no mode=second_factor line
    // followed (`success=done`) is over: a later pam_authenticate of this handle (a screen
    // locker's next unlock) must not count it.
    pam_set_data(pamh, kPrimaryDoneData, nullptr, nullptr);
    try {
        confirm_full_login(pamh, flags);
    } catch (...) {
        // Only the record is lost: quick login is not re-armed.
    }
    return PAM_SUCCESS;
}

int authenticate(pam_handle_t* pamh, int argc, const char** argv) noexcept {
    try {
        Options options;
        int rc = parse_options(pamh, argc, argv, options);
        if (rc != PAM_SUCCESS) {
            return rc;
        }
        // A handle left from an earlier pam_authenticate of this handle is not this one's.
        pam_set_data(pamh, kUnconfirmedData, nullptr, nullptr);
        const bool primary = std::string_view(options.mode) == bus::kModePrimary;
        // Taken by the first mode=second_factor after it, and forgotten by every
        // mode=primary that starts and by pam_setcred. PAM tells a module nothing when a
        // pam_authenticate ends: one that failed after the success (a later module refused)
        // leaves it to the next pam_authenticate of the handle, for the same user, when
        // that reaches a mode=second_factor line before any mode=primary line.
        std::string proved = take_primary_done(pamh);
        if (!primary) {
            const char* user = nullptr;
            if (!proved.empty() &&
                pam_get_item(pamh, PAM_USER, reinterpret_cast<const void**>(&user)) ==
                    PAM_SUCCESS &&
                user != nullptr && proved == user) {
                if (options.debug) {
                    pam_syslog(pamh, LOG_DEBUG, "verified by a passwordless login already");
                }
                return PAM_SUCCESS;
            }
        }
        Relay relay(pamh, options);
        rc = relay.keep_for_confirm(relay.run());
        if (primary && rc == PAM_SUCCESS) {
            const char* user = nullptr;
            if (pam_get_item(pamh, PAM_USER, reinterpret_cast<const void**>(&user)) ==
                    PAM_SUCCESS &&
                user != nullptr) {
                auto* kept = new std::string(user);
                if (pam_set_data(pamh, kPrimaryDoneData, kept, drop_primary_done) != PAM_SUCCESS) {
                    delete kept;  // a second_factor line after it then asks for a code
                }
            }
        }
        return rc;
    } catch (const std::bad_alloc&) {
        return PAM_BUF_ERR;
    } catch (...) {
        return PAM_SERVICE_ERR;
    }
}

}  // namespace
}  // namespace lwauth

extern "C" {

PAM_EXTERN int pam_sm_authenticate(pam_handle_t* pamh, int, int argc, const char** argv) {
    return lwauth::authenticate(pamh, argc, argv);
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t* pamh, int flags, int, const char**) {
    return lwauth::setcred(pamh, flags);
}

}  // extern "C"
