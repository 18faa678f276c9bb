/* A stand-in bcryptprimitives.dll for Wine 8, which lacks it.  Go 1.22+ (and
 * late 1.21.x) load it at start-up and call ProcessPrng for random bytes.
 * Built by prefix.sh into a private Wine prefix, 64-bit into system32 and
 * 32-bit (windows/386 programs, WoW64) into syswow64; never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
