#include "log.hpp"

#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <vector>

namespace lwauth {
namespace {

bool g_use_journal = false;  // set once at start, before any other thread exists
bool g_debug = false;

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::Error:
            return "error";
        case LogLevel::Warning:
            return "warning";
        case LogLevel::Notice:
            return "notice";
        case LogLevel::Info:
            return "info";
        case LogLevel::Debug:
            return "debug";
    }
    return "info";
}

}  // namespace

void log_setup(LogTarget target, bool debug) {
    g_debug = debug;
    switch (target) {
        case LogTarget::Journal:
            g_use_journal = true;
            break;
        case LogTarget::Stderr:
            g_use_journal = false;
            break;
        case LogTarget::Auto:
            g_use_journal = access("/run/systemd/journal/socket", W_OK) == 0;
            break;
    }
}

void log_event(LogLevel level, const char* event, const std::string& message,
               std::initializer_list<std::pair<const char*, std::string>> fields) {
    if (level == LogLevel::Debug && !g_debug) {
        return;
    }
    if (g_use_journal) {
        std::vector<std::string> lines;
        lines.reserve(fields.size() + 4);
        lines.push_back("MESSAGE=" + message);
        lines.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
        lines.push_back("SYSLOG_IDENTIFIER=lwauthd");
        lines.push_back(std::string("LWAUTH_EVENT=") + event);
        for (const auto& [key, value] : fields) {
            lines.push_back(std::string("LWAUTH_") + key + "=" + value);
        }
        std::vector<struct iovec> iov;
        iov.reserve(lines.size());
        for (auto& line : lines) {
            iov.push_back({line.data(), line.size()});
        }
        if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0) {
            return;
        }
    }
    std::string line =
        std::string("lwauthd: ") + level_name(level) + ": " + message + " [event=" + event;
    for (const auto& [key, value] : fields) {
        line += " ";
        for (const char* p = key; *p; ++p) {
            line += static_cast<char>(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        }
        line += "=" + value;
    }
    line += "]\n";
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    fputs(line.c_str(), stderr);
    fflush(stderr);
}

}  // namespace lwauth
