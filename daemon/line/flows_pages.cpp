#include "line/flows_pages.hpp"

#include <array>
#include <charconv>
#include <ctime>

#include "lwauth/text.hpp"

namespace lwauth::line {
namespace {

std::string document(const std::string& title, const std::string& body, Language language) {
    return std::string("<!DOCTYPE html>\n<html lang=\"") + language_code(language) +
           "\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<title>" +
           html_escape(title) +
           "</title><style>body{font-family:sans-serif;margin:1.5em;max-width:34em}"
           "button{font-size:2em;margin:.3em;padding:.3em .9em}</style></head>\n<body><h1>" +
           html_escape(title) + "</h1>\n" + body + "</body></html>\n";
}

std::string local_time(int64_t when) {
    std::time_t t = static_cast<std::time_t>(when);
    std::tm tm{};
    std::array<char, 64> out{};
    if (localtime_r(&t, &tm) == nullptr ||
        std::strftime(out.data(), out.size(), "%Y-%m-%d %H:%M:%S %Z", &tm) == 0) {
        return std::to_string(when);
    }
    return out.data();
}

std::string bold(const std::string& text) { return "<b>" + html_escape(text) + "</b>"; }

// The weight of one element of Accept-Language ("ja;q=0.8"): 1 without q, 0 when q is
// malformed.
double weight_of(std::string_view parameters) {
    size_t q = parameters.find("q=");
    if (q == std::string_view::npos) {
        return 1.0;
    }
    std::string_view value = trim(parameters.substr(q + 2));
    double weight = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), weight);
    return error == std::errc() ? weight : 0.0;
}

}  // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

Language page_language(std::string_view accept_language, Language fallback) {
    std::optional<Language> best;
    double best_weight = 0;
    while (!accept_language.empty()) {
        size_t comma = accept_language.find(',');
        std::string_view element = accept_language.substr(0, comma);
        accept_language = comma == std::string_view::npos ? std::string_view()
                                                          : accept_language.substr(comma + 1);
        size_t semicolon = element.find(';');
        std::string_view tag = trim(element.substr(0, semicolon));
        double weight =
            semicolon == std::string_view::npos ? 1.0 : weight_of(element.substr(semicolon + 1));
        // "ja", "ja-JP", "en-US": the primary subtag, as a locale's language is read.
        std::string locale(tag.substr(0, tag.find('-')));
        auto language = language_from_code(locale);
        if (language && weight > best_weight) {
            best = language;
            best_weight = weight;
        }
    }
    return best.value_or(fallback);
}

std::string render_page(const PageText& page, Language language) {
    return document(tr(language, page.title.c_str()),
                    "<p>" + html_escape(tr(language, page.text.c_str())) + "</p>\n", language);
}

std::string render_confirm_page(const ConfirmPage& page, Language language) {
    // The values are escaped and put in bold before they fill the translated sentence.
    std::string what =
        page.link ? format_text(tr(language, "Link your LINE account to %1$s on %2$s."),
                                {bold(page.user), bold(page.host)})
                  : format_text(tr(language, "Log in as %1$s on %2$s through %3$s from %4$s."),
                                {bold(page.user), bold(page.host), bold(page.service),
                                 page.rhost.empty() ? html_escape(tr(language, "a local session"))
                                                    : bold(page.rhost)});
    std::string body =
        "<p>" + what + "</p>\n<p>" +
        html_escape(format_text(tr(language, "Started %s."), {local_time(page.started_at)})) +
        "</p>\n<p>" +
        html_escape(tr(language,
                       "Pick the number your terminal shows. If you did not start "
                       "this, close this page.")) +
        "</p>\n<form method=\"post\" action=\"" + html_escape(page.action) +
        "\">\n<input type=\"hidden\" name=\"confirm\" value=\"" + html_escape(page.confirm_token) +
        "\">\n";
    for (int n : page.choices) {
        std::string text = std::to_string(n);
        body += "<button type=\"submit\" name=\"number\" value=\"" + text + "\">" + text +
                "</button>\n";
    }
    body += "</form>\n";
    return document(tr(language, page.link ? N_("Link LINE?") : N_("Approve this login?")), body,
                    language);
}

}  // namespace lwauth::line
