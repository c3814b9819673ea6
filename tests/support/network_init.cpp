// Compiled into every test program of the Windows build: Winsock is started before
// any test (statically linked, Poco's own initializer object is never pulled in).
#include <Poco/Net/Net.h>

namespace {

const struct NetworkInit {
    NetworkInit() { Poco::Net::initializeNetwork(); }
} network_init;

} // namespace
