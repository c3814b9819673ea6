// read_mailbox (see mailbox.h).
#include "support/mailbox.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/child_process.h"

namespace keyholder::testing {
namespace {

// Prints, per file: to, subject, message id, text, html — each hex-encoded on a line.
constexpr const char* kDecoder = R"(
import email, email.policy, sys
for path in sys.argv[1:]:
    m = email.message_from_bytes(open(path, 'rb').read(), policy=email.policy.default)
    text = html = ''
    for part in m.walk():
        if part.get_content_type() == 'text/plain': text = part.get_content()
        if part.get_content_type() == 'text/html': html = part.get_content()
    for value in (str(m['To'] or ''), str(m['Subject'] or ''), str(m['Message-ID'] or ''), text, html):
        print(value.encode('utf-8').hex())
)";

std::string unhex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

} // namespace

std::vector<ReceivedMail> read_mailbox(const std::filesystem::path& folder) {
    std::vector<ReceivedMail> mails;
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec))
        if (entry.path().extension() == ".eml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) return mails;
    std::vector<std::string> args{"-c", kDecoder};
    for (const auto& f : files)
        args.push_back(f.string());
    auto decoded = run("/usr/bin/python3", args);
    std::istringstream lines(decoded.out);
    for (const auto& file : files) {
        ReceivedMail mail;
        mail.file = file;
        std::ifstream in(file, std::ios::binary);
        mail.raw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        std::string line;
        std::string* fields[] = {&mail.to, &mail.subject, &mail.message_id, &mail.text, &mail.html};
        for (auto* field : fields) {
            std::getline(lines, line);
            *field = unhex(line);
        }
        mails.push_back(std::move(mail));
    }
    return mails;
}

std::string link_in(const std::string& text, const std::string& fragment) {
    static const std::regex url(R"(https?://[^\s"<>]+)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), url); it != std::sregex_iterator(); ++it)
        if (it->str().find(fragment) != std::string::npos) return it->str();
    return {};
}

} // namespace keyholder::testing
