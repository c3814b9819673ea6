// load_config: any keyholder.ini text is a Config or a list of problems, each naming
// the file. The text is written to a file in a private temporary folder first
// (the loader reads files, as keyholderd does).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_check.h"
#include "keyholder/config/config.h"

namespace {

const std::filesystem::path& folder() {
    static const std::filesystem::path path = [] {
        std::string pattern = (std::filesystem::temp_directory_path() / "keyholder-fuzz-config.XXXXXX").string();
        FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr);
        return std::filesystem::path(pattern);
    }();
    return path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto file = folder() / "keyholder.ini";
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        FUZZ_CHECK(out.good());
    }
    keyholder::config::LoadOptions options;
    options.data_dir = folder() / "data";
    const auto config = keyholder::config::load_config(file, options);
    if (!config) {
        FUZZ_CHECK(!config.error().empty());
        for (const auto& problem : config.error())
            FUZZ_CHECK(!problem.message.empty() && problem.file == file.string());
    }
    return 0;
}
