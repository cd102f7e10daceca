// The files a policy is read from and the secret files it names: who must own them, and
// how much of them is read.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "lwauth/files.hpp"

namespace lwauth::policy::detail {

inline constexpr off_t kMaxFileSize = 1 << 20;

// Secrets stay out of lwauth.conf, which is world-readable: a *_file key names a file
// that only its owner (root, for lwauthd) can read. Returns the problem, or "".
std::string check_secret_file(std::string_view key, std::string_view value, uid_t owner);

// The text of a policy file in the directory `dir_fd`, or the reason it cannot be had.
// A policy file decides who may administer lwauth and whether a login needs a second
// factor: it must be root's and writable by root alone, and is never reached through a
// symbolic link. The checks are made on the descriptor that is read.
std::pair<std::optional<std::string>, std::string> read_policy_file(int dir_fd,
                                                                    const std::string& name,
                                                                    const FileRule& rule);

// A policy directory (DIR, DIR/lwauth.conf.d), opened for reading its entries.
OpenedFile open_policy_directory(int dir_fd, const std::string& name, const FileRule& rule);

}  // namespace lwauth::policy::detail
