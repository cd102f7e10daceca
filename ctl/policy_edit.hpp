// `lwauthctl policy edit`: edit the policy the way visudo edits sudoers.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

namespace lwauth {

namespace policy {
struct Diagnostic;
}

/// A warning of the policy loader as lwauthctl prints it: the loader's line, which stays
/// English, marked as a warning in the user's language.
[[nodiscard]] std::string warning_text(const policy::Diagnostic& warning);

/// What reloading lwauthd after an install gave: exit code 0 and "" when it reloaded,
/// else lwauthctl's exit code for the failure and one sentence saying why.
struct ReloadOutcome {
    int exit_code = 0;
    std::string message;
};

struct PolicyEditOptions {
    std::string dir;                          // the policy directory (/etc/lwauth)
    std::function<ReloadOutcome()> reload;    // asks lwauthd to reload
    bool json_output = false;                 // print the outcome as JSON on `out`
};

/// Edits DIR/lwauth.conf: takes an exclusive lock (a second editor is refused, naming
/// the lock), copies the file to a private temporary file, runs $VISUAL / $EDITOR
/// (default: editor, then vi) on it, and checks the result together with the drop-ins.
/// A result with errors is never installed: the errors are printed and, when `in` is a
/// terminal or has input, the user is asked "(e)dit again, e(x)it without saving";
/// otherwise it exits without installing. A good result is installed atomically
/// (same directory, fsync, rename, fsync of the directory) with the old file's owner
/// and mode (root:root 0644 for a new file), then `reload` runs.
///
/// Returns lwauthctl's exit code: 0 installed and reloaded (or nothing changed),
/// 1 the edit could not be done (lock held, editor failed, I/O error),
/// 5 abandoned with errors, or reload's code when the reload failed after installing.
int policy_edit(const PolicyEditOptions& options, std::istream& in, std::ostream& out,
                std::ostream& err);

}  // namespace lwauth
