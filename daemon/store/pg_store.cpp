#include "pg_store.hpp"

#include <algorithm>
#include <initializer_list>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "../log.hpp"
#include "lwauth/error.hpp"

namespace lwauth {
namespace {

// Numbered migrations: entry i brings the schema from version i to i + 1. Never edit a
// shipped entry; append a new one. Column `user_name`: `user` is a keyword in SQL.
constexpr const char* kMigrations[] = {
    // 1: the state SqliteStore reaches at its schema 5, shared by the fleet; what is bound
    //    to one machine (quick login, remembered places) keyed by the host's name too; the
    //    send log with one row per key, counted by an index on (key, at).
    R"sql(
    CREATE TABLE users (
        name                  TEXT PRIMARY KEY,
        two_step              BOOLEAN NOT NULL DEFAULT false,
        failures              INTEGER NOT NULL DEFAULT 0,
        failures_in_a_row     INTEGER NOT NULL DEFAULT 0,
        locked_until          BIGINT NOT NULL DEFAULT 0,
        passwordless_failures INTEGER NOT NULL DEFAULT 0,
        line_link             TEXT,
        enroll_grace_started  BIGINT NOT NULL DEFAULT 0,
        enrolled              BOOLEAN NOT NULL DEFAULT false
    );
    CREATE TABLE contacts (
        user_name    TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        kind         TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
        source       TEXT NOT NULL DEFAULT 'self' CHECK (source IN ('self', 'profile', 'admin')),
        sealed_value BYTEA NOT NULL,
        verified_at  BIGINT NOT NULL,
        PRIMARY KEY (user_name, kind)
    );
    CREATE TABLE profile_contacts (
        user_name    TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        kind         TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
        sealed_value BYTEA NOT NULL,
        PRIMARY KEY (user_name, kind)
    );
    CREATE TABLE host_users (
        host                     TEXT NOT NULL,
        user_name                TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        pin_hash                 TEXT,
        pin_failures             INTEGER NOT NULL DEFAULT 0,
        full_login_at            BIGINT NOT NULL DEFAULT 0,
        quick_armed_at           BIGINT NOT NULL DEFAULT 0,
        fingerprint_failures     INTEGER NOT NULL DEFAULT 0,
        fingerprint_paused_until BIGINT NOT NULL DEFAULT 0,
        fingerprint_disabled     BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (host, user_name)
    );
    CREATE TABLE remembered_hosts (
        host        TEXT NOT NULL,
        user_name   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        service     TEXT NOT NULL,
        origin      TEXT NOT NULL,
        verified_at BIGINT NOT NULL,
        until       BIGINT NOT NULL,
        PRIMARY KEY (host, user_name, service, origin)
    );
    CREATE INDEX remembered_hosts_by_until ON remembered_hosts (until);
    CREATE TABLE send_log (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL
    );
    CREATE INDEX send_log_by_time ON send_log (at);
    CREATE TABLE send_keys (
        send_id BIGINT NOT NULL REFERENCES send_log(id) ON DELETE CASCADE,
        key     TEXT NOT NULL,
        at      BIGINT NOT NULL
    );
    CREATE INDEX send_keys_by_key ON send_keys (key, at);
    CREATE INDEX send_keys_by_send ON send_keys (send_id);
    )sql",
    // 2: authenticator apps (the TOTP secret sealed like contacts, the last time step a
    //    code was accepted for, an enrolment waiting for its first code) and recovery
    //    codes (keyed hashes only, one row a code), as SqliteStore's schema 6. Both belong
    //    to the user, not to a machine: an app and a recovery code work on every host, and
    //    a code used on one host is used on all.
    R"sql(
    ALTER TABLE users ADD COLUMN totp_sealed BYTEA;
    ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT -1;
    ALTER TABLE users ADD COLUMN totp_pending_sealed BYTEA;
    ALTER TABLE users ADD COLUMN totp_pending_until BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE recovery_codes (
        user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        hash      TEXT NOT NULL,
        PRIMARY KEY (user_name, hash)
    );
    )sql",
    // 3: an authenticator app or recovery codes enrol a user for 2-step as a login
    //    contact does (no enroll_grace any more): marked for those who have them already,
    //    as SqliteStore's schema 7.
    R"sql(
    UPDATE users SET enrolled = true
        WHERE totp_sealed IS NOT NULL OR name IN (SELECT user_name FROM recovery_codes);
    )sql",
    // 4: contacts waiting for their confirmation code (sealed like contacts; the code as
    //    its keyed hash only), as SqliteStore's schema 8: shared by the fleet, so that a
    //    confirmation started on one host is finished on another.
    R"sql(
    CREATE TABLE confirmations (
        user_name    TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
        source       TEXT NOT NULL CHECK (source IN ('self', 'profile')),
        sealed_value BYTEA NOT NULL,
        code_hash    TEXT NOT NULL,
        expires_at   BIGINT NOT NULL,
        tries_left   INTEGER NOT NULL,
        unproved     BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (user_name, kind)
    );
    CREATE INDEX confirmations_by_expiry ON confirmations (expires_at);
    )sql",
    // 5: what is bound to one machine is keyed by its machine identifier (machine_id.hpp)
    //    from here on, no longer by its host's name, which clones share and a rename loses.
    //    The column `host` keeps its name and holds that identifier; the machines that
    //    took over the rows an older lwauthd wrote under their host's name, each once.
    R"sql(
    CREATE TABLE IF NOT EXISTS machines (
        machine    TEXT PRIMARY KEY,
        host       TEXT NOT NULL,
        adopted_at BIGINT NOT NULL
    );
    )sql",
};

// Taken by every lwauthd that migrates, so that hosts starting together migrate once.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7215340871)";

using PgResultPtr = std::unique_ptr<PGresult, Deleter<PQclear>>;

// SQLSTATE classes that mean the database is away or the statement ran out of time, not a
// bug: 08 connection exceptions, 57 operator intervention (a shutdown, a statement timeout),
// 53 insufficient resources, 40 a deadlock or serialization failure (another host won).
bool unavailable_state(std::string_view state) {
    return state.starts_with("08") || state.starts_with("57") || state.starts_with("53") ||
           state.starts_with("40");
}

// What a sealed value is bound to, as SqliteStore binds it: a database copied between the
// backends keeps opening.
std::string binding(const std::string& user, const std::string& kind) {
    return user + '\n' + kind;
}
std::string profile_binding(const std::string& user, const std::string& kind) {
    return "profile\n" + user + '\n' + kind;
}
std::string totp_binding(const std::string& user, bool pending) {
    return (pending ? "totp-pending\n" : "totp\n") + user;
}

std::string confirmation_binding(const std::string& user, const std::string& kind) {
    return "confirm\n" + user + '\n' + kind;
}

// Bytes as lowercase hex digits (decode($n, 'hex') in SQL).
std::string hex_of(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 0xf]);
    }
    return out;
}

}  // namespace

// One statement: its parameters as text (a bytea as binary), run on the store's connection;
// its rows read by index. A failure throws: Unavailable when the database is away.
class PgStore::Query {
  public:
    using Param = std::variant<std::string_view, int64_t, bool>;

    Query(PgStore& store, const char* sql, std::initializer_list<Param> params,
          const std::string* bytes = nullptr) {
        std::vector<std::string> text;
        text.reserve(params.size() + 1);
        for (const auto& p : params) {
            if (const auto* s = std::get_if<std::string_view>(&p)) {
                text.emplace_back(*s);
            } else if (const auto* n = std::get_if<int64_t>(&p)) {
                text.push_back(std::to_string(*n));
            } else {
                text.emplace_back(std::get<bool>(p) ? "true" : "false");
            }
        }
        std::vector<const char*> values;
        std::vector<int> lengths;
        std::vector<int> formats;
        for (const auto& t : text) {
            values.push_back(t.c_str());
            lengths.push_back(static_cast<int>(t.size()));
            formats.push_back(0);
        }
        if (bytes != nullptr) {  // the last parameter, binary
            values.push_back(bytes->data());
            lengths.push_back(static_cast<int>(bytes->size()));
            formats.push_back(1);
        }
        PGconn* conn = store.connection();
        // Binary results: a bytea comes back as its bytes, not escaped; the other columns
        // are asked as text (::text casts) where read.
        result_.reset(PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr,
                                   values.data(), lengths.data(), formats.data(), 0));
        ExecStatusType status = result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            const char* state =
                result_ ? PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE) : nullptr;
            std::string message = PQerrorMessage(conn);
            while (!message.empty() && message.back() == '\n') {
                message.pop_back();
            }
            if (PQstatus(conn) == CONNECTION_BAD || state == nullptr || unavailable_state(state)) {
                throw Error(Errc::Unavailable, "the state database is unavailable: " + message);
            }
            throw Error(Errc::Internal, "state database: " + message);
        }
    }

    [[nodiscard]] int rows() const { return PQntuples(result_.get()); }
    [[nodiscard]] int affected() const {
        const char* n = PQcmdTuples(result_.get());
        return (n != nullptr && *n != '\0') ? std::stoi(n) : 0;
    }
    [[nodiscard]] bool null(int row, int column) const {
        return PQgetisnull(result_.get(), row, column) != 0;
    }
    [[nodiscard]] std::string text(int row, int column) const {
        return {PQgetvalue(result_.get(), row, column),
                static_cast<size_t>(PQgetlength(result_.get(), row, column))};
    }
    [[nodiscard]] int64_t integer(int row, int column) const {
        return null(row, column) ? 0 : std::stoll(text(row, column));
    }
    [[nodiscard]] bool boolean(int row, int column) const { return text(row, column) == "t"; }
    /// The first column of the first row as a number; 0 without a row.
    [[nodiscard]] int64_t scalar() const { return rows() > 0 ? integer(0, 0) : 0; }

  private:
    PgResultPtr result_;
};

namespace {

using Query = PgStore::Query;

// A bytea column read as text comes as \x followed by hex digits.
std::string unhex_bytea(const std::string& text) {
    if (!text.starts_with("\\x") || text.size() % 2 != 0) {
        throw Error(Errc::Internal, "state database: a sealed value is not hex");
    }
    std::string out;
    out.reserve(text.size() / 2 - 1);
    auto nibble = [](char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        throw Error(Errc::Internal, "state database: a sealed value is not hex");
    };
    for (size_t i = 2; i < text.size(); i += 2) {
        out.push_back(static_cast<char>(nibble(text[i]) << 4 | nibble(text[i + 1])));
    }
    return out;
}

}  // namespace

PgStore::PgStore(PgConnection connection, ThisMachine machine, ContactCipher cipher,
                 bool connect_now)
    : settings_(std::move(connection)),
      machine_(std::move(machine.id)),
      host_name_(std::move(machine.host_name)),
      cipher_(std::move(cipher)) {
    if (connect_now) {
        connect();
    }
}

void PgStore::open() {
    connect();
}

PgStore::~PgStore() = default;

void PgStore::connect() {
    conn_.reset();
    std::string timeout = std::to_string(settings_.connect_timeout);
    std::string options =
        "-c statement_timeout=" + std::to_string(settings_.statement_timeout.count()) +
        " -c lock_timeout=" + std::to_string(settings_.statement_timeout.count());
    // Defaults first: the URL (expanded in place of dbname) overrides them. The password
    // file comes after it and wins.
    std::vector<const char*> keys = {"sslmode", "connect_timeout", "options", "application_name",
                                     "dbname"};
    std::vector<const char*> values = {"verify-full", timeout.c_str(), options.c_str(), "lwauthd",
                                       settings_.url.c_str()};
    if (!settings_.password.empty()) {
        keys.push_back("password");
        values.push_back(settings_.password.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_.reset(PQconnectdbParams(keys.data(), values.data(), 1));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        std::string message = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
        while (!message.empty() && message.back() == '\n') {
            message.pop_back();
        }
        conn_.reset();
        next_attempt_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        throw Error(Errc::Unavailable, "cannot reach the state database: " + message);
    }
    // The server's NOTICEs ("already exists, skipping") are not lwauthd's to print.
    PQsetNoticeProcessor(
        conn_.get(), [](void*, const char*) {}, nullptr);
    // A connection is used only once migrated: kept after a failed migration (a schema
    // newer than this lwauthd's, another host's migration holding the lock past the
    // statement timeout), the next call would run on a schema never checked.
    try {
        migrate();
        if (!adopted_) {
            adopt_host_rows();
            adopted_ = true;
        }
    } catch (...) {
        conn_.reset();
        next_attempt_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        throw;
    }
}

PGconn* PgStore::connection() {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) {
        return conn_.get();
    }
    if (transaction_depth_ > 0) {  // a new connection would not be in the transaction
        throw Error(Errc::Unavailable, "the state database went away mid-transaction");
    }
    if (std::chrono::steady_clock::now() < next_attempt_) {
        throw Error(Errc::Unavailable, "the state database is unreachable (retrying shortly)");
    }
    connect();
    return conn_.get();
}

// Runs `work` in one transaction (rolled back when it throws); inside one already, as part
// of it.
template <class F>
auto PgStore::in_transaction(F&& work) -> decltype(work()) {
    if (transaction_depth_ > 0) {
        return work();
    }
    Query(*this, "BEGIN", {});
    ++transaction_depth_;
    struct Leave {
        PgStore& store;
        bool committed = false;
        ~Leave() {
            store.transaction_depth_ = 0;
            if (!committed && store.conn_ && PQstatus(store.conn_.get()) == CONNECTION_OK) {
                PgResultPtr(PQexec(store.conn_.get(), "ROLLBACK"));
            }
        }
    } leave{*this};
    if constexpr (std::is_void_v<decltype(work())>) {
        work();
        Query(*this, "COMMIT", {});
        leave.committed = true;
    } else {
        auto result = work();
        Query(*this, "COMMIT", {});
        leave.committed = true;
        return result;
    }
}

int PgStore::latest_schema_version() {
    return static_cast<int>(std::size(kMigrations));
}

int PgStore::schema_version() {
    return static_cast<int>(Query(*this, "SELECT max(version) FROM schema_version", {}).scalar());
}

void PgStore::migrate() {
    for (;;) {
        bool done = in_transaction([&] {
            Query(*this, kMigrationLock, {});
            Query(*this, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                  {});
            int version = schema_version();
            if (version > latest_schema_version()) {
                throw Error(Errc::Internal, "the state database has schema version " +
                                                std::to_string(version) +
                                                ", newer than this lwauthd (" +
                                                std::to_string(latest_schema_version()) + ")");
            }
            if (version == latest_schema_version()) {
                return true;
            }
            PgResultPtr script(PQexec(conn_.get(), kMigrations[version]));
            if (PQresultStatus(script.get()) != PGRES_COMMAND_OK) {
                throw Error(Errc::Internal, std::string("state database migration failed: ") +
                                                PQerrorMessage(conn_.get()));
            }
            Query(*this, "DELETE FROM schema_version", {});
            Query(*this, "INSERT INTO schema_version (version) VALUES ($1)",
                  {int64_t{version + 1}});
            return false;
        });
        if (done) {
            return;
        }
    }
}

void PgStore::adopt_host_rows() {
    if (host_name_.empty() || host_name_ == machine_) {
        return;
    }
    // Once per machine, in one transaction: rows an older lwauthd writes later under the
    // same name (a clone not yet upgraded) stay its own. Two clones starting together
    // take each row once: the second's UPDATE waits for the first's and finds it gone.
    auto adopted = in_transaction([&]() -> std::optional<int> {
        if (Query(*this,
                  "INSERT INTO machines (machine, host, adopted_at) VALUES ($1, $2, "
                  "extract(epoch FROM now())::bigint) ON CONFLICT DO NOTHING",
                  {machine_, host_name_})
                .affected() == 0) {
            return std::nullopt;
        }
        int rows = Query(*this,
                         "UPDATE host_users SET host = $1 WHERE host = $2 AND NOT EXISTS "
                         "(SELECT 1 FROM host_users mine WHERE mine.host = $1 AND "
                         "mine.user_name = host_users.user_name)",
                         {machine_, host_name_})
                       .affected();
        rows += Query(*this,
                      "UPDATE remembered_hosts SET host = $1 WHERE host = $2 AND NOT EXISTS "
                      "(SELECT 1 FROM remembered_hosts mine WHERE mine.host = $1 AND "
                      "mine.user_name = remembered_hosts.user_name AND "
                      "mine.service = remembered_hosts.service AND "
                      "mine.origin = remembered_hosts.origin)",
                      {machine_, host_name_})
                    .affected();
        // The host's send budgets go on counting the sends made before the upgrade.
        for (const char* key : {"host:", "passwordless-host:"}) {
            Query(*this, "UPDATE send_keys SET key = $1 || $2 WHERE key = $1 || $3",
                  {key, machine_, host_name_});
        }
        return rows;
    });
    if (adopted) {
        log_event(*adopted > 0 ? LogLevel::Notice : LogLevel::Info, "machine-rows-adopted",
                  "this machine took over the quick-login PINs and remembered places kept "
                  "under its host name",
                  {{"HOST", host_name_}, {"COUNT", std::to_string(*adopted)}});
    }
}

void PgStore::ensure_user(const std::string& user) {
    Query(*this, "INSERT INTO users (name) VALUES ($1) ON CONFLICT DO NOTHING", {user});
}

void PgStore::ensure_local(const std::string& user) {
    ensure_user(user);
    Query(*this, "INSERT INTO host_users (host, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
          {machine_, user});
}

UserState PgStore::load_user(const std::string& user) {
    UserState state;
    Query row(*this,
              "SELECT u.two_step, u.failures, u.locked_until, u.line_link, h.pin_hash, "
              "u.passwordless_failures, u.enroll_grace_started, u.enrolled, h.pin_failures, "
              "h.full_login_at, h.quick_armed_at, h.fingerprint_failures, "
              "h.fingerprint_paused_until, h.fingerprint_disabled, u.totp_sealed, "
              "u.totp_last_step, u.totp_pending_sealed, u.totp_pending_until, "
              "(SELECT count(*) FROM recovery_codes r WHERE r.user_name = u.name) FROM users u "
              "LEFT JOIN host_users h ON h.user_name = u.name AND h.host = $2 "
              "WHERE u.name = $1",
              {user, machine_});
    if (row.rows() > 0) {
        state.two_step = row.boolean(0, 0);
        state.failures = static_cast<int>(row.integer(0, 1));
        state.locked_until = row.integer(0, 2);
        state.line_link = row.null(0, 3) ? "" : row.text(0, 3);
        state.line_linked = !state.line_link.empty();
        state.pin_hash = row.null(0, 4) ? "" : row.text(0, 4);
        state.pin_set = !state.pin_hash.empty();
        state.passwordless_failures = static_cast<int>(row.integer(0, 5));
        state.enroll_grace_started = row.integer(0, 6);
        state.enrolled = row.boolean(0, 7);
        state.pin_failures = static_cast<int>(row.integer(0, 8));
        state.full_login_at = row.integer(0, 9);
        state.quick_armed_at = row.integer(0, 10);
        state.fingerprint.in_a_row = static_cast<int>(row.integer(0, 11));
        state.fingerprint.paused_until = row.integer(0, 12);
        state.fingerprint.disabled = row.boolean(0, 13);
        if (!row.null(0, 14)) {
            state.totp_secret =
                cipher_.open_secret(unhex_bytea(row.text(0, 14)), totp_binding(user, false));
        }
        state.totp_last_step = row.null(0, 15) ? -1 : row.integer(0, 15);
        if (!row.null(0, 16)) {
            state.totp_pending =
                cipher_.open_secret(unhex_bytea(row.text(0, 16)), totp_binding(user, true));
        }
        state.totp_pending_until = row.integer(0, 17);
        state.recovery_codes = static_cast<int>(row.integer(0, 18));
    }
    Query contacts(*this,
                   "SELECT 0, kind, sealed_value, source FROM contacts WHERE user_name = $1 "
                   "UNION ALL SELECT 1, kind, sealed_value, 'admin' FROM profile_contacts "
                   "WHERE user_name = $1 ORDER BY 1, 2",
                   {user});
    for (int i = 0; i < contacts.rows(); ++i) {
        std::string kind = contacts.text(i, 1);
        std::string sealed = unhex_bytea(contacts.text(i, 2));
        if (contacts.integer(i, 0) != 0) {
            state.profile.push_back(
                {kind, cipher_.open(sealed, profile_binding(user, kind)), "admin"});
        } else {
            state.contacts.push_back(
                {kind, cipher_.open(sealed, binding(user, kind)), contacts.text(i, 3)});
        }
    }
    return state;
}

LockState PgStore::lock_state(const std::string& user) {
    Query row(*this,
              "SELECT failures, locked_until, passwordless_failures FROM users WHERE name = $1",
              {user});
    if (row.rows() == 0) {
        return {};
    }
    return {static_cast<int>(row.integer(0, 0)), row.integer(0, 1),
            static_cast<int>(row.integer(0, 2))};
}

std::vector<std::string> PgStore::list_users() {
    Query rows(*this, "SELECT name FROM users ORDER BY name COLLATE \"C\"", {});
    std::vector<std::string> out;
    for (int i = 0; i < rows.rows(); ++i) {
        out.push_back(rows.text(i, 0));
    }
    return out;
}

void PgStore::save_contact(const std::string& user, const Contact& contact) {
    std::string sealed = cipher_.seal(contact.value, binding(user, contact.kind));
    in_transaction([&] {
        ensure_user(user);
        Query(*this,
              "INSERT INTO contacts (user_name, kind, source, verified_at, sealed_value) "
              "VALUES ($1, $2, $3, extract(epoch from now())::bigint, $4) "
              "ON CONFLICT (user_name, kind) DO UPDATE SET sealed_value = "
              "excluded.sealed_value, source = excluded.source, verified_at = "
              "excluded.verified_at",
              {user, contact.kind, contact.source}, &sealed);
        Query(*this, "UPDATE users SET enrolled = true WHERE name = $1 AND NOT enrolled", {user});
    });
}

void PgStore::remove_contact(const std::string& user, const std::string& kind) {
    Query(*this, "DELETE FROM contacts WHERE user_name = $1 AND kind = $2", {user, kind});
}

bool PgStore::remove_profile_and_login_contact(const std::string& user, const std::string& kind,
                                               const std::optional<OtherFactors>& others) {
    return in_transaction([&] {
        Query(*this, "SELECT 1 FROM users WHERE name = $1 FOR UPDATE", {user});
        return remove_profile_and_login_contact_steps(user, kind, others);
    });
}

bool PgStore::remove_contact_and_two_step(const std::string& user, const std::string& kind,
                                          const OtherFactors& others) {
    return in_transaction([&] {
        Query(*this, "SELECT 1 FROM users WHERE name = $1 FOR UPDATE", {user});
        return remove_contact_and_two_step_steps(user, kind, others);
    });
}

Removal PgStore::remove_second_factor(const std::string& user, const std::string& factor,
                                      const RemovalRule& rule) {
    return in_transaction([&] {
        // The user's row locked first: another host's removal waits, then reads fresh state.
        Query(*this, "SELECT 1 FROM users WHERE name = $1 FOR UPDATE", {user});
        return remove_second_factor_steps(user, factor, rule);
    });
}

void PgStore::save_contact_and_two_step(const std::string& user, const Contact& contact,
                                        bool two_step) {
    in_transaction([&] { save_contact_and_two_step_steps(user, contact, two_step); });
}

void PgStore::set_totp_and_two_step(const std::string& user, std::string_view secret,
                                    int64_t last_step, bool two_step) {
    in_transaction([&] { set_totp_and_two_step_steps(user, secret, last_step, two_step); });
}

void PgStore::set_two_step(const std::string& user, bool enabled) {
    ensure_user(user);
    Query(*this, "UPDATE users SET two_step = $1 WHERE name = $2", {enabled, user});
}

void PgStore::set_profile_contact(const std::string& user, const Contact& contact) {
    std::string sealed = cipher_.seal(contact.value, profile_binding(user, contact.kind));
    ensure_user(user);
    Query(*this,
          "INSERT INTO profile_contacts (user_name, kind, sealed_value) VALUES ($1, $2, $3) "
          "ON CONFLICT (user_name, kind) DO UPDATE SET sealed_value = excluded.sealed_value",
          {user, contact.kind}, &sealed);
}

void PgStore::save_profile_and_login_contact(const std::string& user, const Contact& contact) {
    in_transaction([&] { save_profile_and_login_contact_steps(user, contact); });
}

void PgStore::remove_profile_contact(const std::string& user, const std::string& kind) {
    Query(*this, "DELETE FROM profile_contacts WHERE user_name = $1 AND kind = $2", {user, kind});
}

void PgStore::set_line_link(const std::string& user, const std::string& subject_hash) {
    ensure_user(user);
    Query(*this, "UPDATE users SET line_link = NULLIF($1, '') WHERE name = $2",
          {subject_hash, user});
}

bool PgStore::replace_line_link(const std::string& user, const std::string& old_hash,
                                const std::string& new_hash) {
    if (old_hash.empty() || new_hash.empty()) {
        return false;  // neither a link made nor one removed: set_line_link does those
    }
    return Query(*this, "UPDATE users SET line_link = $1 WHERE name = $2 AND line_link = $3",
                 {new_hash, user, old_hash})
               .affected() > 0;
}

void PgStore::set_pin_hash(const std::string& user, const std::string& encoded_hash) {
    ensure_local(user);
    if (encoded_hash.empty()) {
        Query(*this,
              "UPDATE host_users SET pin_hash = NULL, pin_failures = 0 "
              "WHERE host = $1 AND user_name = $2",
              {machine_, user});
    } else {
        Query(*this, "UPDATE host_users SET pin_hash = $1 WHERE host = $2 AND user_name = $3",
              {encoded_hash, machine_, user});
    }
}

bool PgStore::replace_pin_hash(const std::string& user, const std::string& old_hash,
                               const std::string& new_hash) {
    return Query(*this,
                 "UPDATE host_users SET pin_hash = $1 WHERE host = $2 AND user_name = $3 "
                 "AND pin_hash = $4",
                 {new_hash, machine_, user, old_hash})
               .affected() > 0;
}

void PgStore::set_pin(const std::string& user, const std::string& encoded_hash) {
    ensure_local(user);
    Query(
        *this,
        "UPDATE host_users SET pin_hash = $1, pin_failures = 0 WHERE host = $2 AND user_name = $3",
        {encoded_hash, machine_, user});
}

void PgStore::set_totp_pending(const std::string& user, std::string_view secret, int64_t until) {
    ensure_user(user);
    if (secret.empty()) {
        Query(*this,
              "UPDATE users SET totp_pending_sealed = NULL, totp_pending_until = 0 "
              "WHERE name = $1",
              {user});
        return;
    }
    std::string sealed = cipher_.seal(secret, totp_binding(user, true));
    Query(*this,
          "UPDATE users SET totp_pending_until = $1, totp_pending_sealed = $3 WHERE name = $2",
          {until, user}, &sealed);
}

void PgStore::set_totp(const std::string& user, std::string_view secret, int64_t last_step) {
    ensure_user(user);
    if (secret.empty()) {
        Query(*this,
              "UPDATE users SET totp_sealed = NULL, totp_last_step = -1, "
              "totp_pending_sealed = NULL, totp_pending_until = 0 WHERE name = $1",
              {user});
        return;
    }
    std::string sealed = cipher_.seal(secret, totp_binding(user, false));
    Query(*this,
          "UPDATE users SET totp_last_step = $1, totp_pending_sealed = NULL, "
          "totp_pending_until = 0, enrolled = true, totp_sealed = $3 WHERE name = $2",
          {last_step, user}, &sealed);
}

bool PgStore::use_totp_step(const std::string& user, int64_t step) {
    // One statement: of two logins (on any hosts) with codes of the same step, only one
    // changes the row.
    return Query(*this,
                 "UPDATE users SET totp_last_step = $1 WHERE name = $2 AND totp_last_step < $1 "
                 "AND totp_sealed IS NOT NULL",
                 {step, user})
               .affected() > 0;
}

void PgStore::set_recovery_codes(const std::string& user, const std::vector<std::string>& hashes) {
    in_transaction([&] {
        ensure_user(user);
        Query(*this, "DELETE FROM recovery_codes WHERE user_name = $1", {user});
        for (const auto& hash : hashes) {
            Query(*this, "INSERT INTO recovery_codes (user_name, hash) VALUES ($1, $2)",
                  {user, hash});
        }
        if (!hashes.empty()) {
            Query(*this, "UPDATE users SET enrolled = true WHERE name = $1 AND NOT enrolled",
                  {user});
        }
    });
}

int PgStore::use_recovery_code(const std::string& user, const std::string& hash) {
    return in_transaction([&] {
        if (Query(*this, "DELETE FROM recovery_codes WHERE user_name = $1 AND hash = $2",
                  {user, hash})
                .affected() == 0) {
            return -1;
        }
        return static_cast<int>(
            Query(*this, "SELECT count(*) FROM recovery_codes WHERE user_name = $1", {user})
                .scalar());
    });
}

int PgStore::add_pin_failure(const std::string& user) {
    ensure_local(user);
    return static_cast<int>(Query(*this,
                                  "UPDATE host_users SET pin_failures = pin_failures + 1 "
                                  "WHERE host = $1 AND user_name = $2 RETURNING pin_failures",
                                  {machine_, user})
                                .scalar());
}

void PgStore::clear_pin_failures(const std::string& user) {
    Query(*this, "UPDATE host_users SET pin_failures = 0 WHERE host = $1 AND user_name = $2",
          {machine_, user});
}

FingerprintFailures PgStore::add_fingerprint_failure(const std::string& user, int64_t now) {
    ensure_local(user);
    return in_transaction([&] {
        Query row(*this,
                  "SELECT fingerprint_failures, fingerprint_paused_until, fingerprint_disabled "
                  "FROM host_users WHERE host = $1 AND user_name = $2 FOR UPDATE",
                  {machine_, user});
        FingerprintFailures state;
        if (row.rows() > 0) {
            state = {static_cast<int>(row.integer(0, 0)), row.integer(0, 1), row.boolean(0, 2)};
        }
        state = after_fingerprint_no_match(state, now);
        Query(*this,
              "UPDATE host_users SET fingerprint_failures = $1, fingerprint_paused_until = $2, "
              "fingerprint_disabled = $3 WHERE host = $4 AND user_name = $5",
              {int64_t{state.in_a_row}, state.paused_until, state.disabled, machine_, user});
        return state;
    });
}

void PgStore::clear_fingerprint_failures(const std::string& user) {
    Query(*this,
          "UPDATE host_users SET fingerprint_failures = 0, fingerprint_paused_until = 0, "
          "fingerprint_disabled = false WHERE host = $1 AND user_name = $2",
          {machine_, user});
}

void PgStore::record_full_login(const std::string& user, int64_t now) {
    ensure_local(user);
    Query(*this,
          "UPDATE host_users SET full_login_at = $1, quick_armed_at = $1, pin_failures = 0, "
          "fingerprint_failures = 0, fingerprint_paused_until = 0, fingerprint_disabled = false "
          "WHERE host = $2 AND user_name = $3",
          {now, machine_, user});
}

int64_t PgStore::start_enroll_grace(const std::string& user, int64_t now) {
    ensure_user(user);
    return Query(*this,
                 "UPDATE users SET enroll_grace_started = CASE WHEN enroll_grace_started = 0 "
                 "THEN $1 ELSE enroll_grace_started END WHERE name = $2 "
                 "RETURNING enroll_grace_started",
                 {now, user})
        .scalar();
}

void PgStore::clear_enroll_grace(const std::string& user) {
    Query(*this, "UPDATE users SET enroll_grace_started = 0, enrolled = false WHERE name = $1",
          {user});
}

void PgStore::remember_host(const std::string& user, const RememberedHost& host) {
    ensure_user(user);
    Query(*this,
          "INSERT INTO remembered_hosts (host, user_name, service, origin, verified_at, until) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (host, user_name, service, origin) DO "
          "UPDATE SET verified_at = excluded.verified_at, until = excluded.until",
          {machine_, user, host.service, host.origin, host.verified_at, host.until});
}

std::optional<RememberedHost> PgStore::remembered_host(const std::string& user,
                                                       const std::string& service,
                                                       const std::string& origin) {
    Query row(*this,
              "SELECT verified_at, until FROM remembered_hosts WHERE host = $1 AND "
              "user_name = $2 AND service = $3 AND origin = $4",
              {machine_, user, service, origin});
    if (row.rows() == 0) {
        return std::nullopt;
    }
    return RememberedHost{service, origin, row.integer(0, 0), row.integer(0, 1)};
}

void PgStore::prune_hosts(int64_t now) {
    Query(*this, "DELETE FROM remembered_hosts WHERE host = $1 AND until <= $2", {machine_, now});
}

std::vector<RememberedHost> PgStore::remembered_hosts(const std::string& user) {
    Query rows(*this,
               "SELECT service, origin, verified_at, until FROM remembered_hosts "
               "WHERE host = $1 AND user_name = $2 "
               "ORDER BY verified_at, service COLLATE \"C\", origin COLLATE \"C\"",
               {machine_, user});
    std::vector<RememberedHost> out;
    for (int i = 0; i < rows.rows(); ++i) {
        out.push_back({rows.text(i, 0), rows.text(i, 1), rows.integer(i, 2), rows.integer(i, 3)});
    }
    return out;
}

int PgStore::forget_hosts(const std::string& user, int64_t before) {
    return Query(*this,
                 "DELETE FROM remembered_hosts WHERE host = $1 AND user_name = $2 "
                 "AND ($3::bigint <= 0 OR verified_at < $3::bigint)",
                 {machine_, user, before})
        .affected();
}

FailureCount PgStore::add_failure(const std::string& user, const LockRule& rule) {
    return in_transaction([&] {
        ensure_user(user);
        // The UPDATE holds the user's row until COMMIT: another host's code waits, then
        // counts from this one's result.
        Query row(*this,
                  "UPDATE users SET failures = failures + 1, failures_in_a_row = "
                  "failures_in_a_row + $2 WHERE name = $1 AND "
                  "($3::bigint = 0 OR locked_until <= $3::bigint) "
                  "RETURNING failures, failures_in_a_row",
                  {user, int64_t{rule.in_a_row ? 1 : 0}, rule.now});
        if (row.rows() == 0) {  // locked at rule.now: that lock stays
            Query locked(*this,
                         "SELECT failures, failures_in_a_row, locked_until FROM users "
                         "WHERE name = $1",
                         {user});
            return FailureCount{static_cast<int>(locked.integer(0, 0)),
                                static_cast<int>(locked.integer(0, 1)), 0, locked.integer(0, 2)};
        }
        FailureCount count{static_cast<int>(row.integer(0, 0)),
                           static_cast<int>(row.integer(0, 1))};
        count.locked_until = lock_for(count, rule);
        if (count.locked_until != 0) {
            lock(user, count.locked_until);
        }
        return count;
    });
}

int PgStore::add_passwordless_failure(const std::string& user) {
    ensure_user(user);
    return static_cast<int>(Query(*this,
                                  "UPDATE users SET passwordless_failures = "
                                  "passwordless_failures + 1 WHERE name = $1 "
                                  "RETURNING passwordless_failures",
                                  {user})
                                .scalar());
}

void PgStore::lock(const std::string& user, int64_t until) {
    ensure_user(user);
    Query(*this, "UPDATE users SET locked_until = $1, failures = 0 WHERE name = $2", {until, user});
}

void PgStore::clear_failures(const std::string& user) {
    Query(*this,
          "UPDATE users SET failures = 0, failures_in_a_row = 0, passwordless_failures = 0, "
          "locked_until = 0 WHERE name = $1",
          {user});
}

bool PgStore::clear_failures_unless_locked(const std::string& user, int64_t now) {
    return in_transaction([&] {
        // FOR UPDATE waits for a row another host holds, and reads the lock it committed.
        Query row(*this, "SELECT locked_until FROM users WHERE name = $1 FOR UPDATE", {user});
        if (row.rows() > 0 && row.integer(0, 0) > now) {
            return false;
        }
        clear_failures(user);
        return true;
    });
}

void PgStore::reset(const std::string& user, const ResetScope& scope) {
    in_transaction([&] {
        Query(*this, "SELECT 1 FROM users WHERE name = $1 FOR UPDATE", {user});
        reset_steps(user, scope);
    });
}

void PgStore::put_confirmation(const std::string& user, const Confirmation& c) {
    std::string sealed = cipher_.seal(c.value, confirmation_binding(user, c.kind));
    Query(*this,
          "INSERT INTO confirmations (user_name, kind, source, code_hash, expires_at, "
          "tries_left, unproved, sealed_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
          "ON CONFLICT (user_name, kind) DO UPDATE SET source = excluded.source, "
          "sealed_value = excluded.sealed_value, code_hash = excluded.code_hash, "
          "expires_at = excluded.expires_at, tries_left = excluded.tries_left, "
          "unproved = excluded.unproved",
          {user, c.kind, c.source, c.code_hash, c.expires_at, int64_t{c.tries_left}, c.unproved},
          &sealed);
}

std::vector<Confirmation> PgStore::read_confirmations(const std::string& user,
                                                      const std::string& kind, bool for_update) {
    Query rows(*this,
               for_update ? "SELECT kind, source, sealed_value, code_hash, expires_at, "
                            "tries_left, unproved FROM confirmations WHERE user_name = $1 "
                            "AND kind = $2 FOR UPDATE"
                          : "SELECT kind, source, sealed_value, code_hash, expires_at, "
                            "tries_left, unproved FROM confirmations WHERE user_name = $1 "
                            "AND ($2 = '' OR kind = $2) ORDER BY kind COLLATE \"C\"",
               {user, kind});
    std::vector<Confirmation> out;
    for (int i = 0; i < rows.rows(); ++i) {
        Confirmation c;
        c.kind = rows.text(i, 0);
        c.source = rows.text(i, 1);
        c.value = cipher_.open(unhex_bytea(rows.text(i, 2)), confirmation_binding(user, c.kind));
        c.code_hash = rows.text(i, 3);
        c.expires_at = rows.integer(i, 4);
        c.tries_left = static_cast<int>(rows.integer(i, 5));
        c.unproved = rows.boolean(i, 6);
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<Confirmation> PgStore::confirmations(const std::string& user) {
    return read_confirmations(user, "", false);
}

int PgStore::drop_confirmations(const std::string& user, const std::string& kind,
                                const std::string& source) {
    return static_cast<int>(Query(*this,
                                  "DELETE FROM confirmations WHERE user_name = $1 "
                                  "AND ($2 = '' OR kind = $2) AND ($3 = '' OR source = $3)",
                                  {user, kind, source})
                                .affected());
}

ConfirmationAnswer PgStore::answer_confirmation(const std::string& user, const std::string& kind,
                                                const std::string& answer_hash, int64_t now) {
    return in_transaction([&] {
        // FOR UPDATE: another host's answer waits for this one's COMMIT, then reads the
        // tries it left (or finds the row gone).
        std::vector<Confirmation> rows = read_confirmations(user, kind, true);
        std::optional<Confirmation> found;
        if (!rows.empty()) {
            found = std::move(rows.front());
        }
        return answer_confirmation_steps(user, kind, std::move(found), answer_hash, now);
    });
}

void PgStore::prune_confirmations(int64_t now) {
    Query(*this, "DELETE FROM confirmations WHERE expires_at <= $1", {now});
}

RekeyCounts PgStore::rekey_user(const std::string& user) {
    return in_transaction([&] {
        Query rows(*this,
                   "SELECT 0, kind, sealed_value FROM contacts WHERE user_name = $1 "
                   "UNION ALL SELECT 1, kind, sealed_value FROM profile_contacts "
                   "WHERE user_name = $1 "
                   "UNION ALL SELECT 2, '', totp_sealed FROM users "
                   "WHERE name = $1 AND totp_sealed IS NOT NULL "
                   "UNION ALL SELECT 3, '', totp_pending_sealed FROM users "
                   "WHERE name = $1 AND totp_pending_sealed IS NOT NULL",
                   {user});
        std::vector<SealedValue> values;
        for (int i = 0; i < rows.rows(); ++i) {
            values.push_back({static_cast<SealedValue::Place>(rows.integer(i, 0)), rows.text(i, 1),
                              unhex_bytea(rows.text(i, 2))});
        }
        // Each value replaced only while it is still the one read (compared by its hex): a
        // value another host sealed since (a contact changed) is that host's to keep. By
        // SealedValue::Place; $2 is the kind ("" for the app's).
        static constexpr const char* kReplace[] = {
            "UPDATE contacts SET sealed_value = $4 WHERE user_name = $1 AND kind = $2 "
            "AND sealed_value = decode($3, 'hex')",
            "UPDATE profile_contacts SET sealed_value = $4 WHERE user_name = $1 AND kind = $2 "
            "AND sealed_value = decode($3, 'hex')",
            "UPDATE users SET totp_sealed = $4 WHERE name = $1 AND $2 = '' "
            "AND totp_sealed = decode($3, 'hex')",
            "UPDATE users SET totp_pending_sealed = $4 WHERE name = $1 AND $2 = '' "
            "AND totp_pending_sealed = decode($3, 'hex')",
        };
        return reseal_values(cipher_, user, values,
                             [&](const SealedValue& old, const std::string& resealed) {
                                 Query(*this, kReplace[static_cast<size_t>(old.place)],
                                       {user, old.kind, hex_of(old.sealed)}, &resealed);
                             });
    });
}

std::vector<SendCap> PgStore::on_this_host(std::vector<SendCap> caps) const {
    for (auto& cap : caps) {
        cap.key = host_key(cap.key);
    }
    return caps;
}

std::string PgStore::host_key(const std::string& key) const {
    // The host's own budgets: every lwauthd on the database has its own.
    return (key == "host" || key == "passwordless-host") ? key + ":" + machine_ : key;
}

SendReservation PgStore::check_in_database(const std::vector<SendCap>& caps, int64_t since,
                                           int64_t at) {
    SendReservation r;
    for (size_t i = 0; i < caps.size(); ++i) {
        const SendCap& cap = caps[i];
        int64_t count = sends_since(cap.key, since);
        if (count < cap.limit) {
            continue;
        }
        r.capped = static_cast<int>(i);
        if (cap.limit > 0) {
            // Ascending: once the oldest (count - limit + 1) have left, there is room.
            int64_t blocking = Query(*this,
                                     "SELECT at FROM send_keys WHERE key = $1 AND at >= $2 "
                                     "ORDER BY at OFFSET $3 LIMIT 1",
                                     {cap.key, since, count - cap.limit})
                                   .scalar();
            r.room_at = blocking + (at - since);
        } else {
            r.room_at = at - since;
        }
        break;
    }
    return r;
}

SendReservation PgStore::reserve_send(const std::vector<SendCap>& asked, int64_t since,
                                      int64_t at) {
    std::vector<SendCap> caps = on_this_host(asked);
    return in_transaction([&] {
        // One advisory lock per cap key, taken in one order by every host: a second
        // reservation on any of the keys waits for this one's COMMIT, then counts it.
        std::vector<std::string> keys;
        for (const auto& cap : caps) {
            keys.push_back(cap.key);
        }
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        for (const auto& key : keys) {
            Query(*this, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {key});
        }
        SendReservation r = check_in_database(caps, since, at);
        if (r.capped >= 0) {
            return r;
        }
        r.keys = counted_keys(asked);
        r.at = at;
        r.id = Query(*this, "INSERT INTO send_log (at) VALUES ($1) RETURNING id", {at}).scalar();
        for (const auto& key : counted_keys(caps)) {
            Query(*this, "INSERT INTO send_keys (send_id, key, at) VALUES ($1, $2, $3)",
                  {r.id, key, at});
        }
        return r;
    });
}

void PgStore::release_send(const SendReservation& reservation) {
    if (reservation.reserved()) {
        Query(*this, "DELETE FROM send_log WHERE id = $1", {reservation.id});
    }
}

SendReservation PgStore::check_send(const std::vector<SendCap>& caps, int64_t since, int64_t at) {
    return check_in_database(on_this_host(caps), since, at);
}

int PgStore::sends_since(const std::string& key, int64_t since) {
    return static_cast<int>(Query(*this,
                                  "SELECT count(*) FROM send_keys WHERE key = $1 AND at >= $2",
                                  {host_key(key), since})
                                .scalar());
}

void PgStore::prune_sends(int64_t before) {
    Query(*this, "DELETE FROM send_log WHERE at < $1", {before});
}

}  // namespace lwauth
