// SPDX-License-Identifier: MIT
// The chaos cycles: each cycle kills one worker (the writer, a lossless or a latest reader) with SIGKILL at a
// chosen point, measures how long the others take to notice, restarts it, and checks that everyone makes progress.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "driver.h"
#include "team.h"

namespace zbchaos {

namespace {

using namespace std::chrono_literals;

double ms_between(std::int64_t from_ns, std::int64_t to_ns) { return static_cast<double>(to_ns - from_ns) / 1e6; }

class Chaos {
public:
    explicit Chaos(const Settings& settings)
        : settings_(settings), rng_(settings.seed), ring_("chaos-" + std::to_string(getpid()))
    {
        figures_.mode = "chaos";
        figures_.seed = settings.seed;
        figures_.detect_bound_ms = static_cast<double>(settings.detect_bound.count());
        team_.resize(5);
        team_[0].role = Role::Writer;
        team_[0].label = "writer";
        for (std::size_t i = 1; i < team_.size(); ++i) {
            team_[i].role = i <= 2 ? Role::Lossless : Role::Latest;
            team_[i].label = role_name(team_[i].role) + "-" + std::to_string(i <= 2 ? i : i - 2);
        }
    }

    Figures run()
    {
        const auto started = std::chrono::steady_clock::now();
        for (auto& worker : team_) {
            restart(worker);
        }
        wait_for_progress("start");
        for (int cycle = 0; cycle < settings_.cycles; ++cycle) {
            cycle_ = cycle;
            one_cycle();
            figures_.cycles = cycle + 1;
            if (settings_.verbose || (cycle + 1) % 100 == 0) {
                std::printf("cycle %d: %llu frames verified, %llu corrupted, %llu deadlocks\n", cycle + 1,
                            static_cast<unsigned long long>(verified_so_far()),
                            static_cast<unsigned long long>(figures_.corrupted_frames),
                            static_cast<unsigned long long>(figures_.deadlocks));
                std::fflush(stdout);
            }
        }
        shut_down();
        figures_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return figures_;
    }

private:
    void problem(const std::string& text)
    {
        figures_.failures.push_back("cycle " + std::to_string(cycle_) + ": " + text);
        std::fprintf(stderr, "zb-chaos: cycle %d: %s (replay: --seed %llu)\n", cycle_, text.c_str(),
                     static_cast<unsigned long long>(settings_.seed));
    }

    /// Frames and corruption a worker counted, added to the figures when its process is replaced.
    void account(const Worker& worker)
    {
        if (!worker.shared) {
            return;
        }
        if (worker.role == Role::Writer) {
            figures_.frames_written += worker.load(kProgress);
        } else {
            figures_.frames_verified += worker.load(kProgress);
            figures_.corrupted_frames += worker.load(kCorrupted);
        }
    }

    std::uint64_t verified_so_far() const
    {
        std::uint64_t total = figures_.frames_verified;
        for (const auto& worker : team_) {
            total += worker.role == Role::Writer ? 0 : worker.load(kProgress);
        }
        return total;
    }

    void choose_args(Worker& worker, bool attach_loop = false)
    {
        worker.seed = rng_.next();
        worker.args = worker.role == Role::Writer ? writer_args(rng_, ring_, worker.seed)
                                                  : reader_args(rng_, ring_, worker.role, worker.seed);
        if (attach_loop) {
            worker.args.emplace_back("attach_loop=1");
        }
    }

    /// Starts the worker's next process; `wait_ready` false: returns as soon as it is spawned (to kill it starting).
    void restart(Worker& worker, bool attach_loop = false, bool wait_ready = true)
    {
        account(worker);
        choose_args(worker, attach_loop);
        if (const std::string error = start_worker(worker, wait_ready ? scaled(15000ms) : 0ms); !error.empty()) {
            problem(error);
            ++figures_.unexpected_exits;
            return;
        }
        if (worker.role == Role::Writer) {
            writer_pids_.push_back(worker.child.pid());
        }
    }

    /// Every worker must progress (commit, verify a frame) within the progress bound, or it is deadlocked.
    void wait_for_progress(const std::string& after)
    {
        std::vector<std::uint64_t> before;
        for (const auto& worker : team_) {
            before.push_back(worker.load(kProgress));
        }
        const auto deadline = std::chrono::steady_clock::now() + settings_.progress_bound;
        while (true) {
            check_unexpected_exits();
            bool all = true;
            for (std::size_t i = 0; i < team_.size(); ++i) {
                all = all && team_[i].load(kProgress) > before[i];
            }
            if (all) {
                return;
            }
            if (std::chrono::steady_clock::now() > deadline) {
                break;
            }
            std::this_thread::sleep_for(1ms);
        }
        std::string stuck;
        for (std::size_t i = 0; i < team_.size(); ++i) {
            if (team_[i].load(kProgress) <= before[i]) {
                stuck += " " + team_[i].label + " (pid " + std::to_string(team_[i].child.pid()) + ")";
            }
        }
        ++figures_.deadlocks;
        problem("deadlock after " + after + ": no progress within " + std::to_string(settings_.progress_bound.count()) +
                " ms of" + stuck + "; restarting the team");
        for (auto& worker : team_) {
            (void)kill_worker(worker);
        }
        for (auto& worker : team_) {
            restart(worker);
        }
    }

    void check_unexpected_exits()
    {
        for (auto& worker : team_) {
            int status = 0;
            if (exited_on_its_own(worker, status)) {
                ++figures_.unexpected_exits;
                problem(worker.label + " exited by itself with status " + std::to_string(status) + " (see its stderr)");
                restart(worker);
            }
        }
    }

    /// After a writer's death: every reader that read its ring gets WriterGone; lossless ones got every frame.
    /// Returns the longest time a reader took to notice (0 when none read the writer's ring).
    double detect_writer_death(std::uint64_t victim_seed, std::int64_t killed_at, std::uint64_t committed)
    {
        std::vector<Worker*> watching;
        for (std::size_t i = 1; i < team_.size(); ++i) {
            if (team_[i].load(kSeed) == victim_seed && team_[i].load(kProgress) > 0) {
                watching.push_back(&team_[i]);
            }
        }
        const auto deadline = std::chrono::steady_clock::now() + scaled(5000ms);
        double worst = 0;
        for (Worker* reader : watching) {
            while (reader->load(kGoneSeed) != victim_seed && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(1ms);
            }
            if (reader->load(kGoneSeed) != victim_seed) {
                problem(reader->label + " never got WriterGone after the writer was killed");
                worst = std::max(worst, ms_between(killed_at, now_ns()));
                continue;
            }
            worst = std::max(worst, ms_between(killed_at, static_cast<std::int64_t>(reader->load(kGoneTime))));
            const std::uint64_t got_up_to = reader->load(kGoneNext);
            if (reader->role == Role::Lossless && got_up_to < committed) {
                figures_.lost_frames += committed - got_up_to;
                problem(reader->label + " got frames up to " + std::to_string(got_up_to) + " of " +
                        std::to_string(committed) + " committed before the writer's death");
            }
        }
        if (!watching.empty()) {
            ++figures_.writer_deaths_detected;
            figures_.writer_detect_max_ms = std::max(figures_.writer_detect_max_ms, worst);
            if (worst > figures_.detect_bound_ms) {
                problem("writer death noticed after " + std::to_string(worst) + " ms");
            }
        }
        return worst;
    }

    /// After a reader's death: the writer reclaims its slot (and what it held). Returns how long that took.
    double detect_reader_death(pid_t victim, std::int64_t killed_at)
    {
        const auto deadline = std::chrono::steady_clock::now() + scaled(5000ms);
        while (true) {
            auto snapshot = zerobuffer::inspect_ring(ring_);
            bool listed = false;
            if (snapshot) {
                for (const auto& reader : snapshot->readers) {
                    listed = listed || reader.pid == victim;
                }
            }
            if (!listed || std::chrono::steady_clock::now() > deadline) {
                const double took = ms_between(killed_at, now_ns());
                ++figures_.reader_deaths_detected;
                figures_.reader_detect_max_ms = std::max(figures_.reader_detect_max_ms, took);
                if (listed || took > figures_.detect_bound_ms) {
                    problem("dead reader " + std::to_string(victim) + " reclaimed after " + std::to_string(took) + " ms" +
                            (listed ? " (still listed)" : ""));
                }
                return took;
            }
            std::this_thread::sleep_for(500us);
        }
    }

    /// Kills `worker` now and measures how its death is noticed.
    void kill_and_detect(Worker& worker, const std::string& point)
    {
        const std::string key = role_name(worker.role) + ":" + point;
        ++figures_.kills[key];
        const pid_t pid = worker.child.pid();
        const std::uint64_t seed = worker.seed;
        const std::int64_t killed_at = kill_worker(worker);
        const double took = worker.role == Role::Writer ? detect_writer_death(seed, killed_at, worker.load(kProgress))
                                                        : detect_reader_death(pid, killed_at);
        double& worst = figures_.detect_max_ms[key];
        worst = std::max(worst, took);
    }

    /// Tells the victim to go to a kill point and waits until it says it is there.
    bool park(Worker& worker, Command command)
    {
        worker.command(command);
        if (wait_line(worker, "parked", settings_.progress_bound).empty()) {
            ++figures_.deadlocks;
            problem(worker.label + " did not reach its kill point (command " + std::to_string(command) + ") within " +
                    std::to_string(settings_.progress_bound.count()) + " ms");
            return false;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(rng_.range(0, 20000)));
        return true;
    }

    void one_cycle()
    {
        const std::uint64_t which = rng_.range(0, 2);
        Worker& victim = which == 0 ? team_[0] : team_[which == 1 ? rng_.range(1, 2) : rng_.range(3, 4)];
        const bool writer = victim.role == Role::Writer;
        const std::uint64_t point = rng_.range(0, 4);
        std::string name;
        if (point == 0) {
            // Free running (the writer at full speed): the kill lands anywhere, mostly in reserve, commit, acquire.
            name = writer ? "mid-commit" : "mid-acquire";
            victim.command(kFullSpeed);
            std::this_thread::sleep_for(std::chrono::microseconds(rng_.range(0, 20000)));
        } else if (point == 1) {
            name = writer ? "reservations-open" : "holding-frames";
            if (!park(victim, writer ? kParkReserved : kParkHolding)) name += "-unreached";
        } else if (point == 2) {
            name = writer ? "frames-retained" : (victim.role == Role::Lossless ? "lagging" : "holding-frames");
            if (!park(victim, writer ? kParkRetained : (victim.role == Role::Lossless ? kParkLagging : kParkHolding)))
                name += "-unreached";
        } else if (point == 3) {
            name = "format-change";
            if (!park(victim, kParkFormat)) name += "-unreached";
        } else {
            // Killed while starting: the writer mid-creation, a reader mid-attach (after a first kill).
            kill_and_detect(victim, writer ? "mid-commit" : "mid-acquire");
            // A writer is killed between exec and its first frame; a reader in its attach/detach loop.
            restart(victim, !writer, !writer);
            std::this_thread::sleep_for(std::chrono::microseconds(rng_.range(0, writer ? 8000 : 10000)));
            name = writer ? "mid-create" : "mid-attach";
            if (writer) {
                victim.child.kill9();
                const pid_t pid = victim.child.pid();
                (void)victim.child.wait(scaled(10000ms));
                ++figures_.kills["writer:mid-create"];
                const auto leftovers = zbtest::shm_entries_with_prefix(".zb-tmp-" + std::to_string(pid) + "-");
                figures_.creation_leftovers += leftovers.size();
                zbtest::remove_tmp_leftovers_of(pid);
                restart(victim);
                wait_for_progress("writer:" + name);
                return;
            }
        }
        kill_and_detect(victim, name);
        restart(victim);
        wait_for_progress(role_name(victim.role) + ":" + name);
    }

    void shut_down()
    {
        team_[0].command(kQuit);
        const int writer_status = team_[0].child.wait(scaled(10000ms));
        for (std::size_t i = 1; i < team_.size(); ++i) {
            team_[i].command(kQuit);
        }
        for (std::size_t i = 1; i < team_.size(); ++i) {
            const int status = team_[i].child.wait(scaled(10000ms));
            if (status != 0) {
                ++figures_.unexpected_exits;
                problem(team_[i].label + " exited with status " + std::to_string(status) + " at the end");
            }
        }
        if (writer_status != 0) {
            ++figures_.unexpected_exits;
            problem("the writer exited with status " + std::to_string(writer_status) + " at the end");
        }
        for (auto& worker : team_) {
            account(worker);
            worker.shared.reset();
        }
        const auto left = shm_objects_of(ring_, writer_pids_);
        figures_.shm_objects_left = left.size();
        for (const auto& file : left) {
            problem("left in /dev/shm: " + file);
            ::unlink(("/dev/shm/" + file).c_str());
        }
    }

    Settings settings_;
    zbtest::Rng rng_;
    std::string ring_;
    std::vector<Worker> team_;
    std::vector<pid_t> writer_pids_;
    Figures figures_;
    int cycle_ = -1;
};

} // namespace

Figures run_chaos(const Settings& settings) { return Chaos(settings).run(); }

} // namespace zbchaos
