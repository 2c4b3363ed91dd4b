// SPDX-License-Identifier: MIT
// The soak: a writer, two lossless and one latest reader live for the whole run while transient readers come and
// go (closing cleanly or killed). Every few seconds the writer pauses and the ring's counters are compared with
// what the processes counted themselves; the resident memory of every long-lived process is sampled.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <thread>

#include "driver.h"
#include "team.h"

namespace zbchaos {

namespace {

using namespace std::chrono_literals;

class Soak {
public:
    explicit Soak(const Settings& settings)
        : settings_(settings), rng_(settings.seed), ring_("chaos-soak-" + std::to_string(getpid()))
    {
        figures_.mode = "soak";
        figures_.seed = settings.seed;
        figures_.rss_growth_limit_kib = settings.rss_growth_limit_kib;
        figures_.detect_bound_ms = static_cast<double>(settings.detect_bound.count());
    }

    Figures run()
    {
        const auto started = std::chrono::steady_clock::now();
        const auto end = started + std::chrono::seconds(settings_.soak_seconds);
        const auto warm = started + std::chrono::seconds(settings_.soak_seconds) / 4;
        const char* labels[] = {"writer", "lossless-1", "lossless-2", "latest-1"};
        for (int i = 0; i < 4; ++i) {
            Worker& worker = long_lived_.emplace_back();
            worker.role = i == 0 ? Role::Writer : (i < 3 ? Role::Lossless : Role::Latest);
            worker.label = labels[i];
            worker.seed = rng_.next();
            worker.args = i == 0 ? writer_args(rng_, ring_, worker.seed) : reader_args(rng_, ring_, worker.role, worker.seed);
            if (const std::string error = start_worker(worker, scaled(15000ms)); !error.empty()) {
                problem(error);
                ++figures_.unexpected_exits;
                return finish(started);
            }
        }
        auto next_check = std::chrono::steady_clock::now() + 2s;
        auto next_transient = std::chrono::steady_clock::now();
        bool sampled_first = false;
        while (std::chrono::steady_clock::now() < end && figures_.failures.size() < 20) {
            const auto now = std::chrono::steady_clock::now();
            if (now >= next_transient) {
                if (transients_.size() < 3) {
                    start_transient();
                }
                next_transient = now + std::chrono::milliseconds(rng_.range(100, 600));
            }
            end_transients_due();
            if (now >= next_check) {
                check_counters();
                check_progress();
                sample_memory(now >= warm && !sampled_first);
                sampled_first = sampled_first || now >= warm;
                next_check = std::chrono::steady_clock::now() + 2s;
            }
            check_unexpected_exits();
            std::this_thread::sleep_for(5ms);
        }
        while (!transients_.empty()) {
            end_transient(transients_.front(), false);
            transients_.pop_front();
        }
        // Once the writer committed past the last kill, every killed reader must have been reclaimed.
        std::this_thread::sleep_for(scaled(500ms));
        check_counters();
        sample_memory(!sampled_first);
        return finish(started);
    }

private:
    struct Transient {
        Worker worker;
        std::chrono::steady_clock::time_point ends;
        bool kill = false;
    };

    void problem(const std::string& text)
    {
        figures_.failures.push_back(text);
        std::fprintf(stderr, "zb-chaos soak: %s (seed %llu)\n", text.c_str(), static_cast<unsigned long long>(settings_.seed));
    }

    void start_transient()
    {
        Transient& t = transients_.emplace_back();
        t.worker.role = rng_.range(0, 1) == 0 ? Role::Lossless : Role::Latest;
        t.worker.label = "transient-" + role_name(t.worker.role);
        t.worker.seed = rng_.next();
        t.worker.args = reader_args(rng_, ring_, t.worker.role, t.worker.seed);
        t.ends = std::chrono::steady_clock::now() + std::chrono::milliseconds(rng_.range(200, 2000));
        t.kill = rng_.range(0, 2) == 0;
        if (const std::string error = start_worker(t.worker, scaled(15000ms)); !error.empty()) {
            problem(error);
            ++figures_.unexpected_exits;
            transients_.pop_back();
        }
    }

    void end_transients_due()
    {
        const auto now = std::chrono::steady_clock::now();
        std::sort(transients_.begin(), transients_.end(), [](const Transient& a, const Transient& b) { return a.ends < b.ends; });
        while (!transients_.empty() && transients_.front().ends <= now) {
            end_transient(transients_.front(), transients_.front().kill);
            transients_.pop_front();
        }
    }

    void end_transient(Transient& t, bool kill)
    {
        if (kill) {
            last_kill_ = std::chrono::steady_clock::now();
            (void)kill_worker(t.worker);
            ++killed_;
            ++figures_.readers_killed;
        } else {
            t.worker.command(kQuit);
            const int status = t.worker.child.wait(scaled(10000ms));
            if (status != 0) {
                ++figures_.unexpected_exits;
                problem(t.worker.label + " exited with status " + std::to_string(status) + " when told to quit");
            }
        }
        figures_.frames_verified += t.worker.load(kProgress);
        figures_.corrupted_frames += t.worker.load(kCorrupted);
        ++figures_.readers_come_and_gone;
    }

    void inconsistent(const std::string& text)
    {
        ++figures_.counter_inconsistencies;
        problem("counters: " + text);
    }

    /// With the writer paused and the readers caught up, the ring's counters must equal what the processes counted.
    void check_counters()
    {
        Worker& writer = long_lived_[0];
        writer.command(kPause);
        if (wait_line(writer, "paused", settings_.progress_bound).empty()) {
            ++figures_.deadlocks;
            problem("the writer did not pause within " + std::to_string(settings_.progress_bound.count()) + " ms");
            writer.command(kRun);
            return;
        }
        std::this_thread::sleep_for(scaled(200ms)); // lossless readers drain what is committed
        ++figures_.counter_checks;
        auto snapshot = zerobuffer::inspect_ring(ring_);
        if (!snapshot) {
            inconsistent("inspect_ring failed: " + zbtest::describe(snapshot.error()));
            writer.command(kRun);
            return;
        }
        const auto& w = snapshot->writer;
        const std::uint64_t committed = writer.load(kProgress);
        if (snapshot->next_sequence != committed || w.frames_written != committed) {
            inconsistent("the writer committed " + std::to_string(committed) + " frames, the ring says next_sequence " +
                         std::to_string(snapshot->next_sequence) + ", frames_written " + std::to_string(w.frames_written));
        }
        if (w.frames_in_place + w.frames_copied != w.frames_written || w.frames_aborted != 0) {
            inconsistent("in place " + std::to_string(w.frames_in_place) + " + copied " + std::to_string(w.frames_copied) +
                         " != written " + std::to_string(w.frames_written) + " (aborted " + std::to_string(w.frames_aborted) + ")");
        }
        if (snapshot->format_generation != w.format_changes) {
            inconsistent("format generation " + std::to_string(snapshot->format_generation) + " after " +
                         std::to_string(w.format_changes) + " format changes");
        }
        if (w.frames_written < last_.frames_written || w.bytes_written < last_.bytes_written ||
            w.readers_reclaimed < last_.readers_reclaimed || w.wraps < last_.wraps) {
            inconsistent("a writer counter went backwards");
        }
        if (w.readers_reclaimed > killed_) {
            inconsistent(std::to_string(w.readers_reclaimed) + " readers reclaimed, only " + std::to_string(killed_) + " killed");
        }
        // The writer reclaims dead readers while it commits (within the liveness bound), not while paused; a new
        // reader may also take a dead one's slot first (its lock is the claim), so reclaims may be fewer than kills.
        const bool reclaim_due = std::chrono::steady_clock::now() - last_kill_ > 2 * settings_.detect_bound + scaled(200ms);
        const auto alive = static_cast<std::size_t>(std::count_if(snapshot->readers.begin(), snapshot->readers.end(),
                                                                  [](const auto& r) { return r.alive; }));
        if (reclaim_due && alive != snapshot->readers.size()) {
            inconsistent(std::to_string(snapshot->readers.size() - alive) + " dead readers still hold slots");
        }
        if (alive != long_lived_.size() - 1 + transients_.size()) {
            inconsistent(std::to_string(alive) + " live readers listed, " +
                         std::to_string(long_lived_.size() - 1 + transients_.size()) + " are running");
        }
        if (snapshot->bytes_in_use > snapshot->payload_capacity || snapshot->frames_in_use > snapshot->frame_slots) {
            inconsistent("more memory or frames in use than the ring has");
        }
        last_ = w;
        figures_.ring_counters = {{"frames_written", w.frames_written}, {"bytes_written", w.bytes_written},
                                  {"wraps", w.wraps}, {"waits", w.waits}, {"timeouts", w.timeouts},
                                  {"readers_reclaimed", w.readers_reclaimed}, {"format_changes", w.format_changes},
                                  {"frames_passed", w.frames_passed}, {"rewinds", w.rewinds}};
        for (std::size_t i = 1; i < long_lived_.size(); ++i) {
            check_reader(*snapshot, long_lived_[i]);
        }
        writer.command(kRun);
    }

    void check_reader(const zerobuffer::RingSnapshot& snapshot, const Worker& worker)
    {
        const auto slot = std::find_if(snapshot.readers.begin(), snapshot.readers.end(),
                                       [&](const auto& r) { return r.pid == worker.child.pid(); });
        if (slot == snapshot.readers.end() || !slot->alive) {
            inconsistent(worker.label + " is not listed as a live reader");
            return;
        }
        const auto& c = slot->counters;
        const std::uint64_t counted = worker.load(kProgress) + worker.load(kCorrupted);
        if (c.frames_read != counted) {
            inconsistent(worker.label + " verified " + std::to_string(counted) + " frames, its slot says frames_read " +
                         std::to_string(c.frames_read));
        }
        if (c.checksum_failures != 0 || slot->held_frames > snapshot.holds_per_reader) {
            inconsistent(worker.label + ": checksum failures or more frames held than the ring allows");
        }
        if (worker.role == Role::Lossless && (slot->lag_frames != 0 || c.frames_skipped != 0 || c.sequence_gaps != 0 ||
                                              slot->cursor != snapshot.next_sequence)) {
            inconsistent(worker.label + " (lossless) has lag " + std::to_string(slot->lag_frames) + ", skipped " +
                         std::to_string(c.frames_skipped) + ", gaps " + std::to_string(c.sequence_gaps) + ", cursor " +
                         std::to_string(slot->cursor) + " of " + std::to_string(snapshot.next_sequence));
        }
        if (c.frames_read + c.frames_skipped > snapshot.next_sequence) {
            inconsistent(worker.label + " read and skipped more frames than were committed");
        }
    }

    /// Every long-lived process must have progressed since the last check.
    void check_progress()
    {
        const bool first = last_progress_.empty();
        last_progress_.resize(long_lived_.size());
        for (std::size_t i = 0; i < long_lived_.size(); ++i) {
            const std::uint64_t now = long_lived_[i].load(kProgress);
            if (!first && now <= last_progress_[i]) {
                ++figures_.deadlocks;
                problem(long_lived_[i].label + " made no progress in the last check interval");
            }
            last_progress_[i] = now;
        }
    }

    void sample_memory(bool first)
    {
        if (figures_.memory.empty()) {
            for (const auto& worker : long_lived_) {
                figures_.memory.push_back({worker.label, 0, 0, 0});
            }
            figures_.memory.push_back({"driver", 0, 0, 0});
        }
        for (std::size_t i = 0; i < figures_.memory.size(); ++i) {
            const pid_t pid = i < long_lived_.size() ? long_lived_[i].child.pid() : getpid();
            const Rss rss = read_rss(pid);
            if (first) {
                figures_.memory[i].first_kib = rss.anon_kib;
            }
            figures_.memory[i].last_kib = rss.anon_kib;
            figures_.memory[i].vm_rss_last_kib = rss.vm_rss_kib;
        }
    }

    void check_unexpected_exits()
    {
        for (auto& worker : long_lived_) {
            int status = 0;
            if (exited_on_its_own(worker, status)) {
                ++figures_.unexpected_exits;
                problem(worker.label + " exited by itself with status " + std::to_string(status));
            }
        }
        for (auto& t : transients_) {
            int status = 0;
            if (exited_on_its_own(t.worker, status)) {
                ++figures_.unexpected_exits;
                problem(t.worker.label + " exited by itself with status " + std::to_string(status));
            }
        }
    }

    Figures finish(std::chrono::steady_clock::time_point started)
    {
        if (!long_lived_.empty()) {
            long_lived_[0].command(kQuit);
            if (const int status = long_lived_[0].child.wait(scaled(10000ms)); status != 0) {
                ++figures_.unexpected_exits;
                problem("the writer exited with status " + std::to_string(status) + " at the end");
            }
            figures_.frames_written = long_lived_[0].load(kProgress);
        }
        for (std::size_t i = 1; i < long_lived_.size(); ++i) {
            long_lived_[i].command(kQuit);
            if (const int status = long_lived_[i].child.wait(scaled(10000ms)); status != 0) {
                ++figures_.unexpected_exits;
                problem(long_lived_[i].label + " exited with status " + std::to_string(status) + " at the end");
            }
            figures_.frames_verified += long_lived_[i].load(kProgress);
            figures_.corrupted_frames += long_lived_[i].load(kCorrupted);
        }
        std::vector<pid_t> writer_pids;
        if (!long_lived_.empty()) {
            writer_pids.push_back(long_lived_[0].child.pid());
        }
        const auto left = shm_objects_of(ring_, writer_pids);
        figures_.shm_objects_left = left.size();
        for (const auto& file : left) {
            problem("left in /dev/shm: " + file);
            ::unlink(("/dev/shm/" + file).c_str());
        }
        for (const auto& m : figures_.memory) {
            if (m.last_kib - m.first_kib > settings_.rss_growth_limit_kib) {
                problem(m.who + ": RssAnon grew by " + std::to_string(m.last_kib - m.first_kib) + " KiB");
            }
        }
        figures_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return figures_;
    }

    Settings settings_;
    zbtest::Rng rng_;
    std::string ring_;
    std::deque<Worker> long_lived_;
    std::deque<Transient> transients_;
    std::uint64_t killed_ = 0;
    std::chrono::steady_clock::time_point last_kill_{};
    zerobuffer::WriterCounters last_;
    std::vector<std::uint64_t> last_progress_;
    Figures figures_;
};

} // namespace

Figures run_soak(const Settings& settings) { return Soak(settings).run(); }

} // namespace zbchaos
