// SlapdSandbox (see slapd.h): drives tests/support/slapd-sandbox.
#include "support/slapd.h"

#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include "support/child_process.h"

namespace keyholder::testing {
namespace {

const std::string kScript = std::string(KEYHOLDER_SOURCE_DIR) + "/tests/support/slapd-sandbox";

} // namespace

int free_loopback_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

SlapdSandbox::SlapdSandbox(const std::vector<std::filesystem::path>& ldifs, const std::string& suffix, int size_limit) {
    for (int attempt = 0; attempt < 3 && !running_; ++attempt) {
        port_ = free_loopback_port();
        tls_port_ = free_loopback_port();
        std::vector<std::string> args{"start",        dir_.path().string(),      "--port",   std::to_string(port_),
                                      "--tls-port",   std::to_string(tls_port_), "--suffix", suffix,
                                      "--size-limit", std::to_string(size_limit)};
        for (const auto& ldif : ldifs) {
            args.push_back("--ldif");
            args.push_back(ldif.string());
        }
        auto result = run(kScript, args);
        running_ = result.status == 0 && result.out.find("ready") != std::string::npos;
        if (!running_ && attempt == 2) throw std::runtime_error("slapd-sandbox failed: " + result.out + result.err);
    }
}

SlapdSandbox::~SlapdSandbox() { stop(); }

void SlapdSandbox::stop() {
    if (!running_) return;
    run(kScript, {"stop", dir_.path().string()});
    running_ = false;
}

} // namespace keyholder::testing
