// TempDir: a fresh folder under the system temp folder, removed with its contents.
#pragma once

#include <filesystem>
#include <string>

namespace keyholder::testing {

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

    /// write: creates a file (and its folders) with the given text and mode.
    std::filesystem::path write(const std::string& name, const std::string& text, unsigned mode = 0600) const;

private:
    std::filesystem::path path_;
};

/// read_file: the whole file as text ("" when missing).
std::string read_file(const std::filesystem::path& file);

} // namespace keyholder::testing
