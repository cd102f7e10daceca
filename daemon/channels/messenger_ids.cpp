#include "messenger_ids.hpp"

#include <unistd.h>

#include "lwauth/error.hpp"
#include "lwauth/secret.hpp"

namespace lwauth {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

// One whitespace-separated word from `line` at `pos`, moving past it.
std::string_view next_word(std::string_view line, size_t& pos) {
    while (pos < line.size() && is_space(line[pos])) {
        ++pos;
    }
    size_t start = pos;
    while (pos < line.size() && !is_space(line[pos])) {
        ++pos;
    }
    return line.substr(start, pos - start);
}

}  // namespace

std::map<std::string, std::string, std::less<>> parse_user_map(std::string_view text,
                                                               const std::string& name) {
    std::map<std::string, std::string, std::less<>> map;
    int number = 0;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        ++number;
        size_t pos = 0;
        std::string_view user = next_word(line, pos);
        if (user.empty() || user.front() == '#') {
            continue;
        }
        std::string_view id = next_word(line, pos);
        std::string_view extra = next_word(line, pos);
        auto where = name + ":" + std::to_string(number) + ": ";
        if (id.empty() || !extra.empty()) {
            // The line is not echoed: it may hold an ID.
            throw Error(Errc::Internal, where + "expected 'USER ID'");
        }
        if (!map.emplace(std::string(user), std::string(id)).second) {
            throw Error(Errc::Internal, where + "user '" + std::string(user) + "' appears twice");
        }
    }
    return map;
}

const MessengerIdForm kLineIdForm{"LINE user ID", "a LINE user ID (U and 32 hex digits)",
                                  &policy::is_line_user_id};
const MessengerIdForm kLineWorksIdForm{"LINE WORKS user ID",
                                       "a LINE WORKS user ID or login ID (name@domain)",
                                       &policy::is_lineworks_user_id};

MessengerIds::MessengerIds(const policy::ChannelConfig& config, const MessengerIdForm& form)
    : form_(form), template_(config.option("user_id")) {
    std::string map_file = config.option("user_map_file");
    if (!map_file.empty()) {
        SecretString text = read_secret_file(map_file, this_process_reader());
        map_ = parse_user_map(text.view(), map_file);
    }
}

Result<std::string> MessengerIds::lookup(const std::string& user) const {
    std::string where;
    std::string id;
    if (auto it = map_.find(user); it != map_.end()) {
        where = "the user's ID in user_map_file";
        id = it->second;
    } else if (!template_.empty()) {
        where = "the ID user_id gives the user";
        id = policy::expand_user_id(template_, user);
    } else {
        return Error(Errc::DeliveryFailed,
                     "the user has no " + std::string(form_.id_name) + " in user_map_file");
    }
    if (!form_.valid(id)) {
        return Error(Errc::DeliveryFailed,
                     where + " is not " + std::string(form_.form) + "; not sent");
    }
    return id;
}

}  // namespace lwauth
