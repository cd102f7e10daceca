#include "lwauth/secret.hpp"

#include <openssl/crypto.h>

#include <cstring>
#include <string>
#include <utility>

namespace lwauth {

void secure_wipe(void* data, size_t size) noexcept {
    if (data != nullptr && size > 0) {
        OPENSSL_cleanse(data, size);
    }
}

SecretString::SecretString(std::string_view value)
    : data_(std::make_unique<char[]>(value.size() + 1)), size_(value.size()) {
    std::memcpy(data_.get(), value.data(), value.size());
    data_[value.size()] = '\0';
}

SecretString::SecretString(SecretString&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

SecretString& SecretString::operator=(SecretString&& other) noexcept {
    if (this != &other) {
        clear();
        data_ = std::move(other.data_);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

void SecretString::clear() noexcept {
    if (data_) {
        secure_wipe(data_.get(), size_ + 1);
        data_.reset();
    }
    size_ = 0;
}

void wipe_string(std::string& value) noexcept {
    // Wipe the whole buffer, including spare capacity left by earlier, longer contents.
    secure_wipe(value.data(), value.capacity());
    value.clear();
}

bool secret_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace lwauth
