// SPDX-License-Identifier: MIT
// zbctl: command-line entry point; parses arguments, prints help and dispatches to the commands.
#include "zbctl.h"

#include <charconv>
#include <cstdio>
#include <cstring>

#include <zerobuffer/version.h>

namespace zbctl {
namespace {

constexpr const char* kMainHelp = R"(zbctl - look at and clean up ZeroBuffer rings on this machine

Usage:
  zbctl list [--json]                   rings in /dev/shm: writer, readers, state, size
  zbctl inspect NAME [--json]           layout, stream metadata, counters and readers of a ring
  zbctl watch NAME [--interval MS] [--count N]
                                        live frames/s and MB/s of the writer and each reader
  zbctl gc [--dry-run] [NAME...]        remove rings that no live process holds
  zbctl metrics [NAME...] [--interval MS]
                                        counters and gauges in the Prometheus text format
  zbctl serve [NAME...] [--listen ADDR:PORT] [--interval MS]
                                        the same over HTTP at /metrics (default 127.0.0.1:9477)
  zbctl doctor [NAME...] [--json]       what is wrong with the rings, and what to do
  zbctl help [COMMAND]                  help and examples for a command

Options:
  -h, --help        show help (also after a command: zbctl watch --help)
  -V, --version     show the zbctl, library and protocol versions

zbctl only reads rings: it never changes a ring that a live process holds.
Exit status: 0 success, 1 failure (for example an unknown ring), 2 usage error;
doctor: 0 healthy, 1 a problem, 3 only warnings.

Examples:
  zbctl list
  zbctl inspect cam0
  zbctl inspect cam0 --json | jq '.readers[] | {pid, lag_frames}'
  zbctl watch cam0 --interval 500
  zbctl gc --dry-run
  zbctl serve --listen 127.0.0.1:9477
  zbctl doctor
)";

constexpr const char* kListHelp = R"(Usage: zbctl list [--json]

Lists the rings in /dev/shm (objects named zb-NAME) with:
  NAME      ring name (what writers and readers pass to create/attach)
  STATE     active    the writer is alive
            draining  the writer closed; readers are still attached
            orphaned  the writer died; readers are still attached
            stale     no live process holds it: 'zbctl gc' removes it
  WRITER    writer pid and alive, dead or closed
  COMMAND   the writer's process name
  READERS   live readers / reader slots (+ dead readers not yet reclaimed)
  FRAMES    frames written so far
  SIZE      size of the shared-memory segment
  FORMAT    summary of the stream metadata

Options:
  --json    print {"rings": [...]} for scripts; see docs/zbctl.md for the fields

Examples:
  zbctl list
  zbctl list --json | jq -r '.rings[] | select(.state == "stale") | .name'
)";

constexpr const char* kInspectHelp = R"(Usage: zbctl inspect NAME [--json]

Shows everything known about ring NAME without disturbing it: segment layout (size, offsets,
capacities, reader slots), integrity mode, the writer (pid, command, alive, counters), the
stream metadata and every attached reader (pid, policy, alive, lag in frames and bytes, counters).

Options:
  --json    print the snapshot as one JSON object

Examples:
  zbctl inspect cam0
  zbctl inspect cam0 --json | jq .writer.counters.frames_written
)";

constexpr const char* kWatchHelp = R"(Usage: zbctl watch NAME [--interval MS] [--count N]

Shows live rates of ring NAME: frames/s and MB/s (1 MB = 10^6 bytes) written, and for each reader
frames/s and MB/s read, lag in frames and bytes, and drops (frames skipped by latest readers).
On a terminal the screen refreshes in place; otherwise one line per writer and reader is printed
at each refresh (key=value pairs, easy to log and grep). Stops when the ring goes away.

Options:
  -i, --interval MS   time between refreshes in milliseconds (default 1000, minimum 10)
  -c, --count N       stop after N refreshes (default: run until Ctrl-C)

Examples:
  zbctl watch cam0
  zbctl watch cam0 --interval 250
  zbctl watch cam0 --count 10 > rates.log
)";

constexpr const char* kGcHelp = R"(Usage: zbctl gc [--dry-run] [NAME...]

Without NAME: removes every ring whose writer and readers are all dead (state "stale" in
'zbctl list') and leftovers of interrupted ring creations, and prints what it removed.
A ring it may not open or remove (another user's) is left in place and named on stderr;
the others are still collected. Exit 0 when it could judge everything, 1 when not.
With NAME...: removes just those rings, and fails (exit 1) if one is unknown or in use.
A ring with any live process is never removed.

Options:
  -n, --dry-run   only print what would be removed, judged exactly as a real run

Examples:
  zbctl gc --dry-run
  zbctl gc
  zbctl gc cam0
)";

constexpr const char* kMetricsHelp = R"(Usage: zbctl metrics [NAME...] [--interval MS]

Prints the counters and gauges of every ring (or of the rings NAME...) in the Prometheus text
exposition format: frames and bytes written and read, waits, lag, bytes held, fill of the ring,
seconds since the last frame, with the labels ring, and slot, policy and pid for readers.
It looks twice, MS apart, to add per-second rates (writer waits, frames and bytes per second).
docs/monitoring.md lists every metric. Exit 1 if a named ring does not exist.

Options:
  -i, --interval MS   window of the per-second rates in milliseconds (default 1000; 0: no rates,
                      one look only)

Examples:
  zbctl metrics
  zbctl metrics cam0 --interval 0
  zbctl metrics > /var/lib/prometheus/node-exporter/zerobuffer.prom
)";

constexpr const char* kServeHelp = R"(Usage: zbctl serve [NAME...] [--listen ADDR:PORT] [--interval MS]

Serves what 'zbctl metrics' prints over HTTP at /metrics, for Prometheus to scrape: every ring
(or the rings NAME...), looked at afresh on each request, with the per-second rates of the last
window. It only reads rings. Runs until SIGINT or SIGTERM.

Options:
  -l, --listen ADDR:PORT   address to listen on (default 127.0.0.1:9477, loopback only; port 0
                           picks a free port; [::1]:PORT for IPv6). Other machines can reach a
                           non-loopback address: ring names and commands become visible to them.
  -i, --interval MS        window of the per-second rates (default 1000, minimum 10)

Examples:
  zbctl serve
  zbctl serve cam0 cam1 --listen 0.0.0.0:9477
  curl -s http://127.0.0.1:9477/metrics | grep lag_frames
)";

constexpr const char* kDoctorHelp = R"(Usage: zbctl doctor [NAME...] [--json]

Reads every ring (or the rings NAME...) once and says, in words, what is wrong and what to do:
  problem   writer-blocked     the writer has waited over 1 s for room (names the reader)
            writer-dead        the writer died; readers are still attached
            stale-ring         no live process holds the ring ('zbctl gc' removes it)
            ring-too-small     fewer than 4 frames of the average size fit in the ring
            checksum-failures  a reader saw frames fail their checksum or MAC
            unreadable         the segment cannot be read
  warning   long-hold          a reader has held frames for over 2 s
            latest-skipping    a latest reader skipped more than half of the frames
            dead-reader        a reader died and its slot is not reclaimed yet
            no-metadata        the writer set no stream metadata
            bad-metadata       the stream metadata is not zerobuffer.stream-format/1
It only reads rings and changes nothing.

Options:
  --json    print {"healthy", "problems", "warnings", "rings": [{"name", "state", "findings"}]}

Exit status: 0 nothing wrong, 1 at least one problem (or a named ring does not exist),
2 usage error, 3 warnings only.

Examples:
  zbctl doctor
  zbctl doctor cam0 || echo "cam0 needs attention"
  zbctl doctor --json | jq -r '.rings[].findings[] | select(.severity == "problem") | .message'
)";

const char* help_for(std::string_view command)
{
    if (command == "doctor") {
        return kDoctorHelp;
    }
    if (command == "metrics") {
        return kMetricsHelp;
    }
    if (command == "serve") {
        return kServeHelp;
    }
    if (command == "list") {
        return kListHelp;
    }
    if (command == "inspect") {
        return kInspectHelp;
    }
    if (command == "watch") {
        return kWatchHelp;
    }
    if (command == "gc") {
        return kGcHelp;
    }
    return nullptr;
}

int usage_error(const std::string& message, std::string_view command = {})
{
    std::fprintf(stderr, "zbctl: %s\n", message.c_str());
    if (command.empty()) {
        std::fprintf(stderr, "Try 'zbctl --help'.\n");
    } else {
        std::fprintf(stderr, "Try 'zbctl %.*s --help'.\n", static_cast<int>(command.size()), command.data());
    }
    return kExitUsage;
}

template <typename T>
bool parse_number(std::string_view text, T& value)
{
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
    return err == std::errc{} && end == text.data() + text.size();
}

int dispatch(int argc, char** argv)
{
    Options options;
    bool help = false;
    bool version = false;
    bool seen_interval = false;
    bool seen_count = false;
    bool seen_listen = false;
    bool only_positionals = false;

    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (only_positionals || arg.empty() || arg[0] != '-' || arg == "-") {
            if (options.command.empty()) {
                options.command = arg;
            } else {
                options.args.emplace_back(arg);
            }
            continue;
        }
        if (arg == "--") {
            only_positionals = true;
            continue;
        }
        // Options with a value accept "--opt VALUE" and "--opt=VALUE".
        std::string_view key = arg;
        std::optional<std::string_view> inline_value;
        if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            key = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
        }
        auto take_value = [&](std::string_view& out) {
            if (inline_value) {
                out = *inline_value;
                return true;
            }
            if (i + 1 >= argc) {
                return false;
            }
            out = argv[++i];
            return true;
        };
        if (key == "-h" || key == "--help") {
            help = true;
        } else if (key == "-V" || key == "--version") {
            version = true;
        } else if (key == "--json") {
            options.json = true;
        } else if (key == "-n" || key == "--dry-run") {
            options.dry_run = true;
        } else if (key == "-i" || key == "--interval") {
            std::string_view value;
            if (!take_value(value)) {
                return usage_error("--interval needs a value in milliseconds", "watch");
            }
            if (!parse_number(value, options.interval_ms)) {
                return usage_error("--interval wants a number of milliseconds, not '" + std::string(value) + "'",
                                   options.command);
            }
            seen_interval = true;
        } else if (key == "-l" || key == "--listen") {
            std::string_view value;
            if (!take_value(value)) {
                return usage_error("--listen needs ADDR:PORT", "serve");
            }
            options.listen = value;
            seen_listen = true;
        } else if (key == "-c" || key == "--count") {
            std::string_view value;
            std::uint64_t count = 0;
            if (!take_value(value)) {
                return usage_error("--count needs a number of refreshes", "watch");
            }
            if (!parse_number(value, count) || count == 0) {
                return usage_error("--count wants a positive number, not '" + std::string(value) + "'", "watch");
            }
            options.count = count;
            seen_count = true;
        } else {
            return usage_error("unknown option '" + std::string(arg) + "'", options.command);
        }
    }

    if (version) {
        std::printf("zbctl %s (libzerobuffer %s, protocol %u)\n", zerobuffer::kLibraryVersion,
                    zerobuffer::kLibraryVersion, zerobuffer::kProtocolVersion);
        return kExitOk;
    }
    if (options.command == "help") {
        if (options.args.empty()) {
            std::fputs(kMainHelp, stdout);
            return kExitOk;
        }
        if (const char* text = help_for(options.args[0])) {
            std::fputs(text, stdout);
            return kExitOk;
        }
        return usage_error("no help for unknown command '" + options.args[0] + "'");
    }
    if (options.command.empty()) {
        if (help) {
            std::fputs(kMainHelp, stdout);
            return kExitOk;
        }
        std::fputs(kMainHelp, stderr);
        return kExitUsage;
    }
    const char* command_help = help_for(options.command);
    if (command_help == nullptr) {
        return usage_error("unknown command '" + options.command +
                           "' (commands: list, inspect, watch, gc, metrics, serve, doctor, help)");
    }
    if (help) {
        std::fputs(command_help, stdout);
        return kExitOk;
    }

    // Reject options that mean nothing for this command rather than silently ignoring them.
    const std::string& cmd = options.command;
    if (options.json && cmd != "list" && cmd != "inspect" && cmd != "doctor") {
        return usage_error("--json is for 'list', 'inspect' and 'doctor'", cmd);
    }
    if (options.dry_run && cmd != "gc") {
        return usage_error("--dry-run is for 'gc'", cmd);
    }
    if (seen_count && cmd != "watch") {
        return usage_error("--count is for 'watch'", cmd);
    }
    if (seen_interval && cmd != "watch" && cmd != "metrics" && cmd != "serve") {
        return usage_error("--interval is for 'watch', 'metrics' and 'serve'", cmd);
    }
    // metrics may take a single look (0); a window shorter than 10 ms measures nothing but noise.
    if (seen_interval && options.interval_ms < 10 && !(cmd == "metrics" && options.interval_ms == 0)) {
        return usage_error(strprintf("--interval wants milliseconds, at least 10%s, not %u",
                                     cmd == "metrics" ? " (or 0)" : "", options.interval_ms),
                           cmd);
    }
    if (seen_listen && cmd != "serve") {
        return usage_error("--listen is for 'serve'", cmd);
    }

    if (cmd == "list") {
        if (!options.args.empty()) {
            return usage_error("'list' takes no arguments (got '" + options.args[0] + "')", cmd);
        }
        return run_list(options);
    }
    if (cmd == "inspect" || cmd == "watch") {
        if (options.args.size() != 1) {
            return usage_error(options.args.empty() ? "'" + cmd + "' needs a ring NAME"
                                                    : "'" + cmd + "' takes one ring NAME",
                               cmd);
        }
        return cmd == "inspect" ? run_inspect(options) : run_watch(options);
    }
    if (cmd == "metrics") {
        return run_metrics(options);
    }
    if (cmd == "serve") {
        return run_serve(options);
    }
    if (cmd == "doctor") {
        return run_doctor(options);
    }
    return run_gc(options);
}

} // namespace
} // namespace zbctl

int main(int argc, char** argv)
{
    return zbctl::dispatch(argc, argv);
}
