#include "directory/ldap_directory.hpp"

#include <ldap.h>
#include <sys/time.h>

#include <memory>

#include "lwauth/error.hpp"

namespace lwauth {

namespace {

constexpr timeval kNetworkTimeout{5, 0};  // to connect
constexpr timeval kOperationTimeout{5, 0};  // each StartTLS, bind and search

struct LdapUnbind {
    void operator()(LDAP* ld) const noexcept { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
struct LdapMsgFree {
    void operator()(LDAPMessage* m) const noexcept { ldap_msgfree(m); }
};
struct BervalsFree {
    void operator()(berval** v) const noexcept { ldap_value_free_len(v); }
};
using LdapPtr = std::unique_ptr<LDAP, LdapUnbind>;
using MessagePtr = std::unique_ptr<LDAPMessage, LdapMsgFree>;
using BervalsPtr = std::unique_ptr<berval*, BervalsFree>;

[[noreturn]] void fail(const std::string& uri, const std::string& what, int rc) {
    throw Error(Errc::Unavailable, "directory " + uri + ": " + what + ": " + ldap_err2string(rc));
}

void set_option(LDAP* ld, int option, const void* value, const std::string& uri) {
    int rc = ldap_set_option(ld, option, value);
    if (rc != LDAP_OPT_SUCCESS) {
        fail(uri, "cannot set a connection option", rc);
    }
}

// An ldap:// connection is in clear until StartTLS (RFC 4513 section 3): a directory that
// cannot do it is refused rather than sent the bind password and users' numbers in clear.
// ldaps:// is TLS from the start; ldapi:// is a local socket that never leaves the host.
bool needs_start_tls(const std::string& uri) { return uri.rfind("ldap://", 0) == 0; }

// What a TLS connection's certificate must be, for a failure's reason.
std::string verified_by(const policy::DirectoryPolicy& config) {
    std::string ca = config.ldap_ca_file.empty() ? "the CA of /etc/ldap/ldap.conf"
                                                 : "ldap_ca_file " + config.ldap_ca_file.string();
    return "signed by " + ca + " for the URL's host name, or the TLS handshake failed";
}

LdapPtr connect(const policy::DirectoryPolicy& config, const SecretString& password) {
    const std::string& uri = config.ldap_uri;
    LDAP* raw = nullptr;
    int rc = ldap_initialize(&raw, uri.c_str());
    LdapPtr ld(raw);
    if (rc != LDAP_SUCCESS || !ld) {
        fail(uri, "bad URL", rc);
    }
    int version = LDAP_VERSION3;
    set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version, uri);
    set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &kNetworkTimeout, uri);
    set_option(ld.get(), LDAP_OPT_TIMEOUT, &kOperationTimeout, uri);
    set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF, uri);
    // The server's certificate and host name are always checked, against ldap_ca_file or
    // else libldap's CA (TLS_CACERT of /etc/ldap/ldap.conf). TLS options set on a handle
    // take effect only in a TLS context of its own: without LDAP_OPT_X_TLS_NEWCTX the
    // connection would use the process-wide context and its settings (ldap_get_option(3)).
    // ldapi:// has no TLS, and needs no CA.
    if (uri.rfind("ldapi://", 0) != 0) {
        if (!config.ldap_ca_file.empty()) {
            set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, config.ldap_ca_file.c_str(), uri);
        }
        int demand = LDAP_OPT_X_TLS_DEMAND;
        set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, uri);
        int client = 0;  // a client's context
        rc = ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &client);
        if (rc != LDAP_OPT_SUCCESS) {
            fail(uri, "cannot make a TLS context (is ldap_ca_file a readable PEM file?)", rc);
        }
    }
    // Connected here rather than at the first operation, so that a TLS failure on
    // ldaps:// (whose handshake is part of connecting) is told as such.
    rc = ldap_connect(ld.get());
    if (rc != LDAP_SUCCESS) {
        fail(uri,
             uri.rfind("ldaps://", 0) == 0
                 ? "cannot connect, or the server's certificate is not " + verified_by(config)
                 : "cannot connect",
             rc);
    }
    if (needs_start_tls(uri)) {
        rc = ldap_start_tls_s(ld.get(), nullptr, nullptr);
        // The server's answer comes first: LDAP_CONNECT_ERROR is the TLS handshake after
        // it; any other error is the server refusing StartTLS. Neither falls back to clear.
        if (rc == LDAP_CONNECT_ERROR) {
            fail(uri, "StartTLS failed: the server's certificate is not " + verified_by(config),
                 rc);
        }
        if (rc != LDAP_SUCCESS) {
            fail(uri, "StartTLS failed (required on ldap:// URLs; use ldaps:// or a server "
                      "that offers StartTLS)",
                 rc);
        }
    }
    if (!config.ldap_bind_dn.empty()) {
        berval credentials{static_cast<ber_len_t>(password.size()),
                           const_cast<char*>(password.c_str())};
        rc = ldap_sasl_bind_s(ld.get(), config.ldap_bind_dn.c_str(), LDAP_SASL_SIMPLE,
                              &credentials, nullptr, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
            fail(uri, "bind as " + config.ldap_bind_dn + " refused", rc);
        }
    }
    return ld;
}

std::optional<std::string> first_value(LDAP* ld, LDAPMessage* entry, const std::string& attr) {
    BervalsPtr values(ldap_get_values_len(ld, entry, attr.c_str()));
    if (!values || values.get()[0] == nullptr || values.get()[0]->bv_len == 0) {
        return std::nullopt;
    }
    return std::string(values.get()[0]->bv_val, values.get()[0]->bv_len);
}

DirectoryEntry search(LDAP* ld, const policy::DirectoryPolicy& config, const std::string& user) {
    DirectoryEntry entry{user, false, std::nullopt, std::nullopt};
    std::string filter = ldap_filter_for(config.ldap_filter, user);
    std::string phone = config.phone_attribute;
    std::string email = config.email_attribute;
    char* attrs[] = {phone.data(), email.data(), nullptr};
    timeval timeout = kOperationTimeout;
    LDAPMessage* raw = nullptr;
    // Two at most: a second match makes the answer ambiguous, and one is all we use.
    int rc = ldap_search_ext_s(ld, config.ldap_base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(),
                               attrs, 0, nullptr, nullptr, &timeout, 2, &raw);
    MessagePtr result(raw);
    if (rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_NO_SUCH_OBJECT) {
        return entry;  // ambiguous, or no such base: nobody
    }
    if (rc != LDAP_SUCCESS) {
        fail(config.ldap_uri, "search failed", rc);
    }
    if (ldap_count_entries(ld, result.get()) != 1) {
        return entry;
    }
    LDAPMessage* found = ldap_first_entry(ld, result.get());
    entry.found = true;
    entry.phone = first_value(ld, found, config.phone_attribute);
    entry.email = first_value(ld, found, config.email_attribute);
    return entry;
}

}  // namespace

std::string ldap_filter_for(const std::string& filter_template, const std::string& user) {
    std::string escaped;
    for (char c : user) {
        switch (c) {
        case '*': escaped += "\\2a"; break;
        case '(': escaped += "\\28"; break;
        case ')': escaped += "\\29"; break;
        case '\\': escaped += "\\5c"; break;
        case '\0': escaped += "\\00"; break;
        default: escaped += c;
        }
    }
    std::string out;
    for (size_t i = 0; i < filter_template.size(); ++i) {
        if (filter_template.compare(i, 2, "%u") == 0) {
            out += escaped;
            ++i;
        } else {
            out += filter_template[i];
        }
    }
    return out;
}

std::vector<DirectoryEntry> LdapDirectory::lookup(const std::vector<std::string>& users) {
    LdapPtr ld = connect(config_, password_);
    std::vector<DirectoryEntry> entries;
    entries.reserve(users.size());
    for (const std::string& user : users) {
        entries.push_back(search(ld.get(), config_, user));
    }
    return entries;
}

}  // namespace lwauth
