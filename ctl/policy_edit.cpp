// `lwauthctl policy edit`: visudo for lwauth.conf. The administrator edits a private
// copy; it is checked with the drop-ins exactly as lwauthd will load it, and only a
// policy without errors replaces the file, atomically, before lwauthd is asked to reload.
#include "policy_edit.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <istream>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gettext.hpp"
#include "lwauth/error.hpp"
#include "lwauth/files.hpp"
#include "lwauth/i18n.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/text.hpp"
#include "lwauth/users.hpp"

namespace lwauth {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Exit codes (documented in lwauthctl(1)).
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;

// The edit cannot go on (lock held, editor failed, I/O error); what() is one sentence.
class EditFailed : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

std::string errno_text(int error) {
    return std::strerror(error);
}

// A file removed when this goes out of scope, unless it was released.
class TemporaryFile {
  public:
    explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
    ~TemporaryFile() {
        if (!path_.empty()) {
            ::unlink(path_.c_str());
        }
    }
    TemporaryFile(TemporaryFile&& other) noexcept : path_(std::exchange(other.path_, {})) {}
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }
    void release() { path_.clear(); }

  private:
    std::string path_;
};

// Returns 0, or the errno of the first failing write.
int write_all(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        done += static_cast<size_t>(n);
    }
    return 0;
}

// Returns 0, or the errno of the first failing read.
int read_all(int fd, std::string& text) {
    return read_to_end(fd, text, std::numeric_limits<size_t>::max());
}

// Held for the whole edit, so that two administrators never overwrite each other.
UniqueFd lock_policy(const std::string& lock_path, const std::string& file) {
    UniqueFd lock{
        ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600)};
    if (lock.get() < 0) {
        // TRANSLATORS: %2$s is the system's reason for the error, in the user's locale.
        throw EditFailed(
            format_text(_("cannot open the lock %1$s: %2$s"), {lock_path, errno_text(errno)}));
    }
    while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            throw EditFailed(
                format_text(_("%1$s is being edited by someone else (lock %2$s); try again later."),
                            {file, lock_path}));
        }
        throw EditFailed(format_text(_("cannot lock %1$s: %2$s"), {lock_path, errno_text(errno)}));
    }
    return lock;
}

// A regular file's text and its stat.
struct FileRead {
    std::string text;
    struct stat st {};
};

// The file, or why it cannot be had: Error(NotFound) when there is none, else
// Error(Internal) with the reason.
Result<FileRead> read_regular_file(const std::string& path) {
    auto problem = [](const std::string& why) { return Error(Errc::Internal, why); };
    // O_NONBLOCK: a FIFO in its place must not hang us; fstat then refuses it.
    // O_NOFOLLOW: lwauthd does not read lwauth.conf through a link, so neither do we.
    UniqueFd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)};
    if (fd.get() < 0) {
        const int error = errno;
        struct stat link {};
        if (error == ELOOP && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
            return problem(
                _("it is a symbolic link, which lwauthd does not follow; replace it "
                  "with the file itself"));
        }
        return error == ENOENT ? Error(Errc::NotFound, _("not found")) : problem(errno_text(error));
    }
    FileRead read;
    if (::fstat(fd.get(), &read.st) != 0) {
        return problem(errno_text(errno));
    }
    if (!S_ISREG(read.st.st_mode)) {
        return problem(_("not a regular file"));
    }
    if (int error = read_all(fd.get(), read.text)) {
        return problem(errno_text(error));
    }
    return read;
}

struct Original {
    std::string text;
    // A new file is root's and world-readable, like the shipped one.
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mode = 0644;
    // The old file was not root's, or was writable by others: the new one is installed
    // with root as owner and those bits cleared.
    bool repaired = false;
};

Original read_original(const std::string& file) {
    Original original;
    Result<FileRead> read = read_regular_file(file);
    if (!read && read.error().code() == Errc::NotFound) {
        return original;
    }
    if (!read) {
        throw EditFailed(format_text(_("cannot read %1$s: %2$s"), {file, read.error().what()}));
    }
    original.text = std::move(read->text);
    const struct stat& st = read->st;
    // lwauthd reads only a file of root's that nobody else may write: the edit is
    // installed so, whatever the old file was.
    original.uid = 0;
    original.gid = st.st_gid;
    original.mode = st.st_mode & 0755;
    original.repaired = st.st_uid != 0 || (st.st_mode & 07777) != original.mode;
    return original;
}

// The private copy the editor works on: mkstemps creates it 0600 with O_EXCL, so no
// planted symlink is followed. The .conf ending lets editors pick their highlighting.
TemporaryFile make_scratch_copy(const std::string& text) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string dir = tmpdir != nullptr && tmpdir[0] != '\0' ? tmpdir : "/tmp";
    std::string path = dir + "/lwauth.XXXXXX.conf";
    UniqueFd fd{::mkostemps(path.data(), 5, O_CLOEXEC)};
    if (fd.get() < 0) {
        throw EditFailed(format_text(_("cannot create a temporary file in %1$s: %2$s"),
                                     {dir, errno_text(errno)}));
    }
    TemporaryFile scratch(path);
    int error = write_all(fd.get(), text);
    if (error == 0 && fd.reset() != 0) {
        error = errno;
    }
    if (error != 0) {
        throw EditFailed(format_text(_("cannot write %1$s: %2$s"), {path, errno_text(error)}));
    }
    return scratch;
}

std::string read_scratch(const std::string& path) {
    // By name, not by the descriptor we wrote: many editors save by writing a new file
    // and renaming it over the old one.
    UniqueFd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW)};
    std::string text;
    int error = fd.get() < 0 ? errno : read_all(fd.get(), text);
    if (error != 0) {
        throw EditFailed(
            format_text(_("cannot read the edited copy %1$s: %2$s"), {path, errno_text(error)}));
    }
    return text;
}

bool on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) {
            end = dirs.size();
        }
        std::string dir = dirs.substr(start, end - start);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return true;
        }
        start = end + 1;
    }
    return false;
}

// $VISUAL, $EDITOR, then Debian's `editor` alternative, then vi, as visudo and crontab -e.
std::string editor_command() {
    for (const char* name : {"VISUAL", "EDITOR"}) {
        const char* value = std::getenv(name);
        if (value != nullptr && value[0] != '\0') {
            return value;
        }
    }
    return on_path("editor") ? "editor" : "vi";
}

// Runs the editor on `path` through the shell, so that "vim -n" or "code --wait" work;
// the path goes in as $1 and is never parsed by the shell.
void run_editor(const std::string& editor, const std::string& path, const std::string& file) {
    std::string sh = "sh";
    std::string dash_c = "-c";
    std::string script = editor + " \"$1\"";
    std::string dollar_0 = "sh";
    std::string dollar_1 = path;
    std::vector<char*> argv{sh.data(),       dash_c.data(),   script.data(),
                            dollar_0.data(), dollar_1.data(), nullptr};
    // Ctrl-C and Ctrl-\ belong to the editor: we wait for it, then clean up.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    struct sigaction old_int {};
    struct sigaction old_quit {};
    ::sigaction(SIGINT, &ignore, &old_int);
    ::sigaction(SIGQUIT, &ignore, &old_quit);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::sigaction(SIGINT, &old_int, nullptr);
        ::sigaction(SIGQUIT, &old_quit, nullptr);
        ::execv("/bin/sh", argv.data());
        _exit(127);
    }
    int error = pid < 0 ? errno : 0;
    int status = 0;
    if (pid > 0) {
        while (::waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                error = errno;
                break;
            }
        }
    }
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    if (error != 0) {
        throw EditFailed(format_text(_("cannot run the editor (%1$s): %2$s; %3$s was not "
                                       "changed."),
                                     {editor, errno_text(error), file}));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return;
    }
    throw EditFailed(
        WIFSIGNALED(status)
            ? format_text(_("the editor (%1$s) was killed by signal %2$s; %3$s was not "
                            "changed."),
                          {editor, std::to_string(WTERMSIG(status)), file})
            : format_text(_("the editor (%1$s) exited with status %2$s; %3$s was not "
                            "changed."),
                          {editor, std::to_string(WEXITSTATUS(status)), file}));
}

// Replaces `file` with `text` so that readers see either the old or the new file, even
// after a crash: a sibling temporary file with the old owner and mode, written and synced,
// renamed over it, then the directory synced. Returns a warning, or "".
std::string install(const fs::path& dir, const std::string& file, const std::string& text,
                    const Original& original) {
    std::string path = (dir / ".lwauth.conf.XXXXXX").string();
    UniqueFd fd{::mkostemp(path.data(), O_CLOEXEC)};
    if (fd.get() < 0) {
        throw EditFailed(format_text(_("cannot create a file in %1$s: %2$s; %3$s was not changed."),
                                     {dir.string(), errno_text(errno), file}));
    }
    TemporaryFile staged(path);
    // `form` is a whole sentence marked N_(): each step's verb has its own.
    auto fail = [&](const char* form, int error) {
        throw EditFailed(format_text(_(form), {path, errno_text(error), file}));
    };
    // fchown before fchmod: changing the owner clears set-id bits.
    if (::fchown(fd.get(), original.uid, original.gid) != 0) {
        fail(N_("cannot set the owner of %1$s: %2$s; %3$s was not changed."), errno);
    }
    if (::fchmod(fd.get(), original.mode) != 0) {
        fail(N_("cannot set the mode of %1$s: %2$s; %3$s was not changed."), errno);
    }
    if (int error = write_all(fd.get(), text)) {
        fail(N_("cannot write %1$s: %2$s; %3$s was not changed."), error);
    }
    if (::fsync(fd.get()) != 0) {
        fail(N_("cannot sync %1$s: %2$s; %3$s was not changed."), errno);
    }
    if (fd.reset() != 0) {
        fail(N_("cannot write %1$s: %2$s; %3$s was not changed."), errno);
    }
    if (::rename(path.c_str(), file.c_str()) != 0) {
        fail(N_("cannot rename %1$s: %2$s; %3$s was not changed."), errno);
    }
    staged.release();
    // The new file is in place; a failed directory sync only risks losing it in a crash.
    UniqueFd directory{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (directory.get() < 0 || ::fsync(directory.get()) != 0) {
        return format_text(_("cannot sync %1$s: %2$s; %3$s was installed but may not survive a "
                             "crash."),
                           {dir.string(), errno_text(errno), file});
    }
    return "";
}

// Asks what to do with a policy that has errors: true to edit again. No answer at all
// (end of input, as with a script) means exit without saving.
bool edit_again(std::istream& in, std::ostream& err) {
    std::string answer;
    while (true) {
        // TRANSLATORS: the answers stay "e" and "x", whatever the language.
        err << _("What now? (e)dit again, e(x)it without saving: ") << std::flush;
        if (!std::getline(in, answer)) {
            err << "\n";
            return false;
        }
        std::string_view choice = trim(answer);
        if (choice == "e") {
            return true;
        }
        if (choice == "x") {
            return false;
        }
    }
}

}  // namespace

std::string warning_text(const policy::Diagnostic& warning) {
    // TRANSLATORS: %s is a line of the policy loader (English), such as "lwauth.conf:12:
    // ...".
    return format_text(_("%s (warning)"), {warning.to_string()});
}

namespace {

// Prints the check's warnings and errors; whether the edited policy is valid.
bool report_check(const policy::LoadResult& checked, const std::string& file, std::ostream& err) {
    for (const auto& d : checked.warnings) {
        err << warning_text(d) << "\n";
    }
    if (checked.errors.empty()) {
        return true;
    }
    for (const auto& d : checked.errors) {
        err << d.to_string() << "\n";
    }
    size_t errors = checked.errors.size();
    err << format_text(
               ngettext("%1$s error; %2$s was not changed.", "%1$s errors; %2$s was not changed.",
                        static_cast<unsigned long>(errors)),
               {std::to_string(errors), file})
        << "\n";
    return false;
}

json to_json(const std::vector<policy::Diagnostic>& diagnostics) {
    json list = json::array();
    for (const auto& d : diagnostics) {
        list.push_back({{"file", d.file}, {"line", d.line}, {"message", d.message}});
    }
    return list;
}

}  // namespace

int policy_edit(const PolicyEditOptions& options, std::istream& in, std::ostream& out,
                std::ostream& err) {
    const fs::path dir = options.dir;
    const std::string file = (dir / "lwauth.conf").string();
    const std::string lock_path = (dir / ".lwauth.conf.lock").string();
    json report = {
        {"file", file}, {"installed", false}, {"reloaded", false}, {"errors", json::array()}};
    auto finish = [&](int code, const std::string& human) {
        if (options.json_output) {
            out << report.dump(2) << "\n";
        } else if (!human.empty()) {
            out << human << "\n";
        }
        return code;
    };

    try {
        UniqueFd lock = lock_policy(lock_path, file);
        Original original = read_original(file);
        TemporaryFile scratch = make_scratch_copy(original.text);
        const std::string editor = editor_command();
        std::string edited;
        while (true) {
            out.flush();
            err.flush();
            run_editor(editor, scratch.path(), file);
            edited = read_scratch(scratch.path());
            // An unchanged text is still installed when that repairs the owner or mode,
            // which lwauthd would refuse.
            if (edited == original.text && !original.repaired) {
                return finish(kExitOk,
                              format_text(_("No changes; %s was left as it was."), {file}));
            }
            // With the drop-ins, as lwauthd reads them; secret files must be what the
            // installed lwauthd accepts.
            policy::LoadOptions load_options;
            load_options.secret_reader = installed_daemon_reader();
            policy::LoadResult checked = policy::load_directory_with(dir, edited, load_options);
            if (report_check(checked, file, err)) {
                break;
            }
            if (!edit_again(in, err)) {
                report["errors"] = to_json(checked.errors);
                return finish(ctl_exit_status(Errc::BadPolicy), "");
            }
        }

        std::string warning = install(dir, file, edited, original);
        report["installed"] = true;
        if (original.repaired) {
            err << "lwauthctl: "
                << format_text(_("%1$s is now owned by root with mode %2$s, as lwauthd "
                                 "requires."),
                               {file, mode_text(original.mode)})
                << "\n";
        }
        if (!warning.empty()) {
            err << "lwauthctl: " << warning << "\n";
        }
        ReloadOutcome reloaded = options.reload();
        if (reloaded.exit_code == kExitOk) {
            report["reloaded"] = true;
            return finish(kExitOk,
                          format_text(_("%s was installed and lwauthd reloaded it."), {file}));
        }
        report["message"] = reloaded.message;
        err << "lwauthctl: "
            << format_text(_("%1$s was installed, but lwauthd did not reload it: %2$s"),
                           {file, reloaded.message})
            << "\n";
        return finish(reloaded.exit_code, "");
    } catch (const EditFailed& e) {
        report["message"] = e.what();
        err << "lwauthctl: " << e.what() << "\n";
        return finish(kExitFailed, "");
    }
}

}  // namespace lwauth
