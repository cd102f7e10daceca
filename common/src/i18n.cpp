// lwauth's catalogs (i18n.hpp): GNU .mo files read by lwauth, looked up by language.
#include "lwauth/i18n.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace lwauth {
namespace {

constexpr uint32_t kMoMagic = 0x950412de;  // GNU gettext's, in the writer's byte order
constexpr size_t kMaxMoBytes = 4 * 1024 * 1024;

uint32_t read_u32(std::string_view bytes, size_t at) {
    uint32_t value = 0;
    std::memcpy(&value, bytes.data() + at, sizeof value);
    return value;
}

// The string at table entry `index` of the table at `table`, or nullopt past the bytes.
std::optional<std::string_view> mo_string(std::string_view mo, uint32_t table, uint32_t index) {
    size_t entry = size_t{table} + size_t{index} * 8;
    if (entry + 8 > mo.size()) {
        return std::nullopt;
    }
    size_t length = read_u32(mo, entry);
    size_t offset = read_u32(mo, entry + 4);
    if (offset > mo.size() || length >= mo.size() - offset) {  // its NUL must be inside
        return std::nullopt;
    }
    return mo.substr(offset, length);
}

// nplurals from the header's "Plural-Forms: nplurals=N; ..." (2 when it says none).
int header_nplurals(std::string_view header) {
    auto at = header.find("nplurals=");
    if (at == std::string_view::npos) {
        return 2;
    }
    std::string_view n = header.substr(at + 9, 2);
    if (n.size() == 2 && (n[0] == '1' || n[0] == '2') && (n[1] == ';' || n[1] == ' ')) {
        return n[0] - '0';
    }
    return 0;  // a rule lwauth does not follow
}

}  // namespace

const char* language_code(Language language) {
    return language == Language::Ja ? "ja" : "en";
}

std::optional<Language> language_from_code(std::string_view code) {
    if (code == "en") {
        return Language::En;
    }
    if (code == "ja") {
        return Language::Ja;
    }
    return std::nullopt;
}

std::optional<Language> language_of_locale(std::string_view locale) {
    // language[_territory][.codeset][@modifier]
    return language_from_code(locale.substr(0, locale.find_first_of("_.@")));
}

Catalog Catalog::parse(std::string_view mo) {
    Catalog catalog;
    if (mo.size() < 28 || read_u32(mo, 0) != kMoMagic) {
        return catalog;
    }
    uint32_t count = read_u32(mo, 8);
    uint32_t originals = read_u32(mo, 12);
    uint32_t translations = read_u32(mo, 16);
    std::unordered_map<std::string, std::string> entries;
    for (uint32_t i = 0; i < count; ++i) {
        auto msgid = mo_string(mo, originals, i);
        auto msgstr = mo_string(mo, translations, i);
        if (!msgid || !msgstr) {
            return Catalog{};
        }
        if (msgid->empty()) {  // the header
            if (msgstr->find("charset=UTF-8") == std::string_view::npos) {
                return Catalog{};  // the bus carries UTF-8 only
            }
            catalog.nplurals_ = header_nplurals(*msgstr);
            if (catalog.nplurals_ == 0) {
                return Catalog{};
            }
            continue;
        }
        entries.emplace(*msgid, *msgstr);
    }
    catalog.entries_ = std::move(entries);
    return catalog;
}

Catalog Catalog::load(Language language) {
    if (language == Language::En) {
        return {};
    }
    std::string path = catalog_dir() + "/" + language_code(language) + "/LC_MESSAGES/lwauth.mo";
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    std::streamoff size = in ? static_cast<std::streamoff>(in.tellg()) : -1;
    if (size < 0 || static_cast<size_t>(size) > kMaxMoBytes) {
        return {};
    }
    std::string bytes(static_cast<size_t>(size), '\0');
    in.seekg(0);
    if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
        return {};
    }
    return parse(bytes);
}

const char* Catalog::find(std::string_view msgid) const {
    auto it = entries_.find(std::string(msgid));
    return it == entries_.end() || it->second.empty() ? nullptr : it->second.c_str();
}

const char* Catalog::find_plural(std::string_view singular, std::string_view plural,
                                 unsigned long n) const {
    std::string key(singular);
    key.push_back('\0');
    key.append(plural);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.empty()) {
        return nullptr;
    }
    const char* form = it->second.c_str();  // forms are NUL-separated
    if (nplurals_ == 2 && n != 1) {
        size_t first = std::strlen(form);
        if (first + 1 >= it->second.size()) {
            return nullptr;
        }
        form += first + 1;
    }
    return form;
}

std::string catalog_dir() {
    const char* dir = secure_getenv("LWAUTH_LOCALEDIR");
    return dir != nullptr && *dir != '\0' ? dir : LWAUTH_LOCALEDIR;
}

const Catalog& catalog(Language language) {
    // Read on first use, then never changed: safe to share between threads.
    static const Catalog ja = Catalog::load(Language::Ja);
    static const Catalog none;
    return language == Language::Ja ? ja : none;
}

const char* tr(Language language, const char* msgid) {
    const char* found = catalog(language).find(msgid);
    return found != nullptr ? found : msgid;
}

const char* tr_n(Language language, const char* singular, const char* plural, unsigned long n) {
    const char* found = catalog(language).find_plural(singular, plural, n);
    if (found != nullptr) {
        return found;
    }
    return n == 1 ? singular : plural;
}

std::string format_text(std::string_view text, std::initializer_list<std::string_view> args) {
    return format_text(text, std::vector<std::string_view>(args));
}

std::string format_text(std::string_view text, const std::vector<std::string_view>& list) {
    std::string out;
    // Room for every argument at once: a code composed into a message is not left behind
    // in a buffer that grew.
    size_t room = text.size();
    for (std::string_view arg : list) {
        room += arg.size() * 9;  // at most "%1$s" .. "%9$s" each once, in practice
    }
    out.reserve(room);
    size_t next = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%' || i + 1 >= text.size()) {
            out.push_back(text[i]);
            continue;
        }
        if (text[i + 1] == '%') {
            out.push_back('%');
            ++i;
            continue;
        }
        size_t index = next;
        size_t end = i + 1;
        if (text[end] >= '1' && text[end] <= '9' && text.substr(end + 1, 2) == "$s") {
            index = static_cast<size_t>(text[end] - '1');
            end += 3;
        } else if (text[end] == 's') {
            ++next;
            end += 1;
        } else {
            out.push_back('%');
            continue;
        }
        if (index >= list.size()) {
            out.append(text.substr(i, end - i));
        } else {
            out.append(list[index]);
        }
        i = end - 1;
    }
    return out;
}

}  // namespace lwauth
