#include "bus_service.hpp"

#include <systemd/sd-event.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "barrier.hpp"
#include "log.hpp"
#include "lwauth/bus_codec.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/bus_texts.hpp"
#include "lwauth/console.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

// What the caller is told of an internal error (a bug, an unexpected system error): its
// detail, which can name files, keys or the database, goes to the log alone, and only root
// (the PAM module, root's lwauthctl) is told it as well.
constexpr const char* kInternalErrorText = "internal error; see lwauthd's log";

std::string method_of(sd_bus_message* m) {
    const char* member = sd_bus_message_get_member(m);
    return member != nullptr ? member : "";
}

// The text of an error reply; an internal error is logged here.
std::string reply_text(sd_bus_message* m, const Error& e, bool root) {
    if (e.code() != Errc::Internal) {
        return e.what();
    }
    log_event(LogLevel::Error, "internal-error", e.what(), {{"METHOD", method_of(m)}});
    return root ? e.what() : kInternalErrorText;
}

// Every handler runs through here: an lwauth::Error becomes its D-Bus error, anything
// else an Internal error; nothing escapes into sd-bus. root: whether the caller is root.
template <typename Fn, typename Root>
int guarded(sd_bus_message* m, sd_bus_error* ret_error, Fn&& fn, Root&& root) {
    try {
        return fn();
    } catch (const Error& e) {
        return sd_bus_error_set(ret_error, to_dbus_error(e.code()),
                                reply_text(m, e, e.code() == Errc::Internal && root()).c_str());
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (const std::exception& e) {
        log_event(LogLevel::Error, "internal-error", e.what(), {{"METHOD", method_of(m)}});
        return sd_bus_error_set(ret_error, bus::kErrorInternal, kInternalErrorText);
    } catch (...) {
        log_callback_error(method_of(m).c_str(), "an exception that is not a std::exception");
        return sd_bus_error_set(ret_error, bus::kErrorInternal, kInternalErrorText);
    }
}

void check(int r, const char* what) {
    if (r < 0) {
        throw Error(r == -ENOMEM ? Errc::Internal : Errc::InvalidArgument,
                    std::string("bad message: ") + what + ": " + errno_string(r));
    }
}

int send_step(sd_bus_message* m, const Step& step) {
    sd_bus_message* raw = nullptr;
    check(sd_bus_message_new_method_return(m, &raw), "reply");
    BusMessagePtr reply(raw);
    bus::append_step(raw, step);
    return sd_bus_send(nullptr, raw, nullptr);
}

// The caller's unique bus name: what a login or a reauthentication belongs to.
std::string sender_of(sd_bus_message* m) {
    const char* sender = sd_bus_message_get_sender(m);
    return sender != nullptr ? sender : "";
}

// A method call kept for a reply that comes later (after a gateway answers).
using CallRef = std::shared_ptr<sd_bus_message>;

CallRef keep_call(sd_bus_message* m) {
    return CallRef(sd_bus_message_ref(m), sd_bus_message_unref);
}

// root: whether the caller is root (an internal error's detail is for root alone).
void reply_error(sd_bus_message* m, const Error& e, bool root) {
    sd_bus_reply_method_errorf(m, to_dbus_error(e.code()), "%s", reply_text(m, e, root).c_str());
}

// The reply to a method, when its result comes (at once, or later from the loop): the
// error, or what `send` replies with the value (nothing but success for Result<void>).
// Nothing escapes: an error while replying becomes the reply.
template <class T, class Send>
Done<T> later_reply(sd_bus_message* m, bool root, Send send) {
    return [call = keep_call(m), root, send = std::move(send)](Result<T> result) {
        try {
            if (!result.ok()) {
                reply_error(call.get(), result.error(), root);
            } else if constexpr (std::is_void_v<T>) {
                sd_bus_reply_method_return(call.get(), nullptr);
            } else {
                send(call.get(), result.value());
            }
        } catch (const Error& e) {
            reply_error(call.get(), e, root);
        } catch (...) {
            log_callback_error(method_of(call.get()).c_str(), "an exception while replying");
            sd_bus_reply_method_errorf(call.get(), bus::kErrorInternal, "%s", kInternalErrorText);
        }
    };
}

Done<void> later_reply(sd_bus_message* m, bool root) {
    return later_reply<void>(m, root, [](sd_bus_message*) {});
}

// Replies to a login call with its step or error. Runs from the event loop, so nothing
// may escape; a client that has gone simply gets no reply.
void reply_step(sd_bus_message* m, const Result<Step>& result) noexcept {
    try {
        if (!result.ok()) {
            reply_error(m, result.error(), true);  // only root may call the Login interface
        } else {
            send_step(m, *result);
        }
    } catch (...) {
        sd_bus_reply_method_errorf(m, bus::kErrorInternal, "%s", kInternalErrorText);
    }
}

// How long before the client gives up lwauthd answers for itself: a quarter of the
// client's wait, at most one second, so that the answer is on the wire in time.
uint64_t answer_by_usec(uint64_t reply_timeout_usec) {
    return reply_timeout_usec - reply_margin_usec(reply_timeout_usec);
}

}  // namespace

// One login call (Start or Answer) that must be answered before its client gives up
// waiting: by the engine's step, or, when a gateway holds the step past the client's
// deadline, by lwauthd itself with the verdict `unavailable`. Without it the client's
// own timeout would leave the decision to its failmode, and failmode=safe would let a
// slow gateway open the login.
class BusService::DeadlineReply : public std::enable_shared_from_this<DeadlineReply> {
  public:
    DeadlineReply(BusService& service, sd_bus_message* call, std::string owner, std::string id,
                  Language language)
        : service_(service),
          call_(keep_call(call)),
          owner_(std::move(owner)),
          id_(std::move(id)),
          language_(language) {}

    /// The engine's answer. When lwauthd has already answered, a login that goes on is
    /// dropped: its client has been told it is over.
    void done(const Result<Step>& result) {
        disarm();
        if (!replied_) {
            replied_ = true;
            reply_step(call_.get(), result);
        } else if (result.ok() && !result->id.empty()) {
            service_.engine_.cancel(result->id, owner_);
        }
    }

    /// Arms the deadline, unless the engine has answered already.
    void arm(uint64_t reply_timeout_usec) {
        if (replied_ || reply_timeout_usec == 0) {
            return;
        }
        sd_event* event = service_.event_of(call_.get());
        sd_event_source* source = nullptr;
        if (event == nullptr || sd_event_add_time_relative(event, &source, CLOCK_MONOTONIC,
                                                           answer_by_usec(reply_timeout_usec),
                                                           10 * 1000, on_time, this) < 0) {
            return;  // no timer: the client's own timeout stays the only one
        }
        timer_.reset(source);
        // Alive while the timer is armed, even if the engine drops its callback; the
        // service lets go of it when it dies, so that none outlives the loop.
        service_.deadlines_[this] = shared_from_this();
    }

  private:
    static int on_time(sd_event_source*, uint64_t, void* userdata) {
        auto keep = static_cast<DeadlineReply*>(userdata)->shared_from_this();
        return c_barrier("deadline-timer", 0, [&keep] { return keep->answer_unavailable(); });
    }

    void disarm() {
        timer_.reset();
        service_.deadlines_.erase(this);  // the caller holds a reference still
    }

    // The client's deadline is near and the engine has not answered: lwauthd does.
    int answer_unavailable() {
        disarm();
        if (replied_) {
            return 0;
        }
        replied_ = true;
        log_event(LogLevel::Error, "reply-deadline",
                  "the login's step did not finish before the client's timeout (a delivery "
                  "channel, the database or another service lwauthd waits on is slow); the "
                  "login ends as unavailable");
        if (!id_.empty()) {
            service_.engine_.cancel(id_, owner_);
        }
        Step step;
        step.messages.emplace_back(
            bus::kMessageError,
            tr(language_, "The login could not be verified in time. Try again later."));
        step.verdict = bus::kVerdictUnavailable;
        reply_step(call_.get(), Result<Step>(step));
        return 0;
    }

    BusService& service_;
    CallRef call_;
    std::string owner_;
    std::string id_;  // the login's, for Answer; "" for Start
    Language language_;  // the login's, for the line of a missed deadline
    bool replied_ = false;
    EventSourcePtr timer_;
};

namespace {

#define LWAUTH_HANDLER(method)                                              \
    [](sd_bus_message* m, void* userdata, sd_bus_error* ret_error) -> int { \
        auto* self = static_cast<BusService*>(userdata);                    \
        return guarded(                                                     \
            m, ret_error, [&] { return self->method(m); },                  \
            [&] { return self->caller_is_root(m); });                       \
    }

const sd_bus_vtable kLoginVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS(
        "Start", SD_BUS_ARGS("a{sv}", context),
        SD_BUS_RESULT("s", id, "a(ss)", messages, "s", prompt, "b", echo, "s", verdict),
        LWAUTH_HANDLER(login_start), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS(
        "Answer", SD_BUS_ARGS("s", id, "s", answer),
        SD_BUS_RESULT("s", id, "a(ss)", messages, "s", prompt, "b", echo, "s", verdict),
        LWAUTH_HANDLER(login_answer), SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(login_cancel), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Confirm", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(login_confirm), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

const sd_bus_vtable kAccountVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Status", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", status),
                            LWAUTH_HANDLER(account_status), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("AddContact", SD_BUS_ARGS("s", kind, "s", value), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(account_add_contact), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("UseProfileContact", SD_BUS_ARGS("s", kind), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(account_use_profile_contact),
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ConfirmContact", SD_BUS_ARGS("s", kind, "s", code),
                            SD_BUS_RESULT("b", two_step_enabled),
                            LWAUTH_HANDLER(account_confirm_contact),
                            SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_ARGS("RemoveContact", SD_BUS_ARGS("s", kind), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(account_remove_contact), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetTwoStep", SD_BUS_ARGS("b", enabled), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(account_set_two_step), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("StartReauth", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("s", shown, "as", accepts),
                            LWAUTH_HANDLER(account_start_reauth), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Reauth", SD_BUS_ARGS("s", code), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(account_reauth),
                            SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_ARGS("Forget", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", forgotten),
                            LWAUTH_HANDLER(account_forget), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("LinkLine", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("s", url, "u", number, "t", expires_at),
                            LWAUTH_HANDLER(account_link_line), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("LineLinkStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", state, "s", why),
                            LWAUTH_HANDLER(account_line_link_status), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("UnlinkLine", SD_BUS_NO_ARGS, SD_BUS_RESULT("b", was_linked),
                            LWAUTH_HANDLER(account_unlink_line), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetPin", SD_BUS_ARGS("s", pin), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(account_set_pin),
                            SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_ARGS("RemovePin", SD_BUS_NO_ARGS, SD_BUS_RESULT("b", removed),
                            LWAUTH_HANDLER(account_remove_pin), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("AddTotp", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", uri, "t", expires_at),
                            LWAUTH_HANDLER(account_add_totp), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ConfirmTotp", SD_BUS_ARGS("s", code), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(account_confirm_totp),
                            SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
    SD_BUS_METHOD_WITH_ARGS("RemoveTotp", SD_BUS_NO_ARGS, SD_BUS_RESULT("b", removed),
                            LWAUTH_HANDLER(account_remove_totp), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GenerateRecoveryCodes", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", codes),
                            LWAUTH_HANDLER(account_generate_recovery), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

const sd_bus_vtable kAdminVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("ListUsers", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", users),
                            LWAUTH_HANDLER(admin_list_users), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ShowUser", SD_BUS_ARGS("s", user), SD_BUS_RESULT("a{sv}", status),
                            LWAUTH_HANDLER(admin_show_user), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ShowPolicy", SD_BUS_ARGS("s", user), SD_BUS_RESULT("s", text),
                            LWAUTH_HANDLER(admin_show_policy), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetContact", SD_BUS_ARGS("s", user, "s", kind, "s", value),
                            SD_BUS_NO_RESULT, LWAUTH_HANDLER(admin_set_contact),
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("RemoveContact", SD_BUS_ARGS("s", user, "s", kind), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(admin_remove_contact), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Unlock", SD_BUS_ARGS("s", user), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(admin_unlock), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Reset", SD_BUS_ARGS("s", user, "s", what), SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(admin_reset), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ReloadPolicy", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            LWAUTH_HANDLER(admin_reload_policy), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("TestSend", SD_BUS_ARGS("s", user),
                            SD_BUS_RESULT("s", channel, "s", masked_destination),
                            LWAUTH_HANDLER(admin_test_send), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("RecoveryCodes", SD_BUS_ARGS("s", user), SD_BUS_RESULT("as", codes),
                            LWAUTH_HANDLER(admin_recovery_codes), SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

// A reply that carries secrets (an authenticator app's secret, recovery codes): marked
// sensitive, so that a monitor of the bus is not shown them.
void reply_sensitive(sd_bus_message* call, const std::function<void(sd_bus_message*)>& append) {
    sd_bus_message* raw = nullptr;
    if (sd_bus_message_new_method_return(call, &raw) < 0) {
        return;
    }
    BusMessagePtr reply(raw);
    sd_bus_message_sensitive(reply.get());
    append(reply.get());
    sd_bus_send(nullptr, reply.get(), nullptr);
}

void reply_codes(sd_bus_message* call, const std::vector<SecretString>& codes) {
    reply_sensitive(call, [&](sd_bus_message* reply) {
        sd_bus_message_open_container(reply, 'a', "s");
        for (const auto& code : codes) {
            sd_bus_message_append(reply, "s", code.c_str());
        }
        sd_bus_message_close_container(reply);
    });
}

// StartReauth's reply: where the code went, and what Reauth accepts.
void reply_reauth_offer(sd_bus_message* call, const ReauthOffer& offer) {
    sd_bus_message* raw = nullptr;
    if (sd_bus_message_new_method_return(call, &raw) < 0) {
        return;
    }
    BusMessagePtr reply(raw);
    sd_bus_message_append(reply.get(), "s", offer.shown.c_str());
    sd_bus_message_open_container(reply.get(), 'a', "s");
    for (const auto& accepted : offer.accepted) {
        sd_bus_message_append(reply.get(), "s", accepted.c_str());
    }
    sd_bus_message_close_container(reply.get());
    sd_bus_send(nullptr, reply.get(), nullptr);
}

// One user's settings as the bus carries them (bus_names.hpp).
bus::Status to_bus_status(const AccountStatus& s) {
    bus::Status out;
    out.user = s.user;
    out.two_step = s.two_step_enabled;
    out.two_step_policy = policy::to_string(s.two_step_policy);
    out.contacts_policy = policy::to_string(s.contacts_policy);
    out.admin_contact = s.admin_contact;
    out.methods = s.methods;
    for (const auto& [kind, masked] : s.contacts) {
        out.contacts[kind].login = masked;
    }
    for (const auto& [kind, source] : s.contact_sources) {
        out.contacts[kind].source = source;
    }
    for (const auto& [kind, masked] : s.pending_contacts) {
        out.contacts[kind].pending = masked;
    }
    for (const auto& [kind, masked] : s.profile) {
        out.contacts[kind].profile = masked;
    }
    out.line_linked = s.line_linked;
    out.pin_set = s.pin_set;
    out.pin_until = static_cast<uint64_t>(s.pin_until);
    out.pin_disabled = s.pin_disabled;
    out.locked_until = static_cast<uint64_t>(s.locked_until);
    for (const auto& place : s.remembered_hosts) {
        out.remembered_hosts.push_back(
            {place.service, place.origin, static_cast<uint64_t>(place.until)});
    }
    out.enroll_grace_until = static_cast<uint64_t>(s.enroll_grace_until);
    out.totp_set = s.totp_set;
    out.recovery_codes = static_cast<uint64_t>(s.recovery_codes);
    return out;
}

// Replies to `call` with one user's status, or with a list of them.
void send_status(sd_bus_message* call, const AccountStatus& status) {
    sd_bus_message* raw = nullptr;
    check(sd_bus_message_new_method_return(call, &raw), "reply");
    BusMessagePtr reply(raw);
    bus::append_status(raw, to_bus_status(status));
    sd_bus_send(nullptr, raw, nullptr);
}

void send_status_list(sd_bus_message* call, const std::vector<AccountStatus>& users) {
    sd_bus_message* raw = nullptr;
    check(sd_bus_message_new_method_return(call, &raw), "reply");
    BusMessagePtr reply(raw);
    std::vector<bus::Status> statuses;
    statuses.reserve(users.size());
    for (const auto& s : users) {
        statuses.push_back(to_bus_status(s));
    }
    bus::append_status_list(raw, statuses);
    sd_bus_send(nullptr, raw, nullptr);
}

const char* to_bus_state(LineLinkState state) {
    switch (state) {
        case LineLinkState::None:
            return bus::kLineLinkNone;
        case LineLinkState::Waiting:
            return bus::kLineLinkWaiting;
        case LineLinkState::Linked:
            return bus::kLineLinkLinked;
        case LineLinkState::Refused:
            return bus::kLineLinkRefused;
        case LineLinkState::Expired:
            return bus::kLineLinkExpired;
        case LineLinkState::Failed:
            break;
    }
    return bus::kLineLinkFailed;
}

int on_name_owner_changed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    return c_barrier("NameOwnerChanged", 0,
                     [&] { return static_cast<BusService*>(userdata)->name_owner_changed(m); });
}

}  // namespace

void BusService::attach(sd_bus* bus) {
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_add_object_vtable(bus, &slot, bus::kObjectPath, bus::kLoginInterface,
                                     kLoginVtable, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot register the Login interface: " + errno_string(r));
    }
    object_slot_.reset(slot);
    // The slots of the other interfaces live as long as the bus (floating).
    r = sd_bus_add_object_vtable(bus, nullptr, bus::kObjectPath, bus::kAccountInterface,
                                 kAccountVtable, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot register the Account interface: " + errno_string(r));
    }
    r = sd_bus_add_object_vtable(bus, nullptr, bus::kObjectPath, bus::kAdminInterface, kAdminVtable,
                                 this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot register the Admin interface: " + errno_string(r));
    }
    // A PAM client that vanishes (sshd child killed, user hung up) must not leave its login
    // pending: watch for unique names leaving the bus. (Narrowing the match to departures
    // with arg2='' was tried: channel_isolation then showed one Status call held up for
    // ~0.45 s while 200 logins waited on the gateway, for no measurable gain per login.)
    slot = nullptr;
    r = sd_bus_match_signal(bus, &slot, kBusDriver, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                            "NameOwnerChanged", on_name_owner_changed, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot watch for clients leaving the bus: " + errno_string(r));
    }
    match_slot_.reset(slot);
}

void BusService::attach_private(sd_bus* bus, const std::string& owner, uid_t euid,
                                sd_event* event) {
    // Floating: the vtable lives as long as the connection.
    int r = sd_bus_add_object_vtable(bus, nullptr, bus::kObjectPath, bus::kLoginInterface,
                                     kLoginVtable, this);
    if (r < 0) {
        throw Error(Errc::Internal, "cannot register the Login interface: " + errno_string(r));
    }
    private_callers_[bus] = PrivateCaller{owner, euid, event};
}

void BusService::detach_private(sd_bus* bus) {
    auto it = private_callers_.find(bus);
    if (it == private_callers_.end()) {
        return;
    }
    std::string owner = std::move(it->second.owner);
    private_callers_.erase(it);
    engine_.cancel_owner(owner);
}

sd_event* BusService::event_of(sd_bus_message* m) const {
    sd_bus* bus = sd_bus_message_get_bus(m);
    if (auto it = private_callers_.find(bus); it != private_callers_.end()) {
        return it->second.event;
    }
    return sd_bus_get_event(bus);
}

std::string BusService::owner_of(sd_bus_message* m) const {
    if (auto it = private_callers_.find(sd_bus_message_get_bus(m)); it != private_callers_.end()) {
        return it->second.owner;
    }
    return sender_of(m);
}

uid_t BusService::caller_euid(sd_bus_message* m) const {
    // A private connection's peer is known from the connection itself (SO_PEERCRED).
    if (auto it = private_callers_.find(sd_bus_message_get_bus(m)); it != private_callers_.end()) {
        return it->second.euid;
    }
    // The EUID the bus daemon recorded when the connection was made (SO_PEERCRED), never a
    // /proc lookup by PID, which races (CVE-2021-3560). Asking the bus is a round trip
    // that holds up the loop, so the answer is kept per unique name: a connection's
    // credentials never change, a unique name is never given to another connection, and
    // the entry goes when the name leaves the bus.
    const char* sender = sd_bus_message_get_sender(m);
    if (sender == nullptr) {
        throw Error(Errc::AccessDenied, N_("cannot tell who is calling"));
    }
    if (auto it = euid_of_sender_.find(sender); it != euid_of_sender_.end()) {
        return it->second;
    }
    // GetConnectionUnixUser is the UID the bus took from SO_PEERCRED when the connection
    // was made (the effective UID), the one fact needed here; the bus builds and lwauthd
    // parses less than for GetConnectionCredentials.
    sd_bus_message* raw = nullptr;
    int r = sd_bus_call_method(sd_bus_message_get_bus(m), kBusDriver, "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetConnectionUnixUser", nullptr, &raw, "s",
                               sender);
    BusMessagePtr reply(raw);
    uint32_t bus_uid = 0;
    if (r < 0 || sd_bus_message_read(raw, "u", &bus_uid) < 0) {
        throw Error(Errc::AccessDenied, N_("cannot tell who is calling"));
    }
    auto uid = static_cast<uid_t>(bus_uid);
    if (sender[0] == ':') {
        if (euid_of_sender_.size() >= kMaxKnownSenders) {
            euid_of_sender_.clear();  // only if departures went unseen: start afresh
        }
        euid_of_sender_.emplace(sender, uid);
    }
    return uid;
}

bool BusService::caller_sits_here(sd_bus_message* m) const noexcept {
    // The PID the bus daemon took from SO_PEERCRED when the connection was made, asked
    // while the caller's call is pending. Unlike the EUID it names a process, not the
    // connection: a caller that handed its connection on and whose PID went to a process
    // of a local seat session would pass as local. Debian 12's dbus-daemon gives no pidfd.
    const char* sender = sd_bus_message_get_sender(m);
    if (sender == nullptr) {
        return false;
    }
    sd_bus_message* raw = nullptr;
    int r = sd_bus_call_method(sd_bus_message_get_bus(m), kBusDriver, "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetConnectionUnixProcessID", nullptr,
                               &raw, "s", sender);
    BusMessagePtr reply(raw);
    uint32_t pid = 0;
    if (r < 0 || sd_bus_message_read(raw, "u", &pid) < 0 || pid == 0) {
        return false;
    }
    return in_local_seat_session(static_cast<pid_t>(pid));
}

bool BusService::caller_is_root(sd_bus_message* m) const noexcept {
    try {
        return caller_euid(m) == 0;
    } catch (...) {
        return false;
    }
}

void BusService::require_own_login(sd_bus_message* m, uid_t uid, const std::string& user) const {
    if (auto name = users_.name_of(uid); name && *name == user) {
        return;
    }
    log_event(LogLevel::Warning, "access-denied",
              "non-root caller refused a login for another user",
              {{"CALLER_UID", std::to_string(uid)},
               {"USER", user.substr(0, 256)},
               {"SENDER", sender_of(m)},
               {"METHOD", method_of(m)}});
    throw Error(Errc::AccessDenied,
                N_("a caller other than root may run logins of its own user only"));
}

std::string BusService::caller_user(sd_bus_message* m) const {
    uid_t uid = caller_euid(m);
    auto name = users_.name_of(uid);
    if (!name) {
        throw Error(Errc::NotFound, bus_text(bus_texts::kNoUserName, {std::to_string(uid)}));
    }
    return *name;
}

uid_t BusService::require_admin(sd_bus_message* m) const {
    uid_t uid = caller_euid(m);
    if (uid == 0) {
        return uid;
    }
    const std::string& group = engine_.policy()->admin_group;
    if (!group.empty()) {
        if (auto name = users_.name_of(uid)) {
            for (const auto& g : users_.groups_of(*name)) {
                if (g == group) {
                    return uid;
                }
            }
        }
    }
    log_event(LogLevel::Warning, "access-denied", "caller refused on the Admin interface",
              {{"CALLER_UID", std::to_string(uid)},
               {"METHOD", sd_bus_message_get_member(m) ? sd_bus_message_get_member(m) : ""}});
    throw Error(Errc::AccessDenied,
                N_("only root or members of the policy's admin group may do this"));
}

int BusService::login_start(sd_bus_message* m) {
    uid_t uid = caller_euid(m);
    StartContext wire = bus::read_start_context(m);
    LoginContext context{std::move(wire.user),    std::move(wire.service), std::move(wire.rhost),
                         std::move(wire.tty),     std::move(wire.mode),    owner_of(m),
                         wire.reply_timeout_usec, wire.session_remote,     uid != 0,
                         std::move(wire.locale)};
    if (context.unprivileged) {
        require_own_login(m, uid, context.user);
        // Whether the login sits at this machine is the caller's word only when it says
        // remote: local takes a local logind session with a seat of its own process.
        context.session_remote = context.session_remote || !caller_sits_here(m);
    }
    // The login's language, as far as it is known before the user's policy is read.
    Language language =
        language_of_locale(context.locale).value_or(engine_.policy()->base.language);
    auto reply = std::make_shared<DeadlineReply>(*this, m, context.owner, "", language);
    engine_.start(context, [reply](Result<Step> result) { reply->done(result); });
    reply->arm(context.reply_timeout_usec);
    return 1;
}

// Answer and Cancel are open to any caller: the engine acts only for the connection that
// started the login (its unique name, or its private connection's owner), which Start has
// checked.
int BusService::login_answer(sd_bus_message* m) {
    const char* id = nullptr;
    const char* answer = nullptr;
    check(sd_bus_message_read(m, "ss", &id, &answer), "arguments");
    SecretString secret(answer);
    std::string owner = owner_of(m);
    uint64_t reply_timeout = engine_.reply_timeout_usec(id);
    auto reply = std::make_shared<DeadlineReply>(*this, m, owner, id, engine_.language(id));
    engine_.answer(id, owner, secret, [reply](Result<Step> result) { reply->done(result); });
    reply->arm(reply_timeout);
    return 1;
}

int BusService::login_cancel(sd_bus_message* m) {
    const char* id = nullptr;
    check(sd_bus_message_read(m, "s", &id), "arguments");
    engine_.cancel(id, owner_of(m));
    return sd_bus_reply_method_return(m, nullptr);
}

// Like Answer and Cancel: only the connection that got the handle confirms it.
int BusService::login_confirm(sd_bus_message* m) {
    const char* id = nullptr;
    check(sd_bus_message_read(m, "s", &id), "arguments");
    engine_.confirm(id, owner_of(m), later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_status(sd_bus_message* m) {
    account_.status(caller_user(m), later_reply<AccountStatus>(m, caller_is_root(m), send_status));
    return 1;
}

int BusService::account_add_contact(sd_bus_message* m) {
    std::string user = caller_user(m);
    const char* kind = nullptr;
    const char* value = nullptr;
    check(sd_bus_message_read(m, "ss", &kind, &value), "arguments");
    account_.add_contact(user, sender_of(m), kind, value, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_use_profile_contact(sd_bus_message* m) {
    std::string user = caller_user(m);
    const char* kind = nullptr;
    check(sd_bus_message_read(m, "s", &kind), "arguments");
    account_.use_profile_contact(user, sender_of(m), kind, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_confirm_contact(sd_bus_message* m) {
    std::string user = caller_user(m);
    const char* kind = nullptr;
    const char* code = nullptr;
    check(sd_bus_message_read(m, "ss", &kind, &code), "arguments");
    SecretString secret(code);
    account_.confirm_contact(
        user, sender_of(m), kind, secret,
        later_reply<bool>(m, caller_is_root(m), [](sd_bus_message* call, bool on) {
            sd_bus_reply_method_return(call, "b", static_cast<int>(on));
        }));
    return 1;
}

int BusService::account_remove_contact(sd_bus_message* m) {
    std::string user = caller_user(m);
    const char* kind = nullptr;
    check(sd_bus_message_read(m, "s", &kind), "arguments");
    account_.remove_contact(user, sender_of(m), kind, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_set_two_step(sd_bus_message* m) {
    std::string user = caller_user(m);
    int enabled = 0;
    check(sd_bus_message_read(m, "b", &enabled), "arguments");
    account_.set_two_step(user, sender_of(m), enabled != 0, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_start_reauth(sd_bus_message* m) {
    std::string user = caller_user(m);
    account_.start_reauth(user, sender_of(m),
                          later_reply<ReauthOffer>(m, caller_is_root(m), reply_reauth_offer));
    return 1;
}

int BusService::account_reauth(sd_bus_message* m) {
    std::string user = caller_user(m);
    const char* code = nullptr;
    check(sd_bus_message_read(m, "s", &code), "arguments");
    SecretString secret(code);
    account_.reauth(user, sender_of(m), secret, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_forget(sd_bus_message* m) {
    account_.forget_hosts(caller_user(m),
                          later_reply<int>(m, caller_is_root(m), [](sd_bus_message* call, int n) {
                              sd_bus_reply_method_return(call, "u", static_cast<uint32_t>(n));
                          }));
    return 1;
}

int BusService::account_link_line(sd_bus_message* m) {
    std::string user = caller_user(m);
    account_.link_line(user, sender_of(m),
                       later_reply<line::ApprovalOffer>(
                           m, caller_is_root(m),
                           [](sd_bus_message* call, const line::ApprovalOffer& offer) {
                               sd_bus_reply_method_return(
                                   call, "sut", offer.url.c_str(),
                                   static_cast<uint32_t>(offer.number),
                                   static_cast<uint64_t>(offer.expires_at));
                           }));
    return 1;
}

int BusService::account_line_link_status(sd_bus_message* m) {
    LineLinkStatus status = account_.line_link_status(caller_user(m), sender_of(m));
    return sd_bus_reply_method_return(m, "ss", to_bus_state(status.state), status.why.c_str());
}

int BusService::account_unlink_line(sd_bus_message* m) {
    account_.unlink_line(caller_user(m), sender_of(m),
                         later_reply<bool>(m, caller_is_root(m), [](sd_bus_message* call, bool was) {
                             sd_bus_reply_method_return(call, "b", static_cast<int>(was));
                         }));
    return 1;
}

int BusService::account_set_pin(sd_bus_message* m) {
    std::string user = caller_user(m);
    const char* pin = nullptr;
    check(sd_bus_message_read(m, "s", &pin), "arguments");
    account_.set_pin(user, sender_of(m), SecretString(pin), later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_remove_pin(sd_bus_message* m) {
    account_.remove_pin(caller_user(m),
                        later_reply<bool>(m, caller_is_root(m), [](sd_bus_message* call, bool was) {
                            sd_bus_reply_method_return(call, "b", static_cast<int>(was));
                        }));
    return 1;
}

int BusService::account_add_totp(sd_bus_message* m) {
    account_.totp_add(
        caller_user(m), sender_of(m),
        later_reply<TotpEnrolment>(
            m, caller_is_root(m), [](sd_bus_message* call, const TotpEnrolment& enrolment) {
                reply_sensitive(call, [&](sd_bus_message* reply) {
                    sd_bus_message_append(reply, "st", enrolment.uri.c_str(),
                                          static_cast<uint64_t>(enrolment.expires_at));
                });
            }));
    return 1;
}

int BusService::account_confirm_totp(sd_bus_message* m) {
    std::string user = caller_user(m);
    const char* code = nullptr;
    check(sd_bus_message_read(m, "s", &code), "arguments");
    account_.totp_confirm(user, sender_of(m), SecretString(code),
                          later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::account_remove_totp(sd_bus_message* m) {
    account_.totp_remove(
        caller_user(m), sender_of(m),
        later_reply<bool>(m, caller_is_root(m), [](sd_bus_message* call, bool was) {
            sd_bus_reply_method_return(call, "b", static_cast<int>(was));
        }));
    return 1;
}

int BusService::account_generate_recovery(sd_bus_message* m) {
    account_.generate_recovery(
        caller_user(m), sender_of(m),
        later_reply<std::vector<SecretString>>(m, caller_is_root(m), reply_codes));
    return 1;
}

int BusService::admin_recovery_codes(sd_bus_message* m) {
    uid_t admin = require_admin(m);
    const char* user = nullptr;
    check(sd_bus_message_read(m, "s", &user), "arguments");
    admin_.recovery_codes(
        admin, user, later_reply<std::vector<SecretString>>(m, caller_is_root(m), reply_codes));
    return 1;
}

int BusService::admin_reload_policy(sd_bus_message* m) {
    uid_t admin = require_admin(m);
    log_event(LogLevel::Notice, "reload-requested", "policy reload requested over the bus",
              {{"ADMIN_UID", std::to_string(admin)}});
    reload_().value();
    return sd_bus_reply_method_return(m, nullptr);
}

int BusService::admin_list_users(sd_bus_message* m) {
    require_admin(m);
    admin_.list_users(
        later_reply<std::vector<AccountStatus>>(m, caller_is_root(m), send_status_list));
    return 1;
}

int BusService::admin_show_user(sd_bus_message* m) {
    require_admin(m);
    const char* user = nullptr;
    check(sd_bus_message_read(m, "s", &user), "arguments");
    admin_.show_user(user, later_reply<AccountStatus>(m, caller_is_root(m), send_status));
    return 1;
}

int BusService::admin_show_policy(sd_bus_message* m) {
    require_admin(m);
    const char* user = nullptr;
    check(sd_bus_message_read(m, "s", &user), "arguments");
    std::string text = admin_.show_policy(user);
    return sd_bus_reply_method_return(m, "s", text.c_str());
}

int BusService::admin_set_contact(sd_bus_message* m) {
    uid_t admin = require_admin(m);
    const char* user = nullptr;
    const char* kind = nullptr;
    const char* value = nullptr;
    check(sd_bus_message_read(m, "sss", &user, &kind, &value), "arguments");
    admin_.set_contact(admin, user, kind, value, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::admin_remove_contact(sd_bus_message* m) {
    uid_t admin = require_admin(m);
    const char* user = nullptr;
    const char* kind = nullptr;
    check(sd_bus_message_read(m, "ss", &user, &kind), "arguments");
    admin_.remove_contact(admin, user, kind, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::admin_unlock(sd_bus_message* m) {
    uid_t admin = require_admin(m);
    const char* user = nullptr;
    check(sd_bus_message_read(m, "s", &user), "arguments");
    admin_.unlock(admin, user, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::admin_reset(sd_bus_message* m) {
    uid_t admin = require_admin(m);
    const char* user = nullptr;
    const char* what = nullptr;
    check(sd_bus_message_read(m, "ss", &user, &what), "arguments");
    admin_.reset(admin, user, what, later_reply(m, caller_is_root(m)));
    return 1;
}

int BusService::admin_test_send(sd_bus_message* m) {
    uid_t admin = require_admin(m);
    const char* user = nullptr;
    check(sd_bus_message_read(m, "s", &user), "arguments");
    admin_.test_send(admin, user,
                     later_reply<Delivered>(
                         m, caller_is_root(m), [](sd_bus_message* call, const Delivered& sent) {
                             sd_bus_reply_method_return(call, "ss", sent.channel.c_str(),
                                                        sent.shown_destination.c_str());
                         }));
    return 1;
}

int BusService::name_owner_changed(sd_bus_message* m) {
    // Believed from anyone else, it would cancel another client's login: only the
    // driver says who has left.
    if (!sent_by_bus_driver(m)) {
        log_event(LogLevel::Warning, "access-denied",
                  "NameOwnerChanged not sent by the bus driver ignored",
                  {{"SENDER", sender_of(m)}});
        return 0;
    }
    const char* name = nullptr;
    const char* old_owner = nullptr;
    const char* new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0) {
        return 0;
    }
    if (name[0] == ':' && new_owner[0] == '\0') {
        euid_of_sender_.erase(name);
        engine_.cancel_owner(name);
        account_.forget_owner(name);
    }
    return 0;
}

}  // namespace lwauth
