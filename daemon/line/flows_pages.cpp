#include "line/flows_pages.hpp"

#include <array>
#include <ctime>

namespace lwauth::line {
namespace {

std::string document(const std::string& title, const std::string& body) {
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
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

std::string render_page(const PageText& page) {
    return document(page.title, "<p>" + html_escape(page.text) + "</p>\n");
}

std::string render_confirm_page(const ConfirmPage& page) {
    std::string what =
        page.link ? "Link your LINE account to " + bold(page.user) + " on " + bold(page.host) + "."
                  : "Log in as " + bold(page.user) + " on " + bold(page.host) + " through " +
                        bold(page.service) + " from " +
                        (page.rhost.empty() ? std::string("a local session") : bold(page.rhost)) +
                        ".";
    std::string body = "<p>" + what + "</p>\n<p>Started " + html_escape(local_time(page.started_at)) +
                       ".</p>\n<p>Pick the number your terminal shows. If you did not start "
                       "this, close this page.</p>\n<form method=\"post\" action=\"" +
                       html_escape(page.action) +
                       "\">\n<input type=\"hidden\" name=\"confirm\" value=\"" +
                       html_escape(page.confirm_token) + "\">\n";
    for (int n : page.choices) {
        std::string text = std::to_string(n);
        body += "<button type=\"submit\" name=\"number\" value=\"" + text + "\">" + text +
                "</button>\n";
    }
    body += "</form>\n";
    return document(page.link ? "Link LINE?" : "Approve this login?", body);
}

}  // namespace lwauth::line
