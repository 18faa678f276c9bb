module memwin.local/memwin-go/progs

go 1.19

require github.com/memwin/memwin v0.0.0

replace github.com/memwin/memwin => ../../..
