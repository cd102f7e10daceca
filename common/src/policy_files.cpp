// Reading policy files, and checking the secret files a policy names.
#include "policy_files.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

namespace lwauth::policy::detail {

// ---- Secret files -----------------------------------------------------------------------

// Secrets stay out of lwauth.conf, which is world-readable: a *_file key names a file
// that only lwauthd and root can read (root's or lwauthd's user's, readable by lwauthd's
// group at most). Anything looser is refused rather than trusted, because a secret that
// others could read must be considered leaked, and one they could write, forged.
Result<std::optional<std::string>> check_secret_file(std::string_view key, std::string_view value,
                                                     const SecretReader& reader) {
    std::string name(key);
    std::string path(value);
    if (!value.starts_with('/')) {
        return Error(Errc::BadPolicy,
                     "bad value '" + path + "' for " + name + ": expected an absolute path");
    }
    // O_PATH: `policy check` may run as a user who cannot read the secret; the owner and
    // mode are judged on the descriptor, as read_secret_file() does when lwauthd reads it.
    auto file = open_checked(AT_FDCWD, path, O_PATH, FileType::Regular, secret_file_rule(reader));
    if (!file) {
        return Error(Errc::BadPolicy, name + ": " + describe_file_error(file.error(), path));
    }
    if (file->other_names()) {
        return std::optional<std::string>(name + ": " + other_names_warning(path));
    }
    return std::optional<std::string>();
}

// Any local user can give a file another name where fs.protected_hardlinks = 0; for a file
// of root's in a directory only root may write, it changes nothing, and refusing it would
// let that user stop lwauthd from starting. Said, so that the administrator removes it.
std::string other_names_warning(const std::string& path) {
    return path +
           " has another name (a hard link elsewhere); it is read, as it is root's in a "
           "directory only root may write, but remove the other name (find / -xdev -samefile " +
           path + ")";
}

// The text of a policy file in the directory `dir_fd`, or the reason it cannot be had.
// A policy file decides who may administer lwauth and whether a login needs a second
// factor: it must be root's and writable by root alone, and is never reached through a
// symbolic link. The checks are made on the descriptor that is read.
Result<PolicyFileText> read_policy_file(int dir_fd, const std::string& name, const FileRule& rule) {
    auto file = open_checked(dir_fd, name, O_RDONLY, FileType::Regular, rule);
    if (!file) {
        return policy_file_error(file.error());
    }
    const Error too_large(Errc::InvalidArgument, "too large (more than 1 MiB)");
    if (file->st.st_size > kMaxFileSize) {
        return too_large;
    }
    PolicyFileText read{{}, file->other_names()};
    if (int error = read_to_end(file->fd.get(), read.text, static_cast<size_t>(kMaxFileSize))) {
        return error == EFBIG ? too_large : Error(Errc::Internal, std::strerror(error));
    }
    return read;
}

Error policy_file_error(const Error& error) {
    return error.code() == Errc::NotFound ? Error(Errc::NotFound, "not found") : error;
}

// A policy directory (DIR, DIR/lwauth.conf.d), opened for reading its entries. The
// administrator may point DIR elsewhere with a link; what it leads to is judged.
Result<OpenedFile> open_policy_directory(int dir_fd, const std::string& name,
                                         const FileRule& rule) {
    return open_checked(dir_fd, name, O_RDONLY, FileType::Directory, rule, 0, /*follow=*/true);
}

}  // namespace lwauth::policy::detail
