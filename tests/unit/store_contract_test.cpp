// The store contract: the same cases against every backend, through the asynchronous
// interface (AsyncStore) alone, each call checked to answer exactly once. A new backend
// plugs in as one more entry of `Backends` below: a type whose open() returns a handle on
// one set of data, empty at first, and whose run_until(answered) runs whatever the
// backend answers from (its event loop) until answered() is true; a backend that answers
// at once (through ImmediateStore) has nothing to run. A backend whose data two handles
// can share (a file, a server) goes in `SharedBackends` too, for the concurrency cases:
// there each open() is another handle on the same data.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "deferred_store.hpp"
#include "fakes.hpp"
#include "lwauth/result.hpp"
#include "store/async_store.hpp"
#include "store/contact_cipher.hpp"
#include "store/memory_store.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"
#include "store/threaded_store.hpp"

namespace lwauth {
namespace {

constexpr const char* kPhone = "+819012345678";
constexpr const char* kEmail = "taro@example.com";

// ---- The backends -----------------------------------------------------------------------

// A contacts cipher with the key `key` and the earlier keys `old_keys`.
ContactCipher test_cipher(RandomSource& random, const std::string& key,
                          const std::vector<std::string>& old_keys) {
    std::vector<SecretString> old;
    for (const auto& k : old_keys) {
        old.emplace_back(k);
    }
    return ContactCipher(SecretString(key), random, std::move(old));
}

struct MemoryBackend {
    static constexpr const char* kName = "Memory";
    std::unique_ptr<AsyncStore> open() {
        return std::make_unique<ImmediateStore>(std::make_unique<MemoryStore>());
    }
    void run_until(const std::function<bool()>& /*answered*/) {}
};

struct SqliteBackend {
    static constexpr const char* kName = "Sqlite";
    // Every open() is another connection to the same file, as a second lwauthd would be.
    std::unique_ptr<AsyncStore> open() { return open_keyed(std::string(32, 'c'), {}); }
    /// A handle whose contacts key is `key`, `old_keys` the earlier ones.
    std::unique_ptr<AsyncStore> open_keyed(const std::string& key,
                                           const std::vector<std::string>& old_keys) {
        return std::make_unique<ImmediateStore>(
            std::make_unique<SqliteStore>(path_, test_cipher(random_, key, old_keys)));
    }
    void run_until(const std::function<bool()>& /*answered*/) {}
    /// From now on every write of a login contact of `user` fails, as a statement does when
    /// the disk or the database gives out: a trigger put in behind the store's back.
    void refuse_login_contacts(const std::string& user) {
        refuse("refuse_login_contacts BEFORE INSERT ON contacts WHEN NEW.user = '" + user + "'");
    }
    /// From now on every removal of a login contact of `user` fails, as refuse_login_contacts.
    void refuse_login_contact_removals(const std::string& user) {
        refuse("refuse_login_contact_removals BEFORE DELETE ON contacts WHEN OLD.user = '" + user +
               "'");
    }

  private:
    /// Puts in the trigger `what` (its name, time, table and condition) that aborts.
    void refuse(const std::string& what) {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
        SqlitePtr db(raw);
        const std::string sql =
            "CREATE TRIGGER " + what + " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END";
        ASSERT_EQ(sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    }

    test::TempDir dir_;
    std::string path_ = dir_.file("lwauth.db");
    OpenSslRandom random_;
};

// A backend that answers later, as one on the network does: MemoryStore's answers held
// until run_until runs them.
struct DeferredBackend {
    static constexpr const char* kName = "Deferred";
    std::unique_ptr<AsyncStore> open() {
        auto handle = std::make_unique<test::DeferredStore>(
            std::make_unique<ImmediateStore>(std::make_unique<MemoryStore>()));
        handles_.push_back(handle.get());
        return handle;
    }
    void run_until(const std::function<bool()>& answered) {
        for (test::DeferredStore* handle : handles_) {
            while (!answered() && handle->run_one()) {
            }
        }
    }

  private:
    std::vector<test::DeferredStore*> handles_;  // the test's, alive while it runs
};

// A database of its own on the tests' PostgreSQL cluster (tests/support/pg-cluster, the
// CTest fixture "postgres", on the socket directory in LWAUTH_TEST_PGHOST), dropped after
// the test. Without the cluster the tests are skipped.
class PgDatabase {
  public:
    PgDatabase() {
        const char* host = std::getenv("LWAUTH_TEST_PGHOST");
        if (host == nullptr || !std::filesystem::exists(std::string(host) + "/.s.PGSQL.5432")) {
            return;
        }
        host_ = host;
        static std::atomic<int> counter{0};
        name_ = "contract_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
        admin("CREATE DATABASE " + name_);
    }
    ~PgDatabase() {
        if (!name_.empty()) {
            admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        }
    }
    PgDatabase(const PgDatabase&) = delete;
    PgDatabase& operator=(const PgDatabase&) = delete;

    [[nodiscard]] bool available() const { return !name_.empty(); }
    /// A handle's Store: a connection of its own, as another lwauthd's would be.
    std::unique_ptr<Store> store(RandomSource& random, const std::string& host = "host-a",
                                 const std::string& key = std::string(32, 'c'),
                                 const std::vector<std::string>& old_keys = {}) const {
        return machine_store(random, {host, {}}, key, old_keys);
    }
    /// The Store of `machine`, which adopts the rows of its host name at its first connection.
    std::unique_ptr<Store> machine_store(RandomSource& random, ThisMachine machine,
                                         const std::string& key = std::string(32, 'c'),
                                         const std::vector<std::string>& old_keys = {}) const {
        PgConnection connection{"host=" + host_ + " user=lwauth dbname=" + name_,
                                SecretString(password())};
        return std::make_unique<PgStore>(std::move(connection), std::move(machine),
                                         test_cipher(random, key, old_keys));
    }

    /// Runs SQL on the database itself, as another program could (a test's tampering).
    void exec(const std::string& sql) const {
        std::string conninfo =
            "host=" + host_ + " user=lwauth dbname=" + name_ + " password=" + password();
        PgConnPtr conn(PQconnectdb(conninfo.c_str()));
        PQclear(PQexec(conn.get(), sql.c_str()));
    }

  private:
    std::string password() const {
        std::ifstream in(host_ + "/password");
        std::string line;
        std::getline(in, line);
        return line;
    }
    void admin(const std::string& sql) const {
        std::string conninfo =
            "host=" + host_ + " user=lwauth dbname=postgres password=" + password();
        PgConnPtr conn(PQconnectdb(conninfo.c_str()));
        PQclear(PQexec(conn.get(), sql.c_str()));
    }

    std::string host_;
    std::string name_;
};

// PostgreSQL through the connection threads lwauthd runs it on (ThreadedStore), answering
// on a loop of the test's.
struct PostgresBackend {
    static constexpr const char* kName = "Postgres";
    PostgresBackend() {
        sd_event* event = nullptr;
        sd_event_new(&event);
        event_.reset(event);
    }
    [[nodiscard]] bool available() const { return database_.available(); }
    std::unique_ptr<AsyncStore> open() { return open_keyed(std::string(32, 'c'), {}); }
    std::unique_ptr<AsyncStore> open_keyed(const std::string& key,
                                           const std::vector<std::string>& old_keys) {
        if (!available()) {
            return std::make_unique<ImmediateStore>(std::make_unique<MemoryStore>());
        }
        std::vector<std::unique_ptr<Store>> stores;
        stores.push_back(database_.store(random_, "host-a", key, old_keys));
        stores.push_back(database_.store(random_, "host-a", key, old_keys));
        return std::make_unique<ThreadedStore>(event_.get(), std::move(stores));
    }
    void run_until(const std::function<bool()>& answered) {
        while (!answered()) {
            sd_event_run(event_.get(), 100000);
        }
    }
    /// SqliteBackend::refuse_login_contacts on PostgreSQL.
    void refuse_login_contacts(const std::string& user) {
        database_.exec(
            "CREATE FUNCTION refuse_login_contact() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; "
            "CREATE TRIGGER refuse_login_contacts BEFORE INSERT OR UPDATE ON contacts "
            "FOR EACH ROW WHEN (NEW.user_name = '" +
            user + "') EXECUTE FUNCTION refuse_login_contact();");
    }
    /// SqliteBackend::refuse_login_contact_removals on PostgreSQL.
    void refuse_login_contact_removals(const std::string& user) {
        database_.exec(
            "CREATE FUNCTION refuse_login_contact_removal() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; "
            "CREATE TRIGGER refuse_login_contact_removals BEFORE DELETE ON contacts "
            "FOR EACH ROW WHEN (OLD.user_name = '" +
            user + "') EXECUTE FUNCTION refuse_login_contact_removal();");
    }

  private:
    OpenSslRandom random_;
    EventPtr event_;
    PgDatabase database_;
};

// PostgreSQL for the cases of two handles at once, each on its own thread: each open() is
// another connection, answering at once, as another host's lwauthd would share the data.
struct PostgresSharedBackend {
    static constexpr const char* kName = "Postgres";
    [[nodiscard]] bool available() const { return database_.available(); }
    std::unique_ptr<AsyncStore> open() {
        if (!available()) {
            return std::make_unique<ImmediateStore>(std::make_unique<MemoryStore>());
        }
        return std::make_unique<ImmediateStore>(database_.store(random_));
    }
    void run_until(const std::function<bool()>& /*answered*/) {}

  private:
    OpenSslRandom random_;
    PgDatabase database_;
};

using Backends = ::testing::Types<MemoryBackend, SqliteBackend, DeferredBackend, PostgresBackend>;

struct BackendName {
    template <class B>
    static std::string GetName(int) {
        return B::kName;
    }
};

// A handle of the asynchronous interface, each operation waited for: started, the backend
// run until it answers, its result checked to come exactly once, its error thrown.
class Awaited {
  public:
    Awaited(AsyncStore& store, std::function<void(const std::function<bool()>&)> run_until)
        : store_(store), run_until_(std::move(run_until)) {}

    UserState load_user(const std::string& u) { return get<UserState>(&AsyncStore::load_user, u); }
    LockState lock_state(const std::string& u) {
        return get<LockState>(&AsyncStore::lock_state, u);
    }
    std::vector<std::string> list_users() {
        return get<std::vector<std::string>>(&AsyncStore::list_users);
    }
    void save_contact(const std::string& u, const Contact& c) {
        get<void>(&AsyncStore::save_contact, u, c);
    }
    void remove_contact(const std::string& u, const std::string& kind) {
        get<void>(&AsyncStore::remove_contact, u, kind);
    }
    bool remove_contact_and_two_step(const std::string& u, const std::string& kind,
                                     const OtherFactors& others = {}) {
        return get<bool>(&AsyncStore::remove_contact_and_two_step, u, kind, others);
    }
    Removal remove_second_factor(const std::string& u, const std::string& factor,
                                 const RemovalRule& rule) {
        return get<Removal>(&AsyncStore::remove_second_factor, u, factor, rule);
    }
    void set_two_step(const std::string& u, bool on) {
        get<void>(&AsyncStore::set_two_step, u, on);
    }
    void save_contact_and_two_step(const std::string& u, const Contact& c, bool on) {
        get<void>(&AsyncStore::save_contact_and_two_step, u, c, on);
    }
    void set_totp_and_two_step(const std::string& u, std::string_view secret, int64_t step,
                               bool on) {
        get<void>(&AsyncStore::set_totp_and_two_step, u, secret, step, on);
    }
    void set_profile_contact(const std::string& u, const Contact& c) {
        get<void>(&AsyncStore::set_profile_contact, u, c);
    }
    void save_profile_and_login_contact(const std::string& u, const Contact& c) {
        get<void>(&AsyncStore::save_profile_and_login_contact, u, c);
    }
    void remove_profile_contact(const std::string& u, const std::string& kind) {
        get<void>(&AsyncStore::remove_profile_contact, u, kind);
    }
    bool remove_profile_and_login_contact(const std::string& u, const std::string& kind,
                                          const std::optional<OtherFactors>& others) {
        return get<bool>(&AsyncStore::remove_profile_and_login_contact, u, kind, others);
    }
    void set_line_link(const std::string& u, const std::string& h) {
        get<void>(&AsyncStore::set_line_link, u, h);
    }
    bool replace_line_link(const std::string& u, const std::string& old_h,
                           const std::string& new_h) {
        return get<bool>(&AsyncStore::replace_line_link, u, old_h, new_h);
    }
    void set_pin_hash(const std::string& u, const std::string& h) {
        get<void>(&AsyncStore::set_pin_hash, u, h);
    }
    bool replace_pin_hash(const std::string& u, const std::string& old_h,
                          const std::string& new_h) {
        return get<bool>(&AsyncStore::replace_pin_hash, u, old_h, new_h);
    }
    void set_pin(const std::string& u, const std::string& h) {
        get<void>(&AsyncStore::set_pin, u, h);
    }
    void set_totp_pending(const std::string& u, std::string_view secret, int64_t until) {
        get<void>(&AsyncStore::set_totp_pending, u, secret, until);
    }
    void set_totp(const std::string& u, std::string_view secret, int64_t step) {
        get<void>(&AsyncStore::set_totp, u, secret, step);
    }
    bool use_totp_step(const std::string& u, int64_t step) {
        return get<bool>(&AsyncStore::use_totp_step, u, step);
    }
    void set_recovery_codes(const std::string& u, const std::vector<std::string>& hashes) {
        get<void>(&AsyncStore::set_recovery_codes, u, hashes);
    }
    int use_recovery_code(const std::string& u, const std::string& hash) {
        return get<int>(&AsyncStore::use_recovery_code, u, hash);
    }
    int add_pin_failure(const std::string& u) { return get<int>(&AsyncStore::add_pin_failure, u); }
    void clear_pin_failures(const std::string& u) {
        get<void>(&AsyncStore::clear_pin_failures, u);
    }
    FingerprintFailures add_fingerprint_failure(const std::string& u, int64_t now) {
        return get<FingerprintFailures>(&AsyncStore::add_fingerprint_failure, u, now);
    }
    void clear_fingerprint_failures(const std::string& u) {
        get<void>(&AsyncStore::clear_fingerprint_failures, u);
    }
    void record_full_login(const std::string& u, int64_t now) {
        get<void>(&AsyncStore::record_full_login, u, now);
    }
    int64_t start_enroll_grace(const std::string& u, int64_t now) {
        return get<int64_t>(&AsyncStore::start_enroll_grace, u, now);
    }
    void clear_enroll_grace(const std::string& u) { get<void>(&AsyncStore::clear_enroll_grace, u); }
    void remember_host(const std::string& u, const RememberedHost& h) {
        get<void>(&AsyncStore::remember_host, u, h);
    }
    std::optional<RememberedHost> remembered_host(const std::string& u, const std::string& service,
                                                  const std::string& origin) {
        return get<std::optional<RememberedHost>>(&AsyncStore::remembered_host, u, service, origin);
    }
    std::vector<RememberedHost> remembered_hosts(const std::string& u) {
        return get<std::vector<RememberedHost>>(&AsyncStore::remembered_hosts, u);
    }
    int forget_hosts(const std::string& u, int64_t before = 0) {
        return get<int>(&AsyncStore::forget_hosts, u, before);
    }
    void prune_hosts(int64_t now) { get<void>(&AsyncStore::prune_hosts, now); }
    FailureCount add_failure(const std::string& u, const LockRule& rule = {}) {
        return get<FailureCount>(&AsyncStore::add_failure, u, rule);
    }
    int add_passwordless_failure(const std::string& u) {
        return get<int>(&AsyncStore::add_passwordless_failure, u);
    }
    void lock(const std::string& u, int64_t until) { get<void>(&AsyncStore::lock, u, until); }
    void clear_failures(const std::string& u) { get<void>(&AsyncStore::clear_failures, u); }
    bool clear_failures_unless_locked(const std::string& u, int64_t now) {
        return get<bool>(&AsyncStore::clear_failures_unless_locked, u, now);
    }
    void reset(const std::string& u, const ResetScope& scope) {
        get<void>(&AsyncStore::reset, u, scope);
    }
    RekeyCounts rekey_user(const std::string& u) {
        return get<RekeyCounts>(&AsyncStore::rekey_user, u);
    }
    SendReservation reserve_send(const std::vector<SendCap>& caps, int64_t since, int64_t at) {
        return get<SendReservation>(&AsyncStore::reserve_send, caps, since, at);
    }
    SendReservation check_send(const std::vector<SendCap>& caps, int64_t since, int64_t at) {
        return get<SendReservation>(&AsyncStore::check_send, caps, since, at);
    }
    void release_send(const SendReservation& r) { get<void>(&AsyncStore::release_send, r); }
    void count_event(const std::vector<std::string>& keys, int64_t at) {
        get<void>(&AsyncStore::count_event, keys, at);
    }
    int sends_since(const std::string& key, int64_t since) {
        return get<int>(&AsyncStore::sends_since, key, since);
    }
    void prune_sends(int64_t before) { get<void>(&AsyncStore::prune_sends, before); }

    void put_confirmation(const std::string& u, const Confirmation& c) {
        get<void>(&AsyncStore::put_confirmation, u, c);
    }
    std::vector<Confirmation> confirmations(const std::string& u) {
        return get<std::vector<Confirmation>>(&AsyncStore::confirmations, u);
    }
    int drop_confirmations(const std::string& u, const std::string& kind,
                           const std::string& source = "") {
        return get<int>(&AsyncStore::drop_confirmations, u, kind, source);
    }
    ConfirmationAnswer answer_confirmation(const std::string& u, const std::string& kind,
                                           const std::string& hash, int64_t now) {
        return get<ConfirmationAnswer>(&AsyncStore::answer_confirmation, u, kind, hash, now);
    }
    void prune_confirmations(int64_t now) { get<void>(&AsyncStore::prune_confirmations, now); }

  private:
    template <class T, class Op, class... Args>
    T get(Op op, const Args&... args) {
        std::optional<Result<T>> result;
        int calls = 0;
        (store_.*op)(args..., [&](Result<T> r) {
            ++calls;
            result.emplace(std::move(r));
        });
        run_until_([&] { return calls > 0; });
        EXPECT_EQ(calls, 1) << "an operation's done is called exactly once";
        if (!result) {
            throw std::logic_error("the store never answered");
        }
        return std::move(*result).value();
    }

    AsyncStore& store_;
    std::function<void(const std::function<bool()>&)> run_until_;
};

// A send of `user` to `destination` at `at`, reserved against caps it cannot reach.
SendReservation record_send(Awaited& store, const std::string& user, const std::string& destination,
                            int64_t at) {
    SendReservation r = store.reserve_send(
        {{"user:" + user, 1000}, {"destination:" + destination, 1000}, {"host", 1000}}, 0, at);
    EXPECT_TRUE(r.reserved());
    return r;
}

template <class B>
class StoreContract : public ::testing::Test {
  public:
    void SetUp() override {
        if constexpr (requires(const B& b) { b.available(); }) {
            if (!backend_.available()) {
                GTEST_SKIP() << "no PostgreSQL cluster: run through ctest (fixture postgres)";
            }
        }
    }
    Awaited& store() { return store_; }
    /// Another handle, waited for as store() is.
    Awaited awaited(AsyncStore& handle) {
        return Awaited(handle, [this](const auto& answered) { backend_.run_until(answered); });
    }

    B backend_;
    std::unique_ptr<AsyncStore> handle_ = backend_.open();
    Awaited store_ = awaited(*handle_);
};

TYPED_TEST_SUITE(StoreContract, Backends, BackendName);

// ---- Users and contacts -----------------------------------------------------------------

TYPED_TEST(StoreContract, AnUnknownUserHasTheDefaultState) {
    Awaited& store = this->store();
    UserState state = store.load_user("nobody");
    EXPECT_TRUE(state.empty());
    EXPECT_FALSE(state.enrolled);
    EXPECT_EQ(store.lock_state("nobody").failures, 0);
    EXPECT_EQ(store.lock_state("nobody").locked_until, 0);
    EXPECT_TRUE(store.list_users().empty());
}

TYPED_TEST(StoreContract, UserStateRoundTrips) {
    Awaited& store = this->store();
    store.save_contact("taro", {"phone", kPhone, "profile"});
    store.save_contact("taro", {"email", kEmail});
    store.set_profile_contact("taro", {"phone", "+14155552671", "self"});
    store.set_two_step("taro", true);
    store.set_line_link("taro", "hmac-of-the-subject");
    store.set_pin_hash("taro", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    UserState state = store.load_user("taro");
    EXPECT_TRUE(state.two_step);
    EXPECT_TRUE(state.line_linked);
    EXPECT_EQ(state.line_link, "hmac-of-the-subject") << "what the LINE login compares";
    EXPECT_TRUE(state.pin_set);
    EXPECT_EQ(state.pin_hash, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        << "what the PIN login checks";
    EXPECT_TRUE(state.enrolled);
    ASSERT_EQ(state.contacts.size(), 2u);
    EXPECT_EQ(state.contacts[0].kind, "email") << "in kind order";
    EXPECT_EQ(state.contacts[0].value, kEmail);
    EXPECT_EQ(state.contacts[0].source, "self");
    EXPECT_EQ(state.contacts[1].value, kPhone);
    EXPECT_EQ(state.contacts[1].source, "profile");
    ASSERT_EQ(state.profile.size(), 1u);
    EXPECT_EQ(state.profile[0].value, "+14155552671");
    EXPECT_EQ(state.profile[0].source, "admin") << "a profile contact is the administrator's";

    store.set_two_step("taro", false);
    store.set_line_link("taro", "");
    store.set_pin_hash("taro", "");
    state = store.load_user("taro");
    EXPECT_FALSE(state.two_step);
    EXPECT_FALSE(state.line_linked);
    EXPECT_EQ(state.line_link, "");
    EXPECT_FALSE(state.pin_set);
    EXPECT_TRUE(store.load_user("jiro").contacts.empty()) << "one user's contacts are theirs";
}

TYPED_TEST(StoreContract, SavingAContactReplacesTheOneOfTheSameKind) {
    Awaited& store = this->store();
    store.save_contact("taro", {"phone", kPhone});
    store.save_contact("taro", {"phone", "+14155552671", "admin"});
    UserState state = store.load_user("taro");
    ASSERT_EQ(state.contacts.size(), 1u);
    EXPECT_EQ(state.contacts[0].value, "+14155552671");
    EXPECT_EQ(state.contacts[0].source, "admin");
}

TYPED_TEST(StoreContract, RemovesOneContactKindOfLoginOrProfile) {
    Awaited& store = this->store();
    store.save_contact("taro", {"phone", kPhone});
    store.save_contact("taro", {"email", kEmail});
    store.set_profile_contact("taro", {"phone", kPhone, "admin"});
    store.set_profile_contact("taro", {"email", kEmail, "admin"});
    store.set_profile_contact("taro", {"email", "hanako@example.com", "admin"});  // replaces
    store.remove_contact("taro", "phone");
    store.remove_profile_contact("taro", "phone");
    UserState state = store.load_user("taro");
    EXPECT_EQ(state.contact("phone"), nullptr);
    ASSERT_NE(state.contact("email"), nullptr);
    EXPECT_EQ(state.profile_contact("phone"), nullptr);
    ASSERT_EQ(state.profile.size(), 1u);
    EXPECT_EQ(state.profile[0].value, "hanako@example.com");
    store.remove_profile_contact("taro", "email");
    EXPECT_TRUE(store.load_user("taro").profile.empty());
}

TYPED_TEST(StoreContract, AnAdministratorsContactIsSavedAsProfileAndLoginContactAtOnce) {
    Awaited& store = this->store();
    store.save_contact("taro", {"phone", "+14155552671", "self"});
    store.save_profile_and_login_contact("taro", {"phone", kPhone, "admin"});
    UserState taro = store.load_user("taro");
    ASSERT_NE(taro.profile_contact("phone"), nullptr);
    EXPECT_EQ(taro.profile_contact("phone")->value, kPhone);
    ASSERT_EQ(taro.contacts.size(), 1u) << "it replaces the login contact of its kind";
    EXPECT_EQ(taro.contact("phone")->value, kPhone);
    EXPECT_EQ(taro.contact("phone")->source, "admin");
    EXPECT_TRUE(taro.enrolled);

    store.save_profile_and_login_contact("taro", {"email", kEmail, "admin"});
    taro = store.load_user("taro");
    EXPECT_EQ(taro.profile.size(), 2u);
    EXPECT_EQ(taro.contacts.size(), 2u);
    EXPECT_EQ(taro.contact("phone")->value, kPhone) << "each kind is its own";
}

TYPED_TEST(StoreContract, AnAdministratorsContactThatFailsMidwayChangesNeitherValue) {
    if constexpr (!requires(TypeParam & b) { b.refuse_login_contacts(std::string()); }) {
        GTEST_SKIP() << TypeParam::kName << " has no write that can fail midway";
    } else {
        Awaited& store = this->store();
        store.save_profile_and_login_contact("taro", {"phone", kPhone, "admin"});
        this->backend_.refuse_login_contacts("taro");
        ASSERT_THROW(store.save_contact("taro", {"email", kEmail}), Error)
            << "the second write fails from now on";

        // A lost phone replaced: the profile's write comes first, the login contact's fails.
        EXPECT_THROW(
            store.save_profile_and_login_contact("taro", {"phone", "+14155552671", "admin"}),
            Error);
        UserState taro = store.load_user("taro");
        ASSERT_NE(taro.profile_contact("phone"), nullptr);
        EXPECT_EQ(taro.profile_contact("phone")->value, kPhone)
            << "the profile must not show a number the codes do not go to";
        ASSERT_NE(taro.contact("phone"), nullptr);
        EXPECT_EQ(taro.contact("phone")->value, kPhone);

        EXPECT_THROW(store.save_profile_and_login_contact("taro", {"email", kEmail, "admin"}),
                     Error);
        taro = store.load_user("taro");
        EXPECT_EQ(taro.profile_contact("email"), nullptr) << "no new kind half-saved either";
        EXPECT_EQ(taro.contact("email"), nullptr);
    }
}

TYPED_TEST(StoreContract, AnAdministratorsRemovalTakesProfileAndLoginContactAtOnce) {
    Awaited& store = this->store();
    store.save_profile_and_login_contact("taro", {"phone", kPhone, "admin"});
    store.save_profile_and_login_contact("taro", {"email", kEmail, "admin"});
    store.set_two_step("taro", true);
    EXPECT_FALSE(store.remove_profile_and_login_contact("taro", "phone", OtherFactors{}));
    UserState taro = store.load_user("taro");
    EXPECT_EQ(taro.profile_contact("phone"), nullptr);
    EXPECT_EQ(taro.contact("phone"), nullptr);
    EXPECT_TRUE(taro.two_step) << "the email is left";
    EXPECT_TRUE(store.remove_profile_and_login_contact("taro", "email", OtherFactors{}))
        << "the last login contact takes 2-step with it";
    taro = store.load_user("taro");
    EXPECT_TRUE(taro.profile.empty());
    EXPECT_TRUE(taro.contacts.empty());
    EXPECT_FALSE(taro.two_step);

    // The user's own number is not the profile's: only the profile's value goes.
    store.set_profile_contact("jiro", {"phone", kPhone, "admin"});
    store.save_contact("jiro", {"phone", "+14155552671", "self"});
    store.set_two_step("jiro", true);
    EXPECT_FALSE(store.remove_profile_and_login_contact("jiro", "phone", OtherFactors{}));
    UserState jiro = store.load_user("jiro");
    EXPECT_EQ(jiro.profile_contact("phone"), nullptr);
    ASSERT_NE(jiro.contact("phone"), nullptr);
    EXPECT_EQ(jiro.contact("phone")->value, "+14155552671");
    EXPECT_TRUE(jiro.two_step);

    // Without others (the directory's removal), 2-step stays as it is: fail closed.
    store.save_profile_and_login_contact("hana", {"phone", kPhone, "admin"});
    store.set_two_step("hana", true);
    EXPECT_FALSE(store.remove_profile_and_login_contact("hana", "phone", std::nullopt));
    UserState hana = store.load_user("hana");
    EXPECT_TRUE(hana.profile.empty());
    EXPECT_TRUE(hana.contacts.empty());
    EXPECT_TRUE(hana.two_step);
}

TYPED_TEST(StoreContract, AnAdministratorsRemovalThatFailsMidwayRemovesNeitherValue) {
    if constexpr (!requires(TypeParam & b) { b.refuse_login_contact_removals(std::string()); }) {
        GTEST_SKIP() << TypeParam::kName << " has no write that can fail midway";
    } else {
        Awaited& store = this->store();
        store.save_profile_and_login_contact("taro", {"phone", kPhone, "admin"});
        store.set_two_step("taro", true);
        this->backend_.refuse_login_contact_removals("taro");
        ASSERT_THROW(store.remove_contact("taro", "phone"), Error)
            << "the second write fails from now on";

        // A lost phone removed: the profile's removal comes first, the login contact's fails.
        for (const std::optional<OtherFactors>& others :
             {std::optional<OtherFactors>(OtherFactors{}), std::optional<OtherFactors>()}) {
            EXPECT_THROW(store.remove_profile_and_login_contact("taro", "phone", others), Error);
            UserState taro = store.load_user("taro");
            ASSERT_NE(taro.profile_contact("phone"), nullptr)
                << "the profile must not hide a number the codes still go to";
            EXPECT_EQ(taro.profile_contact("phone")->value, kPhone);
            ASSERT_NE(taro.contact("phone"), nullptr);
            EXPECT_EQ(taro.contact("phone")->value, kPhone);
            EXPECT_TRUE(taro.two_step);
        }
    }
}

TYPED_TEST(StoreContract, ListsTheUsersWithStateOnlyInNameOrder) {
    Awaited& store = this->store();
    store.set_two_step("taro", true);
    store.save_contact("jiro", {"email", kEmail});
    (void)store.add_failure("hanako");
    store.remember_host("kenji", {"sshd", "192.0.2.7", 100, 1100});
    // What only takes away makes no one a user.
    store.remove_contact("ghost", "phone");
    store.remove_profile_contact("ghost", "email");
    store.clear_failures("ghost");
    store.clear_enroll_grace("ghost");
    (void)store.forget_hosts("ghost");
    (void)store.load_user("ghost");
    (void)store.lock_state("ghost");
    (void)store.remembered_hosts("ghost");
    EXPECT_EQ(store.list_users(), (std::vector<std::string>{"hanako", "jiro", "kenji", "taro"}));
}

// ---- Failures and lockout ---------------------------------------------------------------

TYPED_TEST(StoreContract, AddFailureCountsAndCountsInARow) {
    Awaited& store = this->store();
    for (int i = 1; i <= 3; ++i) {
        FailureCount count = store.add_failure("taro");
        EXPECT_EQ(count.failures, i);
        EXPECT_EQ(count.in_a_row, i);
    }
    EXPECT_EQ(store.load_user("taro").failures, 3);
    EXPECT_EQ(store.lock_state("taro").failures, 3);
    EXPECT_EQ(store.add_failure("jiro").failures, 1) << "counted per user";
}

TYPED_TEST(StoreContract, ALockResetsTheFailuresButNotTheCountInARow) {
    Awaited& store = this->store();
    (void)store.add_failure("taro");
    (void)store.add_failure("taro");
    store.lock("taro", 1'700'000'900);
    LockState lock = store.lock_state("taro");
    EXPECT_EQ(lock.locked_until, 1'700'000'900);
    EXPECT_EQ(lock.failures, 0);
    EXPECT_EQ(store.load_user("taro").locked_until, 1'700'000'900);
    FailureCount count = store.add_failure("taro");
    EXPECT_EQ(count.failures, 1) << "a lock starts the lockout's count again";
    EXPECT_EQ(count.in_a_row, 3) << "...but not the count in a row";
    store.lock("jiro", kLockedUntilUnlocked);
    EXPECT_EQ(store.lock_state("jiro").locked_until, kLockedUntilUnlocked);
}

TYPED_TEST(StoreContract, AFailureOutsideTheCountInARowCountsTowardTheLockOnly) {
    Awaited& store = this->store();
    (void)store.add_failure("taro");
    FailureCount count = store.add_failure("taro", {.max_failures = 3, .until = 5000,
                                                     .max_in_a_row = 0, .in_a_row = false});
    EXPECT_EQ(count.failures, 2);
    EXPECT_EQ(count.in_a_row, 1);
    count = store.add_failure("taro", {.max_failures = 3, .until = 5000, .in_a_row = false});
    EXPECT_EQ(count.locked_until, 5000) << "max_failures still locks";
    EXPECT_EQ(store.add_failure("taro").in_a_row, 2);
}

TYPED_TEST(StoreContract, AFailureJudgedWhileLockedNeitherUndoesNorExtendsTheLock) {
    Awaited& store = this->store();
    const LockRule rule{.max_failures = 1, .until = 2000, .max_in_a_row = 0,
                        .in_a_row = false, .now = 1000};
    // A lock only an administrator lifts stays one: a failure in flight does not make it
    // a lock of `until`.
    store.lock("taro", kLockedUntilUnlocked);
    FailureCount count = store.add_failure("taro", rule);
    EXPECT_EQ(count.locked_before, kLockedUntilUnlocked);
    EXPECT_EQ(count.locked_until, 0);
    EXPECT_EQ(store.lock_state("taro").locked_until, kLockedUntilUnlocked);
    EXPECT_EQ(store.lock_state("taro").failures, 0) << "not counted";

    // A lock that ends at 1500 is not moved to 2000 by a failure at 1000.
    store.lock("jiro", 1500);
    (void)store.add_failure("jiro", {.max_failures = 5, .until = 1200, .max_in_a_row = 3});
    count = store.add_failure("jiro", rule);
    EXPECT_EQ(count.locked_before, 1500);
    EXPECT_EQ(count.failures, 1) << "the counts as they are";
    EXPECT_EQ(count.in_a_row, 1);
    EXPECT_EQ(store.lock_state("jiro").locked_until, 1500);
    EXPECT_EQ(store.lock_state("jiro").failures, 1);

    // Once it has ended, failures count and lock again.
    count = store.add_failure("jiro", {.max_failures = 2, .until = 2500, .now = 1500});
    EXPECT_EQ(count.locked_before, 0);
    EXPECT_EQ(count.locked_until, 2500);
    EXPECT_EQ(store.lock_state("jiro").locked_until, 2500);
}

TYPED_TEST(StoreContract, ClearFailuresUnlessLockedLeavesALockInForce) {
    Awaited& store = this->store();
    (void)store.add_failure("taro");
    store.lock("taro", 5000);
    (void)store.add_failure("taro");
    EXPECT_FALSE(store.clear_failures_unless_locked("taro", 4999));
    EXPECT_EQ(store.lock_state("taro").locked_until, 5000);
    EXPECT_EQ(store.lock_state("taro").failures, 1);
    EXPECT_TRUE(store.clear_failures_unless_locked("taro", 5000)) << "the lock has ended";
    LockState lock = store.lock_state("taro");
    EXPECT_EQ(lock.failures, 0);
    EXPECT_EQ(lock.locked_until, 0);
    EXPECT_EQ(store.add_failure("taro").in_a_row, 1);
    EXPECT_TRUE(store.clear_failures_unless_locked("never-seen", 5000));
    EXPECT_TRUE(store.load_user("never-seen").empty());
}

TYPED_TEST(StoreContract, ClearFailuresClearsEveryCountAndTheLock) {
    Awaited& store = this->store();
    (void)store.add_failure("taro");
    store.lock("taro", 5000);
    (void)store.add_failure("taro");
    (void)store.add_passwordless_failure("taro");
    store.clear_failures("taro");
    LockState lock = store.lock_state("taro");
    EXPECT_EQ(lock.failures, 0);
    EXPECT_EQ(lock.locked_until, 0);
    EXPECT_EQ(lock.passwordless_failures, 0);
    FailureCount count = store.add_failure("taro");
    EXPECT_EQ(count.failures, 1);
    EXPECT_EQ(count.in_a_row, 1) << "the count in a row starts again too";
    EXPECT_EQ(store.add_passwordless_failure("taro"), 1);
    store.clear_failures("never-seen");  // harmless
    EXPECT_TRUE(store.load_user("never-seen").empty());
}

TYPED_TEST(StoreContract, ANewPinStartsItsCountAgainAndDoesNotArmQuickLogin) {
    Awaited& store = this->store();
    const std::string hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    store.set_pin("taro", hash);
    EXPECT_EQ(store.load_user("taro").quick_armed_at, 0) << "never armed without a full login";
    store.record_full_login("taro", 1000);
    EXPECT_EQ(store.add_pin_failure("taro"), 1);
    EXPECT_EQ(store.add_pin_failure("taro"), 2);
    UserState state = store.load_user("taro");
    EXPECT_EQ(state.pin_hash, hash);
    EXPECT_EQ(state.pin_failures, 2);
    EXPECT_EQ(state.quick_armed_at, 1000);
    EXPECT_EQ(state.failures, 0) << "apart from the code lockout's count";

    store.set_pin_hash("taro", "$argon2id$v=19$m=8192,t=2,p=1$c2FsdA$aGFzaA");  // a rehash
    state = store.load_user("taro");
    EXPECT_EQ(state.pin_failures, 2) << "a rehash keeps the count";
    EXPECT_EQ(state.quick_armed_at, 1000) << "and does not arm quick login";
    store.clear_pin_failures("taro");
    EXPECT_EQ(store.load_user("taro").pin_failures, 0);

    EXPECT_EQ(store.add_pin_failure("taro"), 1);
    store.set_pin("taro", hash);
    state = store.load_user("taro");
    EXPECT_EQ(state.pin_failures, 0) << "a new PIN starts the count again";
    EXPECT_EQ(state.quick_armed_at, 1000) << "setting a PIN does not arm quick login";
    EXPECT_EQ(state.full_login_at, 1000) << "nor is it a full login";
    EXPECT_EQ(store.add_pin_failure("taro"), 1);
    store.set_pin_hash("taro", "");
    state = store.load_user("taro");
    EXPECT_FALSE(state.pin_set);
    EXPECT_EQ(state.pin_hash, "");
    EXPECT_EQ(state.pin_failures, 0) << "removing the PIN removes its count";
}

TYPED_TEST(StoreContract, ARehashReplacesOnlyTheHashThatWasChecked) {
    Awaited& store = this->store();
    const std::string checked = "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA";
    const std::string rehashed = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    EXPECT_FALSE(store.replace_pin_hash("taro", checked, rehashed)) << "no PIN at all";
    EXPECT_FALSE(store.load_user("taro").pin_set);

    store.set_pin_hash("taro", checked);
    (void)store.add_pin_failure("taro");
    EXPECT_TRUE(store.replace_pin_hash("taro", checked, rehashed));
    UserState state = store.load_user("taro");
    EXPECT_EQ(state.pin_hash, rehashed);
    EXPECT_EQ(state.pin_failures, 1) << "a rehash keeps the count";

    store.set_pin_hash("taro", "");  // RemovePin, or an administrator's reset
    EXPECT_FALSE(store.replace_pin_hash("taro", rehashed, checked));
    EXPECT_FALSE(store.load_user("taro").pin_set) << "a removed PIN stays removed";

    const std::string other = "$argon2id$v=19$m=8192,t=1,p=1$b3RoZXI$aGFzaA";
    store.set_pin_hash("taro", other);  // a new PIN set meanwhile
    EXPECT_FALSE(store.replace_pin_hash("taro", checked, rehashed));
    EXPECT_EQ(store.load_user("taro").pin_hash, other) << "a new PIN stays";
}

TYPED_TEST(StoreContract, ALinkKeptAgainUnderTheNewKeyReplacesOnlyTheOldHash) {
    Awaited& store = this->store();
    const std::string under_old(64, 'a');
    const std::string under_new(64, 'b');
    EXPECT_FALSE(store.replace_line_link("taro", under_old, under_new)) << "no user at all";
    EXPECT_FALSE(store.load_user("taro").line_linked);

    store.set_line_link("taro", under_old);
    EXPECT_FALSE(store.replace_line_link("taro", under_new, under_old)) << "not the link kept";
    EXPECT_EQ(store.load_user("taro").line_link, under_old);
    EXPECT_TRUE(store.replace_line_link("taro", under_old, under_new));
    UserState state = store.load_user("taro");
    EXPECT_TRUE(state.line_linked);
    EXPECT_EQ(state.line_link, under_new);
    EXPECT_FALSE(store.replace_line_link("taro", under_new, "")) << "it never unlinks";
    EXPECT_EQ(store.load_user("taro").line_link, under_new);

    store.set_line_link("taro", "");  // UnlinkLine, or an administrator's reset
    EXPECT_FALSE(store.replace_line_link("taro", under_old, under_new));
    EXPECT_FALSE(store.load_user("taro").line_linked) << "an unlinked user stays unlinked";

    const std::string other(64, 'c');
    store.set_line_link("taro", other);  // another LINE account linked meanwhile
    EXPECT_FALSE(store.replace_line_link("taro", under_old, under_new));
    EXPECT_EQ(store.load_user("taro").line_link, other) << "a new link stays";
}

TYPED_TEST(StoreContract, AFullLoginArmsQuickLoginAndClearsItsFailures) {
    Awaited& store = this->store();
    store.set_pin("taro", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    for (int i = 0; i < 5; ++i) {
        (void)store.add_pin_failure("taro");
    }
    for (int i = 0; i < kFingerprintDisableAt; ++i) {
        (void)store.add_fingerprint_failure("taro", 1000 + i * 100);
    }
    EXPECT_TRUE(store.load_user("taro").fingerprint.disabled);
    (void)store.add_failure("taro");
    store.record_full_login("taro", 9000);
    UserState state = store.load_user("taro");
    EXPECT_EQ(state.full_login_at, 9000);
    EXPECT_EQ(state.quick_armed_at, 9000);
    EXPECT_EQ(state.pin_failures, 0);
    EXPECT_EQ(state.fingerprint.in_a_row, 0);
    EXPECT_FALSE(state.fingerprint.disabled) << "a full login re-arms the fingerprint";
    EXPECT_EQ(state.failures, 1) << "the code lockout's count is not the full login's";
    EXPECT_TRUE(state.pin_set);

    store.record_full_login("jiro", 9100);
    EXPECT_EQ(store.load_user("jiro").full_login_at, 9100) << "a full login makes a user";
    EXPECT_FALSE(store.load_user("jiro").empty());
}

TYPED_TEST(StoreContract, FingerprintFailuresPauseAndDisableAsTheLimitsSay) {
    Awaited& store = this->store();
    FingerprintFailures state;
    for (int i = 1; i <= kFingerprintPauseEvery; ++i) {
        state = store.add_fingerprint_failure("taro", 5000);
        EXPECT_EQ(state.in_a_row, i);
    }
    EXPECT_EQ(state.paused_until, 5000 + kFingerprintPauseSeconds);
    EXPECT_EQ(store.load_user("taro").fingerprint.paused_until, 5000 + kFingerprintPauseSeconds)
        << "kept";
    store.clear_fingerprint_failures("taro");
    state = store.load_user("taro").fingerprint;
    EXPECT_EQ(state.in_a_row, 0);
    EXPECT_EQ(state.paused_until, 0);
    for (int i = 1; i <= kFingerprintDisableAt; ++i) {
        state = store.add_fingerprint_failure("taro", 6000 + i * 100);
    }
    EXPECT_TRUE(state.disabled);
    EXPECT_TRUE(store.load_user("taro").fingerprint.disabled);
    store.reset("taro", ResetScope{.failures = true, .counted = {}});
    EXPECT_FALSE(store.load_user("taro").fingerprint.disabled) << "an administrator's reset";
    (void)store.add_pin_failure("taro");
    store.reset("taro", ResetScope{.failures = true, .counted = {}});
    EXPECT_EQ(store.load_user("taro").pin_failures, 0);
}

TYPED_TEST(StoreContract, PasswordlessFailuresAreCountedApartAndNeverLock) {
    Awaited& store = this->store();
    EXPECT_EQ(store.add_passwordless_failure("taro"), 1);
    EXPECT_EQ(store.add_passwordless_failure("taro"), 2);
    LockState lock = store.lock_state("taro");
    EXPECT_EQ(lock.passwordless_failures, 2);
    EXPECT_EQ(lock.failures, 0);
    EXPECT_EQ(lock.locked_until, 0);
    EXPECT_EQ(store.load_user("taro").passwordless_failures, 2);
    EXPECT_EQ(store.add_failure("taro").in_a_row, 1) << "apart from the count in a row";
    store.lock("taro", 5000);
    EXPECT_EQ(store.lock_state("taro").passwordless_failures, 2) << "a lock keeps them";
}

TYPED_TEST(StoreContract, AFailureAtTheLimitLocksInTheSameStep) {
    Awaited& store = this->store();
    const LockRule rule{3, 5000, kMaxFailuresInARow};
    EXPECT_EQ(store.add_failure("taro", rule).locked_until, 0);
    EXPECT_EQ(store.add_failure("taro", rule).locked_until, 0);
    FailureCount third = store.add_failure("taro", rule);
    EXPECT_EQ(third.failures, 3) << "the count with this code, before the lock starts it again";
    EXPECT_EQ(third.locked_until, 5000);
    LockState lock = store.lock_state("taro");
    EXPECT_EQ(lock.locked_until, 5000);
    EXPECT_EQ(lock.failures, 0);
    FailureCount next = store.add_failure("taro", rule);
    EXPECT_EQ(next.failures, 1);
    EXPECT_EQ(next.in_a_row, 4);
    EXPECT_EQ(store.add_failure("jiro").locked_until, 0) << "no rule, no lock";
}

TYPED_TEST(StoreContract, FailuresInARowLockUntilAnUnlockBeforeTheOtherLimit) {
    Awaited& store = this->store();
    const LockRule rule{4, 5000, 4};
    for (int i = 0; i < 3; ++i) {
        (void)store.add_failure("taro", rule);
    }
    FailureCount fourth = store.add_failure("taro", rule);
    EXPECT_EQ(fourth.locked_until, kLockedUntilUnlocked);
    EXPECT_EQ(store.lock_state("taro").locked_until, kLockedUntilUnlocked);
}

// ---- Removing the last contact and resets -----------------------------------------------

TYPED_TEST(StoreContract, AnAppOrRecoveryCodesMarkTheUserEnrolled) {
    Awaited& store = this->store();
    store.set_totp_pending("taro", "0123456789abcdefghij", 1000);
    EXPECT_FALSE(store.load_user("taro").enrolled) << "not before its first code";
    store.set_totp("taro", "0123456789abcdefghij", 1);
    EXPECT_TRUE(store.load_user("taro").enrolled);
    store.set_totp("taro", "", -1);
    EXPECT_TRUE(store.load_user("taro").enrolled) << "once enrolled, always: no grace again";
    store.set_recovery_codes("jiro", {});
    EXPECT_FALSE(store.load_user("jiro").enrolled);
    store.set_recovery_codes("jiro", {"aa", "bb"});
    EXPECT_TRUE(store.load_user("jiro").enrolled);
}

TYPED_TEST(StoreContract, TheLastLoginContactLeavesTwoStepOnWhenAnOtherFactorCounts) {
    Awaited& store = this->store();
    store.save_contact("taro", {"phone", kPhone});
    store.set_two_step("taro", true);
    store.set_totp("taro", "0123456789abcdefghij", 1);
    EXPECT_FALSE(store.remove_contact_and_two_step("taro", "phone", {true, false}));
    EXPECT_TRUE(store.load_user("taro").two_step) << "the app is left";
    store.save_contact("taro", {"phone", kPhone});
    EXPECT_TRUE(store.remove_contact_and_two_step("taro", "phone", {false, true}))
        << "no recovery codes; the app does not count";
    EXPECT_FALSE(store.load_user("taro").two_step);
}

TYPED_TEST(StoreContract, RemovingTheLastLoginContactTurnsTwoStepOffWithIt) {
    Awaited& store = this->store();
    store.save_contact("taro", {"phone", kPhone});
    store.save_contact("taro", {"email", kEmail});
    store.set_two_step("taro", true);
    EXPECT_FALSE(store.remove_contact_and_two_step("taro", "phone"));
    EXPECT_TRUE(store.load_user("taro").two_step) << "the email is left";
    EXPECT_FALSE(store.remove_contact_and_two_step("taro", "phone")) << "nothing to remove";
    EXPECT_TRUE(store.remove_contact_and_two_step("taro", "email"));
    UserState state = store.load_user("taro");
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_FALSE(state.two_step);
    EXPECT_FALSE(store.remove_contact_and_two_step("ghost", "phone"));
    EXPECT_EQ(store.list_users(), std::vector<std::string>{"taro"}) << "no record of the ghost";
}

TYPED_TEST(StoreContract, RemovingASecondFactorJudgesWhatIsLeftInTheSameStep) {
    Awaited& store = this->store();
    RemovalRule required{true, {true, true}, true};
    store.save_contact("taro", {"phone", kPhone});
    store.set_two_step("taro", true);
    store.set_totp("taro", "0123456789abcdefghij", 1);
    EXPECT_EQ(store.remove_second_factor("taro", "totp", required), Removal::Removed)
        << "the phone is left";
    EXPECT_FALSE(store.load_user("taro").totp_set());
    EXPECT_EQ(store.remove_second_factor("taro", "totp", required), Removal::Absent);
    EXPECT_EQ(store.remove_second_factor("taro", "phone", required), Removal::Refused);
    EXPECT_EQ(store.load_user("taro").contacts.size(), 1u) << "refused: still there";

    store.set_totp("taro", "0123456789abcdefghij", 1);
    RemovalRule optional{true, {true, true}, false};
    EXPECT_EQ(store.remove_second_factor("taro", "phone", optional), Removal::Removed);
    EXPECT_TRUE(store.load_user("taro").two_step) << "the app is left";
    EXPECT_EQ(store.remove_second_factor("taro", "totp", optional), Removal::TwoStepOff);
    UserState taro = store.load_user("taro");
    EXPECT_FALSE(taro.totp_set());
    EXPECT_FALSE(taro.two_step);

    // An app the rule does not count keeps nothing on; a waiting enrolment goes alone.
    store.save_contact("taro", {"email", kEmail});
    store.set_two_step("taro", true);
    store.set_totp("taro", "0123456789abcdefghij", 1);
    EXPECT_EQ(store.remove_second_factor("taro", "email", RemovalRule{true, {false, true}, false}),
              Removal::TwoStepOff);
    store.set_totp("taro", "", -1);
    store.set_two_step("taro", true);
    store.set_totp_pending("taro", "0123456789abcdefghij", 100);
    EXPECT_EQ(store.remove_second_factor("taro", "totp", optional), Removal::Removed);
    EXPECT_TRUE(store.load_user("taro").totp_pending.empty());
    EXPECT_TRUE(store.load_user("taro").two_step) << "a waiting app never counted";
    EXPECT_EQ(store.remove_second_factor("ghost", "phone", optional), Removal::Absent);
}

TYPED_TEST(StoreContract, AResetOfTheLastAppTurnsTwoStepOffUnlessRequired) {
    Awaited& store = this->store();
    for (bool required : {false, true}) {
        std::string user = required ? "hanako" : "taro";
        store.set_totp(user, "0123456789abcdefghij", 1);
        store.set_two_step(user, true);
        ResetScope scope;
        scope.totp = true;
        scope.counted = RemovalRule{true, {true, true}, required};
        store.reset(user, scope);
        UserState state = store.load_user(user);
        EXPECT_FALSE(state.totp_set());
        EXPECT_EQ(state.two_step, required) << user;
    }
    store.save_contact("jiro", {"phone", kPhone});
    store.set_totp("jiro", "0123456789abcdefghij", 1);
    store.set_two_step("jiro", true);
    ResetScope scope;
    scope.totp = true;
    store.reset("jiro", scope);
    EXPECT_TRUE(store.load_user("jiro").two_step) << "the phone is left";
}

TYPED_TEST(StoreContract, AConfirmedContactOrAppTurnsTwoStepOnWithItOrLeavesItAsItWas) {
    Awaited& store = this->store();
    store.save_contact_and_two_step("taro", {"phone", kPhone}, false);
    UserState taro = store.load_user("taro");
    ASSERT_EQ(taro.contacts.size(), 1u);
    EXPECT_EQ(taro.contacts[0].value, kPhone);
    EXPECT_TRUE(taro.enrolled);
    EXPECT_FALSE(taro.two_step) << "2-step off by policy stays off";
    store.save_contact_and_two_step("taro", {"email", kEmail}, true);
    taro = store.load_user("taro");
    EXPECT_EQ(taro.contacts.size(), 2u);
    EXPECT_TRUE(taro.two_step);

    store.set_totp_pending("hanako", "secret-bytes-0123456", 500);
    store.set_totp_and_two_step("hanako", "secret-bytes-0123456", 7, true);
    UserState hanako = store.load_user("hanako");
    EXPECT_EQ(hanako.totp_secret.view(), "secret-bytes-0123456");
    EXPECT_EQ(hanako.totp_last_step, 7);
    EXPECT_TRUE(hanako.totp_pending.empty());
    EXPECT_TRUE(hanako.two_step);
    store.set_totp_and_two_step("jiro", "secret-bytes-0123456", 7, false);
    EXPECT_FALSE(store.load_user("jiro").two_step);
}

// taro with a little of everything a reset can clear.
void give_everything(Awaited& store) {
    store.save_contact("taro", {"phone", kPhone});
    store.set_profile_contact("taro", {"email", kEmail, "admin"});
    store.set_two_step("taro", true);
    store.set_line_link("taro", "hmac");
    store.set_pin_hash("taro", "$argon2id$x");
    store.remember_host("taro", {"sshd", "192.0.2.7", 100, 1100});
    (void)store.add_failure("taro", {1, 5000, kMaxFailuresInARow});
    (void)store.start_enroll_grace("taro", 50);
    store.set_totp("taro", "secret-bytes-0123456", 3);
    store.set_recovery_codes("taro", {"h1", "h2"});
}

TYPED_TEST(StoreContract, AResetClearsWhatItNamesAndKeepsTheProfile) {
    Awaited& store = this->store();
    give_everything(store);
    store.reset("taro", ResetScope{.pin = true, .counted = {}});
    UserState state = store.load_user("taro");
    EXPECT_FALSE(state.pin_set);
    EXPECT_TRUE(state.line_linked);
    EXPECT_TRUE(state.totp_set());
    store.reset("taro", ResetScope{.totp = true, .counted = {}});
    state = store.load_user("taro");
    EXPECT_FALSE(state.totp_set());
    EXPECT_EQ(state.recovery_codes, 2);
    store.reset("taro", ResetScope{.line = true, .hosts = true, .counted = {}});
    state = store.load_user("taro");
    EXPECT_FALSE(state.line_linked);
    EXPECT_EQ(state.line_link, "");
    EXPECT_TRUE(store.remembered_hosts("taro").empty());
    EXPECT_EQ(state.contacts.size(), 1u);
    store.reset("taro", ResetScope{.contacts = true, .counted = {}});
    state = store.load_user("taro");
    EXPECT_TRUE(state.contacts.empty());
    EXPECT_FALSE(state.two_step) << "2-step goes off with the contacts";
    EXPECT_EQ(state.locked_until, 5000);
    EXPECT_TRUE(state.enrolled);
    store.reset("taro", ResetScope{.failures = true, .enroll_grace = true, .counted = {}});
    state = store.load_user("taro");
    EXPECT_EQ(state.locked_until, 0);
    EXPECT_EQ(state.enroll_grace_started, 0);
    EXPECT_FALSE(state.enrolled);
    ASSERT_EQ(state.profile.size(), 1u) << "the profile is the directory's";
    store.reset("ghost", ResetScope{.hosts = true, .failures = true, .counted = {}});
    EXPECT_EQ(store.list_users(), std::vector<std::string>{"taro"}) << "no record of the ghost";
}

TYPED_TEST(StoreContract, AResetOfEverythingLeavesOnlyTheProfile) {
    Awaited& store = this->store();
    give_everything(store);
    store.reset("taro", ResetScope{true, true, true, true, true, true, true, true, {}});
    UserState state = store.load_user("taro");
    ASSERT_EQ(state.profile.size(), 1u);
    state.profile.clear();
    EXPECT_TRUE(state.empty());
    EXPECT_FALSE(state.enrolled);
    EXPECT_TRUE(store.remembered_hosts("taro").empty());
    EXPECT_EQ(store.add_failure("taro").in_a_row, 1);
}

// ---- Send counters ----------------------------------------------------------------------

TYPED_TEST(StoreContract, CountsSendsUnderEachKeyAndTime) {
    Awaited& store = this->store();
    SendReservation first = record_send(store, "taro", "dest-a", 100);
    EXPECT_EQ(first.at, 100);
    EXPECT_EQ(first.keys, (std::vector<std::string>{"user:taro", "destination:dest-a", "host"}));
    EXPECT_NE(record_send(store, "taro", "dest-b", 200).id, first.id);
    record_send(store, "jiro", "dest-a", 300);

    EXPECT_EQ(store.sends_since("user:taro", 0), 2);
    EXPECT_EQ(store.sends_since("user:taro", 150), 1);
    EXPECT_EQ(store.sends_since("user:taro", 201), 0);
    EXPECT_EQ(store.sends_since("user:jiro", 0), 1);
    EXPECT_EQ(store.sends_since("destination:dest-a", 0), 2);
    EXPECT_EQ(store.sends_since("destination:dest-a", 101), 1);
    EXPECT_EQ(store.sends_since("destination:dest-c", 0), 0);
    EXPECT_EQ(store.sends_since("host", 0), 3);
    EXPECT_EQ(store.sends_since("host", 200), 2) << "`since` is inclusive";
    EXPECT_EQ(store.sends_since("host", 301), 0);
}

TYPED_TEST(StoreContract, AReservationChecksEveryCapAtOnceOrRecordsNothing) {
    Awaited& store = this->store();
    std::vector<SendCap> caps = {{"user:taro", 3}, {"destination:d", 2}, {"host", 10}};
    EXPECT_EQ(store.check_send(caps, 0, 100).capped, -1);
    EXPECT_TRUE(store.reserve_send(caps, 0, 100).reserved());
    EXPECT_TRUE(store.reserve_send(caps, 0, 101).reserved());

    SendReservation checked = store.check_send(caps, 0, 102);
    SendReservation third = store.reserve_send(caps, 0, 102);
    for (const SendReservation& r : {checked, third}) {
        EXPECT_FALSE(r.reserved());
        EXPECT_EQ(r.capped, 1) << "the destination's cap is the one reached";
        // Window [0, 102]: 102 s long. The send at 100 leaves it at 202, leaving room.
        EXPECT_EQ(r.room_at, 100 + 102);
    }
    EXPECT_EQ(store.sends_since("user:taro", 0), 2) << "a capped send counts nowhere";
    EXPECT_EQ(store.sends_since("host", 0), 2);
    // The window: sends before `since` do not count.
    EXPECT_TRUE(store.reserve_send(caps, 101, 103).reserved());
    // The first cap reached is named, whichever comes first.
    SendReservation user_capped = store.reserve_send({{"host", 3}, {"user:taro", 3}}, 0, 104);
    EXPECT_EQ(user_capped.capped, 0);
}

TYPED_TEST(StoreContract, ACappedReservationSaysWhenTheCapHasRoomAgain) {
    Awaited& store = this->store();
    std::vector<SendCap> caps = {{"host", 100}, {"user:taro", 2}};
    const int64_t hour = 3600;
    for (int64_t at : {1000, 1500, 2000}) {
        (void)store.reserve_send(caps, at - hour, at);
    }
    // Sends at 1000 and 1500 fill the cap; the oldest of the two leaves at 4600.
    SendReservation capped = store.reserve_send(caps, 3000 - hour, 3000);
    ASSERT_FALSE(capped.reserved());
    EXPECT_EQ(capped.capped, 1);
    EXPECT_EQ(capped.room_at, 1000 + hour);
    EXPECT_EQ(store.check_send(caps, 3000 - hour, 3000).room_at, 1000 + hour);
    // Past 4600 only the send at 1500 is in the window, and there is room.
    EXPECT_TRUE(store.reserve_send(caps, 4601 - hour, 4601).reserved());
    SendReservation again = store.reserve_send(caps, 4602 - hour, 4602);
    EXPECT_EQ(again.capped, 1);
    EXPECT_EQ(again.room_at, 1500 + hour);
}

TYPED_TEST(StoreContract, AReleasedReservationNoLongerCounts) {
    Awaited& store = this->store();
    std::vector<SendCap> caps = {{"user:taro", 1}, {"host", 10}};
    SendReservation first = store.reserve_send(caps, 0, 100);
    ASSERT_TRUE(first.reserved());
    SendReservation refused = store.reserve_send(caps, 0, 101);
    EXPECT_FALSE(refused.reserved());
    store.release_send(refused);  // nothing to give back: harmless
    EXPECT_EQ(store.sends_since("host", 0), 1);
    store.release_send(first);
    EXPECT_EQ(store.sends_since("user:taro", 0), 0);
    EXPECT_EQ(store.sends_since("host", 0), 0);
    SendReservation second = store.reserve_send(caps, 0, 102);
    EXPECT_TRUE(second.reserved());
    EXPECT_EQ(store.sends_since("user:taro", 102), 1);
}

TYPED_TEST(StoreContract, CountsEventsInTheSendLogWithoutACap) {
    Awaited& store = this->store();
    for (int64_t at = 100; at < 110; ++at) {
        store.count_event({"passwordless:taro", "host"}, at);
    }
    EXPECT_EQ(store.sends_since("passwordless:taro", 0), 10);
    EXPECT_EQ(store.sends_since("passwordless:taro", 105), 5);
    EXPECT_EQ(store.sends_since("host", 0), 10);
    EXPECT_EQ(store.check_send({{"host", 10}}, 0, 110).capped, 0) << "events count in caps";
}

TYPED_TEST(StoreContract, PruneForgetsOnlyOlderSends) {
    Awaited& store = this->store();
    record_send(store, "taro", "dest-a", 100);
    record_send(store, "taro", "dest-a", 200);
    record_send(store, "taro", "dest-a", 300);
    store.prune_sends(200);
    EXPECT_EQ(store.sends_since("host", 0), 2);
    EXPECT_EQ(store.sends_since("user:taro", 0), 2);
    EXPECT_EQ(store.sends_since("destination:dest-a", 0), 2);
}

TYPED_TEST(StoreContract, CountsSendsRecordedOutOfTimeOrder) {
    // A wall clock stepped back records a send before the newest one.
    Awaited& store = this->store();
    record_send(store, "taro", "dest-a", 300);
    SendReservation early = record_send(store, "taro", "dest-a", 100);
    record_send(store, "taro", "dest-a", 200);
    EXPECT_EQ(store.sends_since("host", 150), 2);
    EXPECT_EQ(store.sends_since("user:taro", 250), 1);
    EXPECT_EQ(store.sends_since("destination:dest-a", 100), 3);
    store.release_send(early);
    EXPECT_EQ(store.sends_since("host", 0), 2);
    store.prune_sends(250);
    EXPECT_EQ(store.sends_since("host", 0), 1);
}

// ---- Enrolment grace --------------------------------------------------------------------

TYPED_TEST(StoreContract, AnAuthenticatorStepIsTakenOnceAndOnlyForward) {
    Awaited& store = this->store();
    EXPECT_FALSE(store.use_totp_step("taro", 10)) << "no app set up";
    store.set_totp_pending("taro", "secret-bytes-0123456", 500);
    EXPECT_FALSE(store.load_user("taro").totp_set()) << "pending is not set up";
    EXPECT_FALSE(store.use_totp_step("taro", 10));
    store.set_totp("taro", "secret-bytes-0123456", 10);
    EXPECT_FALSE(store.use_totp_step("taro", 10)) << "the enrolling code's step";
    EXPECT_FALSE(store.use_totp_step("taro", 9));
    EXPECT_TRUE(store.use_totp_step("taro", 11));
    EXPECT_FALSE(store.use_totp_step("taro", 11));
    EXPECT_EQ(store.load_user("taro").totp_last_step, 11);
    store.set_totp("taro", "", -1);
    EXPECT_FALSE(store.load_user("taro").totp_set());
    EXPECT_FALSE(store.use_totp_step("taro", 12));
}

TYPED_TEST(StoreContract, ARecoveryCodeIsUsedOnceAndANewSetReplacesTheOld) {
    Awaited& store = this->store();
    store.set_recovery_codes("taro", {"h1", "h2", "h3"});
    EXPECT_EQ(store.load_user("taro").recovery_codes, 3);
    EXPECT_EQ(store.use_recovery_code("taro", "h2"), 2);
    EXPECT_EQ(store.use_recovery_code("taro", "h2"), -1);
    EXPECT_EQ(store.use_recovery_code("jiro", "h1"), -1) << "another user's code";
    store.set_recovery_codes("taro", {"h4"});
    EXPECT_EQ(store.use_recovery_code("taro", "h1"), -1) << "the old set is gone";
    EXPECT_EQ(store.use_recovery_code("taro", "h4"), 0);
    EXPECT_EQ(store.load_user("taro").recovery_codes, 0);
}

TYPED_TEST(StoreContract, TheEnrolmentGraceStartsOnceUntilCleared) {
    Awaited& store = this->store();
    EXPECT_EQ(store.start_enroll_grace("jiro", 1000), 1000);
    EXPECT_EQ(store.start_enroll_grace("jiro", 2000), 1000);
    EXPECT_EQ(store.load_user("jiro").enroll_grace_started, 1000);
    EXPECT_FALSE(store.load_user("jiro").empty());
    store.clear_enroll_grace("jiro");
    EXPECT_EQ(store.load_user("jiro").enroll_grace_started, 0);
    EXPECT_EQ(store.start_enroll_grace("jiro", 3000), 3000);
}

TYPED_TEST(StoreContract, SavingAContactMarksTheUserEnrolledUntilAResetOfEverything) {
    Awaited& store = this->store();
    EXPECT_FALSE(store.load_user("taro").enrolled);
    store.set_profile_contact("taro", {"phone", kPhone, "admin"});
    EXPECT_FALSE(store.load_user("taro").enrolled) << "a profile contact is no enrolment";
    store.save_contact("taro", {"phone", kPhone});
    store.remove_contact("taro", "phone");
    EXPECT_TRUE(store.load_user("taro").enrolled) << "once enrolled, no grace";
    store.clear_enroll_grace("taro");
    EXPECT_FALSE(store.load_user("taro").enrolled);
}

// ---- Remembered hosts -------------------------------------------------------------------

TYPED_TEST(StoreContract, RemembersHostsPerServiceAndOriginOldestFirst) {
    Awaited& store = this->store();
    store.remember_host("taro", {"sshd", "192.0.2.7", 100, 1100});
    store.remember_host("taro", {"login", "local:tty1", 200, 1200});
    store.remember_host("taro", {"sshd", "192.0.2.7", 300, 1300});   // replaces
    store.remember_host("taro", {"sudo", "local:tty2", 150, 1150});  // a clock stepped back
    store.remember_host("jiro", {"sshd", "192.0.2.7", 400, 1400});
    EXPECT_EQ(store.remembered_host("taro", "sshd", "192.0.2.7"),
              (RememberedHost{"sshd", "192.0.2.7", 300, 1300}));
    EXPECT_EQ(store.remembered_host("taro", "sudo", "192.0.2.7"), std::nullopt);
    EXPECT_EQ(store.remembered_host("taro", "sshd", "192.0.2.8"), std::nullopt);
    EXPECT_EQ(store.remembered_hosts("taro"),
              (std::vector<RememberedHost>{{"sudo", "local:tty2", 150, 1150},
                                           {"login", "local:tty1", 200, 1200},
                                           {"sshd", "192.0.2.7", 300, 1300}}));
    EXPECT_TRUE(store.remembered_hosts("hanako").empty());
}

TYPED_TEST(StoreContract, ForgetsHostsAllOrThoseVerifiedBefore) {
    Awaited& store = this->store();
    store.remember_host("taro", {"sshd", "192.0.2.7", 100, 1100});
    store.remember_host("taro", {"login", "local:tty1", 200, 1200});
    store.remember_host("taro", {"sudo", "local:tty1", 300, 1300});
    store.remember_host("jiro", {"sshd", "192.0.2.7", 100, 1100});
    EXPECT_EQ(store.forget_hosts("taro", 200), 1) << "strictly before";
    EXPECT_EQ(store.remembered_hosts("taro").size(), 2u);
    EXPECT_EQ(store.forget_hosts("taro", 200), 0);
    EXPECT_EQ(store.forget_hosts("taro"), 2);
    EXPECT_TRUE(store.remembered_hosts("taro").empty());
    EXPECT_EQ(store.forget_hosts("taro"), 0);
    EXPECT_EQ(store.remembered_host("jiro", "sshd", "192.0.2.7")->verified_at, 100);
}

TYPED_TEST(StoreContract, PruningForgetsPlacesPastTheirEndForEveryUser) {
    Awaited& store = this->store();
    store.remember_host("taro", {"sshd", "192.0.2.7", 100, 1100});
    store.remember_host("taro", {"login", "local:tty1", 100, 1101});
    store.remember_host("jiro", {"sshd", "192.0.2.7", 100, 2000});
    store.prune_hosts(1100);
    EXPECT_EQ(store.remembered_hosts("taro"),
              (std::vector<RememberedHost>{{"login", "local:tty1", 100, 1101}}));
    EXPECT_EQ(store.remembered_hosts("jiro").size(), 1u);
}

// ---- Confirmations in progress ----------------------------------------------------------

constexpr const char* kCodeHash =
    "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
constexpr const char* kWrongHash =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

Confirmation phone_confirmation(int tries = 3, int64_t expires_at = 1000) {
    return {"phone", kPhone, "self", kCodeHash, expires_at, tries, false};
}

TYPED_TEST(StoreContract, AConfirmationRoundTripsAndReplacesTheOneOfItsKind) {
    Awaited& store = this->store();
    EXPECT_TRUE(store.confirmations("taro").empty());
    store.put_confirmation("taro", {"phone", "+819000000000", "self", kWrongHash, 500, 5, false});
    store.put_confirmation("taro", {"email", kEmail, "profile", kCodeHash, 900, 3, true});
    store.put_confirmation("taro", phone_confirmation());
    store.put_confirmation("jiro", phone_confirmation());
    EXPECT_EQ(store.confirmations("taro"),
              (std::vector<Confirmation>{{"email", kEmail, "profile", kCodeHash, 900, 3, true},
                                         phone_confirmation()}));
    EXPECT_TRUE(store.list_users().empty()) << "a confirmation makes no user record";
}

TYPED_TEST(StoreContract, ARightAnswerGivesTheConfirmationOnceAndRemovesIt) {
    Awaited& store = this->store();
    store.put_confirmation("taro", phone_confirmation());
    ConfirmationAnswer right = store.answer_confirmation("taro", "phone", kCodeHash, 999);
    EXPECT_EQ(right.outcome, ConfirmationOutcome::Right);
    EXPECT_EQ(right.confirmation, phone_confirmation());
    EXPECT_EQ(store.answer_confirmation("taro", "phone", kCodeHash, 999).outcome,
              ConfirmationOutcome::Absent);
    EXPECT_TRUE(store.confirmations("taro").empty());
}

TYPED_TEST(StoreContract, WrongAnswersTakeATryEachAndTheLastRemovesIt) {
    Awaited& store = this->store();
    store.put_confirmation("taro", phone_confirmation(3));
    ConfirmationAnswer first = store.answer_confirmation("taro", "phone", kWrongHash, 100);
    EXPECT_EQ(first.outcome, ConfirmationOutcome::Wrong);
    EXPECT_EQ(first.tries_left, 2);
    EXPECT_EQ(store.confirmations("taro").at(0).tries_left, 2);
    EXPECT_EQ(store.answer_confirmation("taro", "phone", "", 100).tries_left, 1)
        << "an answer that cannot be a code takes a try too";
    ConfirmationAnswer last = store.answer_confirmation("taro", "phone", kWrongHash, 100);
    EXPECT_EQ(last.outcome, ConfirmationOutcome::Wrong);
    EXPECT_EQ(last.tries_left, 0);
    EXPECT_TRUE(store.confirmations("taro").empty());
    EXPECT_EQ(store.answer_confirmation("taro", "phone", kCodeHash, 100).outcome,
              ConfirmationOutcome::Absent)
        << "the right code after the last try";
}

TYPED_TEST(StoreContract, AnExpiredConfirmationIsRemovedAtItsNextAnswer) {
    Awaited& store = this->store();
    store.put_confirmation("taro", phone_confirmation(3, 1000));
    EXPECT_EQ(store.answer_confirmation("taro", "phone", kCodeHash, 1000).outcome,
              ConfirmationOutcome::Expired);
    EXPECT_TRUE(store.confirmations("taro").empty());
}

TYPED_TEST(StoreContract, ConfirmationsAreDroppedByKindAndSourceAndPrunedWhenExpired) {
    Awaited& store = this->store();
    store.put_confirmation("taro", phone_confirmation(3, 1000));
    store.put_confirmation("taro", {"email", kEmail, "profile", kCodeHash, 2000, 3, false});
    store.put_confirmation("jiro", phone_confirmation(3, 500));
    EXPECT_EQ(store.drop_confirmations("taro", "phone", "profile"), 0);
    EXPECT_EQ(store.drop_confirmations("taro", "email", "profile"), 1);
    EXPECT_EQ(store.confirmations("taro").size(), 1u);
    store.prune_confirmations(1000);
    EXPECT_TRUE(store.confirmations("taro").empty());
    EXPECT_TRUE(store.confirmations("jiro").empty());
    store.put_confirmation("taro", phone_confirmation());
    store.put_confirmation("taro", {"email", kEmail, "self", kCodeHash, 2000, 3, false});
    EXPECT_EQ(store.drop_confirmations("taro", ""), 2);
}

TYPED_TEST(StoreContract, AResetOfTheContactsDropsTheConfirmationsInProgress) {
    Awaited& store = this->store();
    store.save_contact("taro", {"email", kEmail, "self"});
    store.put_confirmation("taro", phone_confirmation());
    ResetScope pin_only;
    pin_only.pin = true;
    store.reset("taro", pin_only);
    EXPECT_EQ(store.confirmations("taro").size(), 1u);
    ResetScope contacts;
    contacts.contacts = true;
    store.reset("taro", contacts);
    EXPECT_TRUE(store.confirmations("taro").empty());
}

// ---- Rekey ------------------------------------------------------------------------------

// Every sealed value of a kind: both login contacts, both profile contacts, an app and an
// enrolment waiting.
void save_every_sealed_value(Awaited& store, const std::string& user) {
    store.save_contact(user, {"phone", kPhone, "self"});
    store.save_contact(user, {"email", kEmail, "self"});
    store.set_profile_contact(user, {"phone", "+819011112222", "admin"});
    store.set_profile_contact(user, {"email", "profile@example.com", "admin"});
    store.set_totp(user, "app-secret-0123456789", 5);
    store.set_totp_pending(user, "pending-secret-98765", 4000000000);
}

void expect_every_sealed_value(Awaited& store, const std::string& user) {
    UserState state = store.load_user(user);
    ASSERT_EQ(state.contacts.size(), 2U);
    EXPECT_EQ(state.contact("phone")->value, kPhone);
    EXPECT_EQ(state.contact("email")->value, kEmail);
    ASSERT_EQ(state.profile.size(), 2U);
    EXPECT_EQ(state.profile_contact("phone")->value, "+819011112222");
    EXPECT_EQ(state.profile_contact("email")->value, "profile@example.com");
    EXPECT_EQ(state.totp_secret.view(), "app-secret-0123456789");
    EXPECT_EQ(state.totp_pending.view(), "pending-secret-98765");
}

TYPED_TEST(StoreContract, ARekeyUnderTheSameKeyFindsEveryValueCurrent) {
    Awaited& store = this->store();
    save_every_sealed_value(store, "alice");
    RekeyCounts counts = store.rekey_user("alice");
    EXPECT_EQ(counts.current, 6);
    EXPECT_EQ(counts.resealed, 0);
    EXPECT_EQ(counts.unopenable, 0);
    expect_every_sealed_value(store, "alice");
    RekeyCounts nobody = store.rekey_user("nobody");
    EXPECT_EQ(nobody.current + nobody.resealed + nobody.unopenable, 0);
    EXPECT_TRUE(store.load_user("nobody").empty()) << "a rekey makes no user";
}

TYPED_TEST(StoreContract, ARekeySealsUnderTheNewKeyWhatTheOldKeySealed) {
    if constexpr (!requires(TypeParam & b) { b.open_keyed(std::string(), {}); }) {
        GTEST_SKIP() << TypeParam::kName << " seals nothing";
    } else {
        const std::string old_key(32, 'o');
        const std::string new_key(32, 'n');
        auto before = this->backend_.open_keyed(old_key, {});
        Awaited old_store = this->awaited(*before);
        save_every_sealed_value(old_store, "alice");
        // Sealed under a key that neither the old nor the new handle has.
        auto stranger = this->backend_.open_keyed(std::string(32, 's'), {});
        Awaited stranger_store = this->awaited(*stranger);
        stranger_store.save_contact("bob", {"phone", kPhone, "self"});

        auto rotated = this->backend_.open_keyed(new_key, {old_key});
        Awaited store = this->awaited(*rotated);
        expect_every_sealed_value(store, "alice");  // the old key still opens
        RekeyCounts counts = store.rekey_user("alice");
        EXPECT_EQ(counts.resealed, 6);
        EXPECT_EQ(counts.current, 0);
        EXPECT_EQ(counts.unopenable, 0);
        RekeyCounts again = store.rekey_user("alice");
        EXPECT_EQ(again.resealed, 0) << "a second rekey has nothing left to do";
        EXPECT_EQ(again.current, 6);

        // The old key can go: the new key alone opens every value.
        auto after = this->backend_.open_keyed(new_key, {});
        Awaited new_store = this->awaited(*after);
        expect_every_sealed_value(new_store, "alice");
        EXPECT_EQ(new_store.load_user("alice").two_step, store.load_user("alice").two_step);

        // What no key opens is counted and left as it was, never deleted.
        RekeyCounts bob = store.rekey_user("bob");
        EXPECT_EQ(bob.unopenable, 1);
        EXPECT_EQ(bob.resealed + bob.current, 0);
        ASSERT_NE(stranger_store.load_user("bob").contact("phone"), nullptr);
        EXPECT_EQ(stranger_store.load_user("bob").contact("phone")->value, kPhone);
    }
}

// ---- Concurrency ------------------------------------------------------------------------
// Two handles on the same data, each used by a thread of its own, as two lwauthd processes
// (or hosts) sharing one store would use it: for the backends whose data can be shared.

template <class B>
using SharedStoreContract = StoreContract<B>;
using SharedBackends = ::testing::Types<SqliteBackend, PostgresSharedBackend>;
TYPED_TEST_SUITE(SharedStoreContract, SharedBackends, BackendName);

// Runs `work(store, thread)` on two threads, each with its own handle, and fails the test
// with what a thread threw.
template <class B, class Work>
void on_two_handles(StoreContract<B>& test, Work work) {
    std::vector<std::unique_ptr<AsyncStore>> handles;
    handles.push_back(test.backend_.open());
    handles.push_back(test.backend_.open());
    std::mutex mutex;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            try {
                Awaited store = test.awaited(*handles[static_cast<size_t>(t)]);
                work(store, t);
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                errors.emplace_back(e.what());
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_TRUE(errors.empty()) << errors.front();
}

TYPED_TEST(SharedStoreContract, ReservationsFromTwoHandlesNeverExceedACap) {
    constexpr int kLimit = 40;
    std::vector<int> reserved(2, 0);
    on_two_handles(*this, [&](Awaited& store, int t) {
        for (int i = 0; i < 2 * kLimit; ++i) {
            std::vector<SendCap> caps = {{"user:t" + std::to_string(t), 1000}, {"host", kLimit}};
            if (store.reserve_send(caps, 0, 100 + i).reserved()) {
                ++reserved[static_cast<size_t>(t)];
            }
        }
    });
    EXPECT_EQ(reserved[0] + reserved[1], kLimit);
    Awaited& store = this->store();
    EXPECT_EQ(store.sends_since("host", 0), kLimit);
    EXPECT_EQ(store.sends_since("user:t0", 0), reserved[0]);
    EXPECT_EQ(store.check_send({{"host", kLimit}}, 0, 200).capped, 0);
}

TYPED_TEST(SharedStoreContract, EachHandleSeesTheOthersSendsReleasesAndPrunes) {
    auto first_handle = this->backend_.open();
    auto second_handle = this->backend_.open();
    Awaited first_store = this->awaited(*first_handle);
    Awaited second_store = this->awaited(*second_handle);
    Awaited* first = &first_store;
    Awaited* second = &second_store;
    std::vector<SendCap> caps = {{"host", 2}};
    SendReservation kept = first->reserve_send(caps, 0, 100);
    SendReservation released = second->reserve_send(caps, 0, 200);
    ASSERT_TRUE(kept.reserved() && released.reserved());
    EXPECT_EQ(first->sends_since("host", 0), 2);
    EXPECT_EQ(first->check_send(caps, 0, 300).capped, 0);
    second->release_send(released);
    EXPECT_EQ(first->sends_since("host", 0), 1);
    EXPECT_TRUE(first->reserve_send(caps, 0, 300).reserved());
    first->prune_sends(150);
    EXPECT_EQ(second->sends_since("host", 0), 1);
    EXPECT_EQ(second->sends_since("host", 300), 1);
}

TYPED_TEST(SharedStoreContract, TwoHandlesTakingTheSameAuthenticatorStepTakeItOnce) {
    this->store().set_totp("taro", "secret-bytes-0123456", 0);
    std::vector<int> taken(2, 0);
    on_two_handles(*this, [&](Awaited& store, int t) {
        for (int64_t step = 1; step <= 200; ++step) {
            if (store.use_totp_step("taro", step)) {
                ++taken[static_cast<size_t>(t)];
            }
        }
    });
    EXPECT_LE(taken[0] + taken[1], 200) << "no step taken by both";
    EXPECT_EQ(this->store().load_user("taro").totp_last_step, 200);
}

TYPED_TEST(SharedStoreContract, FailuresFromTwoHandlesAreEachCounted) {
    constexpr int kEach = 100;
    std::vector<std::vector<int>> seen(2);
    on_two_handles(*this, [&](Awaited& store, int t) {
        for (int i = 0; i < kEach; ++i) {
            seen[static_cast<size_t>(t)].push_back(store.add_failure("taro").in_a_row);
            (void)store.add_passwordless_failure("taro");
        }
    });
    std::vector<int> all = seen[0];
    all.insert(all.end(), seen[1].begin(), seen[1].end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "no count given twice";
    LockState lock = this->store().lock_state("taro");
    EXPECT_EQ(lock.failures, 2 * kEach);
    EXPECT_EQ(lock.passwordless_failures, 2 * kEach);
    EXPECT_EQ(this->store().add_failure("taro").in_a_row, 2 * kEach + 1);
}

TYPED_TEST(SharedStoreContract, FailuresFromTwoHandlesLockOncePerLimit) {
    // Each lock takes exactly max_failures codes, whichever handle counted them: no code is
    // counted after a lock it should have started again, and no limit locks twice.
    constexpr int kEach = 60;
    constexpr int kMax = 5;
    std::vector<int> locks(2, 0);
    on_two_handles(*this, [&](Awaited& store, int t) {
        for (int i = 0; i < kEach; ++i) {
            if (store.add_failure("taro", {kMax, 9000, 1000}).locked_until != 0) {
                ++locks[static_cast<size_t>(t)];
            }
        }
    });
    EXPECT_EQ(locks[0] + locks[1], 2 * kEach / kMax);
    LockState lock = this->store().lock_state("taro");
    EXPECT_EQ(lock.failures, 0);
    EXPECT_EQ(lock.locked_until, 9000);
    EXPECT_EQ(this->store().add_failure("taro").in_a_row, 2 * kEach + 1);
}

TYPED_TEST(SharedStoreContract, TwoHandlesRemovingTheLastTwoContactsTurnTwoStepOff) {
    // Each removes one of the two contacts at once: whichever goes second leaves none, and
    // 2-step must not stay on without a contact.
    for (int round = 0; round < 20; ++round) {
        std::string user = "user" + std::to_string(round);
        this->store().save_contact(user, {"phone", kPhone});
        this->store().save_contact(user, {"email", kEmail});
        this->store().set_two_step(user, true);
        std::vector<int> off(2, 0);
        on_two_handles(*this, [&](Awaited& store, int t) {
            off[static_cast<size_t>(t)] =
                store.remove_contact_and_two_step(user, t == 0 ? "phone" : "email") ? 1 : 0;
        });
        EXPECT_EQ(off[0] + off[1], 1) << "exactly one removal was the last";
        UserState state = this->store().load_user(user);
        EXPECT_TRUE(state.contacts.empty());
        EXPECT_FALSE(state.two_step);
    }
}

TYPED_TEST(SharedStoreContract, UnderRequiredTwoHandlesRemovingTheContactAndTheAppLeaveOne) {
    // Each removes one of the last two factors at once: the second sees the first's
    // removal, and is refused.
    RemovalRule required{true, {true, true}, true};
    for (int round = 0; round < 20; ++round) {
        std::string user = "user" + std::to_string(round);
        this->store().save_contact(user, {"phone", kPhone});
        this->store().set_totp(user, "0123456789abcdefghij", 1);
        this->store().set_two_step(user, true);
        std::vector<Removal> done(2, Removal::Absent);
        on_two_handles(*this, [&](Awaited& store, int t) {
            done[static_cast<size_t>(t)] =
                store.remove_second_factor(user, t == 0 ? "phone" : "totp", required);
        });
        int refused = (done[0] == Removal::Refused ? 1 : 0) + (done[1] == Removal::Refused ? 1 : 0);
        EXPECT_EQ(refused, 1) << "exactly one removal was the last";
        UserState state = this->store().load_user(user);
        EXPECT_TRUE(!state.contacts.empty() || state.totp_set()) << "a factor is left";
        EXPECT_TRUE(state.two_step);
    }
}

TYPED_TEST(SharedStoreContract, WrongAnswersFromTwoHandlesAreEachCountedToTheTries) {
    constexpr int kTries = 30;
    this->store().put_confirmation("taro", phone_confirmation(kTries));
    std::vector<std::vector<ConfirmationAnswer>> seen(2);
    on_two_handles(*this, [&](Awaited& store, int t) {
        for (int i = 0; i < kTries; ++i) {
            seen[static_cast<size_t>(t)].push_back(
                store.answer_confirmation("taro", "phone", kWrongHash, 100));
        }
    });
    std::vector<int> left;
    int absent = 0;
    for (const auto& answers : seen) {
        for (const auto& answer : answers) {
            if (answer.outcome == ConfirmationOutcome::Wrong) {
                left.push_back(answer.tries_left);
            } else {
                EXPECT_EQ(answer.outcome, ConfirmationOutcome::Absent);
                ++absent;
            }
        }
    }
    std::sort(left.begin(), left.end());
    std::vector<int> expected;
    for (int i = 0; i < kTries; ++i) {
        expected.push_back(i);
    }
    EXPECT_EQ(left, expected) << "each try taken once, by one answer";
    EXPECT_EQ(absent, kTries) << "the answers after the last try find nothing";
    EXPECT_TRUE(this->store().confirmations("taro").empty());
}

TYPED_TEST(SharedStoreContract, RightAnswersFromTwoHandlesAtOnceConfirmOnce) {
    constexpr int kRounds = 40;
    int right = 0;
    for (int round = 0; round < kRounds; ++round) {
        this->store().put_confirmation("taro", phone_confirmation());
        std::vector<int> rights(2, 0);
        on_two_handles(*this, [&](Awaited& store, int t) {
            if (store.answer_confirmation("taro", "phone", kCodeHash, 100).outcome ==
                ConfirmationOutcome::Right) {
                ++rights[static_cast<size_t>(t)];
            }
        });
        EXPECT_EQ(rights[0] + rights[1], 1) << "round " << round;
        right += rights[0] + rights[1];
    }
    EXPECT_EQ(right, kRounds);
}

TYPED_TEST(SharedStoreContract, AResetRacingFailuresLeavesNoHalfReset) {
    // A reset of everything is one transaction: a failure counted on the other handle lands
    // wholly before it (and is cleared) or wholly after it (and is counted from nothing).
    constexpr int kRounds = 40;
    std::vector<FailureCount> last(2);
    on_two_handles(*this, [&](Awaited& store, int t) {
        for (int i = 0; i < kRounds; ++i) {
            if (t == 0) {
                store.reset("taro", ResetScope{true, true, true, true, true, true, false, false, {}});
            } else {
                last[1] = store.add_failure("taro", {3, 9000, 1000});
            }
        }
    });
    LockState lock = this->store().lock_state("taro");
    EXPECT_LT(lock.failures, 3) << "the limit locked and started the count again";
    EXPECT_LE(last[1].in_a_row, kRounds);
    int in_a_row = this->store().add_failure("taro").in_a_row - 1;
    EXPECT_GE(in_a_row, lock.failures) << "both counts were cleared together";
    EXPECT_TRUE(in_a_row == 0 || in_a_row == last[1].in_a_row)
        << "cleared by the last reset, or counted up to the last failure";
}

// ---- PostgreSQL's migrations -----------------------------------------------------------

TEST(PgStoreMigration, MigratesASchemaTwoDatabaseMarkingUsersWithAnAppOrCodesEnrolled) {
    PgDatabase database;
    if (!database.available()) {
        GTEST_SKIP() << "no PostgreSQL cluster: run through ctest (fixture postgres)";
    }
    OpenSslRandom random;
    {
        auto store = database.store(random);
        store->set_totp("taro", "0123456789abcdefghij", 7);
        store->set_recovery_codes("jiro", {"aa", "bb"});
        store->set_two_step("saburo", true);
    }
    // Schema 2 marked only users with a login contact.
    database.exec(
        "DROP TABLE confirmations; UPDATE users SET enrolled = false; "
        "DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (2);");
    auto reopened = database.store(random);
    auto& store = dynamic_cast<PgStore&>(*reopened);
    EXPECT_EQ(store.schema_version(), PgStore::latest_schema_version());
    EXPECT_TRUE(store.load_user("taro").enrolled) << "an app";
    EXPECT_TRUE(store.load_user("jiro").enrolled) << "recovery codes";
    EXPECT_FALSE(store.load_user("saburo").enrolled);
    EXPECT_EQ(store.load_user("taro").totp_last_step, 7);
}

TEST(PgStoreMachine, TheFirstConnectionOfAMachineAdoptsItsHostNamesRowsOnce) {
    PgDatabase database;
    if (!database.available()) {
        GTEST_SKIP() << "no PostgreSQL cluster: run through ctest (fixture postgres)";
    }
    OpenSslRandom random;
    const RememberedHost place{"sshd", "192.0.2.7", 100, 5000};
    {
        // As an older lwauthd kept them: under the host names.
        auto web1 = database.store(random, "web1");
        web1->set_pin_hash("taro", "pin-of-web1");
        web1->remember_host("taro", place);
        (void)web1->reserve_send({{"host", 10}}, 0, 100);
        database.store(random, "web2")->set_pin_hash("taro", "pin-of-web2");
    }
    const std::string a(32, 'a');
    const std::string b(32, 'b');
    {
        auto machine_a = database.machine_store(random, {a, "web1"});
        EXPECT_EQ(machine_a->load_user("taro").pin_hash, "pin-of-web1");
        EXPECT_TRUE(machine_a->remembered_host("taro", "sshd", "192.0.2.7").has_value());
        EXPECT_EQ(machine_a->sends_since("host", 0), 1) << "the host budget goes on";
    }
    EXPECT_EQ(database.store(random, "web1")->load_user("taro").pin_hash, "")
        << "the rows are the machine's now";
    EXPECT_EQ(database.store(random, "web2")->load_user("taro").pin_hash, "pin-of-web2")
        << "another host name's rows stay";
    // A clone of the same name, first seen later, finds nothing left to take.
    EXPECT_EQ(database.machine_store(random, {b, "web1"})->load_user("taro").pin_hash, "");
    // Rows written under the name after the machine's first connection stay there.
    database.store(random, "web1")->set_pin_hash("jiro", "later");
    auto again = database.machine_store(random, {a, "web1"});
    EXPECT_EQ(again->load_user("jiro").pin_hash, "");
    EXPECT_EQ(again->load_user("taro").pin_hash, "pin-of-web1");
}

}  // namespace
}  // namespace lwauth
