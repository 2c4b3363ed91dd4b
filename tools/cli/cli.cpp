// SPDX-License-Identifier: MIT
// The shared command-line conventions (cli.h): help and errors in one style, and bash completion.
#include "cli.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <vector>

namespace zerobuffer::cli {
namespace {

std::string indented(std::string_view lines)
{
    std::string text;
    std::size_t start = 0;
    while (start < lines.size()) {
        std::size_t end = lines.find('\n', start);
        if (end == std::string_view::npos) {
            end = lines.size();
        }
        if (end > start) {
            text.append("  ").append(lines.substr(start, end - start));
        }
        text.push_back('\n');
        start = end + 1;
    }
    return text;
}

/// "zbctl watch" for the deepest subcommand the command line selected, so the pointer to --help is precise.
std::string selected_command(const CLI::App& app)
{
    std::string command = app.get_name();
    const CLI::App* at = &app;
    for (;;) {
        auto selected = at->get_subcommands();
        if (selected.empty()) {
            return command;
        }
        at = selected.front();
        command += ' ';
        command += at->get_name();
    }
}

std::vector<const CLI::App*> subcommands_of(const CLI::App& app)
{
    return app.get_subcommands([](const CLI::App*) { return true; });
}

std::string option_words(const CLI::App& app)
{
    std::string words;
    for (const CLI::Option* option : app.get_options()) {
        for (const std::string& name : option->get_snames()) {
            words += " -" + name;
        }
        for (const std::string& name : option->get_lnames()) {
            words += " --" + name;
        }
    }
    return words;
}

/// Appends the case arms that track the subcommand path (`case "$path:$word"`) and the words of each path.
void add_paths(const CLI::App& app, const std::string& path, std::string& walk, std::string& words)
{
    std::string subs;
    for (const CLI::App* sub : subcommands_of(app)) {
        const std::string sub_path = path.empty() ? sub->get_name() : path + " " + sub->get_name();
        walk += "        \"" + path + ":" + sub->get_name() + "\") path=\"" + sub_path + "\" ;;\n";
        subs += " " + sub->get_name();
        add_paths(*sub, sub_path, walk, words);
    }
    words += "    \"" + path + "\") opts=\"" + option_words(app) + "\" subs=\"" + subs + "\" ;;\n";
}

} // namespace

void set_examples(CLI::App& app, std::string_view examples)
{
    if (!examples.empty()) {
        app.footer("\nExamples:\n" + indented(examples));
    }
}

void configure(CLI::App& app, std::string version, std::string_view examples)
{
    app.set_help_flag("-h,--help", "show this help and exit");
    app.set_version_flag("-V,--version", std::move(version), "show the versions and exit");
    app.get_formatter()->column_width(28);
    CLI::App* top = &app;
    app.add_option_function<std::string>(
           "--completion",
           [top](const std::string&) {
               std::cout << bash_completion(*top);
               throw CLI::Success();
           },
           "print a completion script for SHELL (bash):\nsource <(" + app.get_name() + " --completion bash)")
        ->type_name("SHELL")
        ->check(CLI::IsMember({"bash"}));
    set_examples(app, examples);
}

std::optional<int> parse(CLI::App& app, int argc, char** argv)
{
    try {
        app.parse(argc, argv);
        return std::nullopt;
    } catch (const CLI::Success& done) { // --help, --version, --completion: printed on stdout.
        return app.exit(done);
    } catch (const CLI::ParseError& error) {
        std::cerr << app.get_name() << ": " << error.what() << "\nRun '" << selected_command(app)
                  << " --help' for usage and examples.\n";
        return kExitUsage;
    }
}

std::string bash_completion(const CLI::App& app)
{
    std::string function = "_zb_complete_" + app.get_name();
    for (char& c : function) {
        if (c == '-') {
            c = '_';
        }
    }
    std::string walk;
    std::string words;
    add_paths(app, "", walk, words);
    return "# bash completion for " + app.get_name() + ": source <(" + app.get_name() + " --completion bash)\n" +
           function +
           "() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} path=\"\" i opts subs\n"
           "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
           "        case \"$path:${COMP_WORDS[i]}\" in\n" +
           walk +
           "        esac\n"
           "    done\n"
           "    case \"$path\" in\n" +
           words +
           "    esac\n"
           "    if [[ $cur == -* ]]; then\n"
           "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
           "    else\n"
           "        local rings\n"
           "        rings=$(cd /dev/shm 2>/dev/null && compgen -G 'zb-*' | sed 's/^zb-//')\n"
           "        COMPREPLY=($(compgen -W \"$subs $rings\" -- \"$cur\") $(compgen -f -- \"$cur\"))\n"
           "    fi\n"
           "    return 0\n"
           "}\n"
           "complete -o filenames -F " +
           function + " " + app.get_name() + "\n";
}

CLI::Validator unsigned_number()
{
    return {[](std::string& value) {
                const bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
                if (!digits) {
                    return "wants a whole number of decimal digits, not '" + value + "'";
                }
                value.erase(0, std::min(value.find_first_not_of('0'), value.size() - 1));
                constexpr std::string_view kMax = "18446744073709551615";
                if (value.size() > kMax.size() || (value.size() == kMax.size() && value > kMax)) {
                    return "wants a number up to " + std::string(kMax) + ", not " + value;
                }
                return std::string{};
            },
            "", "unsigned number"};
}

CLI::Validator byte_size()
{
    const CLI::AsSizeValue size(false);
    return CLI::Validator(
        [size](std::string& text) -> std::string {
            // CLI11 reads the number with strtoull, which takes "-1" for 2^64 - 1 and "010" for 8: only decimal
            // digits may come before the unit, and leading zeros go.
            std::size_t digits = 0;
            while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
                ++digits;
            }
            const bool unit_only =
                std::all_of(text.begin() + static_cast<std::ptrdiff_t>(digits), text.end(),
                            [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == ' '; });
            std::string problem = "needs a byte count like 65536, 64K, 64M or 1G, not '" + text + "'";
            if (digits == 0 || !unit_only) {
                return problem;
            }
            std::string number = text;
            number.erase(0, std::min(number.find_first_not_of('0'), digits - 1));
            try {
                if (!size(number).empty()) {
                    return problem;
                }
            } catch (const CLI::ValidationError&) { // An unknown unit or an overflow.
                return problem;
            }
            text = number;
            return {};
        },
        size.get_description());
}

} // namespace zerobuffer::cli
