#include "child.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>

#if defined(_WIN32)
#include <windows.h>
#else
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
#endif

namespace memwin_test {

static const char kFlag[] = "--memwin-child=";

static std::map<std::string, ChildFn> &registry()
{
    static std::map<std::string, ChildFn> r;
    return r;
}

ChildRegistrar::ChildRegistrar(const char *name, ChildFn fn)
{
    registry()[name] = fn;
}

int run_child_if_requested(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (std::strncmp(argv[i], kFlag, sizeof kFlag - 1) != 0)
            continue;
        auto it = registry().find(argv[i] + sizeof kFlag - 1);
        if (it == registry().end()) {
            std::fprintf(stderr, "unknown child scenario %s\n", argv[i]);
            return 97;
        }
        it->second();
        return 0;
    }
    return -1;
}

#if defined(_WIN32)
ChildResult run_child(const char *name)
{
    char exe[MAX_PATH];
    GetModuleFileNameA(NULL, exe, MAX_PATH);
    std::string cmd = std::string("\"") + exe + "\" " + kFlag + name;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE rd, wr;
    if (!CreatePipe(&rd, &wr, &sa, 0))
        throw std::runtime_error("CreatePipe failed");
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    STARTUPINFOA si;
    std::memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = wr;
    PROCESS_INFORMATION pi;
    std::string line(cmd);
    if (!CreateProcessA(NULL, &line[0], NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        throw std::runtime_error("CreateProcess failed");
    CloseHandle(wr);
    ChildResult res;
    char buf[4096];
    DWORD got;
    while (ReadFile(rd, buf, sizeof buf, &got, NULL) && got > 0)
        res.stderr_.append(buf, got);
    CloseHandle(rd);
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 0;
    GetExitCodeProcess(pi.hProcess, &code);
    res.status = (int)code;
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return res;
}
#else
ChildResult run_child(const char *name)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        throw std::runtime_error("readlink /proc/self/exe failed");
    exe[n] = 0;
    std::string flag = std::string(kFlag) + name;
    int fds[2];
    if (pipe(fds) != 0)
        throw std::runtime_error("pipe failed");
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
        throw std::runtime_error("posix_spawn failed");
    }
    ChildResult res;
    char buf[4096];
    ssize_t got;
    while ((got = read(fds[0], buf, sizeof buf)) > 0)
        res.stderr_.append(buf, (size_t)got);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    res.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return res;
}
#endif

} // namespace memwin_test
