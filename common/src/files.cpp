#include "lwauth/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace lwauth {

int UniqueFd::reset(int fd) noexcept {
    int result = 0;
    if (fd_ >= 0) {
        result = ::close(fd_);
    }
    fd_ = fd;
    return result;
}

std::string owner_text(uid_t uid) {
    return uid == 0 ? "root" : "uid " + std::to_string(uid);
}

std::string mode_text(mode_t mode) {
    std::string digits(4, '0');
    for (size_t i = 4; i-- > 0; mode >>= 3) {
        digits[i] = static_cast<char>('0' + (mode & 07));
    }
    return digits;
}

std::string group_text(gid_t gid) {
    return gid == 0 ? "root" : "gid " + std::to_string(gid);
}

namespace {

// The owners and modes a secret file may have, when lwauthd reads it as `rule`'s second
// owner (its user) and reader group (its group): its own file, or root's that its group
// may read; never writable by the group, nothing for others or another group.
bool secret_ok(const struct stat& st, const FileRule& rule) {
    uid_t reader = rule.second_owner.value_or(rule.owner);
    gid_t group = rule.reader_group.value_or(0);
    bool group_reads = (st.st_mode & S_IRGRP) != 0;
    if ((st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) != 0 || (group_reads && st.st_gid != group)) {
        return false;
    }
    // A file of root's is lwauthd's to read only through its group, unless it is root.
    return st.st_uid == reader || (st.st_uid == rule.owner && (reader == 0 || group_reads));
}

Error secret_error(const struct stat& st, const FileRule& rule) {
    uid_t reader = rule.second_owner.value_or(rule.owner);
    std::string group = group_text(rule.reader_group.value_or(0));
    std::string wanted = reader == 0 ? "must be owned by root with mode 0600 (or 0640 with group " +
                                           group + "), so that nobody but root reads it"
                                     : "must be owned by root with group " + group +
                                           " and mode 0640, or by " + owner_text(reader) +
                                           " with mode 0600, so that lwauthd (" +
                                           owner_text(reader) + ") reads it and nobody else "
                                           "but root does";
    return {Errc::AccessDenied, wanted + "; it is owned by " + owner_text(st.st_uid) +
                                    ", group " + group_text(st.st_gid) + ", with mode " +
                                    mode_text(st.st_mode & 07777)};
}

}  // namespace

Result<void> check_rule(const struct stat& st, const FileRule& rule) {
    if (rule.reader_group) {
        if (secret_ok(st, rule)) {
            return {};
        }
        return secret_error(st, rule);
    }
    if (st.st_uid == rule.owner && (st.st_mode & rule.forbidden) == 0) {
        return {};
    }
    bool dir = S_ISDIR(st.st_mode);
    std::string what =
        (rule.forbidden & 044) != 0
            ? std::string("not readable by group or others (chmod ") + (dir ? "0700" : "0600") + ")"
            : std::string("not writable by group or others (chmod go-w)");
    return Error(Errc::AccessDenied, "must be owned by " + owner_text(rule.owner) + " and " + what +
                                         "; it is owned by " + owner_text(st.st_uid) +
                                         " with mode " + mode_text(st.st_mode & 07777));
}

SecretReader this_process_reader() {
    return SecretReader{::geteuid(), ::getegid()};
}

namespace {

constexpr const char* kIsLink = "is a symbolic link, which lwauth does not follow here";
constexpr const char* kNotRegular = "is not a regular file";
constexpr const char* kNotDirectory = "is not a directory";
constexpr const char* kHardLink =
    "is a hard link (the file has another name, which may be in a place others can write), "
    "which lwauth does not trust here";

// A failure of the system, in its words.
Error system_error(int error) {
    Errc code = error == ENOENT                     ? Errc::NotFound
                : error == EACCES || error == EPERM ? Errc::AccessDenied
                                                    : Errc::Internal;
    return {code, std::strerror(error)};
}

// Why openat() of `name` failed with `error`.
Error open_error(int error, int dir_fd, const std::string& name, FileType type, bool follow) {
    // O_NOFOLLOW reports a link as ELOOP; with O_DIRECTORY, a link to a directory can come
    // back as ENOTDIR. A loop earlier in the path is ELOOP too: look.
    struct stat link {};
    if (!follow && (error == ELOOP || error == ENOTDIR || error == EMLINK) &&
        ::fstatat(dir_fd, name.c_str(), &link, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(link.st_mode)) {
        return {Errc::InvalidArgument, kIsLink};
    }
    if (error == ENXIO) {  // O_WRONLY | O_NONBLOCK on a FIFO that nobody reads
        return {Errc::InvalidArgument, kNotRegular};
    }
    if (error == ENOTDIR && type == FileType::Directory) {
        return {Errc::InvalidArgument, kNotDirectory};
    }
    return system_error(error);
}

// Whether a file of several names, `name` relative to `dir_fd`, may be trusted under
// `rule`: the rule allows it, the file is the rule's owner's, and so is the directory it
// is in, which nobody else may write (no other name can be swapped in there).
bool other_names_allowed(const struct stat& st, int dir_fd, const std::string& name,
                         const FileRule& rule) {
    if (!rule.other_names || st.st_uid != rule.owner) {
        return false;
    }
    size_t slash = name.rfind('/');
    std::string parent = slash == std::string::npos ? "." : name.substr(0, slash + 1);
    struct stat dir {};
    return ::fstatat(dir_fd, parent.c_str(), &dir, 0) == 0 && S_ISDIR(dir.st_mode) &&
           dir.st_uid == rule.owner && (dir.st_mode & 022) == 0;
}

// Whether the opened file is of `type` and satisfies `rule`.
Result<void> check_opened(const struct stat& st, FileType type, const FileRule& rule, int dir_fd,
                          const std::string& name) {
    if (S_ISLNK(st.st_mode)) {  // O_PATH | O_NOFOLLOW opens the link itself
        return Error(Errc::InvalidArgument, kIsLink);
    }
    if (type == FileType::Regular && !S_ISREG(st.st_mode)) {
        return Error(Errc::InvalidArgument, kNotRegular);
    }
    if (type == FileType::Directory && !S_ISDIR(st.st_mode)) {
        return Error(Errc::InvalidArgument, kNotDirectory);
    }
    // Another name of the file lives on after this one is removed or replaced, and
    // whoever may write where it is may later link it back or read what it became.
    if (type == FileType::Regular && st.st_nlink != 1 &&
        !other_names_allowed(st, dir_fd, name, rule)) {
        return Error(Errc::InvalidArgument, kHardLink);
    }
    return check_rule(st, rule);
}

}  // namespace

Result<OpenedFile> open_checked(int dir_fd, const std::string& path, int flags, FileType type,
                                const FileRule& rule, mode_t create_mode, bool follow) {
    int all = flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW);
    if (type == FileType::Directory) {
        all |= O_DIRECTORY;
    }
    // O_NOFOLLOW does not hold for a path that ends in "/": the kernel then follows a last
    // link to a directory. Such a path is judged without its trailing slashes.
    std::string name = path;
    while (!follow && name.size() > 1 && name.back() == '/') {
        name.pop_back();
    }
    OpenedFile file;
    file.fd.reset(::openat(dir_fd, name.c_str(), all, create_mode));
    if (!file.fd.valid()) {
        return open_error(errno, dir_fd, name, type, follow);
    }
    if (::fstat(file.fd.get(), &file.st) != 0) {
        return system_error(errno);
    }
    if (auto usable = check_opened(file.st, type, rule, dir_fd, name); !usable) {
        return usable.error();
    }
    if ((flags & O_PATH) == 0 && type == FileType::Regular) {
        // Regular files ignore O_NONBLOCK, but leave no surprise for the caller.
        int fl = ::fcntl(file.fd.get(), F_GETFL);
        if (fl >= 0) {
            (void)::fcntl(file.fd.get(), F_SETFL, fl & ~O_NONBLOCK);
        }
    }
    return file;
}

std::string describe_file_error(const Error& error, const std::string& path) {
    // Our own phrases read on from the path; strerror()'s text follows a colon.
    std::string_view problem = error.what();
    bool own = problem.starts_with("is ") || problem.starts_with("must ");
    return path + (own ? " " : ": ") + std::string(problem);
}

int read_to_end(int fd, std::string& text, size_t max) {
    char buffer[8192];
    while (true) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        if (n == 0) {
            return 0;
        }
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > max) {
            return EFBIG;
        }
    }
}

}  // namespace lwauth
