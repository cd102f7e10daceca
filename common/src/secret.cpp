#include "lwauth/secret.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <cstring>
#include <string>
#include <utility>

#include "lwauth/error.hpp"
#include "lwauth/files.hpp"

namespace lwauth {

void secure_wipe(void* data, size_t size) noexcept {
    if (data != nullptr && size > 0) {
        // glibc's explicit_bzero, which the compiler may not drop: the PAM module uses
        // this file, and must not load libcrypto into every su, sudo and login for it.
        explicit_bzero(data, size);
    }
}

SecretString::SecretString(std::string_view value)
    : data_(std::make_unique<char[]>(value.size() + 1)), size_(value.size()) {
    if (!value.empty()) {  // an empty view may have no data at all: memcpy's is never null
        std::memcpy(data_.get(), value.data(), value.size());
    }
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

SecretString read_secret_file(const std::string& path, const SecretReader& reader) {
    // The checks are made on the descriptor that is read: a link or a file swapped in
    // after `policy check` is refused here too.
    auto file = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, secret_file_rule(reader));
    if (!file) {
        throw Error(Errc::Internal, "cannot read secret file " + path + ": " + file.error().what());
    }
    int fd = file->fd.get();
    constexpr size_t kMax = 64 * 1024;
    auto buf = std::make_unique<char[]>(kMax);
    size_t size = 0;
    ssize_t n;
    while (size < kMax && (n = read(fd, buf.get() + size, kMax - size)) > 0) {
        size += static_cast<size_t>(n);
    }
    int err = errno;
    file->fd.reset();
    if (n < 0 || size == kMax) {
        secure_wipe(buf.get(), kMax);
        throw Error(Errc::Internal, "cannot read secret file " + path + ": " +
                                        (size == kMax ? "larger than 64 KiB" : std::strerror(err)));
    }
    if (size > 0 && buf[size - 1] == '\n') {
        --size;
    }
    SecretString secret(std::string_view(buf.get(), size));
    secure_wipe(buf.get(), kMax);
    return secret;
}

}  // namespace lwauth
