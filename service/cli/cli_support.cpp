#include "cli_support.h"

#include <CLI/CLI.hpp>

#include "command_line.h"

#include <algorithm>
#include <iostream>

namespace keyholder::cli {

CLI::Option* add_value(CLI::App* command, Invocation& call, const std::string& name, const std::string& help,
                       const std::string& value_name) {
    return command
        ->add_option_function<std::string>(
            "--" + name, [&call, name](const std::string& v) { call.options[name] = v; }, help)
        ->type_name(value_name);
}

CLI::Option* add_flag(CLI::App* command, Invocation& call, const std::string& name, const std::string& help) {
    return command->add_flag_callback(
        "--" + name, [&call, name] { call.flags.insert(name); }, help);
}

std::string wrapped(const std::string& text, size_t width) {
    std::string out;
    size_t line_start = 0;
    for (size_t start = 0; start <= text.size();) {
        size_t end = text.find_first_of(" \n", start);
        if (end == std::string::npos) end = text.size();
        const std::string word = text.substr(start, end - start);
        if (out.size() - line_start + (out.size() > line_start ? 1 : 0) + word.size() > width &&
            out.size() > line_start) {
            out += '\n';
            line_start = out.size();
        } else if (out.size() > line_start) {
            out += ' ';
        }
        out += word;
        if (end < text.size() && text[end] == '\n') {
            out += '\n';
            line_start = out.size();
        }
        start = end + 1;
    }
    return out;
}

} // namespace keyholder::cli
