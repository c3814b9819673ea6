// SambaDc (see samba_dc.h): drives tests/support/samba-dc-sandbox.
#include "support/samba_dc.h"

#include <fstream>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <gsl/util>

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <stdexcept>
#include <sys/file.h>
#include <unistd.h>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace keyholder::testing {
namespace {

const std::filesystem::path kSupport = std::filesystem::path(KEYHOLDER_SOURCE_DIR) / "tests/support";
const std::filesystem::path kCache = KEYHOLDER_TEST_CACHE_DIR;

// The template is valid while the scripts that made it are unchanged.
std::string template_key() {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    for (const char* name : {"samba-dc-sandbox", "ad-seed-ldif"})
        engine.update(read_file(kSupport / name));
    return Poco::DigestEngine::digestToHex(engine.digest());
}

} // namespace

std::string people_dn(const std::string& common_name) { return "CN=" + common_name + "," + SambaDc::kPeople; }
std::string group_dn(const std::string& name) { return "CN=" + name + "," + SambaDc::kGroups; }

SambaDc& SambaDc::shared() {
    // A failure to prepare or start is remembered: every later test fails at once
    // with the same reason instead of trying (and waiting) again.
    static std::string failure;
    if (!failure.empty()) throw std::runtime_error(failure);
    try {
        static SambaDc dc;
        if (!dc.running_) dc.start();
        return dc;
    } catch (const std::exception& e) {
        failure = e.what();
        throw;
    }
}

SambaDc::SambaDc() {
    std::filesystem::create_directories(kCache);
    template_dir_ = kCache / "samba-dc-template";
    dir_ = kCache / ("samba-dc-run-" + std::to_string(::getpid()));
    // A test program that crashed left its DC running: stop it (its address is ours).
    for (const auto& entry : std::filesystem::directory_iterator(kCache)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("samba-dc-run-")) continue;
        pid_t owner = std::stoi(name.substr(13));
        if (owner != ::getpid() && ::kill(owner, 0) == 0) continue; // its program still runs
        run((kSupport / "samba-dc-sandbox").string(), {"stop", entry.path().string()}, {}, std::chrono::seconds(30));
        std::error_code ec;
        std::filesystem::remove_all(entry.path(), ec);
    }
    // One program prepares the template; others wait for it (flock).
    int lock = ::open((kCache / "samba-dc.lock").c_str(), O_CREAT | O_RDWR, 0600);
    ::flock(lock, LOCK_EX);
    auto unlock = gsl::finally([lock] {
        ::flock(lock, LOCK_UN);
        ::close(lock);
    });
    const std::string key = template_key();
    if (read_file(template_dir_ / "template.key") != key) {
        TempDir seed;
        auto ldif = seed.path() / "seed.ldif";
        auto generated = run((kSupport / "ad-seed-ldif").string(), {}, {}, std::chrono::minutes(2));
        if (generated.status != 0) throw std::runtime_error("ad-seed-ldif failed: " + generated.err);
        seed.write("seed.ldif", generated.out);
        auto prepared = run((kSupport / "samba-dc-sandbox").string(),
                            {"prepare", template_dir_.string(), "--address", kAddress, "--seed", ldif.string()}, {},
                            std::chrono::minutes(10));
        if (prepared.status != 0)
            throw std::runtime_error("samba-dc-sandbox prepare failed: " + prepared.out + prepared.err);
        seed.write("key", key);
        std::filesystem::copy_file(seed.path() / "key", template_dir_ / "template.key",
                                   std::filesystem::copy_options::overwrite_existing);
    }
}

void SambaDc::start() {
    auto started = run((kSupport / "samba-dc-sandbox").string(),
                       {"start", dir_.string(), "--from", template_dir_.string(), "--address", kAddress}, {},
                       std::chrono::minutes(2));
    if (started.status != 0) throw std::runtime_error("samba-dc-sandbox start failed: " + started.out + started.err);
    running_ = true;
    ::setenv("KRB5_CONFIG", krb5_conf().c_str(), 1);
}

void SambaDc::stop() {
    if (!running_) return;
    run((kSupport / "samba-dc-sandbox").string(), {"stop", dir_.string()}, {}, std::chrono::seconds(30));
    running_ = false;
}

SambaDc::~SambaDc() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string SambaDc::admin_password() const {
    std::ifstream in(dir_ / "admin.password");
    std::string password;
    std::getline(in, password);
    return password;
}

} // namespace keyholder::testing
