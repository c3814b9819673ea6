// Mailbox: reads the .eml files a test received (SMTP sink folder or pickup folder)
// through Python's email package (Debian's python3), so MIME decoding is done by an
// independent implementation: subject, recipients, Message-ID, decoded text and HTML.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace keyholder::testing {

struct ReceivedMail {
    std::filesystem::path file;
    std::string raw;
    std::string to;
    std::string subject;
    std::string message_id;
    std::string text; ///< decoded text/plain part
    std::string html; ///< decoded text/html part ("" when none)
};

/// read_mailbox: every *.eml in `folder`, in file-name order.
std::vector<ReceivedMail> read_mailbox(const std::filesystem::path& folder);

/// link_in: the first URL in `text` that contains `fragment` ("" when none).
std::string link_in(const std::string& text, const std::string& fragment);

} // namespace keyholder::testing
