// The keyed hash of a LINE `sub` (subject.hpp).
#include "line/subject.hpp"

#include "lwauth/error.hpp"
#include "lwauth/secret.hpp"

namespace lwauth::line {

std::string SubjectHasher::hash(std::string_view channel_id, std::string_view sub) const {
    // keyed_hex(context, value) hashes context 0x00 value; the channel ID is joined to
    // `sub` the same way, so that no two (channel, sub) pairs give the same bytes
    // (a channel ID is digits only).
    std::string value;
    value.reserve(channel_id.size() + 1 + sub.size());
    value.append(channel_id).push_back('\0');
    value.append(sub);
    ScopedWipe wipe(value);
    return keyed_.keyed_hex(kSubjectContext, value);
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
    SecretString key = read_secret_file(line.subject_key_file.string(), reader);
    if (key.size() < kMinSubjectKeySize) {
        throw Error(Errc::Internal, "[line] subject_key_file " + line.subject_key_file.string() +
                                        " holds fewer than " + std::to_string(kMinSubjectKeySize) +
                                        " bytes (make one with: openssl rand -hex 32)");
    }
    return SubjectHasher(Hasher(key));
}

}  // namespace lwauth::line
