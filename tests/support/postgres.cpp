// PostgresSandbox (see postgres.h): drives tests/support/postgres-sandbox.
#include "support/postgres.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <unistd.h>

#include "support/child_process.h"
#include "support/slapd.h" // free_loopback_port

namespace keyholder::testing {
namespace {

const std::string kScript = std::string(KEYHOLDER_SOURCE_DIR) + "/tests/support/postgres-sandbox";

// template_dir: the initdb template, made once per user and kept in the system
// temp folder (the server's user, "nobody" under root, must be able to read it).
std::filesystem::path template_dir() {
    static const std::filesystem::path made = [] {
        const auto dir =
            std::filesystem::temp_directory_path() / ("keyholder-pg-template-" + std::to_string(::getuid()));
        if (std::filesystem::exists(dir / "data/PG_VERSION") && std::filesystem::exists(dir / "password")) return dir;
        // Made beside and renamed into place: test programs may start together.
        const auto partial = std::filesystem::path(dir.string() + "." + std::to_string(::getpid()));
        auto result = run(kScript, {"template", partial.string()});
        if (result.status != 0)
            throw std::runtime_error("postgres-sandbox template failed: " + result.out + result.err);
        std::error_code ec;
        std::filesystem::rename(partial, dir, ec);
        if (ec) std::filesystem::remove_all(partial, ec); // another program won the race
        return dir;
    }();
    return made;
}

// stop_orphans: servers whose test program died without stopping them (a crash, a
// timeout's SIGKILL) are stopped by PID and their folders removed; once per program.
void stop_orphans() {
    static const bool done = [] {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
            const auto dir = entry.path();
            if (dir.filename().string().rfind("keyholder-test-", 0) != 0) continue;
            const std::string owner = read_file(dir / "owner.pid");
            if (owner.empty() || !std::filesystem::exists(dir / "postgres.pid")) continue;
            const pid_t pid = static_cast<pid_t>(std::atol(owner.c_str()));
            if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue; // its program is alive
            run(kScript, {"stop", dir.string(), "--kill"});
            std::filesystem::remove_all(dir, ec);
        }
        return true;
    }();
    (void)done;
}

} // namespace

PostgresSandbox::PostgresSandbox(const PostgresSandbox* standby_of, const std::string& name)
    : owned_(std::in_place), dir_(owned_->path()), primary_(standby_of), name_(name) {
    stop_orphans();
    owned_->write("owner.pid", std::to_string(::getpid()));
    start();
}

PostgresSandbox::PostgresSandbox(const Attach& running) : dir_(running.dir), running_(true) {
    port_ = std::atoi(read_file(dir_ / "port").c_str());
    if (port_ <= 0 || !std::filesystem::exists(dir_ / "postgres.pid"))
        throw std::runtime_error("no PostgreSQL server runs in " + dir_.string() +
                                 " (KEYHOLDER_TEST_POSTGRES; the fixture test postgres_shared_start starts it)");
}

PostgresSandbox::~PostgresSandbox() {
    try {
        if (owned_) {
            stop();
        } else {
            for (const auto& name : databases_)
                sql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        }
    } catch (...) { // NOLINT(bugprone-empty-catch): cleaning up in a destructor is best effort
    }
}

void PostgresSandbox::own_only(const char* what) const {
    if (!owned_)
        throw std::logic_error(std::string("PostgresSandbox::") + what +
                               " on the shared server of the ctest run: start a server of the test's own");
}

PostgresSandbox& PostgresSandbox::shared() {
    static std::string failure;
    if (!failure.empty()) throw std::runtime_error(failure);
    try {
        const char* running = std::getenv("KEYHOLDER_TEST_POSTGRES");
        static const std::unique_ptr<PostgresSandbox> server(
            running != nullptr && *running != '\0' ? new PostgresSandbox(Attach{running}) : new PostgresSandbox());
        return *server;
    } catch (const std::exception& e) {
        failure = e.what();
        throw;
    }
}

void PostgresSandbox::start() {
    own_only("start");
    for (int attempt = 1; attempt <= 2 && !running_; ++attempt) {
        if (port_ == 0 || attempt == 2) port_ = free_loopback_port();
        std::vector<std::string> args{"start", dir_.string(), "--port", std::to_string(port_)};
        if (primary_ != nullptr) {
            args.insert(args.end(), {"--standby-of", primary_->address() + ":" + std::to_string(primary_->port()),
                                     "--from", primary_->dir().string(), "--name", name_});
        } else if (!std::filesystem::exists(dir_ / "data")) {
            args.insert(args.end(), {"--from", template_dir().string()});
        } else {
            args.insert(args.end(), {"--restart"});
        }
        auto result = run(kScript, args);
        running_ = result.status == 0 && result.out.find("ready") != std::string::npos;
        if (!running_ && attempt == 2) throw std::runtime_error("postgres-sandbox failed: " + result.out + result.err);
    }
}

void PostgresSandbox::stop() {
    own_only("stop");
    if (!running_) return;
    run(kScript, {"stop", dir_.string()});
    running_ = false;
}

void PostgresSandbox::kill() {
    own_only("kill");
    if (!running_) return;
    run(kScript, {"stop", dir_.string(), "--kill"});
    running_ = false;
}

void PostgresSandbox::pause() {
    own_only("pause");
    const std::string pid = std::to_string(std::atol(read_file(dir_ / "postgres.pid").c_str()));
    run("/usr/bin/pkill", {"-STOP", "-P", pid});
    run("/usr/bin/kill", {"-STOP", pid});
}

void PostgresSandbox::resume() {
    own_only("resume");
    const std::string pid = std::to_string(std::atol(read_file(dir_ / "postgres.pid").c_str()));
    run("/usr/bin/kill", {"-CONT", pid});
    run("/usr/bin/pkill", {"-CONT", "-P", pid});
}

void PostgresSandbox::promote() {
    own_only("promote");
    auto result = run(kScript, {"promote", dir_.string()});
    if (result.status != 0) throw std::runtime_error("postgres-sandbox promote failed: " + result.out + result.err);
}

void PostgresSandbox::make_synchronous(const std::string& standby_name) {
    own_only("make_synchronous");
    auto result = run(kScript, {"sync", dir_.string(), standby_name});
    if (result.status != 0) throw std::runtime_error("postgres-sandbox sync failed: " + result.out + result.err);
}

std::string PostgresSandbox::password() const { return read_file(dir_ / "password"); }

std::string PostgresSandbox::dsn(const std::string& database) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=keyholder password=" + password() +
           " dbname=" + database;
}

std::string PostgresSandbox::sql(const std::string& statement, const std::string& database) const {
    auto result = run("/usr/bin/psql", {dsn(database), "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", statement});
    if (result.status != 0) throw std::runtime_error("psql failed: " + result.err);
    while (!result.out.empty() && result.out.back() == '\n')
        result.out.pop_back();
    return result.out;
}

std::string PostgresSandbox::create_database() {
    static int created = 0;
    const std::string name = "kh_" + std::to_string(::getpid()) + "_" + std::to_string(++created);
    sql("CREATE DATABASE " + name);
    databases_.push_back(name);
    return dsn(name);
}

} // namespace keyholder::testing
