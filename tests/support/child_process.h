// ChildProcess: runs a program of ours (keyholderd, keyholder) for a test, with its
// output captured in files, and stops it by PID. The destructor kills what is left
// so a failing test never leaves a stray process behind.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace keyholder::testing {

class ChildProcess {
public:
    /// start: fork + exec `program` with `args`; stdout and stderr go to files in `log_dir`.
    ChildProcess(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& log_dir,
                 const std::map<std::string, std::string>& env = {});
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    void signal(int signo) const;
    /// wait_for: the exit status (or 128 + signal) once the process ended, nullopt on timeout.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    [[nodiscard]] std::string out() const;
    [[nodiscard]] std::string err() const;
    /// wait_for_output: polls stdout+stderr until `needle` appears; returns the text or "".
    std::string wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
    std::filesystem::path out_file_;
    std::filesystem::path err_file_;
};

/// RunResult / run: runs a program to completion (with a timeout) and captures its output.
struct RunResult {
    int status = -1;
    std::string out;
    std::string err;
};
RunResult run(const std::string& program, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// process_exists: whether a PID is still alive (and not a zombie of ours).
bool process_exists(pid_t pid);

} // namespace keyholder::testing
