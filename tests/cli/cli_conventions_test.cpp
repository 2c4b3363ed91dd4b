// SPDX-License-Identifier: MIT
// The shared command-line conventions (tools/cli): exit codes, the message of a bad argument, byte sizes and
// the bash completion script, on a small app shaped like zbctl.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "cli.h"

namespace {

struct Demo {
    CLI::App app{"demo - a program shaped like zbctl", "zb-demo"};
    std::uint64_t ring_size = 0;
    bool json = false;
    std::string name;
    CLI::App* list = nullptr;
    CLI::App* query = nullptr;

    Demo()
    {
        zerobuffer::cli::configure(app, "zb-demo 1.2.3", "zb-demo list\nzb-demo --ring-size 64M");
        app.add_option("--ring-size", ring_size, "ring size")->transform(zerobuffer::cli::byte_size());
        list = app.add_subcommand("list", "list rings");
        list->add_flag("--json", json, "JSON output");
        CLI::App* broker = app.add_subcommand("broker", "the broker");
        query = broker->add_subcommand("query", "ask a broker");
        query->add_option("NAME", name, "route")->required();
    }

    int run(std::vector<std::string> words)
    {
        words.insert(words.begin(), "zb-demo");
        std::vector<char*> argv;
        for (std::string& word : words) {
            argv.push_back(word.data());
        }
        auto exit_code = zerobuffer::cli::parse(app, static_cast<int>(argv.size()), argv.data());
        return exit_code ? *exit_code : -1;
    }
};

TEST(CliConventions, HelpAndVersionPrintOnStdoutAndExitZero)
{
    Demo demo;
    testing::internal::CaptureStdout();
    EXPECT_EQ(demo.run({"--help"}), 0);
    const std::string help = testing::internal::GetCapturedStdout();
    EXPECT_NE(help.find("Usage: zb-demo"), std::string::npos) << help;
    EXPECT_NE(help.find("Examples:\n  zb-demo list\n  zb-demo --ring-size 64M\n"), std::string::npos) << help;

    Demo again;
    testing::internal::CaptureStdout();
    EXPECT_EQ(again.run({"--version"}), 0);
    EXPECT_NE(testing::internal::GetCapturedStdout().find("zb-demo 1.2.3"), std::string::npos);
}

TEST(CliConventions, BadArgumentsExitTwoAndPointToTheRightHelp)
{
    Demo demo;
    testing::internal::CaptureStderr();
    EXPECT_EQ(demo.run({"--no-such-option"}), zerobuffer::cli::kExitUsage);
    std::string error = testing::internal::GetCapturedStderr();
    EXPECT_NE(error.find("zb-demo: "), std::string::npos) << error;
    EXPECT_NE(error.find("--no-such-option"), std::string::npos) << error;
    EXPECT_NE(error.find("Run 'zb-demo --help' for usage and examples."), std::string::npos) << error;

    Demo nested;
    testing::internal::CaptureStderr();
    EXPECT_EQ(nested.run({"broker", "query"}), zerobuffer::cli::kExitUsage);
    error = testing::internal::GetCapturedStderr();
    EXPECT_NE(error.find("NAME is required"), std::string::npos) << error;
    EXPECT_NE(error.find("Run 'zb-demo broker query --help'"), std::string::npos) << error;
}

TEST(CliConventions, ByteSizesTakeBinarySuffixes)
{
    Demo demo;
    EXPECT_EQ(demo.run({"--ring-size", "64M"}), -1);
    EXPECT_EQ(demo.ring_size, 64ULL << 20);
    Demo kib;
    EXPECT_EQ(kib.run({"--ring-size", "4k"}), -1);
    EXPECT_EQ(kib.ring_size, 4096U);
    Demo plain;
    EXPECT_EQ(plain.run({"--ring-size", "65536"}), -1);
    EXPECT_EQ(plain.ring_size, 65536U);
    Demo junk;
    testing::internal::CaptureStderr();
    EXPECT_EQ(junk.run({"--ring-size", "64x"}), zerobuffer::cli::kExitUsage);
    EXPECT_NE(testing::internal::GetCapturedStderr().find("--ring-size"), std::string::npos);
    // Decimal only: CLI11's strtoull alone would take "-1" for 2^64 - 1, "0x10" for 16 and "010" for 8.
    for (const char* bad : {"-1", "-1M", "0x10", "1.5M", "", "M"}) {
        Demo signed_size;
        testing::internal::CaptureStderr();
        EXPECT_EQ(signed_size.run({"--ring-size", bad}), zerobuffer::cli::kExitUsage) << bad;
        const std::string error = testing::internal::GetCapturedStderr();
        EXPECT_NE(error.find("--ring-size: needs a byte count like 65536, 64K, 64M or 1G"), std::string::npos) << error;
    }
    Demo leading_zero;
    EXPECT_EQ(leading_zero.run({"--ring-size", "010K"}), -1);
    EXPECT_EQ(leading_zero.ring_size, 10U << 10);
}

TEST(CliConventions, CompletionScriptIsValidBashAndKnowsEverySubcommand)
{
    Demo demo;
    testing::internal::CaptureStdout();
    EXPECT_EQ(demo.run({"--completion", "bash"}), 0);
    const std::string script = testing::internal::GetCapturedStdout();
    EXPECT_EQ(script, zerobuffer::cli::bash_completion(demo.app));
    for (const char* word : {"\":list\") path=\"list\"", "\"broker:query\") path=\"broker query\"", "--json",
                             "--ring-size", "complete -o filenames -F _zb_complete_zb_demo zb-demo"}) {
        EXPECT_NE(script.find(word), std::string::npos) << word << " missing from:\n" << script;
    }

    const auto path = std::filesystem::temp_directory_path() / ("zb-cli-completion-" + std::to_string(::getpid()));
    std::ofstream(path) << script;
    // The script must parse, and completing "zb-demo broker q" must offer "query".
    const std::string check = "bash -c 'source " + path.string() +
                              " && COMP_WORDS=(zb-demo broker q) COMP_CWORD=2 && _zb_complete_zb_demo && "
                              "[ \"${COMPREPLY[*]}\" = query ]'";
    EXPECT_EQ(std::system(check.c_str()), 0) << script;
    std::filesystem::remove(path);

    Demo shell;
    testing::internal::CaptureStderr();
    EXPECT_EQ(shell.run({"--completion", "tcsh"}), zerobuffer::cli::kExitUsage);
    testing::internal::GetCapturedStderr();
}

} // namespace
