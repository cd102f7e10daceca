#include "sqlite_store.hpp"

#include <algorithm>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <map>
#include <type_traits>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "lwauth/error.hpp"
#include "lwauth/files.hpp"

namespace lwauth {
namespace {

// Numbered migrations: entry i brings the schema from version i to i + 1. Never edit a
// shipped entry; append a new one.
constexpr const char* kMigrations[] = {
    // 1: users, verified contacts (sealed), send log for the caps.
    R"sql(
    CREATE TABLE users (
        name          TEXT PRIMARY KEY NOT NULL,
        two_step      INTEGER NOT NULL DEFAULT 0,
        failures      INTEGER NOT NULL DEFAULT 0,
        locked_until  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE contacts (
        user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        kind         TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
        sealed_value BLOB NOT NULL,
        verified_at  INTEGER NOT NULL,
        PRIMARY KEY (user, kind)
    );
    CREATE TABLE sends (
        id          INTEGER PRIMARY KEY,
        user        TEXT NOT NULL,
        destination TEXT NOT NULL,
        at          INTEGER NOT NULL
    );
    CREATE INDEX sends_by_user ON sends (user, at);
    CREATE INDEX sends_by_destination ON sends (destination, at);
    CREATE INDEX sends_by_time ON sends (at);
    )sql",
    // 2: where a login contact came from, the profile's contacts (sealed), the LINE link
    //    (a keyed hash) and the quick-login PIN (an Argon2id hash).
    R"sql(
    ALTER TABLE contacts ADD COLUMN source TEXT NOT NULL DEFAULT 'self'
        CHECK (source IN ('self', 'profile', 'admin'));
    CREATE TABLE profile_contacts (
        user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        kind         TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
        sealed_value BLOB NOT NULL,
        PRIMARY KEY (user, kind)
    );
    ALTER TABLE users ADD COLUMN line_link TEXT;
    ALTER TABLE users ADD COLUMN pin_hash TEXT;
    )sql",
    // 3: the send log counts each send under the keys of the caps it was reserved
    //    against (a JSON array of strings), so that a send is counted before it leaves
    //    and budgets other than user / destination / host can be kept. The hour's sends
    //    of schema 2 carry over under the login budget's keys (delivery.cpp).
    R"sql(
    CREATE TABLE send_log (
        id   INTEGER PRIMARY KEY,
        at   INTEGER NOT NULL,
        keys TEXT NOT NULL
    );
    CREATE INDEX send_log_by_time ON send_log (at);
    INSERT INTO send_log (at, keys)
        SELECT at, json_array('user:' || user, 'destination:' || destination, 'host')
        FROM sends;
    DROP TABLE sends;
    -- Wrong codes in a row: after the password, not reset by a lock (the 100 limit of
    -- NIST SP 800-63B); before any password (mode=primary), which never lock.
    ALTER TABLE users ADD COLUMN failures_in_a_row INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN passwordless_failures INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 4: the start of a user's enrolment grace ([policy] enroll_grace) and whether the
    //    user ever had a login contact (no grace then), and the places a user finished a
    //    full 2-step login from ([policy] remember_host), with the end the policy of that
    //    login gave them.
    R"sql(
    ALTER TABLE users ADD COLUMN enroll_grace_started INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN enrolled INTEGER NOT NULL DEFAULT 0;
    UPDATE users SET enrolled = 1 WHERE name IN (SELECT user FROM contacts);
    CREATE TABLE remembered_hosts (
        user        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        service     TEXT NOT NULL,
        origin      TEXT NOT NULL,
        verified_at INTEGER NOT NULL,
        until       INTEGER NOT NULL,
        PRIMARY KEY (user, service, origin)
    );
    CREATE INDEX remembered_hosts_by_until ON remembered_hosts (until);
    )sql",
    // 5: quick login: wrong PINs, the last full login on this host and since when quick
    //    login may be used, and failed fingerprint matches (in a row, the pause they
    //    earned, and whether fingerprint login is disabled until a full login).
    R"sql(
    ALTER TABLE users ADD COLUMN pin_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN full_login_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN quick_armed_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN fingerprint_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN fingerprint_paused_until INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN fingerprint_disabled INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 6: authenticator apps (the TOTP secret sealed like contacts, the last time step a
    //    code was accepted for, an enrolment waiting for its first code) and recovery
    //    codes (keyed hashes only, one row a code).
    R"sql(
    ALTER TABLE users ADD COLUMN totp_sealed BLOB;
    ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT -1;
    ALTER TABLE users ADD COLUMN totp_pending_sealed BLOB;
    ALTER TABLE users ADD COLUMN totp_pending_until INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE recovery_codes (
        user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        hash TEXT NOT NULL,
        PRIMARY KEY (user, hash)
    );
    )sql",
    // 7: an authenticator app or recovery codes enrol a user for 2-step as a login
    //    contact does (no enroll_grace any more): marked for those who have them already.
    R"sql(
    UPDATE users SET enrolled = 1
        WHERE totp_sealed IS NOT NULL OR name IN (SELECT user FROM recovery_codes);
    )sql",
    // 8: contacts waiting for their confirmation code (sealed like contacts; the code as
    //    its keyed hash only), so that a restart of lwauthd keeps them.
    R"sql(
    CREATE TABLE confirmations (
        user         TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
        source       TEXT NOT NULL CHECK (source IN ('self', 'profile')),
        sealed_value BLOB NOT NULL,
        code_hash    TEXT NOT NULL,
        expires_at   INTEGER NOT NULL,
        tries_left   INTEGER NOT NULL,
        unproved     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user, kind)
    );
    CREATE INDEX confirmations_by_expiry ON confirmations (expires_at);
    )sql",
};

// Bytes bound as a BLOB (a sealed value), not as text.
struct Blob {
    std::string_view bytes;
};
using Bind = std::variant<std::string_view, int64_t, Blob>;

// The one mapping of SQLite's result codes to errors, for every call that can fail: a full
// disk is Unavailable (a backend that is down, as for a gateway), anything else Internal.
[[noreturn]] void throw_sqlite(int code, const std::string& text) {
    if ((code & 0xff) == SQLITE_FULL) {
        throw Error(Errc::Unavailable, "the state database's disk is full (" + text + ")");
    }
    throw Error(Errc::Internal, "state database: " + text);
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    throw_sqlite(sqlite3_extended_errcode(db), what + ": " + sqlite3_errmsg(db));
}

}  // namespace

// Statements prepared once and kept: parsing SQL is a good part of a small query's cost.
class SqliteStore::Statements {
  public:
    explicit Statements(sqlite3* db) : db_(db) {}
    ~Statements() {
        for (auto& [sql, stmt] : cache_) {
            sqlite3_finalize(stmt);
        }
    }
    Statements(const Statements&) = delete;
    Statements& operator=(const Statements&) = delete;

    [[nodiscard]] sqlite3* db() const { return db_; }

    /// The statement for `sql`, ready to step; nullptr-owned when cached. A statement
    /// still in use (a nested call) gets a fresh one of its own.
    sqlite3_stmt* get(const char* sql, bool& owned) {
        owned = false;
        if (auto it = cache_.find(std::string_view(sql)); it != cache_.end()) {
            if (sqlite3_stmt_busy(it->second) == 0) {
                return it->second;
            }
            owned = true;
        }
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v3(db_, sql, -1, owned ? 0 : SQLITE_PREPARE_PERSISTENT, &raw,
                               nullptr) != SQLITE_OK) {
            fail(db_, "prepare");
        }
        if (!owned) {
            cache_.emplace(sql, raw);
        }
        return raw;
    }

  private:
    sqlite3* db_;
    std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

namespace {

// A statement in use: reset (and its bindings cleared) for the next use when it goes.
class Statement {
  public:
    Statement(sqlite3_stmt* stmt, bool owned) : stmt_(stmt), owned_(owned) {}
    ~Statement() {
        if (stmt_ == nullptr) {
            return;
        }
        if (owned_) {
            sqlite3_finalize(stmt_);
        } else {
            sqlite3_reset(stmt_);
            sqlite3_clear_bindings(stmt_);
        }
    }
    Statement(Statement&& other) noexcept
        : stmt_(std::exchange(other.stmt_, nullptr)), owned_(other.owned_) {}
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;
    [[nodiscard]] sqlite3_stmt* get() const { return stmt_; }

  private:
    sqlite3_stmt* stmt_;
    bool owned_;
};

Statement prepare(SqliteStore::Statements& statements, const char* sql,
                  std::initializer_list<Bind> binds) {
    bool owned = false;
    sqlite3_stmt* raw = statements.get(sql, owned);
    Statement stmt(raw, owned);
    int index = 1;
    for (const auto& b : binds) {
        int rc = SQLITE_OK;
        if (const auto* number = std::get_if<int64_t>(&b)) {
            rc = sqlite3_bind_int64(raw, index, *number);
        } else if (const auto* blob = std::get_if<Blob>(&b)) {
            rc = sqlite3_bind_blob(raw, index, blob->bytes.data(),
                                   static_cast<int>(blob->bytes.size()), SQLITE_TRANSIENT);
        } else {
            const auto& text = std::get<std::string_view>(b);
            rc = sqlite3_bind_text(raw, index, text.data(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
        }
        if (rc != SQLITE_OK) {
            fail(statements.db(), "bind");
        }
        ++index;
    }
    return stmt;
}

void exec(SqliteStore::Statements& statements, const char* sql,
          std::initializer_list<Bind> binds = {}) {
    auto stmt = prepare(statements, sql, binds);
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
        fail(statements.db(), "step");
    }
}

int64_t query_int(SqliteStore::Statements& statements, const char* sql,
                  std::initializer_list<Bind> binds) {
    auto stmt = prepare(statements, sql, binds);
    int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_ROW) {
        return sqlite3_column_int64(stmt.get(), 0);
    }
    if (rc != SQLITE_DONE) {
        fail(statements.db(), "step");
    }
    return 0;
}

void exec_script(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
        std::string text = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw_sqlite(rc, text);
    }
}

// Runs `work` in one BEGIN IMMEDIATE transaction: under the database's write lock from
// its start, so that what it reads still holds when it writes, also against another
// connection (a second lwauthd), which waits; rolled back when it throws. `run` runs
// BEGIN and COMMIT.
template <class Run, class F>
auto transaction_run_by(sqlite3* db, Run run, F&& work) -> decltype(work()) {
    run("BEGIN IMMEDIATE");
    try {
        if constexpr (std::is_void_v<decltype(work())>) {
            work();
            run("COMMIT");
        } else {
            auto result = work();
            run("COMMIT");
            return result;
        }
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

// For the migrations, before the store's statements are made.
template <class F>
auto in_transaction(sqlite3* db, F&& work) -> decltype(work()) {
    return transaction_run_by(
        db, [db](const char* sql) { exec_script(db, sql); }, std::forward<F>(work));
}

// With the store's prepared BEGIN IMMEDIATE and COMMIT, which a login's send reservation
// and every change of a user's state run: no statement parsed again each time.
template <class F>
auto in_transaction(SqliteStore::Statements& statements, F&& work) -> decltype(work()) {
    return transaction_run_by(
        statements.db(),
        [&statements](const char* sql) {
            // Its failure reads as sqlite3_exec's did ("the state database's disk is full
            // (database or disk is full)"), with no step of its own to name.
            auto stmt = prepare(statements, sql, {});
            if (sqlite3_step(stmt.get()) != SQLITE_DONE) {
                throw_sqlite(sqlite3_extended_errcode(statements.db()),
                             sqlite3_errmsg(statements.db()));
            }
        },
        std::forward<F>(work));
}

// What a sealed value is bound to (the AEAD's associated data), so that a sealed value
// moved to another user, kind or table no longer opens.
std::string binding(const std::string& user, const std::string& kind) {
    return user + '\n' + kind;
}
std::string profile_binding(const std::string& user, const std::string& kind) {
    return "profile\n" + user + '\n' + kind;
}
// An authenticator app's secret: its own associated data, so that neither a contact nor a
// pending enrolment's secret opens as the active one.
std::string totp_binding(const std::string& user, bool pending) {
    return (pending ? "totp-pending\n" : "totp\n") + user;
}

// A contact waiting for its code: apart from the verified ones, so that a pending value
// never opens as a login contact.
std::string confirmation_binding(const std::string& user, const std::string& kind) {
    return "confirm\n" + user + '\n' + kind;
}

std::string_view column_blob(sqlite3_stmt* stmt, int column) {
    const void* data = sqlite3_column_blob(stmt, column);
    return data == nullptr
               ? std::string_view()
               : std::string_view(static_cast<const char*>(data),
                                  static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

std::string column_text(sqlite3_stmt* stmt, int column) {
    const unsigned char* text = sqlite3_column_text(stmt, column);
    return text != nullptr ? reinterpret_cast<const char*>(text) : "";
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, ContactCipher cipher)
    : cipher_(std::move(cipher)), path_(path) {
    // Create the file ourselves so it is 0600 from its first byte; SQLite gives its -wal
    // and -shm files the same mode and owner. What is there already is judged as every
    // state file is (files.hpp), and so are the -wal and -shm files SQLite would open by
    // name: a copy of the database, or its journal, must not be anyone else's.
    auto db = open_checked(AT_FDCWD, path, O_RDWR | O_CREAT, FileType::Regular,
                           private_file_rule(::geteuid()), 0600);
    if (!db) {
        throw Error(Errc::Internal, "state database " + describe_file_error(db.error(), path));
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        std::string beside = path + suffix;
        auto file = open_checked(AT_FDCWD, beside, O_PATH, FileType::Regular,
                                 private_file_rule(::geteuid()));
        if (!file && file.error().code() != Errc::NotFound) {
            throw Error(Errc::Internal,
                        "state database " + describe_file_error(file.error(), beside));
        }
    }
    db->fd.reset();

    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) {
        throw_sqlite(rc,
                     "cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
    }
    statements_ = std::make_unique<Statements>(db_.get());
    sqlite3_busy_timeout(db_.get(), 5000);
    exec_script(db_.get(),
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    migrate();
    refresh_sends();
}

void SqliteStore::load_sends() {
    auto stmt = prepare(*statements_, "SELECT at, keys FROM send_log", {});
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        auto keys = nlohmann::json::parse(column_text(stmt.get(), 1), nullptr, false);
        if (!keys.is_array()) {
            throw Error(Errc::Internal, "state database: a send_log row has no key list");
        }
        std::vector<std::string> names;
        for (const auto& key : keys) {
            if (key.is_string()) {
                names.push_back(key.get<std::string>());
            }
        }
        sends_.add(names, sqlite3_column_int64(stmt.get(), 0));
    }
    if (rc != SQLITE_DONE) {
        fail(db_.get(), "load sends");
    }
}

// Another connection to the file (a second lwauthd) may have written the send log since
// the index was loaded: PRAGMA data_version changes only then, and the index is loaded
// again.
void SqliteStore::refresh_sends() {
    int64_t version = query_int(*statements_, "PRAGMA data_version", {});
    if (version != sends_version_ || sends_version_ == 0) {
        sends_ = SendIndex();
        load_sends();
        sends_version_ = version;
    }
}

int SqliteStore::latest_schema_version() {
    return static_cast<int>(std::size(kMigrations));
}

int SqliteStore::schema_version() {
    return static_cast<int>(query_int(*statements_, "PRAGMA user_version", {}));
}

void SqliteStore::migrate() {
    int version = schema_version();
    if (version > latest_schema_version()) {
        throw Error(Errc::Internal, "state database " + path_ + " has schema version " +
                                        std::to_string(version) + ", newer than this lwauthd (" +
                                        std::to_string(latest_schema_version()) + ")");
    }
    for (int v = version; v < latest_schema_version(); ++v) {
        in_transaction(db_.get(), [&] {
            exec_script(db_.get(), kMigrations[v]);
            exec_script(db_.get(), ("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
        });
    }
}

void SqliteStore::ensure_user(const std::string& user) {
    exec(*statements_, "INSERT OR IGNORE INTO users (name) VALUES (?)", {user});
}

UserState SqliteStore::load_user(const std::string& user) {
    UserState state;
    {
        auto stmt = prepare(*statements_,
                            "SELECT two_step, failures, locked_until, line_link, "
                            "pin_hash, passwordless_failures, enroll_grace_started, "
                            "enrolled, pin_failures, full_login_at, quick_armed_at, "
                            "fingerprint_failures, fingerprint_paused_until, "
                            "fingerprint_disabled, totp_sealed, totp_last_step, "
                            "totp_pending_sealed, totp_pending_until, "
                            "(SELECT count(*) FROM recovery_codes WHERE user = name) "
                            "FROM users WHERE name = ?",
                            {user});
        int rc = sqlite3_step(stmt.get());
        if (rc == SQLITE_ROW) {
            state.two_step = sqlite3_column_int(stmt.get(), 0) != 0;
            state.failures = sqlite3_column_int(stmt.get(), 1);
            state.locked_until = sqlite3_column_int64(stmt.get(), 2);
            if (const unsigned char* link = sqlite3_column_text(stmt.get(), 3)) {
                state.line_link = reinterpret_cast<const char*>(link);
            }
            state.line_linked = !state.line_link.empty();
            if (const unsigned char* pin = sqlite3_column_text(stmt.get(), 4)) {
                state.pin_hash = reinterpret_cast<const char*>(pin);
            }
            state.pin_set = !state.pin_hash.empty();
            state.passwordless_failures = sqlite3_column_int(stmt.get(), 5);
            state.enroll_grace_started = sqlite3_column_int64(stmt.get(), 6);
            state.enrolled = sqlite3_column_int(stmt.get(), 7) != 0;
            state.pin_failures = sqlite3_column_int(stmt.get(), 8);
            state.full_login_at = sqlite3_column_int64(stmt.get(), 9);
            state.quick_armed_at = sqlite3_column_int64(stmt.get(), 10);
            state.fingerprint.in_a_row = sqlite3_column_int(stmt.get(), 11);
            state.fingerprint.paused_until = sqlite3_column_int64(stmt.get(), 12);
            state.fingerprint.disabled = sqlite3_column_int(stmt.get(), 13) != 0;
            if (auto sealed = column_blob(stmt.get(), 14); !sealed.empty()) {
                state.totp_secret = cipher_.open_secret(sealed, totp_binding(user, false));
            }
            state.totp_last_step = sqlite3_column_int64(stmt.get(), 15);
            if (auto sealed = column_blob(stmt.get(), 16); !sealed.empty()) {
                state.totp_pending = cipher_.open_secret(sealed, totp_binding(user, true));
            }
            state.totp_pending_until = sqlite3_column_int64(stmt.get(), 17);
            state.recovery_codes = sqlite3_column_int(stmt.get(), 18);
        } else if (rc != SQLITE_DONE) {
            fail(db_.get(), "load user");
        }
    }
    // The login contacts and the profile in one statement: each statement is a read
    // transaction of its own.
    auto stmt =
        prepare(*statements_,
                "SELECT 0, kind, sealed_value, source FROM contacts WHERE user = ?1 "
                "UNION ALL "
                "SELECT 1, kind, sealed_value, 'admin' FROM profile_contacts WHERE user = ?1",
                {user});
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        bool profile = sqlite3_column_int(stmt.get(), 0) != 0;
        std::string kind = column_text(stmt.get(), 1);
        std::string_view sealed(static_cast<const char*>(sqlite3_column_blob(stmt.get(), 2)),
                                static_cast<size_t>(sqlite3_column_bytes(stmt.get(), 2)));
        if (profile) {
            state.profile.push_back(
                {kind, cipher_.open(sealed, profile_binding(user, kind)), "admin"});
        } else {
            state.contacts.push_back(
                {kind, cipher_.open(sealed, binding(user, kind)), column_text(stmt.get(), 3)});
        }
    }
    if (rc != SQLITE_DONE) {
        fail(db_.get(), "load contacts");
    }
    // In kind order, sorted here rather than by SQLite (a sorter for at most four rows).
    auto by_kind = [](const Contact& a, const Contact& b) { return a.kind < b.kind; };
    std::sort(state.contacts.begin(), state.contacts.end(), by_kind);
    std::sort(state.profile.begin(), state.profile.end(), by_kind);
    return state;
}

LockState SqliteStore::lock_state(const std::string& user) {
    LockState state;
    auto stmt = prepare(
        *statements_,
        "SELECT failures, locked_until, passwordless_failures FROM users WHERE name = ?", {user});
    int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_ROW) {
        state.failures = sqlite3_column_int(stmt.get(), 0);
        state.locked_until = sqlite3_column_int64(stmt.get(), 1);
        state.passwordless_failures = sqlite3_column_int(stmt.get(), 2);
    } else if (rc != SQLITE_DONE) {
        fail(db_.get(), "load lockout");
    }
    return state;
}

std::vector<std::string> SqliteStore::list_users() {
    std::vector<std::string> out;
    auto stmt = prepare(*statements_, "SELECT name FROM users ORDER BY name", {});
    while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
        out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0)));
    }
    return out;
}

void SqliteStore::save_contact(const std::string& user, const Contact& contact) {
    ensure_user(user);
    std::string sealed = cipher_.seal(contact.value, binding(user, contact.kind));
    auto stmt =
        prepare(*statements_,
                "INSERT INTO contacts (user, kind, source, sealed_value, verified_at) "
                "VALUES (?, ?, ?, ?, strftime('%s','now')) "
                "ON CONFLICT (user, kind) DO UPDATE SET sealed_value = excluded.sealed_value, "
                "source = excluded.source, verified_at = excluded.verified_at",
                {user, contact.kind, contact.source});
    if (sqlite3_bind_blob(stmt.get(), 4, sealed.data(), static_cast<int>(sealed.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(stmt.get()) != SQLITE_DONE) {
        fail(db_.get(), "save contact");
    }
    exec(*statements_, "UPDATE users SET enrolled = 1 WHERE name = ? AND enrolled = 0", {user});
}

void SqliteStore::set_profile_contact(const std::string& user, const Contact& contact) {
    ensure_user(user);
    std::string sealed = cipher_.seal(contact.value, profile_binding(user, contact.kind));
    auto stmt =
        prepare(*statements_,
                "INSERT INTO profile_contacts (user, kind, sealed_value) VALUES (?, ?, ?) "
                "ON CONFLICT (user, kind) DO UPDATE SET sealed_value = excluded.sealed_value",
                {user, contact.kind});
    if (sqlite3_bind_blob(stmt.get(), 3, sealed.data(), static_cast<int>(sealed.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(stmt.get()) != SQLITE_DONE) {
        fail(db_.get(), "save profile contact");
    }
}

void SqliteStore::save_profile_and_login_contact(const std::string& user, const Contact& contact) {
    in_transaction(*statements_, [&] { save_profile_and_login_contact_steps(user, contact); });
}

void SqliteStore::remove_profile_contact(const std::string& user, const std::string& kind) {
    exec(*statements_, "DELETE FROM profile_contacts WHERE user = ? AND kind = ?", {user, kind});
}

void SqliteStore::set_line_link(const std::string& user, const std::string& subject_hash) {
    ensure_user(user);
    if (subject_hash.empty()) {
        exec(*statements_, "UPDATE users SET line_link = NULL WHERE name = ?", {user});
    } else {
        exec(*statements_, "UPDATE users SET line_link = ? WHERE name = ?", {subject_hash, user});
    }
}

bool SqliteStore::replace_line_link(const std::string& user, const std::string& old_hash,
                                    const std::string& new_hash) {
    if (old_hash.empty() || new_hash.empty()) {
        return false;  // neither a link made nor one removed: set_line_link does those
    }
    exec(*statements_, "UPDATE users SET line_link = ? WHERE name = ? AND line_link = ?",
         {new_hash, user, old_hash});
    return sqlite3_changes(db_.get()) > 0;
}

void SqliteStore::set_pin_hash(const std::string& user, const std::string& encoded_hash) {
    ensure_user(user);
    if (encoded_hash.empty()) {
        exec(*statements_, "UPDATE users SET pin_hash = NULL, pin_failures = 0 WHERE name = ?",
             {user});
    } else {
        exec(*statements_, "UPDATE users SET pin_hash = ? WHERE name = ?", {encoded_hash, user});
    }
}

bool SqliteStore::replace_pin_hash(const std::string& user, const std::string& old_hash,
                                   const std::string& new_hash) {
    exec(*statements_, "UPDATE users SET pin_hash = ? WHERE name = ? AND pin_hash = ?",
         {new_hash, user, old_hash});
    return sqlite3_changes(db_.get()) > 0;
}

void SqliteStore::set_pin(const std::string& user, const std::string& encoded_hash) {
    ensure_user(user);
    exec(*statements_, "UPDATE users SET pin_hash = ?, pin_failures = 0 WHERE name = ?",
         {encoded_hash, user});
}

void SqliteStore::set_totp_pending(const std::string& user, std::string_view secret,
                                   int64_t until) {
    ensure_user(user);
    if (secret.empty()) {
        exec(*statements_,
             "UPDATE users SET totp_pending_sealed = NULL, totp_pending_until = 0 WHERE name = ?",
             {user});
        return;
    }
    std::string sealed = cipher_.seal(secret, totp_binding(user, true));
    exec(*statements_,
         "UPDATE users SET totp_pending_sealed = ?, totp_pending_until = ? WHERE name = ?",
         {Blob{sealed}, until, user});
}

void SqliteStore::set_totp(const std::string& user, std::string_view secret, int64_t last_step) {
    ensure_user(user);
    if (secret.empty()) {
        exec(*statements_,
             "UPDATE users SET totp_sealed = NULL, totp_last_step = -1, "
             "totp_pending_sealed = NULL, totp_pending_until = 0 WHERE name = ?",
             {user});
        return;
    }
    std::string sealed = cipher_.seal(secret, totp_binding(user, false));
    exec(*statements_,
         "UPDATE users SET totp_sealed = ?, totp_last_step = ?, totp_pending_sealed = NULL, "
         "totp_pending_until = 0, enrolled = 1 WHERE name = ?",
         {Blob{sealed}, last_step, user});
}

bool SqliteStore::use_totp_step(const std::string& user, int64_t step) {
    // One statement: of two logins with codes of the same step, only one changes the row.
    exec(*statements_,
         "UPDATE users SET totp_last_step = ?1 WHERE name = ?2 AND totp_last_step < ?1 "
         "AND totp_sealed IS NOT NULL",
         {step, user});
    return sqlite3_changes(db_.get()) > 0;
}

void SqliteStore::set_recovery_codes(const std::string& user,
                                     const std::vector<std::string>& hashes) {
    auto replace = [&] {
        ensure_user(user);
        exec(*statements_, "DELETE FROM recovery_codes WHERE user = ?", {user});
        for (const auto& hash : hashes) {
            exec(*statements_, "INSERT INTO recovery_codes (user, hash) VALUES (?, ?)",
                 {user, hash});
        }
        if (!hashes.empty()) {
            exec(*statements_, "UPDATE users SET enrolled = 1 WHERE name = ? AND enrolled = 0",
                 {user});
        }
    };
    if (sqlite3_get_autocommit(db_.get()) == 0) {
        replace();  // a step of reset(), inside its transaction
        return;
    }
    in_transaction(*statements_, replace);
}

int SqliteStore::use_recovery_code(const std::string& user, const std::string& hash) {
    return in_transaction(*statements_, [&] {
        exec(*statements_, "DELETE FROM recovery_codes WHERE user = ? AND hash = ?", {user, hash});
        if (sqlite3_changes(db_.get()) == 0) {
            return -1;
        }
        return static_cast<int>(
            query_int(*statements_, "SELECT count(*) FROM recovery_codes WHERE user = ?", {user}));
    });
}

int SqliteStore::add_pin_failure(const std::string& user) {
    ensure_user(user);
    return static_cast<int>(query_int(
        *statements_,
        "UPDATE users SET pin_failures = pin_failures + 1 WHERE name = ? RETURNING pin_failures",
        {user}));
}

void SqliteStore::clear_pin_failures(const std::string& user) {
    exec(*statements_, "UPDATE users SET pin_failures = 0 WHERE name = ?", {user});
}

FingerprintFailures SqliteStore::add_fingerprint_failure(const std::string& user, int64_t now) {
    ensure_user(user);
    return in_transaction(*statements_, [&] {
        FingerprintFailures state = load_user(user).fingerprint;
        state = after_fingerprint_no_match(state, now);
        exec(*statements_,
             "UPDATE users SET fingerprint_failures = ?, fingerprint_paused_until = ?, "
             "fingerprint_disabled = ? WHERE name = ?",
             {int64_t{state.in_a_row}, state.paused_until, int64_t{state.disabled ? 1 : 0}, user});
        return state;
    });
}

void SqliteStore::clear_fingerprint_failures(const std::string& user) {
    exec(*statements_,
         "UPDATE users SET fingerprint_failures = 0, fingerprint_paused_until = 0, "
         "fingerprint_disabled = 0 WHERE name = ?",
         {user});
}

void SqliteStore::record_full_login(const std::string& user, int64_t now) {
    ensure_user(user);
    exec(*statements_,
         "UPDATE users SET full_login_at = ?1, quick_armed_at = ?1, pin_failures = 0, "
         "fingerprint_failures = 0, fingerprint_paused_until = 0, fingerprint_disabled = 0 "
         "WHERE name = ?2",
         {now, user});
}

void SqliteStore::remove_contact(const std::string& user, const std::string& kind) {
    exec(*statements_, "DELETE FROM contacts WHERE user = ? AND kind = ?", {user, kind});
}

bool SqliteStore::remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                                   const std::optional<OtherFactors>& others) {
    return in_transaction(
        *statements_, [&] { return remove_profile_and_login_contact_steps(user, kind, others); });
}

bool SqliteStore::remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                              const OtherFactors& others) {
    return in_transaction(*statements_,
                          [&] { return remove_contact_and_two_step_steps(user, kind, others); });
}

Removal SqliteStore::remove_second_factor(const std::string& user, const std::string& factor,
                                          const RemovalRule& rule) {
    return in_transaction(*statements_,
                          [&] { return remove_second_factor_steps(user, factor, rule); });
}

void SqliteStore::save_contact_and_two_step(const std::string& user, const Contact& contact,
                                            bool two_step) {
    in_transaction(*statements_, [&] { save_contact_and_two_step_steps(user, contact, two_step); });
}

void SqliteStore::set_totp_and_two_step(const std::string& user, std::string_view secret,
                                        int64_t last_step, bool two_step) {
    in_transaction(*statements_,
                   [&] { set_totp_and_two_step_steps(user, secret, last_step, two_step); });
}

void SqliteStore::set_two_step(const std::string& user, bool enabled) {
    ensure_user(user);
    exec(*statements_, "UPDATE users SET two_step = ? WHERE name = ?",
         {int64_t{enabled ? 1 : 0}, user});
}

int64_t SqliteStore::start_enroll_grace(const std::string& user, int64_t now) {
    ensure_user(user);
    return query_int(*statements_,
                     "UPDATE users SET enroll_grace_started = CASE WHEN enroll_grace_started = 0 "
                     "THEN ? ELSE enroll_grace_started END WHERE name = ? "
                     "RETURNING enroll_grace_started",
                     {now, user});
}

void SqliteStore::clear_enroll_grace(const std::string& user) {
    exec(*statements_, "UPDATE users SET enroll_grace_started = 0, enrolled = 0 WHERE name = ?",
         {user});
}

void SqliteStore::remember_host(const std::string& user, const RememberedHost& host) {
    ensure_user(user);
    exec(*statements_,
         "INSERT INTO remembered_hosts (user, service, origin, verified_at, until) "
         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user, service, origin) DO UPDATE SET "
         "verified_at = excluded.verified_at, until = excluded.until",
         {user, host.service, host.origin, host.verified_at, host.until});
}

std::optional<RememberedHost> SqliteStore::remembered_host(const std::string& user,
                                                           const std::string& service,
                                                           const std::string& origin) {
    auto stmt = prepare(*statements_,
                        "SELECT verified_at, until FROM remembered_hosts "
                        "WHERE user = ? AND service = ? AND origin = ?",
                        {user, service, origin});
    int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_ROW) {
        return RememberedHost{service, origin, sqlite3_column_int64(stmt.get(), 0),
                              sqlite3_column_int64(stmt.get(), 1)};
    }
    if (rc != SQLITE_DONE) {
        fail(db_.get(), "load a remembered host");
    }
    return std::nullopt;
}

void SqliteStore::prune_hosts(int64_t now) {
    exec(*statements_, "DELETE FROM remembered_hosts WHERE until <= ?", {now});
}

std::vector<RememberedHost> SqliteStore::remembered_hosts(const std::string& user) {
    std::vector<RememberedHost> out;
    auto stmt = prepare(*statements_,
                        "SELECT service, origin, verified_at, until FROM remembered_hosts "
                        "WHERE user = ? ORDER BY verified_at, service, origin",
                        {user});
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        out.push_back({column_text(stmt.get(), 0), column_text(stmt.get(), 1),
                       sqlite3_column_int64(stmt.get(), 2), sqlite3_column_int64(stmt.get(), 3)});
    }
    if (rc != SQLITE_DONE) {
        fail(db_.get(), "load remembered hosts");
    }
    return out;
}

int SqliteStore::forget_hosts(const std::string& user, int64_t before) {
    if (before > 0) {
        exec(*statements_, "DELETE FROM remembered_hosts WHERE user = ? AND verified_at < ?",
             {user, before});
    } else {
        exec(*statements_, "DELETE FROM remembered_hosts WHERE user = ?", {user});
    }
    return sqlite3_changes(db_.get());
}

FailureCount SqliteStore::add_failure(const std::string& user, const LockRule& rule) {
    return in_transaction(*statements_, [&] {
        ensure_user(user);
        FailureCount count;
        {
            auto stmt = prepare(*statements_,
                                "UPDATE users SET failures = failures + 1, "
                                "failures_in_a_row = failures_in_a_row + ? WHERE name = ? "
                                "AND (? = 0 OR locked_until <= ?) "
                                "RETURNING failures, failures_in_a_row",
                                {int64_t{rule.in_a_row ? 1 : 0}, user, rule.now, rule.now});
            int step = sqlite3_step(stmt.get());
            if (step == SQLITE_DONE) {  // locked at rule.now: that lock stays
                auto locked = prepare(*statements_,
                                      "SELECT failures, failures_in_a_row, locked_until "
                                      "FROM users WHERE name = ?",
                                      {user});
                if (sqlite3_step(locked.get()) != SQLITE_ROW) {
                    fail(db_.get(), "read a lock");
                }
                return FailureCount{sqlite3_column_int(locked.get(), 0),
                                    sqlite3_column_int(locked.get(), 1), 0,
                                    sqlite3_column_int64(locked.get(), 2)};
            }
            if (step != SQLITE_ROW) {
                fail(db_.get(), "count a failure");
            }
            count = {sqlite3_column_int(stmt.get(), 0), sqlite3_column_int(stmt.get(), 1)};
        }
        count.locked_until = lock_for(count, rule);
        if (count.locked_until != 0) {
            lock(user, count.locked_until);
        }
        return count;
    });
}

int SqliteStore::add_passwordless_failure(const std::string& user) {
    ensure_user(user);
    return static_cast<int>(query_int(*statements_,
                                      "UPDATE users SET passwordless_failures = "
                                      "passwordless_failures + 1 WHERE name = ? "
                                      "RETURNING passwordless_failures",
                                      {user}));
}

void SqliteStore::lock(const std::string& user, int64_t until) {
    ensure_user(user);
    exec(*statements_, "UPDATE users SET locked_until = ?, failures = 0 WHERE name = ?",
         {until, user});
}

void SqliteStore::clear_failures(const std::string& user) {
    exec(*statements_,
         "UPDATE users SET failures = 0, failures_in_a_row = 0, passwordless_failures = 0, "
         "locked_until = 0 WHERE name = ?",
         {user});
}

bool SqliteStore::clear_failures_unless_locked(const std::string& user, int64_t now) {
    return in_transaction(*statements_, [&] {
        exec(*statements_,
             "UPDATE users SET failures = 0, failures_in_a_row = 0, passwordless_failures = 0, "
             "locked_until = 0 WHERE name = ? AND locked_until <= ?",
             {user, now});
        return sqlite3_changes(db_.get()) != 0 ||
               query_int(*statements_,
                         "SELECT COUNT(*) FROM users WHERE name = ? AND locked_until > ?",
                         {user, now}) == 0;
    });
}

void SqliteStore::reset(const std::string& user, const ResetScope& scope) {
    in_transaction(*statements_, [&] { reset_steps(user, scope); });
}

RekeyCounts SqliteStore::rekey_user(const std::string& user) {
    return in_transaction(*statements_, [&] {
        std::vector<SealedValue> values;
        {
            auto stmt = prepare(
                *statements_,
                "SELECT 0, kind, sealed_value FROM contacts WHERE user = ?1 "
                "UNION ALL SELECT 1, kind, sealed_value FROM profile_contacts WHERE user = ?1 "
                "UNION ALL SELECT 2, '', totp_sealed FROM users "
                "WHERE name = ?1 AND totp_sealed IS NOT NULL "
                "UNION ALL SELECT 3, '', totp_pending_sealed FROM users "
                "WHERE name = ?1 AND totp_pending_sealed IS NOT NULL",
                {user});
            int rc;
            while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
                values.push_back(
                    {static_cast<SealedValue::Place>(sqlite3_column_int(stmt.get(), 0)),
                     column_text(stmt.get(), 1), std::string(column_blob(stmt.get(), 2))});
            }
            if (rc != SQLITE_DONE) {
                fail(db_.get(), "read sealed values");
            }
        }
        // By SealedValue::Place; ?3 is the kind ("" for the app's). The transaction holds
        // the write lock: nothing changed the values since they were read.
        static constexpr const char* kReplace[] = {
            "UPDATE contacts SET sealed_value = ?1 WHERE user = ?2 AND kind = ?3",
            "UPDATE profile_contacts SET sealed_value = ?1 WHERE user = ?2 AND kind = ?3",
            "UPDATE users SET totp_sealed = ?1 WHERE name = ?2 AND ?3 = ''",
            "UPDATE users SET totp_pending_sealed = ?1 WHERE name = ?2 AND ?3 = ''",
        };
        return reseal_values(cipher_, user, values,
                             [&](const SealedValue& old, const std::string& resealed) {
                                 exec(*statements_, kReplace[static_cast<size_t>(old.place)],
                                      {Blob{resealed}, user, old.kind});
                             });
    });
}

SqliteStore::~SqliteStore() = default;

void SqliteStore::put_confirmation(const std::string& user, const Confirmation& c) {
    std::string sealed = cipher_.seal(c.value, confirmation_binding(user, c.kind));
    exec(*statements_,
         "INSERT INTO confirmations (user, kind, source, sealed_value, code_hash, expires_at, "
         "tries_left, unproved) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user, kind) DO "
         "UPDATE SET source = excluded.source, sealed_value = excluded.sealed_value, "
         "code_hash = excluded.code_hash, expires_at = excluded.expires_at, "
         "tries_left = excluded.tries_left, unproved = excluded.unproved",
         {user, c.kind, c.source, Blob{sealed}, c.code_hash, c.expires_at, int64_t{c.tries_left},
          int64_t{c.unproved ? 1 : 0}});
}

std::vector<Confirmation> SqliteStore::confirmations(const std::string& user) {
    std::vector<Confirmation> out;
    auto stmt = prepare(*statements_,
                        "SELECT kind, source, sealed_value, code_hash, expires_at, tries_left, "
                        "unproved FROM confirmations WHERE user = ? ORDER BY kind",
                        {user});
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        Confirmation c;
        c.kind = column_text(stmt.get(), 0);
        c.source = column_text(stmt.get(), 1);
        c.value = cipher_.open(column_blob(stmt.get(), 2), confirmation_binding(user, c.kind));
        c.code_hash = column_text(stmt.get(), 3);
        c.expires_at = sqlite3_column_int64(stmt.get(), 4);
        c.tries_left = static_cast<int>(sqlite3_column_int64(stmt.get(), 5));
        c.unproved = sqlite3_column_int64(stmt.get(), 6) != 0;
        out.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) {
        fail(db_.get(), "load confirmations");
    }
    return out;
}

int SqliteStore::drop_confirmations(const std::string& user, const std::string& kind,
                                    const std::string& source) {
    exec(*statements_,
         "DELETE FROM confirmations WHERE user = ?1 AND (?2 = '' OR kind = ?2) "
         "AND (?3 = '' OR source = ?3)",
         {user, kind, source});
    return sqlite3_changes(db_.get());
}

ConfirmationAnswer SqliteStore::answer_confirmation(const std::string& user,
                                                    const std::string& kind,
                                                    const std::string& answer_hash, int64_t now) {
    // Under the write lock from the read on (BEGIN IMMEDIATE): another lwauthd's answer
    // waits, then reads the tries this one left.
    return in_transaction(*statements_, [&] {
        std::optional<Confirmation> found;
        for (auto& c : confirmations(user)) {
            if (c.kind == kind) {
                found = std::move(c);
            }
        }
        return answer_confirmation_steps(user, kind, std::move(found), answer_hash, now);
    });
}

void SqliteStore::prune_confirmations(int64_t now) {
    exec(*statements_, "DELETE FROM confirmations WHERE expires_at <= ?", {now});
}

SendReservation SqliteStore::reserve_send(const std::vector<SendCap>& caps, int64_t since,
                                          int64_t at) {
    // Written before the message leaves, and committed without waiting for the disk
    // (synchronous=NORMAL for this statement): at COMMIT it is in the kernel's hands, so
    // lwauthd killed at any moment after still counts it; only a power cut in the moment
    // after can lose the latest sends of an hourly count. An fsync here would hold up
    // every login waiting on the event loop. Everything else (contacts, failures,
    // lockouts) keeps synchronous=FULL.
    exec(*statements_, "PRAGMA synchronous=NORMAL");
    struct BackToFull {  // setting the flag does no I/O
        Statements& statements;
        ~BackToFull() {
            try {
                exec(statements, "PRAGMA synchronous=FULL");
            } catch (...) {  // only a statement that cannot be prepared: memory
                sqlite3_exec(statements.db(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
            }
        }
    } back_to_full{*statements_};
    // Check and insert under the database's write lock, against the send log as it is
    // then: a second connection reserving at the same time waits, and sees this send.
    SendReservation r = in_transaction(*statements_, [&] {
        refresh_sends();
        SendReservation checked = sends_.check(caps, since, at);
        if (checked.capped < 0) {
            checked.keys = counted_keys(caps);
            nlohmann::json keys = checked.keys;
            exec(*statements_, "INSERT INTO send_log (at, keys) VALUES (?, ?)", {at, keys.dump()});
            checked.id = sqlite3_last_insert_rowid(db_.get());
            checked.at = at;
        }
        return checked;
    });
    if (r.reserved()) {
        sends_.add(r.keys, at);
    }
    return r;
}

void SqliteStore::release_send(const SendReservation& reservation) {
    if (!reservation.reserved()) {
        return;
    }
    exec(*statements_, "DELETE FROM send_log WHERE id = ?", {reservation.id});
    sends_.remove(reservation.keys, reservation.at);
}

SendReservation SqliteStore::check_send(const std::vector<SendCap>& caps, int64_t since,
                                        int64_t at) {
    refresh_sends();
    return sends_.check(caps, since, at);
}

int SqliteStore::sends_since(const std::string& key, int64_t since) {
    refresh_sends();
    return sends_.count_since(key, since);
}

void SqliteStore::prune_sends(int64_t before) {
    exec(*statements_, "DELETE FROM send_log WHERE at < ?", {before});
    sends_.prune(before);
}

}  // namespace lwauth
