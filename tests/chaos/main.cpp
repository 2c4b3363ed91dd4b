// SPDX-License-Identifier: MIT
// zb-chaos: kill -9 of writers and readers at chosen points over many cycles, and a soak (docs/reliability.md).
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string_view>

#include "chaos.h"
#include "driver.h"
#include "team.h"

namespace {

constexpr const char* kUsage = R"(Usage: zb-chaos [--cycles N] [--seed SEED] [--json FILE] [--verbose]
       zb-chaos --soak SECONDS [--seed SEED] [--json FILE] [--rss-growth-limit-kib KIB]

Chaos (default): a writer, two lossless and two latest readers, each a real process. Every cycle kills one of
them with SIGKILL at a chosen point (mid-commit, reservations open, frames retained, format change, mid-create;
mid-acquire, holding frames, lagging, mid-attach), measures how long the others take to notice, restarts it
(a writer on a ring of a new random size) and checks that every process makes progress again. Every frame
delivered is verified (payload, metadata, header fields, the checksum in its metadata, order).
Soak: the same team with readers coming and going for SECONDS, checking the ring's counters against what the
processes counted, and the resident memory of every long-lived process.

Options:
  --cycles N                 kill cycles (default 100)
  --seed SEED                seed of every random choice (default: random, printed; replays a run)
  --soak SECONDS             run the soak instead of the kill cycles
  --json FILE                also write the figures as JSON to FILE ('-': JSON on stdout instead of the text)
  --detect-bound-ms MS       longest time to notice a death (default 200, the liveness bound; times
                             ZB_TEST_TIME_SCALE)
  --progress-bound-ms MS     a process making no progress this long is deadlocked (default 5000, scaled too)
  --rss-growth-limit-kib KIB soak: most a long-lived process's RssAnon may grow after warm-up (default 4096)
  --verbose                  a line per cycle
  -h, --help                 this help

Exit status: 0 passed; 1 a corrupted or lost frame, a deadlock, a worker failing, a death noticed late, an object
left in /dev/shm, an inconsistent counter or memory growth; 2 usage error.
)";

bool parse_number(std::string_view text, std::uint64_t& value)
{
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && error == std::errc{} && end == text.data() + text.size();
}

int usage_error(const std::string& message)
{
    std::fprintf(stderr, "zb-chaos: %s\nUsage: zb-chaos [--cycles N] [--seed SEED] [--soak SECONDS] [--json FILE]; "
                         "see zb-chaos --help\n", message.c_str());
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc > 1 && std::strcmp(argv[1], "--child=writer") == 0) {
        return zbchaos::writer_role(argc, argv);
    }
    if (argc > 1 && std::strcmp(argv[1], "--child=reader") == 0) {
        return zbchaos::reader_role(argc, argv);
    }
    zbchaos::Settings settings;
    settings.seed = std::random_device{}();
    settings.seed = (settings.seed << 32) ^ std::random_device{}();
    std::string json_path;
    std::uint64_t detect_ms = 200;
    std::uint64_t progress_ms = 5000;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (arg == "--verbose") {
            settings.verbose = true;
            continue;
        }
        const bool takes_value = arg == "--cycles" || arg == "--seed" || arg == "--soak" || arg == "--json" ||
                                 arg == "--detect-bound-ms" || arg == "--progress-bound-ms" ||
                                 arg == "--rss-growth-limit-kib";
        if (!takes_value) {
            return usage_error("unknown argument '" + std::string(arg) + "'");
        }
        if (i + 1 >= argc) {
            return usage_error(std::string(arg) + " needs a value");
        }
        const std::string_view text = argv[++i];
        if (arg == "--json") {
            json_path = text;
            continue;
        }
        std::uint64_t value = 0;
        if (!parse_number(text, value)) {
            return usage_error(std::string(arg) + " expects a whole number, not '" + std::string(text) + "'");
        }
        if (arg == "--seed") {
            settings.seed = value;
        } else if (value == 0 || value > 10'000'000) {
            return usage_error(std::string(arg) + " must be between 1 and 10000000");
        } else if (arg == "--cycles") {
            settings.cycles = static_cast<int>(value);
        } else if (arg == "--soak") {
            settings.soak_seconds = static_cast<int>(value);
        } else if (arg == "--detect-bound-ms") {
            detect_ms = value;
        } else if (arg == "--progress-bound-ms") {
            progress_ms = value;
        } else {
            settings.rss_growth_limit_kib = static_cast<long>(value);
        }
    }
    settings.detect_bound = zbchaos::scaled(std::chrono::milliseconds(detect_ms));
    settings.progress_bound = zbchaos::scaled(std::chrono::milliseconds(progress_ms));
    const bool json_only = json_path == "-";
    std::FILE* log = json_only ? stderr : stdout;
    std::fprintf(log, "zb-chaos: seed %llu (replay with --seed %llu)\n", static_cast<unsigned long long>(settings.seed),
                 static_cast<unsigned long long>(settings.seed));
    std::fflush(log);

    const zbchaos::Figures figures =
        settings.soak_seconds > 0 ? zbchaos::run_soak(settings) : zbchaos::run_chaos(settings);
    if (json_only) {
        std::fputs(zbchaos::report_json(figures).c_str(), stdout);
    } else {
        zbchaos::print_report(figures);
        if (!json_path.empty()) {
            std::ofstream out(json_path);
            out << zbchaos::report_json(figures);
            if (!out) {
                std::fprintf(stderr, "zb-chaos: cannot write %s\n", json_path.c_str());
                return 1;
            }
        }
    }
    return figures.passed() ? 0 : 1;
}
