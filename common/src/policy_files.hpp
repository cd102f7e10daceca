// The files a policy is read from and the secret files it names: who must own them, and
// how much of them is read.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "lwauth/files.hpp"
#include "lwauth/result.hpp"

namespace lwauth::policy::detail {

inline constexpr off_t kMaxFileSize = 1 << 20;

// Secrets stay out of lwauth.conf, which is world-readable: a *_file key names a file
// that only lwauthd (`reader`) and root can read (secret_file_rule). Error(BadPolicy) says
// what is wrong with it ("smtp_password_file: /x must be owned by root or ..."). A file
// it takes that has another name (secret_file_rule allows one) gives the warning to give.
Result<std::optional<std::string>> check_secret_file(std::string_view key, std::string_view value,
                                                     const SecretReader& reader);

// The warning about a policy or secret file with another name, which is read all the same.
std::string other_names_warning(const std::string& path);

// A policy file's text, and whether the file has another name (a warning, not a refusal).
struct PolicyFileText {
    std::string text;
    bool other_names = false;
};

// The text of a policy file in the directory `dir_fd`, or the reason it cannot be had
// (the message, without the path, is what the loader reports: "not found", "too large
// (more than 1 MiB)", or open_checked()'s reason, with its code). A policy file decides
// who may administer lwauth and whether a login needs a second factor: it must be root's
// and writable by root alone, and is never reached through a symbolic link. The checks
// are made on the descriptor that is read.
Result<PolicyFileText> read_policy_file(int dir_fd, const std::string& name, const FileRule& rule);

// An error of open_checked() for a policy file or directory as the loader reports it: a
// missing one is "not found".
Error policy_file_error(const Error& error);

// A policy directory (DIR, DIR/lwauth.conf.d), opened for reading its entries.
Result<OpenedFile> open_policy_directory(int dir_fd, const std::string& name, const FileRule& rule);

}  // namespace lwauth::policy::detail
