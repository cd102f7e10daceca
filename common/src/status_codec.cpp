// The account status a{sv} on the bus: lwauthd writes it, lwauthctl reads it.
#include <algorithm>
#include <functional>
#include <iterator>
#include <set>
#include <string_view>

#include "codec_check.hpp"
#include "lwauth/bus_codec.hpp"

namespace lwauth::bus {
namespace {

using detail::check;
using detail::enter;

constexpr const char* kContactKinds[] = {kContactPhone, kContactEmail};

// Writes the entries of one status a{sv}; every failure names the key.
class StatusWriter {
  public:
    explicit StatusWriter(sd_bus_message* m) : m_(m) {}

    void string(const std::string& key, const std::string& value, bool always = false) {
        if (always || !value.empty()) {
            check(sd_bus_message_append(m_, "{sv}", key.c_str(), "s", value.c_str()), fail(key));
        }
    }
    void boolean(const char* key, bool value) {
        check(sd_bus_message_append(m_, "{sv}", key, "b", static_cast<int>(value)), fail(key));
    }
    void epoch(const char* key, uint64_t value) {
        check(sd_bus_message_append(m_, "{sv}", key, "t", value), fail(key));
    }
    // {key: variant of an array of `element`}, the elements appended by `elements`.
    void array(const char* key, const char* element, const std::function<void()>& elements) {
        std::string array = std::string("a") + element;
        check(sd_bus_message_open_container(m_, 'e', "sv"), fail(key));
        check(sd_bus_message_append(m_, "s", key), fail(key));
        check(sd_bus_message_open_container(m_, 'v', array.c_str()), fail(key));
        check(sd_bus_message_open_container(m_, 'a', element), fail(key));
        elements();
        for (int i = 0; i < 3; ++i) {
            check(sd_bus_message_close_container(m_), fail(key));
        }
    }
    static std::string fail(const std::string& key) {
        return "cannot write status key '" + key + "'";
    }

  private:
    sd_bus_message* m_;
};

void check_kinds(const Status& s) {
    for (const auto& [kind, contact] : s.contacts) {
        if (std::find(std::begin(kContactKinds), std::end(kContactKinds), kind) ==
            std::end(kContactKinds)) {
            throw Error(Errc::Internal,
                        "cannot send a status: unknown contact kind '" + kind + "'");
        }
    }
}

// One key the reader knows: its variant's type, whether a status must carry it, and
// where its value goes.
struct Field {
    std::string key;
    const char* type;
    bool required;
    std::function<void(sd_bus_message*, Status&)> read;
};

std::string malformed(const std::string& detail) {
    return "malformed status: " + detail;
}

using StringOf = std::function<std::string&(Status&)>;

Field string_field(std::string key, bool required, StringOf target) {
    return {key, "s", required, [key, target](sd_bus_message* m, Status& s) {
                const char* value = nullptr;
                check(sd_bus_message_read(m, "v", "s", &value), malformed(key));
                target(s) = value;
            }};
}

Field bool_field(std::string key, bool Status::*target, bool required = true) {
    return {key, "b", required, [key, target](sd_bus_message* m, Status& s) {
                int value = 0;
                check(sd_bus_message_read(m, "v", "b", &value), malformed(key));
                s.*target = value != 0;
            }};
}

Field epoch_field(std::string key, bool required, uint64_t Status::*target) {
    return {key, "t", required, [key, target](sd_bus_message* m, Status& s) {
                check(sd_bus_message_read(m, "v", "t", &(s.*target)), malformed(key));
            }};
}

void read_methods(sd_bus_message* m, Status& s) {
    const std::string what = malformed("methods");
    enter(m, 'v', "as", what);
    enter(m, 'a', "s", what);
    const char* method = nullptr;
    int r;
    while ((r = sd_bus_message_read(m, "s", &method)) > 0) {
        s.methods.emplace_back(method);
    }
    check(r, what);
    check(sd_bus_message_exit_container(m), what);
    check(sd_bus_message_exit_container(m), what);
}

void read_places(sd_bus_message* m, Status& s) {
    const std::string what = malformed("remembered_hosts");
    enter(m, 'v', "a(sst)", what);
    enter(m, 'a', "(sst)", what);
    StatusPlace place;
    const char* service = nullptr;
    const char* origin = nullptr;
    int r;
    while ((r = sd_bus_message_read(m, "(sst)", &service, &origin, &place.until)) > 0) {
        place.service = service;
        place.origin = origin;
        s.remembered_hosts.push_back(place);
    }
    check(r, what);
    check(sd_bus_message_exit_container(m), what);
    check(sd_bus_message_exit_container(m), what);
}

std::vector<Field> contact_fields() {
    std::vector<Field> fields;
    for (std::string kind : kContactKinds) {
        auto of = [kind](std::string StatusContact::*member) -> StringOf {
            return [kind, member](Status& s) -> std::string& { return s.contacts[kind].*member; };
        };
        fields.push_back(string_field(kind, false, of(&StatusContact::login)));
        fields.push_back(string_field(kind + "_source", false, of(&StatusContact::source)));
        fields.push_back(string_field("pending_" + kind, false, of(&StatusContact::pending)));
        fields.push_back(string_field("profile_" + kind, false, of(&StatusContact::profile)));
    }
    return fields;
}

// Every key of the schema in bus_names.hpp.
const std::vector<Field>& status_fields() {
    static const std::vector<Field> fields = [] {
        std::vector<Field> f = {
            string_field("user", true, [](Status& s) -> std::string& { return s.user; }),
            bool_field("two_step", &Status::two_step),
            string_field("two_step_policy", true,
                         [](Status& s) -> std::string& { return s.two_step_policy; }),
            string_field("contacts_policy", true,
                         [](Status& s) -> std::string& { return s.contacts_policy; }),
            string_field("admin_contact", false,
                         [](Status& s) -> std::string& { return s.admin_contact; }),
            {"methods", "as", true, read_methods},
            bool_field("line_linked", &Status::line_linked),
            bool_field("pin_set", &Status::pin_set),
            epoch_field("pin_until", false, &Status::pin_until),
            bool_field("pin_disabled", &Status::pin_disabled, false),
            epoch_field("locked_until", true, &Status::locked_until),
            {"remembered_hosts", "a(sst)", false, read_places},
            epoch_field("enroll_grace_until", false, &Status::enroll_grace_until),
            bool_field("totp_set", &Status::totp_set, false),
            epoch_field("recovery_codes", false, &Status::recovery_codes),  // a count, also "t"
        };
        for (auto& field : contact_fields()) {
            f.push_back(std::move(field));
        }
        return f;
    }();
    return fields;
}

const Field* field_of(std::string_view key) {
    for (const auto& field : status_fields()) {
        if (field.key == key) {
            return &field;
        }
    }
    return nullptr;
}

// Reads one {sv} entry into `s`; returns the key when the schema knows it, else "".
std::string read_entry(sd_bus_message* m, Status& s) {
    const char* key = nullptr;
    check(sd_bus_message_read(m, "s", &key), malformed("key"));
    const Field* field = field_of(key);
    if (field == nullptr) {
        check(sd_bus_message_skip(m, "v"), malformed(key));
        return "";
    }
    const char* type = nullptr;
    check(sd_bus_message_peek_type(m, nullptr, &type), malformed(key));
    if (type == nullptr || std::string_view(type) != field->type) {
        throw Error(Errc::Internal,
                    malformed("key '" + field->key + "' holds '" + (type ? type : "") +
                              "', expected '" + field->type + "'"));
    }
    field->read(m, s);
    return field->key;
}

}  // namespace

void append_status(sd_bus_message* m, const Status& s) {
    check_kinds(s);
    check(sd_bus_message_open_container(m, 'a', "{sv}"), StatusWriter::fail("status"));
    StatusWriter w(m);
    w.string("user", s.user, true);
    w.boolean("two_step", s.two_step);
    w.string("two_step_policy", s.two_step_policy, true);
    w.string("contacts_policy", s.contacts_policy, true);
    w.string("admin_contact", s.admin_contact);
    w.array("methods", "s", [&] {
        for (const auto& method : s.methods) {
            check(sd_bus_message_append(m, "s", method.c_str()), StatusWriter::fail("methods"));
        }
    });
    for (const auto& [kind, contact] : s.contacts) {
        w.string(kind, contact.login);
        w.string(kind + "_source", contact.source);
        w.string("pending_" + kind, contact.pending);
        w.string("profile_" + kind, contact.profile);
    }
    w.boolean("line_linked", s.line_linked);
    w.boolean("pin_set", s.pin_set);
    if (s.pin_until != 0) {
        w.epoch("pin_until", s.pin_until);
    }
    if (s.pin_disabled) {
        w.boolean("pin_disabled", true);
    }
    w.epoch("locked_until", s.locked_until);
    if (!s.remembered_hosts.empty()) {
        w.array("remembered_hosts", "(sst)", [&] {
            for (const auto& place : s.remembered_hosts) {
                check(sd_bus_message_append(m, "(sst)", place.service.c_str(), place.origin.c_str(),
                                            place.until),
                      StatusWriter::fail("remembered_hosts"));
            }
        });
    }
    if (s.enroll_grace_until != 0) {
        w.epoch("enroll_grace_until", s.enroll_grace_until);
    }
    if (s.totp_set) {
        w.boolean("totp_set", true);
    }
    if (s.recovery_codes != 0) {
        w.epoch("recovery_codes", s.recovery_codes);
    }
    check(sd_bus_message_close_container(m), StatusWriter::fail("status"));
}

void append_status_list(sd_bus_message* m, const std::vector<Status>& statuses) {
    check(sd_bus_message_open_container(m, 'a', "a{sv}"), "cannot write the users");
    for (const auto& s : statuses) {
        append_status(m, s);
    }
    check(sd_bus_message_close_container(m), "cannot write the users");
}

Status read_status(sd_bus_message* m) {
    enter(m, 'a', "{sv}", malformed("not an a{sv}"));
    Status s;
    std::set<std::string> seen;
    int r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        seen.insert(read_entry(m, s));
        check(sd_bus_message_exit_container(m), malformed("entry"));
    }
    check(r, malformed("entry"));
    check(sd_bus_message_exit_container(m), malformed("status"));
    for (const auto& field : status_fields()) {
        if (field.required && !seen.contains(field.key)) {
            throw Error(Errc::Internal, malformed("no '" + field.key + "'"));
        }
    }
    return s;
}

std::vector<Status> read_status_list(sd_bus_message* m) {
    enter(m, 'a', "a{sv}", malformed("not an aa{sv}"));
    std::vector<Status> statuses;
    int r;
    while ((r = sd_bus_message_at_end(m, false)) == 0) {
        statuses.push_back(read_status(m));
    }
    check(r, malformed("users"));
    check(sd_bus_message_exit_container(m), malformed("users"));
    return statuses;
}

}  // namespace lwauth::bus
