// The keyed hash of a LINE `sub` (subject.hpp).
#include "line/subject.hpp"

#include "lwauth/error.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::line {

namespace {

// keyed_hex(context, value) hashes context 0x00 value; the channel ID is joined to `sub`
// the same way, so that no two (channel, sub) pairs give the same bytes (a channel ID is
// digits only). The caller wipes it.
std::string subject_value(std::string_view channel_id, std::string_view sub) {
    std::string value;
    value.reserve(channel_id.size() + 1 + sub.size());
    value.append(channel_id).push_back('\0');
    value.append(sub);
    return value;
}

// A subject key (`name` is its policy key, for the message): kMinSubjectKeySize bytes or
// more.
SecretString subject_key(const char* name, const std::filesystem::path& path,
                         const SecretReader& reader) {
    SecretString key = read_secret_file(path.string(), reader);
    if (key.size() < kMinSubjectKeySize) {
        throw Error(Errc::Internal, std::string("[line] ") + name + " " + path.string() +
                                        " holds fewer than " + std::to_string(kMinSubjectKeySize) +
                                        " bytes (make one with: openssl rand -hex 32)");
    }
    return key;
}

}  // namespace

std::string SubjectHasher::hash(std::string_view channel_id, std::string_view sub) const {
    std::string value = subject_value(channel_id, sub);
    ScopedWipe wipe(value);
    return keyed_.keyed_hex(kSubjectContext, value);
}

std::vector<std::string> SubjectHasher::old_hashes(std::string_view channel_id,
                                                   std::string_view sub) const {
    std::string value = subject_value(channel_id, sub);
    ScopedWipe wipe(value);
    return keyed_.old_keyed_hex(kSubjectContext, value);
}

bool SubjectHasher::matches(std::string_view stored, std::string_view channel_id,
                            std::string_view sub) const {
    return secret_equal(stored, hash(channel_id, sub));
}

SubjectHasher subject_hasher(const policy::LinePolicy& line, const Hasher& host,
                             const SecretReader& reader) {
    if (line.subject_key_file.empty()) {
        return SubjectHasher(host);
    }
    SecretString key = subject_key("subject_key_file", line.subject_key_file, reader);
    std::vector<SecretString> old_keys;
    old_keys.reserve(line.subject_old_key_files.size());
    for (const auto& path : line.subject_old_key_files) {
        old_keys.push_back(subject_key("subject_old_key_files", path, reader));
    }
    return SubjectHasher(Hasher(key, old_keys));
}

}  // namespace lwauth::line
