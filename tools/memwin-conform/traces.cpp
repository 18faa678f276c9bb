// memwin-conform --traces (traces.h): each trace in a child process, its
// observations compared line by line with the golden.
#include "traces.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "text_lines.h"

using std::string;
using std::vector;
using tracefmt::read_text;
using tracefmt::split_lines;

namespace {

TraceTarget *g_target;

void *side_alloc(uintptr_t n) { return (void *)(uintptr_t)g_target->call(TR_ALLOC, 0, n); }
void *side_reserve(void *v, uintptr_t n)
{
    return (void *)(uintptr_t)g_target->call(TR_RESERVE, (uint64_t)(uintptr_t)v, n);
}
template <int Op> void side_range(void *v, uintptr_t n) { g_target->call(Op, (uint64_t)(uintptr_t)v, n); }

uint32_t obs_query(void *, uint64_t a, tr_info *out) { return g_target->query(a, *out); }
void obs_emit(void *ctx, const char *line)
{
    FILE *f = (FILE *)ctx;
    fputs(line, f);
    fputc('\n', f);
}

bool ends_with(const string &s, const string &suf)
{
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// NAME of NAME.trace.gz or NAME.trace.
string trace_name(const string &path)
{
    string b = path.substr(path.find_last_of('/') + 1);
    for (const char *suf : {".trace.gz", ".trace"})
        if (ends_with(b, suf))
            return b.substr(0, b.size() - strlen(suf));
    return b;
}

string golden_path(const string &path)
{
    string p = path;
    if (ends_with(p, ".gz"))
        p.resize(p.size() - 3);
    if (ends_with(p, ".trace"))
        p.resize(p.size() - 6);
    return p + ".golden.gz";
}

bool expand(const vector<string> &paths, vector<string> &out)
{
    for (const string &p : paths) {
        struct stat st;
        if (stat(p.c_str(), &st) != 0) {
            fprintf(stderr, "memwin-conform: --traces: no such file or directory: %s\n", p.c_str());
            return false;
        }
        if (!S_ISDIR(st.st_mode)) {
            out.push_back(p);
            continue;
        }
        DIR *d = opendir(p.c_str());
        if (!d)
            return false;
        vector<string> found;
        while (struct dirent *e = readdir(d)) {
            string n = e->d_name;
            if (ends_with(n, ".trace.gz") || ends_with(n, ".trace"))
                found.push_back(p + "/" + n);
        }
        closedir(d);
        if (found.empty()) {
            fprintf(stderr, "memwin-conform: --traces: no *.trace.gz in %s\n", p.c_str());
            return false;
        }
        std::sort(found.begin(), found.end());
        out.insert(out.end(), found.begin(), found.end());
    }
    return true;
}

// In the child: the replay, its lines to obs.
[[noreturn]] void child(tr_trace *t, FILE *obs)
{
    tr_side s;
    memset(&s, 0, sizeof s);
    s.alloc = side_alloc;
    s.reserve = side_reserve;
    s.range[TR_MAP] = side_range<TR_MAP>;
    s.range[TR_USED] = side_range<TR_USED>;
    s.range[TR_UNUSED] = side_range<TR_UNUSED>;
    s.range[TR_FAULT] = side_range<TR_FAULT>;
    s.range[TR_FREE] = side_range<TR_FREE>;
    s.range[TR_HUGE] = side_range<TR_HUGE>;
    s.range[TR_NOHUGE] = side_range<TR_NOHUGE>;
    s.range[TR_COLLAPSE] = side_range<TR_COLLAPSE>;
    // Line-buffered: a library that ends the process (Go's fatal errors)
    // leaves every line before it.
    setvbuf(obs, nullptr, _IOLBF, 0);
    tr_observer o = {obs_query, obs_emit, obs};
    tr_observe(t, &s, &o, TR_SHIFT);
    fputs("@done\n", obs);
    fflush(obs);
    _exit(0);
}

string read_fd(FILE *f)
{
    string s;
    fflush(f);
    rewind(f);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    return s;
}

} // namespace

int run_traces(const vector<string> &paths, TraceTarget &target, int timeout, bool verbose)
{
    if (sizeof(void *) != 8) {
        fprintf(stderr, "memwin-conform: --traces: traces are replayed on 64-bit hosts only\n");
        return 2;
    }
    vector<string> files;
    if (!expand(paths, files))
        return 2;
    g_target = &target;
    printf("\n%-44s result\n", "trace");
    std::map<string, int> counts;
    for (const string &path : files) {
        const string name = trace_name(path);
        string result, text;
        char err[256];
        tr_trace *t = tr_load(path.c_str(), err, sizeof err);
        vector<string> golden;
        if (!t) {
            result = "error (malformed trace: " + string(err) + ")";
            counts["error"]++;
        } else if (!read_text(golden_path(path), text)) {
            result = "error (no golden: " + golden_path(path) + ")";
            counts["error"]++;
        } else {
            for (const string &l : split_lines(text))
                if (l.rfind("# golden:", 0) != 0)
                    golden.push_back(l);
            FILE *obs = tmpfile(), *errf = tmpfile();
            fflush(stdout);
            fflush(stderr);
            pid_t pid = obs && errf ? fork() : -1;
            if (pid == 0) {
                dup2(fileno(errf), 2);
                alarm((unsigned)timeout);
                child(t, obs);
            }
            int status = 0;
            if (pid < 0 || waitpid(pid, &status, 0) < 0) {
                result = "error (cannot run a child process)";
                counts["error"]++;
            } else {
                vector<string> got = split_lines(read_fd(obs));
                string died;
                if (got.empty() || got.back() != "@done") {
                    if (WIFSIGNALED(status))
                        died = WTERMSIG(status) == SIGALRM
                                   ? "timed out after " + std::to_string(timeout) + "s"
                                   : string("signal ") + strsignal(WTERMSIG(status));
                    else
                        died = "exit status " + std::to_string(WEXITSTATUS(status));
                    vector<string> e = split_lines(read_fd(errf));
                    if (!e.empty())
                        died += ", stderr: " + e.front();
                } else {
                    got.pop_back();
                }
                size_t i = 0, ndiff = 0, first = 0;
                for (; i < golden.size() || i < got.size(); i++)
                    if (i >= golden.size() || i >= got.size() || golden[i] != got[i]) {
                        if (!ndiff++)
                            first = i;
                        if (verbose)
                            printf("    %s: line %zu: golden \"%s\" vs got \"%s\"\n", name.c_str(), i + 1,
                                   i < golden.size() ? golden[i].c_str() : "(end)",
                                   i < got.size() ? got[i].c_str() : "(end)");
                    }
                if (!died.empty()) {
                    result = "died after " + std::to_string(got.size()) + " lines (" + died + ")";
                    counts["died"]++;
                } else if (ndiff == 0) {
                    result = "identical (" + std::to_string(tr_steps(t)) + " steps, " +
                             std::to_string(got.size()) + " lines)";
                    counts["identical"]++;
                } else {
                    result = "differs at line " + std::to_string(first + 1) + " (golden \"" +
                             (first < golden.size() ? golden[first] : "(end)") + "\" vs got \"" +
                             (first < got.size() ? got[first] : "(end)") + "\")" +
                             (ndiff > 1 ? " +" + std::to_string(ndiff - 1) + " more" : "");
                    counts["differs"]++;
                }
            }
            if (obs)
                fclose(obs);
            if (errf)
                fclose(errf);
        }
        tr_destroy(t);
        printf("%-44s %s\n", name.c_str(), result.c_str());
    }
    printf("\nsummary:");
    for (auto &c : counts)
        printf(" %s=%d", c.first.c_str(), c.second);
    printf(" total=%zu\n", files.size());
    return counts.size() == 1 && counts.count("identical") ? 0 : 1;
}
