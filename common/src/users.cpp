#include "lwauth/users.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <vector>

namespace lwauth {

std::optional<std::string> SystemUserDirectory::name_of(uid_t uid) const {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* result = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
        return std::nullopt;
    }
    return std::string(pw.pw_name);
}

std::vector<std::string> SystemUserDirectory::groups_of(const std::string& user) const {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* result = nullptr;
    if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
        return {};
    }
    int count = 64;
    std::vector<gid_t> gids(static_cast<size_t>(count));
    if (getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &count) < 0) {
        gids.resize(static_cast<size_t>(count));
        if (getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &count) < 0) {
            return {};
        }
    }
    gids.resize(static_cast<size_t>(count));
    std::vector<std::string> names;
    for (gid_t gid : gids) {
        struct group gr {};
        struct group* gresult = nullptr;
        std::vector<char> gbuf(16384);
        if (getgrgid_r(gid, &gr, gbuf.data(), gbuf.size(), &gresult) == 0 && gresult != nullptr) {
            names.emplace_back(gr.gr_name);
        }
    }
    return names;
}

bool SystemUserDirectory::exists(const std::string& user) const {
    return uid_of(user).has_value();
}

std::optional<uid_t> SystemUserDirectory::uid_of(const std::string& user) const {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* result = nullptr;
    if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
        return std::nullopt;
    }
    return pw.pw_uid;
}

}  // namespace lwauth
