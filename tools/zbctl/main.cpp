// SPDX-License-Identifier: MIT
// zbctl: the command line (CLI11, the conventions of tools/cli), the help of every command, and the dispatch.
#include "zbctl.h"

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "listen.h"

#include <zerobuffer/version.h>

namespace zbctl {
namespace {

constexpr const char* kCommands = "list, inspect, watch, gc, metrics, serve, doctor, help";

constexpr const char* kMainNotes = 
    R"(Run 'zbctl help COMMAND' or 'zbctl COMMAND --help' for the options and examples of a command.
zbctl only reads rings: it never changes a ring that a live process holds.
Exit status: 0 success, 1 failure (for example an unknown ring), 2 usage error;
doctor: 0 healthy, 1 a problem, 3 only warnings.)";

constexpr const char* kMainExamples = 
    R"(zbctl list
zbctl inspect cam0
zbctl inspect cam0 --json | jq '.readers[] | {pid, lag_frames}'
zbctl watch cam0 --interval 500
zbctl gc --dry-run
zbctl serve --listen 127.0.0.1:9477
zbctl doctor)";

constexpr const char* kListNotes = 
    R"(Lists the rings in /dev/shm (objects named zb-NAME) with:
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
  FORMAT    summary of the stream metadata)";

constexpr const char* kListExamples = 
    R"(zbctl list
zbctl list --json | jq -r '.rings[] | select(.state == "stale") | .name')";

constexpr const char* kInspectNotes = 
    R"(Shows everything known about ring NAME without disturbing it: segment layout (size, offsets,
capacities, reader slots), integrity mode, the writer (pid, command, alive, counters), the
stream metadata and every attached reader (pid, policy, alive, lag in frames and bytes, counters).)";

constexpr const char* kInspectExamples = 
    R"(zbctl inspect cam0
zbctl inspect cam0 --json | jq .writer.counters.frames_written)";

constexpr const char* kWatchNotes = 
    R"(Shows live rates of ring NAME: frames/s and MB/s (1 MB = 10^6 bytes) written, and for each reader
frames/s and MB/s read, lag in frames and bytes, and drops (frames skipped by latest readers).
On a terminal the screen refreshes in place; otherwise one line per writer and reader is printed
at each refresh (key=value pairs, easy to log and grep). Stops when the ring goes away.)";

constexpr const char* kWatchExamples = 
    R"(zbctl watch cam0
zbctl watch cam0 --interval 250
zbctl watch cam0 --count 10 > rates.log)";

constexpr const char* kGcNotes = 
    R"(Without NAME: removes every ring whose writer and readers are all dead (state "stale" in
'zbctl list') and leftovers of interrupted ring creations, and prints what it removed.
A ring it may not open or remove (another user's) is left in place and named on stderr;
the others are still collected. Exit 0 when it could judge everything, 1 when not.
With NAME...: removes just those rings, and fails (exit 1) if one is unknown or in use.
A ring with any live process is never removed.)";

constexpr const char* kGcExamples = 
    R"(zbctl gc --dry-run
zbctl gc
zbctl gc cam0)";

constexpr const char* kMetricsNotes = 
    R"(Prints the counters and gauges of every ring (or of the rings NAME...) in the Prometheus text
exposition format: frames and bytes written and read, waits, lag, bytes held, fill of the ring,
seconds since the last frame, with the labels ring, and slot, policy and pid for readers.
It looks twice, MS apart, to add per-second rates (writer waits, frames and bytes per second).
docs/monitoring.md lists every metric. Exit 1 if a named ring does not exist.)";

constexpr const char* kMetricsExamples = 
    R"(zbctl metrics
zbctl metrics cam0 --interval 0
zbctl metrics > /var/lib/prometheus/node-exporter/zerobuffer.prom)";

constexpr const char* kServeNotes = 
    R"(Serves what 'zbctl metrics' prints over HTTP at /metrics, for Prometheus to scrape: every ring
(or the rings NAME...), looked at afresh on each request, with the per-second rates of the last
window. It only reads rings. Runs until SIGINT or SIGTERM.)";

constexpr const char* kServeExamples = 
    R"(zbctl serve
zbctl serve cam0 cam1 --listen 0.0.0.0:9477
curl -s http://127.0.0.1:9477/metrics | grep lag_frames)";

constexpr const char* kDoctorNotes = 
    R"(Reads every ring (or the rings NAME...) once and says, in words, what is wrong and what to do:
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
Exit status: 0 nothing wrong, 1 at least one problem (or a named ring does not exist),
2 usage error, 3 warnings only.)";

constexpr const char* kDoctorExamples = 
    R"(zbctl doctor
zbctl doctor cam0 || echo "cam0 needs attention"
zbctl doctor --json | jq -r '.rings[].findings[] | select(.severity == "problem") | .message')";

constexpr const char* kHelpExamples = 
    R"(zbctl help
zbctl help watch)";

/// The command of `app` called `name`, or nullptr.
const CLI::App* find_command(const CLI::App& app, const std::string& name)
{
    for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
        if (command->check_name(name)) {
            return command;
        }
    }
    return nullptr;
}

/// Puts the prose of a command's help after its options, before the examples that set_examples() adds.
void describe(CLI::App& command, std::string_view notes, std::string_view examples)
{
    zerobuffer::cli::set_examples(command, examples);
    command.footer(std::string(notes) + "\n" + command.get_footer());
}

/// A ring name: checked, and "/dev/shm/zb-NAME" (as `ls` shows it) turned into NAME.
CLI::Validator ring_name()
{
    return {[](std::string& given) {
                std::string name;
                if (auto problem = normalize_ring_name(given, name)) {
                    return *problem;
                }
                given = std::move(name);
                return std::string{};
            },
            "", "ring name"};
}

/// Milliseconds between two looks: below 10 ms they measure nothing but noise. metrics may take one look (0).
CLI::Validator interval_ms(bool zero_allowed)
{
    return {[zero_allowed](const std::string& value) {
                const unsigned long long ms = std::stoull(value); // Digits only: unsigned_number() ran first.
                if (ms >= 10 || (zero_allowed && ms == 0)) {
                    return std::string{};
                }
                return "wants milliseconds, at least 10" + std::string(zero_allowed ? " (or 0)" : "") + ", not " +
                       value;
            },
            "", "interval"};
}

CLI::Validator listen_address()
{
    return {[](const std::string& value) {
                if (zerobuffer::http::parse_listen(value)) {
                    return std::string{};
                }
                return "wants ADDR:PORT (for example 127.0.0.1:9477 or [::1]:9477), not '" + value + "'";
            },
            "", "listen address"};
}

void add_json_flag(CLI::App& command, Options& options, const char* what)
{
    command.add_flag("--json", options.json, what);
}

/// NAME...: the rings a command looks at; every ring on this machine when none is given.
void add_ring_names(CLI::App& command, Options& options)
{
    command.add_option("NAME", options.names, "rings to look at (default: every ring on this machine)")
        ->type_name("")
        ->transform(ring_name());
}

void add_one_ring_name(CLI::App& command, Options& options)
{
    command
        .add_option_function<std::string>(
            "NAME", [&options](const std::string& name) { options.names = {name}; },
            "the ring (as in 'zbctl list'; /dev/shm/zb-NAME works too)")
        ->type_name("")
        ->required()
        ->transform(ring_name());
}

void add_interval(CLI::App& command, Options& options, const char* what, bool zero_allowed)
{
    command.add_option("-i,--interval", options.interval_ms, what)
        ->type_name("MS")
        ->transform(zerobuffer::cli::unsigned_number())
        ->check(interval_ms(zero_allowed));
}

struct Commands {
    CLI::App* list = nullptr;
    CLI::App* inspect = nullptr;
    CLI::App* watch = nullptr;
    CLI::App* gc = nullptr;
    CLI::App* metrics = nullptr;
    CLI::App* serve = nullptr;
    CLI::App* doctor = nullptr;
    CLI::App* help = nullptr;
};

Commands add_commands(CLI::App& app, Options& options, std::string& help_topic)
{
    Commands commands;
    commands.list = app.add_subcommand("list", "rings in /dev/shm: writer, readers, state, size");
    add_json_flag(*commands.list, options, "print {\"rings\": [...]} for scripts; see docs/zbctl.md for the fields");
    describe(*commands.list, kListNotes, kListExamples);

    commands.inspect = app.add_subcommand("inspect", "layout, stream metadata, counters and readers of a ring");
    add_one_ring_name(*commands.inspect, options);
    add_json_flag(*commands.inspect, options, "print the snapshot as one JSON object");
    describe(*commands.inspect, kInspectNotes, kInspectExamples);

    commands.watch = app.add_subcommand("watch", "live frames/s and MB/s of the writer and each reader");
    add_one_ring_name(*commands.watch, options);
    add_interval(*commands.watch, options, "time between refreshes in milliseconds (default 1000, minimum 10)", false);
    commands.watch
        ->add_option_function<std::uint64_t>(
            "-c,--count", [&options](std::uint64_t count) { options.count = count; },
            "stop after N refreshes (default: run until Ctrl-C)")
        ->type_name("N")
        ->transform(zerobuffer::cli::unsigned_number())
        ->check(CLI::Validator(
            [](const std::string& value) {
                return value == "0" ? std::string("wants a positive number of refreshes, not 0") : std::string{};
            },
            "", "positive"));
    describe(*commands.watch, kWatchNotes, kWatchExamples);

    commands.gc = app.add_subcommand("gc", "remove rings that no live process holds");
    commands.gc->add_option("NAME", options.names, "remove just these rings (default: every stale ring)")
        ->type_name("")
        ->transform(ring_name());
    commands.gc->add_flag("-n,--dry-run", options.dry_run,
                          "only print what would be removed, judged exactly as a real run");
    describe(*commands.gc, kGcNotes, kGcExamples);

    commands.metrics = app.add_subcommand("metrics", "counters and gauges in the Prometheus text format");
    add_ring_names(*commands.metrics, options);
    add_interval(*commands.metrics, options,
                 "window of the per-second rates in milliseconds\n(default 1000; 0: no rates, one look only)", true);
    describe(*commands.metrics, kMetricsNotes, kMetricsExamples);

    commands.serve = app.add_subcommand("serve", "the same over HTTP at /metrics (default 127.0.0.1:9477)");
    add_ring_names(*commands.serve, options);
    commands.serve
        ->add_option("-l,--listen", options.listen,
                     "address to listen on (default 127.0.0.1:9477, loopback only; port 0\n"
                     "picks a free port; [::1]:PORT for IPv6). Other machines can reach a\n"
                     "non-loopback address: ring names and commands become visible to them.")
        ->type_name("ADDR:PORT")
        ->check(listen_address());
    add_interval(*commands.serve, options, "window of the per-second rates (default 1000, minimum 10)", false);
    describe(*commands.serve, kServeNotes, kServeExamples);

    commands.doctor = app.add_subcommand("doctor", "what is wrong with the rings, and what to do");
    add_ring_names(*commands.doctor, options);
    add_json_flag(*commands.doctor, options,
                  "print {\"healthy\", \"problems\", \"warnings\", \"rings\": [{\"name\", \"state\",\n"
                  "\"findings\"}]}");
    describe(*commands.doctor, kDoctorNotes, kDoctorExamples);

    commands.help = app.add_subcommand("help", "help and examples for a command");
    commands.help->add_option("COMMAND", help_topic, std::string("the command to explain: ") + kCommands)
        ->type_name("")
        ->check(CLI::Validator(
            [&app](const std::string& topic) {
                if (find_command(app, topic) != nullptr) {
                    return std::string{};
                }
                return "no help for unknown command '" + topic + "' (commands: " + kCommands + ")";
            },
            "", "command"));
    zerobuffer::cli::set_examples(*commands.help, kHelpExamples);
    return commands;
}

/// The help of `command` as `zbctl COMMAND --help` prints it (app.help() would show the selected "help" itself).
void print_help(const CLI::App& app, const CLI::App& command)
{
    const std::string path = &command == &app ? app.get_name() : app.get_name() + " " + command.get_name();
    std::fputs(app.get_formatter()->make_help(&command, path, CLI::AppFormatMode::Normal).c_str(), stdout);
}

int dispatch(int argc, char** argv)
{
    CLI::App app{"zbctl - look at and clean up ZeroBuffer rings on this machine", "zbctl"};
    zerobuffer::cli::configure(app,
                               std::string("zbctl ") + zerobuffer::kLibraryVersion + " (libzerobuffer " +
                                   zerobuffer::kLibraryVersion + ", protocol " +
                                   std::to_string(zerobuffer::kProtocolVersion) + ")",
                               kMainExamples);
    app.footer(std::string(kMainNotes) + "\n" + app.get_footer());
    app.require_subcommand(0, 1);
    Options options;
    std::string help_topic;
    const Commands commands = add_commands(app, options, help_topic);
    // A word that is no command is kept (the commands, added before, keep refusing extras), to be named in the
    // error rather than called "not expected"; a missing command gets the list of commands.
    app.allow_extras();
    app.final_callback([&app] {
        const std::vector<std::string> extras = app.remaining();
        if (!extras.empty() && extras.front().starts_with('-')) {
            throw CLI::ExtrasError(extras);
        }
        if (!extras.empty()) {
            throw CLI::ValidationError("unknown command '" + extras.front() + "' (commands: " + kCommands + ")");
        }
        if (app.get_subcommands().empty()) {
            throw CLI::ValidationError(std::string("which command? (commands: ") + kCommands + ")");
        }
    });
    if (auto exit_code = zerobuffer::cli::parse(app, argc, argv)) {
        return *exit_code;
    }

    if (commands.help->parsed()) {
        print_help(app, help_topic.empty() ? app : *find_command(app, help_topic));
        return kExitOk;
    }
    if (commands.list->parsed()) {
        return run_list(options);
    }
    if (commands.inspect->parsed()) {
        return run_inspect(options);
    }
    if (commands.watch->parsed()) {
        return run_watch(options);
    }
    if (commands.gc->parsed()) {
        return run_gc(options);
    }
    if (commands.metrics->parsed()) {
        return run_metrics(options);
    }
    if (commands.serve->parsed()) {
        return run_serve(options);
    }
    return run_doctor(options);
}

} // namespace
} // namespace zbctl

int main(int argc, char** argv)
{
    return zbctl::dispatch(argc, argv);
}
