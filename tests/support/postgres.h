// PostgresSandbox: a real PostgreSQL server (Debian's postgresql) for a test, on a
// free loopback port, from an initdb template made once per machine user (about a
// second) and copied per server; stopped by PID when the object goes away.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace keyholder::testing {

class PostgresSandbox {
public:
    /// PostgresSandbox: starts a primary, or (standby_of) a streaming standby of one.
    explicit PostgresSandbox(const PostgresSandbox* standby_of = nullptr, const std::string& name = "standby");
    ~PostgresSandbox();
    PostgresSandbox(const PostgresSandbox&) = delete;
    PostgresSandbox& operator=(const PostgresSandbox&) = delete;

    /// shared: one server for the tests of this program: the ctest run's (the
    /// CTest fixture "postgres" started it; KEYHOLDER_TEST_POSTGRES names its
    /// folder), else one started on first use. Its databases are dropped at exit.
    static PostgresSandbox& shared();

    /// dsn: a libpq connection string for `database` over TCP (SCRAM, the password in it).
    [[nodiscard]] std::string dsn(const std::string& database = "postgres") const;
    /// create_database: a new, empty database; answers its DSN.
    std::string create_database();
    /// sql: runs constant SQL as the superuser in `database` (psql); answers its output.
    std::string sql(const std::string& statement, const std::string& database = "postgres") const;

    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] std::string address() const { return "127.0.0.1"; }
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
    [[nodiscard]] std::string password() const;
    [[nodiscard]] std::filesystem::path ca_file() const { return dir_ / "ca.crt"; }

    /// make_synchronous: `standby` becomes this primary's synchronous standby.
    /// It, promote, stop, kill and start are for a server of one's own, not shared().
    void make_synchronous(const std::string& standby_name);
    void promote();
    void stop();
    /// kill: SIGKILL to the postmaster and its backends (a crash).
    void kill();
    /// pause / resume: SIGSTOP / SIGCONT to the postmaster and its backends (a hung
    /// host: connections stay open, nothing answers).
    void pause();
    void resume();
    void start();
    [[nodiscard]] bool running() const { return running_; }

private:
    struct Attach {
        std::filesystem::path dir;
    };
    /// PostgresSandbox(Attach): the running server in `dir`, started by someone else.
    explicit PostgresSandbox(const Attach& running);
    void own_only(const char* what) const;

    std::optional<TempDir> owned_; ///< unset: attached to a server someone else started
    std::filesystem::path dir_;
    std::vector<std::string> databases_; ///< made by create_database(), dropped at the end
    int port_ = 0;
    bool running_ = false;
    const PostgresSandbox* primary_ = nullptr;
    std::string name_;
};

} // namespace keyholder::testing
