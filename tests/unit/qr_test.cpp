// QR codes drawn for the terminal: what a phone's camera reads back, and what the glyphs say.
#include "lwauth/qr.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../daemon/second/totp.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

namespace fs = std::filesystem;

// The modules as a plain PBM image (1: black), `scale` pixels a module.
void write_pbm(const QrModules& code, const fs::path& path, int scale = 4) {
    std::ofstream out(path);
    out << "P1\n" << code.size * scale << " " << code.size * scale << "\n";
    for (int y = 0; y < code.size * scale; ++y) {
        for (int x = 0; x < code.size * scale; ++x) {
            out << (code.dark_at(x / scale, y / scale) ? "1 " : "0 ");
        }
        out << "\n";
    }
}

// What zbarimg (ZBar, as a phone's reader would) decodes from the image; "" for nothing.
std::string zbar_decode(const fs::path& image) {
    std::string command =
        "zbarimg --quiet --raw -Sdisable -Sqrcode.enable '" + image.string() + "'";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return {};
    }
    std::string out;
    char buffer[512];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
        out.append(buffer, n);
    }
    ::pclose(pipe);
    if (out.ends_with('\n')) {
        out.pop_back();
    }
    return out;
}

class TempFile {
  public:
    TempFile() {
        std::string pattern = (fs::temp_directory_path() / "lwauth-qr-XXXXXX.pbm").string();
        int fd = ::mkstemps(pattern.data(), 4);
        if (fd < 0) {
            throw std::runtime_error("mkstemps failed");
        }
        ::close(fd);
        path_ = pattern;
    }
    ~TempFile() { ::unlink(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

const std::string kLink = "https://login.example.com/l/Ab3dE9xYq";

// Splits a UTF-8 line into its characters.
std::vector<std::string> glyphs(const std::string& line) {
    std::vector<std::string> out;
    for (size_t i = 0; i < line.size();) {
        auto lead = static_cast<unsigned char>(line[i]);
        size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        out.push_back(line.substr(i, length));
        i += length;
    }
    return out;
}

TEST(QrCode, ZbarReadsBackTheText) {
    for (const std::string& text :
         {kLink, std::string("LWAUTH"), std::string(213, 'x'),
          std::string("https://login.example.com/lwauth/l/") + std::string(100, '7')}) {
        TempFile image;
        write_pbm(qr_modules(text), image.path());
        EXPECT_EQ(zbar_decode(image.path()), text) << text.size() << " bytes";
    }
}

// What lwauthctl totp add draws: the otpauth:// URI an authenticator app's camera reads,
// with the 8-digit SHA-512 parameters and a long issuer, so that it is the longest such URI.
TEST(QrCode, ZbarReadsBackAnAuthenticatorAppUri) {
    totp::App app{SecretString(std::string(totp::kSecretBytes, '\x5a')),
                  {policy::TotpAlgorithm::Sha512, 8, std::chrono::seconds(30)}};
    SecretString uri =
        totp::otpauth_uri(app, "Example Corporation IT", "a.long.user.name@host.example.com");
    TempFile image;
    write_pbm(qr_modules(uri.view()), image.path());
    std::string read = zbar_decode(image.path());
    EXPECT_EQ(read, uri.view());
    EXPECT_TRUE(read.starts_with("otpauth://totp/Example%20Corporation%20IT:a.long.user.name%40"))
        << read;
    EXPECT_NE(read.find("secret=LJNFUWS2LJNFUWS2LJNFUWS2LJNFUWS2&"), std::string::npos) << read;
}

TEST(QrCode, HasTheFourModuleQuietZone) {
    QrModules code = qr_modules(kLink);
    ASSERT_EQ(code.size, 29 + 8);  // 37 bytes: version 3 at level M
    for (int i = 0; i < code.size; ++i) {
        for (int edge = 0; edge < 4; ++edge) {
            EXPECT_FALSE(code.dark_at(i, edge));
            EXPECT_FALSE(code.dark_at(i, code.size - 1 - edge));
            EXPECT_FALSE(code.dark_at(edge, i));
            EXPECT_FALSE(code.dark_at(code.size - 1 - edge, i));
        }
    }
    // The finder pattern's dark corner starts right inside the quiet zone.
    EXPECT_TRUE(code.dark_at(4, 4));
}

// Each character is two module rows; a glyph half is a light module, a blank half dark.
TEST(QrCode, HalfBlockLinesMapBackToTheModules) {
    QrModules code = qr_modules(kLink);
    std::vector<std::string> lines = qr_lines(kLink);
    ASSERT_EQ(lines.size(), static_cast<size_t>((code.size + 1) / 2));
    for (size_t row = 0; row < lines.size(); ++row) {
        std::vector<std::string> cells = glyphs(lines[row]);
        ASSERT_EQ(cells.size(), static_cast<size_t>(code.size)) << "line " << row;
        for (int x = 0; x < code.size; ++x) {
            const std::string& cell = cells[static_cast<size_t>(x)];
            bool upper_light = cell == "\u2588" || cell == "\u2580";
            bool lower_light = cell == "\u2588" || cell == "\u2584";
            ASSERT_TRUE(upper_light || lower_light || cell == " ") << "'" << cell << "'";
            int y = static_cast<int>(row) * 2;
            EXPECT_EQ(upper_light, !code.dark_at(x, y)) << x << "," << y;
            if (y + 1 < code.size) {
                EXPECT_EQ(lower_light, !code.dark_at(x, y + 1)) << x << "," << y + 1;
            } else {
                EXPECT_FALSE(lower_light);  // below the code: the terminal's background
            }
        }
    }
}

TEST(QrCode, AsciiLinesMapBackToTheModules) {
    QrModules code = qr_modules(kLink);
    std::vector<std::string> lines = qr_lines_ascii(kLink);
    ASSERT_EQ(lines.size(), static_cast<size_t>(code.size));
    for (int y = 0; y < code.size; ++y) {
        const std::string& line = lines[static_cast<size_t>(y)];
        ASSERT_EQ(line.size(), static_cast<size_t>(code.size) * 2);
        for (int x = 0; x < code.size; ++x) {
            EXPECT_EQ(line.substr(static_cast<size_t>(x) * 2, 2), code.dark_at(x, y) ? "  " : "##");
        }
    }
}

TEST(QrCode, RefusesTextThatDoesNotFitATerminal) {
    EXPECT_EQ(qr_modules(std::string(213, 'x')).size, 57 + 8);  // version 10-M: 213 bytes
    for (size_t size : {size_t{214}, size_t{3000}, size_t{100000}}) {
        try {
            (void)qr_lines(std::string(size, 'x'));
            ADD_FAILURE() << size << " bytes encoded";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::InvalidArgument);
            EXPECT_EQ(std::string(e.what()).find("xxx"), std::string::npos);
        }
    }
    EXPECT_THROW((void)qr_modules(""), Error);
}

}  // namespace
}  // namespace lwauth
