// Mail templates: config/templates/<kind>.txt (first line "Subject: ...", then the
// plain-text body, always sent) and <kind>.html (optional HTML part). Placeholders
// are {{name}}; in the HTML part every value is HTML-escaped, in the subject line
// CR and LF are removed (no header injection). Unknown placeholders render empty.
#pragma once

#include <expected>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace keyholder::notify {

struct RenderedMail {
    std::string subject;
    std::string text;
    std::string html;                 ///< empty when the kind has no .html template
    std::vector<std::string> missing; ///< placeholders that had no value (rendered empty)
};

class Templates {
public:
    /// load: every <kind>.txt (and .html) in the folder; each .txt must start with "Subject:".
    static std::expected<Templates, std::string> load(const std::filesystem::path& dir);
    /// builtin: the shipped config/templates, compiled into the program.
    static Templates builtin();
    /// from_files: file name ("approval_needed.txt") -> content.
    static std::expected<Templates, std::string> from_files(const std::map<std::string, std::string>& files);
    [[nodiscard]] bool has(const std::string& kind) const { return text_.count(kind) != 0; }
    [[nodiscard]] RenderedMail render(const std::string& kind, const std::map<std::string, std::string>& values) const;

private:
    std::map<std::string, std::string> subject_;
    std::map<std::string, std::string> text_;
    std::map<std::string, std::string> html_;
};

/// html_escape: & < > " ' as entities.
std::string html_escape(const std::string& text);
/// fill: replaces {{name}} with values (escaped by `escape` when given); names with
/// no value render empty and are added to `missing` when given.
std::string fill(const std::string& text, const std::map<std::string, std::string>& values,
                 std::string (*escape)(const std::string&) = nullptr, std::set<std::string>* missing = nullptr);

} // namespace keyholder::notify
