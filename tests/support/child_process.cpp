// ChildProcess (see child_process.h).
#include "support/child_process.h"

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "support/temp_dir.h"

namespace keyholder::testing {

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::filesystem::path& log_dir, const std::map<std::string, std::string>& env) {
    static int counter = 0;
    std::string stem = std::filesystem::path(program).filename().string() + "-" + std::to_string(++counter);
    out_file_ = log_dir / (stem + ".out");
    err_file_ = log_dir / (stem + ".err");
    std::vector<std::string> argv_storage{program};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        int out = ::open(out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = ::open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        for (const auto& [name, value] : env)
            ::setenv(name.c_str(), value.c_str(), 1);
        std::vector<char*> argv;
        for (auto& a : argv_storage)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(program.c_str(), argv.data());
        ::_exit(127);
    }
}

ChildProcess::~ChildProcess() {
    if (!status_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

void ChildProcess::signal(int signo) const { ::kill(pid_, signo); }

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
    if (status_) return status_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        int status = 0;
        pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return status_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string ChildProcess::out() const { return read_file(out_file_); }
std::string ChildProcess::err() const { return read_file(err_file_); }

std::string ChildProcess::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        std::string text = out() + err();
        if (text.find(needle) != std::string::npos) return text;
        if (wait_for(std::chrono::milliseconds(0))) return "";
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
}

RunResult run(const std::string& program, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout) {
    TempDir logs;
    ChildProcess child(program, args, logs.path(), env);
    auto status = child.wait_for(timeout);
    RunResult result;
    result.status = status.value_or(-1);
    result.out = child.out();
    result.err = child.err();
    return result;
}

bool process_exists(pid_t pid) {
    if (::kill(pid, 0) != 0) return false;
    // A zombie still answers kill(0); look at its state.
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

} // namespace keyholder::testing
