// The Windows build against the Samba AD DC, driven from Linux (label windows, run by
// scripts/windows-test after scripts/build windows): the cross-built programs run
// under wine64 (scripts/wine-run) and reach the DC on 127.0.0.2.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/child_process.h"
#include "support/samba_dc.h"

namespace {

using keyholder::testing::run;
using keyholder::testing::SambaDc;

const std::filesystem::path kSource = KEYHOLDER_SOURCE_DIR;
const std::filesystem::path kWindowsBin = kSource / "build-windows/bin";

std::string wine_run() { return (kSource / "scripts/wine-run").string(); }

TEST(WindowsDirectory, Wldap32AgainstTheDc) {
    const auto program = kWindowsBin / "directory_wldap32_tests.exe";
    ASSERT_TRUE(std::filesystem::exists(program)) << program << " is missing: run scripts/build windows first";
    SambaDc& dc = SambaDc::shared();
    auto result = run(wine_run(), {program.string(), "--gtest_color=no"},
                      {{"KEYHOLDER_TEST_DC", SambaDc::kAddress},
                       {"KEYHOLDER_TEST_BASE_DN", SambaDc::kBaseDn},
                       {"KEYHOLDER_TEST_BIND_DN", SambaDc::kServiceUpn},
                       {"KEYHOLDER_TEST_BIND_PASSWORD", SambaDc::kServicePassword},
                       {"KEYHOLDER_TEST_DOMAIN", SambaDc::kDomain}},
                      std::chrono::seconds(300));
    (void)dc;
    std::cout << result.out << result.err;
    EXPECT_EQ(result.status, 0) << "the Wldap32 suite failed (its output is above)";
    EXPECT_NE(result.out.find("[  PASSED  ] 8 tests"), std::string::npos) << "every case ran";
}

} // namespace
