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
    return nullptr;
}

// Reads the value of `key` (the message at its variant) into `context`.
void read_value(sd_bus_message* m, std::string_view key, StartContext& context) {
    std::string* field = string_field(context, key);
    bool timeout = key == kContextReplyTimeout;
    if (field == nullptr && !timeout) {
        check(sd_bus_message_skip(m, "v"), "value");
        return;
    }
    const char* contents = nullptr;
    check(sd_bus_message_peek_type(m, nullptr, &contents), "value");
    std::string_view want = timeout ? "t" : "s";
    if (contents == nullptr || want != contents) {
        throw Error(Errc::InvalidArgument, "bad Start context: '" + std::string(key) +
                                               "' is '" + (contents ? contents : "") +
                                               "', not '" + std::string(want) + "'");
    }
    if (timeout) {
        check(sd_bus_message_read(m, "v", "t", &context.reply_timeout_usec), "value");
        return;
    }
    const char* value = nullptr;
    check(sd_bus_message_read(m, "v", "s", &value), "value");
    *field = value;
}

}  // namespace

void append_start_context(sd_bus_message* m, const StartContext& c) {
    int r = sd_bus_message_append(m, "a{sv}", 6, kContextUser, "s", c.user.c_str(),
                                  kContextService, "s", c.service.c_str(), kContextRhost, "s",
                                  c.rhost.c_str(), kContextTty, "s", c.tty.c_str(), kContextMode,
                                  "s", c.mode.c_str(), kContextReplyTimeout, "t",
                                  c.reply_timeout_usec);
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
