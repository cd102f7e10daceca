// A string for codes, PINs, tokens and keys: fixed storage, wiped when it dies,
// no stream operator and no implicit copy, so it cannot wander into a log by accident.
#pragma once

#include <sys/types.h>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "lwauth/files.hpp"

namespace lwauth {

/// Overwrites memory in a way the optimizer cannot remove.
void secure_wipe(void* data, size_t size) noexcept;

class SecretString {
  public:
    SecretString() = default;
    explicit SecretString(std::string_view value);
    ~SecretString() { clear(); }

    SecretString(SecretString&& other) noexcept;
    SecretString& operator=(SecretString&& other) noexcept;
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;

    /// An explicit copy, so every duplication of a secret is visible in the code.
    [[nodiscard]] SecretString clone() const { return SecretString(view()); }

    [[nodiscard]] std::string_view view() const noexcept { return {data_.get(), size_}; }
    [[nodiscard]] const char* c_str() const noexcept { return data_ ? data_.get() : ""; }
    [[nodiscard]] size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// Wipes and releases the value.
    void clear() noexcept;

  private:
    std::unique_ptr<char[]> data_;
    size_t size_ = 0;
};

/// A SecretString for a field of a record that is copied whole (the store's UserState):
/// every copy is a buffer of its own, wiped when it dies like any SecretString.
class CopyableSecret : public SecretString {
  public:
    CopyableSecret() = default;
    explicit CopyableSecret(std::string_view value) : SecretString(value) {}
    CopyableSecret(const CopyableSecret& other) : SecretString(other.view()) {}
    CopyableSecret& operator=(const CopyableSecret& other) {
        if (this != &other) {
            SecretString::operator=(other.clone());
        }
        return *this;
    }
    CopyableSecret(CopyableSecret&&) noexcept = default;
    CopyableSecret& operator=(CopyableSecret&&) noexcept = default;
    ~CopyableSecret() = default;
};

/// Wipes a std::string in place before it is dropped (for values that arrived in one,
/// such as a D-Bus string argument copied out by a library).
void wipe_string(std::string& value) noexcept;

/// Wipes a std::string when the scope ends, on every way out of it (returns and throws).
class ScopedWipe {
  public:
    explicit ScopedWipe(std::string& value) noexcept : value_(value) {}
    ~ScopedWipe() { wipe_string(value_); }
    ScopedWipe(const ScopedWipe&) = delete;
    ScopedWipe& operator=(const ScopedWipe&) = delete;

  private:
    std::string& value_;
};

/// Reads a secret file named by the policy (*_file keys): its whole content, less one
/// trailing newline. The file must be a regular file (not a link to one) that
/// secret_file_rule(reader) accepts (root's or the reader's, readable by the reader's group
/// at most), as fstat() on the descriptor read shows.
/// Throws Error(Internal) saying why it cannot be read.
[[nodiscard]] SecretString read_secret_file(const std::string& path, const SecretReader& reader);

/// Compares two secrets in time that depends only on their lengths.
[[nodiscard]] bool secret_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace lwauth
