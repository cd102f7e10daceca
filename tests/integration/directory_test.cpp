// [directory] backend = ldap against a real OpenLDAP slapd that each test starts in its
// own temporary directory (slapadd of a small tree, listening on ldapi:// in that
// directory and on a loopback port, with TLS from a test CA or without), and a real
// lwauthd on a private bus.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <ldap.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "directory/ldap_directory.hpp"
#include "harness.hpp"
#include "lwauth/error.hpp"

namespace lwauth::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kBase = "dc=example,dc=com";
constexpr const char* kBindDn = "cn=admin,dc=example,dc=com";
constexpr const char* kAliceMobile = "+81 90 1234 5678";
constexpr const char* kAlicePhone = "+819012345678";
constexpr const char* kHanaPhone = "+819055550001";

std::string url_encoded_path(const std::string& path) {
    std::string out;
    for (char c : path) {
        out += c == '/' ? std::string("%2F") : std::string(1, c);
    }
    return out;
}

// slapd with the tree of alice (mobile and mail), bob (mail only) and hana (mobile), in
// `dir`. With TLS, it has a server certificate for 127.0.0.1 from the test CA
// (tests/integration/slapd_pki.sh, in dir/pki) and offers StartTLS on ldap:// and TLS on
// ldaps://; without, StartTLS is refused. Its log (dir/slapd.log) has each operation
// (loglevel stats), so that a test can tell that nothing was asked in clear.
class Slapd {
  public:
    enum class Tls { Off, On };

    Slapd(const fs::path& dir, Tls tls)
        : dir_(dir), port_(20000 + (::getpid() % 20000)), tls_(tls) {
        fs::create_directories(dir_ / "db");
        std::string tls_lines;
        if (tls_ == Tls::On) {
            RunResult pki =
                run({"/bin/bash", (source_dir() / "tests/integration/slapd_pki.sh").string(),
                     pki_dir().string()},
                    base_env());
            EXPECT_EQ(pki.exit_code, 0) << pki.err;
            tls_lines = "TLSCACertificateFile " + (pki_dir() / "ca.pem").string() +
                        "\nTLSCertificateFile " + (pki_dir() / "server.pem").string() +
                        "\nTLSCertificateKeyFile " + (pki_dir() / "server.key").string() + "\n";
        }
        write_file(dir_ / "slapd.conf",
                   "include /etc/ldap/schema/core.schema\n"
                   "include /etc/ldap/schema/cosine.schema\n"
                   "include /etc/ldap/schema/nis.schema\n"
                   "include /etc/ldap/schema/inetorgperson.schema\n"
                   "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                   "pidfile " + (dir_ / "slapd.pid").string() + "\n" + tls_lines +
                   "database mdb\nmaxsize 10485760\nsuffix \"" + kBase + "\"\n"
                   "rootdn \"" + kBindDn + "\"\nrootpw test-bind-password\n"
                   "directory " + (dir_ / "db").string() + "\n");
        write_file(dir_ / "tree.ldif",
                   "dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\n"
                   "dc: example\no: Example\n\n"
                   "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n"
                   "ou: people\n\n"
                   "dn: uid=alice,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
                   "uid: alice\ncn: Alice\nsn: A\nmobile: " + std::string(kAliceMobile) +
                       "\nmail: alice@example.com\n\n"
                   "dn: uid=bob,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
                   "uid: bob\ncn: Bob\nsn: B\nmail: bob@example.com\n\n"
                   "dn: uid=hana,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
                   "uid: hana\ncn: Hana\nsn: H\nmobile: " + std::string(kHanaPhone) + "\n");
        std::string add = "slapadd -q -f " + (dir_ / "slapd.conf").string() + " -l " +
                          (dir_ / "tree.ldif").string();
        EXPECT_EQ(std::system(add.c_str()), 0) << add;
    }
    ~Slapd() { stop(); }

    [[nodiscard]] std::string ldapi_uri() const {
        return "ldapi://" + url_encoded_path((dir_ / "ldapi").string());
    }
    [[nodiscard]] std::string plain_uri() const {
        return "ldap://127.0.0.1:" + std::to_string(port_);
    }
    [[nodiscard]] std::string ldaps_uri() const {
        return "ldaps://127.0.0.1:" + std::to_string(port_ + 1);
    }
    [[nodiscard]] fs::path pki_dir() const { return dir_ / "pki"; }
    /// What slapd has logged: its connections and each operation.
    [[nodiscard]] std::string log() const { return read_file(dir_ / "slapd.log"); }

    void start() {
        // In the foreground (-d) so that its log goes to slapd.log; the pidfile says it is up.
        std::string listen = ldapi_uri() + " " + plain_uri() + "/";
        if (tls_ == Tls::On) {
            listen += " " + ldaps_uri() + "/";
        }
        std::string run = "slapd -f " + (dir_ / "slapd.conf").string() + " -h '" + listen +
                          "' -d stats >>" + (dir_ / "slapd.log").string() + " 2>&1 &";
        ASSERT_EQ(std::system(run.c_str()), 0) << run;
        for (int i = 0; i < 100 && pid() <= 0; ++i) {
            std::this_thread::sleep_for(100ms);
        }
        ASSERT_GT(pid(), 0) << "slapd wrote no pidfile";
        // In the foreground, slapd writes its pidfile before its listener thread listens.
        bool listening = false;
        for (int i = 0; i < 200 && !listening; ++i) {
            listening = accepts_unix(dir_ / "ldapi") && accepts_tcp(port_) &&
                        (tls_ == Tls::Off || accepts_tcp(port_ + 1));
            if (!listening) {
                std::this_thread::sleep_for(50ms);
            }
        }
        ASSERT_TRUE(listening) << "slapd does not listen: " << log();
    }
    void stop() {
        pid_t p = pid();
        if (p <= 0) {
            return;
        }
        ::kill(p, SIGTERM);
        for (int i = 0; i < 200 && ::kill(p, 0) == 0; ++i) {
            std::this_thread::sleep_for(50ms);
        }
        fs::remove(dir_ / "slapd.pid");
    }

  private:
    static bool accepts(int domain, const sockaddr* address, socklen_t length) {
        int fd = ::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool connected = fd >= 0 && ::connect(fd, address, length) == 0;
        if (fd >= 0) {
            ::close(fd);
        }
        return connected;
    }
    static bool accepts_tcp(int port) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return accepts(AF_INET, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    }
    static bool accepts_unix(const fs::path& path) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::string name = path.string();
        if (name.size() >= sizeof address.sun_path) {
            return false;
        }
        std::copy(name.begin(), name.end(), address.sun_path);
        return accepts(AF_UNIX, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    }
    [[nodiscard]] pid_t pid() const {
        std::ifstream in(dir_ / "slapd.pid");
        pid_t p = 0;
        in >> p;
        return p;
    }
    fs::path dir_;
    int port_;
    Tls tls_;
};

class DirectoryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        slapd_ = std::make_unique<Slapd>(dir_ / "slapd", tls_);
        slapd_->start();
        write_file(password_file(), "test-bind-password\n", fs::perms(0600));
        ::chmod(password_file().c_str(), 0600);
        bus_ = std::make_unique<PrivateBus>(dir_.path());
    }

    [[nodiscard]] fs::path password_file() const { return dir_ / "ldap-password"; }

    /// The policy of a directory at `uri`, with `extra` lines in [directory].
    [[nodiscard]] std::string policy(const std::string& uri, const std::string& extra = "") const {
        return default_test_policy(dir_ / "outbox.jsonl") +
               "[policy]\ncontacts = admin\n\n[directory]\nbackend = ldap\nldap_uri = " + uri +
               "\nldap_base = " + kBase + "\nldap_bind_dn = " + kBindDn +
               "\nldap_password_file = " + password_file().string() + "\n" + extra;
    }

    void start_daemon(const std::string& uri, const std::string& extra = "") {
        daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy(uri, extra));
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
    }

    json status(const std::string& user) {
        RunResult r = daemon_->ctl(user, {"status", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return json::parse(r.out, nullptr, false);
    }

    std::string last_code() { return read_outbox(daemon_->outbox()).back().code(); }

    /// Alice's entry changed in the directory by `change` (LDIF lines after changetype)
    /// while lwauthd is stopped, and from its next start on the database refusing what
    /// `refused` names (e.g. "INSERT ON contacts WHEN NEW.user") for her: the pass fails,
    /// and her profile and login contact stay as they were, codes going where the profile
    /// says.
    void expect_a_change_the_store_refuses_to_change_nothing(const std::string& change,
                                                             const std::string& refused) {
        start_daemon(slapd_->ldapi_uri());
        ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
        ASSERT_EQ(daemon_->ctl("alice", {"two-step", "on"}).exit_code, 0);
        RunResult shown = daemon_->ctl("root", {"admin", "show", "alice", "--json"});
        json before = json::parse(shown.out, nullptr, false);
        ASSERT_TRUE(before.contains("phone") && before.contains("profile_phone")) << shown.out;

        ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
        write_file(dir_ / "change.ldif",
                   "dn: uid=alice,ou=people,dc=example,dc=com\nchangetype: modify\n" + change);
        std::string modify = "ldapmodify -x -H '" + slapd_->ldapi_uri() + "' -D '" + kBindDn +
                             "' -w test-bind-password -f " + (dir_ / "change.ldif").string() +
                             " >/dev/null";
        ASSERT_EQ(std::system(modify.c_str()), 0) << modify;
        daemon_->refuse_store_write(refused, "alice");
        ASSERT_TRUE(daemon_->start()) << daemon_->log();
        ASSERT_TRUE(daemon_->log_shows(Daemon::kStoreRefusal)) << daemon_->log();

        json after = json::parse(daemon_->ctl("root", {"admin", "show", "alice", "--json"}).out,
                                 nullptr, false);
        EXPECT_EQ(after["profile_phone"], before["profile_phone"])
            << "the profile must show the number the codes go to, and no other";
        EXPECT_EQ(after["phone"], before["phone"]);
        LoginResult login =
            login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
        EXPECT_EQ(login.verdict, "success") << daemon_->log();
        EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kAlicePhone);
    }

    /// How many binds and searches slapd has been asked for, over all connections.
    [[nodiscard]] size_t binds_and_searches() const {
        std::string asked = slapd_->log();
        size_t count = 0;
        for (const char* operation : {" BIND ", " SRCH "}) {
            for (size_t at = asked.find(operation); at != std::string::npos;
                 at = asked.find(operation, at + 1)) {
                ++count;
            }
        }
        return count;
    }

    Slapd::Tls tls_ = Slapd::Tls::Off;
    TempDir dir_{"lwauth-directory"};
    std::unique_ptr<Slapd> slapd_;
    std::unique_ptr<PrivateBus> bus_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(DirectoryTest, SyncedContactsServeALogin) {
    start_daemon(slapd_->ldapi_uri());
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    json alice = status("alice");
    EXPECT_EQ(alice["phone_source"], "admin") << alice.dump();
    EXPECT_EQ(status("bob")["email_source"], "admin");
    EXPECT_FALSE(status("bob").contains("phone"));
    EXPECT_EQ(daemon_->log().find("9012345678"), std::string::npos) << "never the number";

    ASSERT_EQ(daemon_->ctl("alice", {"two-step", "on"}).exit_code, 0) << daemon_->log();
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kAlicePhone);

    // Users cannot change what the directory holds, and are told who does.
    RunResult add = daemon_->ctl("alice", {"contact", "add", "phone", "+819011112222"});
    EXPECT_EQ(add.exit_code, 1);
    EXPECT_NE(add.err.find("Your phone number and email address come from the company "
                           "directory; ask your administrator to change them."),
              std::string::npos)
        << add.err;
    RunResult set = daemon_->ctl("root", {"admin", "contact", "set", "alice", "phone",
                                          "+819011112222"});
    EXPECT_NE(set.exit_code, 0);
    EXPECT_NE(set.err.find("come from the directory"), std::string::npos) << set.err;
    RunResult remove = daemon_->ctl("root", {"admin", "contact", "remove", "alice", "phone"});
    EXPECT_NE(remove.exit_code, 0);
    EXPECT_NE(remove.err.find("come from the directory"), std::string::npos) << remove.err;
    EXPECT_EQ(status("alice")["phone_source"], "admin");
    EXPECT_EQ(read_outbox(daemon_->outbox()).size(), 1u) << "nothing sent to the new number";
}

TEST_F(DirectoryTest, DirectoryDownTheCacheServesWithAWarning) {
    start_daemon(slapd_->ldapi_uri());
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    ASSERT_EQ(daemon_->ctl("alice", {"two-step", "on"}).exit_code, 0);
    slapd_->stop();
    daemon_->reload();  // a pass now
    ASSERT_TRUE(daemon_->log_shows("directory-sync-failed")) << daemon_->log();
    EXPECT_EQ(status("alice")["phone_source"], "admin");
    LoginResult login = login_as_root_with(bus_->address(), "alice", [&] { return last_code(); });
    EXPECT_EQ(login.verdict, "success") << daemon_->log();
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kAlicePhone);
}

TEST_F(DirectoryTest, ANewNumberTheStoreFailsToSaveLeavesCodesGoingWhereTheProfileSays) {
    // Alice's phone replaced in the directory; the login contact's write fails after the
    // profile's could go through.
    expect_a_change_the_store_refuses_to_change_nothing(
        "replace: mobile\nmobile: +81 90 1111 2222\n", "INSERT ON contacts WHEN NEW.user");
}

TEST_F(DirectoryTest, ARemovedNumberTheStoreFailsToRemoveLeavesCodesGoingWhereTheProfileSays) {
    // Alice's phone taken out of the directory; the login contact's removal fails after the
    // profile's could go through.
    expect_a_change_the_store_refuses_to_change_nothing("delete: mobile\n",
                                                        "DELETE ON contacts WHEN OLD.user");
}

TEST_F(DirectoryTest, ContactsOlderThanMaxAgeAreRemovedWhileTheDirectoryIsDown) {
    start_daemon(slapd_->ldapi_uri());
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    ASSERT_EQ(daemon_->stop(), 0);
    slapd_->stop();
    // The last good pass two days ago (max_age is one day by default).
    write_file(daemon_->state_dir() / "directory.synced",
               std::to_string(std::time(nullptr) - 2 * 24 * 3600) + "\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    ASSERT_TRUE(daemon_->log_shows("directory-expired")) << daemon_->log();
    EXPECT_FALSE(status("alice").contains("phone")) << status("alice").dump();
}

// A server that offers no StartTLS is refused, not spoken to in clear: no bind (with its
// password) and no search reaches it.
TEST_F(DirectoryTest, PlainLdapWithoutStartTlsIsRefused) {
    start_daemon(slapd_->plain_uri());
    ASSERT_TRUE(daemon_->log_shows("directory-sync-failed")) << daemon_->log();
    EXPECT_NE(daemon_->log().find("StartTLS failed (required on ldap:// URLs"), std::string::npos)
        << daemon_->log();
    EXPECT_FALSE(status("alice").contains("phone"));
    std::string start_tls = std::string("EXT oid=") + LDAP_EXOP_START_TLS;
    EXPECT_NE(slapd_->log().find(start_tls), std::string::npos) << slapd_->log();
    EXPECT_EQ(binds_and_searches(), 0u) << slapd_->log();
}

TEST_F(DirectoryTest, APasswordFileOthersCanReadIsRefused) {
    // At start, the policy's check refuses it; made readable later, the next pass does.
    ::chmod(password_file().c_str(), 0644);
    daemon_ = std::make_unique<Daemon>(dir_.path(), bus_->address(), policy(slapd_->ldapi_uri()));
    EXPECT_FALSE(daemon_->start());
    EXPECT_NE(daemon_->log().find(password_file().string()), std::string::npos) << daemon_->log();

    ::chmod(password_file().c_str(), 0600);
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    ::chmod(password_file().c_str(), 0644);
    daemon_->reload();
    ASSERT_TRUE(daemon_->log_shows("directory-sync-failed")) << daemon_->log();
    EXPECT_EQ(daemon_->log().find("test-bind-password"), std::string::npos);
}

TEST_F(DirectoryTest, AWrongBindPasswordIsRefused) {
    write_file(password_file(), "wrong\n", fs::perms(0600));
    start_daemon(slapd_->ldapi_uri());
    ASSERT_TRUE(daemon_->log_shows("directory-sync-failed")) << daemon_->log();
    EXPECT_NE(daemon_->log().find("refused"), std::string::npos) << daemon_->log();
}

// RFC 4515: the user name is a value, never filter syntax, against the real server.
TEST_F(DirectoryTest, AFilterInTheUserNameFindsNobody) {
    policy::DirectoryPolicy config;
    config.backend = policy::DirectoryBackend::Ldap;
    config.ldap_uri = slapd_->ldapi_uri();
    config.ldap_base = kBase;
    config.ldap_bind_dn = kBindDn;
    LdapDirectory directory(config, SecretString("test-bind-password"));
    auto entries = directory.lookup({"alice", "*)(uid=*", "*", "al*", "alice)(mail=*"});
    ASSERT_EQ(entries.size(), 5u);
    EXPECT_TRUE(entries[0].found);
    EXPECT_EQ(entries[0].phone, kAliceMobile);
    for (size_t i = 1; i < entries.size(); ++i) {
        EXPECT_FALSE(entries[i].found) << entries[i].user;
    }
    EXPECT_EQ(ldap_filter_for("(uid=%u)", "*)(uid=*"), "(uid=\\2a\\29\\28uid=\\2a)");
}

// slapd with a certificate of the test CA, for 127.0.0.1.
class DirectoryTlsTest : public DirectoryTest {
  protected:
    DirectoryTlsTest() { tls_ = Slapd::Tls::On; }

    [[nodiscard]] std::string ca_file_line(const std::string& name) const {
        return "ldap_ca_file = " + (slapd_->pki_dir() / name).string() + "\n";
    }
};

TEST_F(DirectoryTlsTest, StartTlsWithTheNamedCaSynchronizes) {
    start_daemon(slapd_->plain_uri(), ca_file_line("ca.pem"));
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    EXPECT_EQ(status("alice")["phone_source"], "admin") << status("alice").dump();
    EXPECT_EQ(status("bob")["email_source"], "admin");
    std::string asked = slapd_->log();
    EXPECT_NE(asked.find("STARTTLS"), std::string::npos) << asked;
    EXPECT_NE(asked.find("TLS established"), std::string::npos) << asked;
}

TEST_F(DirectoryTlsTest, LdapsWithTheNamedCaSynchronizes) {
    start_daemon(slapd_->ldaps_uri(), ca_file_line("ca.pem"));
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    EXPECT_EQ(status("alice")["phone_source"], "admin") << status("alice").dump();
    EXPECT_NE(slapd_->log().find("TLS established"), std::string::npos) << slapd_->log();
}

// A certificate that ldap_ca_file's CA did not sign (the server's is the test CA's;
// other-ca.pem is another) fails the pass with the reason, changes nothing, and nothing is asked
// of the server: no bind, no search.
TEST_F(DirectoryTlsTest, ACaThatDidNotSignTheCertificateFailsThePass) {
    start_daemon(slapd_->plain_uri(), ca_file_line("other-ca.pem"));
    ASSERT_TRUE(daemon_->log_shows("directory-sync-failed")) << daemon_->log();
    EXPECT_NE(daemon_->log().find("StartTLS failed: the server's certificate is not signed by "
                                  "ldap_ca_file " +
                                  (slapd_->pki_dir() / "other-ca.pem").string()),
              std::string::npos)
        << daemon_->log();
    EXPECT_EQ(daemon_->log_count("directory-synced"), 0u) << daemon_->log();
    EXPECT_FALSE(status("alice").contains("phone")) << status("alice").dump();
    EXPECT_EQ(binds_and_searches(), 0u) << slapd_->log();
}

// The same on ldaps://, and with a CA that did sign it once the pass has served: a failed
// pass keeps what the last good one wrote.
TEST_F(DirectoryTlsTest, LdapsWithACaThatDidNotSignTheCertificateChangesNothing) {
    start_daemon(slapd_->ldaps_uri(), ca_file_line("ca.pem"));
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    size_t asked = binds_and_searches();
    daemon_->write_policy(policy(slapd_->ldaps_uri(), ca_file_line("other-ca.pem")));
    daemon_->reload();
    ASSERT_TRUE(daemon_->log_shows("directory-sync-failed")) << daemon_->log();
    EXPECT_EQ(binds_and_searches(), asked) << slapd_->log();
    EXPECT_NE(daemon_->log().find("cannot connect, or the server's certificate is not signed by "
                                  "ldap_ca_file"),
              std::string::npos)
        << daemon_->log();
    EXPECT_EQ(status("alice")["phone_source"], "admin") << status("alice").dump();
}

// The system's CAs (the default) do not include the test CA: refused as well.
TEST_F(DirectoryTlsTest, WithoutLdapCaFileTheTestCaIsNotTrusted) {
    policy::DirectoryPolicy config;
    config.backend = policy::DirectoryBackend::Ldap;
    config.ldap_uri = slapd_->ldaps_uri();
    config.ldap_base = kBase;
    LdapDirectory directory(config, SecretString());
    try {
        (void)directory.lookup({"alice"});
        ADD_FAILURE() << "the test CA's certificate was trusted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("the CA of /etc/ldap/ldap.conf"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(binds_and_searches(), 0u) << slapd_->log();
}

TEST_F(DirectoryTlsTest, AMissingCaFileStopsTheStartAndThePolicyCheck) {
    std::string missing = (dir_ / "no-such-ca.pem").string();
    daemon_ =
        std::make_unique<Daemon>(dir_.path(), bus_->address(),
                                 policy(slapd_->ldaps_uri(), "ldap_ca_file = " + missing + "\n"));
    EXPECT_FALSE(daemon_->start());
    EXPECT_NE(daemon_->log().find("ldap_ca_file: " + missing + ": No such file or directory"),
              std::string::npos)
        << daemon_->log();
    RunResult check = daemon_->ctl("root", {"policy", "check", daemon_->config_dir().string()});
    EXPECT_NE(check.exit_code, 0);
    EXPECT_NE((check.out + check.err).find("ldap_ca_file: " + missing), std::string::npos)
        << check.out << check.err;
}

// A user whom NSS resolves but does not enumerate (sssd with enumerate = false) and who
// has never logged in is in no pass. Her first login finds no contact and goes the usual
// way (refused: no contact) without waiting on the directory; it has her looked up, and
// her next login sends the code to the directory's number.
TEST_F(DirectoryTest, AUserThePassDoesNotListIsLookedUpAtHerFirstLogin) {
    write_file(dir_ / "passwd.hidden", "hana:x:40200:40200:hana:/nonexistent:/bin/sh\n");
    daemon_ = std::make_unique<Daemon>(
        dir_.path(), bus_->address(),
        policy(slapd_->ldapi_uri()) + "\n[user:hana]\ntwo_step = required\n");
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    ASSERT_TRUE(daemon_->log_shows("directory-synced")) << daemon_->log();
    // Alice and bob: hana is not among the users the pass looked up.
    EXPECT_NE(daemon_->log().find(" found=2 "), std::string::npos) << daemon_->log();

    LoginResult first = login_as_root_with(bus_->address(), "hana", [] { return ""; });
    EXPECT_EQ(first.verdict, "denied") << daemon_->log();
    EXPECT_TRUE(daemon_->log_shows("login-no-contact")) << daemon_->log();
    ASSERT_TRUE(daemon_->log_shows("event=directory-looked-up user=hana found=1"))
        << daemon_->log();

    LoginResult next = login_as_root_with(bus_->address(), "hana", [&] { return last_code(); });
    EXPECT_EQ(next.verdict, "success") << daemon_->log();
    ASSERT_FALSE(read_outbox(daemon_->outbox()).empty());
    EXPECT_EQ(read_outbox(daemon_->outbox()).back().destination, kHanaPhone);
    EXPECT_EQ(daemon_->log().find("55550001"), std::string::npos) << "never the number";
}

}  // namespace
}  // namespace lwauth::test
