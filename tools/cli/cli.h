// SPDX-License-Identifier: MIT
// The command-line conventions every ZeroBuffer program shares, on top of CLI11 (docs/cli.md):
// --help prints usage and examples on stdout (exit 0), a bad argument prints what is wrong and a pointer to
// --help on stderr (exit 2), --version, and `--completion bash` prints a completion script.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace zerobuffer::cli {

inline constexpr int kExitUsage = 2; ///< Bad command line: the same code in every program.

/// Gives `app` (and every subcommand added later) the shared conventions: -h/--help, `--version`
/// printing `version`, `--completion bash`, and an "Examples:" footer from `examples` (may be empty).
void configure(CLI::App& app, std::string version, std::string_view examples);

/// Sets the "Examples:" footer of a subcommand (one example per line, without indentation).
void set_examples(CLI::App& app, std::string_view examples);

/// Parses argv into `app`. Returns std::nullopt when the program should run, otherwise the exit code:
/// 0 after --help, --version or --completion (printed on stdout), kExitUsage after a bad command line
/// ("PROGRAM: what is wrong" and "Run 'PROGRAM [SUBCOMMAND] --help' for usage and examples." on stderr).
[[nodiscard]] std::optional<int> parse(CLI::App& app, int argc, char** argv);

/// A bash completion script for `app`: subcommands, options of each, ring names (from /dev/shm) and files.
[[nodiscard]] std::string bash_completion(const CLI::App& app);

/// Transformer for unsigned integers: decimal digits only, up to 2^64 - 1, leading zeros dropped. CLI11 2.1
/// itself reads "-5" as 2^64 - 5 and "010" as octal: put this before the conversion of every unsigned option.
[[nodiscard]] CLI::Validator unsigned_number();

/// Transformer for byte counts: "65536", "64K", "64M", "1G" (powers of 1024, case-insensitive, KiB/KB too), decimal
/// digits only ("-1", "0x10" and "1.5M" are errors that name the option).
[[nodiscard]] CLI::Validator byte_size();

} // namespace zerobuffer::cli
