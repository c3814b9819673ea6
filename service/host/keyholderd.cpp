// keyholderd: the keyholder service. A Poco ServerApplication, so the same program
// runs in the foreground, as a Unix daemon (--daemon --pidfile=FILE) under systemd,
// and as a Windows service (/registerService).
//
// Start-up order matters: options are parsed before any thread exists (the daemon
// fork happens before init), then the configuration is validated whole, the store is
// opened and migrated, and only then does the endpoint accept connections.
#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Environment.h>
#include <Poco/FileChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Net/Net.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Process.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>

#include "keyholder/api/api.h"
#include "keyholder/api/approval_pages.h"
#include "keyholder/api/sessions.h"
#include "keyholder/auth/sign_on.h"
#include "keyholder/config/config.h"
#include "keyholder/core/authority.h"
#include "keyholder/core/catalog.h"
#include "keyholder/core/checkout_service.h"
#include "keyholder/core/clock.h"
#include "keyholder/core/directory_settings.h"
#include "keyholder/core/links.h"
#include "keyholder/core/scheduler.h"
#include "keyholder/core/store_settings.h"
#include "keyholder/core/vault.h"
#include "keyholder/directory/directory.h"
#include "keyholder/http/server.h"
#include "keyholder/notify/mailer.h"
#include "keyholder/notify/outbox_worker.h"
#include "keyholder/notify/templates.h"
#include "keyholder/platform/files.h"
#include "keyholder/platform/process.h"
#include "keyholder/portal/portal.h"
#include "keyholder/reports/exports.h"
#include "keyholder/store/checkouts.h"
#include "keyholder/store/error.h"
#include "keyholder/store/leadership.h"
#include "keyholder/store/store.h"
#include "system_log.h"

namespace {

using keyholder::host::kOptionPrefix;
using Poco::Util::Application;
using Poco::Util::Option;
using Poco::Util::OptionSet;

constexpr const char* kVersion = "0.1.0";

std::string absolute(const std::string& path) { return std::filesystem::absolute(path).lexically_normal().string(); }

// OneAtATime: the probe handlers share one store connection; a handler waits at most
// `patience` for the one in progress (which may wait answer_timeout for a hung
// store) instead of queueing. (A mutex and a condition, not std::timed_mutex:
// ThreadSanitizer does not see try_lock_for's pthread_mutex_clocklock.)
class OneAtATime {
public:
    class Turn {
    public:
        explicit Turn(OneAtATime* owner) : owner_(owner) {}
        Turn(Turn&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
        Turn(const Turn&) = delete;
        Turn& operator=(const Turn&) = delete;
        Turn& operator=(Turn&&) = delete;
        ~Turn() {
            if (owner_ != nullptr) owner_->leave();
        }
        explicit operator bool() const { return owner_ != nullptr; }

    private:
        OneAtATime* owner_;
    };
    Turn wait(std::chrono::milliseconds patience) {
        std::unique_lock lock(mutex_);
        if (!free_.wait_for(lock, patience, [&] { return !busy_; })) return Turn(nullptr);
        busy_ = true;
        return Turn(this);
    }

private:
    void leave() {
        {
            std::lock_guard lock(mutex_);
            busy_ = false;
        }
        free_.notify_one();
    }
    std::mutex mutex_;
    std::condition_variable free_;
    bool busy_ = false;
};

// DirectoryProbe: answers /readyz without hammering the DC — one rootDSE read per
// two seconds at most, shared by all probe requests.
class DirectoryProbe {
public:
    explicit DirectoryProbe(keyholder::directory::Directory& directory) : directory_(directory) {}
    bool check(std::string& why) {
        std::lock_guard lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        if (now - checked_at_ > std::chrono::seconds(2) || checked_at_.time_since_epoch().count() == 0) {
            auto dse = directory_.probe();
            ok_ = dse.has_value();
            why_ = ok_ ? "" : dse.error().to_string();
            checked_at_ = now;
        }
        why = why_;
        return ok_;
    }

private:
    keyholder::directory::Directory& directory_;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point checked_at_{};
    bool ok_ = false;
    std::string why_;
};

class Keyholderd : public Poco::Util::ServerApplication {
public:
    // Windows: Winsock must be started (statically linked, Poco's initializer object
    // is not); elsewhere this does nothing.
    Keyholderd() { Poco::Net::initializeNetwork(); }

protected:
    void defineOptions(OptionSet& options) override {
        ServerApplication::defineOptions(options); // --daemon, --pidfile, --umask (Unix); service options (Windows)
        options.addOption(Option("help", "h", "show this help and exit"));
        options.addOption(Option("version", "", "print the version and exit"));
        options.addOption(Option("config", "c", "configuration file (INI)").argument("FILE").repeatable(false));
        options.addOption(Option("check-config", "", "validate FILE, list every problem, exit 0 only when clean")
                              .argument("FILE")
                              .repeatable(false));
        options.addOption(Option("data-dir", "", "override [service] data_dir").argument("DIR").repeatable(false));
    }

    void handleOption(const std::string& name, const std::string& value) override {
        ServerApplication::handleOption(name, value);
        if (name == "help") {
            Poco::Util::HelpFormatter help(options());
            help.setCommand(commandName());
#ifdef _WIN32
            help.setUsage("/config=FILE | /check-config=FILE | /registerService [/displayName=NAME "
                          "/startup=automatic|manual] | /unregisterService (the service reads "
                          "%ProgramData%\\keyholder\\keyholder.ini)");
#else
            help.setUsage("--config FILE [--daemon --pidfile=FILE] | --check-config FILE");
#endif
            help.setHeader("keyholder service: approved, time-boxed check-outs of privileged AD accounts.");
            help.format(std::cout);
            mode_ = Mode::exit_ok;
            stopOptionsProcessing();
        } else if (name == "version") {
            std::cout << "keyholderd " << kVersion << '\n';
            mode_ = Mode::exit_ok;
            stopOptionsProcessing();
        } else if (name == "config") {
            config_file_ = absolute(value); // the daemon changes to / after option processing
        } else if (name == "check-config") {
            config_file_ = absolute(value);
            mode_ = Mode::check_config;
        } else if (name == "data-dir") {
            data_dir_ = absolute(value);
        } else if (name == "umask") {
            umask_given_ = true;
        }
    }

    int main(const std::vector<std::string>& args) override {
        if (mode_ == Mode::exit_ok) return EXIT_OK;
        if (!args.empty()) {
            std::cerr << "keyholderd: unexpected argument '" << args.front() << "' (see " << kOptionPrefix << "help)\n";
            return EXIT_USAGE;
        }
        if (config_file_.empty()) {
            if (auto fallback = keyholder::platform::default_config_file())
                config_file_ = keyholder::platform::utf8(*fallback);
        }
        if (config_file_.empty()) {
            const std::string text =
                std::string("keyholderd: give ") + kOptionPrefix + "config=FILE (see " + kOptionPrefix + "help)";
            std::cerr << text << '\n';
            keyholder::host::report_to_system_log(text);
            return EXIT_USAGE;
        }
        keyholder::config::LoadOptions load_options;
        if (!data_dir_.empty()) load_options.data_dir = data_dir_;
        auto loaded = keyholder::config::load_config(config_file_, load_options);
        if (mode_ == Mode::check_config) {
            if (!loaded) {
                for (const auto& problem : loaded.error())
                    std::cerr << problem.to_string() << '\n';
                std::cerr << loaded.error().size() << " problem(s) in " << config_file_ << '\n';
                return EXIT_CONFIG;
            }
            std::cout << config_file_ << ": OK (" << loaded->policies.size() << " policies, " << loaded->entries.size()
                      << " entries, " << loaded->report_schedules.size() << " scheduled reports)\n";
            return EXIT_OK;
        }
        if (!loaded) {
            // Logging is not configured yet: these go to stderr (the journal under
            // systemd) and the system log (a Windows service has no stderr).
            std::string text;
            for (const auto& problem : loaded.error())
                text += problem.to_string() + '\n';
            text += "keyholderd: not starting: " + std::to_string(loaded.error().size()) + " configuration problem(s)";
            std::cerr << text << '\n';
            keyholder::host::report_to_system_log(text);
            return EXIT_CONFIG;
        }
        const keyholder::config::Config config = std::move(*loaded);
        // The database, keys and exports are private to the service unless --umask says otherwise.
        if (!umask_given_) keyholder::platform::private_new_files();
        setup_logging(config.service);
        return serve(config);
    }

private:
    enum class Mode { serve, check_config, exit_ok };

    void setup_logging(const keyholder::config::ServiceSection& service) {
        Poco::AutoPtr<Poco::Channel> sink;
        if (service.log_file) {
            Poco::AutoPtr<Poco::FileChannel> file = new Poco::FileChannel(service.log_file->string());
            file->setProperty("rotation", "daily");
            file->setProperty("archive", "timestamp");
            file->setProperty("purgeCount", "14");
            sink = file;
        } else {
            sink = new Poco::ConsoleChannel(std::cerr);
        }
        Poco::AutoPtr<Poco::PatternFormatter> pattern = new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t");
        Poco::AutoPtr<Poco::Channel> channel =
            keyholder::host::with_system_log(new Poco::FormattingChannel(pattern, sink));
        Poco::Logger::root().setChannel(channel);
        Poco::Logger::root().setLevel(service.log_level);
        logger().setChannel(channel);
        logger().setLevel(service.log_level);
    }

    int serve(const keyholder::config::Config& config) {
        Poco::Logger& log = Poco::Logger::get("keyholderd");
        // A stop asked for during start-up is taken in order by waitForTerminationRequest().
        keyholder::platform::hold_stop_signals();
        log.information("keyholderd %s starting with %s (data in %s)", std::string(kVersion), config.file.string(),
                        config.service.data_dir.string());
        std::optional<keyholder::store::OpenedStore> store;
        const keyholder::store::Location store_location = keyholder::core::store_location(config);
        try {
            store.emplace(keyholder::store::open_store(store_location, keyholder::core::store_options(config)));
            log.information("store %s at schema version %d (was %d)", store_location.describe(),
                            store->migration.to_version, store->migration.from_version);
            auto sync = keyholder::core::record_service_start(store->connection, config, clock_, kVersion);
            log.information("catalog: %d entries (%d retired), %d policies new or changed; configuration sha256 %s",
                            sync.entries, sync.entries_retired, sync.policies_changed, sync.config_sha256);
        } catch (const keyholder::store::StoreError& e) {
            log.fatal("cannot open the store: %s", std::string(e.what()));
            return EXIT_CANTCREAT;
        }
        OneAtATime store_turns; // one connection, shared by the probe handlers
        keyholder::directory::Directory directory_service(keyholder::core::directory_settings(config.ldap));
        DirectoryProbe directory(directory_service);
        std::atomic<bool> started{false};

        keyholder::http::Readiness readiness;
        readiness.store = [&](std::string& why) {
            // A store that does not answer holds a probe for up to answer_timeout: the
            // probes behind it answer 503 after 2 s instead of queueing (a load
            // balancer probes every few seconds, and each waits on an HTTP worker).
            const auto turn = store_turns.wait(std::chrono::seconds(2));
            if (!turn) {
                why = "the store has not answered the previous probe yet (" + store_location.describe() + ")";
                return false;
            }
            std::string error;
            if (keyholder::store::store_answers(store->connection, &error)) return true;
            why = "cannot read " + store_location.describe() + " (" + error + ")";
            return false;
        };
        readiness.directory = [&](std::string& why) { return directory.check(why); };
        readiness.started = [&] { return started.load(); };

        // The scheduler owns its own store connection (connections are per thread).
        const auto scheduler_options = keyholder::core::store_options(config, false);
        auto scheduler_store = keyholder::store::Connection::open(store_location, scheduler_options);
        keyholder::core::DirectoryAuthority authority(directory_service);
        auto vault = keyholder::core::SecretVault::open(config.service.master_key_file);
        if (!vault) {
            log.fatal("cannot open the master key: %s", vault.error());
            return EXIT_CONFIG;
        }
        log.information("master key %s (id %s)", config.service.master_key_file.string(), vault->key_id());
        keyholder::core::CheckoutService checkouts(config, scheduler_store, authority, clock_, &*vault);
        // One node at a time runs the scheduler and the exports (SQLite: this one).
        const bool several_nodes = store_location.backend == keyholder::store::Backend::postgresql;
        keyholder::store::Leadership leadership(store_location, scheduler_options);
        readiness.leader = [&] { return leadership.held(); };
        readiness.node = Poco::Environment::nodeName() + " pid " + std::to_string(Poco::Process::id());

        keyholder::http::Metrics metrics;
        metrics.gauge("keyholder_up", "1 while the service runs", [] { return 1.0; });
        // Every documented counter exists from the start, at 0 for each label value it
        // can take, so that an increase() alert sees the first failure.
        for (const auto& [name, help, labels] :
             std::vector<std::tuple<std::string, std::string, std::vector<std::string>>>{
                 {"keyholder_takeback_failures_total", "Take-back attempts that failed (retried)", {""}},
                 {"keyholder_directory_errors_total",
                  "Directory calls that failed, by where",
                  {"where=\"api\"", "where=\"sign_on\""}},
                 {"keyholder_report_runs_total",
                  "Scheduled report exports, by result",
                  {"result=\"succeeded\"", "result=\"failed\""}},
                 {"keyholder_mail_deliveries_total",
                  "Mail delivery attempts, by result (sent, retry, failed)",
                  {"result=\"sent\"", "result=\"retry\"", "result=\"failed\""}},
                 {"keyholder_signon_failures_total",
                  "Failed sign-ons, by method",
                  {"method=\"basic\"", "method=\"negotiate\"", "method=\"password\""}},
                 {"keyholder_http_connections_refused_total",
                  "Connections refused at accept (per-address or total cap)",
                  {""}},
                 {"keyholder_http_request_timeouts_total",
                  "Requests that did not arrive whole within read_timeout (408)",
                  {""}},
             })
            for (const auto& label : labels)
                metrics.add(name, help, label, 0);
        auto counts = [&] {
            // As the probe: a scrape behind one that waits for the store leaves these
            // gauges out after 2 s (a gauge that throws is left out).
            const auto turn = store_turns.wait(std::chrono::seconds(2));
            if (!turn) throw std::runtime_error("the store has not answered the previous read yet");
            return keyholder::store::state_counts(store->connection);
        };
        metrics.gauge("keyholder_checkouts_active", "Check-outs in their window now",
                      [&] { return static_cast<double>(counts().active_checkouts); });
        metrics.gauge("keyholder_requests_pending", "Requests waiting for a decision",
                      [&] { return static_cast<double>(counts().pending_requests); });
        metrics.gauge("keyholder_takebacks_unfinished", "Ended check-outs whose take-back is still pending or failing",
                      [&] { return static_cast<double>(counts().takebacks_unfinished); });
        metrics.gauge("keyholder_outbox_backlog", "Notifications not yet sent",
                      [&] { return static_cast<double>(counts().outbox_backlog); });
        metrics.gauge("keyholder_scheduler_leader", "1 while this node runs the scheduler and the exports",
                      [&] { return leadership.held() ? 1.0 : 0.0; });
        metrics.gauge("keyholder_directory_cache_entries", "Entries in the directory lookup cache",
                      [&] { return static_cast<double>(directory_service.cache_stats().entries); });

        std::unique_ptr<keyholder::auth::SignOn> sign_on;
        try {
            sign_on = std::make_unique<keyholder::auth::SignOn>(config.auth, directory_service, &metrics);
        } catch (const std::exception& e) {
            log.fatal("cannot set up sign-on: %s", std::string(e.what()));
            return EXIT_CONFIG;
        }
        std::unique_ptr<keyholder::api::CorePool> pool;
        try {
            pool = std::make_unique<keyholder::api::CorePool>(config, authority, clock_, &*vault,
                                                              static_cast<size_t>(config.http.threads));
        } catch (const keyholder::store::StoreError& e) {
            log.fatal("cannot open the store for the API: %s", std::string(e.what()));
            return EXIT_CANTCREAT;
        }
        std::atomic<keyholder::core::Scheduler*> scheduler_ptr{nullptr}; // set once started; read by API threads
        std::atomic<keyholder::core::Scheduler*> mail_ptr{nullptr};
        keyholder::api::ApiContext api_context{config, *pool, authority, clock_, &*vault, &metrics, [&] {
                                                   if (auto* s = scheduler_ptr.load()) s->wake();
                                                   if (auto* m = mail_ptr.load()) m->wake();
                                               }};
        auto links = keyholder::core::LinkSigner::open(config.service.link_key_file);
        if (!links) {
            log.fatal("cannot open the link key: %s", links.error());
            return EXIT_CONFIG;
        }
        keyholder::http::Router router;
        keyholder::api::add_api_routes(router, api_context);
        keyholder::api::add_approval_pages(router, api_context, *links);
        // Portal sessions live in the store: a session started on one node is valid on every node.
        keyholder::api::StoreSessions portal_sessions(*pool);
        sign_on->use_sessions(portal_sessions);
        keyholder::api::add_session_routes(router, api_context, *sign_on);
        keyholder::portal::add_portal_routes(router);

        // Mail: the outbox worker on its own connection, woken by new rows and by retries.
        auto templates = config.smtp.templates_dir ? keyholder::notify::Templates::load(*config.smtp.templates_dir)
                                                   : keyholder::notify::Templates::builtin();
        if (!templates) {
            log.fatal("mail templates: %s", templates.error());
            return EXIT_CONFIG;
        }
        auto mailer = keyholder::notify::make_mailer(config.smtp);
        auto outbox_store = keyholder::store::Connection::open(store_location, scheduler_options);
        keyholder::notify::OutboxWorker outbox(
            config, outbox_store, *mailer, *templates, *links, clock_, [&](const std::string& result) {
                metrics.add("keyholder_mail_deliveries_total",
                            "Mail delivery attempts, by result (sent, retry, failed)", "result=\"" + result + "\"");
            });
        keyholder::core::Scheduler mail_sender(
            [&] {
                auto pass = outbox.run_due();
                keyholder::core::SchedulerPass next;
                next.next_due = pass.next_due;
                return next;
            },
            clock_);
        // Scheduled report exports, on their own connection and thread.
        std::error_code made;
        std::filesystem::create_directories(config.reports.output_dir, made);
        auto export_store = keyholder::store::Connection::open(store_location, scheduler_options);
        keyholder::reports::ExportScheduler exports(
            config, export_store, clock_, [&](const keyholder::reports::ExportRun& run) {
                metrics.add("keyholder_report_runs_total", "Scheduled report exports, by result",
                            run.ok ? "result=\"succeeded\"" : "result=\"failed\"");
                // A run with mail_to queued its report_ready mail: send it now, not
                // whenever something else wakes the mail worker.
                if (auto* m = mail_ptr.load()) m->wake();
            });
        keyholder::core::Scheduler export_runner(
            [&] {
                keyholder::core::SchedulerPass next;
                if (!leadership.held()) { // the scheduler's thread renews it
                    next.next_due = clock_.now() + 1;
                    return next;
                }
                next.next_due = exports.run_due();
                if (several_nodes) next.next_due = std::min(next.next_due.value_or(INT64_MAX), clock_.now() + 1);
                return next;
            },
            clock_);
        log.information("mail: %s, templates %s", mailer->describe(),
                        config.smtp.templates_dir ? config.smtp.templates_dir->string() : std::string("built in"));

        Poco::Net::initializeSSL();
        std::unique_ptr<keyholder::http::Server> server;
        try {
            server =
                std::make_unique<keyholder::http::Server>(config.http, readiness, &router, sign_on.get(), &metrics);
        } catch (const Poco::Exception& e) {
            log.fatal("cannot listen on %s:%hu: %s", config.http.address, config.http.port, e.displayText());
            Poco::Net::uninitializeSSL();
            return EXIT_UNAVAILABLE;
        }
        if (!config.http.tls())
            log.warning("serving plain HTTP on loopback address %s: use TLS (tls_cert_file) for anything else",
                        config.http.address);
        server->start();
        log.information("listening on %s (sign-on:%s%s)", server->url(),
                        std::string(config.auth.negotiate ? " negotiate" : ""),
                        std::string(config.auth.basic ? " basic" : ""));

        keyholder::core::Scheduler scheduler(
            [&] {
                if (!leadership.held()) { // the leadership keeper renews it
                    keyholder::core::SchedulerPass idle;
                    idle.next_due = clock_.now() + 1; // another node leads: look again in a second
                    return idle;
                }
                auto pass = checkouts.run_due();
                // Several nodes: a leader looks at its lock every second, so that it
                // knows soon when it lost it (its passes are claimed anyway).
                if (several_nodes) pass.next_due = std::min(pass.next_due.value_or(INT64_MAX), clock_.now() + 1);
                if (auto* m = mail_ptr.load()) m->wake(); // ended, lapsed, ending-soon notices
                if (pass.takeback_failures > 0)
                    metrics.add("keyholder_takeback_failures_total", "Take-back attempts that failed (retried)", "",
                                pass.takeback_failures);
                return pass;
            },
            clock_);
        scheduler_ptr = &scheduler;
        // Several nodes: the scheduler's lock is renewed every second on a thread of its
        // own, so that a long pass never looks like a hung leader to the other nodes
        // (they end a leader whose lock session has been idle for 10 s).
        keyholder::core::Scheduler leadership_keeper(
            [&] {
                const bool led = leadership.held();
                const bool leads = leadership.renew();
                if (led && !leads) log.warning("no longer the scheduler's leader: %s", leadership.why());
                if (!led && leads) {
                    const std::string how = leadership.why();
                    log.information("leading the scheduler and the exports now%s",
                                    how.empty() ? std::string() : " (" + how + ")");
                    scheduler.wake();
                    export_runner.wake();
                }
                keyholder::core::SchedulerPass next;
                next.next_due = clock_.now() + 1;
                return next;
            },
            clock_);
        // Everything overdue (windows that ended while the service was down, lapsed
        // requests, take-backs) is processed before /readyz says ready.
        try {
            if (!several_nodes) {
                // This process is the only one that runs take-backs and sends mail on
                // its store: claims left by a stopped one run again now. (Several
                // nodes: a dead node's claims expire; the others' are live.)
                checkouts.recover();
                outbox.release_claims();
            }
            if (leadership.renew()) {
                auto pass = checkouts.run_due();
                log.information("start-up pass: %d lapsed, %d started, %d ended, %d taken back, %d take-back failures",
                                pass.lapsed, pass.started, pass.ended, pass.taken_back, pass.takeback_failures);
            } else {
                log.information("not the scheduler's leader (%s): the leader processes what is due", leadership.why());
            }
        } catch (const std::exception& e) {
            log.fatal("start-up pass failed: %s", std::string(e.what()));
            server->stop();
            return EXIT_SOFTWARE;
        }
        scheduler.start();
        if (several_nodes) leadership_keeper.start();
        mail_ptr = &mail_sender;
        mail_sender.start();
        export_runner.start(); // a run missed while the service was down runs now
        started = true;
        log.information("started");
        // "ready" is logged when /readyz would say so (store and directory answer), not
        // before: with the directory down the log says why, and "ready" follows once it answers.
        std::mutex ready_mutex;
        std::condition_variable stop_waiting;
        bool stopping = false;
        std::thread ready_logger([&] {
            std::unique_lock lock(ready_mutex);
            std::string last;
            while (!stopping) {
                std::string why;
                const bool ready = readiness.store(why) && readiness.directory(why);
                if (ready) {
                    log.information("ready");
                    return;
                }
                if (why != last) log.warning("not ready yet: %s (/readyz answers 503)", why);
                last = why;
                stop_waiting.wait_for(lock, std::chrono::seconds(2));
            }
        });

        waitForTerminationRequest(); // SIGINT / SIGTERM, or the Windows service stop
        {
            std::lock_guard lock(ready_mutex);
            stopping = true;
        }
        stop_waiting.notify_all();
        ready_logger.join();
        log.information("stopping");
        server->stop();
        server.reset();
        leadership_keeper.stop();
        scheduler.stop();
        mail_sender.stop();
        export_runner.stop();
        try {
            keyholder::core::record_service_stop(store->connection, clock_, kVersion);
        } catch (const keyholder::store::StoreError& e) {
            log.error("cannot record the stop in the audit trail: %s", std::string(e.what()));
        }
        Poco::Net::uninitializeSSL();
        log.information("stopped");
        return EXIT_OK;
    }

    keyholder::core::SystemClock clock_;
    Mode mode_ = Mode::serve;
    std::string config_file_;
    std::string data_dir_;
    bool umask_given_ = false;
};

} // namespace

POCO_SERVER_MAIN(Keyholderd)
