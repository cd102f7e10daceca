#include "machine_id.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <systemd/sd-id128.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

// lwauthd's application ID (`systemd-id128 new`): what its machine identifiers are derived
// under. Never change it: every machine-bound row in a shared database is keyed by it.
constexpr sd_id128_t kApplicationId =
    SD_ID128_ARRAY(cd, 38, b6, 34, 8c, b3, 43, 9b, 9c, b4, 6c, b2, 9f, 10, 2d, 8d);

Error missing(const std::filesystem::path& file, const std::string& why) {
    return Error(Errc::Internal,
                 "[store] backend = postgresql keeps this machine's quick-login PINs and "
                 "remembered places under its machine ID, and " +
                     file.string() + " " + why +
                     "; make one with systemd-machine-id-setup; refusing to start");
}

// sd_id128_get_app_specific's derivation (systemd src/libsystemd/sd-id128/sd-id128.c):
// HMAC-SHA256 keyed by the machine ID over the application ID, its first 128 bits made a
// version 4 UUID.
sd_id128_t app_specific(sd_id128_t machine) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), machine.bytes, sizeof machine.bytes, kApplicationId.bytes,
             sizeof kApplicationId.bytes, mac.data(), &length) == nullptr ||
        length < sizeof(sd_id128_t)) {
        throw Error(Errc::Internal, "cannot derive this machine's identifier");
    }
    sd_id128_t id;
    std::memcpy(id.bytes, mac.data(), sizeof id.bytes);
    OPENSSL_cleanse(mac.data(), mac.size());
    OPENSSL_cleanse(machine.bytes, sizeof machine.bytes);
    id.bytes[6] = (id.bytes[6] & 0x0F) | 0x40;
    id.bytes[8] = (id.bytes[8] & 0x3F) | 0x80;
    return id;
}

std::string hex(sd_id128_t id) {
    char text[SD_ID128_STRING_MAX];
    return sd_id128_to_string(id, text);
}

}  // namespace

std::string machine_key(const std::filesystem::path& machine_id_file) {
    if (machine_id_file == kMachineIdFile) {
        sd_id128_t id;
        int r = sd_id128_get_machine_app_specific(kApplicationId, &id);
        if (r == -ENOENT) {
            throw missing(machine_id_file, "is missing");
        }
        if (r < 0) {
            throw missing(machine_id_file, r == -ENOMEDIUM ? "is empty or uninitialized"
                                                           : std::string("cannot be read: ") +
                                                                 std::strerror(-r));
        }
        return hex(id);
    }
    std::ifstream in(machine_id_file);
    if (!in) {
        throw missing(machine_id_file, "is missing");
    }
    std::string line;
    std::getline(in, line);
    if (line.empty() || line == "uninitialized") {
        throw missing(machine_id_file, "is empty or uninitialized");
    }
    sd_id128_t machine;
    if (line.size() != 32 || sd_id128_from_string(line.c_str(), &machine) < 0 ||
        sd_id128_is_null(machine)) {
        throw missing(machine_id_file, "holds no machine ID");
    }
    return hex(app_specific(machine));
}

}  // namespace lwauth
