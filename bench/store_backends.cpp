// Logins per second on each [store] backend: SQLite, PostgreSQL, and two lwauthd (two
// hosts) sharing one PostgreSQL, in one run.
//
//   store_backends [--seconds 5] [--threads 4]  (as root)
//
// A PostgreSQL 15 cluster is started in a temporary directory (tests/support/pg-cluster,
// with fsync on, as a real one runs). For each row, a fresh lwauthd (or two, each on its
// own private bus and state directory, with the same keys) on fresh state: 256 users with
// 2-step on and an email, written through the real store (SqliteStore or PgStore) before
// lwauthd starts. --threads clients per lwauthd run mode=second_factor logins over the
// Login interface, as the module does, each answering the code the outbox got, for
// --seconds; each client takes its own users in turn. Prints a Markdown table; every
// figure in it is measured in the run. Nothing asserts a time. Exits 2 when a login failed.

#include <atomic>
#include <thread>

#include "bench_support.hpp"
#include "store/pg_store.hpp"

using namespace lwauth;
using namespace lwauth::test;
using namespace lwauth::bench;
using Steady = std::chrono::steady_clock;

namespace {

constexpr int kUsers = 256;
constexpr const char* kClusterScript = LWAUTH_SOURCE_DIR "/tests/support/pg-cluster";

struct Args {
    int seconds = 5;
    int threads = 4;
};

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        int* target = arg == "--seconds" ? &a.seconds : arg == "--threads" ? &a.threads : nullptr;
        int value = 0;
        const char* text = i + 1 < argc ? argv[i + 1] : "";
        auto [end, ec] = std::from_chars(text, text + std::strlen(text), value);
        if (target == nullptr || ec != std::errc() || *end != '\0' || value < 1) {
            std::fprintf(stderr, "usage: store_backends [--seconds N] [--threads N]\n");
            std::exit(64);
        }
        *target = value;
        ++i;
    }
    return a;
}

std::vector<std::string> user_names() {
    std::vector<std::string> names;
    for (int i = 0; i < kUsers; ++i) {
        names.push_back("user" + std::to_string(i));
    }
    return names;
}

// The cluster and one database on it, named by the row.
struct Cluster {
    fs::path dir;
    std::string password;

    [[nodiscard]] std::string url(const std::string& database) const {
        return "host=" + dir.string() + " user=lwauth dbname=" + database;
    }
    void sql(const std::string& statement) const {
        std::string conninfo = url("postgres") + " password=" + password;
        PGconn* conn = PQconnectdb(conninfo.c_str());
        PQclear(PQexec(conn, statement.c_str()));
        PQfinish(conn);
    }
    // A new database with the users in it, sealed with the contacts.key of `state`.
    void fill(const std::string& database, const fs::path& state) const {
        sql("CREATE DATABASE " + database);
        fs::create_directories(state);
        fs::permissions(state, fs::perms::owner_all);
        OpenSslRandom random;
        PgStore store(
            PgConnection{url(database), SecretString(password)}, ThisMachine{"bench", {}},
            ContactCipher(load_or_create_key((state / "contacts.key").string(), random), random));
        for (const auto& name : user_names()) {
            store.save_contact(name, {"email", name + "@example.com"});
            store.set_two_step(name, true);
        }
        (void)load_or_create_key((state / "code.key").string(), random);
    }
};

struct Host {
    std::unique_ptr<PrivateBus> bus;
    std::unique_ptr<Daemon> daemon;
    std::unique_ptr<OutboxTail> outbox;
};

struct Row {
    std::string name;
    int logins = 0;
    int failed = 0;
    double seconds = 0;
    std::vector<double> us;
};

// Starts lwauthd in `dir` on a copy of `filled`, with `store_section` in its policy.
Host start_host(const fs::path& dir, const fs::path& filled, const std::string& store_section) {
    Host host;
    fs::create_directories(dir);
    host.bus = std::make_unique<PrivateBus>(dir);
    host.daemon = std::make_unique<Daemon>(dir, host.bus->address(),
                                           login_policy(dir / "outbox.jsonl") + store_section);
    add_users(*host.daemon, user_names());
    if (start_fresh(*host.daemon, filled) < 0) {
        std::exit(1);
    }
    host.outbox = std::make_unique<OutboxTail>(host.daemon->outbox());
    return host;
}

// --threads clients on each host for --seconds, each with its own users in turn.
Row run_logins(const std::string& name, std::vector<Host>& hosts, const Args& args) {
    Row row;
    row.name = name;
    std::mutex mutex;
    std::vector<std::thread> clients;
    auto start = Steady::now();
    auto end = start + std::chrono::seconds(args.seconds);
    int clients_total = static_cast<int>(hosts.size()) * args.threads;
    for (int c = 0; c < clients_total; ++c) {
        clients.emplace_back([&, c] {
            Host& host = hosts[static_cast<size_t>(c) % hosts.size()];
            std::vector<double> mine;
            int failed = 0;
            for (int i = c; Steady::now() < end; i += clients_total) {
                std::string user = "user" + std::to_string(i % kUsers);
                auto before = Steady::now();
                LoginResult r = login_as_root_with(host.daemon->bus_address(), user,
                                                   [&] { return host.outbox->code_for(user); });
                mine.push_back(us_between(before, Steady::now()));
                failed += r.verdict == "success" ? 0 : 1;
            }
            std::lock_guard lock(mutex);
            row.us.insert(row.us.end(), mine.begin(), mine.end());
            row.failed += failed;
        });
    }
    for (auto& t : clients) {
        t.join();
    }
    row.seconds = std::chrono::duration<double>(Steady::now() - start).count();
    row.logins = static_cast<int>(row.us.size());
    return row;
}

}  // namespace

int main(int argc, char** argv) {
    Args args = parse_args(argc, argv);
    TempDir dir("lwauth-bench-store");
    Cluster cluster;
    cluster.dir = dir / "pg";
    std::string start = "LWAUTH_PG_FSYNC=on " + std::string(kClusterScript) + " start " +
                        cluster.dir.string() + " >/dev/null";
    if (std::system(start.c_str()) != 0) {
        std::fprintf(stderr, "the PostgreSQL cluster did not start\n");
        return 1;
    }
    cluster.password = read_file(cluster.dir / "password");
    cluster.password.erase(cluster.password.find_last_not_of('\n') + 1);
    write_file(dir / "pg-password", cluster.password + "\n", fs::perms(0600));
    auto pg_section = [&](const std::string& database) {
        return "\n[store]\nbackend = postgresql\nurl = " + cluster.url(database) +
               "\npassword_file = " + (dir / "pg-password").string() + "\n";
    };

    std::vector<Row> rows;
    {
        fill_state(dir / "filled-sqlite", user_names());
        std::vector<Host> hosts;
        hosts.push_back(start_host(dir / "sqlite", dir / "filled-sqlite", ""));
        rows.push_back(run_logins("SQLite, one lwauthd", hosts, args));
    }
    {
        cluster.fill("one_host", dir / "filled-pg1");
        std::vector<Host> hosts;
        hosts.push_back(start_host(dir / "pg1", dir / "filled-pg1", pg_section("one_host")));
        rows.push_back(run_logins("PostgreSQL, one lwauthd", hosts, args));
    }
    {
        cluster.fill("two_hosts", dir / "filled-pg2");
        std::vector<Host> hosts;
        hosts.push_back(start_host(dir / "pg2a", dir / "filled-pg2", pg_section("two_hosts")));
        hosts.push_back(start_host(dir / "pg2b", dir / "filled-pg2", pg_section("two_hosts")));
        rows.push_back(run_logins("PostgreSQL, two lwauthd (both)", hosts, args));
    }
    std::system((std::string(kClusterScript) + " stop " + cluster.dir.string()).c_str());

    std::printf("| store | clients | logins | logins/s | p50 | p99 | failed |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    int failed = 0;
    for (auto& row : rows) {
        int clients = args.threads * (row.name.find("two") != std::string::npos ? 2 : 1);
        std::printf("| %s | %d | %d | %.0f | %s | %s | %d |\n", row.name.c_str(), clients,
                    row.logins, row.logins / row.seconds, fmt_us(pct(row.us, 0.5)).c_str(),
                    fmt_us(pct(row.us, 0.99)).c_str(), row.failed);
        failed += row.failed;
    }
    return failed > 0 ? 2 : 0;
}
