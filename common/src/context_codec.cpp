// Login.Start's context a{sv}: written by pam_lwauth.so, read by lwauthd.
#include <string_view>

#include "lwauth/bus_codec.hpp"
#include "lwauth/error.hpp"
#include "lwauth/sd_bus.hpp"

namespace lwauth::bus {
namespace {

// What the reader says of a context the caller got wrong.
void check(int r, const char* what) {
    if (r < 0) {
        throw Error(r == -ENOMEM ? Errc::Internal : Errc::InvalidArgument,
                    std::string("bad Start context: ") + what + ": " + errno_string(r));
    }
}

std::string* string_field(StartContext& context, std::string_view key) {
    if (key == kContextUser) {
        return &context.user;
    }
    if (key == kContextService) {
        return &context.service;
    }
    if (key == kContextRhost) {
        return &context.rhost;
    }
    if (key == kContextTty) {
        return &context.tty;
    }
    if (key == kContextMode) {
        return &context.mode;
    }
    if (key == kContextLocale) {
        return &context.locale;
    }
    return nullptr;
}

// Reads a value of the type `want` ("s", "t", "b") into `out`; another type is the
// caller's error.
template <typename T>
void read_typed(sd_bus_message* m, std::string_view key, const char* want, T& out) {
    const char* contents = nullptr;
    check(sd_bus_message_peek_type(m, nullptr, &contents), "value");
    if (contents == nullptr || std::string_view(want) != contents) {
        throw Error(Errc::InvalidArgument, "bad Start context: '" + std::string(key) + "' is '" +
                                               (contents ? contents : "") + "', not '" + want +
                                               "'");
    }
    check(sd_bus_message_read(m, "v", want, &out), "value");
}

// Reads the value of `key` (the message at its variant) into `context`.
void read_value(sd_bus_message* m, std::string_view key, StartContext& context) {
    if (key == kContextReplyTimeout) {
        read_typed(m, key, "t", context.reply_timeout_usec);
        return;
    }
    if (key == kContextSessionRemote) {
        int remote = 0;  // sd-bus reads a "b" as an int
        read_typed(m, key, "b", remote);
        context.session_remote = remote != 0;
        return;
    }
    std::string* field = string_field(context, key);
    if (field == nullptr) {
        check(sd_bus_message_skip(m, "v"), "value");
        return;
    }
    const char* value = nullptr;
    read_typed(m, key, "s", value);
    *field = value;
}

}  // namespace

void append_start_context(sd_bus_message* m, const StartContext& c) {
    int r = sd_bus_message_append(
        m, "a{sv}", 8, kContextUser, "s", c.user.c_str(), kContextService, "s", c.service.c_str(),
        kContextRhost, "s", c.rhost.c_str(), kContextTty, "s", c.tty.c_str(), kContextMode, "s",
        c.mode.c_str(), kContextReplyTimeout, "t", c.reply_timeout_usec, kContextSessionRemote, "b",
        static_cast<int>(c.session_remote), kContextLocale, "s", c.locale.c_str());
    if (r < 0) {
        throw Error(Errc::Internal, "cannot write the Start context: " + errno_string(r));
    }
}

StartContext read_start_context(sd_bus_message* m) {
    StartContext context;
    int entered = sd_bus_message_enter_container(m, 'a', "{sv}");
    check(entered, "not an a{sv}");
    if (entered == 0) {
        throw Error(Errc::InvalidArgument, "bad Start context: the message has none");
    }
    int r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* key = nullptr;
        check(sd_bus_message_read(m, "s", &key), "key");
        read_value(m, key, context);
        check(sd_bus_message_exit_container(m), "entry");
    }
    check(r, "entry");
    check(sd_bus_message_exit_container(m), "end");
    return context;
}

}  // namespace lwauth::bus
