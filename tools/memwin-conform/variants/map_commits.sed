# file: api.c
# sysMapOS commits the range (as a POSIX-minded port might), where Go's
# Windows sysMapOS does nothing.
/^void sysMapOS/,/^}/s/^}/    else\
        memwin_os_used(v, n);\
}/
