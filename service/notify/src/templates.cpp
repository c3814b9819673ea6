#include "keyholder/notify/templates.h"

#include <set>

#include <fstream>
#include <sstream>

namespace keyholder::notify {

std::string html_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string fill(const std::string& text, const std::map<std::string, std::string>& values,
                 std::string (*escape)(const std::string&), std::set<std::string>* missing) {
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        const size_t open = text.find("{{", i);
        if (open == std::string::npos) break;
        const size_t close = text.find("}}", open + 2);
        if (close == std::string::npos) break;
        out.append(text, i, open - i);
        const std::string name = text.substr(open + 2, close - open - 2);
        auto value = values.find(name);
        if (value != values.end())
            out += escape ? escape(value->second) : value->second;
        else if (missing != nullptr)
            missing->insert(name);
        i = close + 2;
    }
    out.append(text, i, std::string::npos);
    return out;
}

namespace {
std::string one_line(const std::string& text) {
    std::string out;
    for (char c : text)
        out += (c == '\r' || c == '\n') ? ' ' : c;
    return out;
}
} // namespace

const std::map<std::string, std::string>& builtin_template_files(); // generated

std::expected<Templates, std::string> Templates::from_files(const std::map<std::string, std::string>& files) {
    Templates templates;
    for (const auto& [name, content] : files) {
        const std::filesystem::path path(name);
        const std::string kind = path.stem().string();
        if (path.extension() == ".html") {
            templates.html_[kind] = content;
        } else if (path.extension() == ".txt") {
            if (!content.starts_with("Subject:"))
                return std::unexpected(name + ": the first line must be \"Subject: ...\"");
            const size_t end = content.find('\n');
            templates.subject_[kind] = content.substr(8, end == std::string::npos ? std::string::npos : end - 8);
            templates.text_[kind] = end == std::string::npos ? "" : content.substr(end + 1);
        }
    }
    if (templates.text_.empty()) return std::unexpected("no mail templates (*.txt)");
    return templates;
}

Templates Templates::builtin() { return *from_files(builtin_template_files()); }

std::expected<Templates, std::string> Templates::load(const std::filesystem::path& dir) {
    std::map<std::string, std::string> files;
    std::error_code ec;
    for (const auto& file : std::filesystem::directory_iterator(dir, ec)) {
        const auto extension = file.path().extension();
        if (extension != ".txt" && extension != ".html") continue;
        std::ifstream in(file.path(), std::ios::binary);
        std::ostringstream content;
        content << in.rdbuf();
        files[file.path().filename().string()] = content.str();
    }
    if (ec) return std::unexpected("cannot read mail templates in " + dir.string() + ": " + ec.message());
    auto templates = from_files(files);
    if (!templates) return std::unexpected(dir.string() + "/" + templates.error());
    return templates;
}

RenderedMail Templates::render(const std::string& kind, const std::map<std::string, std::string>& values) const {
    RenderedMail mail;
    std::map<std::string, std::string> subject_values;
    for (const auto& [k, v] : values)
        subject_values[k] = one_line(v);
    auto subject = subject_.find(kind);
    std::set<std::string> missing;
    mail.subject =
        subject == subject_.end() ? kind : one_line(fill(subject->second, subject_values, nullptr, &missing));
    while (!mail.subject.empty() && mail.subject.front() == ' ')
        mail.subject.erase(0, 1);
    auto text = text_.find(kind);
    if (text != text_.end()) mail.text = fill(text->second, values, nullptr, &missing);
    auto html = html_.find(kind);
    if (html != html_.end()) mail.html = fill(html->second, values, &html_escape, &missing);
    mail.missing.assign(missing.begin(), missing.end());
    return mail;
}

} // namespace keyholder::notify
