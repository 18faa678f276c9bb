// The environment as untrusted input (issues 14.5, 14.6) and null pointer
// parameters of the public API (14.7).
//
//  - MEMWIN_TRACE / MEMWIN_STATS never follow a symbolic link, never block
//    on a FIFO (or a named pipe on Windows) and never write anything but a
//    regular file; in secure execution (setuid/setgid) every MEMWIN_*
//    variable is ignored, with a line saying so.
//  - Numbers and sizes: malformed, negative, overflowing or too long values
//    are refused with one line "memwin: NAME=VALUE: why; using the default D".
//  - Null out-parameters: a defined outcome (error code, nothing done, or
//    Go's fatal error for a nil sysMemStat / mheap), never a crash.
// The environment is read once per process, so each case runs in a child.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
#endif

#include "memwin_heap.h"
#include "memwin_interpose.h"
#include "test_util.h"

using namespace mwt;

namespace {

constexpr uint32_t kRes = MEMWIN_MEM_RESERVE, kCom = MEMWIN_MEM_COMMIT,
                   kRW = MEMWIN_PAGE_READWRITE;

void say(const std::string &s)
{
    memwin_prim_host()->write_stderr(s.data(), s.size());
}

unsigned long self_pid()
{
#if defined(_WIN32)
    return (unsigned long)GetCurrentProcessId();
#else
    return (unsigned long)getpid();
#endif
}

const char *mode_name(int m)
{
    return m == MEMWIN_MODE_CHECKED ? "checked" : m == MEMWIN_MODE_RECOVERABLE ? "recoverable" : "exact";
}

// Sets (or, with nullptr, removes) a variable for the children started in
// its scope; this process's own interposers and mode are read first.
class Env {
public:
    Env(const char *name, const char *value) : name_(name)
    {
        memwin_interpose_init();
        memwin_get_mode();
        const char *old = std::getenv(name);
        had_ = old != nullptr;
        if (had_)
            old_ = old;
        set_env(name, value);
    }
    Env(const char *name, const std::string &value) : Env(name, value.c_str())
    {
    }
    Env(const Env &) = delete;
    Env &operator=(const Env &) = delete;
    ~Env()
    {
        set_env(name_, had_ ? old_.c_str() : nullptr);
    }

private:
    const char *name_;
    std::string old_;
    bool had_ = false;
};

// Every variable memwin reads, removed for the scope (the suite may run
// with some of them set).
struct CleanEnv {
    Env v[8] = {{"MEMWIN_TRACE", nullptr},           {"MEMWIN_STATS", nullptr},
                {"MEMWIN_FAIL_COMMIT_NTH", nullptr}, {"MEMWIN_FAIL_COMMIT_COUNT", nullptr},
                {"MEMWIN_FAIL_COMMIT_ERROR", nullptr}, {"MEMWIN_COMMIT_BUDGET", nullptr},
                {"MEMWIN_RESERVE_BUDGET", nullptr},  {"MEMWIN_MODE", nullptr}};
};

// A fresh private directory, removed with its contents at scope exit.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const char *tag)
    {
        static int n = 0;
        path = std::filesystem::temp_directory_path() /
               ("memwin-env-" + std::to_string(self_pid()) + "-" + std::to_string(++n) + "-" + tag);
        std::filesystem::create_directories(path);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const char *name) const
    {
        return (path / name).string();
    }
};

#if !defined(_WIN32) // the symlink and setuid tests that use them are Linux's
std::string read_file(const std::string &p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

void write_file(const std::string &p, const std::string &text)
{
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << text;
}
#endif

std::string policy_text()
{
    memwin_interpose_policy p;
    memwin_interpose_get_policy(&p);
    return "policy " + std::to_string(p.fail_commit_nth) + " " + std::to_string(p.fail_commit_count) +
           " " + std::to_string(p.fail_commit_error) + " " + std::to_string(p.commit_budget) + " " +
           std::to_string(p.reserve_budget) + "\n";
}

// What a child reports: the mode (read first), the interposers' init
// result, the policy, then a reservation with a commit through the
// interposers and a flush (trace and stats written).
MEMWIN_CHILD(env_probe)
{
    int mode = memwin_get_mode();
    say(std::string("mode ") + mode_name(mode) + "\n");
    uint32_t e = memwin_interpose_init();
    say("init " + std::to_string(e) + "\n" + policy_text());
    void *r = memwin_VirtualAlloc(nullptr, 0x20000, kRes | kCom, kRW);
    say(std::string("alloc ") + (r ? "ok" : "fail") + "\n");
    if (r)
        memwin_VirtualFree(r, 0, MEMWIN_MEM_RELEASE);
    say("flush " + std::to_string(memwin_interpose_flush()) + "\n");
}

// The child's output after its first line ("mode ...").
std::string after_mode(const std::string &err)
{
    size_t nl = err.find('\n');
    return nl == std::string::npos ? err : err.substr(nl + 1);
}

std::string normal_tail(const std::string &policy)
{
    return "init 0\n" + policy + "alloc ok\nflush 0\n";
}

#if defined(_WIN32)
constexpr uint32_t kRefused = 5; // ERROR_ACCESS_DENIED
#else
constexpr uint32_t kRefused = EACCES;
#endif

#if !defined(_WIN32)
// run_child with a deadline: a child still running after `seconds` is
// killed and reported as timed out (status -2).
memwin_test::ChildResult run_child_within(const char *name, int seconds)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    memwin_test::ChildResult res;
    if (n < 0)
        return res;
    exe[n] = 0;
    std::string flag = std::string("--memwin-child=") + name;
    int fds[2];
    if (pipe(fds) != 0)
        return res;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *args[] = {exe, &flag[0], nullptr};
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, nullptr, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return res;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    bool timed_out = false;
    for (;;) {
        int left = (int)std::chrono::duration_cast<std::chrono::milliseconds>(
                       deadline - std::chrono::steady_clock::now())
                       .count();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            continue;
        char buf[4096];
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got <= 0)
            break;
        res.stderr_.append(buf, (size_t)got);
    }
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    res.status = timed_out ? -2 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return res;
}
#endif

} // namespace

// ---- A: where the trace and the counters may be written -----------------------

#if !defined(_WIN32)
TEST(EnvFiles, TraceFifoReturnsPromptly)
{
    // Opening a FIFO for writing blocks until a reader comes: the first
    // interposed call used to hang there, holding the init lock.
    CleanEnv clean;
    TempDir d("fifo");
    std::string fifo = d / "trace.fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
    Env trace("MEMWIN_TRACE", fifo);
    memwin_test::ChildResult res = run_child_within("env_probe", 20);
    ASSERT_NE(res.status, -2) << "the child blocked on the FIFO; it wrote:\n" << res.stderr_;
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(after_mode(res.stderr_), "memwin: MEMWIN_TRACE=" + fifo +
                                           ": not a regular file, refused; no trace\ninit " +
                                           std::to_string(kRefused) + "\npolicy 0 0 0 0 0\n" +
                                           "alloc ok\nflush 0\n");
}

TEST(EnvFiles, StatsFifoReturnsPromptly)
{
    CleanEnv clean;
    TempDir d("sfifo");
    std::string fifo = d / "stats.fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
    Env st("MEMWIN_STATS", fifo);
    memwin_test::ChildResult res = run_child_within("env_probe", 20);
    ASSERT_NE(res.status, -2) << "the child blocked on the FIFO; it wrote:\n" << res.stderr_;
    EXPECT_EQ(res.status, 0);
    // Refused at the flush, and then forgotten (no second line at exit).
    std::string refusal = "memwin: MEMWIN_STATS=" + fifo + ": not a regular file, refused; no stats\n";
    EXPECT_EQ(after_mode(res.stderr_), "init 0\npolicy 0 0 0 0 0\nalloc ok\n" + refusal + "flush " +
                                           std::to_string(kRefused) + "\n");
}

TEST(EnvFiles, TraceSymlinkRefused)
{
    CleanEnv clean;
    TempDir d("tlink");
    std::string target = d / "victim", link = d / "trace.link";
    write_file(target, "keep\n");
    ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0) << std::strerror(errno);
    Env trace("MEMWIN_TRACE", link);
    memwin_test::ChildResult res = memwin_test::run_child("env_probe");
    EXPECT_EQ(res.status, 0);
    EXPECT_EQ(after_mode(res.stderr_), "memwin: MEMWIN_TRACE=" + link +
                                           ": a symbolic link, refused; no trace\ninit " +
                                           std::to_string(kRefused) + "\npolicy 0 0 0 0 0\n" +
                                           "alloc ok\nflush 0\n");
    EXPECT_EQ(read_file(target), "keep\n") << "the link's target was written";
}

TEST(EnvFiles, StatsSymlinkRefused)
{
    CleanEnv clean;
    TempDir d("slink");
    std::string target = d / "victim", link = d / "stats.link";
    write_file(target, "keep\n");
    ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0) << std::strerror(errno);
    Env st("MEMWIN_STATS", link);
    memwin_test::ChildResult res = memwin_test::run_child("env_probe");
    EXPECT_EQ(res.status, 0);
    std::string refusal = "memwin: MEMWIN_STATS=" + link + ": a symbolic link, refused; no stats\n";
    EXPECT_EQ(after_mode(res.stderr_), "init 0\npolicy 0 0 0 0 0\nalloc ok\n" + refusal + "flush " +
                                           std::to_string(kRefused) + "\n");
    EXPECT_EQ(read_file(target), "keep\n") << "the link's target was truncated or written";
}

// ---- A: secure execution ---------------------------------------------------------

MEMWIN_CHILD(env_secure_probe)
{
    say("secure " + std::to_string(getauxval(AT_SECURE)) + " uid " + std::to_string(getuid()) +
        " euid " + std::to_string(geteuid()) + "\n");
    env_probe_child();
}

// A root-owned setuid copy of this program, run by an unprivileged user
// (the kernel then sets AT_SECURE, as for any setuid program): memwin must
// not let that user choose files the program writes as root, nor its mode.
TEST(EnvFiles, SecureExecutionIgnoresTheEnvironment)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to make a setuid-root program";
    CleanEnv clean;
    TempDir d("suid");
    std::filesystem::permissions(d.path, std::filesystem::perms(0755));
    std::string exe = d / "memwin_tests_setuid", victim = d / "root-only", trace = d / "trace";
    {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        ASSERT_GT(n, 0);
        self[n] = 0;
        std::filesystem::copy_file(self, exe);
    }
    ASSERT_EQ(chown(exe.c_str(), 0, 0), 0);
    ASSERT_EQ(chmod(exe.c_str(), 04755), 0);
    write_file(victim, "secret\n");
    ASSERT_EQ(chmod(victim.c_str(), 0600), 0);

    Env st("MEMWIN_STATS", victim);
    Env tr("MEMWIN_TRACE", trace);
    Env mode("MEMWIN_MODE", "recoverable");
    Env budget("MEMWIN_COMMIT_BUDGET", "64k");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // The unprivileged user: real and effective ids 65534 (nobody).
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(90);
        char flag[] = "--memwin-child=env_secure_probe";
        char *args[] = {&exe[0], flag, nullptr};
        execve(exe.c_str(), args, environ);
        _exit(91);
    }
    close(fds[1]);
    std::string err;
    char buf[4096];
    ssize_t got;
    while ((got = read(fds[0], buf, sizeof buf)) > 0)
        err.append(buf, (size_t)got);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << err;
    ASSERT_NE(WEXITSTATUS(status), 90) << "could not become nobody";
    ASSERT_NE(WEXITSTATUS(status), 91) << "could not run the setuid copy";
    if (err.rfind("secure 1 uid 65534 euid 0\n", 0) != 0)
        GTEST_SKIP() << "no secure execution here (nosuid mount?): " << err;
    EXPECT_EQ(WEXITSTATUS(status), 0);
    // The build's default mode, not the environment's.
    size_t at = err.find("\nmode ");
    ASSERT_NE(at, std::string::npos) << err;
    std::string def = err.substr(at + 6, err.find('\n', at + 1) - at - 6);
    EXPECT_NE(def, "recoverable");
    const std::string ignored =
        " ignored: the program runs with raised privileges (setuid, setgid or capabilities)\n";
    EXPECT_EQ(err, "secure 1 uid 65534 euid 0\n"
                   "memwin: MEMWIN_MODE" + ignored + "mode " + def + "\n"
                       "memwin: MEMWIN_COMMIT_BUDGET" + ignored + "memwin: MEMWIN_TRACE" +
                       ignored + "memwin: MEMWIN_STATS" + ignored +
                       "init 0\npolicy 0 0 0 0 0\nalloc ok\nflush 0\n");
    EXPECT_EQ(read_file(victim), "secret\n") << "the root-only file was overwritten";
    EXPECT_FALSE(std::filesystem::exists(trace)) << "a trace was created";
}
#else
// Windows: a named pipe is the FIFO; opening one does not block, but it is
// not a regular file and must not receive the trace or the counters.
static void pipe_refused(const char *var, const char *then, bool at_flush)
{
    CleanEnv clean;
    std::string name = "\\\\.\\pipe\\memwin-env-" + std::to_string(self_pid()) + "-" + var;
    HANDLE srv = CreateNamedPipeA(name.c_str(), PIPE_ACCESS_INBOUND,
                                  PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_NOWAIT, 4, 4096, 4096, 0,
                                  nullptr);
    ASSERT_NE(srv, INVALID_HANDLE_VALUE);
    Env v(var, name);
    memwin_test::ChildResult res = memwin_test::run_child("env_probe");
    char buf[256];
    DWORD got = 0;
    BOOL read_ok = ReadFile(srv, buf, sizeof buf, &got, nullptr);
    CloseHandle(srv);
    EXPECT_EQ(res.status, 0);
    std::string refusal =
        std::string("memwin: ") + var + "=" + name + ": not a regular file, refused; " + then + "\n";
    if (at_flush)
        EXPECT_EQ(after_mode(res.stderr_), "init 0\npolicy 0 0 0 0 0\nalloc ok\n" + refusal +
                                               "flush " + std::to_string(kRefused) + "\n");
    else
        EXPECT_EQ(after_mode(res.stderr_), refusal + "init " + std::to_string(kRefused) +
                                               "\npolicy 0 0 0 0 0\nalloc ok\nflush 0\n");
    EXPECT_FALSE(read_ok && got > 0) << "the pipe received " << got << " bytes";
}

TEST(EnvFiles, TraceNamedPipeRefused)
{
    pipe_refused("MEMWIN_TRACE", "no trace", false);
}

TEST(EnvFiles, StatsNamedPipeRefused)
{
    pipe_refused("MEMWIN_STATS", "no stats", true);
}
#endif

// ---- B: numbers and sizes ----------------------------------------------------------

namespace {
// Runs env_probe with name=value and checks the refusal line and the policy.
::testing::AssertionResult refused(const char *name, const std::string &value, const std::string &why,
                                   const char *def, const char *policy = "policy 0 0 0 0 0\n")
{
    CleanEnv clean;
    Env v(name, value);
    memwin_test::ChildResult res = memwin_test::run_child("env_probe");
    std::string want = std::string("memwin: ") + name + "=" + value + ": " + why +
                       "; using the default " + def + "\n" + normal_tail(policy);
    if (res.status == 0 && after_mode(res.stderr_) == want)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << name << "=" << value << ": status " << res.status << ", stderr\n"
           << after_mode(res.stderr_) << "wanted\n"
           << want;
}

const char kNotNumber[] = "not a number (decimal, or 0x and hex digits)";
const char kNotSize[] = "not a size (decimal, or 0x and hex digits, then optionally k, m or g)";
const char kMax64[] = "too large (at most 18446744073709551615)";
} // namespace

TEST(EnvNumbers, NegativeRefused)
{
    // strtoull took "-1" as UINT64_MAX.
    EXPECT_TRUE(refused("MEMWIN_FAIL_COMMIT_NTH", "-1", "negative", "0"));
    EXPECT_TRUE(refused("MEMWIN_RESERVE_BUDGET", "-64k", "negative", "0"));
}

TEST(EnvNumbers, SizeOverflowRefused)
{
    // 2^34 GiB = 2^64 bytes wrapped to 0: the budget was silently off.
    EXPECT_TRUE(refused("MEMWIN_COMMIT_BUDGET", "17179869184g", kMax64, "0"));
    EXPECT_TRUE(refused("MEMWIN_RESERVE_BUDGET", "0x400000000000000k", kMax64, "0"));
}

TEST(EnvNumbers, DigitsOverflowRefused)
{
    EXPECT_TRUE(refused("MEMWIN_FAIL_COMMIT_COUNT", "18446744073709551616", kMax64, "0"));
    EXPECT_TRUE(refused("MEMWIN_FAIL_COMMIT_NTH", "0x10000000000000000", kMax64, "0"));
}

TEST(EnvNumbers, ErrorCodeAbove32BitsRefused)
{
    // Truncated to 0 (then 1455) before.
    EXPECT_TRUE(refused("MEMWIN_FAIL_COMMIT_ERROR", "4294967296",
                        "too large (at most 4294967295)", "1455"));
}

TEST(EnvNumbers, MalformedRefused)
{
    EXPECT_TRUE(refused("MEMWIN_COMMIT_BUDGET", "12q", kNotSize, "0"));
    EXPECT_TRUE(refused("MEMWIN_COMMIT_BUDGET", " 64k", kNotSize, "0"));
    EXPECT_TRUE(refused("MEMWIN_COMMIT_BUDGET", "64k ", kNotSize, "0"));
    EXPECT_TRUE(refused("MEMWIN_COMMIT_BUDGET", "+64k", kNotSize, "0"));
    EXPECT_TRUE(refused("MEMWIN_COMMIT_BUDGET", "0x", kNotSize, "0"));
    EXPECT_TRUE(refused("MEMWIN_COMMIT_BUDGET", "1kk", kNotSize, "0"));
    // Counts and error codes take no suffix.
    EXPECT_TRUE(refused("MEMWIN_FAIL_COMMIT_NTH", "2k", kNotNumber, "0"));
    EXPECT_TRUE(refused("MEMWIN_FAIL_COMMIT_ERROR", "abc", kNotNumber, "1455"));
}

TEST(EnvNumbers, LongValuesReadOrRefused)
{
    // 64 characters or more used to be dropped without a word.  Up to 255
    // are read; longer ones are refused with their length.
    {
        CleanEnv clean;
        Env rb("MEMWIN_RESERVE_BUDGET", std::string(66, '0') + "64M");
        Env cb("MEMWIN_COMMIT_BUDGET", "18446744073709551615");
        Env nth("MEMWIN_FAIL_COMMIT_NTH", "0x7FFFFFFF");
        Env err("MEMWIN_FAIL_COMMIT_ERROR", "4294967295");
        memwin_test::ChildResult res = memwin_test::run_child("env_probe");
        EXPECT_EQ(res.status, 0);
        EXPECT_EQ(after_mode(res.stderr_),
                  "init 0\npolicy 2147483647 0 4294967295 18446744073709551615 67108864\nalloc ok\n"
                  "flush 0\n");
    }
    {
        CleanEnv clean;
        Env cb("MEMWIN_COMMIT_BUDGET", std::string(300, '1'));
        memwin_test::ChildResult res = memwin_test::run_child("env_probe");
        EXPECT_EQ(res.status, 0);
        EXPECT_EQ(after_mode(res.stderr_),
                  "memwin: MEMWIN_COMMIT_BUDGET=(300 characters): too long (at most 255); using the "
                  "default 0\n" +
                      normal_tail("policy 0 0 0 0 0\n"));
    }
}

TEST(EnvNumbers, UnknownModeRefused)
{
    CleanEnv clean;
    Env mode("MEMWIN_MODE", "checkd");
    memwin_test::ChildResult res = memwin_test::run_child("env_probe");
    EXPECT_EQ(res.status, 0);
    size_t at = res.stderr_.find("\nmode ");
    ASSERT_NE(at, std::string::npos) << res.stderr_;
    std::string def = res.stderr_.substr(at + 6, res.stderr_.find('\n', at + 1) - at - 6);
    EXPECT_EQ(res.stderr_, "memwin: MEMWIN_MODE=checkd: not exact, checked or recoverable; using "
                           "the default " +
                               def + "\nmode " + def + "\n" + normal_tail("policy 0 0 0 0 0\n"));
}

// ---- C: null pointer parameters -----------------------------------------------------

MEMWIN_CHILD(null_queries)
{
    exact_mode();
    void *r = sysReserve(nullptr, 0x10000);
    say("memwin_query " + std::to_string(memwin_query(r, nullptr)) + "\n");
    say("host virtual_query " + std::to_string(memwin_prim_host()->virtual_query(r, nullptr)) + "\n");
    say("interpose virtual_query " +
        std::to_string(memwin_interpose_prim()->virtual_query(r, nullptr)) + "\n");
    memwin_interpose_get_policy(nullptr);
    say("get_policy returned\n");
    memwin_interpose_get_stats(nullptr, sizeof(memwin_interpose_stats));
    say("get_stats returned\n");
    sysFree(r, 0x10000, nullptr);
}

TEST(NullPointers, QueriesAndInterposerReadsReturn)
{
    // Each crashed: memwin_query and the emulation's virtual_query inside the
    // emulation's lock, the interposers' get_policy inside their lock.
    memwin_test::ChildResult res = memwin_test::run_child("null_queries");
    EXPECT_EQ(res.status, 2);
    EXPECT_EQ(res.stderr_, "memwin_query 87\nhost virtual_query 87\ninterpose virtual_query 87\n"
                           "get_policy returned\nget_stats returned\n"
                           "fatal error: memwin: nil sysMemStat\n");
}

MEMWIN_CHILD(null_stat_load_exact)
{
    exact_mode();
    say("load " + std::to_string(memwin_stat_load(nullptr)) + "\n");
}

MEMWIN_CHILD(null_stat_load_recoverable)
{
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    uint64_t v = memwin_stat_load(nullptr);
    say("load " + std::to_string(v) + " error " + std::to_string(memwin_last_error()) + " [" +
        memwin_last_error_message() + "]\n");
}

TEST(NullPointers, StatLoadIsGoFatalLikeStatAdd)
{
    EXPECT_TRUE(child_exits("null_stat_load_exact", 2, "fatal error: memwin: nil sysMemStat\n"));
    EXPECT_TRUE(child_exits("null_stat_load_recoverable", 0,
                            "load 0 error " + std::to_string(MEMWIN_ERR_OS) +
                                " [fatal error: memwin: nil sysMemStat]\n"));
}

MEMWIN_CHILD(null_heap_map_bits)
{
    exact_mode();
    mHeapMapBits(nullptr, 0);
    say("returned\n");
}

MEMWIN_CHILD(null_heap_map_spans)
{
    memwin_set_mode(MEMWIN_MODE_RECOVERABLE);
    mHeapMapSpans(nullptr, 0);
    say("returned error " + std::to_string(memwin_last_error()) + " [" + memwin_last_error_message() +
        "]\n");
}

MEMWIN_CHILD(null_default_fatal)
{
    memwin_default_fatal(nullptr, nullptr, nullptr);
}

TEST(NullPointers, HeapMapAndDefaultFatal)
{
    EXPECT_TRUE(child_exits("null_heap_map_bits", 2,
                            "runtime: mHeapMapBits: nil mheap\nfatal error: memwin: nil mheap\n"));
    EXPECT_TRUE(child_exits("null_heap_map_spans", 0,
                            "returned error " + std::to_string(MEMWIN_ERR_OS) +
                                " [runtime: mHeapMapSpans: nil mheap\nfatal error: memwin: nil mheap]\n"));
    EXPECT_TRUE(child_exits("null_default_fatal", 2, "fatal error: \n"));
}

// Outcomes that were already defined (documented in the headers now); this
// test guards them and passed before the fixes above.
TEST(NullPointers, DocumentedOutcomesHold)
{
    ModeScope exact(MEMWIN_MODE_EXACT);
    int local = 0;
    void *r = sysReserveAligned(nullptr, 0x10000, 0x10000, nullptr);
    ASSERT_NE(r, nullptr);
    sysUnreserve(r, 0x10000); // releases the whole reservation at r
    r = memwin_reserve_aligned(nullptr, 0x10000, 0x10000, nullptr);
    ASSERT_NE(r, nullptr);
    sysUnreserve(r, 0x10000);
    EXPECT_EQ(memwin_memory_status_get(nullptr), MEMWIN_ERROR_INVALID_PARAMETER);
    EXPECT_EQ(memwin_large_pages_get(nullptr), MEMWIN_ERROR_INVALID_PARAMETER);
    memwin_memstats ms{};
    EXPECT_EQ(memwin_mheap_init(nullptr, 1 << 20, &ms), MEMWIN_HEAP_BAD_ARGUMENT);
    memwin_mheap h{};
    EXPECT_EQ(memwin_mheap_init(&h, 1 << 20, nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    EXPECT_EQ(memwin_mheap_grow(nullptr, 8192, nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    EXPECT_EQ(memwin_mheap_destroy(nullptr), MEMWIN_HEAP_BAD_ARGUMENT);
    EXPECT_EQ(memwin_interpose_fatal_take(nullptr, nullptr), 0);
    void *ctx = &local;
    EXPECT_TRUE(memwin_get_fatal_handler(nullptr) != nullptr);
    memwin_fatal_fn prev = memwin_get_fatal_handler(&ctx);
    EXPECT_TRUE(memwin_set_fatal_handler(nullptr, nullptr) == prev);
    EXPECT_TRUE(memwin_get_fatal_handler(nullptr) != nullptr); // the default
    memwin_set_fatal_handler(prev == memwin_default_fatal ? nullptr : prev, ctx);
    const memwin_prim *was = memwin_prim_set(nullptr);
    EXPECT_TRUE(memwin_prim_current() == memwin_prim_host());
    memwin_prim_set(was);
}
