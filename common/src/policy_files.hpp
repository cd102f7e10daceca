// The files a policy is read from and the secret files it names: who must own them, and
// how much of them is read.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "lwauth/files.hpp"
#include "lwauth/result.hpp"

namespace lwauth::policy::detail {

inline constexpr off_t kMaxFileSize = 1 << 20;

// Secrets stay out of lwauth.conf, which is world-readable: a *_file key names a file
// that only lwauthd (`reader`) and root can read (secret_file_rule). Error(BadPolicy) says
// what is wrong with it ("smtp_password_file: /x must be owned by root or ...").
Result<void> check_secret_file(std::string_view key, std::string_view value,
                               const SecretReader& reader);

// The text of a policy file in the directory `dir_fd`, or the reason it cannot be had
// (the message, without the path, is what the loader reports: "not found", "too large
// (more than 1 MiB)", or open_checked()'s reason, with its code). A policy file decides
// who may administer lwauth and whether a login needs a second factor: it must be root's
// and writable by root alone, and is never reached through a symbolic link. The checks
// are made on the descriptor that is read.
Result<std::string> read_policy_file(int dir_fd, const std::string& name, const FileRule& rule);

// An error of open_checked() for a policy file or directory as the loader reports it: a
// missing one is "not found".
Error policy_file_error(const Error& error);

// A policy directory (DIR, DIR/lwauth.conf.d), opened for reading its entries.
Result<OpenedFile> open_policy_directory(int dir_fd, const std::string& name, const FileRule& rule);

}  // namespace lwauth::policy::detail
