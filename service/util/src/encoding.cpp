// Encodings (see encoding.h).
#include "keyholder/util/encoding.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstdint>

namespace keyholder::util {
namespace {

constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

} // namespace

std::string hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

std::string base64(std::string_view bytes) {
    // OpenSSL's block coder: no stream machinery on hot paths (every sign-on).
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> unbase64(std::string_view text) {
    if (text.empty() || text.size() > 64 * 1024 || text.size() % 4 != 0) return std::nullopt;
    for (char c : text)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    size_t size = static_cast<size_t>(n);
    for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i)
        --size; // EVP_DecodeBlock counts padding as zero bytes
    out.resize(size);
    return out;
}

std::string base64url(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    size_t i = 0;
    const auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 2 < bytes.size(); i += 3) {
        const uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
        for (int shift : {18, 12, 6, 0})
            out += kUrlAlphabet[(v >> shift) & 63];
    }
    if (i + 1 == bytes.size()) {
        const uint32_t v = at(i) << 16;
        out += kUrlAlphabet[(v >> 18) & 63];
        out += kUrlAlphabet[(v >> 12) & 63];
    } else if (i + 2 == bytes.size()) {
        const uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
        for (int shift : {18, 12, 6})
            out += kUrlAlphabet[(v >> shift) & 63];
    }
    return out;
}

std::optional<std::string> unbase64url(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        const char* at = std::char_traits<char>::find(kUrlAlphabet, 64, c);
        if (at == nullptr) return std::nullopt;
        buffer = (buffer << 6) | static_cast<uint32_t>(at - kUrlAlphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt; // non-canonical: refused
    return out;
}

} // namespace keyholder::util
