// The documentation held to the program: every event lwauthd logs is listed in
// lwauthd(8), where administrators look up what to search the journal for, and lwauthctl(1)
// lists the exit statuses of the table of errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The names that daemon/ passes to log_event as a literal: log_event(LogLevel::X, "name", ...
std::set<std::string> logged_events() {
    const std::regex call(R"re(log_event\(\s*LogLevel::\w+,\s*"([a-z0-9-]+)")re");
    std::set<std::string> names;
    for (const auto& entry :
         fs::recursive_directory_iterator(fs::path(LWAUTH_SOURCE_DIR) / "daemon")) {
        auto ext = entry.path().extension();
        if (ext != ".cpp" && ext != ".hpp") {
            continue;
        }
        std::string text = read_text(entry.path());
        for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) {
            names.insert((*it)[1]);
        }
    }
    return names;
}

// The names in lwauthd(8)'s LWAUTH_EVENT paragraph (".BR name ," lines, "\-" for "-").
std::set<std::string> documented_events() {
    std::string page = read_text(fs::path(LWAUTH_SOURCE_DIR) / "docs/lwauthd.8");
    size_t begin = page.find(".B LWAUTH_EVENT\n");
    size_t end = page.find(".TP", begin);
    std::set<std::string> names;
    if (begin == std::string::npos) {
        return names;
    }
    std::string block = page.substr(begin, end - begin);
    const std::regex term(R"re(\.BR? ([a-z0-9\\-]+))re");
    for (std::sregex_iterator it(block.begin(), block.end(), term), stop; it != stop; ++it) {
        names.insert(std::regex_replace(std::string((*it)[1]), std::regex(R"(\\-)"), "-"));
    }
    return names;
}

TEST(ManPage, LwauthdListsEveryEventItLogs) {
    std::set<std::string> logged = logged_events();
    ASSERT_GT(logged.size(), 30u) << "the pattern no longer finds log_event calls";
    std::set<std::string> documented = documented_events();
    for (const auto& name : logged) {
        EXPECT_TRUE(documented.contains(name)) << "lwauthd(8) does not list the event " << name;
    }
}

// The statuses under lwauthctl(1)'s EXIT STATUS (".TP" then ".B N").
std::set<int> documented_exit_statuses() {
    std::string page = read_text(fs::path(LWAUTH_SOURCE_DIR) / "docs/lwauthctl.1");
    size_t begin = page.find(".SH EXIT STATUS\n");
    size_t end = page.find("\n.SH ", begin + 1);
    std::set<int> statuses;
    if (begin == std::string::npos) {
        return statuses;
    }
    std::string block = page.substr(begin, end - begin);
    const std::regex term(R"re(\.TP\n\.B (\d+)\n)re");
    for (std::sregex_iterator it(block.begin(), block.end(), term), stop; it != stop; ++it) {
        statuses.insert(std::stoi((*it)[1]));
    }
    return statuses;
}

TEST(ManPage, LwauthctlListsTheExitStatusOfEveryError) {
    // 0 (success) and 2 (a usage error) come before any error can; Internal is the last Errc.
    // 6, 7, 8 and 130 are line link's outcomes other than linked (lwauthctl.cpp).
    std::set<int> from_table = {0, 2, 6, 7, 8, 130};
    for (int i = 0; i <= static_cast<int>(Errc::Internal); ++i) {
        from_table.insert(ctl_exit_status(static_cast<Errc>(i)));
    }
    EXPECT_EQ(documented_exit_statuses(), from_table);
}

// The field keys daemon/ logs with ({"KEY", value} in a log_event call's list).
std::set<std::string> logged_fields() {
    const std::regex field(R"re(\{"([A-Z][A-Z_]*)", )re");
    std::set<std::string> keys;
    for (const auto& entry :
         fs::recursive_directory_iterator(fs::path(LWAUTH_SOURCE_DIR) / "daemon")) {
        if (entry.path().extension() != ".cpp") {
            continue;
        }
        std::string text = read_text(entry.path());
        for (std::sregex_iterator it(text.begin(), text.end(), field), end; it != end; ++it) {
            keys.insert((*it)[1]);
        }
    }
    return keys;
}

TEST(ManPage, LwauthdDescribesEveryFieldItLogs) {
    std::set<std::string> keys = logged_fields();
    ASSERT_GT(keys.size(), 10u) << "the pattern no longer finds log fields";
    std::string page = read_text(fs::path(LWAUTH_SOURCE_DIR) / "docs/lwauthd.8");
    for (const auto& key : keys) {
        EXPECT_TRUE(std::regex_search(page, std::regex("LWAUTH_" + key + "[^A-Z_]")))
            << "lwauthd(8) does not describe LWAUTH_" << key;
    }
}

}  // namespace
}  // namespace lwauth
