// lwauthd: one sd-event loop that owns org.lwauth.Auth1 on the system bus.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "account.hpp"
#include "barrier.hpp"
#include "bus_service.hpp"
#include "channels/channel.hpp"
#include "extensions.hpp"
#include "http/http_client.hpp"
#include "line/flows.hpp"
#include "log.hpp"
#include "login/engine.hpp"
#include "login/methods/code_method.hpp"
#include "login/methods/fingerprint_method.hpp"
#include "login/methods/line_method.hpp"
#include "login/methods/phone_method.hpp"
#include "login/methods/pin_method.hpp"
#include "login/methods/totp_method.hpp"
#include "login_socket.hpp"
#include "lwauth/bus_names.hpp"
#include "lwauth/error.hpp"
#include "lwauth/files.hpp"
#include "lwauth/policy.hpp"
#include "lwauth/result.hpp"
#include "lwauth/sd_bus.hpp"
#include "quick/fprint_client.hpp"
#include "quick/pin_hash.hpp"
#include "store/async_store.hpp"
#include "store/machine_id.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"
#include "store/threaded_store.hpp"
#include "timers.hpp"
#include "directory/directory_sync.hpp"
#include "workers.hpp"

#ifndef LWAUTH_VERSION
#define LWAUTH_VERSION "unknown"
#endif
#ifndef LWAUTH_SYSCONFDIR
#define LWAUTH_SYSCONFDIR "/etc/lwauth"
#endif
#ifndef LWAUTH_STATEDIR
#define LWAUTH_STATEDIR "/var/lib/lwauth"
#endif

namespace lwauth {
namespace {

constexpr uint64_t kSweepInterval = 10 * 1000 * 1000;  // µs
// PostgreSQL connections (threads) of [store] backend = postgresql: a slow statement holds
// up one, and the other goes on.
constexpr int kStoreConnections = 2;
// How often lwauthd, having lost the system bus, looks whether it is back.
constexpr uint64_t kBusRetryInterval = 1000 * 1000;  // µs

struct Options {
    std::string config_dir = LWAUTH_SYSCONFDIR;
    std::string state_dir = LWAUTH_STATEDIR;
    std::string common_pins = quick::default_common_pins_path().string();
    std::string login_socket = bus::kLoginSocketPath;  // "" for none
    std::string machine_id_file = kMachineIdFile;
    LogTarget log_target = LogTarget::Auto;
    bool debug = false;
};

void usage(FILE* out) {
    std::fprintf(out,
                 "Usage: lwauthd [OPTIONS]\n"
                 "\n"
                 "The lwauth daemon: login policy, codes and state for pam_lwauth.so.\n"
                 "\n"
                 "  --config DIR       policy directory (default %s)\n"
                 "  --state-dir DIR    state directory (default %s)\n"
                 "  --common-pins FILE the PINs refused as too common (default %s)\n"
                 "  --login-socket PATH root's private login socket (default %s; \"\" for none)\n"
                 "  --machine-id-file FILE the machine ID (default %s)\n"
                 "  --log-target T     auto, journal or stderr (default auto)\n"
                 "  --debug            log debug messages\n"
                 "  --version          print the version\n"
                 "  -h, --help         print this help\n",
                 LWAUTH_SYSCONFDIR, LWAUTH_STATEDIR, quick::default_common_pins_path().c_str(),
                 bus::kLoginSocketPath, kMachineIdFile);
}

// Parses the command line; returns -1 to go on, else an exit status.
int parse_options(int argc, char** argv, Options& options) {
    enum {
        kConfig = 1000,
        kStateDir,
        kCommonPins,
        kLoginSocket,
        kMachineIdFileOption,
        kLogTarget,
        kDebug,
        kVersion
    };
    static const struct option kLong[] = {
        {"config", required_argument, nullptr, kConfig},
        {"state-dir", required_argument, nullptr, kStateDir},
        {"common-pins", required_argument, nullptr, kCommonPins},
        {"login-socket", required_argument, nullptr, kLoginSocket},
        {"machine-id-file", required_argument, nullptr, kMachineIdFileOption},
        {"log-target", required_argument, nullptr, kLogTarget},
        {"debug", no_argument, nullptr, kDebug},
        {"version", no_argument, nullptr, kVersion},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
        switch (c) {
            case kConfig:
                options.config_dir = optarg;
                break;
            case kStateDir:
                options.state_dir = optarg;
                break;
            case kCommonPins:
                options.common_pins = optarg;
                break;
            case kLoginSocket:
                options.login_socket = optarg;
                break;
            case kMachineIdFileOption:
                options.machine_id_file = optarg;
                break;
            case kLogTarget:
                if (std::strcmp(optarg, "auto") == 0) {
                    options.log_target = LogTarget::Auto;
                } else if (std::strcmp(optarg, "journal") == 0) {
                    options.log_target = LogTarget::Journal;
                } else if (std::strcmp(optarg, "stderr") == 0) {
                    options.log_target = LogTarget::Stderr;
                } else {
                    std::fprintf(stderr, "lwauthd: --log-target must be auto, journal or stderr\n");
                    return 2;
                }
                break;
            case kDebug:
                options.debug = true;
                break;
            case kVersion:
                std::printf("lwauthd %s\n", LWAUTH_VERSION);
                return 0;
            case 'h':
                usage(stdout);
                return 0;
            default:
                usage(stderr);
                return 2;
        }
    }
    if (optind < argc) {
        std::fprintf(stderr, "lwauthd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

std::map<std::string, std::shared_ptr<Channel>> build_channels(const policy::Policy& policy,
                                                               http::Client& client) {
    std::map<std::string, std::shared_ptr<Channel>> channels;
    for (const auto& config : policy.channels) {
        if (!channel_type_available(config.type)) {
            log_event(LogLevel::Warning, "channel-unavailable",
                      "channel type '" + config.type +
                          "' is not available in this build; sends through it fail",
                      {{"CHANNEL", config.name}});
        }
        channels.emplace(config.name, make_channel(config, client));
    }
    return channels;
}

// Every login method lwauthd runs, each with the services it uses (one that needs the
// worker pool takes it here too). The engine knows none of them by name.
LoginMethodTypes login_methods(const CodeDeps& codes, const PinDeps& pins,
                               const UnsentDeps& unsent) {
    return {{std::make_shared<PhoneMethodType>(codes), std::make_shared<PinMethodType>(pins)},
            {std::make_shared<TotpMethodType>(unsent), std::make_shared<CodeMethodType>(codes),
             std::make_shared<RecoveryMethodType>(unsent)}};
}

// The state directory holds the keys, the database and the outbox. Another user who
// could write in it could replace the outbox with a FIFO (every login would hang) or move
// the database away (2-step verification off after a restart): lwauthd starts only on a
// real directory (not a link) of its own user, with no group or other permissions.
bool state_directory_ok(const std::string& path) {
    auto dir =
        open_checked(AT_FDCWD, path, O_RDONLY, FileType::Directory, private_file_rule(::geteuid()));
    if (dir) {
        return true;
    }
    log_event(LogLevel::Error, "start-failed",
              "state directory " + describe_file_error(dir.error(), path) + "; refusing to start",
              {{"STATE_DIR", path}});
    return false;
}

class Daemon {
  public:
    explicit Daemon(Options options) : options_(std::move(options)) {}
    // The services go first, while everything they use is still there: a LINE login or
    // link dropped with them withdraws its approval from line_.
    ~Daemon() {
        login_socket_.reset();
        extensions_.reset();
        service_.reset();
        admin_.reset();
        account_.reset();
        engine_.reset();
    }
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    int run() {
        umask(077);
        raise_file_limit();
        if (!load_policy() || !prepare_state_directories() || !open_loop()) {
            return 1;
        }
        // The bus before the services: the fingerprint login's fprintd client is built on it.
        if (!open_bus() || !compose()) {
            return 1;
        }
        // The socket before the bus name: once lwauthd is seen on the bus, it is there.
        open_login_socket();
        if (!watch_signals(event_.get()) || !connect_bus() || !start_sweep()) {
            return 1;
        }
        extensions_ = add_extensions({event_.get(), bus_.get(), *engine_, *timers_, *account_});
        // [directory] contacts come into the store in the background from here on.
        directory_ = std::make_unique<DirectorySync>(
            event_.get(), *store_, clock_, [this] { return policy_; },
            options_.state_dir + "/directory.synced");
        return serve();
    }

    // Error(BadPolicy) saying why the new policy was refused (the old one stays).
    Result<void> reload() {
        sd_notify(0, "RELOADING=1");
        // A reload also synchronizes the directory, with the policy that runs after it
        // (a pass starts from the loop, after this returns).
        if (directory_) {
            directory_->sync_now();
        }
        auto loaded = policy::load_directory(options_.config_dir, load_options());
        if (!loaded.policy) {
            std::string why;
            for (const auto& d : loaded.errors) {
                log_event(LogLevel::Error, "policy-error", d.to_string());
                why += (why.empty() ? "" : "; ") + d.to_string();
            }
            log_event(LogLevel::Error, "reload-refused",
                      "the new policy has errors; keeping the policy that is running");
            sd_notify(0, "READY=1");
            return Error(Errc::BadPolicy, why);
        }
        log_warnings(loaded);
        auto next = std::make_shared<const policy::Policy>(std::move(*loaded.policy));
        if (!(next->store == policy_->store)) {
            log_event(LogLevel::Warning, "reload-partial",
                      "[store] changes take effect when lwauthd restarts");
        }
        if (!(next->daemon == policy_->daemon)) {
            log_event(LogLevel::Warning, "reload-partial",
                      "[daemon] changes take effect when lwauthd restarts");
        }
        policy_ = next;
        sender_->set_channels(build_channels(*policy_, *http_));
        engine_->set_policy(policy_);
        account_->set_policy(policy_);
        (void)line_->set_policy(*policy_);  // logged; the [line] settings running stay
        log_event(LogLevel::Notice, "reloaded", "policy reloaded from " + options_.config_dir);
        sd_notify(0, "READY=1");
        return {};
    }

  private:
    // lwauthd checks the secret files a policy names as their reader: its own user and group.
    static policy::LoadOptions load_options() {
        policy::LoadOptions options;
        options.secret_reader = this_process_reader();
        return options;
    }

    // The policy at start: with errors, each is logged and lwauthd does not start.
    bool load_policy() {
        auto loaded = policy::load_directory(options_.config_dir, load_options());
        if (!loaded.policy) {
            for (const auto& d : loaded.errors) {
                log_event(LogLevel::Error, "policy-error", d.to_string());
            }
            log_event(LogLevel::Error, "start-failed",
                      "the policy in " + options_.config_dir + " has errors; refusing to start");
            return false;
        }
        log_warnings(loaded);
        policy_ = std::make_shared<const policy::Policy>(std::move(*loaded.policy));
        return true;
    }

    // Only once the policy is good: a refused start leaves nothing behind.
    bool prepare_state_directories() {
        std::error_code ec;
        // Made when missing; whatever is there (a file, a FIFO, a link) is judged below.
        if (!std::filesystem::exists(std::filesystem::symlink_status(options_.state_dir, ec))) {
            std::filesystem::create_directories(options_.state_dir, ec);
        }
        if (ec) {
            log_event(LogLevel::Error, "start-failed",
                      "cannot create state directory " + options_.state_dir + ": " + ec.message());
            return false;
        }
        if (!state_directory_ok(options_.state_dir)) {
            return false;
        }
        // Whoever may rename files in the database's directory may take the database
        // away, and with it every user's 2-step verification.
        return policy_->store.path.empty() ||
               state_directory_ok(policy_->store.path.parent_path().string());
    }

    // The loop, and what lives on it besides the bus: the HTTP client and the workers.
    bool open_loop() {
        sd_event* event = nullptr;
        int r = sd_event_default(&event);
        if (r < 0) {
            log_event(LogLevel::Error, "start-failed",
                      "cannot create the event loop: " + errno_string(r));
            return false;
        }
        event_.reset(event);
        http_ = std::make_unique<http::Client>(event);
        workers_ =
            std::make_unique<WorkerPool>(event, static_cast<unsigned>(policy_->daemon.workers));
        timers_ = std::make_unique<EventTimers>(event);
        // Quick-login PINs are hashed and checked on the workers, never on the loop.
        pin_hasher_ = std::make_unique<quick::PinHasher>(*workers_, random_);
        return true;
    }

    // The composition root: every service gets its dependencies here, and only here.
    bool compose() {
        std::string db_path = policy_->store.path.empty() ? options_.state_dir + "/lwauth.db"
                                                          : policy_->store.path.string();
        std::vector<SecretString> old_code_keys;
        for (const auto& path : policy_->store.code_old_key_files) {
            old_code_keys.push_back(store_key("code_old_key_files", path, {}));
        }
        hasher_ = std::make_unique<Hasher>(
            store_key("code_key_file", policy_->store.code_key_file, "code.key"), old_code_keys);
        store_ = open_store(db_path);
        AsyncStore& logins = login_store();
        sender_ = std::make_unique<CodeSender>(clock_, logins, *hasher_);
        sender_->set_channels(build_channels(*policy_, *http_));
        if (!open_line()) {
            return false;
        }
        engine_ = std::make_unique<LoginEngine>(
            EngineDeps{clock_, random_, logins, users_, timers_.get(),
                       [this](const std::string& user) {
                           if (directory_) {
                               directory_->look_up(user);
                           }
                       }},
            policy_,
            login_methods({clock_, random_, logins, *sender_, *hasher_},
                          {clock_, logins, *pin_hasher_}, {clock_, logins, *hasher_}));
        add_fingerprint_login();
        add_line_login();
        account_ =
            std::make_unique<AccountService>(clock_, random_, *store_, *sender_, *hasher_, users_);
        account_->set_policy(policy_);
        // Linking LINE goes through the same approvals as the LINE login.
        account_->set_line(line_.get());
        account_->set_quick_login(pin_hasher_.get(), load_common_pins());
        account_->set_host(line::host_name());
        admin_ =
            std::make_unique<AdminService>(*store_, *account_, users_, *sender_, line::host_name());
        service_ = std::make_unique<BusService>(*engine_, *account_, *admin_, users_,
                                                [this] { return reload(); });
        return true;
    }

    // The store of [store] backend: SQLite answering on the loop, or PostgreSQL on
    // connection threads of its own (threaded_store.hpp), each with its connection.
    std::unique_ptr<AsyncStore> open_store(const std::string& db_path) {
        SecretString contacts_key =
            store_key("contacts_key_file", policy_->store.contacts_key_file, "contacts.key");
        std::vector<SecretString> old_keys;
        for (const auto& path : policy_->store.contacts_old_key_files) {
            old_keys.push_back(store_key("contacts_old_key_files", path, {}));
        }
        auto cipher = [&] {
            std::vector<SecretString> old;
            for (const auto& key : old_keys) {
                old.push_back(key.clone());
            }
            return ContactCipher(contacts_key.clone(), random_, std::move(old));
        };
        if (policy_->store.backend != policy::StoreBackend::Postgresql) {
            return std::make_unique<ImmediateStore>(
                std::make_unique<SqliteStore>(db_path, cipher()));
        }
        SecretString password;
        if (!policy_->store.password_file.empty()) {
            password =
                read_secret_file(policy_->store.password_file.string(), this_process_reader());
            std::string_view view = password.view();
            while (!view.empty() && (view.back() == '\n' || view.back() == '\r')) {
                view.remove_suffix(1);
            }
            password = SecretString(view);
        }
        // What is bound to this machine is kept under its machine ID, never its host name:
        // no machine ID, no start (machine_key says how to make one).
        ThisMachine machine{machine_key(options_.machine_id_file), line::host_name()};
        // A database that cannot be reached now (booting before the network, a restart of
        // the server) does not stop lwauthd: it answers Unavailable, which the module's
        // failmode decides about, and connects when the database is back. A schema newer
        // than this lwauthd's does stop it.
        std::vector<std::unique_ptr<Store>> stores;
        bool reachable = true;
        for (int i = 0; i < kStoreConnections; ++i) {
            auto store =
                std::make_unique<PgStore>(PgConnection{policy_->store.url, password.clone()},
                                          machine, cipher(), false);
            if (reachable) {
                try {
                    store->open();
                } catch (const Error& e) {
                    if (e.code() != Errc::Unavailable) {
                        throw;
                    }
                    reachable = false;
                    log_event(LogLevel::Warning, "store-unreachable",
                              std::string(e.what()) +
                                  "; answering Unavailable until the database can be reached");
                }
            }
            stores.push_back(std::move(store));
        }
        auto threaded = std::make_unique<ThreadedStore>(event_.get(), std::move(stores));
        login_store_ = threaded->urgent();
        return threaded;
    }

    // A key of [store]: the file `key` names, which a fleet shares and lwauthd never makes,
    // or else (no such key) `state_name` in the state directory, made there at first start.
    SecretString store_key(const std::string& key, const std::filesystem::path& file,
                           const std::string& state_name) {
        if (file.empty()) {
            return load_or_create_key(options_.state_dir + "/" + state_name, random_);
        }
        try {
            return read_key_file(file.string(), this_process_reader());
        } catch (const Error& e) {
            throw Error(Errc::Internal,
                        "[store] " + key + ": " + e.what() + "; refusing to start");
        }
    }

    // What logins (and the codes they send) use: on PostgreSQL the connection threads'
    // first queue, ahead of the account and admin calls of the bus; SQLite answers at once.
    AsyncStore& login_store() const { return login_store_ ? *login_store_ : *store_; }

    // The list that SetPin refuses PINs from. Unreadable, lwauthd runs on and no PIN can be
    // set: logins must not depend on it, and a PIN must not pass unchecked.
    std::shared_ptr<const quick::CommonPins> load_common_pins() const {
        auto loaded = quick::CommonPins::load(options_.common_pins);
        if (!loaded) {
            log_event(LogLevel::Warning, "common-pins-unreadable",
                      std::string(loaded.error().what()) + "; no quick-login PIN can be set",
                      {{"PATH", options_.common_pins}});
            return nullptr;
        }
        return std::make_shared<const quick::CommonPins>(std::move(*loaded));
    }

    // LINE approvals (line/flows.hpp): always there, as the LineApprovals that the LINE
    // login method and the account service take (`*line_`); it listens on [line] listen
    // only when [line] is set up at start, else configured() is false and every offer is
    // refused. An address that cannot be bound stops the start.
    bool open_line() {
        line::FlowsOptions options;
        options.secret_reader = this_process_reader();
        try {
            line_ = std::make_unique<line::LineFlows>(
                line::FlowsDeps{event_.get(), *http_, clock_, random_, *timers_, *hasher_},
                *policy_, options);
        } catch (const Error& e) {
            log_event(LogLevel::Error, "start-failed",
                      std::string("[line]: ") + e.what() + "; refusing to start",
                      {{"LISTEN", policy_->line.listen}});
            return false;
        }
        return true;
    }

    // The fingerprint login, through fprintd on lwauthd's system-bus connection; after
    // the PIN's in the menu, before LINE's.
    void add_fingerprint_login() {
        fprint_ = std::make_unique<FprintClient>(bus_.get(), *timers_);
        engine_->add_method_types(
            {{std::make_shared<FingerprintMethodType>(FingerprintDeps{clock_, login_store(), *fprint_})},
             {}});
    }

    // The LINE login, after the engine: an approval's outcome reaches its login through
    // the engine's notify. After the phone's in the menu.
    void add_line_login() {
        LineDeps deps{clock_, login_store(), *line_, *timers_,
                      [this](const std::string& login_id, const LoginEvent& event) {
                          return engine_->notify(login_id, event);
                      }};
        engine_->add_method_types({{std::make_shared<LineMethodType>(std::move(deps))}, {}});
    }

    // Connects to the system bus; connect_bus() serves on it once the services exist.
    bool open_bus() {
        sd_bus* bus = nullptr;
        // sd_bus_open_system() honours DBUS_SYSTEM_BUS_ADDRESS, which the tests use for a
        // private bus.
        int r = sd_bus_open_system(&bus);
        if (r < 0) {
            log_event(LogLevel::Error, "start-failed",
                      "cannot connect to the system bus: " + errno_string(r));
            return false;
        }
        bus_.reset(bus);
        return true;
    }

    // Serves the bus object on the system bus, from the loop.
    bool connect_bus() {
        sd_bus* bus = bus_.get();
        service_->attach(bus);
        int r = sd_bus_request_name(bus, bus::kServiceName, 0);
        if (r < 0) {
            log_event(LogLevel::Error, "start-failed",
                      std::string("cannot own ") + bus::kServiceName + " on the system bus: " +
                          errno_string(r) + (r == -EEXIST ? " (another lwauthd is running)" : ""));
            return false;
        }
        r = sd_bus_attach_event(bus, event_.get(), SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
            log_event(LogLevel::Error, "start-failed",
                      "cannot attach the bus to the loop: " + errno_string(r));
            return false;
        }
        // Watches for the loss of the bus (bus_lost()).
        r = sd_bus_match_signal(bus, nullptr, "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_bus_disconnected, this);
        if (r < 0) {
            log_event(LogLevel::Error, "start-failed",
                      "cannot watch the bus connection: " + errno_string(r));
            return false;
        }
        return true;
    }

    // Each private connection is a descriptor: the soft limit (1024 under systemd) goes up
    // towards the hard one, as systemd advises for a program that needs many and uses no
    // select(), so that LoginSocket::kMaxConnections and the bus, HTTP and database
    // descriptors fit together.
    static void raise_file_limit() {
        constexpr rlim_t kWanted = 4 * LoginSocket::kMaxConnections;
        struct rlimit limit {};
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < kWanted) {
            limit.rlim_cur = std::min(kWanted, limit.rlim_max);
            (void)setrlimit(RLIMIT_NOFILE, &limit);  // the old limit stays otherwise
        }
    }

    // Root's logins over the private socket (login_socket.hpp). Without it lwauthd serves
    // on the bus alone, and the module goes there.
    void open_login_socket() {
        if (options_.login_socket.empty()) {
            return;
        }
        auto listener = listen_login_socket(options_.login_socket);
        if (!listener) {
            log_event(LogLevel::Error, "login-socket-failed",
                      std::string(listener.error().what()) + "; logins go over the bus alone",
                      {{"PATH", options_.login_socket}});
            return;
        }
        login_socket_ = std::make_unique<LoginSocket>(event_.get(), *service_, std::move(*listener),
                                                      options_.login_socket);
    }

    static int on_bus_disconnected(sd_bus_message* m, void* userdata, sd_bus_error*) {
        return c_barrier("bus-disconnected", 0, [&] {
            // sd-bus's own signal as the connection closes; a peer's of the same shape
            // while it is open is not believed.
            if (sd_bus_is_open(sd_bus_message_get_bus(m)) > 0) {
                return 0;
            }
            static_cast<Daemon*>(userdata)->bus_lost();
            return 0;
        });
    }

    // Without the bus and without the login socket lwauthd serves nobody: it leaves the
    // loop with a failure, so that systemd restarts it (Restart=on-failure). With the
    // socket it goes on serving root's logins there, and leaves the same way once the bus
    // is back and no private connection is open, to be on the bus again.
    void bus_lost() {
        if (!login_socket_) {
            sd_event_exit(event_.get(), 1);
            return;
        }
        log_event(LogLevel::Error, "bus-lost",
                  "lost the system bus; serving logins on the login socket alone until it is "
                  "back, then restarting",
                  {{"PATH", options_.login_socket}});
        sd_event_source* timer = nullptr;
        int r = sd_event_add_time_relative(event_.get(), &timer, CLOCK_MONOTONIC, kBusRetryInterval,
                                           100 * 1000, on_bus_retry, this);
        if (r < 0) {
            sd_event_exit(event_.get(), 1);
            return;
        }
        bus_retry_timer_.reset(timer);
    }

    static int on_bus_retry(sd_event_source* s, uint64_t, void* userdata) {
        auto* self = static_cast<Daemon*>(userdata);
        return c_barrier("bus-retry", 0, [&] {
            sd_bus* probe = nullptr;
            bool back = sd_bus_open_system(&probe) >= 0;
            BusPtr closing(probe);
            if (back && self->login_socket_->connections() == 0) {
                log_event(LogLevel::Notice, "bus-back",
                          "the system bus is back; restarting to serve on it");
                return sd_event_exit(self->event_.get(), 1);
            }
            sd_event_source_set_time_relative(s, kBusRetryInterval);
            return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        });
    }

    bool start_sweep() {
        sd_event_source* timer = nullptr;
        int r = sd_event_add_time_relative(event_.get(), &timer, CLOCK_MONOTONIC, kSweepInterval,
                                           1000 * 1000, on_sweep, this);
        if (r < 0) {
            log_event(LogLevel::Error, "start-failed",
                      "cannot add the sweep timer: " + errno_string(r));
            return false;
        }
        sweep_timer_.reset(timer);
        return true;
    }

    // Runs the loop until a stop signal or the loss of the bus; the exit status.
    int serve() {
        log_event(LogLevel::Notice, "started",
                  std::string("lwauthd ") + LWAUTH_VERSION + " serving " + bus::kServiceName +
                      " with policy " + options_.config_dir,
                  {{"STATE_DIR", options_.state_dir}});
        sd_notify(0, "READY=1\nSTATUS=Serving logins");
        int r = sd_event_loop(event_.get());
        sd_notify(0, "STOPPING=1");
        workers_.reset();  // jobs not started are dropped; running ones are waited for
        if (r != 0) {
            log_event(
                LogLevel::Error, "stopped",
                "lwauthd stopped: " +
                    std::string(r < 0 ? errno_string(r) : "the system bus connection was lost"));
            return 1;
        }
        log_event(LogLevel::Notice, "stopped", "lwauthd stopped");
        return 0;
    }

    static void log_warnings(const policy::LoadResult& loaded) {
        for (const auto& d : loaded.warnings) {
            log_event(LogLevel::Warning, "policy-warning", d.to_string());
        }
    }

    // SIGTERM and SIGINT stop the loop, SIGHUP reloads; without them lwauthd could be
    // neither stopped cleanly nor reloaded, so it does not start.
    bool watch_signals(sd_event* event) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        int r = sigprocmask(SIG_BLOCK, &mask, nullptr) < 0 ? -errno : 0;
        for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
            if (r >= 0) {
                r = sd_event_add_signal(event, nullptr, sig,
                                        sig == SIGHUP ? on_hup : on_stop_signal, this);
            }
            if (r < 0) {
                log_event(LogLevel::Error, "start-failed",
                          std::string("cannot watch for SIG") + sigabbrev_np(sig) + ": " +
                              errno_string(r));
                return false;
            }
        }
        return true;
    }

    // Each handler below is called by sd-event: c_barrier keeps exceptions out of it.
    static int on_stop_signal(sd_event_source* s, const struct signalfd_siginfo* si, void*) {
        return c_barrier("stop-signal", 0, [&] {
            log_event(LogLevel::Notice, "stopping",
                      std::string("received ") + strsignal(static_cast<int>(si->ssi_signo)));
            return sd_event_exit(sd_event_source_get_event(s), 0);
        });
    }

    static int on_hup(sd_event_source*, const struct signalfd_siginfo*, void* userdata) {
        int r = c_barrier("reload-signal", -1, [&] {
            (void)static_cast<Daemon*>(userdata)->reload();  // logged; the old policy stays
            return 0;
        });
        if (r < 0) {
            sd_notify(0, "READY=1");  // systemd waits for it after RELOADING=1
        }
        return 0;
    }

    static int on_sweep(sd_event_source* s, uint64_t, void* userdata) {
        auto* self = static_cast<Daemon*>(userdata);
        c_barrier("sweep", 0, [&] {
            try {
                self->engine_->expire();
                self->account_->expire();
                auto failed = [](Result<void> pruned) {
                    if (!pruned) {
                        log_event(LogLevel::Error, "sweep-failed", pruned.error().what());
                    }
                };
                self->store_->prune_sends(self->clock_.now() - 2 * 3600, failed);
                self->store_->prune_hosts(self->clock_.now(), failed);
                self->store_->prune_confirmations(self->clock_.now(), failed);
            } catch (const std::exception& e) {
                log_event(LogLevel::Error, "sweep-failed", e.what());
            }
            return 0;
        });
        sd_event_source_set_time_relative(s, kSweepInterval);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
    }

    Options options_;
    SystemClock clock_;
    OpenSslRandom random_;
    SystemUserDirectory users_;
    std::shared_ptr<const policy::Policy> policy_;
    std::unique_ptr<Hasher> hasher_;
    // The store behind callbacks (async_store.hpp): SQLite, or PostgreSQL on its threads.
    std::unique_ptr<AsyncStore> store_;
    std::unique_ptr<AsyncStore> login_store_;  // see login_store()
    std::unique_ptr<CodeSender> sender_;
    std::unique_ptr<LoginEngine> engine_;
    std::unique_ptr<AccountService> account_;
    std::unique_ptr<AdminService> admin_;
    std::unique_ptr<BusService> service_;
    EventPtr event_;
    // After event_ (its server's sources go before the loop) and before http_ (the
    // client, destroyed first, drops the token requests whose callbacks point here). The
    // services above hold it as a LineApprovals&: ~Daemon ends them first.
    std::unique_ptr<line::LineFlows> line_;
    std::unique_ptr<http::Client> http_;   // declared after event_: destroyed before the loop
    std::unique_ptr<WorkerPool> workers_;  // the same; the engine's Jobs may outlive it
    std::unique_ptr<quick::PinHasher> pin_hasher_;  // on workers_
    std::unique_ptr<EventTimers> timers_;
    BusPtr bus_;
    std::unique_ptr<FprintClient> fprint_;  // on bus_ and timers_: destroyed before them
    EventSourcePtr sweep_timer_;
    EventSourcePtr bus_retry_timer_;
    // After bus_ and event_, and ended first (~Daemon): its connections call service_.
    std::unique_ptr<LoginSocket> login_socket_;
    std::shared_ptr<void> extensions_;  // after bus_ and engine_: destroyed before them
    std::unique_ptr<DirectorySync> directory_;  // on store_ and event_: destroyed first
};

}  // namespace
}  // namespace lwauth

int main(int argc, char** argv) {
    lwauth::Options options;
    int status = lwauth::parse_options(argc, argv, options);
    if (status >= 0) {
        return status;
    }
    lwauth::log_setup(options.log_target, options.debug);
    try {
        lwauth::Daemon daemon(std::move(options));
        return daemon.run();
    } catch (const std::exception& e) {
        lwauth::log_event(lwauth::LogLevel::Error, "start-failed", e.what());
        return 1;
    }
}
