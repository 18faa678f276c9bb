// Text files as lines, for the C++ readers of traces' goldens
// (memwin-conform --traces and memwin_trace_tests): one reading of a file,
// gzip-compressed or not (zlib's gzopen reads a plain file as it is), and
// one splitting into lines (no line ending kept; a last line without one
// counts).
#pragma once

#include <zlib.h>

#include <string>
#include <vector>

namespace tracefmt {

// The whole of a file into out; false when it cannot be read.
inline bool read_text(const std::string &path, std::string &out)
{
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f)
        return false;
    char buf[65536];
    int n;
    out.clear();
    while ((n = gzread(f, buf, sizeof buf)) > 0)
        out.append(buf, (size_t)n);
    bool ok = n == 0;
    gzclose(f);
    return ok;
}

inline std::vector<std::string> split_lines(const std::string &s)
{
    std::vector<std::string> v;
    size_t p = 0;
    while (p < s.size()) {
        size_t q = s.find('\n', p);
        if (q == std::string::npos)
            q = s.size();
        v.push_back(s.substr(p, q - p));
        p = q + 1;
    }
    return v;
}

} // namespace tracefmt
