// lwauthd's log: the journal with structured fields when one runs, else stderr.
// Never pass a code, PIN, token or full contact to these functions.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace lwauth {

enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };
enum class LogTarget { Auto, Journal, Stderr };

/// Chooses where logs go; Auto picks the journal when its socket exists.
void log_setup(LogTarget target, bool debug);

/// Logs MESSAGE with LWAUTH_EVENT=event and LWAUTH_<key>=value fields.
void log_event(LogLevel level, const char* event, const std::string& message,
               std::initializer_list<std::pair<const char*, std::string>> fields = {});

}  // namespace lwauth
