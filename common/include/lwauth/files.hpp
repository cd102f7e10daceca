// Files lwauth trusts: the policy, the secrets it names, the state directory and what is
// in it. Each is opened without following a symbolic link in its last component and
// without blocking on a FIFO, and is judged by fstat() on the descriptor that is then
// used, so that what was checked is what is read. A regular file lwauthd keeps must have
// one name (no hard link elsewhere); a file of root's in a directory only root may write
// (the policy, the secrets it names) may have more, which is reported, not refused.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>

#include "lwauth/result.hpp"

namespace lwauth {

/// A file descriptor, closed when it dies.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.fd_, -1));
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the descriptor now; returns close()'s result (0 when there was none).
    int reset(int fd = -1) noexcept;

  private:
    int fd_ = -1;
};

/// What a trusted file must be. `forbidden` are the permission bits that must be clear:
/// 022 for the policy (nobody but the owner may write it), 077 for secrets and state
/// (nobody but the owner may read or write them). With `reader_group` set, the rule is
/// that of a secret file instead (secret_file_rule): `second_owner` is its reader.
///
/// `other_names`: whether a regular file may have more than one name. Refused for what
/// lwauthd creates and keeps (state): another name of it lives on after lwauthd removes or
/// replaces it, where whoever may write may read what it became. Allowed for a file of
/// `owner`'s in a directory that `owner` alone may write (policy, secrets): its other name
/// can change nothing, and any local user can make one where
/// fs.protected_hardlinks = 0, which must not stop lwauthd; the caller reports it
/// (OpenedFile::other_names).
struct FileRule {
    uid_t owner = 0;
    mode_t forbidden = 022;
    std::optional<uid_t> second_owner;
    std::optional<gid_t> reader_group;
    bool other_names = false;
};

/// The rule for policy files and directories: root's, writable by root alone.
[[nodiscard]] inline FileRule policy_file_rule() {
    return FileRule{0, 022, std::nullopt, std::nullopt, true};
}

/// The rule for state: `owner`'s, and nobody else's to read or write.
[[nodiscard]] inline FileRule private_file_rule(uid_t owner) {
    return FileRule{owner, 077, std::nullopt, std::nullopt};
}

/// Who reads the secret files a policy names: lwauthd's user and group.
struct SecretReader {
    uid_t uid = 0;
    gid_t gid = 0;
};

/// This process as the reader of secrets (its effective UID and GID): lwauthd's own view.
[[nodiscard]] SecretReader this_process_reader();

/// The rule for secret files: the reader's own file, or root's that the reader's group may
/// read (root:lwauth 0640, as the packages lay out /etc/lwauth/secrets; root's 0600 too
/// when the reader is root). Never writable by the group, nothing for others or for any
/// other group. A file lwauthd could not read is refused as well, so that the policy check
/// catches it rather than the first send.
[[nodiscard]] inline FileRule secret_file_rule(const SecretReader& reader) {
    return FileRule{0, 077, reader.uid, reader.gid, true};
}

enum class FileType { Regular, Directory };

/// A trusted file, open: the descriptor that was checked and what fstat() said of it.
struct OpenedFile {
    UniqueFd fd;
    struct stat st {};
    /// A regular file with more than one name, which `rule.other_names` let through:
    /// the caller says so (a warning naming the file).
    [[nodiscard]] bool other_names() const { return S_ISREG(st.st_mode) && st.st_nlink > 1; }
};

/// Opens `path` (relative to `dir_fd`, or AT_FDCWD) with `flags` | O_NOFOLLOW | O_CLOEXEC
/// | O_NOCTTY | O_NONBLOCK (O_NONBLOCK is cleared again once the file is known to be
/// regular), then checks on the descriptor that it is of `type` and satisfies `rule`.
/// `flags` is the access (O_RDONLY, O_PATH, O_WRONLY | O_APPEND | O_CREAT, ...);
/// `create_mode` is used with O_CREAT. With `follow` a symbolic link in the last
/// component is followed (for a directory an administrator may point elsewhere), and the
/// file it leads to is judged.
///
/// When the file cannot be used, the error's message says why, without the path, and its
/// code lets a caller tell the cases apart:
///   NotFound         there is no such file (ENOENT)
///   AccessDenied     its owner or mode breaks `rule` ("must be owned by root and not
///                    writable by group or others; it is owned by uid 1004 with mode
///                    0666"), or open() was refused (EACCES, EPERM: "Permission denied")
///   InvalidArgument  it is of the wrong type: "is a symbolic link, which lwauth does not
///                    follow here", "is not a regular file", "is not a directory", or a
///                    regular file with more than one name that the rule does not allow
///                    there: "is a hard link (...), which lwauth does not trust here"
///   Internal         any other failure of open() or fstat() (strerror()'s text)
/// describe_file_error() puts the path in front.
[[nodiscard]] Result<OpenedFile> open_checked(int dir_fd, const std::string& path, int flags,
                                              FileType type, const FileRule& rule,
                                              mode_t create_mode = 0600, bool follow = false);

/// `path` and an error of open_checked() as one phrase: "/x: No such file or directory",
/// "/x is not a regular file", "/x must be owned by root and ...". lwauth's own phrases
/// (which begin "is " or "must ") read on from the path; the system's text follows a colon.
[[nodiscard]] std::string describe_file_error(const Error& error, const std::string& path);

/// Success when a stat satisfies `rule`, else Error(AccessDenied) with the reason ("must
/// be owned by root and ...").
[[nodiscard]] Result<void> check_rule(const struct stat& st, const FileRule& rule);

/// "root" or "uid N".
[[nodiscard]] std::string owner_text(uid_t uid);

/// "root" or "gid N".
[[nodiscard]] std::string group_text(gid_t gid);

/// The permission bits as four octal digits ("0644").
[[nodiscard]] std::string mode_text(mode_t mode);

/// Reads what is left of `fd` into `text`, at most `max` bytes. Returns 0, EFBIG when
/// the file holds more than `max` bytes, or the errno of a failed read.
[[nodiscard]] int read_to_end(int fd, std::string& text, size_t max);

}  // namespace lwauth
