// Japanese and English: lwauth's lines through its gettext catalogs (po/, text domain
// "lwauth"), looked up by language code, not by the process's or thread's locale.
//
// lwauthd serves logins of many languages at once in one process, and pam_lwauth.so runs
// inside su, sshd or login, whose locale is not the module's to change; so the language
// is a value that each line is made in (tr(lang, ...)), and the catalog is read by
// lwauth itself from <localedir>/<code>/LC_MESSAGES/lwauth.mo (GNU .mo, as msgfmt writes
// it). Nothing depends on a generated system locale (a host without ja_JP.UTF-8 still
// shows Japanese), nothing is per process or per thread, and a catalog, once read, is
// never changed, so any thread may read it. The text is UTF-8, as D-Bus wants it.
// lwauthctl, which speaks for one user in one locale, uses GNU gettext itself.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lwauth {

/// Marks a string for xgettext where it is written; translated where it is used (tr).
#define N_(text) text

/// The languages lwauth has lines in. English is the source text and needs no catalog.
enum class Language { En, Ja };

/// "en" or "ja".
[[nodiscard]] const char* language_code(Language language);
/// The language of a code as [policy] language writes it ("en", "ja"); nullopt otherwise.
[[nodiscard]] std::optional<Language> language_from_code(std::string_view code);
/// The language a POSIX locale name asks for ("ja_JP.UTF-8", "ja", "en_US.UTF-8@euro");
/// nullopt for "", "C", "POSIX", "C.UTF-8" and languages lwauth has no lines in.
[[nodiscard]] std::optional<Language> language_of_locale(std::string_view locale);

/// The translations of one language, read from its .mo file. Empty (every line stays
/// English) when the file is missing, unreadable, malformed or not UTF-8.
class Catalog {
  public:
    Catalog() = default;
    /// Reads the catalog of `language` from the locale directory (catalog_dir()).
    static Catalog load(Language language);
    /// Reads a catalog from the bytes of a .mo file.
    static Catalog parse(std::string_view mo);

    /// The translation of `msgid`, or nullptr.
    [[nodiscard]] const char* find(std::string_view msgid) const;
    /// The translation of a plural entry for `n`, or nullptr. lwauth's catalogs have one
    /// form (Japanese, nplurals=1) or two (n != 1).
    [[nodiscard]] const char* find_plural(std::string_view singular, std::string_view plural,
                                          unsigned long n) const;
    [[nodiscard]] bool empty() const { return entries_.empty(); }

  private:
    std::unordered_map<std::string, std::string> entries_;
    int nplurals_ = 2;
};

/// The directory holding <code>/LC_MESSAGES/lwauth.mo: $LWAUTH_LOCALEDIR when set (the
/// build tree's, for tests; ignored in a setuid or setgid process), else the install
/// prefix's share/locale.
[[nodiscard]] std::string catalog_dir();

/// The catalog of `language`, read once per process and kept (lwauthd). English: empty.
[[nodiscard]] const Catalog& catalog(Language language);

/// `msgid` in `language` (the process's kept catalog), or `msgid` itself.
[[nodiscard]] const char* tr(Language language, const char* msgid);
/// The form of a line that counts `n` things in `language`.
[[nodiscard]] const char* tr_n(Language language, const char* singular, const char* plural,
                               unsigned long n);

/// `text` with its printf-style string directives replaced by `args`: "%1$s", "%2$s"...
/// (the translator's order, positional) or "%s" (in turn), and "%%" for "%". A directive
/// without an argument is left as it is. xgettext marks such a line c-format, so msgfmt
/// --check holds each translation to the same arguments.
[[nodiscard]] std::string format_text(std::string_view text,
                                      std::initializer_list<std::string_view> args);
/// The same, with the arguments in a list made at run time.
[[nodiscard]] std::string format_text(std::string_view text,
                                      const std::vector<std::string_view>& args);

}  // namespace lwauth
